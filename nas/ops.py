"""The primitive-op registry: what each op takes, its output shape, parameters, cost and module.

An op is plain data plus four small functions. Shapes are tuples: ``(C, H, W)`` for feature
maps, ``(F,)`` for flat vectors; the batch dimension is implicit. ``macs`` counts conv/linear
multiply-adds (what ``FlopCounterMode`` counts, ÷2); ``flops`` adds the lecture's pooling
convention (output elements × window) to that. Element-wise ops (BN, activations, add, …) cost
0 FLOPs by that convention and are reported separately as ``elementwise``.

Ops never import torch: ``make`` returns a :class:`Mod` / :class:`Fn` description that the
builder instantiates (and the exporter writes out as source).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from nas.registry import Registry

Shape = tuple

REQUIRED = object()


@dataclass(frozen=True)
class Mod:
    """How to construct an op's module: ``cls`` is ``nn.<Name>`` (torch.nn) or the name of a
    class in :mod:`nas.modules`. The builder instantiates it; the exporter writes it as code."""

    cls: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Fn:
    """A function of :mod:`nas.modules` applied to the op's inputs, then ``extra`` args."""

    name: str
    extra: tuple = ()


class OpShapeError(ValueError):
    """Raised by an op's shape function; the genome wraps it into a GenomeError with the path."""


@dataclass(frozen=True)
class Param:
    kind: str  # int | int2 | ints | float | bool | str
    default: Any = REQUIRED
    choices: tuple = ()
    doc: str = ""


@dataclass(frozen=True)
class OpSpec:
    name: str
    category: str  # conv linear pool norm act merge shape reg other
    params: Mapping[str, Param]
    arity: tuple[int, int | None]  # (min, max) number of inputs; max None = any
    infer: Callable[[Sequence[Shape], dict], Shape]
    n_params: Callable[[Sequence[Shape], Shape, dict], int] = lambda i, o, a: 0
    macs: Callable[[Sequence[Shape], Shape, dict], int] = lambda i, o, a: 0
    pool_flops: Callable[[Sequence[Shape], Shape, dict], int] = lambda i, o, a: 0
    make: Callable[[Sequence[Shape], Shape, dict], "Mod | Fn | None"] | None = None
    doc: str = ""

    def resolve_args(self, args: Mapping[str, Any]) -> dict:
        """Fill defaults and check kinds; ``args`` holds concrete (already evaluated) values."""
        out = {}
        for k in args:
            if k not in self.params:
                raise OpShapeError(
                    f"unknown parameter {k!r} for op {self.name!r} "
                    f"(known: {', '.join(self.params) or 'none'})")
        for k, p in self.params.items():
            if k in args:
                out[k] = _check_kind(self.name, k, p, args[k])
            elif p.default is REQUIRED:
                raise OpShapeError(f"op {self.name!r} needs parameter {k!r}")
            else:
                out[k] = _check_kind(self.name, k, p, p.default)
        if out.get("padding", 0) is None and "kernel" in out:
            out["padding"] = _pad(out)  # the default, made explicit: one network, one hash
        return out

    def module(self, in_shapes: Sequence[Shape], out_shape: Shape, args: dict) -> "Mod | Fn | None":
        """How to compute this op: a module to construct, a function to call, or None (identity)."""
        if self.make is None:
            raise NotImplementedError(self.name)
        return self.make(in_shapes, out_shape, args)


def _check_kind(op: str, name: str, p: Param, v: Any) -> Any:
    bad = OpShapeError(f"op {op!r} parameter {name!r} must be {p.kind}"
                       + (f" in {list(p.choices)}" if p.choices else "") + f", got {v!r}")
    if v is None and p.default is None:
        return None
    if p.kind == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                return int(v)
            raise bad
        return v
    if p.kind == "int2":
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(
                isinstance(x, int) and not isinstance(x, bool) for x in v):
            return (int(v[0]), int(v[1]))
        if isinstance(v, int) and not isinstance(v, bool):
            return (v, v)
        raise bad
    if p.kind == "ints":
        if isinstance(v, (list, tuple)) and all(
                isinstance(x, int) and not isinstance(x, bool) for x in v):
            return tuple(int(x) for x in v)
        raise bad
    if p.kind == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise bad
        return float(v)
    if p.kind == "bool":
        if not isinstance(v, bool):
            raise bad
        return v
    if p.kind == "str":
        if not isinstance(v, str) or (p.choices and v not in p.choices):
            raise bad
        return v
    raise AssertionError(p.kind)


OPS: Registry[OpSpec] = Registry("op")


def op(name: str, category: str, params: Mapping[str, Param] | None = None,
       arity=(1, 1), **fns) -> OpSpec:
    spec = OpSpec(name=name, category=category, params=dict(params or {}), arity=arity, **fns)
    OPS.register(name, spec)
    return spec


# --------------------------------------------------------------------------- shape helpers

def _spatial(in_shape: Shape, op_name: str) -> tuple[int, int, int]:
    if len(in_shape) != 3:
        raise OpShapeError(f"{op_name} needs a C×H×W feature map, got a flat vector of "
                           f"{in_shape[0]}")
    return in_shape  # type: ignore[return-value]


def _out_len(n: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    span = n + 2 * p - d * (k - 1) - 1
    if ceil:
        out = -(-span // s) + 1
        if (out - 1) * s >= n + p:  # PyTorch: last window must start inside the input
            out -= 1
    else:
        out = span // s + 1
    return out


def _conv_out(in_shape: Shape, out_ch: int, a: dict, name: str) -> Shape:
    c, h, w = _spatial(in_shape, name)
    kh, kw = a["kernel"]
    sh, sw = a["stride"]
    dh, dw = a.get("dilation") or (1, 1)
    ph, pw = a["padding"] if a.get("padding") is not None else (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
    oh, ow = _out_len(h, kh, sh, ph, dh), _out_len(w, kw, sw, pw, dw)
    if oh <= 0 or ow <= 0:
        raise OpShapeError(f"spatial size shrinks to zero: {h}×{w} input, kernel {kh}×{kw}, "
                           f"stride {sh}×{sw}, padding {ph}×{pw} gives {oh}×{ow}")
    if min(sh, sw, kh, kw, dh, dw) < 1:
        raise OpShapeError("kernel, stride and dilation must be ≥ 1")
    return (out_ch, oh, ow)


def _pad(a: dict) -> tuple[int, int]:
    if a.get("padding") is not None:
        return a["padding"]
    dh, dw = a.get("dilation") or (1, 1)
    kh, kw = a["kernel"]
    return (dh * (kh - 1) // 2, dw * (kw - 1) // 2)


def _numel(shape: Shape) -> int:
    return math.prod(shape)


# --------------------------------------------------------------------------- convolutions

_CONV_PARAMS = {
    "out_ch": Param("int", doc="output channels"),
    "kernel": Param("int2", 3), "stride": Param("int2", 1),
    "padding": Param("int2", None, doc="default: dilation·(kernel−1)/2 ('same' at stride 1)"),
    "dilation": Param("int2", 1), "groups": Param("int", 1), "bias": Param("bool", False),
}


def _conv_infer(i, a):
    cin = _spatial(i[0], "conv")[0]
    g = a["groups"]
    if g < 1 or cin % g or a["out_ch"] % g:
        raise OpShapeError(f"groups={g} must divide in_ch={cin} and out_ch={a['out_ch']}")
    if a["out_ch"] < 1:
        raise OpShapeError(f"out_ch must be ≥ 1, got {a['out_ch']}")
    return _conv_out(i[0], a["out_ch"], a, "conv")


def _conv_make(i, o, a):
    return Mod("nn.Conv2d", (i[0][0], a["out_ch"], a["kernel"], a["stride"], _pad(a),
                             a["dilation"], a["groups"], a["bias"]))


op("conv", "conv", _CONV_PARAMS, infer=_conv_infer,
   n_params=lambda i, o, a: a["out_ch"] * (i[0][0] // a["groups"]) * math.prod(a["kernel"])
   + (a["out_ch"] if a["bias"] else 0),
   macs=lambda i, o, a: _numel(o) * (i[0][0] // a["groups"]) * math.prod(a["kernel"]),
   make=_conv_make, doc="2-D convolution (kernel, stride, padding, dilation, groups, bias)")

_DW_PARAMS = {"kernel": Param("int2", 3), "stride": Param("int2", 1),
              "padding": Param("int2", None), "dilation": Param("int2", 1),
              "multiplier": Param("int", 1), "bias": Param("bool", False)}


def _dw_make(i, o, a):
    c = i[0][0]
    return Mod("nn.Conv2d", (c, c * a["multiplier"], a["kernel"], a["stride"], _pad(a),
                             a["dilation"], c, a["bias"]))


op("dwconv", "conv", _DW_PARAMS,
   infer=lambda i, a: _conv_out(i[0], _spatial(i[0], "dwconv")[0] * a["multiplier"], a, "dwconv"),
   n_params=lambda i, o, a: o[0] * math.prod(a["kernel"]) + (o[0] if a["bias"] else 0),
   macs=lambda i, o, a: _numel(o) * math.prod(a["kernel"]),
   make=_dw_make, doc="depthwise convolution (groups = in_ch)")


def _sep_infer(i, a):
    if a["out_ch"] < 1:
        raise OpShapeError(f"out_ch must be ≥ 1, got {a['out_ch']}")
    return _conv_out(i[0], a["out_ch"], a, "sepconv")


op("sepconv", "conv",
   {"out_ch": Param("int"), "kernel": Param("int2", 3), "stride": Param("int2", 1),
    "padding": Param("int2", None), "dilation": Param("int2", 1), "bias": Param("bool", False)},
   infer=_sep_infer,
   n_params=lambda i, o, a: i[0][0] * math.prod(a["kernel"]) + i[0][0] * o[0]
   + ((i[0][0] + o[0]) if a["bias"] else 0),
   macs=lambda i, o, a: o[1] * o[2] * i[0][0] * math.prod(a["kernel"]) + _numel(o) * i[0][0],
   make=lambda i, o, a: Mod("SeparableConv2d", (i[0][0], a["out_ch"], a["kernel"], a["stride"],
                                                 _pad(a), a["dilation"], a["bias"])),
   doc="depthwise-separable conv: depthwise k×k then pointwise 1×1")


def _fconv_infer(i, a):
    c, h, w = _spatial(i[0], "fconv")
    n, s = a["n"], a["stride"]
    mid = _conv_out(i[0], a["out_ch"], {"kernel": (1, n), "stride": (1, s), "padding": (0, n // 2)},
                    "fconv")
    return _conv_out(mid, a["out_ch"], {"kernel": (n, 1), "stride": (s, 1), "padding": (n // 2, 0)},
                     "fconv")


def _fconv_macs(i, o, a):
    c, h, w = i[0]
    n, s = a["n"], a["stride"]
    mid_w = _out_len(w, n, s, n // 2)
    return o[0] * h * mid_w * c * n + _numel(o) * o[0] * n


op("fconv", "conv",
   {"out_ch": Param("int"), "n": Param("int", 7), "stride": Param("int", 1),
    "bias": Param("bool", False)},
   infer=_fconv_infer,
   n_params=lambda i, o, a: a["n"] * (i[0][0] + o[0]) * o[0] + (2 * o[0] if a["bias"] else 0),
   macs=_fconv_macs,
   make=lambda i, o, a: Mod("FactorizedConv2d", (i[0][0], a["out_ch"], a["n"], a["stride"],
                                                  a["bias"])),
   doc="factorized conv: 1×n (stride 1×s) then n×1 (stride s×1)")


# --------------------------------------------------------------------------- pooling

_POOL_PARAMS = {"kernel": Param("int2"), "stride": Param("int2", None),
                "padding": Param("int2", 0), "ceil_mode": Param("bool", False)}


def _pool_infer(i, a):
    c, h, w = _spatial(i[0], "pool")
    kh, kw = a["kernel"]
    sh, sw = a["stride"] or a["kernel"]
    ph, pw = a["padding"]
    if ph > kh // 2 or pw > kw // 2:
        raise OpShapeError(f"pool padding {ph}×{pw} must be at most half the kernel {kh}×{kw}")
    oh, ow = _out_len(h, kh, sh, ph, 1, a["ceil_mode"]), _out_len(w, kw, sw, pw, 1, a["ceil_mode"])
    if oh <= 0 or ow <= 0:
        raise OpShapeError(f"spatial size shrinks to zero: {h}×{w} input, pool {kh}×{kw} "
                           f"stride {sh}×{sw} gives {oh}×{ow}")
    return (c, oh, ow)


def _pool_make(kind):
    def make(i, o, a):
        stride = a["stride"] or a["kernel"]
        if kind == "max":
            return Mod("nn.MaxPool2d", (a["kernel"], stride, a["padding"]),
                       {"ceil_mode": a["ceil_mode"]})
        return Mod("nn.AvgPool2d", (a["kernel"], stride, a["padding"]),
                   {"ceil_mode": a["ceil_mode"], "count_include_pad": a["count_include_pad"]})
    return make


_pool_cost = lambda i, o, a: _numel(o) * math.prod(a["kernel"])  # noqa: E731
op("maxpool", "pool", _POOL_PARAMS, infer=_pool_infer, pool_flops=_pool_cost,
   make=_pool_make("max"), doc="max pooling (FLOPs = output elements × kernel area)")
op("avgpool", "pool", {**_POOL_PARAMS, "count_include_pad": Param("bool", True)},
   infer=_pool_infer, pool_flops=_pool_cost, make=_pool_make("avg"), doc="average pooling")


def _adaptive_windows(n: int, out: int) -> int:
    return sum(math.ceil((k + 1) * n / out) - (k * n) // out for k in range(out))


def _adaptive_infer(i, a):
    c, h, w = _spatial(i[0], "adaptive_avgpool")
    oh, ow = a["size"]
    if oh < 1 or ow < 1:
        raise OpShapeError(f"adaptive pool size must be ≥ 1, got {oh}×{ow}")
    return (c, oh, ow)


op("adaptive_avgpool", "pool", {"size": Param("int2", 1)}, infer=_adaptive_infer,
   pool_flops=lambda i, o, a: o[0] * _adaptive_windows(i[0][1], o[1]) * _adaptive_windows(i[0][2], o[2]),
   make=lambda i, o, a: Mod("nn.AdaptiveAvgPool2d", (a["size"],)),
   doc="adaptive average pooling to a fixed H×W (torchvision's avgpool)")
op("gap", "pool", {}, infer=lambda i, a: (_spatial(i[0], "gap")[0], 1, 1),
   pool_flops=lambda i, o, a: _numel(i[0]),
   make=lambda i, o, a: Mod("nn.AdaptiveAvgPool2d", (1,)),
   doc="global average pooling to C×1×1")
op("gmp", "pool", {}, infer=lambda i, a: (_spatial(i[0], "gmp")[0], 1, 1),
   pool_flops=lambda i, o, a: _numel(i[0]),
   make=lambda i, o, a: Mod("nn.AdaptiveMaxPool2d", (1,)),
   doc="global max pooling to C×1×1")


# --------------------------------------------------------------------------- normalisation

def _same(i, a):
    return tuple(i[0])


op("bn", "norm", {"eps": Param("float", 1e-5), "momentum": Param("float", 0.1),
                  "affine": Param("bool", True)},
   infer=lambda i, a: tuple(_spatial(i[0], "bn")),
   n_params=lambda i, o, a: 2 * i[0][0] if a["affine"] else 0,
   make=lambda i, o, a: Mod("nn.BatchNorm2d", (i[0][0], a["eps"], a["momentum"], a["affine"])),
   doc="batch normalisation")
op("lrn", "norm", {"size": Param("int", 5), "alpha": Param("float", 1e-4),
                   "beta": Param("float", 0.75), "k": Param("float", 2.0)},
   infer=lambda i, a: tuple(_spatial(i[0], "lrn")),
   make=lambda i, o, a: Mod("nn.LocalResponseNorm", (a["size"], a["alpha"], a["beta"], a["k"])),
   doc="local response normalisation (AlexNet)")


# --------------------------------------------------------------------------- activations

def _act(name, factory, params=None, doc=""):
    op(name, "act", params or {}, infer=_same,
       make=lambda i, o, a: factory(a), doc=doc)


_INPLACE = {"inplace": True}
_act("relu", lambda a: Mod("nn.ReLU", (), _INPLACE), doc="ReLU")
_act("relu6", lambda a: Mod("nn.ReLU6", (), _INPLACE), doc="ReLU6 (MobileNet)")
_act("leaky_relu", lambda a: Mod("nn.LeakyReLU", (a["slope"],), _INPLACE),
     {"slope": Param("float", 0.01)}, doc="LeakyReLU")
_act("sigmoid", lambda a: Mod("nn.Sigmoid"), doc="sigmoid")
_act("tanh", lambda a: Mod("nn.Tanh"), doc="tanh")
_act("hardswish", lambda a: Mod("nn.Hardswish", (), _INPLACE), doc="hard-swish (MobileNetV3)")
_act("hardsigmoid", lambda a: Mod("nn.Hardsigmoid", (), _INPLACE), doc="hard-sigmoid")
_act("silu", lambda a: Mod("nn.SiLU", (), _INPLACE), doc="SiLU / swish (EfficientNet)")


# --------------------------------------------------------------------------- dense / shape

def _linear_infer(i, a):
    if len(i[0]) != 1:
        raise OpShapeError(f"linear needs a flat input, got {'×'.join(map(str, i[0]))}; "
                           "put a flatten before it")
    if a["out_ch"] < 1:
        raise OpShapeError(f"out_ch must be ≥ 1, got {a['out_ch']}")
    return (a["out_ch"],)


op("linear", "linear", {"out_ch": Param("int"), "bias": Param("bool", True)},
   infer=_linear_infer,
   n_params=lambda i, o, a: i[0][0] * o[0] + (o[0] if a["bias"] else 0),
   macs=lambda i, o, a: i[0][0] * o[0],
   make=lambda i, o, a: Mod("nn.Linear", (i[0][0], a["out_ch"], a["bias"])),
   doc="fully connected layer (FLOPs = in·out)")
op("dropout", "reg", {"p": Param("float", 0.5)}, infer=_same,
   make=lambda i, o, a: Mod("nn.Dropout", (a["p"],)),
   doc="dropout")


def _prob(name):
    def infer(i, a):
        if not 0.0 <= a["p"] <= 1.0:
            raise OpShapeError(f"{name} probability p must be in [0, 1], got {a['p']}")
        return tuple(i[0])
    return infer


op("drop_path", "reg", {"p": Param("float", 0.0, doc="drop probability (1 − survival)"),
                        "mode": Param("str", "row", ("row", "batch"))},
   infer=_prob("drop_path"),
   make=lambda i, o, a: Mod("torchvision.ops.StochasticDepth", (a["p"], a["mode"])),
   doc="stochastic depth / drop-path (Huang et al. 2016): in training, zero the input per "
       "sample (row) or per batch with probability p and scale survivors by 1/(1−p); the "
       "identity in eval mode. Put it on a residual branch before the add")
op("flatten", "shape", {}, infer=lambda i, a: (_numel(i[0]),),
   make=lambda i, o, a: Fn("flatten"), doc="flatten C×H×W to a vector")
op("identity", "shape", {}, infer=_same, make=lambda i, o, a: None, doc="identity")


def _zero_infer(i, a):
    c, h, w = _spatial(i[0], "zero")
    s = a["stride"]
    return (a["out_ch"] or c, (h - 1) // s + 1, (w - 1) // s + 1)


op("zero", "shape", {"stride": Param("int", 1), "out_ch": Param("int", None)}, infer=_zero_infer,
   make=lambda i, o, a: Mod("Zero", (a["stride"], a["out_ch"])),
   doc="zeros (the 'none' edge of cell spaces)")


def _pad_infer(i, a):
    c, h, w = _spatial(i[0], "pad")
    oh, ow = h + a["top"] + a["bottom"], w + a["left"] + a["right"]
    if oh <= 0 or ow <= 0:
        raise OpShapeError(f"pad/crop of a {h}×{w} input gives {oh}×{ow}")
    return (c, oh, ow)


op("pad", "shape", {"left": Param("int", 0), "right": Param("int", 0), "top": Param("int", 0),
                    "bottom": Param("int", 0)}, infer=_pad_infer,
   make=lambda i, o, a: Mod("nn.ZeroPad2d", ((a["left"], a["right"], a["top"], a["bottom"]),)),
   doc="zero padding per side; a negative amount crops (NASNet's one-pixel shift: "
       "left=-1, right=1, top=-1, bottom=1)")


def _add_infer(i, a):
    if any(s != i[0] for s in i[1:]):
        raise OpShapeError("add needs inputs of one shape, got "
                           + ", ".join("×".join(map(str, s)) for s in i))
    return tuple(i[0])


op("add", "merge", {}, arity=(2, None), infer=_add_infer,
   make=lambda i, o, a: Fn("add"), doc="element-wise sum")


def _join_infer(i, a):
    if not 0.0 <= a["p"] < 1.0:
        raise OpShapeError(f"join drop probability p must be in [0, 1), got {a['p']}")
    xs = i[:-1] if a["cols"] else i
    if a["cols"]:
        if len(a["cols"]) != len(xs) or len(i[-1]) != 1:
            raise OpShapeError(f"join with cols {list(a['cols'])} takes {len(a['cols'])} "
                               "feature maps then a drop_trigger, got "
                               + ", ".join("×".join(map(str, s)) for s in i))
    if len(xs) < 1 or any(s != xs[0] for s in xs[1:]):
        raise OpShapeError("join needs inputs of one shape, got "
                           + ", ".join("×".join(map(str, s)) for s in xs))
    return tuple(xs[0])


op("join", "merge",
   {"p": Param("float", 0.0, doc="local drop-path: each input dropped with probability p "
                                 "(at least one kept), per batch, in training only"),
    "cols": Param("ints", (), doc="the column of each input (then the last input is a "
                                  "drop_trigger): global drop-path keeps one column")},
   arity=(2, None), infer=_join_infer,
   make=lambda i, o, a: Mod("Join", (a["p"], a["cols"])),
   doc="FractalNet join (Larsson et al. 2017): element-wise mean of its inputs; in training "
       "with drop-path (local: inputs dropped at random; global: one column kept)")


def _trigger_infer(i, a):
    if not 0.0 <= a["p"] <= 1.0 or a["columns"] < 1:
        raise OpShapeError(f"drop_trigger needs p in [0, 1] and columns ≥ 1, got p={a['p']}, "
                           f"columns={a['columns']}")
    return (1,)


op("drop_trigger", "reg", {"p": Param("float", 0.5, doc="probability of a global-drop batch"),
                           "columns": Param("int", doc="number of columns to pick from")},
   infer=_trigger_infer, make=lambda i, o, a: Mod("DropTrigger", (a["p"], a["columns"])),
   doc="FractalNet global drop-path: per training batch, with probability p, the column "
       "(1..columns) every join of the block keeps; else −1 (local drop-path). Always −1 in "
       "eval mode. Its output (one number per sample) feeds the joins of one block")


def _concat_infer(i, a):
    hw = {tuple(s[1:]) for s in i}
    if any(len(s) != 3 for s in i) or len(hw) != 1:
        raise OpShapeError("concat needs feature maps of one H×W, got "
                           + ", ".join("×".join(map(str, s)) for s in i))
    return (sum(s[0] for s in i), *i[0][1:])


op("concat", "merge", {}, arity=(1, None), infer=_concat_infer,
   make=lambda i, o, a: Fn("cat"), doc="concatenate along channels")


def _mul_infer(i, a):
    x, g = i
    if len(x) != 3 or len(g) != 3 or g[0] != x[0] or g[1:] not in ((1, 1), x[1:]):
        raise OpShapeError(f"mul needs C×H×W and C×1×1 (or equal) inputs, got {x} and {g}")
    return tuple(x)


op("mul", "merge", {}, arity=(2, 2), infer=_mul_infer,
   make=lambda i, o, a: Fn("mul"), doc="element-wise product (gating)")


def _shuffle_infer(i, a):
    c = _spatial(i[0], "channel_shuffle")[0]
    if a["groups"] < 1 or c % a["groups"]:
        raise OpShapeError(f"channel_shuffle groups={a['groups']} must divide {c} channels")
    return tuple(i[0])


op("channel_shuffle", "shape", {"groups": Param("int")}, infer=_shuffle_infer,
   make=lambda i, o, a: Mod("ChannelShuffle", (a["groups"],)),
   doc="ShuffleNet channel shuffle")


def _slice_infer(i, a):
    c, h, w = _spatial(i[0], "channel_slice")
    if not 0 <= a["start"] < a["end"] <= c:
        raise OpShapeError(f"channel_slice [{a['start']}:{a['end']}] is outside 0..{c}")
    return (a["end"] - a["start"], h, w)


op("channel_slice", "shape", {"start": Param("int"), "end": Param("int")}, infer=_slice_infer,
   make=lambda i, o, a: Fn("channel_slice", (a["start"], a["end"])),
   doc="channels [start:end] (ShuffleNet v2 split)")


def _se_infer(i, a):
    _spatial(i[0], "se")
    if a["squeeze_ch"] < 1:
        raise OpShapeError(f"squeeze_ch must be ≥ 1, got {a['squeeze_ch']}")
    return tuple(i[0])


op("se", "other",
   {"squeeze_ch": Param("int", doc="bottleneck channels, e.g. 'cin//16'"),
    "act": Param("str", "relu", ("relu", "silu")),
    "gate": Param("str", "sigmoid", ("sigmoid", "hardsigmoid"))},
   infer=_se_infer,
   n_params=lambda i, o, a: 2 * i[0][0] * a["squeeze_ch"] + a["squeeze_ch"] + i[0][0],
   macs=lambda i, o, a: 2 * i[0][0] * a["squeeze_ch"],
   pool_flops=lambda i, o, a: _numel(i[0]),
   make=lambda i, o, a: Mod("SqueezeExcite", (i[0][0], a["squeeze_ch"], a["act"], a["gate"])),
   doc="squeeze-and-excitation: global pool, 1×1 fc, act, 1×1 fc, gate, scale")
