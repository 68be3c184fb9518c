"""``nas report DIR [DIR ...]``: leaderboard, summary, plots and an HTML page."""
from __future__ import annotations

from nas.commands._common import positive_int, print_json

ORDER = 55


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="leaderboard, summary and plots of experiments",
                       description="Leaderboard (top-k by validation accuracy), trial counts and "
                       "wall time of one or more experiment directories; writes progress.png, "
                       "pareto.png, best.png and report.html (several DIRs are compared).")
    p.add_argument("dirs", nargs="+", metavar="DIR")
    p.add_argument("--top", type=positive_int, default=10, metavar="K",
                   help="leaderboard size (default 10)")
    p.add_argument("--out", metavar="DIR", help="where comparison plots go (default: first DIR)")
    p.add_argument("--dot", action="store_true", help="also write best.dot (Graphviz)")
    p.add_argument("--detail", action="store_true", help="best.png: the op graph of every "
                   "distinct block instead of the cells as the papers draw them")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from nas.experiment import fixed_point_hashes, store_cell_diagrams
    from nas.report import make_report
    rep = make_report(args.dirs, args.top, args.out, args.dot, fixed_point_hashes,
                      store_cell_diagrams, args.detail)
    if args.json:
        print_json(rep)
        return 0
    from rich.console import Console
    from rich.table import Table
    con = Console(width=max(110, Console().width))
    for s in rep["experiments"]:
        c = s["counts"]
        con.print(f"[bold]{s['dir']}[/]  space {s['space']}  controller {s['controller']}  "
                  f"data {s['dataset']}")
        con.print(f"trained {c['trained']}/{s['trials_budget']} (ok {c['ok']}, failed "
                  f"{c['failed']}, pruned {c['pruned']})  cached {c['cached']}  rejected "
                  f"{c['rejected']}  running {c['running']}  wall {s['wall_seconds']} s, "
                  f"{s['runs']} run(s)")
        t = Table()
        for col in ("rank", "trial", "accuracy", "params", "FLOPs", "memory KB", "train s", "hash"):
            t.add_column(col, justify="right" if col != "hash" else "left", no_wrap=True)
        for r in s["leaderboard"]:
            t.add_row(str(r["rank"]), str(r["trial"]), f"{r['accuracy']:.4f}", f"{r['params']:,}",
                      f"{r['flops']:,}", f"{r['memory_kb']:,}", f"{r['train_seconds'] or 0:.1f}",
                      r["hash"][:12])
        con.print(t)
        if s.get("retrained"):
            t = Table(title="retrained stand-alone (top K by the search's estimate)")
            for col in ("trial", "estimate", "stand-alone"):
                t.add_column(col, justify="right")
            for r in s["retrained"]:
                sa = r["standalone_accuracy"]
                t.add_row(str(r["trial"]), f"{r['accuracy']:.4f}",
                          "failed" if sa is None else f"{sa:.4f}")
            con.print(t)
        if s.get("learning_curve"):
            con.print("controller learning curve (mean reward / policy entropy): " + ", ".join(
                f"{p['trials']}: {p['mean_reward']:.3f}/{p['entropy']}"
                for p in s["learning_curve"]))
    for f in rep["files"]:
        con.print(f"wrote {f}")
    return 0
