"""DenseNet-BC 121/169/201 as genomes, torchvision's layout (``features.denseblockN.denselayerM``)."""
from __future__ import annotations

from typing import Sequence

from nas.genome import Cell, Genome, Node, Stage
from search_spaces import cells
from search_spaces.registry import NETS


def densenet(name: str, blocks: Sequence[int], *, growth: int = 32, init: int = 64,
             bn_size: int = 4, num_classes: int = 1000, input: tuple = (3, 224, 224)) -> Genome:
    """DenseNet-BC (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017,
    Table 1): 7×7/2 conv, 3×3/2 pool, dense blocks of BN-ReLU-1×1-BN-ReLU-3×3 layers (growth
    ``k``) joined by transitions that halve the width and the map, BN, ReLU, pool, fc."""
    stem = Cell((Node("conv0", "conv", args={"out_ch": init, "kernel": 7, "stride": 2,
                                             "padding": 3}),
                 Node("norm0", "bn"), Node("relu0", "relu"),
                 Node("pool0", "maxpool", args={"kernel": 3, "stride": 2, "padding": 1})))
    stages = [Stage("features", stem, block_name="")]
    for j, n in enumerate(blocks):
        stages.append(Stage(f"features.denseblock{j + 1}", "dense_layer", repeat=n,
                            args={"growth": growth}, block_name="denselayer{i}", start=1))
        if j < len(blocks) - 1:
            stages.append(Stage(f"features.transition{j + 1}", "transition", block_name=""))
    head = Cell((Node("features.norm5", "bn"), Node("relu", "relu"),
                 Node("avgpool", "adaptive_avgpool", args={"size": 1}),
                 Node("flatten", "flatten"), Node("classifier", "linear", args={"out_ch": "K"})))
    stages.append(Stage("", head, block_name=""))
    return Genome(name, tuple(stages),
                  cells={"dense_layer": cells.dense_layer(bn_size=bn_size),
                         "transition": cells.transition(out_ch="cin // 2")},
                  input=tuple(input), num_classes=num_classes)


def _register(depth: int, blocks: Sequence[int]):
    def factory(*, num_classes: int = 1000, input: tuple = (3, 224, 224)) -> Genome:
        return densenet(f"densenet{depth}", blocks, num_classes=num_classes, input=input)
    factory.__doc__ = (f"DenseNet-{depth} (Huang et al., CVPR 2017, Table 1: blocks "
                       f"{'-'.join(map(str, blocks))}, k=32; torchvision layout)")
    NETS.register(f"densenet{depth}", factory)


for _depth, _blocks in {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}.items():
    _register(_depth, _blocks)
