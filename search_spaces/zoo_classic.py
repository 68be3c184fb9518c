"""Early classic nets as genomes: LeNet-5, ZFNet, Network in Network, SqueezeNet 1.0/1.1.

LeNet-5, ZFNet and NiN have no torchvision twin: their node names follow the papers; SqueezeNet
follows torchvision (``features.N``, ``classifier.N``) so its weights load unchanged.
"""
from __future__ import annotations

from nas.genome import Cell, Genome, Node, Stage
from search_spaces import cells
from search_spaces.nets import seq
from search_spaces.registry import NETS

IMAGENET = (3, 224, 224)


def _conv(c, k, s=1, p=0):
    return ("conv", {"out_ch": c, "kernel": k, "stride": s, "padding": p, "bias": True})


_RELU = ("relu", {})


# ----------------------------------------------------------------------------- LeNet-5

@NETS.register("lenet5")
def lenet5(*, num_classes: int = 10, input: tuple = (1, 32, 32)) -> Genome:
    """LeNet-5 (LeCun et al., "Gradient-Based Learning Applied to Document Recognition",
    Proc. IEEE 1998, §II.B, Fig. 2): C1 6@5×5, S2 2×2 subsampling, C3 16@5×5, S4, C5 120@5×5,
    F6 84, output. The modern form: tanh, average pools without trainable coefficients, C3
    connected to all S2 maps and a linear output layer instead of the RBF units — 61.7k
    parameters against the paper's 60k."""
    tanh = ("tanh", {})
    pool = ("avgpool", {"kernel": 2, "stride": 2})
    layers = [("c1", *_conv(6, 5)), ("c1_act", *tanh), ("s2", *pool),
              ("c3", *_conv(16, 5)), ("c3_act", *tanh), ("s4", *pool),
              ("c5", *_conv(120, 5)), ("c5_act", *tanh), ("flatten", "flatten", {}),
              ("f6", "linear", {"out_ch": 84}), ("f6_act", *tanh),
              ("output", "linear", {"out_ch": "K"})]
    return Genome("lenet5", (Stage("", seq(layers), block_name=""),), input=tuple(input),
                  num_classes=num_classes)


# ----------------------------------------------------------------------------- ZFNet

@NETS.register("zfnet")
def zfnet(*, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """ZFNet (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV
    2014, Fig. 3) with the lecture's filter counts ("AlexNet but CONV1 7×7 stride 2, CONV3,4,5
    512, 1024, 512 filters", the paper's best model of Table 2): 224 → 110 → 55 → 26 → 13 → 6
    as in Fig. 3 (overlapping 3×3/2 pools rounding up, local response normalisation after
    the first two layers), then fc 4096-4096-K with dropout."""
    pool = ("maxpool", {"kernel": 3, "stride": 2, "ceil_mode": True})
    lrn = ("lrn", {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0})
    features = seq([_conv(96, 7, 2, 1), _RELU, pool, lrn, _conv(256, 5, 2, 0), _RELU, pool, lrn,
                    _conv(512, 3, 1, 1), _RELU, _conv(1024, 3, 1, 1), _RELU,
                    _conv(512, 3, 1, 1), _RELU, ("maxpool", {"kernel": 3, "stride": 2})])
    head = [("flatten", "flatten", {})]
    for k, (o, a) in enumerate([("dropout", {"p": 0.5}), ("linear", {"out_ch": 4096}), _RELU,
                                ("dropout", {"p": 0.5}), ("linear", {"out_ch": 4096}), _RELU,
                                ("linear", {"out_ch": "K"})]):
        head.append((f"classifier.{k}", o, a))
    return Genome("zfnet", (Stage("features", features, block_name=""),
                            Stage("", seq(head), block_name="")),
                  input=tuple(input), num_classes=num_classes)


# ----------------------------------------------------------------------------- NiN

#: out_ch, kernel, stride, padding of the four mlpconv layers of the ImageNet NIN
NIN = [(96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1), (1024, 3, 1, 1)]


@NETS.register("nin")
def nin(*, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """Network in Network (Lin et al., ICLR 2014), the ImageNet model released with the paper
    (Caffe Model Zoo "NIN-Imagenet"): four mlpconv layers (a k×k conv followed by two 1×1
    convs, each with ReLU) of 96/256/384/1024 maps, 3×3/2 max-pools between them and dropout
    before the last; the last 1×1 conv has one map per class, averaged by global pooling —
    no fully connected layer."""
    pool = Cell((Node("pool", "maxpool", args={"kernel": 3, "stride": 2, "ceil_mode": True}),))
    stages = []
    for j, (c, k, s, p) in enumerate(NIN):
        last = j == len(NIN) - 1
        if last:
            stages.append(Stage("", Cell((Node("dropout", "dropout", args={"p": 0.5}),)),
                                block_name=""))
        stages.append(Stage(f"mlpconv{j + 1}", "mlpconv_out" if last else "mlpconv", out_ch=c,
                            args={"k": k, "stride": s, "pad": p}, block_name=""))
        if not last:
            stages.append(Stage(f"pool{j + 1}", pool, block_name=""))
    stages.append(Stage("", Cell((Node("avgpool", "gap"), Node("flatten", "flatten"))),
                        block_name=""))
    return Genome("nin", tuple(stages), cells={"mlpconv": cells.mlpconv(),
                                               "mlpconv_out": cells.mlpconv(out_ch="K")},
                  input=tuple(input), num_classes=num_classes)


# ----------------------------------------------------------------------------- SqueezeNet

def squeezenet(version: str, *, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """SqueezeNet 1.0 / 1.1 (Iandola et al. 2016, Table 1; torchvision layout): a conv stem,
    fire modules between 3×3/2 max-pools, dropout, a 1×1 conv to one map per class, global
    average pool. 1.1 uses a 3×3 stem of 64 and pools earlier (2.4× less computation)."""
    pool = ("maxpool", {"kernel": 3, "stride": 2, "ceil_mode": True})
    if version == "1_0":
        stem, plan = [_conv(96, 7, 2), _RELU, pool], [(16, 128), (16, 128), (32, 256), "M",
                                                     (32, 256), (48, 384), (48, 384), (64, 512),
                                                     "M", (64, 512)]
    else:
        stem, plan = [_conv(64, 3, 2), _RELU, pool], [(16, 128), (16, 128), "M", (32, 256),
                                                     (32, 256), "M", (48, 384), (48, 384),
                                                     (64, 512), (64, 512)]
    stages = [Stage("features", seq(stem), block_name="")]
    idx = len(stem)
    for item in plan:
        if item == "M":
            stages.append(Stage("features", seq([pool], start=idx), block_name=""))
        else:
            sq, c = item
            stages.append(Stage("features", "fire", out_ch=c, args={"sq": sq}, start=idx))
        idx += 1
    head = [("classifier.0", "dropout", {"p": 0.5}),
            ("classifier.1", "conv", {"out_ch": "K", "kernel": 1, "bias": True}),
            ("classifier.2", "relu", {}), ("classifier.3", "adaptive_avgpool", {"size": 1}),
            ("flatten", "flatten", {})]
    return Genome(f"squeezenet{version}", tuple(stages) + (Stage("", seq(head), block_name=""),),
                  cells={"fire": cells.fire()}, input=tuple(input), num_classes=num_classes)


@NETS.register("squeezenet1_0")
def squeezenet1_0(*, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """SqueezeNet 1.0 (Iandola et al. 2016, Table 1; torchvision layout)."""
    return squeezenet("1_0", num_classes=num_classes, input=input)


@NETS.register("squeezenet1_1")
def squeezenet1_1(*, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """SqueezeNet 1.1 (the SqueezeNet repository's v1.1: 3×3 stem, earlier pools; torchvision)."""
    return squeezenet("1_1", num_classes=num_classes, input=input)
