"""Regularized (aging) evolution — Real et al. 2019, the AmoebaNet search.

A population of the last ``population`` results; each ask samples ``sample`` members at random,
takes the best of that tournament as parent and mutates one decision (a uniformly chosen
decision with more than one choice gets a different choice — a ``space.neighbours`` move). Each
result joins the population and the oldest member dies, so a lucky early network cannot rule
forever. The first ``population`` asks are random (warm-start assignments count among them).
With ``dedup`` a mutation that would repeat an already-asked network is redrawn (bounded).
"""
from __future__ import annotations

import dataclasses
import random
from collections import deque

from controllers.base import CONTROLLERS, Controller, rng_state, set_rng_state
from controllers.options import option
from nas.errors import NasError
from nas.space import Assignment


@dataclasses.dataclass(frozen=True)
class EvolutionOptions:
    population: int = option(30, "population size P (the number of most recent results kept)")
    sample: int = option(10, "tournament size S (members sampled to pick a parent)")
    dedup: bool = option(True, "redraw a child whose network (genome hash) was already asked")
    max_retries: int = option(20, "redraws per ask for dedup before accepting a duplicate")


@CONTROLLERS.register("evolution")
class RegularizedEvolution(Controller):
    name = "evolution"
    description = "regularized (aging) evolution, Real et al. 2019: tournament, mutate one decision"
    Options = EvolutionOptions

    def __init__(self, space, **kw):
        super().__init__(space, **kw)
        o = self.options
        if o.population < 2 or not 1 <= o.sample <= o.population:
            raise NasError(f"controller 'evolution': need population ≥ 2 and 1 ≤ sample ≤ "
                           f"population, got population={o.population}, sample={o.sample}")
        self.rng = random.Random(self.seed)
        self.population: deque[tuple[Assignment, float]] = deque()
        self.mutable = [d for d in space.decisions if len(d.choices) > 1]

    def propose(self) -> Assignment:
        initial = self.n_asked < self.options.population or not self.population
        for _ in range(1 + (self.options.max_retries if self.options.dedup else 0)):
            a = self.space.sample(self.rng) if initial else self.mutate(self.parent())
            if not self.options.dedup or self.is_new(a):
                break
        if self.options.dedup:
            self.mark_seen(a)
        return a

    def parent(self) -> Assignment:
        members = list(self.population)
        k = min(self.options.sample, len(members))
        contenders = self.rng.sample(range(len(members)), k)
        best = max(contenders, key=lambda i: members[i][1])  # ties: first sampled
        return members[best][0]

    def mutate(self, parent: Assignment) -> Assignment:
        if not self.mutable:
            return dict(parent)
        d = self.mutable[self.rng.randrange(len(self.mutable))]
        others = [c for c in d.choices if c != parent[d.name]]
        return {**parent, d.name: others[self.rng.randrange(len(others))]}

    def warm_start_size(self) -> int:
        return self.options.population          # the initial population

    def observe(self, assignment, result, reward) -> None:
        if result.status == "pruned":            # not evaluated (screened out, stopped early):
            return                               # no member of the population
        if self.options.dedup:
            self.mark_seen(assignment)
        self.population.append((assignment, reward))
        while len(self.population) > self.options.population:
            self.population.popleft()

    def state_dict(self) -> dict:
        return {**super().state_dict(), "rng": rng_state(self.rng),
                "population": [[a, r] for a, r in self.population]}

    def load_state_dict(self, state) -> None:
        super().load_state_dict(state)
        set_rng_state(self.rng, state["rng"])
        self.population = deque((dict(a), float(r)) for a, r in state["population"])
