"""The controller interface: ask / tell, with state that resumes exactly.

A controller proposes assignments of a :class:`nas.space.SearchSpace`'s decisions and learns
from results. The caller owns the loop::

    ctl = CONTROLLERS.get("evolution")(space, seed=0)
    a = ctl.ask()                 # several asks may be outstanding (parallel workers)
    ctl.tell(a, result)           # every result, failures included, is told
    state = ctl.state_dict()      # JSON-serialisable; load_state_dict(state) resumes exactly

Controllers see only the decision list (and may call ``space.decode`` to hash for dedup); they
never build or train networks.
"""
from __future__ import annotations

import abc
import math
from typing import Any, Callable, Mapping

from nas.registry import Registry
from nas.result import Result
from nas.space import Assignment, SearchSpace

RewardFn = Callable[[Result], float]


def accuracy_reward(result: Result) -> float:
    """The default reward: validation accuracy; failed or pruned results get 0."""
    return float(result.get("accuracy", 0.0)) if result.ok else 0.0


class Controller(abc.ABC):
    """Base class. Subclasses implement ``ask``/``tell`` and extend the state methods."""

    name: str = "controller"

    def __init__(self, space: SearchSpace, *, seed: int = 0, reward: RewardFn = accuracy_reward):
        self.space = space
        self.seed = seed
        self.reward = reward
        self.n_asked = 0
        self.n_told = 0

    @abc.abstractmethod
    def ask(self) -> Assignment:
        """Propose the next assignment to evaluate."""

    @abc.abstractmethod
    def tell(self, assignment: Mapping[str, Any], result: Result) -> None:
        """Report the result of an assignment (ok, failed or pruned)."""

    def warm_start(self, assignments: list[Assignment]) -> None:
        """Assignments (e.g. encoded classic nets) to propose first. Default: queue them."""
        self._queue = list(getattr(self, "_queue", [])) + [dict(a) for a in assignments]

    def _pop_queue(self) -> Assignment | None:
        q = getattr(self, "_queue", None)
        return q.pop(0) if q else None

    def state_dict(self) -> dict:
        return {"name": self.name, "seed": self.seed, "n_asked": self.n_asked,
                "n_told": self.n_told, "queue": list(getattr(self, "_queue", []))}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.n_asked = state["n_asked"]
        self.n_told = state["n_told"]
        self._queue = list(state.get("queue", []))


CONTROLLERS: Registry[type[Controller]] = Registry("controller")


def finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0
