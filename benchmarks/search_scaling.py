"""Parallel speed-up of a search: the same trials with 1 worker and with 2 workers.

    python benchmarks/search_scaling.py [--trials 8] [--epochs 4] [--space nasnet-cell]
                                        [--rounds 1] [--with-threads]

Each run is ``run_search`` as ``nas search --space S --trials N --dataset digits --epochs E
--workers W --cpus-per-trial 1`` would do it: its own local Ray (start-up included in the
wall time), the random controller with seed 0 — so both runs train the very same
architectures (checked by hash). Reported per run: the wall time, the trial phase (first ask
to last result, from the store) and the summed training seconds; the speed-up is
wall(1 worker) / wall(2 workers) and the same for the trial phase. Goal ≥ 1.6× on 2 cores.
``--with-threads`` adds 1 worker × 2 CPUs (torch threads) for comparison. Writes
``benchmarks/results/search_scaling.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nas.config import SearchConfig  # noqa: E402
from nas.experiment import run_search  # noqa: E402
from nas.store import ExperimentStore  # noqa: E402


def one(label: str, cfg: SearchConfig) -> dict:
    t = time.perf_counter()
    summary = run_search(cfg)
    wall = time.perf_counter() - t
    store = ExperimentStore.open(summary.root)
    try:
        rows = [r for r in store.rows() if r.source == "trained"]
    finally:
        store.close()
    assert len(rows) == cfg.trials and all(r.status == "ok" for r in rows), summary.counts
    phase = max(r.finished_at for r in rows) - min(r.asked_at for r in rows)
    out = {"label": label, "workers": cfg.execution.workers, "cpus_per_trial": cfg.execution.cpus_per_trial,
           "wall_seconds": round(wall, 2), "trial_phase_seconds": round(phase, 2),
           "train_seconds_sum": round(sum(r.result.get("train_seconds") for r in rows), 2),
           "best_accuracy": round(summary.best.accuracy, 4),
           "hashes": sorted(r.hash for r in rows)}
    print(f"{label}: wall {wall:.1f}s, trial phase {phase:.1f}s, best "
          f"{summary.best.accuracy:.4f}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--space", default="nasnet-cell")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--with-threads", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            plan = [("2 workers", 2, 1), ("1 worker", 1, 1)]
            if r % 2:
                plan.reverse()
            if args.with_threads:
                plan.append(("1 worker × 2 threads", 1, 2))
            for label, workers, cpus in plan:
                cfg = SearchConfig().replace(space=args.space, controller="random", seed=0,
                                             trials=args.trials, dataset="digits",
                                             epochs=args.epochs, workers=workers,
                                             cpus_per_trial=cpus,
                                             out=str(Path(tmp) / f"r{r}-{workers}-{cpus}"))
                runs.append(one(label, cfg))
    by = {}
    for run in runs:
        by.setdefault(run["label"], []).append(run)
    assert len({tuple(r["hashes"]) for r in runs}) == 1, "runs trained different networks"
    w1 = min(by["1 worker"], key=lambda r: r["wall_seconds"])
    w2 = min(by["2 workers"], key=lambda r: r["wall_seconds"])
    report = {
        "benchmark": "search_scaling", "space": args.space, "trials": args.trials,
        "epochs": args.epochs, "dataset": "digits",
        "runs": [{k: v for k, v in r.items() if k != "hashes"} for r in runs],
        "speedup_wall": round(w1["wall_seconds"] / w2["wall_seconds"], 3),
        "speedup_trial_phase": round(w1["trial_phase_seconds"] / w2["trial_phase_seconds"], 3),
        "goal": "speedup ≥ 1.6 on 2 cores",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_1m": round(os.getloadavg()[0], 2)},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "search_scaling.json").write_text(json.dumps(report, indent=1))
    lines = ["# Search scaling: 1 vs 2 workers\n",
             f"`nas search --space {args.space} --trials {args.trials} --dataset digits "
             f"--epochs {args.epochs} --workers W` (random controller, seed 0: the same "
             f"{args.trials} architectures in every run), local Ray started by the run.\n",
             "| run | wall | trial phase | training s (sum) | best val. accuracy |",
             "|---|---:|---:|---:|---:|"]
    for r in report["runs"]:
        lines.append(f"| {r['label']} | {r['wall_seconds']} s | {r['trial_phase_seconds']} s | "
                     f"{r['train_seconds_sum']} | {r['best_accuracy']} |")
    per_trial = {k: round(min(r["train_seconds_sum"] for r in v) / args.trials, 2)
                 for k, v in by.items()}
    report["train_seconds_per_trial"] = per_trial
    lines.append(f"\nSpeed-up 2 workers vs 1: **{report['speedup_wall']}×** wall, "
                 f"{report['speedup_trial_phase']}× trial phase (goal ≥ 1.6). Load average "
                 f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.\n")
    lines.append(f"Training seconds per trial: {per_trial['1 worker']} s alone, "
                 f"{per_trial['2 workers']} s when two run at once — two workers can only be "
                 f"twice as fast when a second core is actually free (other jobs on a shared "
                 f"machine take it).\n")
    (out / "search_scaling.json").write_text(json.dumps(report, indent=1))
    (out / "search_scaling.md").write_text("\n".join(lines))
    print(json.dumps({k: report[k] for k in ("speedup_wall", "speedup_trial_phase")}))


if __name__ == "__main__":
    main()
