"""``nas show NAME|FILE``: the per-layer cost table (output, memory, params, FLOPs)."""
from __future__ import annotations

from nas.commands._common import add_genome_args, genome_from_args, print_json
from nas.cost import FOOTER, cost

MAX_ROWS = 400           # rows of the terminal table (the first and last halves)
ORDER = 10
_HIDDEN = {"act", "reg"}


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="per-layer cost table of a genome",
                       description="Per-layer output C×H×W, activation memory, parameters and "
                       "FLOPs (multiply-adds) computed from the genome alone, with totals.")
    add_genome_args(p)
    p.add_argument("--all", action="store_true", help="also list activation/dropout rows")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--dot", metavar="FILE", help="also write the graph as Graphviz DOT")
    p.add_argument("--draw", metavar="PNG", help="also draw the network into a PNG: its cells "
                   "as the papers draw them where a space describes them (NASNet), else the "
                   "op graph of its distinct blocks")
    p.add_argument("--detail", action="store_true", help="--draw the op graph of every "
                   "distinct block (primitive ops) even for a cell space")
    p.set_defaults(func=run)


def write_pictures(g, dot: str | None, png: str | None, detail: bool = False) -> list[str]:
    """Write the DOT text and/or the drawing of ``g``; returns what was written."""
    from pathlib import Path
    from nas.draw import draw, to_dot
    from nas.errors import NasError
    out = []
    for target in (dot, png):
        if target and not Path(target).resolve().parent.is_dir():
            raise NasError(f"cannot write {target!r}: its directory does not exist")
    if dot:
        Path(dot).write_text(to_dot(g))
        out.append(dot)
    if png:
        cells = None
        if not detail:
            from nas.experiment import cell_diagrams
            cells = cell_diagrams(g)
        draw(g, png, cells=cells, detail=detail)
        out.append(png)
    return out


def run(args) -> int:
    g = genome_from_args(args)
    report = cost(g)
    written = write_pictures(g, args.dot, args.draw, args.detail)
    if args.json:
        d = report.to_dict()
        d["hash"] = g.hash
        print_json(d)
        return 0
    from rich.console import Console
    from rich.table import Table
    from nas.ops import OPS
    t = Table(title=f"{g.name}  input {'×'.join(map(str, g.input))}  classes {g.num_classes}",
              caption=FOOTER, caption_justify="left")
    for col, just in (("layer", "left"), ("op", "left"), ("output C×H×W", "right"),
                      ("memory KB", "right"), ("params", "right"), ("MFLOP", "right")):
        t.add_column(col, justify=just)
    rows = [layer for layer in report.layers
            if args.all or OPS.get(layer.op).category not in _HIDDEN]
    # a terminal table of tens of thousands of rows helps nobody (and rich needs minutes):
    # the first and last rows, the rest counted; --json has every layer
    cut = len(rows) > MAX_ROWS
    for k, layer in enumerate(rows[:MAX_ROWS // 2] + rows[-MAX_ROWS // 2:] if cut else rows):
        if cut and k == MAX_ROWS // 2:
            t.add_row(f"… {len(rows) - MAX_ROWS:,} more layers (--json lists all)", "", "", "",
                      "", "")
        t.add_row(layer.name, layer.op, "×".join(map(str, layer.out)), f"{layer.memory_kb:,.0f}",
                  f"{layer.params:,}", f"{layer.flops / 1e6:,.1f}")
    t.add_section()
    t.add_row("total", "", "", f"{report.memory_kb:,.0f}", f"{report.params:,}",
              f"{report.flops / 1e6:,.1f}")
    Console(width=max(100, Console().width)).print(t)
    print(f"hash {g.hash}   conv/linear multiply-adds {report.macs:,}   "
          f"elementwise ops {report.elementwise:,}")
    for w in written:
        print(f"wrote {w}")
    return 0
