"""What a tabular benchmark build costs here: networks per minute with 1 and 2 workers.

    python benchmarks/table_build.py [--networks 80] [--rounds 1]

Builds the first ``--networks`` distinct networks of ``exhaustive`` with the shipped digits
protocol (8 epochs, seed 0) through ``nas table build`` on local Ray, once with ``--workers 1``
and once with ``--workers 2`` (alternating order per round; Ray start-up excluded: the time is
the build's trial phase, from its first ask to its last result in the store). Writes
``benchmarks/results/table_build.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(networks: int, workers: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "nas", "table", "build", "--networks", str(networks),
           "--seeds", "0", "--workers", str(workers), "--out", str(out), "--quiet", "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    c = sqlite3.connect(out / "trials.db")
    lo, hi, n = c.execute("SELECT min(asked_at), max(finished_at), count(*) FROM trials "
                          "WHERE status='ok'").fetchone()
    c.close()
    return {"workers": workers, "networks": n, "seconds": round(hi - lo, 1),
            "networks_per_minute": round(60 * n / (hi - lo), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--networks", type=int, default=80)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for w in ((1, 2) if r % 2 == 0 else (2, 1)):
                runs.append(build(args.networks, w, Path(tmp) / f"r{r}-w{w}"))
                print(runs[-1], flush=True)
    best = {w: max(x["networks_per_minute"] for x in runs if x["workers"] == w) for w in (1, 2)}
    report = {"benchmark": "table_build", "networks": args.networks, "runs": runs,
              "networks_per_minute": best, "speedup_2_vs_1": round(best[2] / best[1], 2),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_avg_1m": round(os.getloadavg()[0], 2)}}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "table_build.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("networks_per_minute", "speedup_2_vs_1")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
