"""The wiring module: the one place where spaces, controllers, evaluators and executors meet.

``make_space`` / ``make_controller`` / ``make_evaluator`` / ``make_executor`` turn a
:class:`~nas.config.SearchConfig` into parts; a *plan* says what an experiment evaluates (a
search: the space and its controller; a sweep: genomes × settings; a table build: every distinct
network × seeds); :func:`run_experiment` opens or creates the experiment directory, loads the
data, and lets the executor drive the :class:`~nas.loop.SearchLoop` to the end::

    from nas.config import SearchConfig
    from nas.experiment import run_search
    summary = run_search(SearchConfig(space="exhaustive", evaluator="table", trials=300))
    print(summary.best.accuracy, summary.root)

Nothing else in ``nas/`` (except the CLI) imports ``controllers``, ``evaluators`` or
``search_spaces``.
"""
from __future__ import annotations

import dataclasses
import inspect
import itertools
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Mapping

import evaluators.executors  # noqa: F401  (registers local, ray)
import evaluators.proxies  # noqa: F401  (registers proxy)
import evaluators.supernet  # noqa: F401  (registers supernet)
import evaluators.table  # noqa: F401  (registers table)
import evaluators.train  # noqa: F401  (registers train)
from controllers import CONTROLLERS
from controllers.listed import Listed
from controllers.rewards import make_reward
from evaluators.base import EVALUATORS, EXECUTORS, EvaluationContext, Evaluator, Executor, \
    split_name
from evaluators.datasets import load_dataset
from evaluators.train import fit_to_data
from nas.config import RESUMABLE, Budget, SearchConfig, parse_shape
from nas.constraints import Constraints
from nas.errors import NasError
from nas.genome import Genome
from nas.loop import Screen, SearchLoop
from nas.progress import Reporter
from nas.space import Decision, SearchSpace
from nas.store import RETRAIN, ExperimentStore, TrialRow
from search_spaces import NETS, SPACES, get_net

# ============================================================================ the parts


def make_space(config: SearchConfig, data=None) -> SearchSpace:
    """The configured space; the data set's input shape and classes are passed as options
    when the space takes them (else genomes are fitted to the data after decoding)."""
    factory = SPACES.get(config.space)
    opts = dict(config.options)
    if data is not None:
        params = _parameters(factory)
        for key, value in (("input", tuple(data.shape)), ("num_classes", data.num_classes)):
            if key not in opts and key in params:
                opts[key] = value
    try:
        return factory(**opts)
    except TypeError as e:
        raise NasError(f"space {config.space!r}: bad option(s) {sorted(config.options)}: "
                       f"{e}") from None


def _parameters(factory) -> set[str]:
    """The option names a space factory takes (its ``Options`` dataclass, or its signature)."""
    options = getattr(factory, "Options", None)
    if dataclasses.is_dataclass(options):
        return {f.name for f in dataclasses.fields(options)}
    try:
        ps = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in ps if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def make_controller(config: SearchConfig, space: SearchSpace, root: Path):
    cls = CONTROLLERS.get(config.controller)
    opts = dict(config.controller_options)
    fields = {f.name for f in dataclasses.fields(cls.Options)} \
        if dataclasses.is_dataclass(getattr(cls, "Options", None)) else set()
    if "storage" in fields and "storage" not in opts:      # optuna: the study lives here
        opts["storage"] = f"sqlite:///{Path(root).resolve() / 'optuna.db'}"
    return cls(space, seed=config.seed, reward=make_reward(config.reward), **opts)


def load_data(config: SearchConfig, *, test: bool = False, with_test: bool = False):
    """The config's data set, split by its seed (``test``: train+val vs the test split)."""
    d = config.data
    return load_dataset(d.dataset, d.data_dir, seed=config.seed, val_fraction=d.val_fraction,
                        input=parse_shape(d.input) if d.input else None, samples=d.samples,
                        augment=d.augment, test=test, with_test=with_test)


def make_evaluator(config: SearchConfig) -> Evaluator:
    """The configured evaluator (``train``, ``table:NAME`` …) with its options."""
    name, arg = split_name(config.evaluator)
    cls = EVALUATORS.get(name)
    opts = dict(config.evaluator_options)
    if arg is not None:
        if cls.argument is None:
            raise NasError(f"evaluator {name!r} takes no ':{arg}' (see `nas evaluators`)")
        opts.setdefault(cls.argument, arg)
    return cls(**opts)


def make_executor(config: SearchConfig, evaluator: Evaluator) -> Executor:
    """``--executor`` when given, else the evaluator's default."""
    name = config.execution.executor or evaluator.default_executor
    if evaluator.executors is not None and name not in evaluator.executors:
        raise NasError(f"evaluator {evaluator.name!r} runs with --executor "
                       f"{' or '.join(evaluator.executors)} only, not {name!r}")
    return EXECUTORS.get(name)()


def fixed_point_hashes(store: ExperimentStore) -> dict[str, str]:
    """hash -> name of the space's classic fixed points, at the input the search used."""
    cfg = store.config()
    rows = store.rows(limit=1)
    if not rows:
        return {}
    g0 = Genome.from_dict(rows[0].genome)
    data = SimpleNamespace(shape=g0.input, num_classes=g0.num_classes)
    try:
        space = make_space(cfg, data)
        out = {}
        for name, g in space.fixed_points().items():
            a = space.encode(g)
            if a is not None:
                out[space.decode(a).hash] = name
        return out
    except Exception:  # a report never fails because a space changed since the search
        return {}


def cell_diagrams(genome: Genome, space: SearchSpace | None = None):
    """The cells of ``genome`` as a space describes them (for :func:`nas.draw.draw`), or None
    (draw the op graph). ``space``: the genome's space when known; else every registered space
    (default options) that can describe cells is asked, the first answer wins."""
    if space is not None:
        return space.cell_diagrams(genome)
    for name in SPACES.names():
        factory = SPACES.get(name)
        if getattr(factory, "cell_diagrams", SearchSpace.cell_diagrams) is \
                SearchSpace.cell_diagrams:
            continue
        try:
            found = factory().cell_diagrams(genome)
        except Exception:  # noqa: BLE001 — a space that cannot read it has no answer
            found = None
        if found:
            return found
    return None


def store_cell_diagrams(store: ExperimentStore, genome: Genome):
    """:func:`cell_diagrams` of a genome of an experiment, by the experiment's space."""
    try:
        data = SimpleNamespace(shape=genome.input, num_classes=genome.num_classes)
        return cell_diagrams(genome, make_space(store.config(), data))
    except Exception:  # noqa: BLE001 — a report never fails because a space changed
        return None


def table_fixed_points(table) -> dict:
    """name -> {hash, accuracy, test_accuracy, rank} (None when absent) of the classic fixed
    points of a table's space, at the table's input size."""
    h = table.header
    space = make_space(SearchConfig(space=h["space"], options=dict(h.get("space_options") or {})),
                       SimpleNamespace(shape=tuple(h["input"]), num_classes=h["num_classes"]))
    ranked = sorted(table.rows, key=table.final, reverse=True)
    out = {}
    for name, g in space.fixed_points().items():
        a = space.encode(g)
        fh = space.decode(a).hash if a is not None else None
        out[name] = {"hash": fh, "accuracy": table.final(fh),
                     "test_accuracy": table.final(fh, "test"),
                     "rank": ranked.index(fh) + 1} if fh in table.rows else None
    return out


def warm_start(config: SearchConfig, space: SearchSpace, fit, controller) -> None:
    """Queue ``config.init`` (fixed points of the space, or classic nets it can encode)."""
    if not config.init:
        return
    fixed = space.fixed_points()
    assignments = []
    for name in config.init:
        if name in fixed:
            g = fixed[name]
        elif name in NETS:
            g = get_net(name)
        else:
            known = sorted(set(fixed) | set(NETS.names()))
            raise NasError(f"--init {name!r}: not a fixed point of {config.space} nor a "
                           f"classic net; known: {', '.join(known)}")
        a = space.encode(g)
        if a is None:
            a = space.encode(fit(g))
        if a is None:
            raise NasError(f"--init {name!r}: the network is not in space {config.space!r}")
        assignments.append(a)
    controller.warm_start(assignments)


@dataclass
class Plan:
    """What an experiment evaluates: the space, how to make its controller, per-trial
    settings, and the trial budget (a search: ``config.trials``; a sweep: its job count)."""

    title: str
    space: SearchSpace
    make_controller: Callable[[Path, bool], Any]     # (root, fresh) -> Controller
    fit: Callable[[Genome], Genome]
    trials: int
    settings_of: Callable[[dict], dict] = lambda a: {}
    constraints: Any = None
    screen: Any = None                                # nas.loop.Screen: proxy move proposal
    meta: dict = dataclasses.field(default_factory=dict)   # kept in the store (proxy warm-up)


def plan_search(config: SearchConfig, data) -> Plan:
    space = make_space(config, data)
    fit = lambda g: fit_to_data(g, data)  # noqa: E731
    meta: dict = {}

    constraints = Constraints.from_dict(config.constraints)

    def controller(root: Path, fresh: bool):
        c = make_controller(config, space, root)
        if constraints:            # sample / mutate inside the caps, not reject blindly
            from nas.constraints import cost_metrics
            c.constrain(lambda a: constraints.excess(cost_metrics(fit(space.decode_cached(a)))))
        if fresh:
            warm_start(config, space, fit, c)
            if config.proxy_warmup:
                meta["proxy_warmup"] = proxy_warmup(config, space, fit, data, c)
        return c
    screen = None
    if config.proxy_screen > 1:
        scorer = proxy_scorer(config, data)
        screen = Screen(config.proxy_screen, scorer, f"proxy_{config.proxy}")
    return Plan(f"{config.space} · {config.controller}", space, controller, fit, config.trials,
                constraints=constraints, screen=screen, meta=meta)


_PROXY_MEMO: dict[tuple, float] = {}


def proxy_scorer(config: SearchConfig, data) -> Callable[[Genome, dict], float]:
    """``(genome, cost) -> score`` of the config's proxy (−inf where it is not finite), with
    initialisation and batch seed 0; memoised by genome hash and data split."""
    from evaluators.proxies import PROXIES, score
    PROXIES.get(config.proxy)

    def scorer(genome: Genome, cost: dict) -> float:
        key = (genome.hash, config.proxy, data.name, data.shape, config.seed,
               config.data.val_fraction)
        if key not in _PROXY_MEMO:
            try:
                _PROXY_MEMO[key] = score(
                    genome, data, [config.proxy], seed=0, cost=cost,
                    threads=int(config.execution.cpus_per_trial))[config.proxy]["value"]
            except NasError:
                _PROXY_MEMO[key] = float("-inf")
        return _PROXY_MEMO[key]
    return scorer


def proxy_warmup(config: SearchConfig, space: SearchSpace, fit, data, controller) -> list:
    """Score ``proxy_warmup`` distinct random networks by the proxy and queue the best
    ``controller.warm_start_size()`` of them first; returns what was scored (kept in the store)."""
    import random as _random
    from nas.constraints import cost_metrics
    scorer, rng = proxy_scorer(config, data), _random.Random(f"warmup:{config.seed}")
    constraints = Constraints.from_dict(config.constraints)
    seen, scored = set(), []
    for _ in range(20 * config.proxy_warmup):
        if len(scored) >= config.proxy_warmup:
            break
        a = space.sample(rng)
        k = space.key(a)
        if k in seen:
            continue
        seen.add(k)
        try:
            g = fit(space.decode_cached(a))
        except NasError:
            continue
        cost = cost_metrics(g)
        if constraints and constraints.violated_by(cost):
            continue
        scored.append({"assignment": a, "hash": g.hash, "score": scorer(g, cost)})
    scored.sort(key=lambda d: -d["score"])
    controller.warm_start([d["assignment"] for d in scored[:controller.warm_start_size()]])
    return [{**d, "score": d["score"] if d["score"] != float("-inf") else None} for d in scored]


@dataclass
class SearchSummary:
    root: Path
    counts: dict
    leaderboard: list[TrialRow]
    best: TrialRow | None
    finished: bool
    exhausted: bool
    seconds: float
    data: str
    first_error: str | None = None     # of the first failed trial, if any
    retrained: list = dataclasses.field(default_factory=list)   # top K retrained stand-alone

    def to_dict(self) -> dict:
        return {"root": str(self.root), "counts": self.counts, "finished": self.finished,
                "exhausted": self.exhausted, "seconds": round(self.seconds, 2),
                "data": self.data, "best": self.best.summary() if self.best else None,
                "leaderboard": [r.summary() for r in self.leaderboard],
                **({"retrained": self.retrained} if self.retrained else {})}


def default_out(config: SearchConfig, kind: str = "search") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if kind == "table":
        return Path("runs") / f"table-{config.space}-{config.data.dataset}-{stamp}"
    what = config.space if kind == "search" else "sweep"
    return Path("runs") / f"{what}-{config.controller if kind == 'search' else 'nets'}-{stamp}"


def run_search(config: SearchConfig | None = None, *, resume: str | os.PathLike | None = None,
               overrides: dict | None = None, reporter: Reporter | None = None) -> SearchSummary:
    """Run (or with ``resume=DIR`` continue) a search to its trial budget."""
    return run_experiment("search", plan_search, config, resume=resume, overrides=overrides,
                          reporter=reporter)


def run_experiment(kind: str, make_plan: Callable[[SearchConfig, Any], Plan],
                   config: SearchConfig | None = None, *, resume=None,
                   overrides: dict | None = None, reporter: Reporter | None = None,
                   meta: dict | None = None, data=None,
                   before_run: Callable[[], None] = lambda: None) -> SearchSummary:
    """Open or create the experiment directory, plan it, and run its trials to the budget with
    the configured evaluator and executor. ``data``: the data set when the caller loaded it
    (default: the config's); ``before_run()``: called once if anything is to be evaluated."""
    t0 = time.time()
    overrides = dict(overrides or {})
    if resume is not None:
        store = ExperimentStore.open(resume, driver=True)
        stored_kind = store.meta("kind", "search")
        if stored_kind != kind:
            store.close()
            raise NasError(f"{resume} is a {stored_kind} experiment; resume it with "
                           f"`nas {_command(stored_kind)} --resume {resume}`")
        try:
            config = store.config()
            store.rows()             # every row readable before anything is written
        except BaseException:
            store.close()
            raise
        changed = sorted(k for k, v in overrides.items()
                         if k not in RESUMABLE and v != config.get(k))
        if changed:
            store.close()
            raise NasError(f"--resume continues the stored experiment: cannot change "
                           f"{', '.join(changed)} (may change: {', '.join(RESUMABLE)})")
        config = config.replace(**{k: v for k, v in overrides.items() if k in RESUMABLE})
    else:
        config = (config or SearchConfig()).replace(**overrides)
        _precheck(config, kind)
        store = None
    try:
        evaluator = make_evaluator(config)
        executor = make_executor(config, evaluator)
        if data is None:
            data = load_data(config, with_test=kind == "table")
        plan = make_plan(config, data)
        evaluator.prepare(EvaluationContext(plan.space, config.data.dataset, data,
                                            execution=config.execution))
        config = config.replace(trials=plan.trials)
        budget = evaluator.default_budget()
        given = any(k in overrides for k in ("epochs", "steps", "seconds"))   # flags typed
        if store is None and budget is not None and config.budget == Budget() and not given:
            config = config.replace(budget=budget)
        if store is None:
            root = Path(config.out) if config.out else default_out(config, kind)
            store = ExperimentStore.create(root, config)
            store.set_meta(kind=kind, **(meta or {}))
            try:
                controller = plan.make_controller(root, True)
            except BaseException:
                store.discard()
                raise
            store.save_controller_state(controller.state_dict())
            if plan.meta:
                store.set_meta(**plan.meta)
        else:
            store.save_config(config)
            controller = plan.make_controller(store.root, False)
    except BaseException:
        if store is not None:
            store.close()
        raise
    reporter = reporter or Reporter()
    try:
        loop = SearchLoop(config, store, plan.space, controller, fit=plan.fit,
                          reporter=reporter, constraints=plan.constraints,
                          settings_of=plan.settings_of, screen=plan.screen)
        evaluator.start(EvaluationContext(plan.space, config.data.dataset, data, store.root,
                                          controller if kind == "search" else None,
                                          config.trials, config.execution))
        if not loop.finished:
            before_run()
            try:
                executor.run(loop, evaluator, data, config.execution, store.root,
                             on_ready=lambda: reporter.start(plan.title, config.trials,
                                                             loop.done))
            except NasError:
                if resume is None and not store.rows():   # Ray could not start: leave no trace
                    store.discard()
                raise
            finally:
                reporter.stop()
        retrained = []
        k = config.retrain if config.retrain is not None else evaluator.default_retrain
        rescored = 0
        if kind == "search" and loop.finished:
            from evaluators.executors import local_device
            rescored = evaluator.finish(store, data, device=local_device(config.execution))
        if kind == "search" and loop.finished and k:
            retrained = retrain_top(store, config, k, data, reporter)
        best = store.best()
        if (retrained or rescored) and best is not None:
            store.write_best(best)       # the best stand-alone child / re-scored finalist
        failed = store.rows("status='failed' AND source='trained'", limit=1)
        return SearchSummary(store.root, store.counts(), store.leaderboard(config.top),
                             best, loop.finished, loop.exhausted, time.time() - t0,
                             data.describe(), failed[0].result.error if failed else None,
                             retrained)
    finally:
        store.close()


def retrain_top(store: ExperimentStore, config: SearchConfig, k: int, data,
                reporter: Reporter | None = None) -> list[dict]:
    """Retrain the ``k`` best candidates of a finished search stand-alone with the ``train``
    evaluator for ``retrain_epochs`` (an experiment of its own in ``DIR/retrain``, resumable
    like any other), and record each one's stand-alone accuracy in its search row
    (``standalone_accuracy``). Returns one dict per candidate, best estimate first."""
    top = store.leaderboard(k)
    if not top:
        return []
    genomes = {f"trial{r.number}": Genome.from_dict(r.genome) for r in top}
    cfg = config.replace(evaluator="train", evaluator_options={}, epochs=config.retrain_epochs,
                         steps=None, seconds=None, retrain=0, proxy_screen=0, proxy_warmup=0,
                         constraints={}, init=[])
    rows = evaluate_genomes(genomes, cfg, store.root / RETRAIN, data=data,
                            reporter=reporter)
    out = []
    for r in top:
        s = rows.get(f"trial{r.number}")
        acc = s.accuracy if s is not None else None
        store.add_metrics(r.number, standalone_accuracy=acc,
                          standalone_trial=s.number if s is not None else None)
        out.append({"trial": r.number, "hash": r.hash, "estimate": r.accuracy,
                    "standalone_accuracy": acc,
                    "standalone_error": s.result.error if s is not None and s.result else None})
    return out


def best_at_scale(root: str | os.PathLike, options: Mapping[str, Any]) -> dict:
    """The best network of a finished search re-decoded in its space with other options (e.g.
    ``preset=mobile``: the found cells in NASNet-A mobile's network), with its cost next to the
    space's classic fixed points at that scale. Decisions the new options add get their first
    choice (``concat=choice``: nothing concatenated beyond the paper's rule); decisions they
    drop are ignored (noted in ``dropped``). Returns ``{genome, assignment, cost, classics,
    dropped}``."""
    from nas.constraints import cost_metrics
    store = ExperimentStore.open(root)
    try:
        cfg, best = store.config(), store.best()
    finally:
        store.close()
    if best is None:
        raise NasError(f"{root}: no successful trial to export")
    space = make_space(cfg.replace(options={**cfg.options, **dict(options)}))
    names = {d.name for d in space.decisions}
    dropped = sorted(k for k, v in best.assignment.items() if k not in names and v)
    a = {d.name: best.assignment.get(d.name, d.choices[0]) for d in space.decisions}
    genome = space.decode(a)
    classics = {}
    for p in space.projected_fixed_points():
        if p["genome"] is not None:
            classics[p["name"]] = cost_metrics(p["genome"])
    return {"genome": genome, "assignment": a, "cost": cost_metrics(genome),
            "classics": classics, "dropped": dropped}


def _command(kind: str) -> str:
    return {"table": "table build"}.get(kind, kind)


def _precheck(config: SearchConfig, kind: str) -> None:
    """Fail fast on names before loading data or starting Ray."""
    if kind in ("search", "table") or config.n:
        SPACES.get(config.space)
    if kind == "search":
        CONTROLLERS.get(config.controller)
    EVALUATORS.get(split_name(config.evaluator)[0])
    if config.execution.executor:
        EXECUTORS.get(config.execution.executor)


# ============================================================================ sweeps


@dataclass(frozen=True)
class Job:
    label: str
    make: Callable[[], Genome]      # lazy: a net that does not fit the data is a failed trial
    settings: dict


def plan_jobs(config: SearchConfig, data) -> list[Job]:
    """Every (genome, setting) pair of the config, in a fixed order."""
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


def plan_sweep(config: SearchConfig, data) -> Plan:
    jobs = plan_jobs(config, data)
    space = SweepSpace(jobs)
    labels = [{"job": j.label} for j in jobs]
    return Plan(f"sweep · {len(jobs)} jobs", space,
                lambda root, fresh: Listed(space, labels, seed=config.seed), lambda g: g,
                len(jobs),
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


def table_jobs(space: SearchSpace, seeds: list[int], sample: int | None,
               rng_seed: int = 0, networks: int | None = None,
               draw: int | None = None) -> list[dict]:
    """Every distinct network of ``space`` (or the first ``networks``, or ``draw`` distinct
    networks drawn at random) with the first seed, then the further seeds on all of them or on
    ``sample`` networks drawn at random (fixed by ``rng_seed``)."""
    reps = space.sample_distinct(draw, random.Random(rng_seed)) if draw else \
        space.distinct_assignments()[:networks]
    seeds = seeds or [0]
    jobs = [{**a, "seed": seeds[0]} for a in reps]
    if len(seeds) > 1:
        idx = range(len(reps)) if sample is None or sample >= len(reps) else \
            sorted(random.Random(rng_seed).sample(range(len(reps)), sample))
        for s in seeds[1:]:
            jobs += [{**reps[i], "seed": s} for i in idx]
    return jobs


def plan_table(config: SearchConfig, data) -> Plan:
    inner = make_space(config, data)
    space = Replicates(inner, config.seeds or [0])
    jobs = table_jobs(inner, config.seeds or [0], config.seeds_sample, config.seed,
                      config.networks, config.sample)
    return Plan(f"table · {inner.name} · {len(jobs)} trainings", space,
                lambda root, fresh: Listed(space, jobs, seed=config.seed),
                lambda g: fit_to_data(g, data), len(jobs),
                settings_of=lambda a: {"seed": a["seed"]})


def run_table_build(config: SearchConfig | None = None, *, resume=None,
                    overrides: dict | None = None, reporter: Reporter | None = None,
                    command: str | None = None) -> SearchSummary:
    """Train every distinct network of the config's space (``nas table build``); ``command``
    (the command line) is kept with the build for the table's header."""
    if resume is None and config is not None and not config.seeds:
        config = config.replace(seeds=[0])
    return run_experiment("table", plan_table, config, resume=resume, overrides=overrides,
                          reporter=reporter, meta={"command": command} if command else None)


def export_table(root: str | os.PathLike, name: str | None = None,
                 out: str | os.PathLike | None = None, command: str | None = None) -> Path:
    """Write the tabular benchmark of a build directory (finished or not: what is trained so
    far) as ``NAME.jsonl.gz`` (default name SPACE-DATASET, in the build directory)."""
    import platform
    import ray
    import torch
    import torchvision
    from evaluators.table import FORMAT, Table, rows_from_trials
    from nas import __version__
    store = ExperimentStore.open(root)
    try:
        if store.meta("kind", "search") != "table":
            raise NasError(f"{root} is not a table build (see `nas table build`)")
        config = store.config()
        trials = store.rows()
        spans: dict[int, list[float]] = {}
        for t in trials:
            if t.finished_at is not None:
                lo_hi = spans.setdefault(t.run, [t.asked_at, t.finished_at])
                lo_hi[0], lo_hi[1] = min(lo_hi[0], t.asked_at), max(lo_hi[1], t.finished_at)
        epochs = config.budget.epochs
        rows = rows_from_trials(trials, epochs)
        if not rows:
            raise NasError(f"{root}: no finished training yet")
        name = name or f"{config.space}-{config.data.dataset}"
        sample = next(iter(rows.values()))
        g = Genome.from_dict(next(t.genome for t in trials if t.hash == sample["hash"]))
        header = {
            "format": FORMAT, "name": name, "space": config.space,
            "space_options": dict(config.options), "dataset": config.data.dataset,
            "input": list(g.input), "num_classes": g.num_classes,
            "protocol": {"data": dataclasses.asdict(config.data), "split_seed": config.seed,
                         "budget": dataclasses.asdict(config.budget),
                         "recipe": dataclasses.asdict(config.recipe)},
            "seeds": config.seeds or [0], "seeds_sample": config.seeds_sample,
            "sampled": config.sample,       # None: every distinct network (or the first N)
            "epochs": epochs, "networks": len(rows),
            "trainings": sum(len(r["runs"]) for r in rows.values()),
            "command": command or store.meta("command"),
            "versions": {"nas": __version__, "torch": torch.__version__,
                         "torchvision": torchvision.__version__, "ray": ray.__version__,
                         "python": platform.python_version()},
            "wall_seconds": round(sum(b - a for a, b in spans.values()), 1),
            "built": time.strftime("%Y-%m-%d", time.gmtime(max(b for _, b in spans.values())))}
        target = Path(out) if out else store.root / f"{name}.jsonl.gz"
        return Table(header, rows).write(target)
    finally:
        store.close()


# ============================================================================ fixed genomes


def evaluate_genomes(genomes: Mapping[str, Genome], config: SearchConfig,
                     root: str | os.PathLike, *, data=None,
                     before_run: Callable[[], None] = lambda: None,
                     reporter: Reporter | None = None) -> dict[str, TrialRow]:
    """Evaluate the genomes of ``{label: genome}`` with the config's evaluator and executor
    (budget, recipe and seed from ``config``) as a sweep experiment in ``root``, and return
    ``{label: TrialRow}`` of the finished evaluations.

    A directory that already holds this evaluation is continued (:func:`run_experiment` with
    ``resume``): what finished is not evaluated again. It must hold the same labels and genomes
    under the same settings (only :data:`RESUMABLE` such as ``workers`` may change),
    else :class:`NasError`. Labels of the same network (genome hash) share one evaluation and
    one row. The genomes are evaluated as given: ``data`` (default: the config's data set) must
    fit them. ``before_run()`` is called once before anything is evaluated (e.g. to start Ray
    once for many calls); nothing calls it when every result is already stored.
    """
    from nas.config import FLAT
    if not genomes:
        raise NasError("evaluate_genomes: no genomes given")
    hashes = {label: g.hash for label, g in genomes.items()}
    first: dict[str, str] = {}                  # hash -> the first label of that network
    for label, h in hashes.items():
        first.setdefault(h, label)
    jobs = [Job(label, lambda g=genomes[label]: g, {}) for label in first.values()]

    def plan(cfg: SearchConfig, data) -> Plan:
        space = SweepSpace(jobs)
        labels = [{"job": j.label} for j in jobs]
        return Plan(f"evaluate · {len(jobs)} networks", space,
                    lambda root, fresh: Listed(space, labels, seed=cfg.seed), lambda g: g,
                    len(jobs))
    root = Path(root)
    config = config.replace(trials=len(jobs), out=str(root))
    exists = (root / "trials.db").is_file()
    if exists:
        store = ExperimentStore.open(root)
        try:
            if store.meta("kind", "search") != "sweep" or store.meta("genomes") != hashes:
                raise NasError(f"{root} holds another experiment than the evaluation of these "
                               f"{len(hashes)} genomes; give another directory")
        finally:
            store.close()
    summary = run_experiment(
        "sweep", plan, None if exists else config, resume=root if exists else None,
        overrides={k: config.get(k) for k in FLAT if k != "trials"} if exists else None,
        reporter=reporter, meta={"genomes": hashes}, data=data, before_run=before_run)
    store = ExperimentStore.open(summary.root)
    try:
        rows: dict[str, TrialRow] = {}
        for r in store.rows():
            if not r.done:
                continue
            if r.source == "cached":            # give the row the result it was told
                trained = store.trained_result(r.hash, r.settings)
                if trained is not None:
                    r = dataclasses.replace(r, result=trained.result)
            rows[r.assignment["job"]] = r
        return {label: rows[first[h]] for label, h in hashes.items() if first[h] in rows}
    finally:
        store.close()
