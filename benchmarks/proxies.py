"""How far to trust a zero-cost proxy: rank correlation with the tabular benchmark's accuracies.

    python benchmarks/proxies.py [--table exhaustive-digits] [--workers 2] [--limit N]

Every network of the table is scored by every proxy of :mod:`evaluators.proxies` (seed 0, one
batch of 64 training images, CPU, one thread per worker) — the values are kept in
``benchmarks/results/proxies-scores.jsonl.gz`` so a re-run continues where it stopped — then,
for each proxy and the ``params``/``flops`` baselines and a ``vote`` (rank average of synflow,
jacob_cov and snip, as Abdelfattah et al.), Spearman ρ and Kendall τ with the table's final
validation and test accuracy (mean over seeds) over all networks and within the top 10% by
validation accuracy, and the median CPU cost per network. Writes
``benchmarks/results/proxies.json`` (per proxy ``{"spearman", "kendall", "ms", …}``) and
``proxies.png``.

Any other table (e.g. a sampled one, ``nas table build --space nasnet-cell --sample 200``) is
scored the same way into ``proxies-NAME.json``, ``proxies-NAME.png`` and
``proxies-scores-NAME.jsonl.gz``: a proxy that only works on one space should say so.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "benchmarks" / "results"
PUBLISHED = {  # NAS-Bench-201 CIFAR-10, Spearman ρ (Abdelfattah et al. 2021; White et al. 2022)
    "synflow": 0.74, "jacob_cov": 0.73, "snip": 0.60, "grad_norm": 0.59, "fisher": 0.36,
    "naswot": None, "params": 0.74, "flops": 0.71, "vote": 0.82}
_CTX: dict = {}


def _init(table_ref: str) -> None:
    import torch
    torch.set_num_threads(1)
    from evaluators.table import load_table
    from nas.config import SearchConfig
    from nas.experiment import load_data
    from search_spaces import get_space
    t = load_table(table_ref)
    h = t.header
    _CTX["space"] = get_space(h["space"], h.get("space_options") or {})
    _CTX["data"] = load_data(SearchConfig().replace(dataset=h["dataset"]))


def _score_one(item: tuple[str, dict]) -> dict:
    from evaluators.proxies import PROXIES, score
    from evaluators.train import fit_to_data
    from nas.errors import NasError
    h, a = item
    g = fit_to_data(_CTX["space"].decode(a), _CTX["data"])
    assert g.hash == h, f"{a} decodes to {g.hash}, the table says {h}"
    out = {"hash": h}
    try:                                   # one network build for every proxy
        out.update(score(g, _CTX["data"], PROXIES.names(), seed=0))
    except NasError:                       # a proxy was not finite: each on its own
        for name in PROXIES.names():
            try:
                out[name] = score(g, _CTX["data"], [name], seed=0)[name]
            except NasError as e:
                out[name] = {"value": None, "error": str(e)}
    return out


def correlations(x: list, acc: list) -> dict:
    from scipy.stats import kendalltau, spearmanr
    keep = [(a, b) for a, b in zip(x, acc) if a is not None]
    if len(keep) < 3:
        return {"spearman": None, "kendall": None, "n": len(keep)}
    xs, ys = zip(*keep)
    return {"spearman": round(float(spearmanr(xs, ys)[0]), 4),
            "kendall": round(float(kendalltau(xs, ys)[0]), 4), "n": len(keep)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", default="exhaustive-digits")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, help="only the first N networks (a quick look)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    from evaluators.proxies import PROXIES, VOTE_DEFAULT
    from evaluators.table import load_table
    table = load_table(args.table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "" if table.name == "exhaustive-digits" else f"-{table.name}"
    cache = out / f"proxies-scores{tag}.jsonl.gz"
    done: dict[str, dict] = {}
    if cache.is_file():
        with gzip.open(cache, "rt") as f:
            for line in f:
                d = json.loads(line)
                done[d["hash"]] = d
    todo = [(h, r["assignment"]) for h, r in sorted(table.rows.items()) if h not in done]
    if args.limit:
        todo = todo[: max(0, args.limit - len(done))]
    t0 = time.time()
    if todo:
        with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(args.table,)) as ex, \
                gzip.open(cache, "at") as f:
            for k, d in enumerate(ex.map(_score_one, todo, chunksize=8), start=1):
                done[d["hash"]] = d
                f.write(json.dumps(d) + "\n")
                if k % 200 == 0:
                    f.flush()
                    print(f"{len(done)}/{len(table.rows)} networks scored "
                          f"({time.time() - t0:.0f} s)", flush=True)
    hashes = [h for h in sorted(table.rows) if h in done]
    val = [table.final(h) for h in hashes]
    test = [table.final(h, "test") for h in hashes]
    top = set(sorted(hashes, key=table.final, reverse=True)[: max(3, len(hashes) // 10)])
    names = list(PROXIES.names())
    values = {n: [done[h][n]["value"] for h in hashes] for n in names}
    ranks = {}
    for n in VOTE_DEFAULT:
        v = np.array([np.nan if x is None else x for x in values[n]], dtype=float)
        order = np.argsort(np.argsort(np.nan_to_num(v, nan=-np.inf)))
        ranks[n] = order / max(1, len(v) - 1)
    values["vote"] = [float(np.mean([ranks[n][i] for n in VOTE_DEFAULT]))
                      for i in range(len(hashes))]
    results = {}
    for n in [*names, "vote"]:
        idx_top = [i for i, h in enumerate(hashes) if h in top]
        ms = [done[h][n].get("ms") for h in hashes if n in done[h] and done[h][n].get("ms")]
        results[n] = {
            **correlations(values[n], val),
            "test": correlations(values[n], test),
            "top10": correlations([values[n][i] for i in idx_top], [val[i] for i in idx_top]),
            "ms": round(statistics.median(ms), 2) if ms else (
                round(sum(results[m]["ms"] for m in VOTE_DEFAULT), 2) if n == "vote" else None),
            "failed": sum(v is None for v in values[n]),
            "published_spearman_nb201": PUBLISHED.get(n)}
    best = max((n for n in results if n not in ("params", "flops")),
               key=lambda n: results[n]["spearman"] or -1)
    report = {"benchmark": "proxies", "table": table.name, "networks": len(hashes),
              "seed": 0, "batch": 64, "results": results, "best_proxy": best,
              "goal": "a proxy or vote ≥ params' Spearman ρ + 0.05",
              "goal_met": (results[best]["spearman"] or -1) >=
              (results["params"]["spearman"] or 0) + 0.05,
              "score_seconds": round(time.time() - t0, 1),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_avg_1m": round(os.getloadavg()[0], 2)}}
    (out / f"proxies{tag}.json").write_text(json.dumps(report, indent=1))
    _plot(results, out / f"proxies{tag}.png", table.name, len(hashes))
    print(f"{'proxy':<10} {'rho':>7} {'tau':>7} {'rho test':>9} {'rho top10%':>11} {'ms':>7}")
    for n, r in results.items():
        print(f"{n:<10} {r['spearman']!s:>7} {r['kendall']!s:>7} {r['test']['spearman']!s:>9} "
              f"{r['top10']['spearman']!s:>11} {r['ms']!s:>7}")
    print(f"best proxy {best}; goal (≥ params + 0.05): "
          f"{'met' if report['goal_met'] else 'not met'}")
    return 0


def _plot(results: dict, path: Path, name: str, n: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = list(results)
    fig, ax = plt.subplots(figsize=(7.2, 4.0))
    x = np.arange(len(labels))
    ours = [results[k]["spearman"] or 0 for k in labels]
    top = [results[k]["top10"]["spearman"] or 0 for k in labels]
    pub = [results[k]["published_spearman_nb201"] or 0 for k in labels]
    ax.bar(x - 0.27, ours, 0.27, label=f"ρ, all {n} networks ({name})")
    ax.bar(x, top, 0.27, label="ρ, top 10%")
    ax.bar(x + 0.27, pub, 0.27, label="ρ published, NAS-Bench-201 CIFAR-10", alpha=0.6)
    ax.set_xticks(x, labels, rotation=30)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_ylabel("Spearman ρ with final validation accuracy")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
