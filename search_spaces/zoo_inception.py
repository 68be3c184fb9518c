"""GoogLeNet (Inception v1) as a genome, torchvision's layout (auxiliary classifiers off)."""
from __future__ import annotations

from nas.genome import Cell, Genome, Node, Stage
from search_spaces import cells
from search_spaces.registry import NETS

#: c1, c3r, c3, c5r, c5, pp of each inception module (Szegedy et al. 2015, Table 1)
GOOGLENET = {
    "inception3a": (64, 96, 128, 16, 32, 32), "inception3b": (128, 128, 192, 32, 96, 64),
    "inception4a": (192, 96, 208, 16, 48, 64), "inception4b": (160, 112, 224, 24, 64, 64),
    "inception4c": (128, 128, 256, 24, 64, 64), "inception4d": (112, 144, 288, 32, 64, 64),
    "inception4e": (256, 160, 320, 32, 128, 128), "inception5a": (256, 160, 320, 32, 128, 128),
    "inception5b": (384, 192, 384, 48, 128, 128),
}
_POOL_AFTER = {"inception3b": ("maxpool3", 3), "inception4e": ("maxpool4", 2)}


def _basic_conv(name: str, out_ch: int, kernel: int, **conv) -> list[Node]:
    return [Node(f"{name}.conv", "conv", args={"out_ch": out_ch, "kernel": kernel, **conv}),
            Node(f"{name}.bn", "bn", args={"eps": 1e-3}), Node(f"{name}.relu", "relu")]


def _maxpool(name: str, k: int = 3) -> Node:
    return Node(name, "maxpool", args={"kernel": k, "stride": 2, "ceil_mode": True})


def stem() -> Cell:
    """The aggressive stem 224 → 28 (Szegedy et al. 2015, Table 1; EECS 498 lecture 8's
    GoogLeNet stem table): 7×7/2 conv 64, 3×3/2 pool, 1×1 conv 64, 3×3 conv 192, 3×3/2 pool."""
    return Cell((*_basic_conv("conv1", 64, 7, stride=2, padding=3), _maxpool("maxpool1"),
                 *_basic_conv("conv2", 64, 1), *_basic_conv("conv3", 192, 3, padding=1),
                 _maxpool("maxpool2")))


@NETS.register("googlenet")
def googlenet(*, num_classes: int = 1000, input: tuple = (3, 224, 224)) -> Genome:
    """GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015,
    Table 1) as torchvision builds it: BN after every conv (``BasicConv2d``), 3×3 convs in the
    "5×5" branch, ceil-mode pools, no LRN, auxiliary classifiers off, no input transform."""
    stages = [Stage("", stem(), block_name="")]
    for name, (c1, c3r, c3, c5r, c5, pp) in GOOGLENET.items():
        stages.append(Stage(name, "inception", block_name="",
                            args={"c1": c1, "c3r": c3r, "c3": c3, "c5r": c5r, "c5": c5,
                                  "pp": pp, "k5": 3}))
        if name in _POOL_AFTER:
            pool, k = _POOL_AFTER[name]
            stages.append(Stage("", Cell((_maxpool(pool, k),)), block_name=""))
    stages.append(Stage("", Cell((Node("avgpool", "adaptive_avgpool", args={"size": 1}),
                                  Node("flatten", "flatten"),
                                  Node("dropout", "dropout", args={"p": 0.2}),
                                  Node("fc", "linear", args={"out_ch": "K"}))), block_name=""))
    return Genome("googlenet", tuple(stages), cells={"inception": cells.inception()},
                  input=tuple(input), num_classes=num_classes)
