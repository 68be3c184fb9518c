"""``nas table``: build a tabular benchmark (every distinct network of a space trained once per
seed, per-epoch history recorded), and look at one."""
from __future__ import annotations

from pathlib import Path

from nas.commands._common import print_json
from nas.commands.search import add_config_args, config_from_args
from nas.errors import NasError

ORDER = 46
PROTOCOLS = Path(__file__).resolve().parents[2] / "configs" / "tables"


def add_parser(sub) -> None:
    p = sub.add_parser("table", help="build or show a tabular benchmark",
                       description="Tabular benchmarks: every distinct network of a space "
                       "trained once per seed under one protocol, looked up in microseconds "
                       "by `nas search --evaluator table`.")
    tsub = p.add_subparsers(dest="table_command", metavar="build|show")
    b = tsub.add_parser("build", help="train every distinct network of a space",
                        description="Train every distinct network of --space (one entry per "
                        "genome hash) with a fixed protocol, as one Ray Tune job with the "
                        "search's store: --resume DIR continues after a kill, nothing is "
                        "trained twice.")
    b.add_argument("--space", metavar="NAME", help="the space (default exhaustive)")
    b.add_argument("--option", "-o", action="append", default=[], metavar="K=V",
                   help="a space option (repeatable)")
    b.add_argument("--protocol", metavar="NAME|FILE", help="training protocol: a YAML config "
                   f"or a shipped one ({', '.join(protocols())}; default digits-quarter for "
                   "digits)")
    b.add_argument("--seeds", metavar="S,S", help="training seeds; the first for every network")
    b.add_argument("--seeds-sample", type=int, metavar="N", help="networks trained with the "
                   "further seeds, drawn at random (default: the protocol's, else all)")
    b.add_argument("--networks", type=int, metavar="N", help="only the first N distinct "
                   "networks (a partial table, for tests)")
    b.add_argument("--resume", metavar="DIR", help="continue the build in DIR")
    add_config_args(b)
    b.add_argument("--json", action="store_true", help="print the summary as JSON")
    b.add_argument("--quiet", action="store_true", help="no progress output")
    b.set_defaults(func=run_build)
    p.set_defaults(func=lambda args: p.print_help() or 0)


def protocols() -> list[str]:
    return sorted(f.stem for f in PROTOCOLS.glob("*.yaml"))


def protocol_path(ref: str) -> Path:
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise NasError(f"--protocol {ref!r}: no such file")
        return p
    if ref not in protocols():
        raise NasError(f"--protocol {ref!r}: not a file nor a shipped protocol "
                       f"({', '.join(protocols())})")
    return PROTOCOLS / f"{ref}.yaml"


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise NasError(f"--seeds {text!r}: expected comma-separated integers, e.g. 0,1,2") \
            from None
    if not seeds:
        raise NasError("--seeds: give at least one seed")
    return seeds


def run_build(args) -> int:
    from evaluators.progress import Reporter, RichReporter
    from evaluators.sweep import run_table_build
    from nas.commands.search import print_leaderboard
    if args.resume and (args.config or args.protocol):
        raise NasError("--resume continues a stored build with its own protocol; drop "
                       "--config/--protocol")
    if args.config and args.protocol:
        raise NasError("give --protocol or --config, not both")
    if not args.resume and not args.config:
        dataset = args.dataset or "digits"
        name = args.protocol or (f"{dataset}-quarter" if dataset == "digits" else None)
        if name:
            args.config = str(protocol_path(name))
    extra = {}
    if args.seeds:
        extra["seeds"] = parse_seeds(args.seeds)
    if args.networks is not None:
        extra["networks"] = args.networks
    if args.seeds_sample is not None:
        extra["seeds_sample"] = args.seeds_sample
    base, overrides = config_from_args(args, extra)
    if not args.resume:
        base = base.replace(space=overrides.pop("space", None) or
                            (base.space if args.config and "space:" in Path(
                                args.config).read_text() else "exhaustive"))
    reporter = Reporter() if args.quiet or args.json else RichReporter()
    if args.resume:
        summary = run_table_build(resume=args.resume, overrides=overrides, reporter=reporter)
    else:
        summary = run_table_build(base, overrides=overrides, reporter=reporter)
    if args.json:
        print_json(summary.to_dict())
    else:
        print_leaderboard(summary, title="table build")
    return 0 if summary.finished else 130
