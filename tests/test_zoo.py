"""The classic-net zoo: every genome against its reference.

* nets torchvision has: exact parameter count at 1000 and 10 classes, conv/linear MACs equal to
  FlopCounterMode on the torchvision model ÷ 2 (both counted on the meta device — shapes only),
  and torchvision's weights loaded strictly into the genome-built model give the same outputs;
* the lecture figures (ResNet GFLOPs, GoogLeNet stem table, naive vs bottleneck inception);
* nets without a twin: the papers' numbers, each with its source;
* the block cells: one cell serves a whole stage (shortcuts, expansions, residuals elided).
"""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nas import Cell, Genome, Node, Stage, build, cost
from search_spaces import NETS, get_net
from search_spaces import cells
from search_spaces.reference import PUBLISHED, TORCHVISION, torchvision_model, verify
from search_spaces.zoo_resnet import resnet
from tests.helpers import n_params

TWINS = sorted(TORCHVISION)
# weight transfer + forward at 3×64×64 takes seconds for these (big FC layers or very deep)
SLOW = {"alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
        "vgg19_bn", "resnet34", "resnet101", "resnet152", "wide_resnet50_2", "densenet169", "densenet201"}


def _meta_twin(name: str, classes: int, input_shape):
    """(params, MACs) of the torchvision model, built and run on the meta device."""
    with torch.device("meta"):
        model = torchvision_model(name, classes).eval()
        with FlopCounterMode(display=False) as fc:
            model(torch.zeros(1, *input_shape))
    return sum(p.numel() for p in model.parameters()), fc.get_total_flops() // 2


def test_the_zoo_lists_every_required_net():
    required = {"lenet5", "alexnet", "zfnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn",
                "vgg16_bn", "nin", "googlenet", "resnet18", "resnet34", "resnet50",
                "resnet101", "resnet152", "preact_resnet18", "wide_resnet50_2",
                "resnext50_32x4d", "se_resnet50", "densenet121", "squeezenet1_0",
                "squeezenet1_1", "mobilenet_v1", "mobilenet_v2", "shufflenet_v2_x1_0",
                "mnasnet1_0", "resnet20", "efficientnet_b0", "mobilenet_v3_small"}
    assert required <= set(NETS)
    for name in required:  # every net has a reference `nas reproduce` can check against
        assert name in TORCHVISION or name in PUBLISHED, name


@pytest.mark.parametrize("name", TWINS)
def test_twin_params_at_1000_and_10_classes_and_macs(name):
    g = get_net(name)
    params, macs = _meta_twin(name, 1000, g.input)
    report = cost(g)
    assert report.params == params and report.macs == macs
    with torch.device("meta"):
        params10 = n_params(torchvision_model(name, 10))
    assert cost(get_net(name, num_classes=10)).params == params10 < params


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in TWINS])
def test_twin_weights_transfer_and_outputs_match(name):
    g = get_net(name, num_classes=10, input=(3, 64, 64) if name == "alexnet" else (3, 32, 32))
    v = verify(g, name, batch=2, atol=1e-4)
    checks = {c.name: c for c in v.checks}
    assert v.ok, [c.to_dict() for c in v.checks if not c.ok]
    assert checks["weights load (strict)"].ok and checks["outputs"].ok
    assert float(checks["outputs"].measured) <= 1e-4


def test_every_zoo_genome_round_trips_through_json_and_yaml():
    for name in NETS:
        g = get_net(name)
        assert Genome.from_json(g.to_json()) == g, name
        assert Genome.from_yaml(g.to_yaml()).hash == g.hash, name


def test_genome_built_model_has_torchvisions_parameter_names():
    import torchvision
    g = get_net("resnet50")
    names = [k for k, _ in build(g).named_parameters()]
    assert names == [k for k, _ in torchvision.models.resnet50().named_parameters()]
    assert "layer2.0.downsample.0.weight" in names and "layer2.1.downsample.0.weight" not in names


def test_a_wrong_genome_fails_and_names_the_key():
    """A ResNet-18 whose layer3 is 320 wide instead of 256: every check that can see it fails."""
    d = get_net("resnet18", input=(3, 64, 64)).to_dict()
    for s in d["stages"]:
        if s["name"] == "layer3":
            s["out_ch"] = 320
    v = verify(Genome.from_dict(d), "resnet18")
    checks = {c.name: c for c in v.checks}
    assert not v.ok
    assert checks["parameters"].ok is False and checks["conv/linear multiply-adds"].ok is False
    assert checks["weights load (strict)"].ok is False
    assert checks["weights load (strict)"].detail.startswith("layer3.0.conv1.weight: shape 256×128×3×3")
    assert checks["outputs"].ok is None  # not run: the weights did not load


# ============================================================================ lecture figures


def test_resnet_gflops_match_the_lecture():
    """EECS 498 lecture 8 (seeds/002) ResNet table: 1.8 / 3.6 / 3.8 / 7.6 / 11.3 GFLOP at 224.
    The ResNet paper strides the first 1×1 conv of a bottleneck; torchvision (our default)
    strides the 3×3, which costs more: 4.1 / 7.8 / 11.5 (the issue's upper ends)."""
    lecture = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6,
               "resnet152": 11.3}
    torchvision_layout = {"resnet50": 4.1, "resnet101": 7.8, "resnet152": 11.5}
    depths = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3), "resnet152": (3, 8, 36, 3)}
    for name, gflop in lecture.items():
        ours = cost(get_net(name)).flops / 1e9
        if name in depths:  # the paper's bottleneck
            paper = resnet(name, cells.bottleneck(stride_on_3x3=False), depths[name],
                           expansion=4)
            assert abs(cost(paper).flops / 1e9 - gflop) < 0.07, name
            assert abs(ours - torchvision_layout[name]) < 0.02, name
        else:  # the slide gives 0.1 GFLOP resolution (3.666 is printed as 3.6)
            assert abs(ours - gflop) < 0.07, name


def test_googlenet_stem_table():
    """EECS 498 lecture 8 (seeds/002), "GoogLeNet: Aggressive Stem": per layer
    (output C, H/W, memory KB, params k, MFLOP), 124K params and 7.5 MB in total. The slide's
    total "418 MFLOP" is a digit swap: its own rows 118 + 2 + 13 + 347 + 1 sum to 481."""
    table = {"conv1.conv": (64, 112, 3136, 9, 118), "maxpool1": (64, 56, 784, 0, 2),
             "conv2.conv": (64, 56, 784, 4, 13), "conv3.conv": (192, 56, 2352, 111, 347),
             "maxpool2": (192, 28, 588, 0, 1)}
    rows = {layer.name: layer for layer in cost(get_net("googlenet")).layers}
    for name, (c, hw, kb, kparams, mflop) in table.items():
        r = rows[name]
        assert r.out == (c, hw, hw) and round(r.memory_kb) == kb, name
        assert round(r.params / 1000) == kparams and round(r.flops / 1e6) == mflop, name
    stem = [rows[n] for n in table]
    conv_params = sum(r.params for r in stem)
    assert conv_params == 124_096  # "Params: 124K" (convs; torchvision adds 640 BN parameters)
    assert round(sum(r.memory_kb for r in stem) / 1024, 1) == 7.5  # "Memory: 7.5 MB"
    assert round(sum(r.flops for r in stem) / 1e6) == 481 == 118 + 2 + 13 + 347 + 1


def _module(cell: Cell, **args) -> Genome:
    return Genome("module", (Stage("m", cell, args=args, block_name=""),), input=(256, 28, 28))


def test_naive_vs_bottleneck_inception_module():
    """CS231n 2019 lecture 9 (seeds/000): on a 28×28×256 input the naive module (1×1 128,
    3×3 192, 5×5 96, 3×3 pool) costs 854M multiply-adds and outputs 28×28×672; with 1×1
    bottlenecks of 64 (and a 64-wide pool projection) each conv is the slide's product. The
    slide prints the sum as "358M"; its six listed products add up to 271M."""
    naive = _module(cells.inception_naive(), c1=128, c3=192, c5=96)
    assert naive.graph.output_shape == (672, 28, 28)
    assert round(cost(naive).macs / 1e6) == 854
    hw = 28 * 28
    bottleneck = _module(cells.inception(k5=5, norm=False), c1=128, c3r=64, c3=192, c5r=64,
                         c5=96, pp=64)
    rows = {layer.name: layer.macs for layer in cost(bottleneck).layers if layer.macs}
    assert rows == {"m.branch1.conv": hw * 128 * 256, "m.branch2.0.conv": hw * 64 * 256,
                    "m.branch2.1.conv": hw * 192 * 9 * 64, "m.branch3.0.conv": hw * 64 * 256,
                    "m.branch3.1.conv": hw * 96 * 25 * 64, "m.branch4.1.conv": hw * 64 * 256}
    assert round(cost(bottleneck).macs / 1e6) == 271
    assert bottleneck.graph.output_shape == (480, 28, 28)  # the slide's 28×28×480
    assert cost(naive).macs / cost(bottleneck).macs > 3


# ============================================================================ nets without a twin


def test_lenet5_parameters():
    """LeCun et al. 1998, §II.B: about 60,000 trainable parameters, 32×32 input. Ours is the
    modern form (C3 fully connected, linear output): 156 + 2,416 + 48,120 + 10,164 + 850."""
    g = get_net("lenet5")
    assert g.input == (1, 32, 32)
    assert cost(g).params == 61_706 and abs(cost(g).params - 60_000) / 60_000 < 0.03


def test_zfnet_is_alexnet_with_the_lectures_changes():
    """CS231n 2019 lecture 9 (seeds/000): "AlexNet but CONV1 (7x7 stride 2), CONV3,4,5 512,
    1024, 512 filters"; Zeiler & Fergus 2014, Fig. 3: maps 110 → 55 → 26 → 13 → 6."""
    nodes = {n.path: n for n in get_net("zfnet").graph.nodes}
    assert nodes["features.0"].args["kernel"] == (7, 7) and nodes["features.0"].args["stride"] == (2, 2)
    assert [nodes[f"features.{k}"].args["out_ch"] for k in (8, 10, 12)] == [512, 1024, 512]
    assert [nodes[f"features.{k}"].shape[1] for k in (0, 2, 4, 6, 14)] == [110, 55, 26, 13, 6]


def test_se_resnet50_mobilenet_v1_resnet20_nin_parameters():
    # Hu et al., CVPR 2018: SE-ResNet-50 ≈ 28.1M (ResNet-50's 25.6M + ≈2.5M of SE, r = 16)
    se = cost(get_net("se_resnet50")).params
    assert round(se / 1e6, 1) == 28.1 and se - cost(get_net("resnet50")).params > 2.5e6
    # Howard et al. 2017, §4: 1.0 MobileNet-224 has 4.2M parameters and 569M mult-adds
    mb = cost(get_net("mobilenet_v1"))
    assert round(mb.params / 1e6, 1) == 4.2 and round(mb.macs / 1e6) == 569
    # He et al., CVPR 2016, Table 6: CIFAR-10 ResNet-20 has 0.27M parameters (option A)
    r20 = get_net("resnet20")
    assert r20.input == (3, 32, 32) and round(cost(r20).params / 1e6, 2) == 0.27
    # Lin et al., ICLR 2014, released ImageNet NIN: ≈7.6M parameters, no fully connected layer
    nin = get_net("nin")
    assert round(cost(nin).params / 1e6, 1) == 7.6
    assert not any(n.op == "linear" for n in nin.graph.nodes)


def test_preact_resnet18_is_resnet18_reordered():
    """He et al., ECCV 2016: pre-activation changes the order, not the convs: ResNet-18's
    parameters with only the BN layers moved — no BN in the stem or the (conv-only) projection
    shortcuts, one after the last unit, and each unit's first BN on its *input* width."""
    pre = cost(get_net("preact_resnet18")).params
    moved_bn = (-2 * 64                      # stem BN
                - 2 * (128 + 256 + 512)      # downsample.1 BNs
                + 2 * 512                    # final BN
                - 2 * (64 + 128 + 256))      # bn1 of layer2/3/4.0 sees cin = C/2
    assert pre == cost(get_net("resnet18")).params + moved_bn
    block = [n for n in get_net("preact_resnet18").graph.nodes if n.path.startswith("layer1.0.")]
    assert [n.op for n in block[:3]] == ["bn", "relu", "conv"]


@pytest.mark.parametrize("name", ["lenet5", "zfnet", "nin", "preact_resnet18", "se_resnet50",
                                  "mobilenet_v1", "resnet20"])
def test_published_reference_checks_pass(name):
    v = verify(get_net(name), name, batch=1)
    assert v.ok, [c.to_dict() for c in v.checks if not c.ok]
    assert any(c.name == "parameters" or c.name == "structure (paper)" for c in v.checks)


# ============================================================================ the block cells


def _paths(g: Genome, prefix: str) -> list[str]:
    return [n.path[len(prefix):] for n in g.graph.nodes if n.path.startswith(prefix)]


def test_one_basic_cell_serves_a_stage():
    g = get_net("resnet18")
    assert "downsample.0" in _paths(g, "layer2.0.") and "downsample.0" not in _paths(g, "layer2.1.")
    assert "downsample.0" not in _paths(g, "layer1.0.")  # stride 1 and 64 → 64


def test_option_a_shortcut_is_parameter_free():
    g = get_net("resnet20")
    sc = [layer for layer in cost(g).layers if ".shortcut." in layer.name]
    assert {layer.op for layer in sc} == {"maxpool", "zero", "concat"}
    assert sum(layer.params for layer in sc) == 0
    x = torch.randn(2, 3, 32, 32)
    assert build(g)(x).shape == (2, 10)


def _stage(cell: Cell, input=(16, 8, 8), **stage) -> Genome:
    return Genome("g", (Stage("b", cell, **stage),), input=input)


def test_inverted_residual_elides_expansion_and_residual():
    ir = cells.inverted_residual()
    t1 = _stage(ir, out_ch=16, args={"t": 1})
    assert _paths(t1, "b.0.") == ["conv.1.0", "conv.1.1", "conv.1.2", "conv.2", "conv.3", "add"]
    t6 = _stage(ir, out_ch=24, stride=2, repeat=2, args={"t": 6})
    assert _paths(t6, "b.0.")[:3] == ["conv.0.0", "conv.0.1", "conv.0.2"]
    assert "add" not in _paths(t6, "b.0.") and "add" in _paths(t6, "b.1.")
    assert {n.path: n.shape for n in t6.graph.nodes}["b.0.conv.0.0"] == (96, 8, 8)
    se = _stage(cells.inverted_residual(se=0.25), out_ch=16, args={"t": 4})
    assert {n.path: n.args for n in se.graph.nodes}["b.0.se"]["squeeze_ch"] == 4


def test_shuffle_unit_splits_at_stride_1_and_branches_at_stride_2():
    g = _stage(cells.shuffle_v2(), input=(24, 16, 16), out_ch=48, stride=2, repeat=2)
    first, second = _paths(g, "b.0."), _paths(g, "b.1.")
    assert "branch1.0" in first and "split1" not in first
    assert "split1" in second and "branch1.0" not in second
    shapes = {n.path: n.shape for n in g.graph.nodes}
    assert shapes["b.0.cat"] == (48, 8, 8) and shapes["b.1.split2"] == (24, 8, 8)


def test_preact_cell_adds_identity_or_projection():
    g = _stage(cells.preact_basic(), out_ch=32, stride=2, repeat=2)
    assert "add_proj" in _paths(g, "b.0.") and "add" not in _paths(g, "b.0.")
    assert "add" in _paths(g, "b.1.") and "shortcut" not in _paths(g, "b.1.")
    nodes = {n.path: n for n in g.graph.nodes}
    relu1 = nodes["b.0.relu1"].index
    assert nodes["b.0.shortcut"].inputs == (relu1,)  # projection of the pre-activated input
    assert nodes["b.1.add"].inputs[1] == nodes["b.0.add_proj"].index  # identity of raw input


def test_dense_block_grows_by_the_growth_rate():
    g = get_net("densenet121")
    shapes = {n.path: n.shape for n in g.graph.nodes}
    assert shapes["features.denseblock1.denselayer6.cat"][0] == 64 + 6 * 32
    assert shapes["features.transition1.pool"] == (128, 28, 28)


def test_every_block_cell_builds_and_runs():
    """Each registered block, used in a 2-block stage (stride 2 then 1), lowers, costs and runs."""
    args = {"t": 6, "k": 3, "sq": 8, "growth": 8, "exp": 32, "c1": 8, "c3r": 8, "c3": 8,
            "c5r": 4, "c5": 8, "pp": 8, "k5": 5, "stride": 1, "pad": 1}
    for name in cells.BLOCKS:
        cell = cells.BLOCKS.get(name)()
        used = {k: v for k, v in args.items()}
        g = Genome(name, (Stage("b", cell, repeat=2, out_ch=32, stride=2, args=used),),
                   input=(16, 16, 16))
        model = build(g)
        assert n_params(model) == cost(g).params, name
        out = model(torch.randn(2, 16, 16, 16))
        assert tuple(out.shape[1:]) == g.graph.output_shape, name
