"""Search-space throughput: how many genomes per second each space samples, decodes (which
validates: shape inference over the whole network) and hashes; how long an encode round trip
and a torch build take per genome.

    python benchmarks/space_throughput.py [--seconds 5] [--builds 10]

Writes benchmarks/results/space_throughput.json and .md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CONFIGS = [  # (space, options, what it is)
    ("nasnet-cell", {}, "default: N=2, F=8, 2 reductions, 1×8×8"),
    ("nasnet-cell", {"preset": "mobile"}, "NASNet-A mobile's network, 3×224×224"),
    ("blocks", {}, "default: 3 stages, 1×8×8"),
    ("blocks", {"preset": "imagenet"}, "7 stages, 3×224×224"),
    ("exhaustive", {}, "default: N=1, C=8, 1×8×8"),
    ("exhaustive", {"preset": "nb201"}, "NAS-Bench-201: N=5, C=16, 3×32×32"),
]


def measure(name: str, options: dict, seconds: float, builds: int, seed: int = 0) -> dict:
    import torch
    from nas import build
    from search_spaces import get_space
    space = get_space(name, options)
    rng = random.Random(seed)
    t_dec = t_hash = 0.0
    n = 0
    genomes = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        g = space.decode(space.sample(rng))  # decode = construct + validate (shape inference)
        t1 = time.perf_counter()
        g.hash
        t2 = time.perf_counter()
        t_dec, t_hash, n = t_dec + t1 - t0, t_hash + t2 - t1, n + 1
        if len(genomes) < builds:
            genomes.append(g)
    t_enc = 0.0
    for g in genomes:
        t0 = time.perf_counter()
        a = space.encode_strict(g)
        assert space.decode(a).hash == g.hash
        t_enc += time.perf_counter() - t0
    t_build = 0.0
    for g in genomes:
        t0 = time.perf_counter()
        build(g)
        t_build += time.perf_counter() - t0
    del torch
    k = max(1, len(genomes))
    return {"space": name, "options": options, "samples": n,
            "genomes_per_s": round(n / (t_dec + t_hash), 1),
            "decode_ms": round(1e3 * t_dec / n, 2), "hash_ms": round(1e3 * t_hash / n, 2),
            "encode_roundtrip_ms": round(1e3 * t_enc / k, 1),
            "build_ms": round(1e3 * t_build / k, 1), "builds": len(genomes)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0, help="sampling time per space")
    p.add_argument("--builds", type=int, default=10, help="genomes encoded and built per space")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"), help="results dir")
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    rows = []
    for name, options, what in CONFIGS:
        r = measure(name, options, args.seconds, args.builds)
        r["what"] = what
        rows.append(r)
        print(f"{name:12s} {json.dumps(options):24s} {r['genomes_per_s']:8.1f} genomes/s  "
              f"decode {r['decode_ms']:7.2f} ms  hash {r['hash_ms']:7.2f} ms  "
              f"encode {r['encode_roundtrip_ms']:7.1f} ms  build {r['build_ms']:7.1f} ms",
              flush=True)
    meta = {"python": platform.python_version(), "torch": torch.__version__,
            "cpus": os.cpu_count(), "torch_threads": 1, "seconds_per_space": args.seconds,
            "load_avg": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "date": time.strftime("%Y-%m-%d %H:%M")}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "space_throughput.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = ["# Search-space throughput", "",
             f"`python benchmarks/space_throughput.py` — {meta['date']}, {meta['cpus']} CPUs "
             f"(load {meta['load_avg']:.1f}), torch {meta['torch']} on 1 thread.", "",
             "genomes/s = sample + decode (construct and validate: shape inference over the "
             "network) + canonical hash; encode = encode + decode + hash check of a sampled "
             "genome; build = `nas.build` to a torch.fx module (parameters initialised).", "",
             "| space | options | network | genomes/s | decode ms | hash ms | encode ms | "
             "build ms |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        opts = ", ".join(f"{k}={v}" for k, v in r["options"].items()) or "defaults"
        lines.append(f"| {r['space']} | {opts} | {r['what']} | {r['genomes_per_s']} | "
                     f"{r['decode_ms']} | {r['hash_ms']} | {r['encode_roundtrip_ms']} | "
                     f"{r['build_ms']} |")
    (out / "space_throughput.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'space_throughput.json'} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
