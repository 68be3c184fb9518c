"""Ship a genome's network: checkpoint, TorchScript, ONNX, or a standalone Python file.

``pt``          ``torch.save({"genome", "state_dict", "nas_version"})`` — reload with
                :func:`load_checkpoint` (needs nas).
``torchscript`` ``torch.jit.trace`` in eval mode — reload with ``torch.jit.load`` (torch only).
``onnx``        ``torch.onnx.export`` (opset 17, dynamic batch), checked with ``onnx.checker``.
``py``          generated source that rebuilds the network with only torch installed, plus its
                weights next to it (``<name>.pt``): ``import m; net = m.load()``.

**Optimized for inference** (:func:`optimize_model`; ``optimize=True``, the default for
``torchscript`` and ``onnx``, opt-in for ``py``): eval mode, every batch-norm that directly
follows a convolution whose output feeds only that batch-norm is folded into the convolution's
weights and bias (``torch.nn.utils.fusion.fuse_conv_bn_eval``; into the last conv of a
separable/factorized conv), dropout and drop-path (stochastic depth) are removed, and the
conv weights are stored channels-last (convolutions then run in NHWC: measured 1.2–3× faster on
CPU, see ``benchmarks/export_latency.py``); TorchScript is also frozen (``torch.jit.freeze``:
weights become constants). Outputs equal the eval-mode network's within float rounding (≤ 1e-5
in the tests). A ``pt`` checkpoint is never optimized: it reloads into the genome's own network
(and can be trained further).
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nas.errors import NasError
from nas.genome import Genome
from nas.ops import OPS, Fn, Mod

FORMATS = ("pt", "torchscript", "onnx", "py")
#: formats optimized for inference unless ``optimize=False``
OPTIMIZED_BY_DEFAULT = ("torchscript", "onnx")


@dataclass(frozen=True)
class Optimized:
    """What :func:`optimize_model` changed: (conv path, folded batch-norm path) pairs and the paths
    of the dropout modules removed."""

    folded: tuple = ()
    removed: tuple = ()
    channels_last: bool = False
    not_inplace: tuple = ()      # in-place ops made out-of-place (their input is now shared)
    adds_in_place: int = 0       # two-input adds summing into a fresh operand

    def changes(self) -> str:
        return (f"{len(self.folded)} conv+BN folded, {len(self.removed)} dropout/drop-path removed"
                f"{f', {self.adds_in_place} adds in place' if self.adds_in_place else ''}"
                f"{', channels-last' if self.channels_last else ''}")

    def describe(self) -> str:
        return f"optimized: {self.changes()}"


def optimize_model(model, channels_last: bool = True):
    """(a copy of ``model`` ready for inference, :class:`Optimized`): eval mode, conv+BN folded
    where the conv's output feeds only the BN, dropout removed, and (``channels_last``) the
    weights in channels-last memory format. ``model`` is a :func:`nas.builder.build` network
    (a ``torch.fx.GraphModule``); it is not changed."""
    import copy
    import torch
    import torch.nn as nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    from torchvision.ops import StochasticDepth
    gm = copy.deepcopy(model).eval()
    graph = gm.graph
    folded, removed, not_inplace = [], [], []
    for node in list(graph.nodes):
        if node.op != "call_module":
            continue
        mod = gm.get_submodule(node.target)
        if isinstance(mod, (nn.Dropout, StochasticDepth)):     # identities in eval mode
            src = node.args[0]
            node.replace_all_uses_with(src)
            graph.erase_node(node)
            removed.append(node.target)
            if len(src.users) > 1:      # an in-place op after the dropout now shares its input
                for u in src.users:
                    m = gm.get_submodule(u.target) if u.op == "call_module" else None
                    if getattr(m, "inplace", False):
                        m.inplace = False
                        not_inplace.append(u.target)
            continue
        if not isinstance(mod, nn.BatchNorm2d) or not mod.track_running_stats:
            continue
        src = node.args[0]
        if getattr(src, "op", None) != "call_module" or len(src.users) != 1:
            continue
        owner = gm.get_submodule(src.target)
        if isinstance(owner, nn.Conv2d):
            path = src.target
        elif isinstance(getattr(owner, "output_conv", None), str):
            path = f"{src.target}.{owner.output_conv}"
        else:
            continue
        conv = gm.get_submodule(path)
        if not isinstance(conv, nn.Conv2d) or conv.out_channels != mod.num_features:
            continue
        parent, _, leaf = path.rpartition(".")
        setattr(gm.get_submodule(parent) if parent else gm, leaf, fuse_conv_bn_eval(conv, mod))
        node.replace_all_uses_with(src)
        graph.erase_node(node)
        folded.append((path, node.target))
    adds = _add_in_place(gm)
    graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    if channels_last:
        gm = gm.to(memory_format=torch.channels_last)
    return gm, Optimized(tuple(folded), tuple(removed), channels_last, tuple(not_inplace), adds)


def _add_in_place(gm) -> int:
    """Turn ``add(a, b)`` into ``a.add_(b)`` where ``a`` is a fresh conv/BN/linear output that
    nothing else reads (no new tensor per residual sum; outputs are unchanged)."""
    import torch.nn as nn
    import nas.modules
    fresh = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)
    n = 0
    for node in gm.graph.nodes:
        if node.op != "call_function" or node.target is not nas.modules.add or \
                len(node.args) != 2 or node.kwargs:
            continue
        for i, a in enumerate(node.args):
            b = node.args[1 - i]
            if getattr(a, "op", None) == "call_module" and len(a.users) == 1 and a is not b \
                    and isinstance(gm.get_submodule(a.target), fresh):
                node.target = nas.modules.add_
                node.args = (a, b)
                n += 1
                break
    return n


def _accessor(path: str) -> str:
    expr = "self"
    for seg in path.split("."):
        expr = f"{expr}.{seg}" if seg.isidentifier() else f'getattr({expr}, "{seg}")'
    return expr


def _var(path: str) -> str:
    return "v_" + re.sub(r"\W", "_", path)


def _ctor(spec: Mod) -> str:
    args = [repr(a) for a in spec.args] + [f"{k}={v!r}" for k, v in spec.kwargs.items()]
    return f"{spec.cls}({', '.join(args)})"


def to_source(genome: Genome, optimized: Optimized | None = None) -> str:
    """Python source of a module that rebuilds ``genome``'s network with only torch
    (``optimized``: the network :func:`optimize_model` made — folded BNs and dropout left out, the
    convs they were folded into given a bias)."""
    import nas
    import nas.modules
    from nas.builder import build
    built = build(genome)  # the builder decides where in-place activations are safe
    lib = inspect.getsource(nas.modules)
    lib = lib[lib.index("import torch"):]  # drop the module docstring
    cls = "".join(p.capitalize() for p in re.split(r"\W|_", genome.name) if p) or "Net"
    if not cls.isidentifier():
        cls = "Net"
    init, fwd = [], []
    names: dict[int, str] = {0: "x"}
    gone = {bn for _, bn in optimized.folded} | set(optimized.removed) if optimized else set()
    biased = [conv for conv, _ in optimized.folded] if optimized else []
    for n in genome.graph.nodes[1:]:
        made = OPS.get(n.op).module(n.in_shapes, n.shape, n.args)
        ins = ", ".join(names[i] for i in n.inputs)
        if made is None or n.path in gone:
            names[n.index] = names[n.inputs[0]]
            continue
        v = names[n.index] = _var(n.path)
        if isinstance(made, Fn):
            extra = "".join(f", {e!r}" for e in made.extra)
            fwd.append(f"        {v} = {made.name}({ins}{extra})")
        else:
            if "inplace" in made.kwargs:
                inplace = built.get_submodule(n.path).inplace and not (
                    optimized and n.path in optimized.not_inplace)
                made = Mod(made.cls, made.args, {**made.kwargs, "inplace": inplace})
            init.append(f"        _put(self, {n.path!r}, {_ctor(made)})")
            fwd.append(f"        {v} = {_accessor(n.path)}({ins})")
    init += [f"        _bias(self, {p!r})" for p in biased]
    layout = ".to(memory_format=torch.channels_last)" if optimized and \
        optimized.channels_last else ""
    c, h, w = genome.input
    note = f" Optimized for inference ({optimized.changes()})." if optimized else ""
    needs = "torch"
    if any("torchvision.ops." in line for line in init):  # drop_path: StochasticDepth
        lib = "import torchvision.ops\n" + lib
        needs = "torch and torchvision"
    return f'''"""{genome.name}: generated by nas {nas.__version__} from genome {genome.hash}.{note}
Input N×{c}×{h}×{w}, {genome.num_classes} classes. Needs only {needs}:

    import this_module
    net = this_module.load()            # weights from the .pt next to this file, if present
"""
from pathlib import Path

{lib.rstrip()}


def _put(root, path, module):
    *parents, leaf = path.split(".")
    for p in parents:
        if not hasattr(root, p):
            root.add_module(p, nn.Module())
        root = getattr(root, p)
    root.add_module(leaf, module)


def _bias(root, path):
    """A zero bias on the conv at ``path`` (it holds a folded batch-norm's shift)."""
    conv = root.get_submodule(path)
    if conv.bias is None:
        conv.bias = nn.Parameter(torch.zeros(conv.out_channels))


class {cls}(nn.Module):
    input_shape = ({c}, {h}, {w})
    num_classes = {genome.num_classes}

    def __init__(self):
        super().__init__()
{chr(10).join(init) or "        pass"}

    def forward(self, x):
{chr(10).join(fwd)}
        return {names[genome.graph.output]}


def load(weights=None, map_location="cpu"):
    """The network, with weights from ``weights`` (default: the .pt file beside this one)."""
    net = {cls}()
    path = Path(weights) if weights else Path(__file__).with_suffix(".pt")
    if path.exists():
        net.load_state_dict(torch.load(path, map_location=map_location, weights_only=True))
    return net{layout}
'''


def checkpoint_bytes(genome: Genome, state_dict: dict, **extra) -> bytes:
    """A nas checkpoint (``{"genome", "state_dict", "nas_version", **extra}``, the ``pt``
    format) as bytes: what a trial sends back as its trained weights."""
    import io
    import torch
    import nas
    buf = io.BytesIO()
    torch.save({"genome": genome.to_dict(),
                "state_dict": {k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
                "nas_version": nas.__version__, **extra}, buf)
    return buf.getvalue()


def read_checkpoint(path: str | Path, flag: str = "checkpoint") -> dict:
    """The dict a ``torch.save`` file holds, read with ``weights_only=True`` (tensors and plain
    data only: nothing in the file is executed). The one checkpoint reader of the toolkit."""
    import torch
    p = Path(path)
    if not p.is_file():
        raise NasError(f"{flag} {str(p)!r}: no such file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's input error
        raise NasError(f"{flag} {str(p)!r}: not a torch checkpoint of tensors "
                       f"(torch.load with weights_only=True failed: {type(e).__name__})"
                       ) from None
    if not isinstance(obj, dict):
        raise NasError(f"{flag} {str(p)!r}: expected a dict, got {type(obj).__name__}")
    return obj


def read_state_dict(path: str | Path, flag: str = "--weights") -> dict:
    """A ``state_dict`` from a checkpoint: a bare one, or ``{"state_dict": …}`` (ours, or a
    training script's)."""
    obj = read_checkpoint(path, flag)
    if isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not obj or not all(hasattr(v, "shape") for v in obj.values()):
        raise NasError(f"{flag} {str(path)!r}: expected a state_dict (name -> tensor)")
    return obj


def load_checkpoint(path: str | Path, map_location: str = "cpu"):
    """(genome, model) from a ``pt`` checkpoint written by :func:`export` or ``nas build --out``."""
    from nas.builder import build
    ck = read_checkpoint(path)
    if "genome" not in ck or not isinstance(ck.get("state_dict"), dict):
        raise NasError(f"{str(path)!r} is not a nas checkpoint (needs 'genome' and 'state_dict')")
    genome = Genome.from_dict(ck["genome"])
    model = build(genome).to(map_location)
    load_weights(model, ck["state_dict"], str(path))
    return genome, model


def load_weights(model, state_dict: dict, source: str) -> None:
    """Strict load; a missing, unexpected or mis-shaped tensor is one NasError naming it."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    extra = sorted(set(state_dict) - set(own))
    if missing or extra:
        raise NasError(f"{source}: weights do not fit the genome: "
                       + (f"missing {missing[:3]}{'…' if len(missing) > 3 else ''} " if missing else "")
                       + (f"unexpected {extra[:3]}{'…' if len(extra) > 3 else ''}" if extra else ""))
    for k, v in state_dict.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise NasError(f"{source}: {k} has shape {tuple(v.shape)}, the genome needs "
                           f"{tuple(own[k].shape)}")
    model.load_state_dict(state_dict, strict=True)


def export(genome: Genome, fmt: str, out: str | Path, state_dict: dict | None = None,
           optimize: bool | None = None,
           on_optimized: Callable[[Optimized], None] | None = None) -> list[Path]:
    """Write ``genome`` (with ``state_dict`` weights if given) in ``fmt``; returns the files.
    ``optimize``: fold conv+BN and drop dropout (:func:`optimize_model`); None: the format's default
    (:data:`OPTIMIZED_BY_DEFAULT`); a ``pt`` checkpoint cannot be optimized.
    ``on_optimized(changes)``: told what the optimization changed."""
    import torch
    from nas.builder import build
    if fmt not in FORMATS:
        raise NasError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    if optimize is None:
        optimize = fmt in OPTIMIZED_BY_DEFAULT
    if optimize and fmt == "pt":
        raise NasError("--optimize does not apply to --format pt: a checkpoint reloads into "
                       "the genome's own network (export torchscript, onnx or py for inference)")
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise NasError(f"output directory {str(out.parent)!r} does not exist")
    model = build(genome).eval()
    if state_dict is not None:
        load_weights(model, state_dict, "weights")
    example = torch.zeros(1, *genome.input)
    changes = None
    if optimize:
        model, changes = optimize_model(model)
        if on_optimized is not None:
            on_optimized(changes)
    if fmt == "pt":
        out.write_bytes(checkpoint_bytes(genome, model.state_dict()))
        return [out]
    if fmt == "torchscript":
        with torch.no_grad():
            traced = torch.jit.trace(model, example)
        if optimize:
            traced = torch.jit.freeze(traced)
        traced.save(str(out))
        return [out]
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise NasError("ONNX export needs the onnx package: pip install -e '.[onnx]'") from None
        torch.onnx.export(model, (example,), str(out), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
        import onnx
        onnx.checker.check_model(onnx.load(str(out)))
        return [out]
    # py
    if out.suffix != ".py" or not out.stem.isidentifier():
        raise NasError(f"--out for format py must be a Python module name ending in .py, got {str(out)!r}")
    out.write_text(to_source(genome, changes))
    weights = out.with_suffix(".pt")
    torch.save(model.state_dict(), weights)
    return [out, weights]
