"""Canonical hash: equal for the same network however written, different otherwise —
checked against exhaustive isomorphism (networkx VF2) on hundreds of small random cells."""
import itertools
import random

import networkx as nx
import pytest

from nas import Cell, Genome, Node, Stage
from nas.hashing import block_digraph
from search_spaces import get_net

OPS = [("conv", {"out_ch": 4, "kernel": 3}), ("conv", {"out_ch": 4, "kernel": 1}),
       ("maxpool", {"kernel": 3, "stride": 1, "padding": 1}), ("relu", {}), ("bn", {})]


def random_cell(rng: random.Random, n: int) -> list[tuple[str, dict, tuple[int, ...]]]:
    """n ops; node k reads 1-2 earlier nodes (-1 = the input slot); merges via add."""
    spec = []
    for k in range(n):
        op, args = rng.choice(OPS)
        srcs = tuple(sorted(set(rng.sample(range(-1, k), min(k + 1, rng.choice([1, 1, 2]))))))
        spec.append((op, args, srcs))
    return spec


def to_genome(spec, perm=None, names=None) -> Genome:
    """Write the cell with nodes listed in order ``perm`` and named by ``names``."""
    n = len(spec)
    perm = perm or list(range(n))
    names = names or [f"n{k}" for k in range(n)]
    nodes = []
    for k in perm:
        op, args, srcs = spec[k]
        ins = ["x" if s < 0 else names[s] for s in srcs]
        if len(ins) == 1:
            nodes.append(Node(names[k], op, tuple(ins), args))
        else:  # a merge node then the op
            nodes.append(Node(names[k] + "_m", "add", tuple(ins)))
            nodes.append(Node(names[k], op, (names[k] + "_m",), args))
    out = Node("out", "concat", tuple(names[k] for k in range(n)))
    cell = Cell(nodes=tuple(nodes) + (out,), inputs=("x",))
    stem = Cell(nodes=(Node("c", "conv", args={"out_ch": 4}),))
    return Genome("h", stages=(Stage("s", stem, block_name=""),
                               Stage("t", cell, block_name="")), input=(3, 6, 6), num_classes=2)


def test_relabelled_and_reordered_cells_hash_equal():
    rng = random.Random(0)
    for _ in range(40):
        spec = random_cell(rng, rng.randint(2, 6))
        base = to_genome(spec)
        n = len(spec)
        # another topological order and other names
        order = list(range(n))
        for _ in range(5):
            cand = order[:]
            rng.shuffle(cand)
            pos = {k: j for j, k in enumerate(cand)}
            if all(pos[s] < pos[k] for k in range(n) for s in spec[k][2] if s >= 0):
                order = cand
                break
        names = [f"z{rng.randrange(10**6)}_{k}" for k in range(n)]
        assert to_genome(spec, order, names).hash == base.hash


def test_hash_equality_matches_exhaustive_isomorphism():
    rng = random.Random(1)
    genomes = [to_genome(random_cell(rng, rng.randint(1, 4))) for _ in range(150)]
    graphs = [block_digraph(g.graph, 1) for g in genomes]
    match = lambda a, b: a["label"] == b["label"]  # noqa: E731
    pairs = same = 0
    for i, j in itertools.combinations(range(len(genomes)), 2):
        iso = nx.is_isomorphic(graphs[i], graphs[j], node_match=match)
        assert (genomes[i].hash == genomes[j].hash) == iso, (i, j)
        pairs += 1
        same += iso
    assert same > 20  # the random cells do contain isomorphic pairs, so the test has teeth


def test_any_change_changes_the_hash():
    g = get_net("vgg11", num_classes=10, input=(3, 32, 32))
    assert g.hash != get_net("vgg13", num_classes=10, input=(3, 32, 32)).hash
    assert g.hash != g.with_classes(11).hash
    assert g.hash != g.with_input((3, 64, 64)).hash
    assert get_net("vgg11_bn").hash != get_net("vgg11").hash


def test_hash_ignores_dead_and_elided_nodes():
    a = Cell(nodes=(Node("a", "conv", args={"out_ch": 4}),))
    b = Cell(nodes=(Node("dead", "maxpool", args={"kernel": 2}),
                    Node("skip", "conv", ("x",), {"out_ch": 9}, when="cin == 1000"),
                    Node("a", "conv", ("skip",), {"out_ch": 4})), output="a")
    mk = lambda c: Genome("g", stages=(Stage("s", c),), input=(3, 8, 8))  # noqa: E731
    assert mk(a).hash == mk(b).hash


#: hashes as the first release computed them (networkx 3.6.1's WL)
PINNED = {"resnet18": "a53b52af426592c60dac866a167fa26b",
          "nasnet_a_mobile": "03775f462a040a136b0d0f8de4b40f3c"}


def test_our_weisfeiler_lehman_equals_networkx_and_hashes_are_pinned():
    """The WL hash is written out (no networkx graphs per block, no dependence on the installed
    networkx); it must equal networkx's ≥ 3.5 definition on any labelled DAG, and a network's
    hash must never change between versions (stored experiments are keyed by it)."""
    from nas.hashing import _block_dag, wl_hash
    rng = random.Random(3)
    for _ in range(200):
        g = to_genome(random_cell(rng, rng.randint(1, 8)))
        for b in range(len(g.graph.blocks)):
            labels, succ, pred = _block_dag(g.graph, b)
            ref = block_digraph(g.graph, b)
            for it in (1, 2, 3):
                assert wl_hash(labels, succ, pred, it) == nx.weisfeiler_lehman_graph_hash(
                    ref, node_attr="label", iterations=it, digest_size=16)
    assert get_net("resnet18").hash == PINNED["resnet18"]
    assert get_net("nasnet_a_mobile").hash == PINNED["nasnet_a_mobile"]
