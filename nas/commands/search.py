"""``nas search``: search a space with a controller, training candidates in parallel on Ray.

Also holds the flags shared with ``nas train`` and ``nas sweep`` (``add_config_args``,
``config_from_args``): every flag overrides the same key of ``--config FILE``.
"""
from __future__ import annotations

import sys

from nas.commands._common import human, print_json
from nas.errors import NasError
from nas.options import parse_pairs

ORDER = 40

# flag dest -> (help, type); the dest is the SearchConfig key it overrides
DATA_FLAGS = {
    "dataset": ("data set: digits (default, offline), cifar10, cifar100, mnist, "
                "fashion-mnist, svhn, folder, synthetic", str),
    "data_dir": ("directory holding the data set's files (torchvision layout)", str),
    "input": ("CxHxW: synthetic data shape / image-folder resize", str),
}
BUDGET_FLAGS = {
    "epochs": ("training epochs per candidate", int),
    "steps": ("training steps per candidate (stops at whichever limit comes first)", int),
    "seconds": ("training seconds per candidate", float),
    "batch_size": ("batch size", int),
    "lr": ("peak learning rate (cosine decay)", float),
    "optimizer": ("SGD with Nesterov momentum, or AdamW", str),
    "seed": ("seed of the data split, initialisation and controller", int),
}
EXEC_FLAGS = {
    "executor": ("ray (Ray Tune trials) or local (in this process); default: the evaluator's",
                 str),
    "workers": ("trials run at once (default: as many as the Ray cluster's CPUs/GPUs fit); "
                "--evaluator supernet: data-parallel workers of its training (Ray Train; "
                "default 1, in this process)", int),
    "cpus_per_trial": ("CPUs per trial (also torch threads); supernet: per data-parallel "
                       "worker", float),
    "gpus_per_trial": ("GPUs per trial; fractions share a GPU (e.g. 0.25)", float),
    "address": ("join this Ray cluster (e.g. 10.0.0.1:6379) instead of a local Ray", str),
    "max_failures": ("retries of a trial whose worker crashed", int),
    "out": ("experiment directory (default runs/<space>-<controller>-<time>)", str),
    "top": ("rows of the leaderboard", int),
    "keep_weights": ("keep the trained weights of the K best trials in DIR/weights/ "
                     "(0: none; `nas export DIR` uses the best one's)", int),
}


METAVARS = {"dataset": "NAME", "data_dir": "DIR", "input": "CxHxW", "epochs": "E",
            "steps": "N", "seconds": "S", "batch_size": "B", "lr": "LR",
            "optimizer": "sgd|adamw", "seed": "S", "workers": "W", "cpus_per_trial": "C",
            "gpus_per_trial": "G", "address": "HOST:PORT", "executor": "ray|local", "max_failures": "N", "out": "DIR",
            "top": "K", "keep_weights": "K"}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "search", help="search a space: train and rank candidates in parallel on Ray",
        description="Search a space with a controller. Each candidate is trained under the "
        "budget as a Ray Tune trial; every result is stored in the experiment directory as it "
        "arrives (SQLite), so a killed search continues with --resume DIR.")
    p.add_argument("--space", metavar="NAME", help="search space (see `nas spaces`; default "
                   "nasnet-cell)")
    p.add_argument("--controller", metavar="NAME", help="random, evolution, reinforce or "
                   "optuna (default random; see `nas controllers`)")
    p.add_argument("--trials", type=int, metavar="N", help="candidates to train (the budget; "
                   "default 8)")
    p.add_argument("--option", "-o", action="append", default=[], metavar="K=V",
                   help="a space option, e.g. --option N=1 (repeatable)")
    p.add_argument("--controller-option", action="append", default=[], metavar="K=V",
                   help="a controller option, e.g. --controller-option population=8")
    p.add_argument("--evaluator", metavar="NAME", help="train (default), table[:NAME] … "
                   "(see `nas evaluators`)")
    p.add_argument("--evaluator-option", action="append", default=[], metavar="K=V",
                   help="an evaluator option (repeatable)")
    p.add_argument("--init", metavar="NAME,NAME", help="fixed points / classic nets to "
                   "evaluate first")
    p.add_argument("--proxy", metavar="NAME", help="zero-cost proxy of --proxy-warmup / "
                   "--proxy-screen (default synflow; see `nas score`)")
    p.add_argument("--proxy-warmup", type=int, metavar="N", help="score N random networks by "
                   "the proxy first and start the controller from the best")
    p.add_argument("--proxy-screen", type=int, metavar="M", help="evaluate only the best of "
                   "every M proposals by the proxy (the others are recorded, screened out)")
    p.add_argument("--retrain", type=int, metavar="K", help="retrain the top K stand-alone "
                   "after the search (default: the evaluator's; supernet 5, others 0)")
    p.add_argument("--retrain-epochs", type=int, metavar="E", help="stand-alone budget of the "
                   "retrained candidates (default 4)")
    p.add_argument("--scheduler", choices=("fifo", "asha"), help="asha: stop weak candidates "
                   "early on their per-epoch validation accuracy")
    p.add_argument("--resume", metavar="DIR", help="continue the experiment in DIR")
    add_config_args(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def add_config_args(p, exec_flags: bool = True) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML config (see configs/); flags "
                   "override its keys")
    from nas.config import SearchConfig
    defaults = SearchConfig()
    groups = [("data", DATA_FLAGS), ("training budget and recipe", BUDGET_FLAGS)]
    if exec_flags:
        groups.append(("execution", EXEC_FLAGS))
    for title, flags in groups:
        g = p.add_argument_group(title)
        for dest, (help, typ) in flags.items():
            default = defaults.get(dest)
            if default is not None and dest not in ("dataset", "out"):
                help = f"{help} (default {default:g})" if isinstance(default, float) \
                    else f"{help} (default {default})"
            g.add_argument("--" + dest.replace("_", "-"), dest=dest, type=typ, help=help,
                           metavar=METAVARS.get(dest, typ.__name__.upper()))


def config_from_args(args, extra: dict | None = None):
    """(base config from --config or defaults, overrides from the flags given)."""
    from nas.config import SearchConfig
    base = SearchConfig.load(args.config) if getattr(args, "config", None) else SearchConfig()
    overrides = {}
    for flags in (DATA_FLAGS, BUDGET_FLAGS, EXEC_FLAGS):
        for dest in flags:
            v = getattr(args, dest, None)
            if v is not None:
                overrides[dest] = v
    for dest in ("space", "controller", "evaluator", "trials", "scheduler", "proxy",
                 "proxy_warmup", "proxy_screen", "retrain", "retrain_epochs"):
        v = getattr(args, dest, None)
        if v is not None:
            overrides[dest] = v
    if getattr(args, "init", None):
        overrides["init"] = [s.strip() for s in args.init.split(",") if s.strip()]
    if getattr(args, "option", None):
        overrides["options"] = {**base.options, **parse_pairs(args.option, "--option")}
    if getattr(args, "evaluator_option", None):
        overrides["evaluator_options"] = {**base.evaluator_options, **parse_pairs(
            args.evaluator_option, "--evaluator-option")}
    if getattr(args, "controller_option", None):
        overrides["controller_options"] = {**base.controller_options, **parse_pairs(
            args.controller_option, "--controller-option")}
    overrides.update(extra or {})
    return base, overrides


def run(args) -> int:
    from nas.progress import Reporter, RichReporter
    from nas.experiment import run_search
    if args.resume and args.config:
        raise NasError("--resume continues a stored experiment with its own config; "
                       "drop --config")
    base, overrides = config_from_args(args)
    reporter = Reporter() if args.quiet or args.json else RichReporter()
    if args.resume:
        summary = run_search(resume=args.resume, overrides=overrides, reporter=reporter)
    else:
        summary = run_search(base, overrides=overrides, reporter=reporter)
    if args.json:
        print_json(summary.to_dict())
    else:
        print_leaderboard(summary)
    return exit_code(summary)


def exit_code(summary) -> int:
    """0: done with at least one success; 1: nothing succeeded (said on stderr, with why);
    130: stopped early (Ctrl-C, SIGTERM) — resume it."""
    if not summary.finished:
        return 130
    if summary.counts["ok"] == 0:
        c = summary.counts
        why = (f"{c['failed']} failed (first: {summary.first_error})" if c["failed"] else
               f"{c['rejected']} proposals rejected by the constraints, nothing trained"
               if c["rejected"] else "nothing was evaluated")
        print(f"nas: error: no candidate succeeded: {why}; see {summary.root}", file=sys.stderr)
        return 1
    return 0


def print_leaderboard(summary, title: str = "leaderboard") -> None:
    from rich.console import Console
    from rich.table import Table
    c = summary.counts
    t = Table(title=f"{title} — {summary.data}", caption=(
        f"trained {c['trained']} (ok {c['ok']}, failed {c['failed']}, pruned {c['pruned']}) · "
        f"cached {c['cached']} · rejected {c['rejected']} · {summary.seconds:.0f}s"),
        caption_justify="left")
    for col in ("rank", "trial", "accuracy", "params", "FLOPs", "latency ms", "train s",
                "hash"):
        t.add_column(col, justify="left" if col == "hash" else "right")
    for k, row in enumerate(summary.leaderboard, 1):
        m = row.result.metrics
        t.add_row(str(k), str(row.number), f"{row.accuracy:.4f}", human(m.get("params", 0)),
                  human(m.get("flops", 0)), f"{m.get('latency_ms', 0):.2f}",
                  f"{m.get('train_seconds', 0):.1f}", row.hash[:16])
    Console(width=110).print(t)
    if summary.retrained:
        t = Table(title="retrained stand-alone (top K by the search's estimate)")
        for col in ("trial", "estimate", "stand-alone", "hash"):
            t.add_column(col, justify="right")
        for r in summary.retrained:
            sa = r["standalone_accuracy"]
            t.add_row(str(r["trial"]), f"{r['estimate']:.4f}",
                      "failed" if sa is None else f"{sa:.4f}", r["hash"][:16])
        Console(width=110).print(t)
    root = summary.root
    if summary.best is not None:
        sa = (summary.best.result.metrics.get("standalone_accuracy")
              if summary.best.result else None)
        how = (f"stand-alone validation accuracy {sa:.4f} (estimate {summary.best.accuracy:.4f})"
               if sa is not None else f"validation accuracy {summary.best.accuracy:.4f}")
        print(f"best: trial {summary.best.number}, {how} -> {root / 'best.json'}")
    kept = sorted((root / "weights").glob("trial-*.pt")) if (root / "weights").is_dir() else []
    print(f"results: {root} (trials.db, config.yaml, best.json"
          f"{f', weights/ of {len(kept)} trials' if kept else ''})")
    if not summary.finished:
        print(f"stopped before the budget ({c['trained']} trained); continue with: "
              f"nas search --resume {root}")
