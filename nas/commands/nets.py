"""``nas nets``: the classic networks shipped as genomes, with params and FLOPs."""
from __future__ import annotations

from nas.commands._common import human, print_json
from nas.cost import cost

ORDER = 20


def add_parser(sub) -> None:
    p = sub.add_parser("nets", help="list the classic networks shipped as genomes",
                       description="Every classic net shipped as a genome, with its parameters "
                       "and FLOPs (multiply-adds, the lectures' convention) at its default "
                       "input, and what `nas reproduce` checks it against.")
    p.add_argument("pattern", nargs="?", default="*", help="glob filter, e.g. 'resnet*'")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def rows(pattern: str = "*") -> list[dict]:
    from search_spaces import NETS
    from search_spaces.reference import reference_kind
    out = []
    for name in NETS.names(pattern):
        factory = NETS.get(name)
        g = factory()
        report = cost(g)
        doc = (factory.__doc__ or "").strip().split("\n")[0]
        out.append({"name": name, "input": list(g.input), "num_classes": g.num_classes,
                    "params": report.params, "flops": report.flops, "macs": report.macs,
                    "reference": reference_kind(name) or "none", "doc": doc})
    return out


def run(args) -> int:
    from nas.errors import NasError
    table = rows(args.pattern)
    if not table:
        raise NasError(f"no classic net matches {args.pattern!r} (see `nas nets`)")
    if args.json:
        print_json(table)
        return 0
    from rich.console import Console
    from rich.table import Table
    t = Table(title=f"{len(table)} classic nets", caption="FLOPs = multiply-adds (1 FLOP = "
              "1 MAC) of conv/linear layers plus pooling, at the default input; reference = "
              "what `nas reproduce NAME` compares against", caption_justify="left")
    for col, just in (("name", "left"), ("input", "right"), ("classes", "right"),
                      ("params", "right"), ("FLOPs", "right"), ("reference", "left")):
        t.add_column(col, justify=just)
    for r in table:
        t.add_row(r["name"], "×".join(map(str, r["input"])), str(r["num_classes"]),
                  f"{r['params']:,}", human(r["flops"]), r["reference"])
    Console(width=max(100, Console().width)).print(t)
    return 0
