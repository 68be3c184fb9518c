"""The cost model: per-layer output shape, activation memory, parameters and FLOPs, from the
genome alone (no forward pass).

Conventions (the lectures'): 1 FLOP = 1 multiply-add. Conv FLOPs = Cout·H'·W'·(Cin/groups)·K·K,
linear = in·out, pooling = output elements · window area, global pooling = input elements.
Batch-norm, activations, add, concat and the like cost 0 FLOPs by this convention; their
element counts are reported separately as ``elementwise``. Memory is the layer's output in KB at
fp32 (4 bytes per element, 1 KB = 1024 bytes).

:func:`check_fits` uses the same counts to refuse, before anything is allocated, a network
whose parameters (with their gradients) and activations cannot fit in memory.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import asdict, dataclass

from nas.errors import NasError
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


# =========================================================================== memory check


def _totals(genome: Genome) -> tuple[int, int]:
    """(parameters, activation elements per sample incl. the input), cached on the graph."""
    graph = genome.graph
    hit = graph.__dict__.get("_totals")
    if hit is None:
        params, acts = 0, math.prod(graph.input_shape)
        for n in graph.nodes[1:]:
            if n.op == "identity":
                continue
            params += OPS.get(n.op).n_params(n.in_shapes, n.shape, n.args)
            acts += math.prod(n.shape)
        hit = (params, acts)
        object.__setattr__(graph, "_totals", hit)
    return hit


@functools.lru_cache(maxsize=1)
def machine_memory() -> int | None:
    """Bytes of memory this process may use: physical memory, or a smaller cgroup limit
    (a container); None when unknown."""
    sizes = []
    try:
        sizes.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        pass
    for f in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(f) as fh:
                text = fh.read(64).strip()
        except OSError:
            continue
        if text.isdigit() and int(text) > 0:
            sizes.append(int(text))
    sizes = [v for v in sizes if v > 0]
    return min(sizes) if sizes else None


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1024 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError


def check_fits(genome: Genome, max_bytes: int | None = None, batch: int = 1) -> None:
    """Raise NasError (one line) when the fp32 parameters of ``genome`` with their gradients
    plus its activations for ``batch`` samples need more than ``max_bytes`` (default: this
    machine's memory). Cheap: counts from the lowered graph, computed once per genome."""
    limit = machine_memory() if max_bytes is None else max_bytes
    if limit is None:
        return
    params, acts = _totals(genome)
    p_bytes, a_bytes = 2 * 4 * params, 4 * acts * batch
    if p_bytes + a_bytes > limit:
        where = (f"the limit of {human_bytes(limit)}" if max_bytes is not None else
                 f"the {human_bytes(limit)} of memory of this machine")
        raise NasError(f"{genome.name}: too large to build: {params:,} parameters "
                       f"({human_bytes(p_bytes)} with gradients, fp32) and activations of "
                       f"{human_bytes(a_bytes)} at batch {batch} need more than {where}")
