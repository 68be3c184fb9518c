"""Canonical, isomorphism-invariant genome hashes.

Each block (one use of a cell) is a small DAG. Dead nodes are already pruned and elided nodes
already aliased by lowering; the block's graph is labelled by op and concrete arguments (never
by node names), its input slots by position and its output node marked, and hashed with
Weisfeiler–Lehman in both edge directions, as NAS-Bench-101 hashes its cells (networkx's
definition, written out: :func:`wl_hash`). The
network hash combines the input shape, the class count and the sequence of block hashes, so
renaming or reordering nodes changes nothing and any change of op, argument or wiring does.
"""
from __future__ import annotations

import hashlib
import json

import warnings

import networkx as nx

warnings.filterwarnings("ignore", message="The hashes produced for directed graphs")



_LABELS: dict = {}


def node_label(n: LNode) -> str:
    try:
        key = (n.op, tuple(sorted(n.args.items())))
        hit = _LABELS.get(key)
    except TypeError:                 # an unhashable argument value: no memo
        key = hit = None
    if hit is None:
        args = {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(n.args.items())}
        hit = n.op + json.dumps(args, sort_keys=True, separators=(",", ":"))
        if key is not None and len(_LABELS) < 100_000:
            _LABELS[key] = hit
    return hit


def _members(graph: Graph, b: int) -> list[LNode]:
    """The nodes of block ``b`` in graph order (grouped once per graph)."""
    groups = graph.__dict__.get("_by_block")
    if groups is None:
        groups = {}
        for n in graph.nodes:
            groups.setdefault(n.block, []).append(n)
        object.__setattr__(graph, "_by_block", groups)
    return groups.get(b, [])


def _block_dag(graph: Graph, b: int) -> tuple[dict, dict, dict]:
    """Block ``b`` as ``(labels, successors, predecessors)`` over slot nodes ``("slot", j)``
    (label ``in{j}``) and op nodes (graph index, label :func:`node_label`), the output's
    label marked ``*``; edges are sets (an op reading one tensor twice has one edge)."""
    blk = graph.blocks[b]
    slot_of: dict[int, int] = {}
    for j, gi in enumerate(blk.slots):
        slot_of.setdefault(gi, j)
    labels: dict = {("slot", j): f"in{j}" for j in slot_of.values()}
    members = _members(graph, b)
    for n in members:
        labels[n.index] = node_label(n)
    succ: dict = {v: set() for v in labels}
    pred: dict = {v: set() for v in labels}
    for n in members:
        for src in n.inputs:
            u = ("slot", slot_of[src]) if src in slot_of else src
            succ[u].add(n.index)
            pred[n.index].add(u)
    out = ("slot", slot_of[blk.output]) if blk.output in slot_of else blk.output
    labels[out] += "*"
    return labels, succ, pred


def block_digraph(graph: Graph, b: int) -> nx.DiGraph:
    """The labelled DAG of block ``b`` as a networkx graph (for drawing and isomorphism
    checks): slot nodes ``in{j}``, op nodes, output marked ``*``."""
    labels, succ, _ = _block_dag(graph, b)
    g = nx.DiGraph()
    for v, label in labels.items():
        g.add_node(v, label=label)
    g.add_edges_from((u, v) for u, vs in succ.items() for v in vs)
    return g


def _h(*parts: str) -> str:
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def _blake(text: str, digest_size: int = 16) -> str:
    return hashlib.blake2b(text.encode("ascii"), digest_size=digest_size).hexdigest()


def wl_hash(labels: dict, succ: dict, pred: dict, iterations: int = 2) -> str:
    """The Weisfeiler–Lehman hash of a directed graph with node labels, equal to networkx's
    ``weisfeiler_lehman_graph_hash(G, node_attr=..., iterations=..., digest_size=16)`` (the
    ≥ 3.5 definition, in and out edges apart; tested against it), written out so that the
    hashes do not change with the installed networkx and cost no graph objects."""
    from collections import Counter
    counts: list = []
    for _ in range(iterations):
        labels = {v: _blake(lab + "".join(sorted(["s_" + labels[c] for c in succ[v]]))
                            + "".join(sorted(["p_" + labels[p] for p in pred[v]])))
                  for v, lab in labels.items()}
        counts.extend(sorted(Counter(labels.values()).items()))
    return _blake(str(tuple(counts)))


def _topological(succ: dict, pred: dict) -> list:
    indeg = {v: len(ps) for v, ps in pred.items()}
    order = [v for v, d in indeg.items() if d == 0]
    for v in order:                   # the list grows while it is walked (Kahn)
        for c in succ[v]:
            indeg[c] -= 1
            if indeg[c] == 0:
                order.append(c)
    return order


def _wl(labels: dict, succ: dict, pred: dict) -> str:
    """Merkle hashes of every node over its full ancestry and full descendancy (one pass each
    way over the DAG: the exact "what it computes / what it feeds" signature), then two
    Weisfeiler–Lehman refinement rounds over those labels, in both edge directions."""
    order = _topological(succ, pred)
    up: dict = {}
    for v in order:
        up[v] = _h(labels[v], *sorted(up[p] for p in pred[v]))
    down: dict = {}
    for v in reversed(order):
        down[v] = _h(labels[v], *sorted(down[c] for c in succ[v]))
    lab = {v: up[v] + down[v] for v in labels}
    a = wl_hash(lab, succ, pred)
    b = wl_hash(lab, pred, succ)
    edges = sum(len(vs) for vs in succ.values())
    return _h(a, b, str(len(labels)), str(edges))


_CACHE: dict[tuple, str] = {}
_CACHE_MAX = 200_000


def _block_key(graph: Graph, b: int) -> tuple:
    """An exact, order-dependent description of block ``b`` (labels + wiring by position):
    equal keys are the same graph, so their WL hash is computed once (repeated cells)."""
    blk = graph.blocks[b]
    slot_of: dict[int, int] = {}
    for j, gi in enumerate(blk.slots):
        slot_of.setdefault(gi, j)
    members = _members(graph, b)
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
        h = _CACHE[key] = _wl(*_block_dag(graph, b))
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
