"""The mobile family as genomes: MobileNet v1/v2/v3-small, MnasNet-1.0, ShuffleNet V2 1.0×,
EfficientNet-B0.

Each is written as its paper's table (torchvision's ``t, c, n, s`` rows): one stage per row,
the block a cell from :mod:`search_spaces.cells`, node names torchvision's module names.
"""
from __future__ import annotations

from nas.genome import Cell, Genome, Node, Stage
from search_spaces import cells
from search_spaces.nets import seq
from search_spaces.registry import NETS

IMAGENET = (3, 224, 224)


def _head(*, dropout: float | None, pool: str = "avgpool", hidden: int | None = None,
          hidden_act: str = "hardswish") -> Cell:
    """Global average pool, flatten, classifier (``classifier.N`` as torchvision numbers it)."""
    nodes = [Node(pool, "adaptive_avgpool", args={"size": 1}), Node("flatten", "flatten")]
    layers: list[tuple[str, dict]] = []
    if hidden is not None:
        layers += [("linear", {"out_ch": hidden}), (hidden_act, {})]
    if dropout is not None:
        layers.append(("dropout", {"p": dropout}))
    layers.append(("linear", {"out_ch": "K"}))
    nodes += [Node(f"classifier.{k}", o, args=a) for k, (o, a) in enumerate(layers)]
    return Cell(tuple(nodes))


def _genome(name, stages, cell_defs, num_classes, input) -> Genome:
    return Genome(name, tuple(stages), cells=cell_defs, input=tuple(input),
                  num_classes=num_classes)


# ----------------------------------------------------------------------------- MobileNet v1

#: (out_ch, repeat, stride) of the depthwise-separable stages (Howard et al. 2017, Table 1)
MOBILENET_V1 = [(64, 1, 1), (128, 2, 2), (256, 2, 2), (512, 6, 2), (1024, 2, 2)]


@NETS.register("mobilenet_v1")
def mobilenet_v1(*, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """MobileNet v1 1.0-224 (Howard et al., "MobileNets", 2017, Table 1): a 3×3/2 conv of 32
    then 13 depthwise-separable blocks (64 … 1024), global average pool, fc. The table's
    "s2" on the 13th block's 7×7 input is taken as stride 1, as every reference implementation
    does (it would otherwise shrink the map to 4×4 before the 7×7 pool)."""
    stages = [Stage("features", cells.conv_bn_act(out_ch=32, stride=2), block_name="0")]
    start = 1
    for c, n, s in MOBILENET_V1:
        stages.append(Stage("features", "dws", repeat=n, out_ch=c, stride=s, start=start))
        start += n
    stages.append(Stage("", Cell((Node("avgpool", "adaptive_avgpool", args={"size": 1}),
                                  Node("flatten", "flatten"),
                                  Node("fc", "linear", args={"out_ch": "K"}))), block_name=""))
    return _genome("mobilenet_v1", stages, {"dws": cells.depthwise_separable()}, num_classes,
                   input)


# ----------------------------------------------------------------------------- MobileNet v2

#: t, c, n, s rows (Sandler et al. 2018, Table 2)
MOBILENET_V2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]


@NETS.register("mobilenet_v2")
def mobilenet_v2(*, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """MobileNetV2 1.0 (Sandler et al., CVPR 2018, Table 2; torchvision layout): 3×3/2 conv of
    32, inverted residual stages of the t/c/n/s table, 1×1 conv to 1280, pool, dropout 0.2, fc."""
    act = {"act": "relu6"}
    stages = [Stage("features", cells.conv_bn_act(out_ch=32, stride=2, **act), block_name="0")]
    start = 1
    for t, c, n, s in MOBILENET_V2:
        stages.append(Stage("features", "ir" if t != 1 else "ir_t1", repeat=n, out_ch=c,
                            stride=s, args={"t": t}, start=start))
        start += n
    stages.append(Stage("features", cells.conv_bn_act(out_ch=1280, kernel=1, stride=1, **act),
                        block_name=str(start)))
    stages.append(Stage("", _head(dropout=0.2), block_name=""))
    return _genome("mobilenet_v2", stages,
                   {"ir": cells.inverted_residual(), "ir_t1": cells.inverted_residual(
                       t=1, expand=False)}, num_classes, input)


# ----------------------------------------------------------------------------- MnasNet

#: t, c, n, s, k rows of MnasNet-B1 (Tan et al., CVPR 2019, Fig. 7; torchvision ``_stack``)
MNASNET = [(3, 24, 3, 2, 3), (3, 40, 3, 2, 5), (6, 80, 3, 2, 5), (6, 96, 2, 1, 3),
           (6, 192, 4, 2, 5), (6, 320, 1, 1, 3)]
_MNAS_BN = {"momentum": 1 - 0.9997}


@NETS.register("mnasnet1_0")
def mnasnet1_0(*, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """MnasNet-B1 1.0 (Tan et al., "MnasNet", CVPR 2019; torchvision layout ``layers.N``): a
    3×3/2 conv of 32, a separable 3×3 to 16, six inverted-residual stacks, 1×1 conv to 1280."""
    bn = ("bn", _MNAS_BN)
    stem = [("conv", {"out_ch": 32, "kernel": 3, "stride": 2}), bn, ("relu", {}),
            ("dwconv", {"kernel": 3}), bn, ("relu", {}), ("conv", {"out_ch": 16, "kernel": 1}),
            bn]
    stages = [Stage("layers", seq(stem), block_name="")]
    for j, (t, c, n, s, k) in enumerate(MNASNET):
        stages.append(Stage(f"layers.{8 + j}", "mnas", repeat=n, out_ch=c, stride=s,
                            args={"t": t, "k": k}))
    stages.append(Stage("layers", seq([("conv", {"out_ch": 1280, "kernel": 1}), bn,
                                       ("relu", {})], start=14), block_name=""))
    stages.append(Stage("", _head(dropout=0.2, pool="pool"), block_name=""))
    return _genome("mnasnet1_0", stages, {"mnas": cells.mnas()}, num_classes, input)


# ----------------------------------------------------------------------------- ShuffleNet V2

@NETS.register("shufflenet_v2_x1_0")
def shufflenet_v2_x1_0(*, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """ShuffleNet V2 1.0× (Ma et al., ECCV 2018, Table 5; torchvision layout): 3×3/2 conv of 24,
    max-pool, stages of 4/8/4 units at 116/232/464 channels, 1×1 conv to 1024, pool, fc."""
    stages = [Stage("conv1", cells.conv_bn_act(out_ch=24, stride=2), block_name=""),
              Stage("", Cell((Node("maxpool", "maxpool",
                                   args={"kernel": 3, "stride": 2, "padding": 1}),)),
                    block_name="")]
    for j, (n, c) in enumerate(((4, 116), (8, 232), (4, 464))):
        stages.append(Stage(f"stage{j + 2}", "unit", repeat=n, out_ch=c, stride=2))
    stages.append(Stage("conv5", cells.conv_bn_act(out_ch=1024, kernel=1, stride=1),
                        block_name=""))
    stages.append(Stage("", Cell((Node("pool", "gap"), Node("flatten", "flatten"),
                                  Node("fc", "linear", args={"out_ch": "K"}))), block_name=""))
    return _genome("shufflenet_v2_x1_0", stages, {"unit": cells.shuffle_v2()}, num_classes,
                   input)


# ----------------------------------------------------------------------------- EfficientNet-B0

#: t, k, s, c, n rows (Tan & Le, ICML 2019, Table 1)
EFFICIENTNET_B0 = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                   (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


@NETS.register("efficientnet_b0")
def efficientnet_b0(*, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """EfficientNet-B0 (Tan & Le, "EfficientNet", ICML 2019, Table 1; torchvision layout):
    3×3/2 conv of 32, seven MBConv stages with SE and SiLU, 1×1 conv to 1280, pool, fc."""
    act = {"act": "silu"}
    stages = [Stage("features", cells.conv_bn_act(out_ch=32, stride=2, **act), block_name="0")]
    for j, (t, k, s, c, n) in enumerate(EFFICIENTNET_B0):
        stages.append(Stage(f"features.{j + 1}", "mbconv" if t != 1 else "mbconv_t1", repeat=n,
                            out_ch=c, stride=s, args={"t": t, "k": k}))
    stages.append(Stage("features", cells.conv_bn_act(out_ch=1280, kernel=1, stride=1, **act),
                        block_name="8"))
    stages.append(Stage("", _head(dropout=0.2), block_name=""))
    return _genome("efficientnet_b0", stages,
                   {"mbconv": cells.mbconv(), "mbconv_t1": cells.mbconv(t=1, expand=False)},
                   num_classes, input)


# ----------------------------------------------------------------------------- MobileNetV3-small

#: kernel, expanded, out, SE, activation, stride (Howard et al., ICCV 2019, Table 2)
MOBILENET_V3_SMALL = [(3, 16, 16, True, "relu", 2), (3, 72, 24, False, "relu", 2),
                      (3, 88, 24, False, "relu", 1), (5, 96, 40, True, "hardswish", 2),
                      (5, 240, 40, True, "hardswish", 1), (5, 240, 40, True, "hardswish", 1),
                      (5, 120, 48, True, "hardswish", 1), (5, 144, 48, True, "hardswish", 1),
                      (5, 288, 96, True, "hardswish", 2), (5, 576, 96, True, "hardswish", 1),
                      (5, 576, 96, True, "hardswish", 1)]


@NETS.register("mobilenet_v3_small")
def mobilenet_v3_small(*, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """MobileNetV3-Small (Howard et al., "Searching for MobileNetV3", ICCV 2019, Table 2;
    torchvision layout): 3×3/2 conv of 16 (h-swish), 11 bnecks, 1×1 conv to 576, pool,
    1024-wide h-swish classifier layer, dropout 0.2, fc."""
    bn = {"eps": 1e-3, "momentum": 0.01}
    stages = [Stage("features", cells.conv_bn_act(out_ch=16, stride=2, act="hardswish", **bn),
                    block_name="0")]
    cell_defs: dict[str, Cell] = {}
    cin = 16
    for j, (k, exp, c, se, act, s) in enumerate(MOBILENET_V3_SMALL):
        expand = exp != cin
        key = f"bneck_{act}{'_se' if se else ''}{'' if expand else '_noexpand'}"
        cell_defs.setdefault(key, cells.mbv3(expand=expand, se=se, act=act))
        stages.append(Stage("features", key, out_ch=c, stride=s, args={"exp": exp, "k": k},
                            start=j + 1))
        cin = c
    stages.append(Stage("features", cells.conv_bn_act(out_ch=576, kernel=1, stride=1,
                                                      act="hardswish", **bn), block_name="12"))
    stages.append(Stage("", _head(dropout=0.2, hidden=1024), block_name=""))
    return _genome("mobilenet_v3_small", stages, cell_defs, num_classes, input)
