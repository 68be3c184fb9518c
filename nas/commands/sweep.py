"""``nas sweep``: evaluate genomes × settings as one Ray job (distributed GPU sweeps)."""
from __future__ import annotations

from nas.commands._common import human, print_json
from nas.commands.search import add_config_args, config_from_args
from nas.errors import NasError
from nas.options import parse_pairs

ORDER = 44


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep", help="evaluate classic nets / sampled genomes × settings on Ray",
        description="Evaluate a list of genomes (--nets, and/or --n genomes sampled from "
        "--space) under every combination of --grid settings, as one Ray Tune job with the "
        "same store, retries and --resume as a search.")
    p.add_argument("--nets", metavar="NAME,NAME", help="classic nets (see `nas nets`)")
    p.add_argument("--space", metavar="NAME", help="space to sample genomes from (with --n)")
    p.add_argument("--n", type=int, help="genomes sampled from --space")
    p.add_argument("--option", "-o", action="append", default=[], metavar="K=V",
                   help="a space option (repeatable)")
    p.add_argument("--grid", action="append", default=[], metavar="K=V1,V2",
                   help="a setting to vary, e.g. --grid lr=0.1,0.05 (repeatable)")
    p.add_argument("--resume", metavar="DIR", help="continue the sweep in DIR")
    add_config_args(p)
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def parse_grid(items: list[str]) -> dict:
    """``["lr=0.1,0.05"]`` -> ``{"lr": [0.1, 0.05]}`` (each value read as YAML)."""
    import yaml
    grid = {}
    for key, values in parse_pairs(items, "--grid").items():
        if not values:
            raise NasError(f"--grid {key}=: expected NAME=V1,V2,…")
        grid[key.replace("-", "_")] = [yaml.safe_load(v) for v in values.split(",")]
    return grid


def run(args) -> int:
    from nas.progress import Reporter, RichReporter
    from nas.store import ExperimentStore
    from nas.experiment import run_sweep
    if args.resume and args.config:
        raise NasError("--resume continues a stored sweep with its own config; drop --config")
    extra = {}
    if args.nets:
        extra["nets"] = [s.strip() for s in args.nets.split(",") if s.strip()]
    if args.n is not None:
        extra["n"] = args.n
    if args.grid:
        extra["grid"] = parse_grid(args.grid)
    base, overrides = config_from_args(args, extra)
    reporter = Reporter() if args.quiet or args.json else RichReporter()
    if args.resume:
        summary = run_sweep(resume=args.resume, overrides=overrides, reporter=reporter)
    else:
        summary = run_sweep(base, overrides=overrides, reporter=reporter)
    store = ExperimentStore.open(summary.root)
    try:
        rows = [r for r in store.rows() if r.done]
    finally:
        store.close()
    if args.json:
        print_json({**summary.to_dict(), "trials": [r.summary() for r in rows]})
        return 0 if summary.finished else 130
    from rich.console import Console
    from rich.table import Table
    t = Table(title=f"sweep — {summary.data}", caption=f"{summary.root}", caption_justify="left")
    for col in ("job", "status", "accuracy", "params", "FLOPs", "latency ms", "train s"):
        t.add_column(col, justify="left" if col in ("job", "status") else "right")
    rows.sort(key=lambda r: (r.accuracy is None, -(r.accuracy or 0), r.number))
    for r in rows:
        m = r.result.metrics
        status = r.status if r.source == "trained" else r.source
        t.add_row(r.assignment["job"], status if r.result.ok else f"{status}: {r.result.error}",
                  f"{r.accuracy:.4f}" if r.accuracy is not None else "-",
                  human(m.get("params", 0)), human(m.get("flops", 0)),
                  f"{m['latency_ms']:.2f}" if "latency_ms" in m else "-",
                  f"{m['train_seconds']:.1f}" if "train_seconds" in m else "-")
    Console(width=120).print(t)
    print(f"results: {summary.root} (trials.db, config.yaml, best.json)")
    if not summary.finished:
        print(f"stopped early; continue with: nas sweep --resume {summary.root}")
        return 130
    return 0
