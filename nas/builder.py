"""``build(genome) -> torch.fx.GraphModule``: the only place a genome becomes torch.

The generated module has a flat ``forward`` (``print(model.code)``) and parameters named by
the genome's node paths (``layer1.0.conv1.weight``), so a genome that mirrors a torchvision
model loads its ``state_dict`` directly.
"""
from __future__ import annotations

import torch
import torch.fx as fx
import torch.nn as nn

import nas.modules
from nas.cost import check_fits
from nas.genome import Genome
from nas.ops import OPS, Fn, Mod


def instantiate(spec: Mod) -> nn.Module:
    """Construct the module an op describes (``nn.X`` from torch.nn, ``torchvision.ops.X``,
    else from nas.modules)."""
    owner, _, name = spec.cls.rpartition(".")
    if owner == "torchvision.ops":
        import torchvision.ops
        cls = getattr(torchvision.ops, name)
    else:
        cls = getattr(nn if owner == "nn" else nas.modules, name)
    return cls(*spec.args, **spec.kwargs)


def build(genome: Genome, max_bytes: int | None = None) -> fx.GraphModule:
    """Build the network of a (validated) genome. Forward takes ``N×C×H×W`` images.

    Raises NasError before allocating anything when the parameters (with gradients) and the
    activations of one sample would not fit in ``max_bytes`` (default: the machine's memory)."""
    check_fits(genome, max_bytes)
    graph = genome.graph
    root = nn.Module()
    g = fx.Graph()
    values: dict[int, fx.Node] = {0: g.placeholder("x")}
    for n in graph.nodes[1:]:
        spec = OPS.get(n.op)
        made = spec.module(n.in_shapes, n.shape, n.args)
        args = tuple(values[i] for i in n.inputs)
        if made is None:  # identity
            values[n.index] = args[0]
            continue
        if isinstance(made, Fn):
            values[n.index] = g.call_function(getattr(nas.modules, made.name), args + made.extra)
            continue
        add_submodule(root, n.path, instantiate(made))
        values[n.index] = g.call_module(n.path, args)
    g.output(values[graph.output])
    _safe_inplace(root, g)
    cls = "".join(p.capitalize() for p in genome.name.replace("-", "_").split("_")) or "Genome"
    return fx.GraphModule(root, g, class_name=cls if cls.isidentifier() else "Genome")


def _safe_inplace(root: nn.Module, g: fx.Graph) -> None:
    """An in-place activation may only overwrite a value nothing else reads: turn ``inplace``
    off where the input is the network input, feeds other nodes too (a cell input read by
    several branches, a residual shortcut) or is a view of such a value (a channel slice) —
    also behind a dropout, which in eval mode returns its input itself."""
    for node in g.nodes:
        if node.op != "call_module" or not node.args:
            continue
        mod = root.get_submodule(node.target)
        src = node.args[0]
        shared = False
        # dropout returns its input itself in eval mode: look through it
        while src.op == "call_module" and src.args and isinstance(
                root.get_submodule(src.target), nn.Dropout):
            shared = shared or len(src.users) > 1
            src = src.args[0]
        view = src.op == "call_function" and src.target is nas.modules.channel_slice
        if getattr(mod, "inplace", False) and (shared or src.op == "placeholder"
                                               or len(src.users) > 1 or view):
            mod.inplace = False


def add_submodule(root: nn.Module, path: str, module: nn.Module) -> None:
    """Put ``module`` at dotted ``path`` under ``root`` (creating empty parents)."""
    *parents, leaf = path.split(".")
    mod = root
    for p in parents:
        if not hasattr(mod, p):
            mod.add_module(p, nn.Module())
        mod = getattr(mod, p)
    mod.add_module(leaf, module)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["build", "count_params"]
