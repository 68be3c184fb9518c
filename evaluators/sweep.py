"""``nas sweep``: a list of genomes × a grid of settings, evaluated as one Ray Tune job.

The genomes are classic nets (``nets: [resnet18, mobilenet_v2]``) and/or ``n`` genomes sampled
from a space; the settings are the product of ``grid`` (``{lr: [0.1, 0.05], epochs: [5]}``,
any budget or recipe field). Each (genome, setting) pair is one trial of the same machinery as
a search — store, resume, per-trial resources, retries — driven by a controller that simply
lists the jobs in order::

    from evaluators.sweep import run_sweep
    summary = run_sweep(SearchConfig(nets=["resnet18", "vgg11"], grid={"lr": [0.1, 0.05]}))
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from nas.errors import NasError
from nas.genome import Genome
from nas.space import Decision, SearchSpace
from controllers.base import Controller
from evaluators.config import SearchConfig
from evaluators.progress import Reporter
from evaluators.search import Plan, SearchSummary, make_space, run_experiment


@dataclass(frozen=True)
class Job:
    label: str
    make: Callable[[], Genome]      # lazy: a net that does not fit the data is a failed trial
    settings: dict


def plan_jobs(config: SearchConfig, data) -> list[Job]:
    """Every (genome, setting) pair of the config, in a fixed order."""
    from search_spaces import NETS, get_net
    from evaluators.train import fit_to_data
    genomes: list[tuple[str, Callable[[], Genome]]] = []
    for name in config.nets:
        NETS.get(name)                                  # unknown names fail before anything runs
        genomes.append((name, lambda n=name: get_net(n, num_classes=data.num_classes,
                                                      input=data.shape)))
    if config.n:
        space = make_space(config, data)
        rng = random.Random(config.seed)
        for i in range(config.n):
            a = space.sample(rng)
            genomes.append((f"{config.space}#{i}",
                            lambda a=a: fit_to_data(space.decode(a), data)))
    if not genomes:
        raise NasError("nas sweep: nothing to evaluate; give --nets and/or --space S --n N")
    keys = sorted(config.grid)
    settings = [dict(zip(keys, values)) for values in
                itertools.product(*(config.grid[k] for k in keys))] or [{}]
    jobs = []
    for (label, make), s in itertools.product(genomes, settings):
        suffix = " ".join(f"{k}={v}" for k, v in s.items())
        jobs.append(Job(f"{label} {suffix}".strip(), make, s))
    return jobs


class SweepSpace(SearchSpace):
    """One decision, ``job``, whose choices are the job labels."""

    name = "sweep"

    def __init__(self, jobs: list[Job]):
        self.jobs = {j.label: j for j in jobs}
        if len(self.jobs) != len(jobs):
            raise NasError("nas sweep: the same net and setting are listed twice")
        self._decisions = (Decision("job", tuple(self.jobs)),)

    @property
    def decisions(self):
        return self._decisions

    def decode(self, assignment: Mapping[str, Any]) -> Genome:
        return self.jobs[assignment["job"]].make()


class JobList(Controller):
    """Proposes the jobs in order; ``exhausted`` once every job was asked."""

    name = "sweep"

    def propose(self):
        return {"job": self.space.decisions[0].choices[self.n_asked]}

    def observe(self, assignment, result, reward) -> None:
        pass

    @property
    def exhausted(self) -> bool:
        return self.n_asked >= len(self.space.decisions[0].choices)


def plan_sweep(config: SearchConfig, data) -> Plan:
    jobs = plan_jobs(config, data)
    space = SweepSpace(jobs)
    return Plan(f"sweep · {len(jobs)} jobs", space,
                lambda root, fresh: JobList(space, seed=config.seed), lambda g: g, len(jobs),
                settings_of=lambda a: dict(space.jobs[a["job"]].settings))


def run_sweep(config: SearchConfig | None = None, *, resume=None, overrides: dict | None = None,
              reporter: Reporter | None = None) -> SearchSummary:
    """Evaluate every job of the config (or continue a sweep with ``resume=DIR``)."""
    return run_experiment("sweep", plan_sweep, config, resume=resume, overrides=overrides,
                          reporter=reporter)


# ============================================================================ tabular benchmark


class Replicates(SearchSpace):
    """A space's decisions plus ``seed``: the same network trained under several seeds (one
    trial each; the seed is a per-trial setting, so the store keys results by hash and seed)."""

    def __init__(self, space: SearchSpace, seeds: list[int]):
        self.inner = space
        self.name = space.name
        self._decisions = tuple(space.decisions) + (Decision("seed", tuple(seeds)),)

    @property
    def decisions(self):
        return self._decisions

    def decode(self, assignment: Mapping[str, Any]) -> Genome:
        return self.inner.decode({k: v for k, v in assignment.items() if k != "seed"})


class Listed(Controller):
    """Proposes a fixed list of assignments in order; ``exhausted`` after the last."""

    name = "listed"

    def __init__(self, space, jobs: list[dict], **kw):
        super().__init__(space, **kw)
        self.jobs = jobs

    def propose(self):
        return dict(self.jobs[self.n_asked])

    def observe(self, assignment, result, reward) -> None:
        pass

    @property
    def exhausted(self) -> bool:
        return self.n_asked >= len(self.jobs)


def table_jobs(space: SearchSpace, seeds: list[int], sample: int | None,
               rng_seed: int = 0, networks: int | None = None) -> list[dict]:
    """Every distinct network of ``space`` (or the first ``networks``) with the first seed,
    then the further seeds on all of them or on ``sample`` networks drawn at random (fixed by
    ``rng_seed``)."""
    reps = space.distinct_assignments()[:networks]
    seeds = seeds or [0]
    jobs = [{**a, "seed": seeds[0]} for a in reps]
    if len(seeds) > 1:
        idx = range(len(reps)) if sample is None or sample >= len(reps) else \
            sorted(random.Random(rng_seed).sample(range(len(reps)), sample))
        for s in seeds[1:]:
            jobs += [{**reps[i], "seed": s} for i in idx]
    return jobs


def plan_table(config: SearchConfig, data) -> Plan:
    from evaluators.train import fit_to_data
    inner = make_space(config, data)
    space = Replicates(inner, config.seeds or [0])
    jobs = table_jobs(inner, config.seeds or [0], config.seeds_sample, config.seed,
                      config.networks)
    return Plan(f"table · {inner.name} · {len(jobs)} trainings", space,
                lambda root, fresh: Listed(space, jobs, seed=config.seed),
                lambda g: fit_to_data(g, data), len(jobs),
                settings_of=lambda a: {"seed": a["seed"]})


def run_table_build(config: SearchConfig | None = None, *, resume=None,
                    overrides: dict | None = None,
                    reporter: Reporter | None = None) -> SearchSummary:
    """Train every distinct network of the config's space (``nas table build``)."""
    return run_experiment("table", plan_table, config, resume=resume, overrides=overrides,
                          reporter=reporter)
