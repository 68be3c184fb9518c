"""Speed parity: the genome-built network against torchvision's, forward + backward on CPU.

    python benchmarks/zoo_parity.py [--nets alexnet,vgg11,resnet18,mobilenet_v2] [--rounds 15]

Both models get the same weights (torchvision's, loaded strictly into the genome-built
``torch.fx`` module). Each round times one training step (forward, cross-entropy, backward)
of each model, alternating which goes first, so both see the same machine load. Two ratios
(genome / torchvision; goal ≤ 1.03): ``ratio_best`` of the fastest step of each — the estimator
least disturbed by other processes on a shared machine — and ``ratio_median``, the median of
the per-round ratios. Writes ``benchmarks/results/zoo_parity.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nas.builder import build  # noqa: E402
from search_spaces import get_net  # noqa: E402
from search_spaces.reference import torchvision_model  # noqa: E402

#: net -> (input C×H×W, batch)
PLAN = {
    "alexnet": ((3, 224, 224), 8),
    "vgg11": ((3, 64, 64), 8),
    "resnet18": ((3, 224, 224), 4),
    "mobilenet_v2": ((3, 224, 224), 4),
}


def step_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.zero_grad(set_to_none=True)
    t = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return time.perf_counter() - t


def measure(name: str, input_shape, batch: int, rounds: int, warmup: int = 2) -> dict:
    torch.manual_seed(0)
    tv = torchvision_model(name, 1000).train()
    g = build(get_net(name, input=input_shape)).train()
    g.load_state_dict(tv.state_dict(), strict=True)
    x = torch.randn(batch, *input_shape)
    y = torch.randint(0, 1000, (batch,))
    for _ in range(warmup):
        step_seconds(tv, x, y), step_seconds(g, x, y)
    t_tv, t_g = [], []
    for r in range(rounds):
        if r % 2:
            t_g.append(step_seconds(g, x, y)), t_tv.append(step_seconds(tv, x, y))
        else:
            t_tv.append(step_seconds(tv, x, y)), t_g.append(step_seconds(g, x, y))
    ratios = [a / b for a, b in zip(t_g, t_tv)]
    return {"net": name, "input": list(input_shape), "batch": batch, "rounds": rounds,
            "torchvision_ms": round(min(t_tv) * 1e3, 2), "genome_ms": round(min(t_g) * 1e3, 2),
            "ratio_best": round(min(t_g) / min(t_tv), 3),
            "ratio_median": round(statistics.median(ratios), 3),
            "torchvision_median_ms": round(statistics.median(t_tv) * 1e3, 2),
            "genome_median_ms": round(statistics.median(t_g) * 1e3, 2)}


def to_markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# Zoo speed parity: genome-built vs torchvision (CPU, forward + backward)", "",
             f"torch {meta['torch']}, {meta['threads']} threads, {meta['machine']}, "
             f"{rows[0]['rounds'] if rows else 0} interleaved rounds per net. Times are the "
             "fastest step (median in brackets); ratio = genome / torchvision, goal ≤ 1.03: "
             "best = fastest vs fastest, median = median of per-round ratios.", "",
             "| net | input | batch | torchvision ms | genome ms | ratio best | ratio median |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['net']} | {'×'.join(map(str, r['input']))} | {r['batch']} | "
                     f"{r['torchvision_ms']} ({r['torchvision_median_ms']}) | "
                     f"{r['genome_ms']} ({r['genome_median_ms']}) | {r['ratio_best']} | "
                     f"{r['ratio_median']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nets", default=",".join(PLAN), help="comma-separated subset of "
                   + ", ".join(PLAN))
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args(argv)
    names = [n for n in args.nets.split(",") if n]
    unknown = [n for n in names if n not in PLAN]
    if unknown:
        p.error(f"unknown net(s) {', '.join(unknown)}; choose from {', '.join(PLAN)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}
    rows = []
    for name in names:
        inp, batch = PLAN[name]
        rows.append(measure(name, inp, batch, args.rounds))
        r = rows[-1]
        print(f"{name:14s} torchvision {r['torchvision_ms']:8.1f} ms  genome "
              f"{r['genome_ms']:8.1f} ms  ratio best {r['ratio_best']:.3f}  median "
              f"{r['ratio_median']:.3f}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "zoo_parity.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=1))
    (out / "zoo_parity.md").write_text(to_markdown(rows, meta))
    print(f"wrote {out / 'zoo_parity.json'} and {out / 'zoo_parity.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
