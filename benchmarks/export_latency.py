"""Inference latency of exported networks vs torchvision's own models (CPU, 1 thread).

    python benchmarks/export_latency.py [--nets resnet18,mobilenet_v2,densenet121]
                                        [--runs1 25] [--runs32 5]

For each net, side by side and interleaved (every run times each variant once, in turn, so a
busy machine slows all of them alike), batch 1 and batch 32 at 3×224×224, eval mode, no grad,
``torch.set_num_threads(1)``; the median of the runs after the warm-up runs (2 at batch 1, 1
at batch 32):

``torchvision``      ``torchvision.models.NAME(weights=None).eval()`` — the reference
``genome``           ``nas.build(get_net(NAME))`` in eval mode, not optimized (for reference)
``folded``           :func:`nas.export.optimize_model` with ``channels_last=False``: conv+BN
                     folded, dropout removed, residual adds in place (what was tried first)
``optimized``        :func:`nas.export.optimize_model`: folded + channels-last weights — what
                     ``nas export --format py --optimize`` ships
``torchscript``      ``nas export --format torchscript`` (optimized by default: the above,
                     traced and frozen), reloaded with ``torch.jit.load``: the exported file as
                     a user runs it
``ts_ofi``           that file after ``torch.jit.optimize_for_inference`` (MKL-DNN layouts;
                     CPU-specific, so not what the export ships)

Ratios are variant / torchvision (< 1: faster); the goal of issue #16 is ≤ 0.85 for the
exported network. Writes ``benchmarks/results/export_latency.json`` and ``.md``.
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

import torch  # noqa: E402
import torchvision  # noqa: E402

from nas import build  # noqa: E402
from nas.export import export, optimize_model  # noqa: E402
from search_spaces import get_net  # noqa: E402

GOAL = 0.85
SHAPE = (3, 224, 224)


def variants(name: str, batch: int, tmp: Path) -> dict:
    """name -> (module, input transform) of every variant of one net."""
    tv = getattr(torchvision.models, name)(weights=None).eval()
    g = get_net(name)
    net = build(g).eval()
    folded, _ = optimize_model(net, channels_last=False)
    opt, changes = optimize_model(net)
    ts_path = tmp / f"{name}.ts"
    export(g, "torchscript", ts_path, net.state_dict())          # optimized by default
    ts = torch.jit.load(str(ts_path)).eval()
    ofi = torch.jit.optimize_for_inference(torch.jit.load(str(ts_path)).eval())
    out = {"torchvision": (tv, None), "genome": (net, None), "folded": (folded, None),
           "optimized": (opt, None), "torchscript": (ts, None), "ts_ofi": (ofi, None)}
    return out, changes


def measure(name: str, batch: int, runs: int, tmp: Path) -> dict:
    vs, changes = variants(name, batch, tmp)
    x = torch.randn(batch, *SHAPE)
    inputs = {k: (f(x) if f else x) for k, (_, f) in vs.items()}
    times: dict[str, list[float]] = {k: [] for k in vs}
    warm = 2 if batch == 1 else 1
    with torch.inference_mode():
        for r in range(runs + warm):
            for k, (m, _) in vs.items():
                t = time.perf_counter()
                m(inputs[k])
                dt = time.perf_counter() - t
                if r >= warm:
                    times[k].append(dt)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    ref = med["torchvision"]
    return {"net": name, "batch": batch, "runs": runs, "folded": len(changes.folded),
            "dropout_removed": len(changes.removed),
            "median_ms": {k: round(v, 2) for k, v in med.items()},
            "ratio": {k: round(v / ref, 3) for k, v in med.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", default="resnet18,mobilenet_v2,densenet121")
    ap.add_argument("--runs1", type=int, default=15, help="runs at batch 1")
    ap.add_argument("--runs32", type=int, default=3, help="runs at batch 32")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "export_latency"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name in a.nets.split(","):
            for batch, runs in ((1, a.runs1), (32, a.runs32)):
                row = measure(name, batch, runs, Path(d))
                rows.append(row)
                print(json.dumps(row), flush=True)
    doc = {"what": "CPU inference latency, 1 thread, 3x224x224, median of interleaved runs",
           "goal": f"exported (optimized) network <= {GOAL} x torchvision",
           "seconds": round(time.time() - t0, 1),
           "load_average": os.getloadavg(),
           "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                        "python": platform.python_version()},
           "cpu": platform.processor() or platform.machine(), "rows": rows}
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1))
    out.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))


def markdown(doc: dict) -> str:
    keys = ["genome", "folded", "optimized", "torchscript", "ts_ofi"]
    lines = ["| net | batch | torchvision ms | " + " | ".join(f"{k} (ratio)" for k in keys)
             + " |", "|" + " --- |" * (3 + len(keys))]
    for r in doc["rows"]:
        cells = [f"{r['median_ms'][k]:.1f} ({r['ratio'][k]:.2f})" if k in r["ratio"] else "–"
                 for k in keys]
        lines.append(f"| {r['net']} | {r['batch']} | {r['median_ms']['torchvision']:.1f} | "
                     + " | ".join(cells) + " |")
    return (f"{doc['what']}; ratio = variant / torchvision (goal ≤ {GOAL}); load average "
            f"during the run {', '.join(f'{x:.1f}' for x in doc['load_average'])}; "
            f"{doc['seconds']} s.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
