"""Issue #16's seed systems against their references: stochastic depth (any residual cell,
ResNet-110), FractalNet (join + drop-path), DPN-68/92/98/131 (timm's exact counts, the paper's
figures), AmoebaNet-A and PNASNet-5 (papers' params and mult-adds; fixed points of
nasnet-cell). Large nets are counted from the genome (cost model), not built."""
import json

import pytest
import torch

from nas import Cell, Genome, GenomeError, Node, Stage, build, cost
from nas.modules import DropTrigger, Join
from search_spaces import cells, get_net, get_space
from search_spaces.nasnet import CELL_SPECS, PUBLISHED_PRESETS
from search_spaces.reference import PUBLISHED, verify
from search_spaces.zoo_fractal import fractal_block, fractalnet
from tests.conftest import run_cli


pytestmark = pytest.mark.usefixtures("one_thread")


# ============================================================================ stochastic depth


def test_resnet110_sd_decays_linearly_over_54_blocks_and_costs_what_resnet110_costs():
    sd, plain = get_net("resnet110_sd"), get_net("resnet110")
    drops = [n for n in sd.graph.nodes if n.op == "drop_path"]
    assert len(drops) == 54 and all(n.args["mode"] == "row" for n in drops)
    survival = [1 - n.args["p"] for n in drops]  # in network order, l = 1..54
    assert survival == pytest.approx([1 - l / 54 * 0.5 for l in range(1, 55)])
    assert survival[-1] == pytest.approx(0.5) and survival[0] == pytest.approx(1 - 0.5 / 54)
    a, b = cost(sd), cost(plain)
    assert a.params == b.params == 1_727_962 and a.macs == b.macs  # He et al.: 1.7M


def test_stochastic_depth_is_the_identity_in_eval_mode_with_the_same_weights():
    plain = get_net("resnet110", input=(3, 8, 8))
    sd = cells.with_stochastic_depth(plain, p_last=0.5)
    m_plain, m_sd = build(plain).eval(), build(sd).eval()
    m_sd.load_state_dict(m_plain.state_dict(), strict=True)  # drop_path adds no weights
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(m_plain(x), m_sd(x))
        m_sd.train()
        assert not torch.equal(m_plain.train()(x), m_sd(x))  # 54 coins: some block dropped


@pytest.mark.parametrize("block", ["basic", "bottleneck", "preact_basic", "inverted_residual"])
def test_a_dropped_block_outputs_its_shortcut(block):
    """Any residual cell of the library: drop probability 1 in training → the block is its
    shortcut (identity or projection), through the block's final ReLU where it has one."""
    cell = cells.stochastic_depth(cells.BLOCKS.get(block)(), p=1.0)
    cases = [(8, 8, 1)] + ([] if block == "inverted_residual" else [(8, 16, 2)])
    for cin, c, s in cases:
        g = Genome("b", (Stage("layer", cell, out_ch=c, stride=s, args={"t": 2},
                               block_name="0"),), input=(cin, 6, 6))
        assert sum(n.op == "drop_path" for n in g.graph.nodes) == 1
        vals = {}

        class Record(torch.fx.Interpreter):
            def run_node(self, n):
                vals[n.name] = out = super().run_node(n)
                return out
        x = torch.rand(2, cin, 6, 6)  # non-negative: ReLU(identity shortcut) is the input
        with torch.no_grad():
            y = Record(build(g).train()).run(x)
        assert torch.count_nonzero(next(v for k, v in vals.items() if "drop_path" in k)) == 0
        if cin == c and s == 1:
            assert torch.equal(y, x)
        else:
            short = next(v for k, v in vals.items()
                         if k.endswith("downsample_1") or k.endswith("shortcut"))
            assert torch.equal(y, short if block == "preact_basic" else torch.relu(short))


def test_stochastic_depth_refuses_what_it_cannot_do():
    with pytest.raises(GenomeError, match="needs a residual cell"):
        cells.stochastic_depth(cells.fire())
    with pytest.raises(GenomeError, match="no residual stage"):
        cells.with_stochastic_depth(get_net("vgg11"))
    with pytest.raises(GenomeError, match="p_last must be in"):
        cells.with_stochastic_depth(get_net("resnet20"), p_last=1.5)
    with pytest.raises(GenomeError, match="no stage 'layer9'"):
        cells.with_stochastic_depth(get_net("resnet20"), stages=["layer9"])
    with pytest.raises(GenomeError, match=r"s\.d: drop_path probability p must be in"):
        Genome("x", (Stage("s", Cell((Node("d", "drop_path", args={"p": 2.0}),)),
                           block_name=""),), input=(1, 4, 4))
    # mobilenet_v2: only the blocks that have a residual add get a drop_path
    g = cells.with_stochastic_depth(get_net("mobilenet_v2"))
    adds = sum(n.op == "add" for n in g.graph.nodes)
    assert sum(n.op == "drop_path" for n in g.graph.nodes) == adds == 10


# ============================================================================ FractalNet


def test_fractalnet20_structure_and_parameters():
    g = get_net("fractalnet20")
    report = cost(g)
    # 5 blocks × 7 convs (1 + 2 + 4 per block; 3 read the block input); the paper prints
    # 38.6M, which this configuration does not give (see PUBLISHED["fractalnet20"])
    assert report.params == 33_724_618
    convs = [n for n in g.graph.nodes if n.op == "conv"]
    assert len(convs) == 35 and all(n.args["kernel"] == (3, 3) for n in convs)
    joins = [n for n in g.graph.nodes if n.op == "join"]
    assert [n.args["cols"] for n in joins[:2]] == [(3, 2), (3, 2, 1)] and len(joins) == 10
    assert all(n.args["p"] == 0.15 for n in joins)
    # the deepest path: 4 convs per block, 20 in all
    deepest = [n.path for n in convs if ".col3." in n.path]
    assert len(deepest) == 20
    nodes = {n.path: n for n in g.graph.nodes}
    assert nodes["block5.pool"].shape == (512, 1, 1) and nodes["fc"].shape == (10,)
    checks = {c.name: c for c in verify(g, "fractalnet20", batch=1).checks}
    assert checks["parameters"].ok is None and "33.7M" in checks["parameters"].detail
    assert checks["structure (paper)"].ok and checks["builds and runs"].ok


def test_join_is_the_mean_in_eval_and_drops_paths_in_training():
    a, b, c = (torch.full((1, 2, 3, 3), v) for v in (1.0, 2.0, 6.0))
    j = Join(0.15, ()).eval()
    assert torch.equal(j(a, b, c), torch.full((1, 2, 3, 3), 3.0))
    j = Join(0.999999, ()).train()  # local drop-path keeps at least one input
    for _ in range(5):
        out = j(a, b, c)
        assert any(torch.equal(out, x) for x in (a, b, c))
    trigger = torch.full((1, 1), 2.0)  # a global batch keeping column 2
    jg = Join(0.15, (3, 2, 1)).train()
    assert torch.equal(jg(a, b, c, trigger), b)
    assert torch.equal(Join(0.15, (3, 1)).train()(a, c, trigger), torch.zeros_like(a))
    assert torch.equal(jg.eval()(a, b, c, trigger), torch.full((1, 2, 3, 3), 3.0))
    t = DropTrigger(1.0, 3).train()
    assert 1 <= int(t(a)[0, 0]) <= 3 and int(t.eval()(a)[0, 0]) == -1


def test_a_small_fractalnet_builds_is_deterministic_in_eval_and_random_in_training():
    g = fractalnet("tiny", columns=3, widths=(4, 8), dropout=(0.0, 0.0), input=(3, 8, 8))
    m = build(g)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        e1, e2 = m.eval()(x), m(x)
        assert torch.equal(e1, e2) and e1.shape == (2, 10)
        m.train()
        torch.manual_seed(0)
        outs = {tuple(m(x).flatten().tolist()) for _ in range(8)}
        assert len(outs) > 1  # drop-path at work in training
    with pytest.raises(ValueError, match="at least one column"):
        fractal_block(0)
    with pytest.raises(GenomeError, match="join drop probability"):
        Genome("j", (Stage("s", Cell((Node("a", "conv", ("x",), {"out_ch": 2}),
                                      Node("j", "join", ("a", "x"), {"p": 1.0}))),
                           block_name=""),), input=(2, 4, 4))


# ============================================================================ DPN

#: timm 1.0.31 (the authors' MXNet layout): parameters, FlopCounterMode ÷ 2 at 224²
TIMM = {"dpn68": (12_611_602, 2_326_163_456), "dpn92": (37_668_392, 6_501_684_224),
        "dpn98": (61_570_728, 11_671_217_152), "dpn131": (79_254_504, 16_013_648_896)}
#: Chen et al. 2017, Table 2: params, GFLOPs (mult-adds)
PAPER = {"dpn92": (37.8e6, 6.5e9), "dpn98": (61.6e6, 11.7e9), "dpn131": (79.5e6, 16.0e9)}


@pytest.mark.parametrize("name", sorted(TIMM))
def test_dpn_counts_equal_timm_and_the_paper(name):
    report = cost(get_net(name))
    assert (report.params, report.macs) == TIMM[name]
    if name in PAPER:
        p, f = PAPER[name]
        assert abs(report.params - p) / p < 0.01 and abs(report.macs - f) / f < 0.01
        pub = PUBLISHED[name]
        assert pub.params == p and pub.macs == f and pub.exact_params == TIMM[name][0]


def test_dual_path_block_widths_and_dpn68_runs():
    g = get_net("dpn68", input=(3, 32, 32), num_classes=10)
    nodes = {n.path: n for n in g.graph.nodes}
    # residual width 64 + 3·16 dense after the first block of conv2, then +16 per block
    assert nodes["features.conv2_1.cat"].shape[0] == 64 + 3 * 16
    assert nodes["features.conv2_3.cat"].shape[0] == 64 + 5 * 16
    assert nodes["features.conv3_1.c1x1_w.conv"].args["stride"] == (2, 2)
    assert "features.conv3_2.c1x1_w.conv" not in nodes  # only the first block projects
    assert nodes["features.conv4_1.c3x3_b.conv"].args["groups"] == 32
    assert nodes["features.conv5_3.cat"].shape[0] == 832  # timm's num_features
    model = build(g).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == cost(g).params


# ============================================================================ NASNet-space cells


@pytest.mark.parametrize("name,cell,params,macs", [
    ("amoebanet_a_mobile", "amoebanet_a", 5_086_930, 554_687_204),
    ("pnasnet5_mobile", "pnasnet_5", 5_064_487, 587_293_200),
])
def test_published_cells_match_their_papers_and_are_fixed_points(name, cell, params, macs):
    g = get_net(name)
    report = cost(g)
    assert (report.params, report.macs) == (params, macs)
    pub = PUBLISHED[name]
    assert abs(report.params - pub.params) / pub.params <= pub.params_tol
    assert abs(report.macs - pub.macs) / pub.macs <= pub.macs_tol
    space = get_space("nasnet-cell", {"preset": PUBLISHED_PRESETS[cell]})
    a = space.encode(g)
    assert a is not None and space.decode(a).hash == g.hash
    assert a == space.assignment_of({k: v for k, v in _specs(cell).items()})


def _specs(cell):
    from search_spaces.nasnet import cell_specs
    return cell_specs(cell)


def test_space_options_for_the_published_networks():
    amoeba = get_net("amoebanet_a_mobile")
    nodes = {n.path: n for n in amoeba.graph.nodes}
    # AmoebaNet's 1×7-7×1: 1×1 to C/4, 1×7, BN-ReLU, 7×1, 1×1 back to C (reference code)
    assert nodes["reduction_cell_1.block3.b.pre.conv"].args["out_ch"] == 50
    assert nodes["reduction_cell_1.block3.b.conv_1xn"].args["kernel"] == (1, 7)
    assert nodes["reduction_cell_1.block3.b.post.conv"].shape[0] == 200
    assert [nodes[f"cell_stem_{j}.conv_1x1.conv"].shape[0] for j in (0, 1)] == [12, 25]
    pnas = get_net("pnasnet5_mobile")
    names = [s.block_path(0) for s in pnas.stages]
    assert sum(s.repeat for s in pnas.stages if "cell" in s.block_path(0)
               and "stem" not in s.block_path(0)) == 9  # 3N cells, 2 of them reductions
    assert names.count("reduction_cell_0") == 1
    default = get_space("nasnet-cell")
    assert [d.name for d in get_space("nasnet-cell", {"factorized": "bottleneck",
                                                      "stack": "pnasnet"}).decisions] \
        == [d.name for d in default.decisions]  # options change networks, not decisions


def test_the_default_space_keeps_the_paper_rule_and_points_to_the_published_cells():
    default = get_space("nasnet-cell")
    assert len(default.decisions) == 50 and list(default.fixed_points()) == ["enas"]
    enas = default.fixed_points()["enas"]
    assert default.decode(default.encode(enas)).hash == enas.hash
    enas_net = get_space("nasnet-cell", {"N": 5, "F": 36, "input": "3x32x32"}).fixed_points()
    assert cost(enas_net["enas"]).params == 3_753_334  # ENAS reports 4.6M for its own network
    published = get_space("nasnet-cell", {"preset": "published"})
    assert published.options.concat == "choice" and published.options.N == default.options.N
    fp = published.fixed_points()
    assert list(fp) == list(CELL_SPECS)
    for g in fp.values():
        assert published.decode(published.encode(g)).hash == g.hash
    reasons = {p["name"]: p["reason"] for p in default.projected_fixed_points()}
    assert "preset=published" in reasons["amoebanet_a"] and "block0, block2" in reasons["amoebanet_a"]
    r = run_cli("spaces", "nasnet-cell")
    assert r.returncode == 0 and "fixed points: enas" in r.stdout
    r = run_cli("nets", "dpn*", "--json")
    rows = {d["name"]: d for d in json.loads(r.stdout)}
    assert rows["dpn92"]["params"] == 37_668_392 and rows["dpn92"]["reference"] == "published"
