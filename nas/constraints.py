"""Hard constraints on a candidate's cost (params, FLOPs, activation memory), checked from the
cost model before anything is trained: a violating candidate is ``rejected``, never trained."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from nas.errors import NasError
from nas.fmt import human
from nas.result import Result

COST_KEYS = ("params", "flops", "memory_kb")


@dataclasses.dataclass(frozen=True)
class Constraints:
    """Upper bounds checked from the cost model before training (None: unbounded)."""

    max_params: float | None = None
    max_flops: float | None = None
    max_memory_kb: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Constraints":
        d = dict(d or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise NasError(f"unknown constraint(s) {unknown}; known: {', '.join(sorted(names))}")
        for k, v in d.items():
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
                raise NasError(f"constraint {k}: expected a positive number, got {v!r}")
        return cls(**d)

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) is not None for f in dataclasses.fields(self))

    def violated_by(self, cost: Mapping[str, float]) -> str | None:
        """Why a candidate of this cost (``{"params", "flops", "memory_kb"}``) breaks a bound,
        e.g. ``"params 11.69M > max_params 5M"``, or None."""
        for name in COST_KEYS:
            bound = getattr(self, f"max_{name}")
            if bound is not None and cost[name] > bound:
                return f"{name} {human(cost[name], spec='.4g')} > max_{name} {human(bound, spec='.4g')}"
        return None

    def excess(self, cost: Mapping[str, float]) -> float:
        """How far a candidate of this cost is outside the bounds: the sum of its relative
        overshoots (``flops / max_flops - 1`` …); 0 inside. What repairing a proposal into
        the constraint descends on."""
        return sum(max(0.0, cost[name] / bound - 1.0) for name in COST_KEYS
                   if (bound := getattr(self, f"max_{name}")) is not None)


def cost_metrics(genome) -> dict:
    """The cost model's totals as result metrics: ``params``, ``flops``, ``memory_kb``."""
    from nas.cost import cost
    c = cost(genome)
    return {"params": c.params, "flops": c.flops, "memory_kb": round(c.memory_kb, 3)}


def violates(genome, constraints: "Constraints | Mapping[str, Any] | None") -> str | None:
    """Why ``genome`` breaks a hard constraint, or None."""
    c = constraints if isinstance(constraints, Constraints) else Constraints.from_dict(constraints)
    return c.violated_by(cost_metrics(genome)) if c else None


def rejected(reason: str) -> Result:
    """The result to tell a controller for a candidate rejected before training."""
    return Result.failed(f"rejected: {reason}", rejected=True)
