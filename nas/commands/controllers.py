"""``nas controllers [--json]``: the controllers, their options, and the rewards."""
from __future__ import annotations

from nas.commands._common import print_json, print_parts

ORDER = 32


def add_parser(sub) -> None:
    p = sub.add_parser("controllers", help="list the search controllers and their options",
                       description="The controllers `nas search --controller` accepts, each "
                       "with its options (set them with --controller-option NAME=VALUE or "
                       "controller_options in a config), and the rewards (config key reward).")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def describe() -> dict:
    from controllers import CONTROLLERS
    from controllers.options import describe_options
    from controllers.rewards import REWARDS
    return {
        "controllers": [{"name": name, "description": cls.description,
                         "options": describe_options(cls.Options)}
                        for name, cls in CONTROLLERS.items()],
        "rewards": [{"name": name, "description": (fn.__doc__ or "").strip().splitlines()[0]}
                    for name, fn in REWARDS.items()],
    }


def run(args) -> int:
    info = describe()
    if args.json:
        print_json(info)
        return 0
    print_parts(info["controllers"], "--controller-option")
    print("rewards (config key reward): " + "; ".join(
        f"{r['name']}: {r['description']}" for r in info["rewards"]))
    return 0
