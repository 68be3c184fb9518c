"""Canonical, isomorphism-invariant genome hashes.

Each block (one use of a cell) is a small DAG. Dead nodes are already pruned and elided nodes
already aliased by lowering; the block's graph is labelled by op and concrete arguments (never
by node names), its input slots by position and its output node marked, and hashed with
Weisfeiler–Lehman (networkx) in both edge directions, as NAS-Bench-101 hashes its cells. The
network hash combines the input shape, the class count and the sequence of block hashes, so
renaming or reordering nodes changes nothing and any change of op, argument or wiring does.
"""
from __future__ import annotations

import hashlib
import json

import warnings

import networkx as nx

warnings.filterwarnings("ignore", message="The hashes produced for directed graphs")

from nas.genome import Genome, Graph, LNode


def node_label(n: LNode) -> str:
    args = {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(n.args.items())}
    return n.op + json.dumps(args, sort_keys=True, separators=(",", ":"))


def block_digraph(graph: Graph, b: int) -> nx.DiGraph:
    """The labelled DAG of block ``b``: slot nodes ``in{j}``, op nodes, output marked ``*``."""
    blk = graph.blocks[b]
    g = nx.DiGraph()
    slot_of: dict[int, int] = {}
    for j, gi in enumerate(blk.slots):
        slot_of.setdefault(gi, j)
    for gi, j in slot_of.items():
        g.add_node(("slot", j), label=f"in{j}")
    members = [n for n in graph.nodes if n.block == b]

    def key(gi: int):
        return ("slot", slot_of[gi]) if gi in slot_of else gi

    for n in members:
        g.add_node(n.index, label=node_label(n))
    for n in members:
        for pos, src in enumerate(n.inputs):
            g.add_edge(key(src), n.index)
    out = key(blk.output)
    g.nodes[out]["label"] = g.nodes[out]["label"] + "*"
    return g


def _h(*parts: str) -> str:
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def _wl(g: nx.DiGraph) -> str:
    """Merkle hashes of every node over its full ancestry and full descendancy (one pass each
    way over the DAG: the exact "what it computes / what it feeds" signature), then two
    Weisfeiler–Lehman refinement rounds over those labels."""
    order = list(nx.topological_sort(g))
    up: dict = {}
    for v in order:
        up[v] = _h(g.nodes[v]["label"], *sorted(up[p] for p in g.predecessors(v)))
    down: dict = {}
    for v in reversed(order):
        down[v] = _h(g.nodes[v]["label"], *sorted(down[c] for c in g.successors(v)))
    lab = nx.DiGraph()
    for v in g.nodes:
        lab.add_node(v, label=up[v] + down[v])
    lab.add_edges_from(g.edges)
    a = nx.weisfeiler_lehman_graph_hash(lab, node_attr="label", iterations=2, digest_size=16)
    b = nx.weisfeiler_lehman_graph_hash(lab.reverse(copy=False), node_attr="label", iterations=2,
                                        digest_size=16)
    return _h(a, b, str(g.number_of_nodes()), str(g.number_of_edges()))


_CACHE: dict[tuple, str] = {}
_CACHE_MAX = 200_000


def _block_key(graph: Graph, b: int) -> tuple:
    """An exact, order-dependent description of block ``b`` (labels + wiring by position):
    equal keys are the same graph, so their WL hash is computed once (repeated cells)."""
    blk = graph.blocks[b]
    slot_of: dict[int, int] = {}
    for j, gi in enumerate(blk.slots):
        slot_of.setdefault(gi, j)
    members = [n for n in graph.nodes if n.block == b]
    local = {n.index: k for k, n in enumerate(members)}
    ref = lambda gi: ("s", slot_of[gi]) if gi in slot_of else local[gi]  # noqa: E731
    return (tuple((node_label(n), tuple(ref(i) for i in n.inputs)) for n in members),
            ref(blk.output))


def block_hash(graph: Graph, b: int) -> str | None:
    """Hash of block ``b``; None when the block is the identity (no ops on its output path)."""
    blk = graph.blocks[b]
    if blk.output in blk.slots:
        return None if blk.output == blk.slots[0] else f"slot{blk.slots.index(blk.output)}"
    key = _block_key(graph, b)
    h = _CACHE.get(key)
    if h is None:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        h = _CACHE[key] = _wl(block_digraph(graph, b))
    return h


def genome_hash(genome: Genome) -> str:
    """The canonical hash of a genome (hex, 32 chars)."""
    cached = genome.__dict__.get("_hash")
    if cached:
        return cached
    graph = genome.graph
    seq = [h for b in range(len(graph.blocks)) if (h := block_hash(graph, b)) is not None]
    doc = json.dumps({"input": list(genome.input), "classes": genome.num_classes, "blocks": seq})
    h = hashlib.sha256(doc.encode()).hexdigest()[:32]
    object.__setattr__(genome, "_hash", h)
    return h
