"""Cost model: the lecture's AlexNet table row by row, VGG-16's parameter count, and for
every test genome the conv/linear MACs equal FlopCounterMode's count ÷ 2 and the params equal
the built module's."""
import pytest
import torch
import torchvision

from nas import Cell, Genome, Node, Stage, build, cost
from search_spaces import get_net
from tests.helpers import measured_macs, n_params

# EECS 498 lecture 8 (seeds/002_dded8d1c23052ae6.txt), AlexNet at 3×227×227:
# layer: (C, H/W out, memory KB, params k, MFLOP)
ALEXNET_TABLE = {
    "features.0": (64, 56, 784, 23, 73), "features.2": (64, 27, 182, 0, 0),
    "features.3": (192, 27, 547, 307, 224), "features.5": (192, 13, 127, 0, 0),
    "features.6": (384, 13, 254, 664, 112), "features.8": (256, 13, 169, 885, 145),
    "features.10": (256, 13, 169, 590, 100), "features.12": (256, 6, 36, 0, 0),
    "classifier.1": (4096, None, 16, 37749, 38), "classifier.4": (4096, None, 16, 16777, 17),
    "classifier.6": (1000, None, 4, 4096, 4),
}


def test_alexnet_reproduces_the_lecture_table():
    report = cost(get_net("alexnet", input=(3, 227, 227)))
    rows = {layer.name: layer for layer in report.layers}
    for name, (c, hw, mem, kparams, mflop) in ALEXNET_TABLE.items():
        r = rows[name]
        assert r.out[0] == c and (hw is None or r.out[1:] == (hw, hw)), name
        assert round(r.memory_kb) == mem, name
        # the slide's FC rows count weights only (9216·4096 = 37,749k); we also count the bias
        weights = r.params - (r.out[0] if r.op == "linear" else 0)
        assert round(weights / 1000) == kparams, name
        if name == "features.8":
            # the slide prints 145; its own arithmetic 256·13·13·384·9 = 149.5M (a slide typo)
            assert r.flops == 256 * 13 * 13 * 384 * 9
        else:
            assert round(r.flops / 1e6) == mflop, name
    assert rows["features.2"].flops == 64 * 27 * 27 * 3 * 3  # the lecture's 0.4 MFLOP pooling
    assert rows["classifier.1"].flops == 9216 * 4096  # FC flops = Cin·Cout
    assert abs(report.params - 61.1e6) < 0.1e6 and abs(report.flops - 0.72e9) < 0.02e9


def test_vgg16_has_torchvisions_parameter_count():
    assert cost(get_net("vgg16")).params == 138_357_544


@pytest.mark.parametrize("name", ["alexnet", "vgg16"])
@pytest.mark.parametrize("classes", [1000, 10])
def test_built_params_equal_torchvision(name, classes):
    g = get_net(name, num_classes=classes)
    tv = getattr(torchvision.models, name)(num_classes=classes)
    assert n_params(build(g)) == n_params(tv) == cost(g).params


def _zoo_of_ops() -> Genome:
    """One genome that uses every costed primitive, to cross-check them all at once."""
    nodes = (
        Node("c1", "conv", args={"out_ch": 12, "kernel": [3, 5], "stride": [1, 2], "bias": True}),
        Node("g1", "conv", args={"out_ch": 24, "kernel": 3, "groups": 4, "dilation": 2}),
        Node("dw", "dwconv", args={"kernel": 5, "stride": 2, "multiplier": 2}),
        Node("sep", "sepconv", args={"out_ch": 16, "kernel": 3}),
        Node("fc7", "fconv", args={"out_ch": 16, "n": 7, "stride": 2}),
        Node("se", "se", args={"squeeze_ch": 4}),
        Node("sh", "channel_shuffle", args={"groups": 4}),
        Node("lo", "channel_slice", args={"start": 0, "end": 8}),
        Node("hi", "channel_slice", ("sh",), {"start": 8, "end": 16}),
        Node("cat", "concat", ("lo", "hi")),
        Node("bn", "bn"), Node("r", "relu6"),
        Node("ap", "avgpool", args={"kernel": 3, "stride": 1, "padding": 1}),
        Node("mp", "maxpool", args={"kernel": 2, "ceil_mode": True}),
        Node("gp", "gap"), Node("fl", "flatten"), Node("fc", "linear", args={"out_ch": "K"}),
    )
    return Genome("ops", stages=(Stage("", Cell(nodes=nodes), block_name=""),), input=(3, 33, 31),
                  num_classes=7)


@pytest.mark.parametrize("make", [
    lambda: _zoo_of_ops(),
    lambda: get_net("alexnet", num_classes=10, input=(3, 96, 96)),
    lambda: get_net("vgg11_bn", num_classes=10, input=(3, 32, 32)),
    lambda: Genome.load("configs/genomes/small_resnet.yaml"),
], ids=["all-ops", "alexnet-96", "vgg11_bn-32", "small_resnet"])
def test_macs_and_params_match_the_built_module(make):
    g = make()
    model = build(g)
    report = cost(g)
    assert report.params == n_params(model)
    assert report.macs == measured_macs(model, g.input)
    out = model(torch.randn(2, *g.input))
    assert tuple(out.shape[1:]) == g.graph.output_shape


def test_every_layer_shape_matches_the_forward_pass():
    g = _zoo_of_ops()
    model = build(g)
    seen = {}
    for name, mod in model.named_modules():
        if name:
            mod.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, tuple(o.shape[1:])))
    model(torch.randn(1, *g.input))
    for layer in cost(g).layers:
        if layer.name in seen:
            assert seen[layer.name] == layer.out, layer.name
    assert len(seen) >= 12
