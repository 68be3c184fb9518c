"""Pictures of a genome: Graphviz DOT text and matplotlib drawings.

``to_dot`` clusters nodes by block (one use of a cell). ``draw`` has two pictures:

* the **cells** as the papers draw them (:func:`draw_cell`, Zoph et al. 2018 fig. 4): hidden
  states → each block's two ops → add/concat → the concat of the output states; one small panel
  per cell type. Used when the genome's space can describe its cells
  (:meth:`nas.space.SearchSpace.cell_diagrams`; the caller passes them in);
* the **op graph** (``detail=True``, or no cell description): each *distinct* block (by hash: a
  ResNet stage of identical blocks is drawn once) as a layered DAG of primitive ops.
"""
from __future__ import annotations

from pathlib import Path

import networkx as nx

from nas.genome import Genome, LNode
from nas.hashing import block_digraph, block_hash
from nas.space import CellDiagram

_SHORT = {"kernel": "k", "stride": "s", "out_ch": "c", "groups": "g", "dilation": "d",
          "squeeze_ch": "se", "padding": "p"}
_COLORS = {"conv": "#8ecae6", "linear": "#90be6d", "pool": "#ffb703", "norm": "#dddddd",
           "act": "#f4f4f4", "merge": "#e76f51", "shape": "#cdb4db", "reg": "#f4f4f4",
           "other": "#f9c74f", "input": "#ffffff"}


def node_text(n: LNode) -> str:
    parts = []
    for k, v in n.args.items():
        if k in _SHORT and v not in (None, (1, 1), 1) and not (k == "padding"):
            v = v[0] if isinstance(v, tuple) and len(set(v)) == 1 else v
            v = "×".join(map(str, v)) if isinstance(v, tuple) else v
            parts.append(f"{_SHORT[k]}{v}")
    return n.op + (" " + " ".join(parts) if parts else "")


def _category(op: str) -> str:
    from nas.ops import OPS
    return "input" if op == "input" else OPS.get(op).category


def to_dot(genome: Genome) -> str:
    """Graphviz DOT of the whole network, one cluster per block."""
    g = genome.graph
    lines = [f'digraph "{genome.name}" {{', "  rankdir=TB; node [shape=box, style=filled, "
             'fontname="Helvetica", fontsize=10];']
    shape = lambda s: "×".join(map(str, s))  # noqa: E731
    lines.append(f'  n0 [label="input\\n{shape(g.nodes[0].shape)}", fillcolor="white"];')
    for b, blk in enumerate(g.blocks):
        lines.append(f'  subgraph cluster_{b} {{ label="{blk.path or "block " + str(b)}"; '
                     'style=rounded; color="#999999";')
        for n in g.nodes:
            if n.block == b:
                lines.append(f'    n{n.index} [label="{n.path.rsplit(".", 1)[-1]}: '
                             f'{node_text(n)}\\n{shape(n.shape)}", '
                             f'fillcolor="{_COLORS[_category(n.op)]}"];')
        lines.append("  }")
    for n in g.nodes[1:]:
        for i in n.inputs:
            lines.append(f"  n{i} -> n{n.index};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _layers(dg: nx.DiGraph) -> dict:
    """Layered layout: rows by topological generation (inputs at the bottom), each row ordered
    by the mean x of its predecessors (one barycentre pass) to avoid crossings."""
    pos: dict = {}
    for depth, layer in enumerate(nx.topological_generations(dg)):
        def bary(v):
            xs = [pos[p][0] for p in dg.predecessors(v) if p in pos]
            return sum(xs) / len(xs) if xs else 0.0
        layer = sorted(layer, key=lambda v: (bary(v), str(v)))
        for k, v in enumerate(layer):
            pos[v] = (k - (len(layer) - 1) / 2, float(depth))
    return pos


def draw(genome: Genome, path: str | Path, max_cells: int = 4,
         cells: "tuple[CellDiagram, ...] | None" = None, detail: bool = False) -> Path:
    """PNG drawing of ``genome``: its ``cells`` (one panel per cell type, stacked) when given
    and not ``detail``, else the op graph of its distinct blocks (at most ``max_cells``)."""
    if cells and not detail:
        return draw_cells(cells, path, f"{genome.name}  ({genome.hash[:12]})")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = genome.graph
    seen: dict[str, int] = {}
    for b in range(len(g.blocks)):
        h = block_hash(g, b)
        if h is not None and h not in seen and sum(1 for n in g.nodes if n.block == b) > 1:
            seen[h] = b
    picks = list(seen.values())
    # prefer the blocks with the most structure (cells over stems/heads)
    picks = sorted(picks, key=lambda b: -sum(1 for n in g.nodes if n.block == b))[:max_cells]
    picks.sort()
    if not picks:
        picks = [0]
    graphs = {b: block_digraph(g, b) for b in picks}
    layouts = {b: _layers(dg) for b, dg in graphs.items()}
    depth = max(max(y for _, y in pos.values()) + 1 for pos in layouts.values())
    width = max(max(sum(1 for _, y in pos.values() if y == row)
                    for row in {y for _, y in pos.values()}) for pos in layouts.values())
    # the figure grows with the cells so boxes keep their size and never overlap
    fig, axes = plt.subplots(1, len(picks), figsize=(max(3.5, 1.45 * width) * len(picks),
                                                    max(5.0, 0.85 * depth + 1.2)), squeeze=False)
    by_index = {n.index: n for n in g.nodes}
    for ax, b in zip(axes[0], picks):
        dg, pos = graphs[b], layouts[b]
        labels, colors = {}, []
        for v in dg.nodes:
            if isinstance(v, tuple):
                labels[v] = f"in{v[1]}"
                colors.append("#ffffff")
            else:
                n = by_index[v]
                labels[v] = node_text(n) + "\n" + "×".join(map(str, n.shape))
                colors.append(_COLORS[_category(n.op)])
        nx.draw_networkx_edges(dg, pos, ax=ax, arrows=True, arrowsize=10, edge_color="#555555",
                               node_size=1600)
        nx.draw_networkx_nodes(dg, pos, ax=ax, node_color=colors, node_size=1600,
                               node_shape="s", edgecolors="#333333")
        nx.draw_networkx_labels(dg, pos, labels, ax=ax, font_size=6.5)
        blk = g.blocks[b]
        ax.set_title(f"{blk.path or 'block ' + str(b)}" + (f" (cell {blk.cell})" if blk.cell else ""),
                     fontsize=9)
        ax.axis("off")
    named = [f"{s.name}×{s.repeat}" for s in genome.stages if s.name]
    stages = " → ".join(named) if named else f"{len(g.blocks)} blocks"
    fig.suptitle(f"{genome.name}  ({genome.hash[:12]})\n{stages}", fontsize=9)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


# ============================================================================ cells, as in papers

_OP_COLORS = (("identity", "#e9e9e9"), ("pool", "#ffd166"), ("sep", "#9ad1f5"),
              ("conv", "#b5e48c"))


def _op_label(op: str) -> str:
    """``sep_conv5x5`` -> ``sep 5×5``; ``avg_pool3x3`` -> ``avg 3×3``; ``conv1x7_7x1`` ->
    ``conv 1×7+7×1``: short names as the papers print them (generic, not per space)."""
    import re
    text = op.replace("_conv", " ").replace("_pool", " ").replace("conv", "conv ")
    text = re.sub(r"(\d+)x(\d+)", r"\1×\2", text).replace("_", " ")
    text = re.sub(r"(\d×\d) (\d×\d)", r"\1+\2", text)
    return " ".join(text.split())


def _op_color(op: str) -> str:
    return next((c for key, c in _OP_COLORS if key in op), "#f9c74f")


def _levels(d: CellDiagram) -> dict[str, int]:
    """Depth of each state: cell inputs 0, a block 1 + the deepest state it reads."""
    lv = {s: 0 for s in d.inputs}
    for k, b in enumerate(d.blocks):
        lv[f"block{k}"] = 1 + max(lv[s] for s in b.inputs)
    return lv


def _cell_layout(d: CellDiagram):
    """Positions (x, y) of inputs, op boxes, combine nodes and the output: a block's two ops
    side by side in its own column pair, on the row above the deepest state it reads."""
    lv = _levels(d)
    n = len(d.blocks)
    width = 2 * n
    pos = {}
    for j, s in enumerate(d.inputs):             # h[i-2] left, h[i-1] right (as in the paper)
        pos[s] = (width * (len(d.inputs) - j) / (len(d.inputs) + 1) - 0.5, 0.0)
    for k in range(n):
        row = 2 * lv[f"block{k}"] - 1
        pos[("op", k, 0)] = (2 * k, float(row))
        pos[("op", k, 1)] = (2 * k + 1, float(row))
        pos[f"block{k}"] = (2 * k + 0.5, float(row + 1))
    top = max(y for _, y in pos.values()) + 1.2
    pos["out"] = ((width - 1) / 2, top)
    return pos


def _draw_cell(ax, d: CellDiagram, title: str | None = None) -> None:
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    pos = _cell_layout(d)
    boxes = {}

    def box(key, text, color, w=0.9, h=0.42, bold=False, rounded=0.08):
        x, y = pos[key]
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                    boxstyle=f"round,pad=0,rounding_size={rounded}",
                                    fc=color, ec="#333333", lw=0.9, zorder=2))
        if len(text) > 10 and " " in text and not bold:     # two lines, not wider
            text = text.replace(" ", "\n", 1)
        ax.text(x, y, text, ha="center", va="center", fontsize=8.5, zorder=3,
                fontweight="bold" if bold else "normal")
        boxes[key] = (w, h)

    def arrow(a, b, color="#555555", rad=0.0):
        (xa, ya), (xb, yb) = pos[a], pos[b]
        ha, hb = boxes[a][1] / 2, boxes[b][1] / 2
        ax.add_patch(FancyArrowPatch((xa, ya + ha), (xb, yb - hb), arrowstyle="-|>",
                                     mutation_scale=9, color=color, lw=0.8,
                                     connectionstyle=f"arc3,rad={rad}", zorder=1,
                                     shrinkA=0, shrinkB=1))

    for s in d.inputs:
        box(s, s, "#ffffff", w=1.2, bold=True)
    for k, b in enumerate(d.blocks):
        for side in (0, 1):
            box(("op", k, side), _op_label(b.ops[side]), _op_color(b.ops[side]))
        box(f"block{k}", f"{b.combine}\nblock {k}", "#f4a261" if b.combine == "add"
            else "#e76f51", w=0.8, h=0.5, rounded=0.2)
    box("out", "concat  →  h[i]", "#cdb4db", w=max(1.8, 0.35 * len(d.output) + 1.0),
        bold=True)
    for k, b in enumerate(d.blocks):
        for side in (0, 1):
            src = b.inputs[side]
            far = pos[("op", k, side)][1] - pos[src][1] > 1.5     # skips rows: bend it
            arrow(src, ("op", k, side), "#777777" if src in d.inputs else "#c1121f",
                  rad=0.12 if far else 0.0)
            arrow(("op", k, side), f"block{k}")
    for s in d.output:
        arrow(s, "out", "#6a4c93", rad=0.08 if pos["out"][1] - pos[s][1] > 1.5 else 0.0)
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_aspect("auto")
    ax.axis("off")
    head = title or f"{d.name} cell"
    ax.set_title(head + (f"  ({d.note})" if d.note else ""), fontsize=10)


def _cell_size(d: CellDiagram) -> tuple[float, float]:
    rows = max(_levels(d).values()) * 2 + 1.2
    return max(5.0, 1.0 * len(d.blocks) * 2 * 0.75 + 0.8), 0.85 * rows + 0.9


def draw_cell(d: CellDiagram, path: str | Path, title: str | None = None,
              dpi: int = 100) -> Path:
    """One cell (:class:`~nas.space.CellDiagram`) as the papers draw it, into a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=_cell_size(d))
    _draw_cell(ax, d, title)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def draw_cells(cells, path: str | Path, title: str = "", dpi: int = 100) -> Path:
    """Every cell type of a network, one panel each (stacked), into one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = [_cell_size(d) for d in cells]
    fig, axes = plt.subplots(len(cells), 1, squeeze=False,
                             figsize=(max(w for w, _ in sizes), sum(h for _, h in sizes) + 0.4),
                             gridspec_kw={"height_ratios": [h for _, h in sizes]})
    for ax, d in zip(axes[:, 0], cells):
        _draw_cell(ax, d)
    height = sum(h for _, h in sizes) + 0.4
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / height) if title else None)
    out = Path(path)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
