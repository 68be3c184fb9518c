"""``nas evaluators [--json]``: the evaluators (the rungs of the evaluation ladder), their
options and default executors, and the executors."""
from __future__ import annotations

from nas.commands._common import print_json, print_parts

ORDER = 33


def add_parser(sub) -> None:
    p = sub.add_parser("evaluators", help="list the evaluators and executors",
                       description="The evaluators `nas search --evaluator` accepts (what turns "
                       "a genome into a score), each with its options (--evaluator-option "
                       "NAME=VALUE or evaluator_options in a config) and the executor it runs "
                       "on unless --executor says otherwise.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def describe() -> dict:
    from evaluators.base import EVALUATORS, EXECUTORS, describe as describe_evaluator
    import nas.experiment  # noqa: F401  (the wiring module registers every evaluator/executor)
    return {"evaluators": [describe_evaluator(cls) for _, cls in EVALUATORS.items()],
            "executors": [{"name": name, "description": cls.description}
                          for name, cls in EXECUTORS.items()]}


def run(args) -> int:
    info = describe()
    if args.json:
        print_json(info)
        return 0
    print_parts([{**e, "description": f"{e['description']} (executor: "
                  f"{e['default_executor']})"} for e in info["evaluators"]], "--evaluator-option")
    print("executors (--executor): " + "; ".join(
        f"{x['name']}: {x['description']}" for x in info["executors"]))
    return 0
