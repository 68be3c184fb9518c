"""What each classic net is checked against, and the check itself (``nas reproduce``).

Two kinds of reference:

* **torchvision twins** (:data:`TORCHVISION`): the genome's node names are torchvision's module
  names, so the torchvision model's ``state_dict`` loads into the genome-built model with
  ``strict=True``. Checked: parameter count (exact), conv/linear multiply-adds against
  ``FlopCounterMode`` on the torchvision model (÷2, exact), the weight transfer (keys and
  shapes) and the outputs on a fixed seeded batch in eval mode (max |diff| ≤ ``atol``).
  BatchNorm statistics and affine parameters are randomised (seeded) before the transfer, so a
  BN in the wrong place cannot hide behind an identity-like initialisation.
* **published numbers** (:data:`PUBLISHED`) for nets torchvision does not have: the paper's
  parameter count (and multiply-adds where printed) within a stated tolerance, plus
  structural facts (a layer's kernel, stride, width or output size) from the paper's figures.

Pretrained weights are never downloaded: torchvision models are built with ``weights=None``;
``weights=`` takes a checkpoint (a ``state_dict`` saved with ``torch.save``) from disk.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.cost import cost
from nas.errors import NasError
from nas.fmt import exact
from nas.genome import Genome

#: classic nets torchvision also has -> extra keyword arguments for its constructor
TORCHVISION: dict[str, dict] = {
    **{n: {} for n in (
        "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
        "vgg19_bn", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "wide_resnet50_2", "resnext50_32x4d", "mobilenet_v2", "mobilenet_v3_small",
        "mnasnet1_0", "shufflenet_v2_x1_0", "efficientnet_b0", "squeezenet1_0",
        "squeezenet1_1", "densenet121", "densenet169", "densenet201")},
    # auxiliary classifiers exist only in training; the genome is the inference network
    "googlenet": {"aux_logits": False, "transform_input": False, "init_weights": True},
}


@dataclass(frozen=True)
class Published:
    """A paper's numbers for a net without a torchvision twin."""

    source: str
    params: int | None = None
    params_tol: float = 0.01  # relative
    macs: int | None = None  # at the net's default input
    macs_tol: float = 0.01
    #: (layer path, field, expected): field "out" (output shape), "op", or an op argument
    facts: tuple[tuple[str, str, Any], ...] = ()
    note: str = ""
    #: an exact parameter count from a reference implementation (e.g. timm), checked to the
    #: integer at the default classes, with where it comes from
    exact_params: int | None = None
    exact_source: str = ""
    #: why the paper's parameter count cannot be compared (the check is then reported, not
    #: judged): e.g. the paper's count does not follow from the configuration it states
    params_gap: str = ""


PUBLISHED: dict[str, Published] = {
    "lenet5": Published(
        "LeCun et al., Proc. IEEE 1998, §II.B and Fig. 2: LeNet-5 has about 60,000 trainable "
        "parameters; maps 6@28×28, 6@14×14, 16@10×10, 16@5×5, 120, 84",
        params=60_000, params_tol=0.03,
        facts=(("c1", "out", (6, 28, 28)), ("s2", "out", (6, 14, 14)),
               ("c3", "out", (16, 10, 10)), ("s4", "out", (16, 5, 5)),
               ("c5", "out", (120, 1, 1)), ("f6", "out", (84,)), ("c1", "kernel", (5, 5))),
        note="modern form: C3 fully connected to S2 and a linear output instead of RBF units "
             "(61,706 parameters, +2.8%)"),
    "zfnet": Published(
        "CS231n 2019 lecture 9 / EECS 498 lecture 8: 'AlexNet but CONV1 (7x7 stride 2), "
        "CONV3,4,5 512, 1024, 512 filters'; Zeiler & Fergus, ECCV 2014, Fig. 3 map sizes "
        "110, 55, 26, 13, 6",
        facts=(("features.0", "kernel", (7, 7)), ("features.0", "stride", (2, 2)),
               ("features.0", "out", (96, 110, 110)), ("features.2", "out", (96, 55, 55)),
               ("features.4", "out", (256, 26, 26)), ("features.6", "out", (256, 13, 13)),
               ("features.8", "out_ch", 512), ("features.10", "out_ch", 1024),
               ("features.12", "out_ch", 512), ("features.14", "out", (512, 6, 6)))),
    "nin": Published(
        "Lin et al., 'Network In Network', ICLR 2014: the released ImageNet NIN (Caffe Model "
        "Zoo) — 4 mlpconv layers of 96/256/384/1024 maps, 11×11/4 first conv, global average "
        "pooling and no fully connected layer; ≈7.6M parameters counted from that definition",
        params=7_600_000, params_tol=0.01,
        facts=(("mlpconv1.conv", "kernel", (11, 11)), ("mlpconv1.conv", "stride", (4, 4)),
               ("mlpconv1.conv", "out_ch", 96), ("mlpconv2.conv", "out_ch", 256),
               ("mlpconv3.conv", "out_ch", 384), ("mlpconv4.conv", "out_ch", 1024),
               ("mlpconv4.cccp2", "out", (1000, 6, 6)))),
    "preact_resnet18": Published(
        "He et al., 'Identity Mappings in Deep Residual Networks', ECCV 2016: pre-activation "
        "reorders BN/ReLU and adds no weights, so the ResNet-18 budget (11.7M; He et al. CVPR "
        "2016 Table 1 / torchvision 11,689,512) holds",
        params=11_700_000, params_tol=0.01,
        facts=(("layer1.0.bn1", "op", "bn"), ("layer2.0.shortcut", "kernel", (1, 1)),
               ("bn", "op", "bn"))),
    "se_resnet50": Published(
        "Hu et al., 'Squeeze-and-Excitation Networks', CVPR 2018: SE-ResNet-50 ≈ 28.1M "
        "parameters (ResNet-50 + ≈2.5M for SE with reduction 16)",
        params=28_100_000, params_tol=0.01,
        facts=(("layer1.0.se", "squeeze_ch", 16), ("layer4.2.se", "squeeze_ch", 128))),
    "mobilenet_v1": Published(
        "Howard et al., 'MobileNets', 2017, §4: 1.0 MobileNet-224 has 4.2M parameters and "
        "569M mult-adds",
        params=4_200_000, params_tol=0.015, macs=569_000_000, macs_tol=0.005,
        facts=(("features.0.0", "stride", (2, 2)), ("features.13.pointwise", "out", (1024, 7, 7)))),
    "resnet20": Published(
        "He et al., CVPR 2016, §4.2 and Table 6: CIFAR-10 ResNet-20 has 0.27M parameters; "
        "6n+2 layers with n=3, {16, 32, 64} filters on {32, 16, 8} maps, option A shortcuts",
        params=270_000, params_tol=0.01,
        facts=(("layer1.2.relu", "out", (16, 32, 32)), ("layer2.2.relu", "out", (32, 16, 16)),
               ("layer3.2.relu", "out", (64, 8, 8)), ("layer2.0.shortcut.pad", "op", "zero"))),
    "resnet110": Published(
        "He et al., CVPR 2016, §4.2 and Table 6: CIFAR-10 ResNet-110 has 1.7M parameters "
        "(printed to 0.1M); n=18, option A shortcuts",
        params=1_700_000, params_tol=0.03,
        facts=(("layer3.17.relu", "out", (64, 8, 8)), ("layer2.0.shortcut.pad", "op", "zero"))),
    "resnet110_sd": Published(
        "Huang et al., 'Deep Networks with Stochastic Depth', ECCV 2016, §4: ResNet-110 "
        "(1.7M parameters) with 54 residual blocks dropped with survival probability "
        "p_l = 1 − l/54·(1 − 0.5)",
        params=1_700_000, params_tol=0.03,
        facts=(("layer1.0.drop_path", "p", 0.5 / 54), ("layer2.0.drop_path", "p", 0.5 * 19 / 54),
               ("layer3.17.drop_path", "p", 0.5), ("layer3.17.drop_path", "mode", "row"))),
    "fractalnet20": Published(
        "Larsson et al., 'FractalNet', ICLR 2017, §4 and Table 1: 20 layers (B=5 blocks, C=3 "
        "columns), 64-128-256-512-512 filters, 38.6M parameters; 2×2 max-pool after each block",
        params=38_600_000,
        params_gap="the stated configuration has 33.7M parameters (35 3×3 convs: 7 per block, "
                   "3 reading the block input; an independent reimplementation, khanrc/"
                   "pt.fractalnet, counts the same 33.7M and reaches 38.9M only by adding a 1×1 "
                   "conv that doubles the width at each block input, which the paper does not "
                   "describe)",
        facts=(("block1.col3.3.conv", "out", (64, 32, 32)), ("block1.pool", "out", (64, 16, 16)),
               ("block5.pool", "out", (512, 1, 1)), ("block1.join4", "cols", (3, 2, 1)),
               ("block1.join4", "p", 0.15), ("block1.trigger", "p", 0.5),
               ("block5.col1.0.dropout", "p", 0.4))),
    **{name: Published(
        f"Chen et al., 'Dual Path Networks', NIPS 2017, Table 2: DPN-{name[3:]} has "
        f"{p / 1e6:.1f}M parameters and {f / 1e9:.1f} GFLOPs (multiply-adds) at 224²",
        params=p, macs=f, macs_tol=0.01,
        exact_params=e, exact_source="timm 1.0 (the authors' MXNet layout)")
       for name, p, f, e in (("dpn92", 37_800_000, 6_500_000_000, 37_668_392),
                             ("dpn98", 61_600_000, 11_700_000_000, 61_570_728),
                             ("dpn131", 79_500_000, 16_000_000_000, 79_254_504))},
    "dpn68": Published(
        "timm 1.0 dpn68 (the authors' MXNet DPN-68, cypw/DPNs): 12,611,602 parameters, "
        "2.33 G multiply-adds at 224² (FlopCounterMode ÷ 2 on timm's model); the paper's "
        "tables list DPN-92/98/131 only",
        params=12_611_602, params_tol=0.0, macs=2_326_163_456, macs_tol=0.0,
        exact_params=12_611_602, exact_source="timm 1.0"),
    "nasnet_a_mobile": Published(
        "Zoph et al., 'Learning Transferable Architectures', CVPR 2018, Table 2: NASNet-A "
        "(4 @ 1056) has 5.3M parameters and 564M mult-adds",
        params=5_300_000, params_tol=0.01, macs=564_000_000, macs_tol=0.005),
    "amoebanet_a_mobile": Published(
        "Real et al., 'Regularized Evolution for Image Classifier Architecture Search', AAAI "
        "2019, Table 2: AmoebaNet-A (N=4, F=50) has 5.1M parameters and 555M mult-adds",
        params=5_100_000, params_tol=0.01, macs=555_000_000, macs_tol=0.005,
        facts=(("cell_0.block3.b.separable_1", "kernel", (5, 5)),
               ("reduction_cell_1.block3.b.conv_1xn", "out_ch", 50)),
        note="BN counted with scale and shift (the reference code trains no BN scale: "
             "−18,003 trainable parameters)"),
    "pnasnet5_mobile": Published(
        "Liu et al., 'Progressive Neural Architecture Search', ECCV 2018, Table 5: PNASNet-5 "
        "(N=3, F=54) has 5.1M parameters and 588M mult-adds",
        params=5_100_000, params_tol=0.01, macs=588_000_000, macs_tol=0.005,
        facts=(("cell_stem_1.block0.a.separable_1", "out_ch", 27),
               ("cell_3.block1.a.separable_1", "kernel", (7, 7)))),
    "enas_cifar": Published(
        "Pham et al., 'Efficient Neural Architecture Search via Parameter Sharing', ICML 2018, "
        "Table 2: ENAS + micro search space has 4.6M parameters (mult-adds not stated); "
        "network of melodyguan/enas cifar10_micro_final.sh (15 layers + 2 reductions, "
        "out_filters=36, stem 3×3 to 108)",
        params=4_600_000,
        params_gap="ENAS's own code for that network has 3,894,372 trainable parameters (the "
                   "'Model has N params' micro_child.py prints: all variables but the "
                   "aux head's), 4,389,220 with the training-only aux head (494,848); neither "
                   "is 4.6M (−15.3%, −4.6%). The same code at child_num_layers=18 (N=6) has "
                   "4,587,372; the script sets 15",
        exact_params=3_894_372,
        exact_source="melodyguan/enas micro_child.py variables, aux head excluded",
        facts=(("stem.conv", "out", (108, 32, 32)), ("cell_0.calibrate.conv", "out_ch", 36),
               ("cell_0.adjust.conv", "out_ch", 36), ("cell_4.out", "out", (180, 32, 32)),
               ("reduction_cell_0.out", "out", (288, 16, 16)),
               ("reduction_cell_0.block3.b.path_1.conv", "out_ch", 36),
               ("cell_14.out", "out", (720, 8, 8)), ("dropout", "p", 0.2),
               ("last_linear", "bias", False)),
        note="the aux head (after the first cell of the last stage) is training-only and not "
             "in the genome"),
}


def reference_kind(name: str) -> str | None:
    """``"torchvision"``, ``"published"`` or None (no reference known)."""
    if name in TORCHVISION:
        return "torchvision"
    if name in PUBLISHED:
        return "published"
    return None


def torchvision_model(name: str, num_classes: int):
    """The untrained torchvision twin of ``name`` (``weights=None``; nothing is downloaded)."""
    import torchvision
    return torchvision.models.get_model(name, weights=None, num_classes=num_classes,
                                        **TORCHVISION[name])


# ============================================================================== the checks


@dataclass
class Check:
    name: str
    expected: str
    measured: str
    ok: bool | None  # None: skipped
    detail: str = ""

    def to_dict(self) -> dict:
        return {"check": self.name, "expected": self.expected, "measured": self.measured,
                "ok": self.ok, "detail": self.detail}


@dataclass
class Verification:
    genome: str
    reference: str
    input: tuple
    num_classes: int
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def to_dict(self) -> dict:
        return {"genome": self.genome, "reference": self.reference, "input": list(self.input),
                "num_classes": self.num_classes, "ok": self.ok,
                "checks": [c.to_dict() for c in self.checks]}


def load_checkpoint(path: str | Path) -> dict:
    """A ``state_dict`` from a ``torch.save`` file (a bare state_dict or ``{"state_dict": …}``)."""
    from nas.export import read_state_dict
    return read_state_dict(path, "--weights")


def state_dict_mismatch(state: dict, model) -> str | None:
    """Why ``state`` does not load into ``model`` with strict=True (naming the key), or None."""
    own = model.state_dict()
    for key, v in state.items():
        if key not in own:
            return f"{key}: in the checkpoint but not in the model"
        if tuple(v.shape) != tuple(own[key].shape):
            return (f"{key}: shape {'×'.join(map(str, v.shape)) or 'scalar'} in the checkpoint, "
                    f"{'×'.join(map(str, own[key].shape)) or 'scalar'} in the model")
    missing = [k for k in own if k not in state]
    if missing:
        return f"{missing[0]}: in the model but not in the checkpoint" + (
            f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
    return None


def randomise_norms(model, seed: int) -> None:
    """Seeded non-trivial BatchNorm statistics and affine parameters."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                    m.bias.copy_(torch.randn(n, generator=gen) * 0.1)


def verify(genome: Genome, reference: str, *, weights: str | Path | None = None, seed: int = 0,
           batch: int = 2, atol: float = 1e-4) -> Verification:
    """Check ``genome`` against the reference named ``reference`` (a torchvision twin or a
    published entry). Every check is reported; none raises for a mismatch."""
    kind = reference_kind(reference)
    if kind is None:
        known = sorted(set(TORCHVISION) | set(PUBLISHED))
        raise NasError(f"no reference for {reference!r}; references exist for: {', '.join(known)}")
    state = load_checkpoint(weights) if weights is not None else None
    if kind == "torchvision":
        return _verify_twin(genome, reference, state, seed, batch, atol)
    return _verify_published(genome, reference, state, seed, batch)


def _weights_check(state: dict, model, source: str) -> Check:
    why = state_dict_mismatch(state, model)
    if why is None:
        model.load_state_dict(state, strict=True)
        return Check("weights load (strict)", f"{len(state)} tensors from {source}",
                     f"{len(model.state_dict())} tensors", True)
    return Check("weights load (strict)", f"{len(state)} tensors from {source}", "mismatch",
                 False, why)


def _verify_twin(genome, name, state, seed, batch, atol) -> Verification:
    import torch
    from nas.builder import build, count_params
    from torch.utils.flop_counter import FlopCounterMode

    v = Verification(genome.name, f"torchvision.models.{name}", genome.input, genome.num_classes)
    if genome.input[0] != 3:
        raise NasError(f"torchvision's {name} takes 3-channel images; the genome's input is "
                       f"{'×'.join(map(str, genome.input))}")
    report = cost(genome)
    model = build(genome)
    tv = torchvision_model(name, genome.num_classes)
    tv_params = count_params(tv)
    built = count_params(model)
    v.checks.append(Check("parameters", exact(tv_params), exact(report.params),
                          report.params == tv_params == built,
                          "" if built == report.params else
                          f"cost model says {exact(report.params)}, built module has {exact(built)}"))
    with torch.device("meta"):  # counting needs shapes only: no memory, no arithmetic
        counted = torchvision_model(name, genome.num_classes).eval()
        try:
            with FlopCounterMode(display=False) as fc:
                counted(torch.zeros(1, *genome.input))
        except RuntimeError as e:
            raise NasError(f"torchvision's {name} cannot run on a "
                           f"{'×'.join(map(str, genome.input))} input: "
                           f"{str(e).splitlines()[0][:160]}") from None
    tv_macs = fc.get_total_flops() // 2
    v.checks.append(Check("conv/linear multiply-adds", exact(tv_macs), exact(report.macs),
                          report.macs == tv_macs, "FlopCounterMode on the torchvision model ÷ 2"))
    tv.eval()
    if state is None:
        randomise_norms(tv, seed)
        state, source = tv.state_dict(), "torchvision (seeded BN statistics)"
    else:
        source = "the checkpoint"
        why = state_dict_mismatch(state, tv)
        if why is not None:
            v.checks.append(Check("weights load (strict)", f"{len(state)} tensors", "mismatch",
                                  False, f"checkpoint does not fit torchvision {name}: {why}"))
            v.checks.append(Check("outputs", f"max |diff| ≤ {atol:g}", "not run", None))
            return v
        tv.load_state_dict(state, strict=True)
    w = _weights_check(state, model, source)
    v.checks.append(w)
    if not w.ok:
        v.checks.append(Check("outputs", f"max |diff| ≤ {atol:g}", "not run", None,
                              "the weights did not load"))
        return v
    x = torch.randn(batch, *genome.input, generator=torch.Generator().manual_seed(seed))
    model.eval()
    with torch.no_grad():
        a, b = tv(x), model(x)
    if a.shape != b.shape:
        v.checks.append(Check("outputs", f"shape {tuple(a.shape)}", f"shape {tuple(b.shape)}",
                              False))
        return v
    diff = (a - b).abs().max().item()
    v.checks.append(Check("outputs", f"max |diff| ≤ {atol:g}", f"{diff:.2e}", diff <= atol,
                          f"eval mode, seeded batch {batch}×{'×'.join(map(str, genome.input))}, "
                          f"|output| up to {a.abs().max().item():.3g}"))
    return v


def _default_genome(name: str) -> Genome | None:
    from search_spaces.registry import NETS
    return NETS.get(name)() if name in NETS else None


def _verify_published(genome, name, state, seed, batch) -> Verification:
    import torch
    from nas.builder import build, count_params

    pub = PUBLISHED[name]
    v = Verification(genome.name, f"published: {pub.source}", genome.input, genome.num_classes)
    default = _default_genome(name)
    at_default = default is not None and genome.input == default.input
    g = genome if default is None else genome.with_classes(default.num_classes)
    if pub.params is not None and pub.params_gap:
        p = cost(g).params
        rel = (p - pub.params) / pub.params
        v.checks.append(Check("parameters", exact(pub.params), exact(p), None,
                              f"{rel:+.2%} off, not judged: {pub.params_gap}"))
    elif pub.params is not None:
        p = cost(g).params
        rel = (p - pub.params) / pub.params
        v.checks.append(Check("parameters", f"{exact(pub.params)} ± {pub.params_tol:.1%}",
                              exact(p), abs(rel) <= pub.params_tol,
                              f"{rel:+.2%} off" + (f"; {pub.note}" if pub.note else "")
                              + (f" (at the published {g.num_classes} classes)"
                                 if g.num_classes != genome.num_classes else "")))
    if pub.exact_params is not None:
        p = cost(g).params
        v.checks.append(Check(f"parameters ({pub.exact_source})", exact(pub.exact_params),
                              exact(p), p == pub.exact_params,
                              "exact, at the default classes"))
    report = cost(genome)
    if pub.macs is not None:
        if at_default:
            rel = (report.macs - pub.macs) / pub.macs
            v.checks.append(Check("conv/linear multiply-adds",
                                  f"{exact(pub.macs)} ± {pub.macs_tol:.1%}", exact(report.macs),
                                  abs(rel) <= pub.macs_tol, f"{rel:+.2%} off"))
        else:
            v.checks.append(Check("conv/linear multiply-adds", exact(pub.macs), "not run", None,
                                  "published for the default input only"))
    if pub.facts:
        v.checks.append(_facts_check(genome, pub.facts, at_default))
    model = build(genome)
    built = count_params(model)
    x = torch.randn(batch, *genome.input, generator=torch.Generator().manual_seed(seed))
    model.eval()
    if state is not None:
        w = _weights_check(state, model, "the checkpoint")
        v.checks.append(w)
    with torch.no_grad():
        out = model(x)
    want = (batch, *genome.graph.output_shape)
    ok = built == report.params and tuple(out.shape) == want and bool(torch.isfinite(out).all())
    v.checks.append(Check("builds and runs", f"{exact(report.params)} params, output {want}",
                          f"{exact(built)} params, output {tuple(out.shape)}", ok,
                          "" if ok else "the built module disagrees with the genome"))
    return v


def _facts_check(genome: Genome, facts, at_default: bool) -> Check:
    nodes = {n.path: n for n in genome.graph.nodes}
    bad = []
    for path, key, want in facts:
        n = nodes.get(path)
        if n is None:
            bad.append(f"no layer {path!r}")
            continue
        if key == "out":
            if not at_default:
                continue
            got = n.shape
        elif key == "op":
            got = n.op
        else:
            got = n.args.get(key)
        if got != want:
            bad.append(f"{path}.{key} = {got!r}, paper {want!r}")
    return Check("structure (paper)", f"{len(facts)} facts", f"{len(facts) - len(bad)} hold",
                 not bad, "; ".join(bad))
