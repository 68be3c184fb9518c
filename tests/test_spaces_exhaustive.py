"""exhaustive: 5^6 enumerable cells, pruning, distinct networks by hash, name-free encode."""
import random

import pytest

from nas import Genome, cost
from nas.space import NotInSpaceError
from search_spaces import get_space
from search_spaces.exhaustive import EDGES, OPS, _probe_hash, edge_name


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("NAS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "nas-cache"))
    yield get_space("exhaustive")
    mp.undo()


def cell(space, **edges):
    """An assignment: every edge ``none`` but the given ``i_j=op`` ones."""
    a = {d.name: "none" for d in space.decisions}
    for k, op in edges.items():
        i, j = k[1:].split("_")
        a[edge_name(int(i), int(j))] = op
    return a


def test_size_and_decisions(space):
    assert [d.name for d in space.decisions] == [
        "cell.node1.from0", "cell.node2.from0", "cell.node2.from1", "cell.node3.from0",
        "cell.node3.from1", "cell.node3.from2"]
    assert space.size() == 5 ** 6 == 15625 == len(list(space.all_assignments()))


def test_distinct_networks(space):
    hashes = space.cell_hashes()
    assert len(hashes) == 15625
    # zero edges, edges out of zero nodes, dead nodes and skip aliases collapse: NAS-Bench-201
    # reports 6466 "unique" cells by its own isomorphism test, which keeps skip edges as
    # labelled edges; resolving them (conv(skip(x)) is conv(x)) leaves 6269 networks
    assert space.distinct() == 6269
    rng = random.Random(0)
    for _ in range(20):  # the table is in enumeration order, one entry per assignment
        a = space.sample(rng)
        k = sum(i * 5 ** (5 - p) for p, i in enumerate(space.to_indices(a)))
        assert list(space.all_assignments())[k] == a
        assert hashes[k] == _probe_hash(space.cell(a))


def test_duplicates_hash_equal(space):
    h = lambda a: space.decode(a).hash  # noqa: E731
    zero = h(cell(space))
    assert h(cell(space, n1_0="nor_conv_3x3", n2_1="nor_conv_1x1")) == zero  # no path to node 3
    assert h(cell(space, n3_1="nor_conv_3x3")) == zero  # node 1 is all-zero
    conv = h(cell(space, n3_0="nor_conv_3x3"))
    assert conv != zero
    assert h(cell(space, n1_0="skip_connect", n3_1="nor_conv_3x3")) == conv  # skip aliasing
    assert h(cell(space, n1_0="nor_conv_3x3", n3_0="nor_conv_3x3", n2_1="avg_pool_3x3")) == conv
    assert h(cell(space, n1_0="nor_conv_1x1", n3_1="nor_conv_3x3")) != conv


def test_pruned_cells(space):
    g = space.decode(cell(space, n1_0="nor_conv_3x3", n2_1="nor_conv_1x1"))
    ops = [n.op for n in g.graph.nodes if n.path.startswith("cells.0.")]
    assert ops == ["zero"]  # no path: the cell computes zeros
    g = space.decode(cell(space, n3_0="skip_connect"))
    assert not any(n.path.startswith("cells.0.") for n in g.graph.nodes)  # identity cell
    assert cost(g).params < cost(space.decode(cell(space, n3_0="nor_conv_1x1"))).params


def test_nb201_network(space):
    nb = get_space("exhaustive", {"preset": "nb201"})
    a = {d.name: "nor_conv_3x3" for d in nb.decisions}
    g = nb.decode(a)
    assert g.input == (3, 32, 32) and len(g.graph.blocks) == 1 + 17 + 1
    assert cost(g).params == 1_531_546  # NAS-Bench-201's largest cell: 1.53M parameters
    s = nb.to_arch_str(a)
    assert s == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+" \
                "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert nb.from_arch_str(s) == a
    with pytest.raises(NotInSpaceError, match="'conv_5x5' is not one of"):
        nb.from_arch_str(s.replace("nor_conv_3x3~1|+", "conv_5x5~1|+"))


def test_encode_is_name_free_and_checks_the_network(space):
    a = cell(space, n1_0="nor_conv_3x3", n2_1="avg_pool_3x3", n3_2="skip_connect",
             n3_0="nor_conv_1x1")
    g = space.decode(a)
    d = g.to_dict()
    nodes = d["cells"]["cell"]["nodes"]
    ren = {n["name"]: f"op{k}" for k, n in enumerate(nodes)}
    d["cells"]["cell"]["output"] = ren[d["cells"]["cell"].get("output", nodes[-1]["name"])]
    for n in nodes:
        n["name"] = ren[n["name"]]
        n["inputs"] = [ren.get(i, i) for i in n.get("inputs", [])]
    renamed = Genome.from_dict(d)
    b = space.encode_strict(renamed)
    # the first assignment (in enumeration order) of that network: here conv→node2 instead of
    # conv→node1→skip, the same network
    assert b == space.encode_strict(g) != a
    assert space.decode(b).hash == g.hash
    with pytest.raises(NotInSpaceError, match="option input"):
        space.encode_strict(get_space("exhaustive", {"preset": "nb201"}).decode(a))
    with pytest.raises(NotInSpaceError, match="the rest of the genome differs"):
        space.encode_strict(get_space("exhaustive", {"N": 2}).decode(a))
    for n in nodes:
        if n["op"] == "conv":
            n["args"]["kernel"] = 5
    with pytest.raises(NotInSpaceError, match="cell: the genome's cell is none of the 15625"):
        space.encode_strict(Genome.from_dict(d))


def test_random_round_trips(space):
    rng = random.Random(3)
    for _ in range(200):
        a = space.sample(rng)
        g = space.decode(a)
        assert space.decode(space.encode_strict(g)).hash == g.hash


@pytest.mark.slow
def test_random_round_trips(space):
    rng = random.Random(13)
    for _ in range(600):
        g = space.decode(space.sample(rng))
        assert space.decode(space.encode_strict(g)).hash == g.hash


def test_every_op_on_every_edge(space):
    for (i, j) in EDGES:
        for op in OPS:
            g = space.decode(cell(space, **{f"n{i}_{j}": op, "n3_0": "skip_connect"}))
            assert space.decode(space.encode(g)).hash == g.hash
