"""Pictures of a genome: Graphviz DOT text and a matplotlib drawing of its distinct cells.

``to_dot`` clusters nodes by block (one use of a cell); ``draw`` renders each *distinct* block
(by hash: a ResNet stage of identical blocks is drawn once) as a layered DAG, with the network's
stage sequence as the title, into a PNG.
"""
from __future__ import annotations

from pathlib import Path

import networkx as nx

from nas.genome import Genome, LNode
from nas.hashing import block_digraph, block_hash

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


def draw(genome: Genome, path: str | Path, max_cells: int = 4) -> Path:
    """PNG drawing of the distinct blocks of ``genome`` (at most ``max_cells``)."""
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
