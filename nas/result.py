"""The result of evaluating one genome: what evaluators return and controllers are told."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("ok", "failed", "pruned")


@dataclass(frozen=True)
class Result:
    """``metrics`` holds at least ``accuracy`` (0..1) when ok; also loss, params, flops,
    latency_ms, train_seconds, epochs, per-epoch history. ``error`` says why when not ok.

    ``weights``: the trained network as the bytes of a nas checkpoint (``torch.save`` of
    ``{"genome", "state_dict"}``) when the evaluator trained one and was asked to keep it
    (:attr:`nas.loop.TrialSpec.keep_weights`). It travels from the worker to the driver, which
    writes it into the experiment directory (:meth:`nas.store.ExperimentStore.save_weights`);
    it is never part of the stored row, ``to_dict`` or equality."""

    status: str = "ok"
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    weights: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def get(self, key: str, default: Any = None) -> Any:
        return self.metrics.get(key, default)

    def to_dict(self) -> dict:
        """status, metrics, error (not the weights)."""
        return {"status": self.status, "metrics": copy.deepcopy(self.metrics), "error": self.error}

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        return cls(status=d.get("status", "ok"), metrics=dict(d.get("metrics") or {}),
                   error=d.get("error"))

    @classmethod
    def failed(cls, error: str, **metrics) -> "Result":
        return cls("failed", dict(metrics), error)
