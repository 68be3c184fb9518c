"""Rewards (what a controller maximises) and hard constraints (what is never trained).

- ``accuracy``: the validation accuracy; failed/pruned results get 0.
- ``mnas``: MnasNet's (Tan et al. 2019) ``ACC × (cost / target)^w`` for a FLOPs, params, memory or
  latency target; ``w = alpha`` when the cost is within the target and ``beta`` above it. The
  soft default ``alpha = beta = -0.07`` trades ~7% accuracy for half the cost; ``alpha = 0,
  beta = -1`` is the hard-ish variant (no bonus under the target, a steep penalty above).
- Constraints (``max_params``, ``max_flops``, ``max_memory_kb``) are checked from the cost model
  before any training: the search loop calls :func:`violates` on the decoded genome and, when it
  returns a reason, tells the controller :func:`rejected` (a failed result) instead of evaluating.

Configs name a reward with :func:`make_reward`: ``"accuracy"`` or
``{"name": "mnas", "target": 3e8, "metric": "flops", "w": -0.07}``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from controllers.base import RewardFn, accuracy_reward
from nas.errors import NasError
from nas.genome import Genome
from nas.registry import Registry
from nas.result import Result

#: result metric -> cost-model attribute (None: only measured, e.g. latency)
COST_METRICS = {"flops": "flops", "params": "params", "memory_kb": "memory_kb",
                "macs": "macs", "latency_ms": None}


def metric_value(result: Result, metric: str, genome: Genome | None = None) -> float:
    """``result.metrics[metric]``, else (when a genome is given) the cost model's value."""
    if metric not in COST_METRICS:
        raise NasError(f"unknown cost metric {metric!r}; known: {', '.join(COST_METRICS)}")
    if metric in result.metrics:
        return float(result.metrics[metric])
    if genome is not None and COST_METRICS[metric]:
        from nas.cost import cost
        return float(getattr(cost(genome), COST_METRICS[metric]))
    raise NasError(f"the result has no {metric!r} metric (has: {', '.join(result.metrics)})")


@dataclasses.dataclass(frozen=True)
class MnasReward:
    """``accuracy × (cost/target)^w`` with ``w = alpha`` if cost ≤ target else ``beta``."""

    target: float
    metric: str = "flops"
    alpha: float = -0.07
    beta: float = -0.07

    def __post_init__(self):
        if not self.target > 0:
            raise NasError(f"reward mnas: target must be > 0, got {self.target!r}")
        if self.metric not in COST_METRICS:
            raise NasError(f"reward mnas: unknown metric {self.metric!r}; "
                           f"known: {', '.join(COST_METRICS)}")

    def __call__(self, result: Result) -> float:
        if not result.ok:
            return 0.0
        acc = float(result.get("accuracy", 0.0))
        c = metric_value(result, self.metric)
        if c <= 0:
            return acc
        w = self.alpha if c <= self.target else self.beta
        return acc * (c / self.target) ** w


def _accuracy() -> RewardFn:
    """validation accuracy; failed or pruned results get 0 (no options)"""
    return accuracy_reward


def _mnas(target: float, metric: str = "flops", w: float | None = None, alpha: float = -0.07,
          beta: float = -0.07, hard: bool = False) -> MnasReward:
    """MnasNet accuracy × (cost/target)^w; options: target (required), metric (flops, params,
    memory_kb, macs, latency_ms), w = -0.07 (or alpha within / beta above the target), hard"""
    if hard:
        alpha, beta = 0.0, -1.0
    if w is not None:
        alpha = beta = float(w)
    return MnasReward(float(target), metric, float(alpha), float(beta))


#: reward name -> factory(**options) -> RewardFn
REWARDS: Registry = Registry("reward")
REWARDS.register("accuracy", _accuracy)
REWARDS.register("mnas", _mnas)


def make_reward(spec: str | Mapping[str, Any] | None = None) -> RewardFn:
    """A reward from its config form: a name or ``{"name": ..., **options}``."""
    if spec is None:
        return accuracy_reward
    if isinstance(spec, str):
        spec = {"name": spec}
    opts = dict(spec)
    name = opts.pop("name", None)
    if not name:
        raise NasError(f"reward {dict(spec)!r}: needs a 'name' ({', '.join(REWARDS)})")
    try:
        return REWARDS.get(name)(**opts)
    except TypeError as e:
        raise NasError(f"reward {name!r}: {e}") from None


# ---------------------------------------------------------------------- hard constraints
# (the loop checks them before training; they live with the cost model in nas.constraints)
from nas.constraints import Constraints, rejected, violates  # noqa: E402,F401  (re-exported)
