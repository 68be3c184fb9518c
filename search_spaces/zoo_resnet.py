"""The residual family as genomes: ResNet-18…152, Wide ResNet-50-2, ResNeXt-50 32×4d,
SE-ResNet-50, pre-activation ResNet-18 and the CIFAR ResNet-20.

The ImageNet nets are torchvision's layout (``ResNet(Bottleneck, [3, 4, 6, 3])``): stem
``conv1/bn1/relu/maxpool``, stages ``layer1``…``layer4`` of one block cell each, head
``avgpool/fc`` — so torchvision's ``state_dict`` loads unchanged.
"""
from __future__ import annotations

from typing import Sequence

from nas.genome import Cell, Genome, Node, Stage
from search_spaces import cells
from search_spaces.registry import NETS

IMAGENET = (3, 224, 224)
CIFAR = (3, 32, 32)


def _stem_7x7(norm: bool = True) -> Cell:
    conv = Node("conv1", "conv", args={"out_ch": 64, "kernel": 7, "stride": 2, "padding": 3})
    pool = Node("maxpool", "maxpool", args={"kernel": 3, "stride": 2, "padding": 1})
    if not norm:
        return Cell((conv, pool))
    return Cell((conv, Node("bn1", "bn"), Node("relu", "relu"), pool))


def _head(pre: Sequence[Node] = ()) -> Cell:
    return Cell((*pre, Node("avgpool", "adaptive_avgpool", args={"size": 1}),
                 Node("flatten", "flatten"), Node("fc", "linear", args={"out_ch": "K"})))


def resnet(name: str, block: Cell, layers: Sequence[int], *, expansion: int = 1,
           widths: Sequence[int] = (64, 128, 256, 512), stem: Cell | None = None,
           head: Cell | None = None, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
    """A ResNet-shaped genome: stem, ``len(layers)`` stages of ``block`` (the first at stride 1,
    the rest at stride 2), head. Stage widths are the block *output* widths."""
    stages = [Stage("", stem or _stem_7x7(), block_name="")]
    for k, (n, w) in enumerate(zip(layers, widths)):
        stages.append(Stage(f"layer{k + 1}", "block", repeat=n, out_ch=w * expansion,
                            stride=1 if k == 0 else 2))
    stages.append(Stage("", head or _head(), block_name=""))
    return Genome(name, tuple(stages), cells={"block": block}, input=tuple(input),
                  num_classes=num_classes)


def _register(name: str, doc: str, make):
    def factory(*, num_classes: int = 1000, input: tuple = IMAGENET) -> Genome:
        return make(name, num_classes=num_classes, input=input)
    factory.__doc__ = doc
    NETS.register(name, factory)


_DEPTHS = {18: (False, (2, 2, 2, 2)), 34: (False, (3, 4, 6, 3)), 50: (True, (3, 4, 6, 3)),
           101: (True, (3, 4, 23, 3)), 152: (True, (3, 8, 36, 3))}
for _d, (_bottle, _layers) in _DEPTHS.items():
    _register(f"resnet{_d}", f"ResNet-{_d} (He et al., CVPR 2016, Table 1; torchvision layout)",
              lambda name, _b=_bottle, _l=_layers, **kw: resnet(
                  name, cells.bottleneck() if _b else cells.basic(), _l,
                  expansion=4 if _b else 1, **kw))

_register("wide_resnet50_2", "Wide ResNet-50-2: bottleneck twice as wide inside (Zagoruyko & "
          "Komodakis, BMVC 2016; torchvision layout)",
          lambda name, **kw: resnet(name, cells.bottleneck(width_per_group=128), (3, 4, 6, 3),
                                    expansion=4, **kw))
_register("resnext50_32x4d", "ResNeXt-50 32×4d: grouped 3×3, cardinality 32 (Xie et al., CVPR "
          "2017, Table 1; torchvision layout)",
          lambda name, **kw: resnet(name, cells.bottleneck(groups=32, width_per_group=4),
                                    (3, 4, 6, 3), expansion=4, **kw))
_register("se_resnet50", "SE-ResNet-50: ResNet-50 with squeeze-and-excitation (reduction 16) on "
          "every bottleneck (Hu et al., CVPR 2018, Table 1)",
          lambda name, **kw: resnet(name, cells.se_bottleneck(reduction=16), (3, 4, 6, 3),
                                    expansion=4, **kw))
_register("preact_resnet18", "Pre-activation ResNet-18 (He et al., \"Identity Mappings in Deep "
          "Residual Networks\", ECCV 2016): BN-ReLU-conv units, a bare conv1 stem, and BN-ReLU "
          "after the last unit",
          lambda name, **kw: resnet(name, cells.preact_basic(), (2, 2, 2, 2),
                                    stem=_stem_7x7(norm=False),
                                    head=_head((Node("bn", "bn"), Node("relu", "relu"))), **kw))


def cifar_resnet(depth: int, name: str, *, num_classes: int = 10, input: tuple = CIFAR
                 ) -> Genome:
    """ResNet-``depth`` for CIFAR-10 (He et al., CVPR 2016, §4.2): depth = 6n+2; a 3×3 conv of
    16, three stages of n basic blocks at 16/32/64 filters on 32×32/16×16/8×8 maps, global
    average pool, fc. Shortcuts are option A (identity; subsampled input with zero-padded new
    channels), as the paper uses for all its CIFAR ResNets."""
    if (depth - 2) % 6:
        raise ValueError(f"a CIFAR ResNet has 6n+2 layers, got {depth}")
    n = (depth - 2) // 6
    stem = Cell((Node("conv1", "conv", args={"out_ch": 16, "kernel": 3}), Node("bn1", "bn"),
                 Node("relu", "relu")))
    return resnet(name, cells.basic(shortcut="A"), (n, n, n), widths=(16, 32, 64),
                  stem=stem, num_classes=num_classes, input=input)


@NETS.register("resnet20")
def resnet20(*, num_classes: int = 10, input: tuple = CIFAR) -> Genome:
    """ResNet-20 for CIFAR-10 (He et al., CVPR 2016, §4.2, n=3): the 0.27M parameters are all
    in convs, BN and fc (option A shortcuts)."""
    return cifar_resnet(20, "resnet20", num_classes=num_classes, input=input)


@NETS.register("resnet110")
def resnet110(*, num_classes: int = 10, input: tuple = CIFAR) -> Genome:
    """ResNet-110 for CIFAR-10 (He et al., CVPR 2016, §4.2, Table 6, n=18): 1.7M parameters."""
    return cifar_resnet(110, "resnet110", num_classes=num_classes, input=input)


@NETS.register("resnet110_sd")
def resnet110_sd(*, num_classes: int = 10, input: tuple = CIFAR) -> Genome:
    """ResNet-110 with stochastic depth (Huang et al., ECCV 2016, §4): each of the 54 residual
    blocks is dropped per sample in training with survival probability decaying linearly from
    1 to p_L = 0.5 (block l survives with 1 − l/54·0.5); the identity at test time, so the
    parameters (1.7M), FLOPs and eval outputs are ResNet-110's."""
    g = cells.with_stochastic_depth(cifar_resnet(110, "resnet110_sd", num_classes=num_classes,
                                                 input=input), p_last=0.5)
    return g
