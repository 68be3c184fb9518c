"""Per-trial overhead of the search loop vs bare Ray Tune, on the same trivial trainable.

    python benchmarks/tune_overhead.py [--trials 60] [--workers 2] [--rounds 3]
                                       [--spaces exhaustive,nasnet-cell]

Both sides run ``trivial`` (one report, no training) as ``--trials`` Tune trials, ``--workers``
at a time, with actor reuse, in one shared local Ray:

- bare: ``tune.Tuner(trivial, param_space={"x": tune.randint(0, 10**9)}, num_samples=N)``;
- ours: the full search loop — the controller's ask/tell (random), ``space.decode`` and the
  genome hash per ask, the dedup/constraint checks, the SQLite store (one transaction per ask
  and per result, with the controller state), best.json, the Searcher.

Time = ``Tuner.fit`` wall time (Ray start-up excluded; each side's actors start inside it, so
both pay it). Rounds alternate the order; the ratio uses each side's fastest round (least
disturbed by other processes) and the median round. Goal: ours / bare ≤ 1.2. Each space is
measured separately: with ``exhaustive`` (a genome decodes in ~1 ms) the ratio is the loop's
own overhead; with ``nasnet-cell`` it adds what decoding and hashing a 50-decision NASNet
genome costs in the driver (the controller's dedup and the loop's record). Writes
``benchmarks/results/tune_overhead.json`` and ``.md``.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluators import ray_tune as tune_exec  # noqa: E402  (sets Ray's quiet environment)
from evaluators.base import Evaluator  # noqa: E402
from nas.config import SearchConfig  # noqa: E402
from nas.experiment import load_data, plan_search  # noqa: E402
from nas.loop import SearchLoop  # noqa: E402
from nas.result import Result  # noqa: E402
from nas.store import ExperimentStore  # noqa: E402

_RESULT = json.dumps({"status": "ok", "metrics": {"accuracy": 0.5, "params": 1, "flops": 1},
                      "error": None})


def trivial(config, data=None):
    from ray import tune
    tune.report({"epoch": 1, "accuracy": 0.5, "nas_result": _RESULT})


class Trivial(Evaluator):
    """What ``trivial`` does, as an evaluator: no training, one result (Ray's trial function
    reports it once, as bare Tune's trivial trainable does)."""

    name = "trivial"

    def evaluate(self, trial, data, *, device="cpu", threads=None, callback=None) -> Result:
        return Result("ok", {"accuracy": 0.5, "params": 1, "flops": 1})


def bare(trials: int, workers: int, root: Path, data) -> float:
    from ray import tune
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trivial, data=data), {"cpu": 1}),
        param_space={"x": tune.randint(0, 10**9)},
        tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=workers,
                                    reuse_actors=True, metric="accuracy", mode="max"),
        run_config=tune.RunConfig(name="bare", storage_path=str(root), verbose=0))
    t = time.perf_counter()
    tuner.fit()
    return time.perf_counter() - t


def ours(trials: int, workers: int, root: Path, data, space: str) -> tuple[float, dict]:
    cfg = SearchConfig().replace(space=space, controller="random", trials=trials,
                                 workers=workers, out=str(root / "exp"))
    plan = plan_search(cfg, data)
    store = ExperimentStore.create(root / "exp", cfg)
    controller = plan.make_controller(root / "exp", True)
    loop = SearchLoop(cfg, store, plan.space, controller, fit=plan.fit,
                      constraints=plan.constraints)
    t = time.perf_counter()
    tune_exec.execute(loop, Trivial(), data, cfg.execution, root / "exp",
                      tensorboard=cfg.execution.tensorboard)
    seconds = time.perf_counter() - t
    counts = store.counts()
    store.close()
    return seconds, counts


def measure(space: str, args, data) -> dict:
    rows = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            order = ("bare", "ours") if r % 2 == 0 else ("ours", "bare")
            got = {}
            for side in order:
                if side == "bare":
                    got["bare"] = bare(args.trials, args.workers, Path(tmp), data)
                else:
                    got["ours"], counts = ours(args.trials, args.workers, Path(tmp), data, space)
                    assert counts["trained"] == args.trials, counts
            rows.append(got)
            print(f"{space} round {r + 1}: bare {got['bare']:.2f}s  ours {got['ours']:.2f}s  "
                  f"ratio {got['ours'] / got['bare']:.3f}", flush=True)
    best_bare = min(x["bare"] for x in rows)
    best_ours = min(x["ours"] for x in rows)
    return {"space": space, "rounds": rows,
            "bare_seconds_best": round(best_bare, 3), "ours_seconds_best": round(best_ours, 3),
            "bare_ms_per_trial": round(1000 * best_bare / args.trials, 1),
            "ours_ms_per_trial": round(1000 * best_ours / args.trials, 1),
            "ratio_best": round(best_ours / best_bare, 3),
            "ratio_median": round(statistics.median(x["ours"] / x["bare"] for x in rows), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--spaces", default="exhaustive,nasnet-cell")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    data = load_data(SearchConfig())
    started = tune_exec.connect()
    try:
        results = [measure(space, args, data) for space in args.spaces.split(",")]
    finally:
        if started:
            import ray
            ray.shutdown()
    report = {"benchmark": "tune_overhead", "trials": args.trials, "workers": args.workers,
              "goal": "ours / bare ≤ 1.2", "results": results,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_avg_1m": round(os.getloadavg()[0], 2)}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tune_overhead.json").write_text(json.dumps(report, indent=1))
    lines = [f"# Search-loop overhead vs bare Ray Tune\n",
             f"{args.trials} trivial trials (one report, no training), {args.workers} at a time, "
             f"actor reuse, one local Ray; random controller, SQLite store (WAL). "
             f"Best of {args.rounds} alternating rounds; goal ours/bare ≤ 1.2.\n",
             "| space | bare Tune per trial | search loop per trial | ratio (best) | "
             "ratio (median) |", "|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['space']} | {r['bare_ms_per_trial']} ms | {r['ours_ms_per_trial']} ms"
                     f" | **{r['ratio_best']}** | {r['ratio_median']} |")
    lines.append(f"\nLoad average during the run: {os.getloadavg()[0]:.1f} on "
                 f"{os.cpu_count()} CPUs.\n")
    (out / "tune_overhead.md").write_text("\n".join(lines))
    print(json.dumps([{k: r[k] for k in ("space", "bare_ms_per_trial", "ours_ms_per_trial",
                                          "ratio_best", "ratio_median")} for r in results]))


if __name__ == "__main__":
    main()
