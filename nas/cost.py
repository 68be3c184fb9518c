"""The cost model: per-layer output shape, activation memory, parameters and FLOPs, from the
genome alone (no forward pass).

Conventions (the lectures'): 1 FLOP = 1 multiply-add. Conv FLOPs = Cout·H'·W'·(Cin/groups)·K·K,
linear = in·out, pooling = output elements · window area, global pooling = input elements.
Batch-norm, activations, add, concat and the like cost 0 FLOPs by this convention; their
element counts are reported separately as ``elementwise``. Memory is the layer's output in KB at
fp32 (4 bytes per element, 1 KB = 1024 bytes).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from nas.genome import Genome
from nas.ops import OPS

FOOTER = ("FLOPs are multiply-adds (1 FLOP = 1 MAC): conv Cout·H'·W'·Cin/g·K², linear in·out, "
          "pooling output·K²; BN/activation/add/concat not counted (see elementwise). "
          "Memory = output activations, fp32, KB = 1024 B.")


@dataclass(frozen=True)
class LayerCost:
    name: str
    op: str
    out: tuple[int, ...]
    memory_kb: float
    params: int
    flops: int  # macs + pooling
    macs: int  # conv/linear multiply-adds only (what FlopCounterMode counts, ÷2)
    elementwise: int


@dataclass(frozen=True)
class CostReport:
    genome: str
    input: tuple[int, ...]
    layers: tuple[LayerCost, ...]

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def flops(self) -> int:
        return sum(layer.flops for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def memory_kb(self) -> float:
        return sum(layer.memory_kb for layer in self.layers)

    @property
    def elementwise(self) -> int:
        return sum(layer.elementwise for layer in self.layers)

    def to_dict(self) -> dict:
        return {
            "genome": self.genome, "input": list(self.input),
            "layers": [{"name": l.name, "op": l.op, "out": list(l.out),
                        "memory_kb": round(l.memory_kb, 3), "params": l.params,
                        "flops": l.flops, "macs": l.macs} for l in self.layers],
            "total": {"params": self.params, "flops": self.flops, "macs": self.macs,
                      "memory_kb": round(self.memory_kb, 3), "elementwise": self.elementwise},
            "convention": FOOTER,
        }


def cost(genome: Genome) -> CostReport:
    """Per-layer and total cost of ``genome`` at its input size."""
    layers = []
    for n in genome.graph.nodes[1:]:
        spec = OPS.get(n.op)
        if n.op == "identity":
            continue
        macs = spec.macs(n.in_shapes, n.shape, n.args)
        pool = spec.pool_flops(n.in_shapes, n.shape, n.args)
        numel = 1
        for d in n.shape:
            numel *= d
        elementwise = numel if spec.category in ("norm", "act", "merge") else 0
        layers.append(LayerCost(n.path, n.op, n.shape, numel * 4 / 1024,
                                spec.n_params(n.in_shapes, n.shape, n.args), macs + pool, macs,
                                elementwise))
    return CostReport(genome.name, genome.input, tuple(layers))
