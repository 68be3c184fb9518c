"""The block library: the classic CNN blocks as genome :class:`~nas.genome.Cell` s.

Every function returns one cell that serves a whole stage: widths, strides and shortcuts are
expressions over the variables of the place the cell is used — ``C`` (stage width), ``s`` (this
block's stride), ``cin`` (input channels), ``i`` (block index) and the stage's ``args`` — and a
node whose ``when`` is false is elided (a projection shortcut only where the shape changes, an
expansion conv only where ``t != 1``, a residual add only where ``s == 1 and cin == C``).

Parameters of these functions may be numbers (baked into the cell) or expression strings that
name stage args (the defaults, e.g. ``t="t"``), so a search space can vary a block per stage
through ``Stage.args`` without building new cells. Node names are torchvision's module names
wherever torchvision has the block, so torchvision weights load with ``strict=True``.

``BLOCKS`` maps a block-type name to its cell factory (for the ``blocks`` space and anyone
composing new networks; the classic nets in ``zoo_*.py`` call the factories directly).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence, Union

from nas.errors import GenomeError
from nas.genome import Cell, Genome, Node, Stage
from nas.registry import Registry

Expr = Union[int, float, str]
BLOCKS: Registry[Callable[..., Cell]] = Registry("block")


def _e(v: Expr) -> str:
    """An argument as an expression fragment: numbers and names as they are, else in brackets."""
    if isinstance(v, (int, float)) or (isinstance(v, str) and v.isidentifier()):
        return str(v)
    return f"({v})"


def _conv(name: str, out_ch: Expr, kernel: Expr = 1, stride: Expr = 1, *, groups: Expr = 1,
          inputs=(), when: str | None = None, bias: bool = False, padding: Expr | None = None,
          ) -> Node:
    args = {"out_ch": out_ch, "kernel": kernel}
    if stride != 1:
        args["stride"] = stride
    if groups != 1:
        args["groups"] = groups
    if bias:
        args["bias"] = True
    if padding is not None:
        args["padding"] = padding
    return Node(name, "conv", tuple(inputs), args, when)


def _bn(name: str, *, when: str | None = None, inputs=(), eps: float = 1e-5,
        momentum: float = 0.1) -> Node:
    args = {k: v for k, v, d in (("eps", eps, 1e-5), ("momentum", momentum, 0.1)) if v != d}
    return Node(name, "bn", tuple(inputs), args, when)


def _act(name: str, op: str = "relu", *, when: str | None = None, inputs=()) -> Node:
    return Node(name, op, tuple(inputs), (), when)


PROJECT = "s != 1 or cin != C"  # torchvision's downsample condition
RESIDUAL = "s == 1 and cin == C"  # MobileNetV2's use_res_connect


# =============================================================================== plain


@BLOCKS.register("conv_bn_act")
def conv_bn_act(*, out_ch: Expr = "C", kernel: Expr = 3, stride: Expr = "s", groups: Expr = 1,
                act: str | None = "relu", eps: float = 1e-5, momentum: float = 0.1) -> Cell:
    """Conv → BN → activation, nodes ``0/1/2`` (torchvision ``Conv2dNormActivation``, the
    stems and 1×1 head convs of the mobile nets); ``act=None`` leaves the activation out."""
    nodes = [_conv("0", out_ch, kernel, stride, groups=groups), _bn("1", eps=eps, momentum=momentum)]
    if act is not None:
        nodes.append(_act("2", act))
    return Cell(tuple(nodes))


# =============================================================================== residual


@BLOCKS.register("basic")
def basic(*, shortcut: str = "B") -> Cell:
    """Basic residual block: two 3×3 convs and a shortcut (He et al., "Deep Residual Learning
    for Image Recognition", CVPR 2016, Fig. 2 left). Names: torchvision ``BasicBlock``.

    ``shortcut="B"`` (torchvision, ImageNet ResNets): a 1×1 conv + BN projection where the
    shape changes. ``shortcut="A"`` (the paper's CIFAR ResNets, §4.2): parameter-free — the
    input subsampled by the stride, new channels zero-padded.
    """
    nodes = [_conv("conv1", "C", 3, "s"), _bn("bn1"), _act("relu1"),
             _conv("conv2", "C", 3), _bn("bn2")]
    if shortcut == "B":
        nodes += [_conv("downsample.0", "C", 1, "s", inputs=("x",), when=PROJECT),
                  _bn("downsample.1", when=PROJECT),
                  Node("add", "add", ("bn2", "downsample.1"))]
    elif shortcut == "A":
        nodes += [Node("shortcut.pool", "maxpool", ("x",), {"kernel": 1, "stride": "s"},
                       when="s != 1"),
                  Node("shortcut.pad", "zero", ("x",), {"stride": "s", "out_ch": "C - cin"},
                       when="cin != C"),
                  Node("shortcut.cat", "concat", ("shortcut.pool", "shortcut.pad"),
                       when="cin != C"),
                  Node("add", "add", ("bn2", "shortcut.cat"))]
    else:
        raise ValueError(f"shortcut must be 'A' or 'B', got {shortcut!r}")
    nodes.append(_act("relu"))
    return Cell(tuple(nodes))


@BLOCKS.register("bottleneck")
def bottleneck(*, expansion: Expr = 4, groups: Expr = 1, width_per_group: Expr = 64,
               se_reduction: Expr | None = None, stride_on_3x3: bool = True) -> Cell:
    """Bottleneck residual block 1×1 → 3×3 → 1×1 (He et al. 2016, Fig. 5 right), stride on the
    3×3 conv as torchvision ("ResNet v1.5"). Names: torchvision ``Bottleneck``.

    The inner width is ``int(C/expansion · width_per_group/64) · groups`` like torchvision:
    ``groups=32, width_per_group=4`` is ResNeXt-50 32×4d (Xie et al., CVPR 2017),
    ``width_per_group=128`` is Wide ResNet-50-2 (Zagoruyko & Komodakis, BMVC 2016).
    ``se_reduction=r`` adds squeeze-and-excitation on the residual branch before the sum
    (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018, Fig. 3), squeeze ``C // r``.
    ``stride_on_3x3=False`` strides the first 1×1 conv instead, as the paper's original
    ResNet-50/101/152 (whose 3.8/7.6/11.3 GFLOPs it reproduces).
    """
    width = f"C // {_e(expansion)}"  # torchvision: int(planes * (base_width / 64)) * groups
    if width_per_group != 64:
        width = f"int(({width}) * ({_e(width_per_group)} / 64))"
    if groups != 1:
        width = f"{width} * {_e(groups)}"
    s1, s3 = (1, "s") if stride_on_3x3 else ("s", 1)
    nodes = [_conv("conv1", width, 1, s1), _bn("bn1"), _act("relu1"),
             _conv("conv2", width, 3, s3, groups=groups), _bn("bn2"), _act("relu2"),
             _conv("conv3", "C", 1), _bn("bn3")]
    branch = "bn3"
    if se_reduction is not None:
        nodes.append(Node("se", "se", (), {"squeeze_ch": f"C // {_e(se_reduction)}"}))
        branch = "se"
    nodes += [_conv("downsample.0", "C", 1, "s", inputs=("x",), when=PROJECT),
              _bn("downsample.1", when=PROJECT),
              Node("add", "add", (branch, "downsample.1")), _act("relu")]
    return Cell(tuple(nodes))


@BLOCKS.register("se_bottleneck")
def se_bottleneck(*, reduction: Expr = 16, groups: Expr = 1, width_per_group: Expr = 64) -> Cell:
    """SE-ResNet bottleneck (Hu et al. 2018): :func:`bottleneck` with SE, reduction 16."""
    return bottleneck(groups=groups, width_per_group=width_per_group, se_reduction=reduction)


@BLOCKS.register("preact_basic")
def preact_basic() -> Cell:
    """Pre-activation basic block BN-ReLU-conv ×2 (He et al., "Identity Mappings in Deep
    Residual Networks", ECCV 2016, Fig. 1b/4e). Where the shape changes, the shortcut is a
    1×1 projection of the pre-activated input (the paper's code, ``both_preact``); otherwise
    the identity of the raw input — two alternative ``add`` nodes, exactly one of which is
    elided."""
    return Cell((
        _bn("bn1"), _act("relu1"), _conv("conv1", "C", 3, "s"),
        _bn("bn2"), _act("relu2"), _conv("conv2", "C", 3),
        Node("add", "add", ("conv2", "x"), when=f"not ({PROJECT})"),
        _conv("shortcut", "C", 1, "s", inputs=("relu1",), when=PROJECT),
        Node("add_proj", "add", ("add", "shortcut"), when=PROJECT),
    ))


# =============================================================================== mobile


@BLOCKS.register("inverted_residual")
def inverted_residual(*, t: Expr = "t", kernel: Expr = 3, act: str = "relu6",
                      se: Expr | None = None, expand: bool = True) -> Cell:
    """Inverted residual with linear bottleneck, C_in → t·C_in → C (Sandler et al.,
    "MobileNetV2", CVPR 2018, Table 1). Names: torchvision ``InvertedResidual``
    (``conv.0.0`` expand, ``conv.1.0`` depthwise, ``conv.2`` project, ``conv.3`` BN).

    The expansion conv is elided where ``t == 1``; the residual add exists only where
    ``s == 1 and cin == C``. torchvision renumbers its ``nn.Sequential`` when a block has no
    expansion, so ``expand=False`` gives the ``t == 1`` cell with those names (depthwise
    ``conv.0.0``, project ``conv.1``, BN ``conv.2``). ``se=r`` inserts squeeze-and-excitation
    after the depthwise conv with ``max(1, int(cin·r))`` squeeze channels (MnasNet, Tan et al.
    CVPR 2019).
    """
    hidden = f"int(round(cin * {_e(t)}))" if expand else "cin"
    nodes = []
    p = 1 if expand else 0
    if expand:
        nodes += [_conv("conv.0.0", hidden, 1, when=f"{_e(t)} != 1"),
                  _bn("conv.0.1", when=f"{_e(t)} != 1"), _act("conv.0.2", act, when=f"{_e(t)} != 1")]
    nodes += [Node(f"conv.{p}.0", "dwconv", (), {"kernel": kernel, "stride": "s"}),
              _bn(f"conv.{p}.1"), _act(f"conv.{p}.2", act)]
    if se is not None:
        nodes.append(Node("se", "se", (), {"squeeze_ch": f"max(1, int(cin * {_e(se)}))"}))
    nodes += [_conv(f"conv.{p + 1}", "C", 1), _bn(f"conv.{p + 2}"),
              Node("add", "add", (f"conv.{p + 2}", "x"), when=RESIDUAL)]
    return Cell(tuple(nodes))


@BLOCKS.register("mbconv")
def mbconv(*, t: Expr = "t", kernel: Expr = "k", se: Expr = 0.25, expand: bool = True,
           bn_eps: float = 1e-5) -> Cell:
    """MBConv with squeeze-and-excitation and SiLU (Tan & Le, "EfficientNet", ICML 2019,
    Table 1). Names: torchvision EfficientNet ``MBConv`` (``block.0`` expand, ``block.1``
    depthwise, ``block.2`` SE, ``block.3`` project; ``expand=False`` renumbers like torchvision
    for ``t == 1``). Expanded width ``make_divisible(cin·t, 8)``; SE squeeze ``max(1, int(cin·se))``
    of the block *input*; residual where ``s == 1 and cin == C`` (torchvision's stochastic depth is a training
    regulariser, the identity in eval mode: add it with :func:`stochastic_depth`)."""
    hidden = f"make_divisible(cin * {_e(t)}, 8)"
    nodes, p = [], 0
    if expand:
        cond = f"{hidden} != cin"
        nodes += [_conv("block.0.0", hidden, 1, when=cond), _bn("block.0.1", when=cond, eps=bn_eps),
                  _act("block.0.2", "silu", when=cond)]
        p = 1
    nodes += [Node(f"block.{p}.0", "dwconv", (), {"kernel": kernel, "stride": "s"}),
              _bn(f"block.{p}.1", eps=bn_eps), _act(f"block.{p}.2", "silu"),
              Node(f"block.{p + 1}", "se", (), {"squeeze_ch": f"max(1, int(cin * {_e(se)}))",
                                                "act": "silu"}),
              _conv(f"block.{p + 2}.0", "C", 1), _bn(f"block.{p + 2}.1", eps=bn_eps),
              Node("add", "add", (f"block.{p + 2}.1", "x"), when=RESIDUAL)]
    return Cell(tuple(nodes))


@BLOCKS.register("mbv3")
def mbv3(*, expand: bool = True, se: bool = True, act: str = "hardswish") -> Cell:
    """MobileNetV3 bneck (Howard et al., "Searching for MobileNetV3", ICCV 2019, Tables 1-2):
    1×1 expansion to the stage arg ``exp`` channels (absent if ``expand=False``), depthwise
    ``k``×``k``, optional SE (squeeze ``make_divisible(exp // 4, 8)``, hard-sigmoid gate), linear
    1×1 projection; ``act`` is ``relu`` or ``hardswish``. Names: torchvision ``InvertedResidual``
    of MobileNetV3 (``block.N``, renumbered by which layers exist); BN eps 1e-3, momentum 0.01."""
    bn = {"eps": 1e-3, "momentum": 0.01}
    nodes, p = [], 0
    if expand:
        nodes += [_conv("block.0.0", "exp", 1), _bn("block.0.1", **bn), _act("block.0.2", act)]
        p = 1
    nodes += [Node(f"block.{p}.0", "dwconv", (), {"kernel": "k", "stride": "s"}),
              _bn(f"block.{p}.1", **bn), _act(f"block.{p}.2", act)]
    if se:
        p += 1
        nodes.append(Node(f"block.{p}", "se", (), {"squeeze_ch": "make_divisible(exp // 4, 8)",
                                                   "gate": "hardsigmoid"}))
    nodes += [_conv(f"block.{p + 1}.0", "C", 1), _bn(f"block.{p + 1}.1", **bn),
              Node("add", "add", (f"block.{p + 1}.1", "x"), when=RESIDUAL)]
    return Cell(tuple(nodes))


@BLOCKS.register("mnas")
def mnas(*, t: Expr = "t", kernel: Expr = "k", bn_momentum: float = 1 - 0.9997) -> Cell:
    """MnasNet-B1 inverted residual (Tan et al., "MnasNet", CVPR 2019, Fig. 7): 1×1 expansion
    to ``cin·t``, depthwise ``k``×``k`` with stride, linear 1×1 projection; residual where
    ``s == 1 and cin == C``. Names: torchvision ``_InvertedResidual`` (``layers.0`` … ``layers.7``)."""
    mid = f"cin * {_e(t)}"
    return Cell((
        _conv("layers.0", mid, 1), _bn("layers.1", momentum=bn_momentum), _act("layers.2"),
        Node("layers.3", "dwconv", (), {"kernel": kernel, "stride": "s"}),
        _bn("layers.4", momentum=bn_momentum), _act("layers.5"),
        _conv("layers.6", "C", 1), _bn("layers.7", momentum=bn_momentum),
        Node("add", "add", ("layers.7", "x"), when=RESIDUAL),
    ))


@BLOCKS.register("depthwise_separable")
def depthwise_separable(*, kernel: Expr = 3, act: str = "relu") -> Cell:
    """Depthwise-separable conv: depthwise 3×3 (stride) + BN + ReLU, pointwise 1×1 + BN + ReLU
    (Howard et al., "MobileNets", 2017, Fig. 3)."""
    return Cell((
        Node("depthwise", "dwconv", (), {"kernel": kernel, "stride": "s"}), _bn("bn1"),
        _act("relu1", act), _conv("pointwise", "C", 1), _bn("bn2"), _act("relu2", act),
    ))


@BLOCKS.register("shuffle_v2")
def shuffle_v2() -> Cell:
    """ShuffleNet V2 unit (Ma et al., "ShuffleNet V2", ECCV 2018, Fig. 3c/d). Stride 1: split the
    channels in half, transform one half (1×1, depthwise 3×3, 1×1), concat, shuffle. Stride 2:
    both branches see the whole input and each outputs C/2. Names: torchvision
    ``InvertedResidual`` (``branch1.N``, ``branch2.N``). Elided slices alias the input, elided
    ``branch1`` nodes alias the first half, so one cell covers both forms."""
    half, bf = "cin // 2", "C // 2"
    return Cell((
        Node("split1", "channel_slice", ("x",), {"start": 0, "end": half}, when="s == 1"),
        Node("branch1.0", "dwconv", ("split1",), {"kernel": 3, "stride": "s"}, when="s != 1"),
        _bn("branch1.1", when="s != 1"),
        _conv("branch1.2", bf, 1, when="s != 1"), _bn("branch1.3", when="s != 1"),
        _act("branch1.4", when="s != 1"),
        Node("split2", "channel_slice", ("x",), {"start": half, "end": "cin"}, when="s == 1"),
        _conv("branch2.0", bf, 1, inputs=("split2",)), _bn("branch2.1"), _act("branch2.2"),
        Node("branch2.3", "dwconv", (), {"kernel": 3, "stride": "s"}), _bn("branch2.4"),
        _conv("branch2.5", bf, 1), _bn("branch2.6"), _act("branch2.7"),
        Node("cat", "concat", ("branch1.4", "branch2.7")),
        Node("shuffle", "channel_shuffle", (), {"groups": 2}),
    ))


# =============================================================================== multi-branch


@BLOCKS.register("fire")
def fire(*, squeeze: Expr = "sq", expand1x1: Expr = "C // 2", expand3x3: Expr = "C - C // 2"
         ) -> Cell:
    """Fire module: 1×1 squeeze, then 1×1 and 3×3 expand in parallel, concatenated (Iandola et
    al., "SqueezeNet", 2016, Fig. 1). Biased convs + ReLU. Names: torchvision ``Fire``."""
    return Cell((
        _conv("squeeze", squeeze, 1, bias=True), _act("squeeze_activation"),
        _conv("expand1x1", expand1x1, 1, bias=True, inputs=("squeeze_activation",)),
        _act("expand1x1_activation"),
        _conv("expand3x3", expand3x3, 3, bias=True, inputs=("squeeze_activation",)),
        _act("expand3x3_activation"),
        Node("cat", "concat", ("expand1x1_activation", "expand3x3_activation")),
    ))


def _basic_conv(prefix: str, out_ch: Expr, kernel: Expr, *, inputs=(), norm: bool = True,
                bn_eps: float = 1e-3) -> list[Node]:
    """Conv → BN → ReLU named ``{prefix}.conv/.bn/.relu`` (torchvision ``BasicConv2d``);
    ``norm=False`` is the paper's biased conv → ReLU."""
    if not norm:
        return [_conv(f"{prefix}.conv", out_ch, kernel, bias=True, inputs=inputs),
                _act(f"{prefix}.relu")]
    return [_conv(f"{prefix}.conv", out_ch, kernel, inputs=inputs),
            _bn(f"{prefix}.bn", eps=bn_eps), _act(f"{prefix}.relu")]


@BLOCKS.register("inception")
def inception(*, k5: Expr = "k5", norm: bool = True) -> Cell:
    """Inception module with dimension reductions (Szegedy et al., "Going Deeper with
    Convolutions", CVPR 2015, Fig. 2b, Table 1): 1×1 | 1×1→3×3 | 1×1→k5×k5 | 3×3 max-pool→1×1,
    concatenated. Stage args ``c1, c3r, c3, c5r, c5, pp`` (Table 1's "#1×1, #3×3 reduce, #3×3,
    #5×5 reduce, #5×5, pool proj"). Names: torchvision ``Inception`` (``branch1`` …
    ``branch4``, ``BasicConv2d`` conv+BN with eps 1e-3); torchvision uses ``k5 = 3`` (a kept
    historical bug), the paper ``k5 = 5``. ``norm=False`` gives the paper's biased convs."""
    n = {"norm": norm}
    return Cell((
        *_basic_conv("branch1", "c1", 1, inputs=("x",), **n),
        *_basic_conv("branch2.0", "c3r", 1, inputs=("x",), **n),
        *_basic_conv("branch2.1", "c3", 3, **n),
        *_basic_conv("branch3.0", "c5r", 1, inputs=("x",), **n),
        *_basic_conv("branch3.1", "c5", k5, **n),
        Node("branch4.0", "maxpool", ("x",), {"kernel": 3, "stride": 1, "padding": 1,
                                              "ceil_mode": True}),
        *_basic_conv("branch4.1", "pp", 1, **n),
        Node("cat", "concat", ("branch1.relu", "branch2.1.relu", "branch3.1.relu",
                               "branch4.1.relu")),
    ))


@BLOCKS.register("inception_naive")
def inception_naive() -> Cell:
    """Naive Inception module (Szegedy et al. 2015, Fig. 2a): 1×1, 3×3, 5×5 convs (biased, ReLU)
    and a 3×3 max-pool side by side, concatenated. Stage args ``c1, c3, c5``."""
    return Cell((
        _conv("conv1x1", "c1", 1, bias=True, inputs=("x",)), _act("relu1"),
        _conv("conv3x3", "c3", 3, bias=True, inputs=("x",)), _act("relu3"),
        _conv("conv5x5", "c5", 5, bias=True, inputs=("x",)), _act("relu5"),
        Node("pool", "maxpool", ("x",), {"kernel": 3, "stride": 1, "padding": 1}),
        Node("cat", "concat", ("relu1", "relu3", "relu5", "pool")),
    ))


@BLOCKS.register("mlpconv")
def mlpconv(*, out_ch: Expr = "C") -> Cell:
    """mlpconv layer: a k×k conv (stage args ``k, stride, pad``) then two 1×1 convs — a small
    MLP slid over the image — each with bias and ReLU (Lin et al., "Network In Network",
    ICLR 2014, Fig. 2). The last 1×1 conv has ``out_ch`` maps (``"K"`` for NiN's final layer)."""
    return Cell((
        _conv("conv", "C", "k", "stride", bias=True, padding="pad"), _act("relu0"),
        _conv("cccp1", "C", 1, bias=True), _act("relu1"),
        _conv("cccp2", out_ch, 1, bias=True), _act("relu2"),
    ))


@BLOCKS.register("dense_layer")
def dense_layer(*, growth: Expr = "growth", bn_size: Expr = 4) -> Cell:
    """DenseNet-B layer BN-ReLU-1×1(bn_size·k)-BN-ReLU-3×3(k), output concatenated to its input
    (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017, §3). A stage of these
    is a dense block (``cin`` grows by ``growth`` per layer). Names: torchvision ``_DenseLayer``."""
    return Cell((
        _bn("norm1"), _act("relu1"), _conv("conv1", f"{_e(bn_size)} * {_e(growth)}", 1),
        _bn("norm2"), _act("relu2"), _conv("conv2", growth, 3),
        Node("cat", "concat", ("x", "conv2")),
    ))


@BLOCKS.register("transition")
def transition(*, out_ch: Expr = "C") -> Cell:
    """DenseNet transition BN-ReLU-1×1 conv-2×2 average pool (Huang et al. 2017, §3;
    DenseNet-BC halves the width: ``out_ch="cin // 2"``). Names: torchvision ``_Transition``."""
    return Cell((_bn("norm"), _act("relu"), _conv("conv", out_ch, 1),
                 Node("pool", "avgpool", (), {"kernel": 2, "stride": 2})))


# =============================================================================== stochastic depth


def stochastic_depth(cell: Cell, p: Expr = "sd_p") -> Cell:
    """``cell`` with stochastic depth (Huang et al., "Deep Networks with Stochastic Depth",
    ECCV 2016) on its residual branch: a ``drop_path`` node (drop probability ``p``, per
    sample; the identity in eval mode) on the first input of every two-input ``add`` — the
    residual branch, by this library's convention (``add(branch, shortcut)``) — with the
    add's own ``when``. Any residual cell of :data:`BLOCKS` works; ``p`` may be an expression
    of the block's place (see :func:`with_stochastic_depth` for the linear decay rule)."""
    adds = [n for n in cell.nodes if n.op == "add" and len(n.inputs) == 2]
    if not adds:
        raise GenomeError("", "stochastic depth needs a residual cell (a two-input 'add' "
                              "node whose first input is the residual branch); this cell "
                              "has none")
    nodes: list[Node] = []
    for n in cell.nodes:
        if n in adds:
            dp = "drop_path" if n.name == "add" else f"{n.name}_drop_path"
            nodes.append(Node(dp, "drop_path", (n.inputs[0],), {"p": p}, n.when))
            n = Node(n.name, n.op, (dp, *n.inputs[1:]), n.args, n.when)
        nodes.append(n)
    return Cell(tuple(nodes), cell.inputs, cell.output)


#: drop probability of block ``l`` (1-based) of ``L`` under the linear decay rule
#: p_l = 1 − l/L·(1 − p_L) for the survival probability (Huang et al. 2016, Eq. 4)
LINEAR_DECAY = "(1 - sd_pL) * (sd_l0 + i) / sd_L"


def with_stochastic_depth(genome: Genome, p_last: float = 0.5,
                          stages: Sequence[str] | None = None) -> Genome:
    """``genome`` with stochastic depth on the residual blocks of ``stages`` (default: every
    stage whose cell has a residual add), survival probability decaying linearly from 1 (the
    input) to ``p_last`` (the last block), counted over those stages' blocks in order. Each
    stage gets the args ``sd_l0`` (1-based index of its first block), ``sd_L`` (number of
    blocks) and ``sd_pL``; the cells get a ``drop_path`` node of :data:`LINEAR_DECAY`. The
    parameters, FLOPs and eval-mode outputs are the plain network's."""
    if not 0.0 <= p_last <= 1.0:
        raise GenomeError("", f"stochastic depth survival probability p_last must be in "
                              f"[0, 1], got {p_last}")
    cells = dict(genome.cells)

    def cell_of(st: Stage) -> Cell:
        return cells[st.cell] if isinstance(st.cell, str) else st.cell

    def residual(st: Stage) -> bool:
        return any(n.op == "add" and len(n.inputs) == 2 for n in cell_of(st).nodes)

    names = [st.name for st in genome.stages]
    if stages is None:
        chosen = [k for k, st in enumerate(genome.stages) if residual(st)]
    else:
        unknown = [s for s in stages if s not in names]
        if unknown:
            raise GenomeError("", f"stochastic depth: no stage {unknown[0]!r} (stages: "
                                  f"{', '.join(n for n in names if n) or 'unnamed'})")
        chosen = [k for k, st in enumerate(genome.stages) if st.name in stages]
    if not chosen:
        raise GenomeError("", "stochastic depth: the genome has no residual stage")
    total = sum(genome.stages[k].repeat for k in chosen)
    new_cells = dict(cells)
    out, l0 = [], 1
    for k, st in enumerate(genome.stages):
        if k not in chosen:
            out.append(st)
            continue
        if isinstance(st.cell, str):
            key = f"{st.cell}_sd"
            if key not in new_cells:
                new_cells[key] = stochastic_depth(cells[st.cell], LINEAR_DECAY)
            cell: str | Cell = key
        else:
            cell = stochastic_depth(st.cell, LINEAR_DECAY)
        args = {**dict(st.args), "sd_l0": l0, "sd_L": total, "sd_pL": p_last}
        out.append(replace(st, cell=cell, args=args))
        l0 += st.repeat
    used = {st.cell for st in out if isinstance(st.cell, str)}
    return replace(genome, stages=tuple(out),
                   cells=tuple((k, c) for k, c in new_cells.items() if k in used))


__all__ = ["BLOCKS", "stochastic_depth", "with_stochastic_depth", "LINEAR_DECAY", "conv_bn_act", "basic", "bottleneck", "se_bottleneck", "preact_basic",
           "inverted_residual", "mbconv", "mbv3", "mnas", "depthwise_separable", "shuffle_v2",
           "fire", "mlpconv", "inception", "inception_naive", "dense_layer", "transition", "PROJECT",
           "RESIDUAL"]
