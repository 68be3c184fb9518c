"""``nas sample --space S``: random points of a space — assignment, hash, parameters, FLOPs."""
from __future__ import annotations

import random
from pathlib import Path

from nas.commands._common import print_json
from nas.commands.spaces import add_space_option, space_from_args

ORDER = 32


def add_parser(sub) -> None:
    p = sub.add_parser("sample", help="sample random genomes from a search space",
                       description="Draw random assignments from a space (each decision "
                       "uniformly), decode them and print the assignment, the genome hash, "
                       "parameters and FLOPs (multiply-adds) of each.")
    p.add_argument("--space", required=True, metavar="S", help="a space name (see `nas spaces`)")
    p.add_argument("--n", type=int, default=5, metavar="N", help="how many samples (default 5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_space_option(p)
    p.add_argument("--save", metavar="DIR", help="also write each genome to DIR/<hash>.json")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def samples(space, n: int, seed: int) -> list[dict]:
    from nas.cost import cost
    rng = random.Random(seed)
    out = []
    for k in range(n):
        a = space.sample(rng)
        g = space.decode(a)
        report = cost(g)
        out.append({"index": k, "hash": g.hash, "params": report.params, "flops": report.flops,
                    "macs": report.macs, "assignment": a, "genome": g})
    return out


def run(args) -> int:
    from nas.errors import NasError
    if args.n < 1:
        raise NasError(f"--n must be ≥ 1, got {args.n}")
    space = space_from_args(args.space, args.option)
    rows = samples(space, args.n, args.seed)
    if args.save:
        d = Path(args.save)
        d.mkdir(parents=True, exist_ok=True)
        for r in rows:
            r["file"] = str(r["genome"].save(d / f"{r['hash']}.json"))
    if args.json:
        print_json([{k: v for k, v in r.items() if k != "genome"} for r in rows])
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    t = Table(title=f"{len(rows)} samples of {space.name} (seed {args.seed}; "
              f"input {'×'.join(map(str, space.decode(rows[0]['assignment']).input))})",
              caption="FLOPs = multiply-adds (1 FLOP = 1 MAC) of conv/linear plus pooling",
              caption_justify="left", show_lines=True)
    for col, just in (("#", "right"), ("hash", "left"), ("params", "right"), ("MFLOPs", "right"),
                      ("assignment", "left")):
        t.add_column(col, justify=just, overflow="fold")
    for r in rows:
        t.add_row(str(r["index"]), r["hash"][:12], f"{r['params']:,}", f"{r['flops'] / 1e6:,.2f}",
                  escape("  ".join(f"{k}={v}" for k, v in r["assignment"].items())))
    Console(width=max(120, Console().width)).print(t)
    return 0
