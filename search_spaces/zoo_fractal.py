"""FractalNet (Larsson, Maire & Shakhnarovich, "FractalNet: Ultra-Deep Neural Networks without
Residuals", ICLR 2017) as a genome.

One fractal block is one cell, written out from the expansion rule f₁(z) = conv(z),
f_{C+1}(z) = join(f_C(f_C(z)), conv(z)) in its iterative form: column c (1 = shallowest) is a
chain of 2^(c−1) conv units, and at every depth where two or more columns end a unit, a
``join`` (element-wise mean) merges them and feeds all of them. A block ends with its last
join and a 2×2 max-pool (the paper's "pooling between blocks", after every block on CIFAR, so
32×32 becomes 1×1 after B=5 blocks), and the network ends in one fully connected layer.

Drop-path is part of the genome: every join drops each input with probability ``p_local``
(0.15 in the paper; at least one kept) and a ``drop_trigger`` per block marks half the
training batches ``global`` (one column, the same in every join of the block, is kept).
Both are training-time only; in eval mode a join is the mean of all its inputs.
"""
from __future__ import annotations

from typing import Sequence

from nas.genome import Cell, Genome, Node, Stage
from search_spaces.registry import NETS

CIFAR = (3, 32, 32)


def fractal_block(columns: int, *, p_local: float = 0.15, p_global: float = 0.5) -> Cell:
    """The fractal block with ``columns`` columns (depth 2^(columns−1) convs). Conv units are
    3×3 conv (stage width ``C``) → dropout (stage arg ``drop``, absent when 0) → BN → ReLU,
    named ``col{c}.{j}.conv`` …; joins ``join{d}`` (d: depth in units of the deepest column);
    then ``pool``."""
    if columns < 1:
        raise ValueError(f"a fractal block needs at least one column, got {columns}")
    depth = 2 ** (columns - 1)
    nodes: list[Node] = []
    if columns > 1:
        nodes.append(Node("trigger", "drop_trigger", ("x",), {"p": p_global, "columns": columns}))
    src = {c: "x" for c in range(1, columns + 1)}
    for d in range(1, depth + 1):
        ending = [c for c in range(columns, 0, -1) if d % 2 ** (columns - c) == 0]
        outs = []
        for c in ending:
            p = f"col{c}.{d // 2 ** (columns - c) - 1}"
            nodes += [Node(f"{p}.conv", "conv", (src[c],), {"out_ch": "C", "kernel": 3}),
                      Node(f"{p}.dropout", "dropout", (), {"p": "drop"}, when="drop > 0"),
                      Node(f"{p}.bn", "bn"), Node(f"{p}.relu", "relu")]
            outs.append(f"{p}.relu")
        if len(outs) == 1:
            src[ending[0]] = outs[0]
            continue
        nodes.append(Node(f"join{d}", "join", (*outs, "trigger"),
                          {"p": p_local, "cols": tuple(ending)}))
        for c in ending:
            src[c] = f"join{d}"
    last = src[1]
    nodes.append(Node("pool", "maxpool", (last,), {"kernel": 2, "stride": 2}))
    return Cell(tuple(nodes))


def fractalnet(name: str, *, columns: int = 3, widths: Sequence[int] = (64, 128, 256, 512, 512),
               dropout: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4), p_local: float = 0.15,
               p_global: float = 0.5, num_classes: int = 10, input: tuple = CIFAR) -> Genome:
    """FractalNet with ``len(widths)`` blocks of ``columns`` columns (B·2^(C−1) conv layers on
    the deepest path), block b at ``widths[b]`` filters with dropout ``dropout[b]`` (the
    paper's "drop-path + dropout" setting: 0, 0.1, 0.2, 0.3, 0.4), then a linear classifier."""
    if len(dropout) != len(widths):
        raise ValueError("one dropout rate per block")
    stages = [Stage(f"block{b + 1}", "fractal", out_ch=w, args={"drop": float(p)},
                    block_name="")
              for b, (w, p) in enumerate(zip(widths, dropout))]
    stages.append(Stage("", Cell((Node("flatten", "flatten"),
                                  Node("fc", "linear", args={"out_ch": "K"}))), block_name=""))
    return Genome(name, tuple(stages),
                  cells={"fractal": fractal_block(columns, p_local=p_local, p_global=p_global)},
                  input=tuple(input), num_classes=num_classes)


@NETS.register("fractalnet20")
def fractalnet20(*, num_classes: int = 10, input: tuple = CIFAR) -> Genome:
    """FractalNet, 20 layers (Larsson et al., ICLR 2017, §4 and Table 1): B=5 blocks of C=3
    columns, 64-128-256-512-512 filters, 2×2 max-pool after each block, local drop-path 0.15,
    global drop-path on half the batches, dropout 0-0.1-0.2-0.3-0.4 per block."""
    return fractalnet("fractalnet20", columns=3, num_classes=num_classes, input=input)
