"""``exhaustive``: a NAS-Bench-201-like cell space small enough to enumerate (Dong & Yang,
"NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture Search", ICLR 2020).

One cell: a DAG of 4 nodes (node 0 is the cell input, node 3 its output); every edge j → i
(j < i, 6 edges) carries one of 5 ops, and a node is the sum of its incoming edges. That is
6 decisions and 5⁶ = 15 625 assignments. Many are the same network — a ``none`` edge, an edge
leaving an all-zero node, a node that does not reach the output — so ``decode`` writes each
cell pruned (zero edges dropped, zero nodes propagated; a cell with no path to its output
computes zeros) and :meth:`ExhaustiveSpace.distinct` counts the distinct networks by hashing
every assignment (cached on disk, keyed by the hashes of a few probe cells).

The network is NAS-Bench-201's: 3×3 conv stem + BN, N cells at C channels, a residual
reduction block (ReLU-conv-BN ×2, stride 2, with an avg-pool + 1×1 conv shortcut), N cells at
2C, another reduction, N cells at 4C, then BN-ReLU, global average pool, linear. The ``nb201``
preset is the benchmark's CIFAR network (N=5, C=16, 3×32×32, 10 classes).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from itertools import product
from pathlib import Path
from typing import Any, Mapping

from nas.errors import GenomeError, NasError
from nas.genome import Cell, Genome, Node, Stage
from nas.hashing import block_hash
from nas.space import Assignment, Decision, NotInSpaceError, SearchSpace
from search_spaces.registry import SPACES
from search_spaces.options import check_io, make_options, option

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NODES = 4
EDGES = tuple((i, j) for i in range(1, NODES) for j in range(i))  # (to, from), NB-201 order


def edge_name(i: int, j: int) -> str:
    return f"cell.node{i}.from{j}"


@dataclasses.dataclass(frozen=True)
class ExhaustiveOptions:
    preset: str = option("digits", "digits: N=1, C=8 on 1×8×8; nb201: NAS-Bench-201's CIFAR "
                         "network (N=5, C=16, 3×32×32)", ("digits", "nb201"))
    N: int = option(1, "cells per stage (3 stages)")
    C: int = option(8, "channels of the first stage (doubled by each reduction block)")
    input: tuple = option((1, 8, 8), "input C×H×W")
    num_classes: int = option(10, "number of classes")


PRESETS = {"digits": {},
           "nb201": {"N": 5, "C": 16, "input": (3, 32, 32), "num_classes": 10}}


# =========================================================================== cells


def _edge_nodes(op: str, p: str, src: str) -> tuple[list[Node], str]:
    if op == "skip_connect":
        return [], src
    if op == "avg_pool_3x3":
        return [Node(f"{p}.pool", "avgpool", (src,), {"kernel": 3, "stride": 1, "padding": 1,
                                                       "count_include_pad": False})], f"{p}.pool"
    k = 1 if op == "nor_conv_1x1" else 3
    return [Node(f"{p}.relu", "relu", (src,)),
            Node(f"{p}.conv", "conv", (f"{p}.relu",), {"out_ch": "C", "kernel": k}),
            Node(f"{p}.bn", "bn", (f"{p}.conv",))], f"{p}.bn"


def pruned_edges(ops: Mapping[tuple[int, int], str]) -> tuple[tuple[int, int, str], ...]:
    """The edges that carry a signal: not ``none`` and not leaving an all-zero node."""
    zero = {0: False}
    keep = []
    for i in range(1, NODES):
        live = [(i, j, ops[(i, j)]) for j in range(i) if ops[(i, j)] != "none" and not zero[j]]
        zero[i] = not live
        keep += live
    return tuple(keep) if not zero[NODES - 1] else ()


def write_cell(edges: tuple[tuple[int, int, str], ...]) -> Cell:
    """The cell of a pruned edge list (empty: the all-zero cell)."""
    if not edges:
        return Cell((Node("zero", "zero", ("x",)),))
    value = {0: "x"}
    nodes: list[Node] = []
    for i in range(1, NODES):
        terms = []
        for (_, j, op) in (e for e in edges if e[0] == i):
            made, out = _edge_nodes(op, f"edge{i}_{j}", value[j])
            nodes += made
            terms.append(out)
        if len(terms) > 1:
            nodes.append(Node(f"node{i}", "add", tuple(terms)))
            value[i] = f"node{i}"
        elif terms:
            value[i] = terms[0]
    if value[NODES - 1] == "x":  # the identity cell: an elided node passes x through
        nodes.append(Node("out", "identity", ("x",), when="False"))
        value[NODES - 1] = "out"
    return Cell(tuple(nodes), output=value[NODES - 1])


def _reduction_block() -> Cell:
    """NAS-Bench-201's ``ResNetBasicblock`` at stride 2."""
    return Cell((
        Node("conv_a.relu", "relu", ("x",)),
        Node("conv_a.conv", "conv", (), {"out_ch": "C", "kernel": 3, "stride": 2}),
        Node("conv_a.bn", "bn"), Node("conv_b.relu", "relu"),
        Node("conv_b.conv", "conv", (), {"out_ch": "C", "kernel": 3}), Node("conv_b.bn", "bn"),
        Node("downsample.0", "avgpool", ("x",), {"kernel": 2, "stride": 2}),
        Node("downsample.1", "conv", ("downsample.0",), {"out_ch": "C", "kernel": 1}),
        Node("add", "add", ("conv_b.bn", "downsample.1"))))


# =========================================================================== the space


class ExhaustiveSpace(SearchSpace):
    """NAS-Bench-201-like: 6 edges × 5 ops, every assignment enumerable."""

    name = "exhaustive"
    description = ("NAS-Bench-201-like cell: 4 nodes, 6 edges, 5 ops (none, skip, conv1x1, "
                   "conv3x3, avgpool3x3), stacked 3×N with residual reductions")
    Options = ExhaustiveOptions
    PRESETS = PRESETS
    _tables: dict[str, list[str]] = {}  # probe fingerprint -> cell hash per assignment index

    def __init__(self, **options: Any):
        o = self.options = make_options(ExhaustiveOptions, options, self.name, PRESETS)
        for k in ("N", "C", "num_classes"):
            if getattr(o, k) < 1:
                raise NasError(f"space {self.name!r} option {k!r}: must be ≥ 1")
        if len(o.input) != 3 or min(o.input) < 1:
            raise NasError(f"space {self.name!r} option 'input': expected C×H×W, got {o.input}")
        self._decisions = tuple(Decision(edge_name(i, j), OPS) for i, j in EDGES)

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self._decisions

    # ---------------------------------------------------------------- decode
    def cell(self, assignment: Mapping[str, Any]) -> Cell:
        a = self.check(assignment)
        return write_cell(pruned_edges({(i, j): a[edge_name(i, j)] for i, j in EDGES}))

    def decode(self, assignment: Mapping[str, Any]) -> Genome:
        o = self.options
        stages = [Stage("stem", Cell((Node("conv", "conv", ("x",), {"out_ch": o.C, "kernel": 3}),
                                      Node("bn", "bn"))), block_name="")]
        k = 0
        for r in range(3):
            if r:
                stages.append(Stage("cells", _reduction_block(), out_ch=o.C * 2 ** r, stride=2,
                                    block_name=str(k)))
                k += 1
            stages.append(Stage("cells", "cell", repeat=o.N, out_ch=o.C * 2 ** r, start=k))
            k += o.N
        stages.append(Stage("", Cell((
            Node("lastact.0", "bn"), Node("lastact.1", "relu"), Node("global_pooling", "gap"),
            Node("flatten", "flatten"), Node("classifier", "linear", args={"out_ch": "K"}))),
            block_name=""))
        return Genome(self.name, tuple(stages), {"cell": self.cell(assignment)}, o.input,
                      o.num_classes)

    # ---------------------------------------------------------------- NAS-Bench-201 strings
    @staticmethod
    def to_arch_str(assignment: Mapping[str, Any]) -> str:
        """``|nor_conv_3x3~0|+|none~0|skip_connect~1|+|…|`` as NAS-Bench-201 writes cells."""
        return "+".join("|" + "|".join(f"{assignment[edge_name(i, j)]}~{j}" for j in range(i))
                        + "|" for i in range(1, NODES))

    def from_arch_str(self, text: str) -> Assignment:
        a: Assignment = {}
        nodes = text.strip().split("+")
        if len(nodes) != NODES - 1:
            raise NotInSpaceError(f"{self.name}: {text!r} is not a 4-node NAS-Bench-201 cell")
        for i, part in enumerate(nodes, start=1):
            for tok in filter(None, part.split("|")):
                op, _, j = tok.partition("~")
                if not j.isdigit() or int(j) >= i:
                    raise NotInSpaceError(f"{self.name}: bad edge {tok!r} into node {i}")
                a[edge_name(i, int(j))] = op
        return self.check(a)

    # ---------------------------------------------------------------- enumeration
    def all_assignments(self):
        for ops in product(OPS, repeat=len(EDGES)):
            yield {edge_name(i, j): op for (i, j), op in zip(EDGES, ops)}

    def cell_hashes(self) -> list[str]:
        """The cell hash of every assignment (in :meth:`all_assignments` order), computed once
        per hashing scheme and cached in memory and on disk (``$NAS_CACHE_DIR``)."""
        key = _fingerprint()
        table = self._tables.get(key)
        if table is None:
            path = _cache_dir() / f"exhaustive-cells-{key}.json"
            try:
                table = json.loads(path.read_text())
            except (OSError, ValueError):
                table = _hash_all()
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(table))
                except OSError:
                    pass
            self._tables[key] = table
        return table

    def size(self) -> int:
        return len(OPS) ** len(EDGES)

    def distinct(self) -> int:
        """Distinct networks: distinct cell hashes (the network repeats the one cell)."""
        return len(set(self.cell_hashes()))

    def key(self, assignment: Mapping[str, Any]) -> str:
        """The cell's hash from the table of all cells (no decoding): the network repeats the
        one cell, so equal cell hashes are equal genome hashes (tested on every assignment)."""
        k = 0
        for i, j in EDGES:
            k = k * len(OPS) + OPS.index(assignment[edge_name(i, j)])
        return self.cell_hashes()[k]

    def distinct_assignments(self, limit: int = 1_000_000) -> list[Assignment]:
        """One assignment per distinct cell hash, first in enumeration order (no decoding)."""
        seen: set[str] = set()
        out = []
        for a, h in zip(self.all_assignments(), self.cell_hashes()):
            if h not in seen:
                seen.add(h)
                out.append(a)
        return out

    # ---------------------------------------------------------------- encode
    def encode_strict(self, genome: Genome) -> Assignment:
        """Name-free: the genome's first cell is hashed in the probe context and looked up in
        the table of all cells; the decoded assignment must then hash equal to the genome."""
        ref = self.decode(self.from_indices([0] * len(EDGES)))
        check_io(genome, ref.input, ref.num_classes)
        if len(genome.stages) != len(ref.stages):
            raise NotInSpaceError(f"stages: the genome has {len(genome.stages)}, the space "
                                  f"{len(ref.stages)} (stem, 3×N cells with 2 reductions, head; "
                                  "options N, C)")
        cell = genome.stages[1].cell
        cell = dict(genome.cells).get(cell) if isinstance(cell, str) else cell
        try:
            h = _probe_hash(cell) if cell is not None else None
        except GenomeError as e:
            raise NotInSpaceError(f"cell: its first cell does not fit the cell space ({e})") \
                from None
        table = self.cell_hashes()
        if h not in table:
            raise NotInSpaceError("cell: the genome's cell is none of the 15625 cells "
                                  "(6 edges × none/skip_connect/nor_conv_1x1/nor_conv_3x3/"
                                  "avg_pool_3x3)")
        a = self.from_indices(_indices(table.index(h)))
        if self.decode(a).hash != genome.hash:
            raise NotInSpaceError(f"cell: the first cell is {self.to_arch_str(a)} but the rest of "
                                  "the genome differs from that network (stem, reductions, head, "
                                  "N and C are fixed by the space options)")
        return a


def _indices(k: int) -> list[int]:
    out = []
    for _ in EDGES:
        k, r = divmod(k, len(OPS))
        out.append(r)
    return out[::-1]


_PROBE = (8, 4, 4)  # the context cells are hashed in: C=8 channels at 4×4


def _probe_hash(cell: Cell) -> str:
    g = Genome("probe", (Stage("c", cell, out_ch=_PROBE[0], block_name=""),), input=_PROBE)
    return block_hash(g.graph, 0) or "identity"


def _hash_all() -> list[str]:
    by_edges: dict[tuple, str] = {}
    out = []
    for ops in product(OPS, repeat=len(EDGES)):
        edges = pruned_edges(dict(zip(EDGES, ops)))
        if edges not in by_edges:
            by_edges[edges] = _probe_hash(write_cell(edges))
        out.append(by_edges[edges])
    return out


@functools.lru_cache(maxsize=1)
def _fingerprint() -> str:
    """Changes whenever the cell writer or the hash scheme would give other hashes (computed
    once per process: neither changes while it runs)."""
    probes = [write_cell(pruned_edges(dict(zip(EDGES, ops)))) for ops in
              (("nor_conv_3x3",) * 6, ("skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none",
                                       "nor_conv_3x3", "skip_connect"))]
    doc = "|".join(_probe_hash(c) for c in probes)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def _cache_dir() -> Path:
    if os.environ.get("NAS_CACHE_DIR"):
        return Path(os.environ["NAS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nas"


SPACES.register("exhaustive", ExhaustiveSpace)
