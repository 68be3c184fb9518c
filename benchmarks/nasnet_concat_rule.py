"""Which output rule should the default ``nasnet-cell`` space use? Measured on digits.

    python benchmarks/nasnet_concat_rule.py [--samples 8] [--epochs 4] [--seeds 2]

The paper's rule (``concat=unused``: only states no block reads are concatenated) against
``concat=choice`` (a yes/no decision per readable state; NASNet-A, AmoebaNet-A and PNASNet-5
need it; ENAS's cells follow the paper's rule). For each rule: parameters and conv/linear multiply-adds of 300 random networks at the
digits preset (N=1, the searches' ``configs/digits-quick.yaml``), and the validation accuracy
of ``--samples`` random networks and of the three published cells trained under the
digits-quick recipe (``--epochs`` epochs, ``--seeds`` seeds). Under ``concat=unused`` the
published cells are projected by the paper's rule (read states not concatenated). Writes
benchmarks/results/nasnet_concat_rule.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics as st
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nas import cost  # noqa: E402
from nas.config import Budget, Recipe  # noqa: E402
from search_spaces import get_space  # noqa: E402
from search_spaces.nasnet import CELL_SPECS, CELLS, CellSpec  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "nasnet_concat_rule"))
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    from evaluators.datasets import load_dataset
    from evaluators.train import evaluate
    data = load_dataset("digits", seed=0)
    recipe = Recipe(optimizer="sgd", lr=0.05, weight_decay=5e-4, label_smoothing=0.1,
                    batch_size=64)
    out: dict = {"epochs": args.epochs, "seeds": args.seeds, "rules": {}}
    for rule in ("unused", "choice"):
        sp = get_space("nasnet-cell", {"N": 1, "concat": rule})
        rng = random.Random(0)
        params, macs = [], []
        for _ in range(300):
            r = cost(sp.decode(sp.sample(rng)))
            params.append(r.params)
            macs.append(r.macs)
        q = lambda v: [round(x) for x in st.quantiles(v, n=10)]  # noqa: E731
        row = {"decisions": len(sp.decisions), "size": sp.size(),
               "params": {"median": st.median(params), "p10": q(params)[0], "p90": q(params)[-1]},
               "macs": {"median": st.median(macs), "p10": q(macs)[0], "p90": q(macs)[-1]},
               "trained": {}}
        nets = {}
        rng = random.Random(1)
        for k in range(args.samples):
            nets[f"random{k}"] = sp.decode(sp.sample(rng))
        for name, c in CELL_SPECS.items():
            specs = {kind: CellSpec(c[kind], c[kind + ".concat"] if rule == "choice" else ())
                     for kind in CELLS}
            nets[name] = sp.network(specs, name)
        for name, g in nets.items():
            accs, t0 = [], time.time()
            for seed in range(args.seeds):
                res = evaluate(g, Budget(epochs=args.epochs), data, seed, "cpu", recipe=recipe,
                               threads=1)
                accs.append(res.metrics.get("accuracy", float("nan")))
            row["trained"][name] = {"params": cost(g).params, "accuracy": st.mean(accs),
                                    "accuracies": accs, "seconds": round(time.time() - t0, 1)}
            print(rule, name, row["trained"][name], flush=True)
        out["rules"][rule] = row
    Path(args.out + ".json").write_text(json.dumps(out, indent=1))
    lines = ["| rule | decisions | params median (p10–p90) | MACs median | random nets: mean val. acc "
             f"| {' / '.join(CELL_SPECS)} val. acc |", "|---|---:|---|---:|---:|---|"]
    for rule, row in out["rules"].items():
        t = row["trained"]
        rand = [v["accuracy"] for k, v in t.items() if k.startswith("random")]
        pub = " / ".join(f"{t[n]['accuracy']:.4f}" for n in CELL_SPECS)
        lines.append(f"| {rule} | {row['decisions']} | {row['params']['median']:,.0f} "
                     f"({row['params']['p10']:,}–{row['params']['p90']:,}) | "
                     f"{row['macs']['median']:,.0f} | {st.mean(rand):.4f} | {pub} |")
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
