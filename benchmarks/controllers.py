"""Search quality and per-ask overhead of the controllers.

    python benchmarks/controllers.py [--seeds 10] [--budget 2000] [--only LABELS] [--quick]

Quality: every controller searches the ``exhaustive`` space (NAS-Bench-201-like: 6 edges × 5
ops, 15 625 assignments, 6 269 distinct networks) for the optimum of a synthetic landscape
with interacting decisions (:mod:`controllers.landscape`: random unary + pairwise terms, the
pairwise ones ~85% of the variance; accuracies shaped like NAS-Bench-201's CIFAR-10 table). A
new landscape and controller seed per run, the same ``--seeds`` for every controller. As in
``nas search``, a network already evaluated is answered from the cache and does not count: the
x axis is *distinct networks evaluated* (asks, duplicates included, are reported too). Random
search runs until it finds the optimum (it cannot miss: it never repeats a network); the others
stop at ``--budget`` evaluations (a miss counts as the budget, and is reported).

Networks are identified by the space's key, a table of cell hashes (``ExhaustiveSpace.key``,
checked here to give the same partition as ``space.decode(a).hash`` on a sample), so the runs
do not spend minutes decoding the same genomes again.

Overhead: milliseconds per ask and per tell of each controller on the ``nasnet-cell`` space
(50 decisions), after a warm-up, with the dedup hashing (decode + hash) that the controllers do
measured separately; Optuna on SQLite storage. Writes benchmarks/results/controllers.{json,md,png}.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controllers import CONTROLLERS  # noqa: E402
from controllers.landscape import Landscape  # noqa: E402
from nas.result import Result  # noqa: E402
from search_spaces import SPACES, get_space  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
#: label -> (controller, options); the defaults unless said
ENTRIES = {
    "random": ("random", {}),
    "evolution": ("evolution", {}),
    "reinforce": ("reinforce", {}),
    "optuna-tpe": ("optuna", {"sampler": "tpe"}),
}
CHECKPOINTS = (10, 30, 100, 300, 1000)


def fast_space():
    """The exhaustive space; its ``key`` (the controllers' dedup identity) is a lookup in the
    table of cell hashes, checked here to give the same partition as ``decode(a).hash``."""
    space = get_space("exhaustive")
    space.table = space.cell_hashes()
    rng = random.Random(0)
    by_cell: dict[str, str] = {}
    for _ in range(200):
        a = space.sample(rng)
        h = space.decode(a).hash
        assert by_cell.setdefault(space.key(a), h) == h
    assert len(set(by_cell.values())) == len(by_cell)
    return space


def run_one(space, label: str, seed: int, budget: int) -> dict:
    name, opts = ENTRIES[label]
    land = Landscape(space, seed=seed, classes=space.table)
    table = land.table()
    value = {}
    for h, v in zip(space.table, table):
        value[h] = v
    distinct = np.sort(np.array(list(value.values())))[::-1]
    best_value, top1 = distinct[0], distinct[len(distinct) // 100 - 1]
    ctl = CONTROLLERS.get(name)(space, seed=seed, **opts)
    if label == "random":
        budget = len(distinct)
    seen: set[str] = set()
    curve, asks, found, found_top1 = [], 0, None, None
    best = -1.0
    t0 = time.perf_counter()
    while len(seen) < budget and asks < 20 * budget:
        a = ctl.ask()
        asks += 1
        r = land.result(a)
        ctl.tell(a, r)
        h = space.key(a)
        if h in seen:
            continue
        seen.add(h)
        best = max(best, r.get("accuracy"))
        curve.append(int((distinct > best).sum()) + 1)  # rank of the best so far (1 = optimum)
        if found_top1 is None and best >= top1:
            found_top1 = len(seen)
        if best >= best_value:
            found = len(seen)
            break
    return {"seed": seed, "found": found, "top1": found_top1, "evaluations": len(seen),
            "asks": asks, "seconds": time.perf_counter() - t0, "curve": curve,
            "budget": budget}


def summarize(runs: list[dict], budget: int) -> dict:
    to_opt = np.array([r["found"] or r["budget"] for r in runs], dtype=float)
    to_top1 = np.array([r["top1"] or r["budget"] for r in runs], dtype=float)
    ranks = {}
    for c in CHECKPOINTS:
        vals = [r["curve"][min(c, len(r["curve"])) - 1] for r in runs]
        ranks[c] = float(np.mean(vals))
    return {"to_optimum_mean": float(to_opt.mean()), "to_optimum_std": float(to_opt.std()),
            "to_optimum_median": float(np.median(to_opt)),
            "found": sum(r["found"] is not None for r in runs), "runs": len(runs),
            "to_top1_mean": float(to_top1.mean()), "to_top1_std": float(to_top1.std()),
            "asks_per_evaluation": float(np.mean([r["asks"] / r["evaluations"] for r in runs])),
            "ms_per_ask_tell": float(1e3 * np.mean([r["seconds"] / r["asks"] for r in runs])),
            "mean_rank_at": ranks}


def overhead(n: int = 20, warmup: int = 20) -> dict:
    """ms per ask / tell on nasnet-cell (or the exhaustive space if nasnet-cell is missing):
    trials ``warmup``..``warmup + n`` of one search (GP: 10..13, its asks take seconds)."""
    name = "nasnet-cell" if "nasnet-cell" in SPACES else "exhaustive"
    space = get_space(name)
    land = Landscape(space, seed=0)
    rng = random.Random(0)
    samples = [space.sample(rng) for _ in range(10)]
    t = time.perf_counter()
    for a in samples:
        space.decode(a).hash
    hash_ms = (time.perf_counter() - t) / len(samples) * 1e3
    out = {"space": name, "decisions": len(space.decisions), "decode_hash_ms": hash_ms,
           "controllers": {}}
    entries = {**ENTRIES, "optuna-nsga2": ("optuna", {"sampler": "nsga2"}),
               "optuna-gp": ("optuna", {"sampler": "gp"})}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (cname, opts) in entries.items():
            w, m = (10, 3) if label == "optuna-gp" else (warmup, n)
            if cname == "optuna":
                opts = {**opts, "storage": str(Path(tmp) / f"{label}.db")}
            ctl = CONTROLLERS.get(cname)(space, seed=0, **opts)
            ask = tell = 0.0
            for k in range(w + m):
                t0 = time.perf_counter()
                a = ctl.ask()
                t1 = time.perf_counter()
                r = Result("ok", {"accuracy": land.accuracy(a),
                                  "flops": 1e6 * (1 + sum(space.to_indices(a)))})
                t2 = time.perf_counter()
                ctl.tell(a, r)
                t3 = time.perf_counter()
                if k >= w:
                    ask, tell = ask + t1 - t0, tell + t3 - t2
            out["controllers"][label] = {"ask_ms": ask / m * 1e3, "tell_ms": tell / m * 1e3,
                                         "trials": f"{w}..{w + m}",
                                         "dedup_hashing": bool(getattr(ctl.options, "dedup",
                                                                       False))}
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, res in results.items():
        runs = res["runs"]
        n = max(len(r["curve"]) for r in runs)
        x = np.arange(1, n + 1)
        mean_rank = np.mean([np.pad(r["curve"], (0, n - len(r["curve"])),
                                    constant_values=1 if r["found"] else r["curve"][-1])
                             for r in runs], axis=0)
        ax1.plot(x, mean_rank, label=label)
        hits = sorted(r["found"] for r in runs if r["found"])
        frac = [sum(h <= k for h in hits) / len(runs) for k in x]
        ax2.plot(x, frac, label=label)
    ax1.set(xscale="log", yscale="log", xlabel="distinct networks evaluated",
            ylabel="rank of the best found (mean over seeds; 1 = optimum)",
            title="best so far")
    ax2.set(xscale="log", xlabel="distinct networks evaluated",
            ylabel="fraction of seeds that found the optimum", title="optimum found")
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("controllers on the exhaustive space (6 269 networks), synthetic landscape "
                 "with interacting decisions")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(summary: dict, over: dict, meta: dict) -> str:
    lines = [
        "# Controllers: search quality and overhead", "",
        f"`python benchmarks/controllers.py --seeds {meta['seeds']} --budget {meta['budget']}`"
        f" — {meta['machine']}, {meta['date']}.", "",
        "Exhaustive space (15 625 assignments, 6 269 distinct networks), synthetic landscape "
        "with interacting decisions; x = distinct networks evaluated (cached repeats are free, "
        "as in `nas search`). Mean ± std over seeds; a run that misses the optimum within the "
        "budget counts as the budget.", "",
        "| controller | evals to optimum | median | found | evals to top 1% | asks/eval |"
        + "".join(f" rank@{c} |" for c in CHECKPOINTS),
        "|---|---|---|---|---|---|" + "---|" * len(CHECKPOINTS)]
    for label, s in summary.items():
        lines.append(
            f"| {label} | {s['to_optimum_mean']:.0f} ± {s['to_optimum_std']:.0f} | "
            f"{s['to_optimum_median']:.0f} | {s['found']}/{s['runs']} | "
            f"{s['to_top1_mean']:.1f} ± {s['to_top1_std']:.1f} | "
            f"{s['asks_per_evaluation']:.2f} |"
            + "".join(f" {s['mean_rank_at'][c]:.1f} |" for c in CHECKPOINTS))
    lines += ["", "rank@k: mean rank of the best network found after k evaluations (1 = the "
              "optimum).", "", "![best-so-far curves](controllers.png)", "",
              f"## Per-ask overhead on `{over['space']}` ({over['decisions']} decisions)", "",
              "Mean over the trials given of one search; decode + hash of one genome "
              f"(what dedup costs per new network) = {over['decode_hash_ms']:.1f} ms. Optuna "
              "runs on SQLite storage.", "",
              "| controller | trials | ask ms | tell ms | dedup hashing in ask |",
              "|---|---|---|---|---|"]
    for label, c in over["controllers"].items():
        lines.append(f"| {label} | {c['trials']} | {c['ask_ms']:.1f} | {c['tell_ms']:.1f} | "
                     f"{'yes' if c['dedup_hashing'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--budget", type=int, default=2000, help="evaluations per run (not random)")
    p.add_argument("--only", help="comma-separated labels to run")
    p.add_argument("--quick", action="store_true", help="2 seeds, budget 300 (smoke test)")
    a = p.parse_args(argv)
    if a.quick:
        a.seeds, a.budget = 2, 300
    space = fast_space()
    labels = a.only.split(",") if a.only else list(ENTRIES)
    results = {}
    for label in labels:
        runs = []
        for seed in range(a.seeds):
            runs.append(run_one(space, label, seed, a.budget))
            r = runs[-1]
            print(f"{label:12s} seed {seed}: optimum at {r['found']} (top 1% at {r['top1']}), "
                  f"{r['asks']} asks, {r['seconds']:.1f}s", flush=True)
        results[label] = {"runs": runs, "summary": summarize(runs, a.budget)}
    over = overhead()
    meta = {"seeds": a.seeds, "budget": a.budget, "machine": f"{platform.machine()}, "
            f"{platform.python_version()}", "date": time.strftime("%Y-%m-%d")}
    summary = {k: v["summary"] for k, v in results.items()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "controllers.json").write_text(json.dumps(
        {"meta": meta, "summary": summary, "overhead": over,
         "runs": {k: [{kk: vv for kk, vv in r.items() if kk != "curve"} for r in v["runs"]]
                  for k, v in results.items()}}, indent=1))
    plot(results, OUT / "controllers.png")
    md = markdown(summary, over, meta)
    (OUT / "controllers.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
