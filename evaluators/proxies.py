"""Zero-cost proxies: score an untrained network from one minibatch, no training.

Each proxy is a small pure function ``(model, batch, genome, cost) -> float`` registered in
``PROXIES``; :func:`score` builds the network with the seed's initialisation, takes one seeded
batch of the training split, and runs the proxies asked for (deterministic for a seed; a proxy
whose value is not finite is an error, which the ``proxy`` evaluator turns into a failed
result). Conventions follow the papers and their reference code (Abdelfattah et al. 2021,
"Zero-Cost Proxies for Lightweight NAS"; Mellor et al. 2021, "NAS without training"):

- ``synflow`` — Σ |θ ⊙ ∂R/∂θ| over conv/linear weights, with R the sum of the output of the
  network with every parameter replaced by its absolute value, batch-norm bypassed, on an
  all-ones input; in float64 (values reach 1e30–1e60).
- ``naswot`` — the log-determinant of the Hamming kernel of the ReLU activation codes of the
  batch: K = C Cᵀ + (1−C)(1−C)ᵀ.
- ``jacob_cov`` — −Σ log(λ + k) + 1/(λ + k), λ the eigenvalues of the correlation matrix of the
  per-sample input Jacobians (k = 1e-5).
- ``snip`` — Σ |θ ⊙ ∂L/∂θ| over conv/linear weights, L the cross-entropy of the batch.
- ``grad_norm`` — Σ over conv/linear layers of ‖∂L/∂W‖₂.
- ``fisher`` — Σ over conv outputs a of ½·mean over the batch of (Σ_spatial a ⊙ ∂L/∂a)²,
  summed over channels.
- ``params``, ``flops`` — the baselines every proxy must beat, from the cost model (no forward).
- ``vote`` — the rank average of a set of proxies (default synflow, jacob_cov, snip) within a
  reference population (``ProxyEvaluator``: networks sampled from the space; the benchmark: the
  whole table).
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable

from evaluators.base import EVALUATORS, EpochCallback, EvaluationContext, Evaluator
from nas.errors import NasError
from nas.options import option
from nas.registry import Registry
from nas.result import Result

Proxy = Callable[..., float]
PROXIES: Registry[Proxy] = Registry("proxy")
#: proxies that need no forward pass (the cost model's baselines)
STATIC = ("params", "flops")
VOTE_DEFAULT = ("synflow", "jacob_cov", "snip")


def _weights(model):
    import torch
    return [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]


@PROXIES.register("synflow")
def synflow(model, x, y, **_) -> float:
    import torch
    for name, m in list(model.named_modules()):
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):     # bypassed, as the paper
            parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
            setattr(parent, name.rpartition(".")[2], torch.nn.Identity())
    model = model.double()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    model.zero_grad()
    out = model(torch.ones((1, *x.shape[1:]), dtype=torch.float64))
    out.sum().backward()
    return _saliency(model)


def _saliency(model) -> float:
    """Σ |θ ⊙ ∂/∂θ| over conv/linear weights (synflow, snip)."""
    import torch
    with torch.no_grad():
        return float(sum((m.weight * m.weight.grad).abs().sum() for m in _weights(model)
                         if m.weight.grad is not None))


@PROXIES.register("naswot")
def naswot(model, x, y, **_) -> float:
    import torch
    n = x.shape[0]
    k = torch.zeros(n, n, dtype=torch.float64)

    def hook(module, inp, out):
        c = (out.detach().reshape(n, -1) > 0).double()
        k.add_(c @ c.t() + (1 - c) @ (1 - c).t())
    hooks = [m.register_forward_hook(hook) for m in model.modules()
             if isinstance(m, torch.nn.ReLU)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    sign, logdet = torch.linalg.slogdet(k)
    return float(logdet) if float(sign) > 0 else float("-inf")


@PROXIES.register("jacob_cov")
def jacob_cov(model, x, y, **_) -> float:
    import torch
    x = x.clone().requires_grad_(True)
    model.zero_grad()
    model(x).sum().backward()
    jac = x.grad.reshape(x.shape[0], -1).double()
    corr = torch.corrcoef(jac)
    if not torch.isfinite(corr).all():
        return float("nan")
    v = torch.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-torch.sum(torch.log(v + k) + 1.0 / (v + k)))


def _loss_backward(model, x, y) -> None:
    import torch
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()


@PROXIES.register("snip")
def snip(model, x, y, **_) -> float:
    _loss_backward(model, x, y)
    return _saliency(model)


@PROXIES.register("grad_norm")
def grad_norm(model, x, y, **_) -> float:
    import torch
    _loss_backward(model, x, y)
    with torch.no_grad():
        return float(sum(m.weight.grad.norm() for m in _weights(model)
                         if m.weight.grad is not None))


@PROXIES.register("fisher")
def fisher(model, x, y, **_) -> float:
    import torch
    acts = []

    def hook(module, inp, out):
        out.retain_grad()
        acts.append(out)
    hooks = [m.register_forward_hook(hook) for m in model.modules()
             if isinstance(m, torch.nn.Conv2d)]
    try:
        _loss_backward(model, x, y)
    finally:
        for h in hooks:
            h.remove()
    total = 0.0
    with torch.no_grad():
        for a in acts:
            if a.grad is None:
                continue
            per = (a * a.grad).sum(dim=(2, 3)) if a.dim() == 4 else a * a.grad
            total += float(0.5 * per.pow(2).mean(0).sum())
    return total


@PROXIES.register("params")
def params(model, x, y, cost=None, **_) -> float:
    return float(cost["params"])


@PROXIES.register("flops")
def flops(model, x, y, cost=None, **_) -> float:
    return float(cost["flops"])


def score(genome, data, names: list[str], *, seed: int = 0, batch: int = 64,
          cost: dict | None = None, threads: int | None = None) -> dict[str, dict]:
    """``{proxy: {"value": float, "ms": float}}`` for ``genome`` on one seeded batch of the
    training split of ``data``. The network is built once with the seed's initialisation; the
    proxies that only read weights and gradients run first (gradients zeroed between them) and
    synflow, which rewrites the weights, last. Non-finite values are errors."""
    import torch
    from nas.builder import build
    from nas.constraints import cost_metrics
    if threads:
        torch.set_num_threads(max(1, int(threads)))
    unknown = [n for n in names if n not in PROXIES]
    if unknown:
        PROXIES.get(unknown[0])                   # the registry's "unknown proxy … known: …"
    cost = cost or cost_metrics(genome)
    gen = torch.Generator().manual_seed(seed)
    dd = data.to("cpu")
    n = min(batch, len(dd))
    idx = torch.randperm(len(dd), generator=gen)[:n]
    x, y = dd.normalise(dd.train_x[idx]), dd.train_y[idx]
    out: dict[str, dict] = {}
    model, build_ms = None, 0.0
    for name in sorted(names, key=lambda n: n == "synflow"):        # synflow last
        if name not in STATIC and model is None:
            t0 = time.perf_counter()
            torch.manual_seed(seed)
            model = build(genome).train()
            build_ms = 1000 * (time.perf_counter() - t0)
        t0 = time.perf_counter()
        value = PROXIES.get(name)(model, x, y, cost=cost)
        # what scoring this proxy alone costs: its own passes plus building the network
        ms = 1000 * (time.perf_counter() - t0) + (build_ms if name not in STATIC else 0.0)
        if not math.isfinite(value):
            raise NasError(f"proxy {name} is not finite ({value}) for this network")
        out[name] = {"value": value, "ms": round(ms, 3)}
    return {n: out[n] for n in names}


# ============================================================================ the evaluator


@dataclasses.dataclass(frozen=True)
class ProxyOptions:
    name: str = option("synflow", "the proxy to score by (see `nas score --help`), or vote")
    vote: str = option(",".join(VOTE_DEFAULT), "the proxies a vote rank-averages")
    reference: int = option(64, "vote: networks sampled from the space as the reference "
                            "population of each proxy's ranks")
    batch: int = option(64, "images in the scoring batch")


@EVALUATORS.register("proxy")
class ProxyEvaluator(Evaluator):
    """A zero-cost proxy as the score: no training; the result's ``accuracy`` is the proxy
    value (for ranking; ``vote``: the mean rank percentile in [0, 1])."""

    name = "proxy"
    description = ("zero-cost proxy score of the untrained network (synflow, naswot, "
                   "jacob_cov, snip, grad_norm, fisher, params, flops, vote): tens of ms")
    Options = ProxyOptions
    default_executor = "local"
    argument = "name"             # --evaluator proxy:synflow

    def __init__(self, **options: Any):
        super().__init__(**options)
        o = self.options
        members = self.members()
        for n in members:
            PROXIES.get(n)
        if o.name != "vote" and o.name not in PROXIES:
            PROXIES.get(o.name)
        self._reference: dict[str, list[float]] = {}

    def members(self) -> list[str]:
        o = self.options
        return [s for s in o.vote.split(",") if s] if o.name == "vote" else [o.name]

    def prepare(self, context: EvaluationContext) -> None:
        if self.options.name != "vote":
            return
        import random
        from nas.constraints import cost_metrics
        space, rng = context.space, random.Random(0)
        ref: dict[str, list[float]] = {n: [] for n in self.members()}
        for _ in range(self.options.reference):
            g = space.decode(space.sample(rng))
            if tuple(g.input) != tuple(context.data.shape) or \
                    g.num_classes != context.data.num_classes:
                g = g.with_input(context.data.shape).with_classes(context.data.num_classes)
            try:
                got = score(g, context.data, self.members(), seed=0,
                            batch=self.options.batch, cost=cost_metrics(g))
            except NasError:
                continue
            for n, v in got.items():
                ref[n].append(v["value"])
        self._reference = {n: sorted(v) for n, v in ref.items()}

    def evaluate(self, trial, data, *, device: str = "cpu", threads: int | None = None,
                 callback: EpochCallback | None = None) -> Result:
        import bisect
        try:
            got = score(trial.genome, data, self.members(), seed=trial.seed,
                        batch=self.options.batch, cost=trial.cost, threads=threads)
        except NasError as e:
            return Result.failed(str(e), **trial.cost)
        metrics = {**trial.cost, **{f"proxy_{n}": v["value"] for n, v in got.items()},
                   "proxy_ms": round(sum(v["ms"] for v in got.values()), 3)}
        if self.options.name == "vote":
            pct = [bisect.bisect_left(self._reference[n], got[n]["value"]) /
                   max(1, len(self._reference[n])) for n in got]
            metrics["accuracy"] = sum(pct) / len(pct)
        else:
            metrics["accuracy"] = got[self.options.name]["value"]
        return Result("ok", metrics)
