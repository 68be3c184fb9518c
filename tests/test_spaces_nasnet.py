"""nasnet-cell: decision count and size from the paper, NASNet-A mobile's published size, the
NASNet-A fixed point, the paper's output rule, and precise errors."""
import math
import random

import pytest

from nas import GenomeError, build, cost
from nas.builder import count_params
from nas.errors import NasError
from nas.space import NotInSpaceError
from search_spaces import get_net, get_space
from search_spaces.nasnet import NASNET_A, OPS, nasnet_a_specs


def test_decisions_and_size_follow_the_paper():
    sp = get_space("nasnet-cell")
    names = [d.name for d in sp.decisions]
    assert len(names) == 50 == len(set(names))  # 2 cells × 5 blocks × 5 decisions
    assert names[:5] == ["normal.block0.input_a", "normal.block0.input_b", "normal.block0.op_a",
                         "normal.block0.op_b", "normal.block0.combine"]
    assert len(OPS) == 13
    for k in range(5):  # block k reads h[i-1], h[i-2] or blocks 0..k-1
        assert len(sp.decisions[5 * k].choices) == 2 + k
    per_cell = math.prod((2 + k) ** 2 * 13 ** 2 * 2 for k in range(5))
    assert per_cell == 720 ** 2 * 338 ** 5
    assert sp.size() == per_cell ** 2
    choice = get_space("nasnet-cell", {"concat": "choice"})
    assert len(choice.decisions) == 62  # + per cell: h[i-1], h[i-2], blocks 0..3 kept anyway
    assert choice.size() == sp.size() * 2 ** 12


def test_nasnet_a_mobile_has_the_published_size():
    g = get_net("nasnet_a_mobile")
    assert g.input == (3, 224, 224) and g.num_classes == 1000
    report = cost(g)
    # TF-slim / imgclsmob NASNet-A-Mobile (4 @ 1056): 5,289,978 parameters; paper: 5.3M, 564M
    assert report.params == 5_289_978
    assert abs(report.macs - 564e6) / 564e6 < 0.01
    model = build(g)
    assert count_params(model) == report.params
    import torch
    torch.set_num_threads(1)
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_nasnet_a_is_a_fixed_point_and_encodes_to_its_cells():
    mobile = get_space("nasnet-cell", {"preset": "mobile"})
    g = get_net("nasnet_a_mobile")
    a = mobile.encode(g)
    assert a == mobile.assignment_of(nasnet_a_specs())
    assert a["normal.block2.op_b"] == "identity" and a["reduction.block3.input_a"] == "block1"
    assert a["normal.concat.h[i-2]"] is True and a["reduction.concat.block1"] is True
    assert mobile.decode(a).hash == g.hash
    small = get_space("nasnet-cell", {"concat": "choice", "N": 1})
    fp = small.fixed_points()
    assert list(fp) == ["nasnet_a", "amoebanet_a", "pnasnet_5", "enas"]
    for g in fp.values():
        assert small.decode(small.encode(g)).hash == g.hash
    # the paper's rule cannot hold NASNet-A (nor AmoebaNet-A, PNASNet-5); ENAS's cells it can
    assert list(get_space("nasnet-cell").fixed_points()) == ["enas"]


def test_default_space_rejects_nasnet_a_naming_the_decision():
    paper = get_space("nasnet-cell", {"N": 1})
    fixed = get_space("nasnet-cell", {"N": 1, "concat": "choice"}).fixed_points()["nasnet_a"]
    with pytest.raises(NotInSpaceError, match="different network"):
        paper.encode_strict(fixed)
    assert paper.encode(fixed) is None


def _cell_width(space, a, cell):
    g = space.decode(a)
    blk = next(b for b in g.graph.blocks if b.cell == cell)
    stage = g.stages[blk.stage]
    return g.graph.nodes[blk.output].shape[0] // stage.out_ch


def test_unused_states_are_concatenated():
    paper = get_space("nasnet-cell", {"N": 2})
    choice = get_space("nasnet-cell", {"N": 2, "concat": "choice"})
    a = paper.assignment_of(nasnet_a_specs())
    # NASNet-A's blocks read both inputs and feed no block: the 5 blocks are concatenated
    assert _cell_width(paper, a, "normal") == 5
    # the published cell also concatenates h[i-2]: 6·C (1056 = 6·176 in the mobile net)
    assert _cell_width(choice, choice.assignment_of(nasnet_a_specs()), "normal") == 6
    # reduction: blocks 0 and 1 are read by blocks 3 and 4, so 3 remain (published: + block1)
    assert _cell_width(paper, a, "reduction") == 3
    # a cell whose blocks only read h[i-1] keeps h[i-2] too, and concat-combine doubles width
    b = dict(a)
    for k in range(5):
        b.update({f"normal.block{k}.input_a": "h[i-1]", f"normal.block{k}.input_b": "h[i-1]",
                  f"normal.block{k}.combine": "concat"})
    assert _cell_width(paper, b, "normal") == 1 + 2 * 5


def test_ops_on_a_reduction_cell_input_stride_and_others_do_not():
    sp = get_space("nasnet-cell", {"N": 1, "reductions": 1})
    a = sp.assignment_of(nasnet_a_specs())
    g = sp.decode(a)
    nodes = {n.path: n for n in g.graph.nodes}
    red = "reduction_cell_0"
    assert nodes[f"{red}.block0.a.separable_1"].args["stride"] == (2, 2)  # on h[i-1]
    assert nodes[f"{red}.block3.b.pool"].args["stride"] == (1, 1)  # on block0
    # the normal cell after the reduction reads h[i-2] at twice the size: factorized reduction
    after = f"cell_{1}"
    assert nodes[f"{after}.adjust.path_2.pad"].args == {"left": -1, "right": 1, "top": -1,
                                                        "bottom": 1}
    assert f"cell_0.adjust.conv" not in nodes  # first cell: h[i-2] is the stem output itself


def test_every_op_and_combine_decodes_and_round_trips():
    sp = get_space("nasnet-cell", {"N": 1, "reductions": 1})
    base = sp.assignment_of(nasnet_a_specs())
    seen = set()
    for op in OPS:
        for cell in ("normal", "reduction"):
            for inp in ("h[i-1]", "h[i-2]", "block0"):
                a = {**base, f"{cell}.block1.op_a": op, f"{cell}.block1.input_a": inp,
                     f"{cell}.block1.combine": "concat"}
                g = sp.decode(a)
                assert sp.decode(sp.encode(g)).hash == g.hash
                seen.add(g.hash)
    assert len(seen) > 13 * 3  # ops are distinct networks (identity≈conv1x1 only when adapting)


def test_imagenet_stem_and_options():
    sp = get_space("nasnet-cell", {"stem": "imagenet", "F": 8, "input": "3x32x32", "N": 1})
    g = sp.decode(sp.sample(random.Random(3)))
    assert [s.block_path(0) for s in g.stages[:3]] == ["conv0", "cell_stem_0", "cell_stem_1"]
    assert g.stages[1].out_ch == 2 and g.stages[2].out_ch == 4  # F/4, F/2
    with pytest.raises(NasError, match="option 'F'"):
        get_space("nasnet-cell", {"stem": "imagenet", "F": 4})
    with pytest.raises(NasError, match="unknown option"):
        get_space("nasnet-cell", {"filters": 3})
    with pytest.raises(NasError, match="option 'N': expected an integer"):
        get_space("nasnet-cell", {"N": "two"})
    with pytest.raises(NasError, match="'concat': 'all' is not one of"):
        get_space("nasnet-cell", {"concat": "all"})


def test_bad_assignments_and_foreign_genomes_name_the_decision():
    sp = get_space("nasnet-cell", {"N": 1})
    a = sp.sample(random.Random(0))
    with pytest.raises(NotInSpaceError, match=r"normal.block1.input_a: 'block3' is not one of"):
        sp.decode({**a, "normal.block1.input_a": "block3"})
    with pytest.raises(NotInSpaceError, match="missing"):
        sp.decode({k: v for k, v in a.items() if k != "reduction.block4.combine"})
    with pytest.raises(NotInSpaceError, match="option input: the genome takes 3x224x224"):
        sp.encode_strict(get_net("resnet18"))
    wide = get_space("nasnet-cell", {"N": 1, "F": 16})
    with pytest.raises(NotInSpaceError,
                       match=r"stages\[0\] \(stem\): its cell is not the space's stem"):
        sp.encode_strict(wide.decode(a))  # the stem conv has 3·F filters
    with pytest.raises(NotInSpaceError, match="stages: the genome has 8, the space 7"):
        sp.encode_strict(get_space("nasnet-cell", {"N": 2}).decode(a))
    # a cell op changed by hand (3x3 -> 9x9 separable conv) is none of the 13 ops
    g = sp.decode({**a, "normal.block0.op_a": "sep_conv3x3"})
    d = g.to_dict()
    for n in d["cells"]["normal"]["nodes"]:
        if n["name"].startswith("block0.a.separable"):
            n["args"]["kernel"] = 9
    from nas import Genome
    with pytest.raises(NotInSpaceError, match="normal.block0.op_a"):
        sp.encode_strict(Genome.from_dict(d))


@pytest.mark.parametrize("opts", [{}, {"concat": "choice"}, {"stem": "imagenet", "F": 8,
                                                             "input": "3x16x16"},
                                  {"preset": "mobile", "F": 16}])
def test_random_round_trips(opts):
    sp = get_space("nasnet-cell", {"N": 1, "reductions": 1, **opts})
    rng = random.Random(7)
    for _ in range(40):
        a = sp.sample(rng)
        g = sp.decode(a)
        b = sp.encode(g)
        assert b is not None and sp.decode(b).hash == g.hash


@pytest.mark.slow
def test_random_round_trips():
    sp = get_space("nasnet-cell", {"N": 1, "reductions": 1, "concat": "choice"})
    rng = random.Random(11)
    hashes = set()
    for _ in range(300):
        g = sp.decode(sp.sample(rng))
        assert sp.decode(sp.encode_strict(g)).hash == g.hash
        hashes.add(g.hash)
    assert len(hashes) == 300  # a space of 10^40: random samples do not collide


def test_decoded_genomes_are_valid_plain_data():
    sp = get_space("nasnet-cell", {"N": 1})
    g = sp.decode(sp.sample(random.Random(5)))
    from nas import Genome
    assert Genome.from_json(g.to_json()).hash == g.hash
    with pytest.raises(GenomeError):
        Genome.from_dict({**g.to_dict(), "input": [1, 0, 8]})
