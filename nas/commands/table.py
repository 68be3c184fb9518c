"""``nas table``: build a tabular benchmark (every distinct network of a space trained once per
seed, per-epoch history recorded), and look at one."""
from __future__ import annotations

import shlex
import sys
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
    tsub = p.add_subparsers(dest="table_command", metavar="build|export|show|list")
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
    b.add_argument("--sample", type=int, metavar="N", help="N distinct networks drawn at random "
                   "(seeded by the protocol's seed) instead of every network: a sampled table "
                   "for a space too large to enumerate, e.g. nasnet-cell")
    b.add_argument("--resume", metavar="DIR", help="continue the build in DIR")
    add_config_args(b)
    b.add_argument("--json", action="store_true", help="print the summary as JSON")
    b.add_argument("--quiet", action="store_true", help="no progress output")
    b.add_argument("--name", metavar="NAME", help="the table's name (default SPACE-DATASET)")
    b.set_defaults(func=run_build)

    e = tsub.add_parser("export", help="write the table of a build directory (finished or "
                        "not)", description="Write DIR's trained networks as a table file "
                        "NAME.jsonl.gz (default in DIR); a partial build gives a partial table.")
    e.add_argument("dir", metavar="DIR")
    e.add_argument("--name", metavar="NAME", help="the table's name (default SPACE-DATASET)")
    e.add_argument("--out", metavar="FILE", help="where to write it (default DIR/NAME.jsonl.gz)")
    e.add_argument("--command", metavar="TEXT", help="the command that built it (default: "
                   "the one the build recorded)")
    e.set_defaults(func=run_export)

    s = tsub.add_parser("show", help="a table's summary, noise floor and plots",
                        description="Networks, seeds, protocol, best/mean/median accuracy, "
                        "the noise floor of repeated training, the optimum, the space's fixed "
                        "points in it; plots with --plots DIR.")
    s.add_argument("table", metavar="NAME|FILE")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--all", action="store_true", help="with --json: every network's row too")
    s.add_argument("--plots", metavar="DIR", help="write histogram, accuracy-vs-FLOPs and "
                   "early-epoch ranking plots there")
    s.set_defaults(func=run_show)

    ls = tsub.add_parser("list", help="the tables that can be looked up by name")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
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
    from nas.experiment import export_table, run_table_build
    from nas.progress import Reporter, RichReporter
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
    if args.sample is not None:
        extra["sample"] = args.sample
    if args.seeds_sample is not None:
        extra["seeds_sample"] = args.seeds_sample
    base, overrides = config_from_args(args, extra)
    if not args.resume and "space" not in overrides and not _sets_space(args.config):
        overrides["space"] = "exhaustive"        # the table build's default space
    reporter = Reporter() if args.quiet or args.json else RichReporter()
    command = "nas " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if args.resume:
        summary = run_table_build(resume=args.resume, overrides=overrides, reporter=reporter)
    else:
        summary = run_table_build(base, overrides=overrides, reporter=reporter, command=command)
    path = export_table(summary.root, args.name) if summary.counts["ok"] else None
    if args.json:
        print_json({**summary.to_dict(), "table": str(path) if path else None})
    else:
        print_leaderboard(summary, title="table build")
        if path:
            print(f"table: {path} ({'complete' if summary.finished else 'partial'}); look it "
                  f"up by name after copying it to evaluators/tables/ or a $NAS_TABLES "
                  f"directory, or by path: --evaluator table:{path}")
    return 0 if summary.finished else 130


def _sets_space(config: str | None) -> bool:
    """Whether the YAML config (already validated by SearchConfig.load) names a space."""
    if not config:
        return False
    import yaml
    d = yaml.safe_load(Path(config).read_text()) or {}
    return "space" in d


def run_export(args) -> int:
    from nas.experiment import export_table
    path = export_table(args.dir, args.name, args.out, args.command)
    print(path)
    return 0


def run_list(args) -> int:
    from evaluators.table import list_tables, load_table
    rows = []
    for name in list_tables():
        h = load_table(name).header
        rows.append({"name": name, "space": h["space"], "dataset": h["dataset"],
                     "networks": h["networks"], "trainings": h["trainings"],
                     "epochs": h["epochs"]})
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            print(f"{r['name']}: {r['space']} on {r['dataset']}, {r['networks']} networks, "
                  f"{r['trainings']} trainings of {r['epochs']} epochs")
        if not rows:
            print("no tables (build one with `nas table build`)")
    return 0


def run_show(args) -> int:
    from evaluators.table import load_table
    from nas.experiment import table_fixed_points
    t = load_table(args.table)
    info = t.summary()
    info["fixed_points"] = table_fixed_points(t)
    if args.plots:
        from nas.report import plot_table
        info["plots"] = [str(p) for p in plot_table(t, Path(args.plots))]
    if args.json:
        if args.all:
            info["rows"] = list(t.iter_rows())
        print_json(info)
        return 0
    n = info["noise"]["val"]
    b = info["best"]
    print(f"{info['name']}: space {info['space']} {info['space_options'] or ''} on "
          f"{info['dataset']} — {info['networks']} networks, {info['trainings']} trainings "
          f"(seeds {info['seeds']}; {info['networks_with_repeats']} networks repeated)")
    p = info["protocol"]
    print(f"protocol: {p['budget']['epochs']} epochs, batch {p['recipe']['batch_size']}, "
          f"{p['recipe']['optimizer']} lr {p['recipe']['lr']}, val_fraction "
          f"{p['data']['val_fraction']} (split seed {p['split_seed']})")
    print(f"validation accuracy: best {b['accuracy']:.4f}, mean {info['mean_accuracy']:.4f}, "
          f"median {info['median_accuracy']:.4f}")
    if n["mean_std"] is not None:
        print(f"noise floor (std of repeated training, {n['networks']} networks): validation "
              f"{n['mean_std']:.4f} mean / {n['median_std']:.4f} median; test "
              f"{info['noise']['test']['mean_std']:.4f}")
    print(f"optimum: {b['hash']} validation {b['accuracy']:.4f} test {b['test_accuracy']:.4f}"
          f" {b['assignment']}")
    for name, fp in info["fixed_points"].items():
        print(f"fixed point {name}: " + (f"validation {fp['accuracy']:.4f}, test "
                                         f"{fp['test_accuracy']:.4f}, rank {fp['rank']}"
                                         if fp else "not in the table"))
    if info.get("wall_seconds") is not None:
        print(f"built {info['built']} in {info['wall_seconds'] / 3600:.2f} h with: "
              f"{info['command']}")
    for plot in info.get("plots", []):
        print(f"plot: {plot}")
    return 0
