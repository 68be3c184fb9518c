"""The classic networks as genomes.

Each entry of ``NETS`` is a keyword-only factory ``(num_classes=..., input=...) -> Genome``.
Node names follow torchvision's module names where torchvision has the network, so its
``state_dict`` loads into the genome-built model unchanged. AlexNet and VGG (flat chains) live
here; the other families, built from the block cells of :mod:`search_spaces.cells`, in
``zoo_resnet`` (ResNet, Wide ResNet, ResNeXt, SE-ResNet, pre-act, CIFAR ResNet-20),
``zoo_mobile`` (MobileNet v1/v2/v3, MnasNet, ShuffleNet V2, EfficientNet), ``zoo_classic``
(LeNet-5, ZFNet, NiN, SqueezeNet), ``zoo_inception`` (GoogLeNet) and ``zoo_densenet``.
What each is verified against is in :mod:`search_spaces.reference`.
"""
from __future__ import annotations

from typing import Sequence

from nas.genome import Cell, Genome, Node, Stage
from search_spaces.registry import NETS


def seq(layers: Sequence[tuple], start: int = 0) -> Cell:
    """A chain cell from ``(op, args)`` pairs, nodes named ``start, start+1, ...``
    (torchvision's ``nn.Sequential`` numbering). ``(name, op, args)`` triples set the name."""
    nodes = []
    for k, layer in enumerate(layers):
        if len(layer) == 3:
            name, o, args = layer
        else:
            (o, args), name = layer, str(start + k)
        nodes.append(Node(name, o, args=args))
    return Cell(nodes=tuple(nodes))


def _relu():
    return ("relu", {})


# ----------------------------------------------------------------------------- AlexNet

@NETS.register("alexnet")
def alexnet(*, num_classes: int = 1000, input: tuple = (3, 224, 224)) -> Genome:
    """AlexNet, torchvision's one-GPU variant (64-192-384-256-256 filters; Krizhevsky 2014)."""
    conv = lambda c, k, s, p: ("conv", {"out_ch": c, "kernel": k, "stride": s, "padding": p,  # noqa: E731
                                        "bias": True})
    pool = ("maxpool", {"kernel": 3, "stride": 2})
    features = seq([conv(64, 11, 4, 2), _relu(), pool, conv(192, 5, 1, 2), _relu(), pool,
                    conv(384, 3, 1, 1), _relu(), conv(256, 3, 1, 1), _relu(),
                    conv(256, 3, 1, 1), _relu(), pool])
    head = Cell(nodes=(Node("avgpool", "adaptive_avgpool", args={"size": 6}),
                       Node("flatten", "flatten"),
                       *seq([("dropout", {"p": 0.5}), ("linear", {"out_ch": 4096}), _relu(),
                             ("dropout", {"p": 0.5}), ("linear", {"out_ch": 4096}), _relu(),
                             ("linear", {"out_ch": "K"})]).nodes))
    head = Cell(nodes=tuple(n if n.name in ("avgpool", "flatten") else
                            Node(f"classifier.{n.name}", n.op, args=n.args) for n in head.nodes))
    return Genome("alexnet", stages=(Stage("features", features, block_name=""),
                                     Stage("", head, block_name="")),
                  input=input, num_classes=num_classes)


# ----------------------------------------------------------------------------- VGG

VGG_CFGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def vgg(cfg: Sequence, name: str, batch_norm: bool, *, num_classes: int = 1000,
        input: tuple = (3, 224, 224)) -> Genome:
    """VGG (Simonyan & Zisserman 2015) as torchvision builds it: 3×3 convs, 2×2 max-pools,
    adaptive 7×7 average pool, 4096-4096-K classifier."""
    layers: list[tuple] = []
    for v in cfg:
        if v == "M":
            layers.append(("maxpool", {"kernel": 2, "stride": 2}))
            continue
        layers.append(("conv", {"out_ch": v, "kernel": 3, "padding": 1, "bias": True}))
        if batch_norm:
            layers.append(("bn", {}))
        layers.append(_relu())
    head = [("avgpool", "adaptive_avgpool", {"size": 7}), ("flatten", "flatten", {})]
    for k, (o, a) in enumerate([("linear", {"out_ch": 4096}), _relu(), ("dropout", {"p": 0.5}),
                                ("linear", {"out_ch": 4096}), _relu(), ("dropout", {"p": 0.5}),
                                ("linear", {"out_ch": "K"})]):
        head.append((f"classifier.{k}", o, a))
    return Genome(name, stages=(Stage("features", seq(layers), block_name=""),
                                Stage("", seq(head), block_name="")),
                  input=input, num_classes=num_classes)


def _register_vgg(name: str, bn: bool):
    def factory(*, num_classes: int = 1000, input: tuple = (3, 224, 224)) -> Genome:
        return vgg(VGG_CFGS[name], name + ("_bn" if bn else ""), bn, num_classes=num_classes,
                   input=input)
    factory.__doc__ = f"{name.upper()}{' with batch-norm' if bn else ''} (torchvision layout)"
    NETS.register(name + ("_bn" if bn else ""), factory)


for _n in VGG_CFGS:
    _register_vgg(_n, False)
    _register_vgg(_n, True)
