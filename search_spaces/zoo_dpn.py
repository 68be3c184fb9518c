"""Dual Path Networks (Chen et al., "Dual Path Networks", NIPS 2017) as genomes.

The dual path block (:func:`dual_path_block`) is a pre-activation ResNeXt bottleneck
(BN-ReLU-1×1, BN-ReLU-grouped 3×3, BN-ReLU-1×1) whose output is split: its first ``C``
channels are *added* to the residual path, its last ``inc`` channels *concatenated* to the
densely connected path. The stream carries both paths as one tensor ``[residual C | dense]``;
the first block of a stage projects its input (BN-ReLU-1×1, stride ``s``) to ``C + 2·inc``
channels, and every block adds ``inc`` dense channels. Layout and widths follow the authors'
MXNet code as timm ports it (``dpn68``/``92``/``98``/``131``: stem conv-BN-ReLU + 3×3/2 max-pool,
final BN + ReLU, global average pool, 1×1 conv classifier — a linear layer here, the same
parameters), so the parameter counts are timm's exactly.
"""
from __future__ import annotations

from typing import Sequence

from nas.genome import Cell, Genome, Node, Stage
from search_spaces.registry import NETS

_BN = {"eps": 0.001}
FIRST = "i == 0"


def _bn_act_conv(p: str, src: str, out_ch, kernel: int, stride="1", groups=1,
                 when: str | None = None) -> list[Node]:
    conv = {"out_ch": out_ch, "kernel": kernel}
    if stride != "1":
        conv["stride"] = stride
    if groups != 1:
        conv["groups"] = groups
    return [Node(f"{p}.bn", "bn", (src,), _BN, when), Node(f"{p}.relu", "relu", (), (), when),
            Node(f"{p}.conv", "conv", (), conv, when)]


def dual_path_block() -> Cell:
    """The DPN block for a stage of residual width ``C`` (stage args: ``r`` bottleneck width,
    ``G`` groups of the 3×3, ``inc`` dense increment). Block 0 of a stage projects the input
    (``c1x1_w``, stride ``s``); the others split it as it is."""
    return Cell((
        *_bn_act_conv("c1x1_w", "x", "C + 2 * inc", 1, "s", when=FIRST),
        Node("res_in", "channel_slice", ("c1x1_w.conv",), {"start": 0, "end": "C"}),
        Node("dense_in", "channel_slice", ("c1x1_w.conv",),
             {"start": "C", "end": f"C + 2 * inc if {FIRST} else cin"}),
        *_bn_act_conv("c1x1_a", "x", "r", 1),
        *_bn_act_conv("c3x3_b", "c1x1_a.conv", "r", 3, "s", groups="G"),
        *_bn_act_conv("c1x1_c", "c3x3_b.conv", "C + inc", 1),
        Node("out_res", "channel_slice", ("c1x1_c.conv",), {"start": 0, "end": "C"}),
        Node("out_dense", "channel_slice", ("c1x1_c.conv",), {"start": "C", "end": "C + inc"}),
        Node("residual", "add", ("out_res", "res_in")),
        Node("cat", "concat", ("residual", "dense_in", "out_dense")),
    ))


def dpn(name: str, *, k_sec: Sequence[int], inc_sec: Sequence[int], k_r: int, groups: int,
        init: int, small: bool = False, num_classes: int = 1000,
        input: tuple = (3, 224, 224)) -> Genome:
    """A DPN: stem (7×7/2 conv, or 3×3/2 for the ``small`` DPN-68, of ``init`` filters),
    3×3/2 max-pool, four stages of ``k_sec`` dual path blocks — residual width 256·2^k (64·2^k
    when small), bottleneck ``k_r``·2^k with ``groups`` groups, dense increment ``inc_sec`` —
    then BN-ReLU, global pool, fc."""
    stem = Cell((Node("conv1_1.conv", "conv", args={"out_ch": init, "kernel": 3 if small else 7,
                                                    "stride": 2}),
                 Node("conv1_1.bn", "bn", args=_BN), Node("conv1_1.relu", "relu"),
                 Node("conv1_pool", "maxpool", args={"kernel": 3, "stride": 2, "padding": 1})))
    stages = [Stage("features", stem, block_name="")]
    bw_factor = 1 if small else 4
    for k, (n, inc) in enumerate(zip(k_sec, inc_sec)):
        base = 64 * 2 ** k
        stages.append(Stage("features", "dual_path", repeat=n, out_ch=base * bw_factor,
                            stride=1 if k == 0 else 2,
                            args={"r": k_r * base // 64, "G": groups, "inc": inc},
                            block_name=f"conv{k + 2}_{{i}}", start=1))
    stages.append(Stage("", Cell((Node("features.conv5_bn_ac.bn", "bn", args=_BN),
                                  Node("features.conv5_bn_ac.act", "relu"),
                                  Node("global_pool", "gap"), Node("flatten", "flatten"),
                                  Node("classifier", "linear", args={"out_ch": "K"}))),
                        block_name=""))
    return Genome(name, tuple(stages), cells={"dual_path": dual_path_block()},
                  input=tuple(input), num_classes=num_classes)


#: the four DPNs of the paper (Table 1) in timm's/the authors' configuration
CONFIGS = {
    "dpn68": dict(small=True, init=10, k_r=128, groups=32, k_sec=(3, 4, 12, 3),
                  inc_sec=(16, 32, 32, 64)),
    "dpn92": dict(init=64, k_r=96, groups=32, k_sec=(3, 4, 20, 3), inc_sec=(16, 32, 24, 128)),
    "dpn98": dict(init=96, k_r=160, groups=40, k_sec=(3, 6, 20, 3), inc_sec=(16, 32, 32, 128)),
    "dpn131": dict(init=128, k_r=160, groups=40, k_sec=(4, 8, 28, 3),
                   inc_sec=(16, 32, 32, 128)),
}


def _register(name: str):
    def factory(*, num_classes: int = 1000, input: tuple = (3, 224, 224)) -> Genome:
        return dpn(name, num_classes=num_classes, input=input, **CONFIGS[name])
    c = CONFIGS[name]
    factory.__doc__ = (f"DPN-{name[3:]} (Chen et al., NIPS 2017, Table 1): blocks "
                       f"{'-'.join(map(str, c['k_sec']))}, dense increments "
                       f"{'-'.join(map(str, c['inc_sec']))}, bottleneck {c['k_r']}, "
                       f"{c['groups']} groups")
    NETS.register(name, factory)


for _name in CONFIGS:
    _register(_name)
