"""The supernet's torch side: the shared module pool, children, BN recalibration, the optimizer.

See :mod:`evaluators.supernet` for what the keys mean and how the evaluator uses them.
"""
from __future__ import annotations

import dataclasses
import hashlib

import torch
from torch import nn

import nas.modules
from nas.builder import add_submodule, instantiate
from nas.genome import Genome
from nas.ops import OPS, Fn


# ============================================================================ the supernet


class ChildNet(nn.Module):
    """One child of a :class:`Supernet`: the genome's lowered graph, run with shared modules
    registered under the builder's node paths (so ``state_dict`` names match ``build``)."""

    def __init__(self, steps: list, output: int, n: int, named: dict[str, nn.Module],
                 keys: list[str]):
        super().__init__()
        self._steps, self._output, self._n = steps, output, n
        self.pool_keys = keys           # the shared modules this child uses (its path)
        for path, module in named.items():
            add_submodule(self, path, module)

    def forward(self, x):
        vals: list = [None] * self._n
        vals[0] = x
        for idx, f, ins in self._steps:
            vals[idx] = vals[ins[0]] if f is None else f(*[vals[i] for i in ins])
        return vals[self._output]


class Supernet:
    """The shared pool of every candidate module met so far, keyed by stable names; modules are
    created on first use with an initialisation seeded by their key (order-independent)."""

    def __init__(self, *, affine: bool = True, seed: int = 0, cache: int = 512):
        self.affine = affine
        self.seed = seed
        self.pool: dict[str, nn.Module] = {}
        self.specs: dict[str, tuple] = {}          # key -> (cls, args, kwargs) as built
        self._stateless: dict[str, nn.Module] = {}
        self._children: dict[str, ChildNet] = {}
        self._cache = cache

    # ------------------------------------------------------------------ children
    def child(self, genome: Genome) -> ChildNet:
        """The child network of ``genome``, memoised by the genome's exact text (not by its
        hash: isomorphic genomes hash equal but may name their nodes, and so their shared
        modules, differently)."""
        h = repr((genome.stages, genome.cells, genome.input, genome.num_classes))
        net = self._children.get(h)
        if net is None:
            if len(self._children) >= self._cache:
                self._children.pop(next(iter(self._children)))
            net = self._children[h] = self._make_child(genome)
        return net

    def keys(self, genome: Genome) -> dict[str, str]:
        """node path -> pool key of every parametrised module of ``genome``."""
        return {n.path: k for n, k, _ in self._module_nodes(genome)}

    def _module_nodes(self, genome: Genome):
        graph = genome.graph
        made = {}
        branches: dict[str, list] = {}
        for n in graph.nodes[1:]:
            m = OPS.get(n.op).module(n.in_shapes, n.shape, n.args)
            made[n.index] = m
            if m is not None and not isinstance(m, Fn):
                leaf = n.path.rpartition(".")
                branches.setdefault(leaf[0], []).append(f"{leaf[2]}={m!r}")
        for n in graph.nodes[1:]:
            m = made[n.index]
            if m is None or isinstance(m, Fn):
                continue
            branch = "|".join(branches[n.path.rpartition(".")[0]])
            digest = hashlib.sha1(f"{branch}#{m!r}".encode()).hexdigest()[:12]
            yield n, f"{n.path}#{digest}", m

    def _make_child(self, genome: Genome) -> ChildNet:
        graph = genome.graph
        keyed = {n.index: (k, m) for n, k, m in self._module_nodes(genome)}
        steps, named, keys = [], {}, []
        for n in graph.nodes[1:]:
            ins = tuple(n.inputs)
            if n.index in keyed:
                key, spec = keyed[n.index]
                module = self._module(key, spec)
                named[n.path] = module
                if key in self.pool:
                    keys.append(key)
                steps.append((n.index, module, ins))
                continue
            m = OPS.get(n.op).module(n.in_shapes, n.shape, n.args)
            if m is None:
                steps.append((n.index, None, ins))
            else:
                fn = getattr(nas.modules, m.name)
                steps.append((n.index, (lambda *xs, fn=fn, extra=m.extra: fn(*xs, *extra)), ins))
        return ChildNet(steps, graph.output, len(graph.nodes), named, keys)

    def _module(self, key: str, spec) -> nn.Module:
        m = self.pool.get(key) or self._stateless.get(key)
        if m is not None:
            return m
        spec = self._adjust(spec)
        with torch.random.fork_rng(devices=[]):    # (the CPU generator only: torch.manual_seed
            torch.default_generator.manual_seed(   # also queues CUDA/XPU seeding, ~1 ms each)
                int(hashlib.sha1(f"{self.seed}:{key}".encode()).hexdigest()[:15], 16))
            m = instantiate(spec)
        if hasattr(m, "inplace"):
            m.inplace = False           # a shared module may read a value others read too
        if any(True for _ in m.parameters()) or any(True for _ in m.buffers()):
            self.pool[key] = m
            self.specs[key] = (spec.cls, spec.args, dict(spec.kwargs))
        else:
            self._stateless[key] = m
        return m

    def _adjust(self, spec):
        """Batch norms without affine parameters when ``affine`` is off (DARTS, SPOS)."""
        if spec.cls == "nn.BatchNorm2d" and not self.affine:
            ch, eps, momentum, _ = spec.args
            return dataclasses.replace(spec, args=(ch, eps, momentum, False))
        return spec

    def export(self, genome: Genome) -> dict[str, torch.Tensor]:
        """The child's inherited weights as a ``state_dict`` for ``build(genome)`` (batch norms
        without affine parameters exported as weight 1, bias 0)."""
        net = self.child(genome)
        out = {k: v.detach().clone() for k, v in net.state_dict().items()}
        for name, m in net.named_modules():
            if isinstance(m, nn.BatchNorm2d) and not m.affine:
                out[f"{name}.weight"] = torch.ones(m.num_features)
                out[f"{name}.bias"] = torch.zeros(m.num_features)
        return out

    def parameters(self):
        for m in self.pool.values():
            yield from m.parameters()

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {"specs": {k: [c, list(a), kw] for k, (c, a, kw) in self.specs.items()},
                "modules": {k: m.state_dict() for k, m in self.pool.items()},
                "affine": self.affine, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        from nas.ops import Mod
        self.affine, self.seed = state["affine"], state["seed"]
        self.pool, self.specs, self._children = {}, {}, {}
        for key, (cls, args, kw) in state["specs"].items():
            m = self._module(key, Mod(cls, _tuples(args), kw))
            m.load_state_dict(state["modules"][key])


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, (list, tuple)) else v


def batch_norms(net: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate(net: nn.Module, batches) -> None:
    """Recompute the child's BN running statistics on ``batches`` (SPOS): reset, then a
    cumulative average over the batches with only the batch norms in training mode."""
    bns = batch_norms(net)
    net.eval()
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    for x in batches:
        net(x)
    for bn, mom in zip(bns, saved):
        bn.momentum = mom
    net.eval()


# ============================================================================ training


class SGD:
    """Nesterov SGD over the parameters that have a gradient this step (the path's), with
    momentum buffers keyed by pool key: the optimizer state does not depend on the order in
    which modules were created, so it checkpoints and resumes exactly."""

    def __init__(self, net: Supernet, momentum: float, weight_decay: float):
        self.net, self.momentum, self.wd = net, momentum, weight_decay
        self.buffers: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def step(self, lr: float, keys=None) -> None:
        """One update of the modules ``keys`` (default: the whole pool) that have gradients."""
        for key in (self.net.pool if keys is None else keys):
            for pname, p in self.net.pool[key].named_parameters():
                if p.grad is None:
                    continue
                g = p.grad
                if self.wd and p.ndim > 1:
                    g = g.add(p, alpha=self.wd)
                if self.momentum:
                    name = f"{key}.{pname}"
                    buf = self.buffers.get(name)
                    if buf is None:
                        buf = self.buffers[name] = g.clone()
                    else:
                        buf.mul_(self.momentum).add_(g)
                    g = g.add(buf, alpha=self.momentum)
                p.add_(g, alpha=-lr)
                p.grad = None
