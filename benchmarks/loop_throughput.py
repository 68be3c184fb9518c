"""Candidates per second through the whole search loop with the ``local`` executor.

    python benchmarks/loop_throughput.py [--trials 300] [--spaces exhaustive,nasnet-cell]

Each candidate goes through everything a real search does — the controller's ask (random,
deduplicated), decode, fit to the data, genome hash, the cost model, the constraint check, the
evaluator, the controller's tell, and the SQLite store (one transaction per ask and per result,
with the controller state) — with a trivial evaluator, so what is measured is the machinery
itself: the cost a cheap evaluator (a table lookup, a proxy) pays per candidate. Each space is
run ``--rounds`` times in a fresh experiment directory; the best round is reported with a
per-phase breakdown (cProfile of one extra round). Goals (issue #12): ≥ 300/s on exhaustive,
≥ 100/s on nasnet-cell. Writes ``benchmarks/results/loop_throughput.json``.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluators.base import EXECUTORS, Evaluator  # noqa: E402
from nas.config import SearchConfig  # noqa: E402
from nas.experiment import load_data, plan_search  # noqa: E402
from nas.loop import SearchLoop  # noqa: E402
from nas.result import Result  # noqa: E402
from nas.store import ExperimentStore  # noqa: E402

GOALS = {"exhaustive": 300, "nasnet-cell": 100}


class Trivial(Evaluator):
    name = "trivial"
    default_executor = "local"

    def evaluate(self, trial, data, *, device="cpu", threads=None, callback=None) -> Result:
        return Result("ok", {"accuracy": 0.5})


def run_once(space: str, trials: int, root: Path, data, seed: int) -> dict:
    cfg = SearchConfig().replace(space=space, controller="random", trials=trials, seed=seed,
                                 out=str(root), executor="local")
    t0 = time.perf_counter()
    plan = plan_search(cfg, data)
    store = ExperimentStore.create(root, cfg)
    controller = plan.make_controller(root, True)
    loop = SearchLoop(cfg, store, plan.space, controller, fit=plan.fit,
                      constraints=plan.constraints)
    t1 = time.perf_counter()
    EXECUTORS.get("local")().run(loop, Trivial(), data, cfg.execution, root)
    t2 = time.perf_counter()
    counts = store.counts()
    store.close()
    return {"setup_s": round(t1 - t0, 3), "loop_s": round(t2 - t1, 3),
            "candidates_per_s": round(counts["trained"] / (t2 - t1), 1), "counts": counts}


def breakdown(space: str, trials: int, data) -> list:
    """Where the time of one round goes (cumulative seconds of the loop's phases)."""
    prof = cProfile.Profile()
    with tempfile.TemporaryDirectory() as tmp:
        prof.enable()
        run_once(space, trials, Path(tmp) / "exp", data, seed=99)
        prof.disable()
    st = pstats.Stats(prof)
    want = {"ask": "controllers/base.py:ask", "decode": "decode", "hash": "nas/genome.py:hash",
            "cost": "cost_metrics", "store": "nas/store.py", "tell": "controllers/base.py:tell"}
    out = {}
    for (file, line, fn), (cc, nc, tt, ct, callers) in st.stats.items():
        where = f"{file}:{fn}"
        for phase, key in want.items():
            if (key.endswith(fn) and key.split(":")[0] in file) if ":" in key else fn == key:
                out[phase] = max(out.get(phase, 0.0), ct)
    total = sum(v[3] for k, v in st.stats.items() if k[2] == "run" and "executors" in k[0])
    return [{"phase": k, "seconds": round(v, 3)} for k, v in out.items()] + [
        {"phase": "total (executor run)", "seconds": round(total, 3)}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--spaces", default="exhaustive,nasnet-cell")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    data = load_data(SearchConfig())
    results = []
    for space in args.spaces.split(","):
        rounds = []
        for r in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                rounds.append(run_once(space, args.trials, Path(tmp) / "exp", data, seed=r))
            print(f"{space} round {r + 1}: {rounds[-1]['candidates_per_s']}/s", flush=True)
        best = max(x["candidates_per_s"] for x in rounds)
        results.append({"space": space, "trials": args.trials, "rounds": rounds,
                        "candidates_per_s_best": best, "goal": GOALS.get(space),
                        "met": best >= GOALS.get(space, 0),
                        "profile": breakdown(space, args.trials, data)})
    report = {"benchmark": "loop_throughput", "executor": "local", "evaluator": "trivial",
              "results": results,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_avg_1m": round(os.getloadavg()[0], 2)}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "loop_throughput.json").write_text(json.dumps(report, indent=1))
    print(json.dumps([{k: r[k] for k in ("space", "candidates_per_s_best", "goal", "met")}
                      for r in results]))


if __name__ == "__main__":
    main()
