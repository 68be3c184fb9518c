"""The controllers on real accuracies: searches replayed on the tabular benchmark.

    python benchmarks/table_search.py [--table exhaustive-digits] [--seeds 20] [--first-seed 100]
                                      [--trials 300] [--only random,evolution,...]

Every controller searches the table's space with ``nas search --evaluator table --executor
local`` — the real loop, store and controller, each lookup a training the table recorded, with
a seed drawn per lookup as NAS-Bench-201 does — for ``--trials`` trained (distinct) networks,
on ``--seeds`` seeds (``--first-seed`` onwards; tuning, if any, is done on seeds below 100).
What a search sees is the validation accuracy of one recorded training; what it is scored by is
the **test-accuracy regret** of the network it would pick (the best by validation so far): the
table's best mean test accuracy minus the chosen network's mean test accuracy over its seeds.

Reported per controller: the mean ± std regret curve over trials (plot), the final regret, the
trials until the chosen network is in the top 1% (by mean validation accuracy) and until it is
the optimum, and the goal of issue #13 — random search's final regret reached within a third of
its trials. NSGA-II searches accuracy vs FLOPs (two objectives); its regret is measured on
accuracy like the others. Writes ``benchmarks/results/table_search.{json,md,png}``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluators.table import load_table  # noqa: E402
from nas.config import SearchConfig  # noqa: E402
from nas.experiment import run_search  # noqa: E402
from nas.progress import Reporter  # noqa: E402
from nas.store import ExperimentStore  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
#: label -> (controller, options[, config overrides])
ENTRIES = {
    "random": ("random", {}),
    "evolution": ("evolution", {}),
    "reinforce": ("reinforce", {}),
    "optuna-tpe": ("optuna", {"sampler": "tpe"}),
    "optuna-nsga2": ("optuna", {"sampler": "nsga2"}),
}


def proxy_entries(proxy: str, warmup: int, screen: int) -> dict:
    """Evolution started from a proxy warm-up, and evolution with proxy move proposal."""
    return {f"evolution+warmup({proxy},{warmup})": ("evolution", {},
                                                     {"proxy": proxy, "proxy_warmup": warmup}),
            f"evolution+screen({proxy},{screen})": ("evolution", {},
                                                     {"proxy": proxy, "proxy_screen": screen})}


def run_one(table, label: str, seed: int, trials: int, work: Path) -> dict:
    controller, opts, *extra = ENTRIES[label]
    h = table.header
    cfg = SearchConfig().replace(
        space=h["space"], options=dict(h.get("space_options") or {}), controller=controller,
        controller_options=dict(opts), evaluator=f"table:{table.path}", executor="local",
        trials=trials, seed=seed, dataset=h["dataset"],
        out=str(work / f"{label.replace('(', '-').replace(')', '').replace(',', '-')}-{seed}"),
        **(extra[0] if extra else {}))
    t0 = time.perf_counter()
    summary = run_search(cfg, reporter=Reporter())
    seconds = time.perf_counter() - t0
    store = ExperimentStore.open(summary.root)
    try:
        rows = [r for r in store.rows() if r.source == "trained" and r.status == "ok"]
    finally:
        store.close()
    return {"seed": seed, "seconds": seconds, "hashes": [r.hash for r in rows],
            "val": [r.accuracy for r in rows], "counts": summary.counts}


def split_labels(text: str) -> list[str]:
    """Comma-separated labels; commas inside parentheses belong to the label."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [x for x in [*out, cur] if x]


def parse_entries(items: list[str]) -> dict:
    """``LABEL=CONTROLLER[:K=V,...]`` -> ``{LABEL: (CONTROLLER, {K: V})}``."""
    from nas.options import parse_pairs
    out = {}
    for text in items:
        label, sep, rest = text.partition("=")
        if not sep:
            raise SystemExit(f"--entry {text!r}: expected LABEL=CONTROLLER[:K=V,...]")
        controller, _, opts = rest.partition(":")
        out[label] = (controller, parse_pairs([o for o in opts.split(",") if o], "--entry"))
    return out


def _init(proxy, warmup, screen, extra) -> None:
    import torch
    torch.set_num_threads(1)
    ENTRIES.update(extra)
    if proxy:
        ENTRIES.update(proxy_entries(proxy, warmup, screen))


def _run_job(args) -> dict:
    table_ref, label, seed, trials, tmp = args
    return run_one(load_table(table_ref), label, seed, trials, Path(tmp))


def score(table, run: dict, trials: int) -> dict:
    """Regret curve (test accuracy of the best-by-validation network so far vs the table's
    best), and when the choice first lands in the top 1% / on the optimum (mean validation)."""
    best_test = max(table.final(h, "test") for h in table.rows)
    ranked = sorted(table.rows, key=table.final, reverse=True)
    top1 = set(ranked[: max(1, len(ranked) // 100)])
    optimum = ranked[0]
    regret, chosen, best_val = [], None, -1.0
    t_top1 = t_opt = None
    for t, (h, v) in enumerate(zip(run["hashes"], run["val"]), start=1):
        if v > best_val:
            best_val, chosen = v, h
        regret.append(best_test - table.final(chosen, "test"))
        if t_top1 is None and chosen in top1:
            t_top1 = t
        if t_opt is None and chosen == optimum:
            t_opt = t
    regret += [regret[-1]] * (trials - len(regret))        # a search that stopped early
    return {"regret": regret, "top1": t_top1, "optimum": t_opt}


def summarize(scores: list[dict], trials: int) -> dict:
    curves = np.array([s["regret"][:trials] for s in scores]) * 100      # percentage points
    mean, std = curves.mean(0), curves.std(0)

    def when(key):
        got = [s[key] for s in scores if s[key] is not None]
        return {"mean": statistics.fmean(got) if got else None,
                "median": statistics.median(got) if got else None,
                "found": len(got), "runs": len(scores)}
    return {"mean_curve": [round(float(x), 4) for x in mean],
            "std_curve": [round(float(x), 4) for x in std],
            "final_regret": round(float(mean[-1]), 4), "final_std": round(float(std[-1]), 4),
            "top1": when("top1"), "optimum": when("optimum")}


def plot(results: dict, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    for label, r in results.items():
        m, s = np.array(r["mean_curve"]), np.array(r["std_curve"])
        x = np.arange(1, len(m) + 1)
        ax.plot(x, m, label=f"{label} ({r['final_regret']:.2f})")
        ax.fill_between(x, np.maximum(m - s, 0), m + s, alpha=0.12)
    ax.set_xscale("log")
    ax.set_xlabel("trained networks")
    ax.set_ylabel("test-accuracy regret (percentage points)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", default="exhaustive-digits")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--only", help="comma-separated labels of " + ", ".join(ENTRIES))
    ap.add_argument("--proxy", help="also run evolution with this proxy's warm-up and move "
                    "proposal (see --warmup, --screen)")
    ap.add_argument("--warmup", type=int, default=100, help="networks the proxy warm-up scores")
    ap.add_argument("--screen", type=int, default=4, help="proposals per trained network")
    ap.add_argument("--jobs", type=int, default=2, help="searches run at once (processes)")
    ap.add_argument("--proxy-seeds", type=int, default=5, help="seeds of the proxy-assisted "
                    "searches (each scores hundreds of networks; the first of --seeds' seeds)")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--entry", action="append", default=[], metavar="LABEL=CTRL[:K=V,...]",
                    help="an extra controller configuration to run, e.g. "
                    "'evo-p10s3=evolution:population=10,sample=3' (for tuning on seeds < 100)")
    ap.add_argument("--merge", action="store_true", help="keep the other controllers' results "
                    "already in OUT/table_search.json (same seeds and trials) and add or replace "
                    "the ones run now")
    args = ap.parse_args(argv)
    table = load_table(args.table)
    extra = parse_entries(args.entry)
    ENTRIES.update(extra)
    if args.proxy:
        ENTRIES.update(proxy_entries(args.proxy, args.warmup, args.screen))
    labels = split_labels(args.only) if args.only else list(ENTRIES)
    unknown = [x for x in labels if x not in ENTRIES]
    if unknown:
        raise SystemExit(f"--only: unknown {unknown}; known: {', '.join(ENTRIES)}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    results, t0 = {}, time.time()
    if args.merge:
        results = previous_results(Path(args.out) / "table_search.json", seeds, args.trials)
    with tempfile.TemporaryDirectory() as tmp, \
            ProcessPoolExecutor(args.jobs, initializer=_init,
                                initargs=(args.proxy, args.warmup, args.screen, extra)) as ex:
        for label in labels:        # the report is rewritten after each controller
            these = seeds if len(ENTRIES[label]) == 2 else seeds[: args.proxy_seeds]
            runs = list(ex.map(_run_job, [(args.table, label, sd, args.trials, tmp)
                                          for sd in these]))
            scores = [score(table, r, args.trials) for r in runs]
            results[label] = summarize(scores, args.trials)
            results[label]["runs"] = len(runs)
            results[label]["seconds_per_search"] = round(
                statistics.fmean(r["seconds"] for r in runs), 2)
            results[label]["candidates_per_s"] = round(
                sum(r["counts"]["trained"] + r["counts"]["cached"] for r in runs)
                / sum(r["seconds"] for r in runs), 1)
            r = results[label]
            print(f"{label}: final regret {r['final_regret']:.3f} ± {r['final_std']:.3f} pp, "
                  f"top-1% after {r['top1']['mean']} trials ({r['top1']['found']}/"
                  f"{r['top1']['runs']}), optimum after {r['optimum']['mean']} "
                  f"({r['optimum']['found']}/{r['optimum']['runs']}); "
                  f"{r['seconds_per_search']} s per search", flush=True)
            write(results, args, table, seeds, t0)
    return 0


def previous_results(path: Path, seeds, trials: int) -> dict:
    """The results of an earlier run to merge with, if it used the same seeds and trials."""
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    if old.get("trials") != trials or old.get("seeds") != list(seeds):
        raise SystemExit(f"{path}: cannot merge: it has trials={old.get('trials')} seeds="
                         f"{old.get('seeds')}, this run trials={trials} seeds={list(seeds)}")
    return old["results"]


def write(results: dict, args, table, seeds, t0: float) -> None:
    goal = None
    if "random" in results:
        target = results["random"]["final_regret"]
        for label, r in results.items():
            reach = next((t + 1 for t, x in enumerate(r["mean_curve"]) if x <= target), None)
            r["trials_to_random_final"] = reach
            r["goal_met"] = reach is not None and reach <= args.trials / 3
        goal = {"random_final_regret": target, "within": args.trials // 3}
    summary = table.summary()
    report = {"benchmark": "table_search", "table": table.name, "trials": args.trials,
              "seeds": list(seeds), "goal": goal, "results": results,
              "table_best_test": max(table.final(h, "test") for h in table.rows),
              "table_noise_std": summary["noise_std"],
              "wall_seconds": round(time.time() - t0, 1),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_avg_1m": round(os.getloadavg()[0], 2)}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table_search.json").write_text(json.dumps(report, indent=1))
    plot(results, out / "table_search.png",
         f"{table.name}: {len(seeds)} seeds × {args.trials} trials, regret of the "
         f"best-by-validation network")
    lines = [f"# Controllers on the tabular benchmark `{table.name}`\n",
             f"{len(seeds)} seeds ({seeds.start}–{seeds.stop - 1}) × {args.trials} trained "
             f"networks; regret = table's best mean test accuracy "
             f"({report['table_best_test']:.4f}) − the chosen network's, in percentage points; "
             f"the table's noise floor (std of repeated training) is "
             f"{100 * summary['noise_std']:.2f} pp.\n",
             "| controller (runs) | final regret (pp) | trials to top 1% (mean / median, found) | "
             "trials to optimum (mean, found) | trials to random's final regret | goal ≤ "
             f"{args.trials // 3} | s per search |", "|---|---:|---:|---:|---:|---|---:|"]
    for label, r in results.items():
        t1, op = r["top1"], r["optimum"]
        fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
        lines.append(f"| {label} ({r['runs']}) | {r['final_regret']:.3f} ± {r['final_std']:.3f} | "
                     f"{fmt(t1['mean'])} / {fmt(t1['median'])} ({t1['found']}/{t1['runs']}) | "
                     f"{fmt(op['mean'])} ({op['found']}/{op['runs']}) | "
                     f"{fmt(r.get('trials_to_random_final'))} | "
                     f"{'met' if r.get('goal_met') else 'not met'} | "
                     f"{r['seconds_per_search']} |")
    (out / "table_search.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
