"""``nasnet-cell``: the NASNet search space (Zoph, Vasudevan, Shlens & Le 2018, "Learning
Transferable Architectures for Scalable Image Recognition").

Two cells are searched, a *normal* cell (stride 1) and a *reduction* cell (stride 2 on the
cell's inputs). Each has B = 5 blocks; block k makes five decisions, in the controller's order:

* ``input_a``, ``input_b`` — two hidden states among the cell's inputs ``h[i-1]``, ``h[i-2]``
  and the outputs of blocks 0..k-1 (2 + k choices each);
* ``op_a``, ``op_b`` — an op for each, from the paper's 13 (:data:`OPS`);
* ``combine`` — ``add`` or ``concat``.

Every hidden state that no block reads is concatenated into the cell output. That makes
2 cells × 5 blocks × 5 = 50 decisions and ∏ₖ (2+k)²·13²·2 = 720²·338⁵ ≈ 2.3·10¹⁸
assignments per cell, ≈ 5.2·10³⁶ for the pair (many are the same network: see the hash).

The published NASNet-A cells do not follow the "unused only" rule literally: the normal cell
also concatenates ``h[i-2]`` and the reduction cell block 1, although blocks read them (TF-slim
``used_hiddenstates``). ``--option concat=choice`` adds, per cell, one yes/no decision for each
state a block can read (``h[i-1]``, ``h[i-2]``, blocks 0..3: "concatenate it anyway"), 62
decisions in all; NASNet-A is a fixed point of that space (the ``mobile`` preset uses it), and
so are AmoebaNet-A and PNASNet-5 (:data:`CELL_SPECS`), which read-and-concatenate too. The
default keeps the paper's rule (measured in ``benchmarks/nasnet_concat_rule.py``); the preset
``published`` is the default's digits network with ``concat=choice``, holding all three.

Some options change how networks are built, never the decisions: ``factorized=bottleneck`` is
AmoebaNet's reference implementation of the 1×n-then-n×1 ops (a 1×1 bottleneck to C/4 around
them; preset ``amoeba-mobile``), ``stack=pnasnet`` counts the reduction cells among the 3N cells
(PNASNet; preset ``pnas-mobile``). ENAS's network (melodyguan/enas ``micro_child.py``; preset
``enas-cifar``, net ``enas_cifar``) takes four: ``inputs=enas`` (h[i-1] goes through ENAS's
``calibrate`` ReLU-1×1-BN to C where its width differs and then its ``layer_base``
ReLU-1×1-BN C→C; the first cell reads the stem output as both inputs, each mapped to C),
``strided_identity=factorized`` (an identity on a reduction cell's input is a factorized
reduction, not a strided 1×1 conv), ``head=enas`` (dropout 0.2, no bias on the classifier)
and ``bn_eps=1e-5``. Its cells' output is the paper's rule (unread states concatenated, no
1×1 after); its training-only aux head and drop-path are not part of the genome.

The network and the op implementations follow the paper's TF-slim code (``nasnet_utils``):
ReLU-conv-BN ops; separable convs applied twice; pooling followed by a 1×1 conv only where the
channel count differs; every cell first maps ``h[i-1]`` with ReLU-1×1-BN to its width C, and
``h[i-2]`` with a factorized reduction (two offset 1×1 stride-2 paths, concatenated) when its
spatial size differs (the cell after a reduction) or a ReLU-1×1-BN when only its channels do.
The first cell after the stem reads the stem output as both inputs (TF: ``prev_layer=None``).
Stems: ``cifar`` (3×3 conv, 3·F filters) or ``imagenet`` (3×3 stride-2 conv, then two
reduction cells at F/4 and F/2, as in NASNet-A mobile/large). Widths double at each reduction.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from nas.errors import GenomeError, NasError
from nas.genome import Cell, Genome, Node, Stage
from nas.space import Assignment, Decision, NotInSpaceError, SearchSpace
from search_spaces.registry import NETS, SPACES
from search_spaces.options import check_io, make_options, option

H1, H2 = "h[i-1]", "h[i-2]"
B = 5
CELLS = ("normal", "reduction")
COMBINES = ("add", "concat")
#: implementations of the 1×n-then-n×1 ops (the space's ``factorized`` option)
FACTORIZED = ("full", "bottleneck")
#: how a cell brings its inputs to width C (the space's ``inputs`` option)
INPUTS = ("nasnet", "enas")
#: identity at stride 2 (the space's ``strided_identity`` option)
STRIDED_IDENTITY = ("conv", "factorized")
#: the 13 ops of the paper, in its order
OPS = ("identity", "conv1x3_3x1", "conv1x7_7x1", "dil_conv3x3", "avg_pool3x3", "max_pool3x3",
       "max_pool5x5", "max_pool7x7", "conv1x1", "conv3x3", "sep_conv3x3", "sep_conv5x5",
       "sep_conv7x7")
_BN = {"eps": 0.001}  # TF-slim batch-norm epsilon, as the NASNet code uses

#: NASNet-A (the paper's Fig. 4; TF-slim ``NasNetANormalCell``/``NasNetAReductionCell``):
#: per block (input_a, op_a, input_b, op_b, combine), then the used states also concatenated.
NASNET_A = {
    "normal": ((H1, "sep_conv5x5", H2, "sep_conv3x3", "add"),
               (H2, "sep_conv5x5", H2, "sep_conv3x3", "add"),
               (H1, "avg_pool3x3", H2, "identity", "add"),
               (H2, "avg_pool3x3", H2, "avg_pool3x3", "add"),
               (H1, "sep_conv3x3", H1, "identity", "add")),
    "normal.concat": (H2,),
    "reduction": ((H1, "sep_conv5x5", H2, "sep_conv7x7", "add"),
                  (H1, "max_pool3x3", H2, "sep_conv7x7", "add"),
                  (H1, "avg_pool3x3", H2, "sep_conv5x5", "add"),
                  ("block1", "identity", "block0", "avg_pool3x3", "add"),
                  ("block0", "sep_conv3x3", H1, "max_pool3x3", "add")),
    "reduction.concat": ("block1",),
}

#: AmoebaNet-A (Real et al., AAAI 2019, Fig. 3; TPU reference code ``amoeba_net_a``:
#: ``hiddenstate_indices`` 0 = h[i-1], 1 = h[i-2], 2+k = block k; every combine is ``add``).
#: The states its ``used_hiddenstates`` leave out are concatenated, read or not.
AMOEBANET_A = {
    "normal": ((H1, "avg_pool3x3", H1, "max_pool3x3", "add"),
               (H2, "sep_conv3x3", H2, "identity", "add"),
               (H1, "identity", H2, "avg_pool3x3", "add"),
               (H1, "sep_conv3x3", "block0", "sep_conv5x5", "add"),
               ("block3", "avg_pool3x3", H1, "sep_conv3x3", "add")),
    "normal.concat": (H2,),
    "reduction": ((H2, "sep_conv3x3", H1, "avg_pool3x3", "add"),
                  (H1, "max_pool3x3", "block0", "sep_conv7x7", "add"),
                  (H2, "max_pool3x3", H1, "max_pool3x3", "add"),
                  ("block2", "sep_conv3x3", H1, "conv1x7_7x1", "add"),
                  (H2, "avg_pool3x3", H1, "sep_conv7x7", "add")),
    "reduction.concat": ("block0", "block2"),
}

#: PNASNet-5 (Liu et al., ECCV 2018, Fig. 1; TF-slim ``PNasNetNormalCell``): one cell, used
#: as the normal and (at stride 2) the reduction cell; all five blocks concatenated.
_PNAS_CELL = ((H2, "sep_conv5x5", H2, "max_pool3x3", "add"),
              (H1, "sep_conv7x7", H1, "max_pool3x3", "add"),
              (H1, "sep_conv5x5", H1, "sep_conv3x3", "add"),
              ("block2", "sep_conv3x3", H1, "max_pool3x3", "add"),
              (H2, "sep_conv3x3", H1, "identity", "add"))
PNASNET_5 = {"normal": _PNAS_CELL, "normal.concat": ("block2",),
             "reduction": _PNAS_CELL, "reduction.concat": ("block2",)}

#: ENAS's final CIFAR-10 cells (Pham et al., ICML 2018, Figs. 7-8; melodyguan/enas
#: ``cifar10_micro_final.sh``: arc ``x_id x_op y_id y_op`` per node, 0 = h[i-2], 1 = h[i-1];
#: ops 0 sep 3×3, 1 sep 5×5, 2 avg 3×3, 3 max 3×3, 4 identity; combine add). They concatenate
#: only unread states: points of the paper's rule. ENAS's own network is built by other rules
#: (the preset ``enas-cifar``; net ``enas_cifar``).
ENAS = {
    "normal": ((H2, "avg_pool3x3", H2, "sep_conv3x3", "add"),
               (H2, "identity", H2, "sep_conv5x5", "add"),
               (H2, "identity", H1, "sep_conv5x5", "add"),
               (H1, "sep_conv3x3", H2, "sep_conv5x5", "add"),
               (H2, "avg_pool3x3", H1, "sep_conv5x5", "add")),
    "normal.concat": (),
    "reduction": ((H1, "sep_conv3x3", H1, "sep_conv3x3", "add"),
                  (H2, "max_pool3x3", H2, "avg_pool3x3", "add"),
                  (H1, "sep_conv5x5", "block1", "sep_conv5x5", "add"),
                  (H1, "sep_conv3x3", H2, "identity", "add"),
                  (H2, "max_pool3x3", H1, "sep_conv5x5", "add")),
    "reduction.concat": (),
}

#: the published cells of this space: name -> cells (blocks + states concatenated although read)
CELL_SPECS = {"nasnet_a": NASNET_A, "amoebanet_a": AMOEBANET_A, "pnasnet_5": PNASNET_5,
              "enas": ENAS}


@dataclasses.dataclass(frozen=True)
class NasnetOptions:
    preset: str = option("digits", "digits: small CPU network for 1×8×8 digits; mobile: "
                         "NASNet-A mobile's network (N=4, F=44, ImageNet 224, concat=choice); "
                         "amoeba-mobile: AmoebaNet-A mobile's (N=4, F=50); pnas-mobile: "
                         "PNASNet-5 mobile's (N=3, F=54, stack=pnasnet); published: the "
                         "digits network with concat=choice, where NASNet-A, AmoebaNet-A and "
                         "PNASNet-5 are fixed points; enas-cifar: ENAS's CIFAR-10 network "
                         "(N=5, F=36, 3×32×32, inputs=enas, strided_identity=factorized, "
                         "head=enas, bn_eps=1e-5)",
                         ("digits", "mobile", "amoeba-mobile", "pnas-mobile", "published",
                          "enas-cifar"))
    N: int = option(2, "normal cells per stage (between reduction cells)")
    F: int = option(8, "filters of the first stage's cells (doubled at each reduction)")
    reductions: int = option(2, "reduction cells; the network has reductions+1 stages")
    stem: str = option("cifar", "cifar: 3×3 conv; imagenet: 3×3/2 conv + 2 reduction cells",
                       ("cifar", "imagenet"))
    stem_filters: int = option(0, "stem conv filters (0: 3·F for cifar, 32 for imagenet)")
    concat: str = option("unused", "unused: the paper's rule; choice: also a yes/no decision "
                         "per readable state (NASNet-A needs it)", ("unused", "choice"))
    factorized: str = option("full", "full: the 1×3-3×1 / 1×7-7×1 ops as ReLU-1×n-n×1-BN at "
                             "width C; bottleneck: AmoebaNet's code (1×1 to C/4, 1×n, BN-ReLU, "
                             "n×1, 1×1 back to C)", FACTORIZED)
    stack: str = option("nasnet", "nasnet: N normal cells per stage, reduction cells between "
                        "(3N+2 cells); pnasnet: 3N cells in all, each reduction cell replacing "
                        "the first normal cell of its stage (PNASNet)", ("nasnet", "pnasnet"))
    inputs: str = option("nasnet", "nasnet: h[i-1] mapped to C by one ReLU-1×1-BN, the first "
                         "cell reads the raw stem output as h[i-2]; enas: h[i-1] first mapped to "
                         "C by a ReLU-1×1-BN where its width differs, then by a ReLU-1×1-BN "
                         "C→C, and the first cell reads the stem output as both inputs, each "
                         "mapped to C (ENAS's calibrate + layer_base)", INPUTS)
    strided_identity: str = option("conv", "identity on a reduction cell's input: conv: "
                                   "ReLU-1×1/2-BN (NASNet); factorized: factorized reduction-BN "
                                   "(ENAS)", STRIDED_IDENTITY)
    head: str = option("nasnet", "nasnet: ReLU-pool-dropout 0.5-linear with bias; enas: "
                       "dropout 0.2 (keep_prob 0.8) and a linear without bias", ("nasnet", "enas"))
    bn_eps: float = option(0.001, "batch-norm epsilon (TF-slim's 0.001; ENAS 1e-5)")
    input: tuple = option((1, 8, 8), "input C×H×W")
    num_classes: int = option(10, "number of classes")


_IMAGENET = {"reductions": 2, "stem": "imagenet", "stem_filters": 32, "concat": "choice",
             "input": (3, 224, 224), "num_classes": 1000}
PRESETS = {
    "digits": {},
    "mobile": {"N": 4, "F": 44, **_IMAGENET},
    "amoeba-mobile": {"N": 4, "F": 50, "factorized": "bottleneck", **_IMAGENET},
    "pnas-mobile": {"N": 3, "F": 54, "stack": "pnasnet", **_IMAGENET},
    # the digits network of the default, with the published cells' output rule: NASNet-A,
    # AmoebaNet-A and PNASNet-5 are its fixed points (the default keeps the paper's rule)
    "published": {"concat": "choice"},
    # ENAS's CIFAR-10 network (melodyguan/enas micro_child.py, cifar10_micro_final.sh:
    # child_num_layers=15 -> 5 normal cells per stage, out_filters=36, stem 3×3 to 108)
    "enas-cifar": {"N": 5, "F": 36, "input": (3, 32, 32), "inputs": "enas",
                   "strided_identity": "factorized", "head": "enas", "bn_eps": 1e-5},
}


# =========================================================================== cell writing


@dataclasses.dataclass(frozen=True)
class _State:
    node: str  # the node (or slot) holding it
    ch: str  # "C", "2C" (a concat-combined block) or "raw" (the stem output, x_c channels)
    is_input: bool  # a cell input (at the input resolution)


@dataclasses.dataclass(frozen=True)
class CellRules:
    """How a cell is written from its choices: the space's building options (never decisions)."""

    factorized: str = "full"  # :data:`FACTORIZED`
    inputs: str = "nasnet"  # :data:`INPUTS`
    strided_identity: str = "conv"  # :data:`STRIDED_IDENTITY`
    bn_eps: float = _BN["eps"]


def _rules(r: str | CellRules) -> CellRules:
    return r if isinstance(r, CellRules) else CellRules(factorized=r)


def _with_eps(nodes: list[Node], eps: float) -> list[Node]:
    """``nodes`` with every batch-norm's epsilon set to ``eps`` (unchanged at TF-slim's)."""
    if eps == _BN["eps"]:
        return nodes
    return [Node(n.name, n.op, n.inputs, {**dict(n.args), "eps": eps}, n.when)
            if n.op == "bn" else n for n in nodes]


def _adapt(ch: str) -> bool | str:
    """Whether an op on a state of width ``ch`` needs a 1×1 conv to reach C (or when)."""
    return {"C": False, "2C": True, "raw": "x_c != C"}[ch]


def _conv(name, src, when=None, **args) -> Node:
    return Node(name, "conv", (src,), args, when)


def _relu_conv_bn(p: str, src: str, when=None, op: str = "conv", **conv) -> list[Node]:
    return [Node(f"{p}.relu", "relu", (src,), when=when),
            Node(f"{p}.conv", op, (f"{p}.relu",), conv, when),
            Node(f"{p}.bn", "bn", (f"{p}.conv",), _BN, when)]


def _identity(p, src, adapt, stride, strided: str = "conv") -> list[Node]:
    """Nothing, or ReLU-1×1-BN where the stride or the width must change (TF ``none``). With
    ``strided="factorized"`` (ENAS ``_fixed_layer``), stride 2 is a factorized reduction to C
    and BN, without a ReLU."""
    if stride > 1 and strided == "factorized":
        return [*_factorized_reduce(p, src), Node(f"{p}.bn", "bn", (f"{p}.path",), _BN)]
    if stride > 1 or adapt is True:
        return _relu_conv_bn(p, src, out_ch="C", kernel=1, stride=stride)
    return _relu_conv_bn(p, src, adapt, out_ch="C", kernel=1) if adapt else []


def _pool(p, src, adapt, stride, kind, k) -> list[Node]:
    """Pooling, then a 1×1 conv + BN only where the width differs from C (TF)."""
    args: dict[str, Any] = {"kernel": k, "stride": stride, "padding": k // 2}
    if kind == "avgpool":
        args["count_include_pad"] = False
    nodes = [Node(f"{p}.pool", kind, (src,), args)]
    if adapt:
        when = adapt if isinstance(adapt, str) else None
        nodes += [_conv(f"{p}.conv", f"{p}.pool", when, out_ch="C", kernel=1),
                  Node(f"{p}.bn", "bn", (f"{p}.conv",), _BN, when)]
    return nodes


def _sep(p, src, adapt, stride, k) -> list[Node]:
    """ReLU-separable-BN twice, the stride on the first (TF ``separable_kxk_2``)."""
    return [Node(f"{p}.relu_1", "relu", (src,)),
            Node(f"{p}.separable_1", "sepconv", (f"{p}.relu_1",),
                 {"out_ch": "C", "kernel": k, "stride": stride}),
            Node(f"{p}.bn_sep_1", "bn", (f"{p}.separable_1",), _BN),
            Node(f"{p}.relu_2", "relu", (f"{p}.bn_sep_1",)),
            Node(f"{p}.separable_2", "sepconv", (f"{p}.relu_2",), {"out_ch": "C", "kernel": k}),
            Node(f"{p}.bn_sep_2", "bn", (f"{p}.separable_2",), _BN)]


def _conv_op(p, src, adapt, stride, k, dilation=1) -> list[Node]:
    extra = {"dilation": dilation} if dilation != 1 else {}
    return _relu_conv_bn(p, src, out_ch="C", kernel=k, stride=stride, **extra)


def _factorized(p, src, adapt, stride, n, variant: str = "full") -> list[Node]:
    """ReLU, 1×n then n×1 conv, BN (``full``). ``bottleneck`` is the AmoebaNet reference
    code's op (TPU ``amoeba_net`` ``_apply_operation``): ReLU-1×1-BN down to C/4 (3C/8 for
    n=3), ReLU, 1×n conv, BN, ReLU, n×1 conv, BN, then ReLU-1×1-BN back up to C."""
    if variant == "full":
        return _relu_conv_bn(p, src, op="fconv", out_ch="C", n=n, stride=stride)
    r = "max(1, C // 4)" if n != 3 else "max(1, 3 * C // 8)"
    return [*_relu_conv_bn(f"{p}.pre", src, out_ch=r, kernel=1),
            Node(f"{p}.relu_1xn", "relu", (f"{p}.pre.bn",)),
            _conv(f"{p}.conv_1xn", f"{p}.relu_1xn", out_ch=r, kernel=(1, n), stride=(1, stride),
                  padding=(0, n // 2)),
            Node(f"{p}.bn_1xn", "bn", (f"{p}.conv_1xn",), _BN),
            Node(f"{p}.relu_nx1", "relu", (f"{p}.bn_1xn",)),
            _conv(f"{p}.conv_nx1", f"{p}.relu_nx1", out_ch=r, kernel=(n, 1), stride=(stride, 1),
                  padding=(n // 2, 0)),
            Node(f"{p}.bn", "bn", (f"{p}.conv_nx1",), _BN),
            *_relu_conv_bn(f"{p}.post", f"{p}.bn", out_ch="C", kernel=1)]


#: the 13 ops: writer and its arguments
_OPS = {"identity": (_identity, {}),
        "conv1x3_3x1": (_factorized, {"n": 3}), "conv1x7_7x1": (_factorized, {"n": 7}),
        "dil_conv3x3": (_conv_op, {"k": 3, "dilation": 2}),
        "avg_pool3x3": (_pool, {"kind": "avgpool", "k": 3}),
        "max_pool3x3": (_pool, {"kind": "maxpool", "k": 3}),
        "max_pool5x5": (_pool, {"kind": "maxpool", "k": 5}),
        "max_pool7x7": (_pool, {"kind": "maxpool", "k": 7}),
        "conv1x1": (_conv_op, {"k": 1}), "conv3x3": (_conv_op, {"k": 3}),
        "sep_conv3x3": (_sep, {"k": 3}), "sep_conv5x5": (_sep, {"k": 5}),
        "sep_conv7x7": (_sep, {"k": 7})}
assert tuple(_OPS) == OPS


def op_nodes(op: str, p: str, src: str, ch: str, stride: int,
             rules: str | CellRules = "full") -> tuple[list[Node], str]:
    """The nodes of ``op`` applied to ``src`` (of width ``ch``), named ``p.*``, and the name of
    its output; every op outputs C channels. ``rules`` (:class:`CellRules`, or just the
    ``factorized`` variant) picks how the 1×n-then-n×1 ops and a strided identity are
    implemented and the batch-norm epsilon (the space's building options)."""
    r = _rules(rules)
    write, args = _OPS[op]
    if write is _factorized:
        args = {**args, "variant": r.factorized}
    elif write is _identity:
        args = {**args, "strided": r.strided_identity}
    nodes = _with_eps(write(p, src, _adapt(ch), stride, **args), r.bn_eps)
    return nodes, nodes[-1].name if nodes else src


def _factorized_reduce(p: str, src: str, when: str | None = None) -> list[Node]:
    """NASNet's factorized reduction to C channels at stride 2: two 1×1 convs (C/2 each) on the
    even and on the one-pixel-shifted odd positions, concatenated (then BN, by the caller)."""
    return [
        Node(f"{p}.path_1.pool", "avgpool", (src,), {"kernel": 1, "stride": 2}, when),
        _conv(f"{p}.path_1.conv", f"{p}.path_1.pool", when, out_ch="C//2", kernel=1),
        Node(f"{p}.path_2.pad", "pad", (src,), {"left": -1, "right": 1, "top": -1, "bottom": 1},
             when),
        Node(f"{p}.path_2.pool", "avgpool", (f"{p}.path_2.pad",), {"kernel": 1, "stride": 2}, when),
        _conv(f"{p}.path_2.conv", f"{p}.path_2.pool", when, out_ch="C - C//2", kernel=1),
        Node(f"{p}.path", "concat", (f"{p}.path_1.conv", f"{p}.path_2.conv"), when=when)]


_REDUCE = "prev_h != x_h or prev_w != x_w"
_PROJECT = "prev_h == x_h and prev_w == x_w and prev_c != C"
_ADJUST = f"({_REDUCE}) or prev_c != C"


def _adjust_prev() -> tuple[list[Node], str]:
    """h[i-2] brought to h[i-1]'s size and C channels (TF ``_reduce_prev_layer``): ReLU, then a
    factorized reduction if the spatial size differs, else a 1×1 conv if the channels do, then
    BN; nothing at all when h[i-2] already matches. (A node whose ``when`` is false passes its
    first input through.)"""
    return [Node("adjust.relu", "relu", ("prev",), when=_ADJUST),
            *_factorized_reduce("adjust", "adjust.relu", _REDUCE),
            _conv("adjust.conv", "adjust.path", _PROJECT, out_ch="C", kernel=1),
            Node("adjust.bn", "bn", ("adjust.conv",), _BN, _ADJUST)], "adjust.bn"


@dataclasses.dataclass(frozen=True)
class CellSpec:
    """One cell's choices: ``blocks`` as (input_a, op_a, input_b, op_b, combine) and the
    states that blocks read but that are concatenated into the output anyway."""

    blocks: tuple
    also_concat: tuple = ()


def _cell_inputs(stem: bool, inputs: str = "nasnet") -> tuple[list[Node], dict[str, _State]]:
    """The nodes that bring a cell's inputs to width C, and the states h[i-1], h[i-2].

    ``nasnet`` (TF-slim): h[i-1] through ReLU-1×1-BN; h[i-2] adjusted (:func:`_adjust_prev`),
    or, in a ``stem`` cell (the first after the network stem), the raw stem output.
    ``enas`` (melodyguan/enas ``_maybe_calibrate_size`` then ``layer_base``): h[i-1] through a
    ReLU-1×1-BN to C where its width differs (``calibrate``), then a ReLU-1×1-BN C→C; h[i-2]
    adjusted; a stem cell reads the stem output as both, h[i-2] mapped to C by ReLU-1×1-BN."""
    if inputs == "enas":
        nodes = [*_relu_conv_bn("calibrate", "x", "x_c != C", out_ch="C", kernel=1),
                 *_relu_conv_bn("conv_1x1", "calibrate.bn", out_ch="C", kernel=1)]
    else:
        nodes = _relu_conv_bn("conv_1x1", "x", out_ch="C", kernel=1)
    states = {H1: _State("conv_1x1.bn", "C", True)}
    if stem and inputs == "enas":
        nodes += _relu_conv_bn("adjust", "x", "x_c != C", out_ch="C", kernel=1)
        states[H2] = _State("adjust.bn", "C", True)
    elif stem:
        states[H2] = _State("x", "raw", True)
    else:
        adjust, out = _adjust_prev()
        nodes += adjust
        states[H2] = _State(out, "C", True)
    return nodes, states


def write_cell(spec: CellSpec, reduction: bool, stem: bool,
               rules: str | CellRules = "full") -> Cell:
    """The cell of ``spec``: a reduction cell applies stride 2 to ops on its inputs; a ``stem``
    cell (the first after the network stem) reads the stem output as h[i-2] (raw, or mapped to
    C under ``inputs=enas``). ``rules``: :class:`CellRules` (or the ``factorized`` variant)."""
    r = _rules(rules)
    nodes, states = _cell_inputs(stem, r.inputs)
    used: set[str] = set()
    for k, (ia, oa, ib, ob, comb) in enumerate(spec.blocks):
        outs = []
        for side, (inp, op) in (("a", (ia, oa)), ("b", (ib, ob))):
            st = states[inp]
            made, out = op_nodes(op, f"block{k}.{side}", st.node, st.ch,
                                 2 if reduction and st.is_input else 1, r)
            nodes += made
            outs.append(out)
            used.add(inp)
        nodes.append(Node(f"block{k}", comb, tuple(outs)))
        states[f"block{k}"] = _State(f"block{k}", "C" if comb == "add" else "2C", False)
    kept = [s for s in states if s not in used or s in spec.also_concat]
    entries = []
    for s in kept:
        nodes_s, entry = _concat_entry(s, states[s], reduction)
        nodes += nodes_s
        entries.append(entry)
    if len(entries) > 1:
        nodes.append(Node("out", "concat", tuple(entries)))
    return Cell(tuple(_with_eps(nodes, r.bn_eps)), inputs=("x",) if stem else ("x", "prev"),
                output="out" if len(entries) > 1 else entries[0])


def _concat_entry(name: str, st: _State, reduction: bool) -> tuple[list[Node], str]:
    """A kept state as it enters the output concat: cell inputs of a reduction cell are
    reduced (factorized, TF ``_combine_unused_states``); a raw stem input is mapped to C."""
    tag = {H1: "x", H2: "prev"}.get(name, name)
    if st.is_input and reduction:
        p = f"reduce_{tag}"
        return [*_factorized_reduce(p, st.node), Node(f"{p}.bn", "bn", (f"{p}.path",), _BN)], \
            f"{p}.bn"
    if st.ch == "raw":
        p = f"reduce_{tag}"
        return [_conv(f"{p}.conv", st.node, "x_c != C", out_ch="C", kernel=1),
                Node(f"{p}.bn", "bn", (f"{p}.conv",), _BN, "x_c != C")], f"{p}.bn"
    return [], st.node


# =========================================================================== the space


class NasnetCellSpace(SearchSpace):
    """The NASNet search space; options as :class:`NasnetOptions` (``preset`` sets several)."""

    name = "nasnet-cell"
    description = ("NASNet (Zoph et al. 2018): normal + reduction cell, 5 blocks each (2 inputs, "
                   "2 of 13 ops, add/concat); N normal cells between reductions")
    Options = NasnetOptions
    PRESETS = PRESETS

    def __init__(self, **options: Any):
        o = self.options = make_options(NasnetOptions, options, self.name, PRESETS)
        for k, lo in (("N", 1), ("F", 2), ("reductions", 0), ("num_classes", 1)):
            if getattr(o, k) < lo:
                raise NasError(f"space {self.name!r} option {k!r}: must be ≥ {lo}")
        if o.stem == "imagenet" and o.F < 8:
            raise NasError(f"space {self.name!r} option 'F': the imagenet stem needs F ≥ 8 "
                           "(its stem cells have F/4 filters)")
        if not o.bn_eps > 0:
            raise NasError(f"space {self.name!r} option 'bn_eps': must be > 0")
        self.rules = CellRules(o.factorized, o.inputs, o.strided_identity, o.bn_eps)
        if len(o.input) != 3 or min(o.input) < 1:
            raise NasError(f"space {self.name!r} option 'input': expected C×H×W, got {o.input}")
        self._decisions = self._make_decisions()
        try:
            self._reference = self.decode({d.name: d.choices[0] for d in self.decisions})
        except GenomeError as e:
            raise NasError(f"space {self.name!r}: these options give no valid network ({e})") \
                from None

    # ---------------------------------------------------------------- decisions
    def _make_decisions(self) -> tuple[Decision, ...]:
        out = []
        for cell in CELLS:
            for k in range(B):
                states = (H1, H2) + tuple(f"block{j}" for j in range(k))
                out += [Decision(f"{cell}.block{k}.input_a", states),
                        Decision(f"{cell}.block{k}.input_b", states),
                        Decision(f"{cell}.block{k}.op_a", OPS),
                        Decision(f"{cell}.block{k}.op_b", OPS),
                        Decision(f"{cell}.block{k}.combine", COMBINES)]
            if self.options.concat == "choice":
                out += [Decision(f"{cell}.concat.{s}", (False, True))
                        for s in (H1, H2) + tuple(f"block{j}" for j in range(B - 1))]
        return tuple(out)

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self._decisions

    # ---------------------------------------------------------------- decode
    def cell_spec(self, a: Mapping[str, Any], cell: str) -> CellSpec:
        blocks = tuple(tuple(a[f"{cell}.block{k}.{f}"] for f in
                             ("input_a", "op_a", "input_b", "op_b", "combine")) for k in range(B))
        extra = tuple(s for s in (H1, H2) + tuple(f"block{j}" for j in range(B - 1))
                      if a.get(f"{cell}.concat.{s}") is True)
        return CellSpec(blocks, extra)

    def decode(self, assignment: Mapping[str, Any]) -> Genome:
        a = self.check(assignment)
        normal, reduction = self.cell_spec(a, "normal"), self.cell_spec(a, "reduction")
        return self.network({"normal": normal, "reduction": reduction}, self.name)

    def network(self, specs: Mapping[str, CellSpec], name: str) -> Genome:
        """Stem, then N normal cells, reduction cell, N normal cells, ..., then the head."""
        o = self.options
        cells: dict[str, Cell] = {}

        def use(kind: str, stem: bool) -> str:
            key = kind + ("_stem" if stem else "")
            if key not in cells:
                cells[key] = write_cell(specs[kind], kind == "reduction", stem, self.rules)
            return key

        stages: list[Stage] = []
        if o.stem == "imagenet":
            sf = o.stem_filters or 32
            stages.append(Stage("conv0", Cell(tuple(_with_eps([
                _conv("conv", "x", out_ch=sf, kernel=3, stride=2, padding=0),
                Node("bn", "bn", ("conv",), _BN)], o.bn_eps))), block_name=""))
            for j in range(2):
                stages.append(Stage("", use("reduction", stem=j == 0), out_ch=o.F * 2 ** j // 4,
                                    stride=2, block_name=f"cell_stem_{j}"))
            first_stem = False
        else:
            sf = o.stem_filters or 3 * o.F
            stages.append(Stage("stem", Cell(tuple(_with_eps([
                _conv("conv", "x", out_ch=sf, kernel=3),
                Node("bn", "bn", ("conv",), _BN)], o.bn_eps))), block_name=""))
            first_stem = True
        for r in range(o.reductions + 1):
            width = o.F * 2 ** r
            if r:
                stages.append(Stage("", use("reduction", False), out_ch=width, stride=2,
                                    block_name=f"reduction_cell_{r - 1}"))
            start, n = r * o.N, o.N
            if o.stack == "pnasnet" and r:   # the reduction cell is the stage's first cell
                n -= 1
            if first_stem:
                stages.append(Stage("", use("normal", True), out_ch=width, block_name="cell_0"))
                start, n, first_stem = start + 1, n - 1, False
            if n:
                stages.append(Stage("", use("normal", False), repeat=n, out_ch=width,
                                    block_name="cell_{i}", start=start))
        stages.append(Stage("", Cell((
            Node("relu", "relu"), Node("avg_pool", "gap"), Node("flatten", "flatten"),
            Node("dropout", "dropout", args={"p": 0.2 if o.head == "enas" else 0.5}),
            Node("last_linear", "linear", args={"out_ch": "K", **(
                {"bias": False} if o.head == "enas" else {})}))), block_name=""))
        return Genome(name, tuple(stages), tuple(cells.items()), o.input, o.num_classes)

    # ---------------------------------------------------------------- encode
    def encode_strict(self, genome: Genome) -> Assignment:
        self._check_skeleton(genome)
        cells = dict(genome.cells)
        a: Assignment = {}
        for kind in CELLS:
            key = kind if kind in cells else kind + "_stem"
            if key not in cells:  # the network never uses this cell: any choice decodes equal
                a.update({d.name: d.choices[0] for d in self.decisions
                          if d.name.startswith(kind + ".")})
                continue
            a.update(self._parse_cell(kind, cells[key], key.endswith("_stem")))
        if self.decode(a).hash != genome.hash:
            raise NotInSpaceError("the cells read as a nasnet-cell assignment, but decoding it "
                                  "gives a different network (the cells differ in detail)")
        return self.check(a)

    def _check_skeleton(self, g: Genome) -> None:
        ref = self._reference
        hint = " (the network around the cells comes from the options N, F, reductions, stem)"
        check_io(g, ref.input, ref.num_classes)
        if len(g.stages) != len(ref.stages):
            raise NotInSpaceError(f"stages: the genome has {len(g.stages)}, the space "
                                  f"{len(ref.stages)}{hint}")
        for j, (s, t) in enumerate(zip(g.stages, ref.stages)):
            fixed = isinstance(t.cell, Cell)  # stem / head: must be identical
            for f in ("name", "repeat", "out_ch", "stride", "args", "block_name", "start"):
                if getattr(s, f) != getattr(t, f):
                    raise NotInSpaceError(f"stages[{j}] ({t.block_path(0)}): {f} is "
                                          f"{getattr(s, f)!r}, the space has {getattr(t, f)!r}"
                                          f"{hint}")
            if (s.cell != t.cell) if fixed else (s.cell != t.cell or isinstance(s.cell, Cell)):
                what = ("stem" if j == 0 else "head") if fixed else f"cell {t.cell!r}"
                raise NotInSpaceError(f"stages[{j}] ({t.block_path(0) or 'head'}): its cell is "
                                      f"not the space's {what}{hint}")

    def cell_diagrams(self, genome: Genome):
        """NASNet's normal and reduction cells of ``genome`` as blocks (None when its cells are
        not written in this space's layout)."""
        from nas.space import CellBlock, CellDiagram
        cells = dict(genome.cells)
        out = []
        for kind in CELLS:
            key = next((k for k in (kind, kind + "_stem") if k in cells), None)
            if key is None:
                continue
            try:
                a = self._parse_cell(kind, cells[key], key.endswith("_stem"), concat="choice")
            except NotInSpaceError:
                return None
            blocks, used = [], set()
            for k in range(B):
                f = {x: a[f"{kind}.block{k}.{x}"] for x in
                     ("input_a", "op_a", "input_b", "op_b", "combine")}
                blocks.append(CellBlock((f["input_a"], f["input_b"]), (f["op_a"], f["op_b"]),
                                        f["combine"]))
                used |= {f["input_a"], f["input_b"]}
            states = (H1, H2) + tuple(f"block{k}" for k in range(B))
            kept = tuple(s for s in states if s not in used or a.get(f"{kind}.concat.{s}"))
            out.append(CellDiagram(kind, (H1, H2), tuple(blocks), kept,
                                   "ops on h[i-1], h[i-2] have stride 2"
                                   if kind == "reduction" else ""))
        return tuple(out) or None

    def _parse_cell(self, kind: str, cell: Cell, stem: bool,
                    concat: str | None = None) -> Assignment:
        nodes = {n.name: n for n in cell.nodes}
        reduction = kind == "reduction"
        states = _cell_inputs(stem, self.options.inputs)[1]
        a: Assignment = {}
        used = set()
        for k in range(B):
            comb = nodes.get(f"block{k}")
            where = f"{kind}.block{k}"
            if comb is None or comb.op not in COMBINES or len(comb.inputs) != 2:
                raise NotInSpaceError(f"{where}.combine: no add/concat node 'block{k}' with two "
                                      "inputs in the cell (not written in nasnet-cell's layout)")
            a[f"{where}.combine"] = comb.op
            for side, want in zip("ab", comb.inputs):
                a[f"{where}.input_{side}"], a[f"{where}.op_{side}"] = self._match_op(
                    nodes, states, f"block{k}.{side}", want, reduction, f"{where}.op_{side}",
                    self.rules)
                used.add(a[f"{where}.input_{side}"])
            states[f"block{k}"] = _State(f"block{k}", "C" if comb.op == "add" else "2C", False)
        if (concat or self.options.concat) == "choice":
            out = nodes.get(cell.output)
            entries = set(out.inputs) if out is not None and cell.output == "out" else {cell.output}
            for s in (H1, H2) + tuple(f"block{j}" for j in range(B - 1)):  # read, yet kept
                a[f"{kind}.concat.{s}"] = s in used and \
                    _concat_entry(s, states[s], reduction)[1] in entries
        return a

    @staticmethod
    def _match_op(nodes: Mapping[str, Node], states: Mapping[str, _State], p: str, want: str,
                  reduction: bool, decision: str, rules: str | CellRules = "full"
                  ) -> tuple[str, str]:
        for name, st in states.items():
            for op in OPS:
                made, out = op_nodes(op, p, st.node, st.ch, 2 if reduction and st.is_input else 1,
                                     rules)
                if out == want and all(nodes.get(n.name) == n for n in made):
                    return name, op
        raise NotInSpaceError(f"{decision}: the branch {want!r} feeding {p.rsplit('.', 1)[0]} "
                              "is none of the 13 ops applied to an available state")

    # ---------------------------------------------------------------- fixed points
    def fixed_points(self) -> dict[str, Genome]:
        """The published cells (:data:`CELL_SPECS`) in this space's network. NASNet-A,
        AmoebaNet-A and PNASNet-5 also concatenate states that blocks read, so only a
        ``concat=choice`` space holds them; ENAS's cells follow the paper's rule and are in
        every space. (ENAS's own CIFAR network needs the ``enas-cifar`` preset's building
        rules: at N=5, F=36 with the default rules the ENAS cells have 3,753,334 parameters,
        under ``enas-cifar`` 3,894,372, as ENAS's code counts; its paper reports 4.6M.)"""
        return {name: self.network(cell_specs(name), name) for name, c in CELL_SPECS.items()
                if self.options.concat == "choice" or not (c["normal.concat"]
                                                           or c["reduction.concat"])}

    def projected_fixed_points(self) -> list[dict]:
        """Each published cell (a fixed point of its preset: NASNet-A of ``mobile``,
        AmoebaNet-A of ``amoeba-mobile``, PNASNet-5 of ``pnas-mobile``) in this space's network
        (its N, F, stem and input). A ``concat=unused`` space cannot hold them, as they also
        concatenate states that blocks read: there the cells by the paper's rule (only unread
        states concatenated), ``<name>_unused``, are the points of the space."""
        o = self.options
        out = []
        for name, preset in PUBLISHED_PRESETS.items():
            specs = cell_specs(name)
            full = self.network(specs, name)
            changes = [f"{name} cells in the space's network (N={o.N}, F={o.F})"]
            try:
                assignment, reason = self.encode_strict(full), None
            except NotInSpaceError as e:
                assignment, reason = None, str(e)
                if o.concat != "choice":
                    mine = {k: v for k, v in dataclasses.asdict(o).items() if k != "preset"}
                    if NasnetCellSpace(**{**mine, "concat": "choice"}).encode(full) is not None:
                        read = "; ".join(f"{k}: {', '.join(v.also_concat)}"
                                         for k, v in specs.items() if v.also_concat)
                        reason = (f"it also concatenates states that blocks read ({read}), "
                                  "which the paper's rule (concat=unused) cannot express — in "
                                  "the space with --option concat=choice"
                                  + (" (at these sizes: --option preset=published)"
                                     if o == NasnetCellSpace().options else ""))
            out.append({"name": name, "source": f"nasnet-cell/{preset}", "genome": full,
                        "assignment": assignment, "reason": reason, "changes": changes})
            if assignment is None:
                g = self.network({k: CellSpec(s.blocks) for k, s in specs.items()},
                                 f"{name}_unused")
                out.append({"name": f"{name}_unused", "source": f"nasnet-cell/{preset}",
                            "genome": g, "assignment": self.encode(g), "reason": None,
                            "changes": changes + ["only unread states concatenated (the "
                                                  "paper's rule; the published cell also "
                                                  "concatenates read ones)"]})
        return out

    def assignment_of(self, specs: Mapping[str, CellSpec]) -> Assignment:
        a: Assignment = {}
        for kind in CELLS:
            s = specs[kind]
            for k, blk in enumerate(s.blocks):
                for f, v in zip(("input_a", "op_a", "input_b", "op_b", "combine"), blk):
                    a[f"{kind}.block{k}.{f}"] = v
            if self.options.concat == "choice":
                for st in (H1, H2) + tuple(f"block{j}" for j in range(B - 1)):
                    a[f"{kind}.concat.{st}"] = st in s.also_concat
        return a

    def describe(self) -> dict:
        return {**super().describe(), "options": dataclasses.asdict(self.options)}


#: the published cells and the preset whose network is the published one
PUBLISHED_PRESETS = {"nasnet_a": "mobile", "amoebanet_a": "amoeba-mobile",
                     "pnasnet_5": "pnas-mobile"}


def cell_specs(name: str) -> dict[str, CellSpec]:
    """The normal and reduction :class:`CellSpec` of a published cell of :data:`CELL_SPECS`."""
    c = CELL_SPECS[name]
    return {k: CellSpec(c[k], c[k + ".concat"]) for k in CELLS}


def nasnet_a_specs() -> dict[str, CellSpec]:
    return cell_specs("nasnet_a")


def _published_net(cell: str, name: str, num_classes: int, input: tuple) -> Genome:
    space = NasnetCellSpace(preset=PUBLISHED_PRESETS[cell], num_classes=num_classes,
                            input=tuple(input))
    return space.network(cell_specs(cell), name)


def nasnet_a_mobile(*, num_classes: int = 1000, input: tuple = (3, 224, 224)) -> Genome:
    """NASNet-A mobile (4 @ 1056): N=4, F=44, ImageNet stem; 5.3M params, 564M mult-adds at 224."""
    return _published_net("nasnet_a", "nasnet_a_mobile", num_classes, input)


def amoebanet_a_mobile(*, num_classes: int = 1000, input: tuple = (3, 224, 224)) -> Genome:
    """AmoebaNet-A mobile (Real et al., AAAI 2019, Table 2: N=4, F=50): the NASNet network
    with the AmoebaNet-A cells and the reference code's bottlenecked 1×7-7×1 conv
    (``factorized=bottleneck``); 5.1M params, 555M mult-adds at 224."""
    return _published_net("amoebanet_a", "amoebanet_a_mobile", num_classes, input)


def pnasnet5_mobile(*, num_classes: int = 1000, input: tuple = (3, 224, 224)) -> Genome:
    """PNASNet-5 mobile (Liu et al., ECCV 2018, Table 5: N=3, F=54): one cell for normal and
    reduction, 9 cells of which 2 reduce (``stack=pnasnet``); 5.1M params, 588M mult-adds."""
    return _published_net("pnasnet_5", "pnasnet5_mobile", num_classes, input)


def enas_cifar(*, num_classes: int = 10, input: tuple = (3, 32, 32)) -> Genome:
    """ENAS's CIFAR-10 network (Pham et al., ICML 2018; melodyguan/enas micro final): the ENAS
    cells, N=5, F=36, under the preset ``enas-cifar``; 3,894,372 params as its code counts."""
    space = NasnetCellSpace(preset="enas-cifar", num_classes=num_classes, input=tuple(input))
    return space.network(cell_specs("enas"), "enas_cifar")


SPACES.register("nasnet-cell", NasnetCellSpace)
NETS.register("nasnet_a_mobile", nasnet_a_mobile)
NETS.register("amoebanet_a_mobile", amoebanet_a_mobile)
NETS.register("pnasnet5_mobile", pnasnet5_mobile)
NETS.register("enas_cifar", enas_cifar)

__all__ = ["NasnetCellSpace", "NasnetOptions", "NASNET_A", "AMOEBANET_A", "PNASNET_5",
           "CELL_SPECS", "cell_specs", "OPS", "nasnet_a_mobile", "amoebanet_a_mobile",
           "pnasnet5_mobile", "enas_cifar", "ENAS", "CellRules",
           "write_cell", "op_nodes", "CellSpec"]
