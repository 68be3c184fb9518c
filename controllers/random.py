"""Random search: each decision uniform, deduplicated by genome hash.

The reference controller (and the baseline every other one must beat). A sample whose network
was already asked (same ``space.decode(a).hash``) is redrawn, up to ``max_retries`` times; then,
for spaces small enough to enumerate, an unseen network is drawn uniformly from the rest; when
every network has been asked the space is exhausted and duplicates are returned (``exhausted``).
"""
from __future__ import annotations

import dataclasses
import itertools
import random

from controllers.base import CONTROLLERS, Controller, rng_state, set_rng_state
from controllers.options import option
from nas.space import Assignment


@dataclasses.dataclass(frozen=True)
class RandomOptions:
    dedup: bool = option(True, "never propose a network (genome hash) that was already asked")
    max_retries: int = option(100, "redraws per ask before falling back to enumeration")
    enumerate_limit: int = option(100_000, "enumerate spaces up to this size once redraws fail")


@CONTROLLERS.register("random")
class RandomSearch(Controller):
    name = "random"
    description = "uniform over each decision, deduplicated by genome hash"
    Options = RandomOptions

    def __init__(self, space, **kw):
        super().__init__(space, **kw)
        self.rng = random.Random(self.seed)

    def propose(self) -> Assignment:
        a = self.space.sample(self.rng)
        if self.options.dedup:
            for _ in range(self.options.max_retries):
                if self.is_new(a):
                    break
                a = self.space.sample(self.rng)
            else:
                a = self._unseen() or a
            self.mark_seen(a)
        return a

    def _unseen(self) -> Assignment | None:
        """A uniform draw among assignments of networks not yet seen (small spaces only)."""
        if self.exhausted or self.space.size() > self.options.enumerate_limit:
            return None
        ds = self.space.decisions
        rest = [a for a in (dict(zip([d.name for d in ds], combo))
                            for combo in itertools.product(*(d.choices for d in ds)))
                if self.is_new(a)]
        if not rest:
            self.exhausted = True
            return None
        return rest[self.rng.randrange(len(rest))]

    def observe(self, assignment, result, reward) -> None:
        if self.options.dedup:
            self.mark_seen(assignment)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "rng": rng_state(self.rng), "exhausted": self.exhausted}

    def load_state_dict(self, state) -> None:
        super().load_state_dict(state)
        set_rng_state(self.rng, state["rng"])
        self.exhausted = state.get("exhausted", False)
