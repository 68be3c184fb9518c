"""The search loop and the driver API: ask → check → train → tell → store, nothing lost.

:class:`SearchLoop` owns the bookkeeping and is execution-agnostic: ``next_trial()`` asks the
controller until it has an assignment worth training (a genome hash already trained is told
its cached result; one that breaks a hard constraint is told it was rejected; one that is being
trained right now waits for that result), ``complete(number, result)`` tells the controller and
stores the result — one SQLite transaction per result, with the controller state. Ray Tune
drives it through the Searcher in :mod:`evaluators.tune`.

:func:`run_search` is the whole thing: make the space, controller, data and store (or reopen
them with ``resume=DIR``), run the trials on Ray, return a :class:`SearchSummary`::

    from evaluators.config import SearchConfig
    from evaluators.search import run_search
    summary = run_search(SearchConfig(space="nasnet-cell", trials=8, workers=2))
    print(summary.best.accuracy, summary.root)

Testing hook: ``NAS_FAULT="nan@3,raise@5,oom@6"`` injects a fault into the evaluation of the
trials with those numbers (see :func:`evaluators.train.evaluate`).
"""
from __future__ import annotations

import dataclasses
import inspect
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from nas.errors import GenomeError, NasError
from nas.genome import Genome
from nas.result import Result
from nas.space import SearchSpace
from evaluators.config import SearchConfig
from evaluators.progress import Reporter
from evaluators.store import ExperimentStore, TrialRow
from evaluators.train import FAULTS

FINISHED = "FINISHED"
EPOCH_KEYS = ("epoch", "accuracy", "loss", "train_loss", "seconds")
#: settings a resume may change; the rest of the config is the experiment's identity
RESUME_OVERRIDES = ("trials", "workers", "cpus_per_trial", "gpus_per_trial", "address",
                    "max_failures", "device", "top")


@dataclass(frozen=True)
class TrialSpec:
    """One evaluation to run: what the executor needs (plain data for the Tune config)."""

    number: int
    assignment: dict
    genome: Genome
    hash: str
    fault: str | None = None
    settings: dict = dataclasses.field(default_factory=dict)   # budget/recipe overrides


class SearchLoop:
    """Ask/tell bookkeeping over an :class:`ExperimentStore` (see the module docstring)."""

    def __init__(self, config: SearchConfig, store: ExperimentStore, space: SearchSpace,
                 controller, *, fit: Callable[[Genome], Genome] = lambda g: g,
                 reporter: Reporter | None = None, constraints: Any = None,
                 settings_of: Callable[[dict], dict] = lambda a: {}):
        self.config = config
        self.store = store
        self.space = space
        self.controller = controller
        self.fit = fit
        self.reporter = reporter or Reporter()
        self.constraints = constraints
        self.settings_of = settings_of
        self.faults = parse_faults(os.environ.get("NAS_FAULT"))
        self.max_skips = max(200, 20 * config.trials)
        self.exhausted = False
        self.run = store.new_run()
        self._queue: list[TrialSpec] = []
        self._in_flight: dict[int, TrialSpec] = {}
        self._by_hash: dict[str, int] = {}
        self._waiting: dict[str, list[tuple[int, dict]]] = {}
        self._skips = 0
        self._history: dict[int, list[dict]] = {}
        self._restore()

    # ------------------------------------------------------------------ state
    @property
    def done(self) -> int:
        """Completed evaluations (ok, failed or pruned): what counts against the budget."""
        return self._done

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def finished(self) -> bool:
        return not self._in_flight and not self._queue and (
            self.exhausted or self._done >= self.config.trials)

    def _want_more(self) -> bool:
        return not self.exhausted and \
            self._done + len(self._in_flight) + len(self._queue) < self.config.trials

    # ------------------------------------------------------------------ the loop
    def next_trial(self) -> TrialSpec | str:
        """The next evaluation to start, or ``FINISHED`` when no more will be needed."""
        if self._queue:
            return self._start(self._queue.pop(0))
        while self._want_more():
            if getattr(self.controller, "exhausted", False):
                self.exhausted = True
                self.reporter.note("stopping: the controller has proposed every network of "
                                   "the space")
                break
            if self._skips >= self.max_skips:
                self.exhausted = True
                self.reporter.note(f"stopping: the controller proposed {self._skips} already "
                                   f"evaluated or rejected architectures in a row (is the "
                                   f"space exhausted?)")
                break
            spec = self._ask()
            if spec is not None:
                self._skips = 0
                return self._start(spec)
            self._skips += 1
        return FINISHED

    def on_epoch(self, number: int, metrics: dict) -> None:
        """A per-epoch report of a running trial (kept as history if it is stopped early)."""
        row = {k: metrics[k] for k in EPOCH_KEYS if k in metrics}
        self._history.setdefault(number, []).append(row)
        self.reporter.epoch(number, row)

    def complete(self, number: int, result: Result, trial_id: str | None = None) -> None:
        """Tell the controller and store the result of trial ``number`` (then of any duplicate
        asks that were waiting for it)."""
        spec = self._in_flight.pop(number)
        self._by_hash.pop(_key(spec.hash, spec.settings), None)
        history = self._history.pop(number, [])
        if history and "history" not in result.metrics:
            result = Result(result.status, {**result.metrics, "history": history}, result.error)
        result = self._with_cost(spec.genome, result)
        self.controller.tell(spec.assignment, result)
        self.store.finish_trial(number, result, self.controller.state_dict(), trial_id=trial_id)
        self._done += 1
        row = self.store.row(number)
        if row.accuracy is not None and (self.best is None or row.accuracy > self.best.accuracy):
            self.best = row
            self.store.write_best(row)
        self.reporter.finished(number, spec.hash, "trained", result, self.best)
        for n, a in self._waiting.pop(_key(spec.hash, spec.settings), []):
            self._finish_untrained(n, a, spec.hash, result, "cached")

    def note_error(self, number: int, error: str) -> None:
        """A fuller reason for a trial that crashed (recorded after ``complete``)."""
        self.store.set_error(number, error)

    # ------------------------------------------------------------------ internals
    def _ask(self) -> TrialSpec | None:
        a = self.controller.ask()
        settings = self.settings_of(a)
        try:
            decoded = self.space.decode_cached(a)
            genome = self.fit(decoded)
        except GenomeError as e:
            n = self._record(a, "-", {}, "rejected", settings)
            self._finish_untrained(n, a, "-", Result.failed(f"rejected: {e}"), "rejected")
            return None
        memo = getattr(self.controller, "genome_hash", None)   # the controller's memoised hash
        h = memo(a) if memo is not None and genome is decoded else genome.hash
        reason = _violates(genome, self.constraints)
        if reason:
            from controllers.rewards import rejected
            n = self._record(a, h, genome.to_dict(), "rejected", settings)
            self._finish_untrained(n, a, h, self._with_cost(genome, rejected(reason)),
                                   "rejected")
            return None
        cached = self.store.trained_result(h, settings)
        if cached is not None:
            n = self._record(a, h, genome.to_dict(), "cached", settings)
            self._finish_untrained(n, a, h, cached.result, "cached")
            return None
        key = _key(h, settings)
        if key in self._by_hash:          # the same network is being trained right now
            n = self._record(a, h, genome.to_dict(), "cached", settings)
            self._waiting.setdefault(key, []).append((n, a))
            return None
        n = self._record(a, h, genome.to_dict(), "trained", settings)
        return TrialSpec(n, a, genome, h, self.faults.get(n), settings)

    def _record(self, a: dict, h: str, genome: dict, source: str, settings: dict) -> int:
        import json
        return self.store.add_trial(self.run, a, h, json.dumps(genome, separators=(",", ":")),
                                    self.controller.state_dict(), source, settings)

    def _start(self, spec: TrialSpec) -> TrialSpec:
        self._in_flight[spec.number] = spec
        self._by_hash[_key(spec.hash, spec.settings)] = spec.number
        self.reporter.started(spec.number, spec.hash)
        return spec

    def _finish_untrained(self, number: int, a: dict, h: str, result: Result,
                          source: str) -> None:
        self.controller.tell(a, result)
        self.store.finish_trial(number, result, self.controller.state_dict(), source=source)
        self.reporter.finished(number, h, source, result, self.best)

    def _with_cost(self, genome: Genome, result: Result) -> Result:
        """Fill params/FLOPs from the cost model when the evaluation did not report them
        (pruned, crashed, rejected), so every row can be plotted against cost."""
        if "params" in result.metrics and "flops" in result.metrics:
            return result
        from nas.cost import cost
        c = cost(genome)
        return Result(result.status, {"params": c.params, "flops": c.flops, **result.metrics},
                      result.error)

    def _restore(self) -> None:
        """Resume from the store: controller state, budget, and the interrupted trials."""
        state = self.store.controller_state()
        rows = self.store.rows()
        if state is not None:
            self.controller.load_state_dict(state)
        else:                      # no saved state: replay every completed result
            for r in rows:
                if r.done:
                    self.controller.tell(r.assignment, r.result)
        self._done = self.store.counts()["trained"]
        self.best = self.store.best()
        for r in rows:
            if r.done:
                continue
            cached = self.store.trained_result(r.hash, r.settings)
            key = _key(r.hash, r.settings)
            if cached is not None:
                self._finish_untrained(r.number, r.assignment, r.hash, cached.result, "cached")
            elif any(_key(s.hash, s.settings) == key for s in self._queue):
                self.store.set_source(r.number, "cached")
                self._waiting.setdefault(key, []).append((r.number, r.assignment))
            else:
                self.store.set_source(r.number, "trained")
                self._queue.append(TrialSpec(r.number, r.assignment, Genome.from_dict(r.genome),
                                             r.hash, self.faults.get(r.number), r.settings))


def _key(h: str, settings: dict) -> str:
    """The cache identity of an evaluation: genome hash (+ per-trial settings in a sweep)."""
    if not settings:
        return h
    import json
    return h + json.dumps(settings, sort_keys=True)


def _violates(genome: Genome, constraints) -> str | None:
    if not constraints:
        return None
    from controllers.rewards import violates
    return violates(genome, constraints)


def parse_faults(text: str | None) -> dict[int, str]:
    """``"nan@3,raise@5"`` -> {3: "nan", 5: "raise"} (the NAS_FAULT testing hook)."""
    out: dict[int, str] = {}
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        kind, _, num = part.partition("@")
        if kind not in FAULTS or not num.isdigit():
            raise NasError(f"NAS_FAULT: expected KIND@TRIAL with KIND in {FAULTS}, got {part!r}")
        out[int(num)] = kind
    return out


# ============================================================================ building a search


def make_space(config: SearchConfig, data=None) -> SearchSpace:
    """The configured space; the data set's input shape and classes are passed as options
    when the space takes them (else genomes are fitted to the data after decoding)."""
    from search_spaces import SPACES
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
    from controllers import CONTROLLERS
    from controllers.rewards import make_reward
    cls = CONTROLLERS.get(config.controller)
    opts = dict(config.controller_options)
    fields = {f.name for f in dataclasses.fields(cls.Options)} \
        if dataclasses.is_dataclass(getattr(cls, "Options", None)) else set()
    if "storage" in fields and "storage" not in opts:      # optuna: the study lives here
        opts["storage"] = f"sqlite:///{Path(root).resolve() / 'optuna.db'}"
    return cls(space, seed=config.seed, reward=make_reward(config.reward), **opts)


def warm_start(config: SearchConfig, space: SearchSpace, fit, controller) -> None:
    """Queue ``config.init`` (fixed points of the space, or classic nets it can encode)."""
    if not config.init:
        return
    from search_spaces import NETS, get_net
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


def plan_search(config: SearchConfig, data) -> Plan:
    from controllers.rewards import Constraints
    from evaluators.train import fit_to_data
    space = make_space(config, data)
    fit = lambda g: fit_to_data(g, data)  # noqa: E731

    def controller(root: Path, fresh: bool):
        c = make_controller(config, space, root)
        if fresh:
            warm_start(config, space, fit, c)
        return c
    return Plan(f"{config.space} · {config.controller}", space, controller, fit, config.trials,
                constraints=Constraints.from_dict(config.constraints))


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

    def to_dict(self) -> dict:
        return {"root": str(self.root), "counts": self.counts, "finished": self.finished,
                "exhausted": self.exhausted, "seconds": round(self.seconds, 2),
                "data": self.data, "best": self.best.summary() if self.best else None,
                "leaderboard": [r.summary() for r in self.leaderboard]}


def default_out(config: SearchConfig, kind: str = "search") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if kind == "table":
        return Path("runs") / f"table-{config.space}-{config.dataset}-{stamp}"
    what = config.space if kind == "search" else "sweep"
    return Path("runs") / f"{what}-{config.controller if kind == 'search' else 'nets'}-{stamp}"


def run_search(config: SearchConfig | None = None, *, resume: str | os.PathLike | None = None,
               overrides: dict | None = None, reporter: Reporter | None = None) -> SearchSummary:
    """Run (or with ``resume=DIR`` continue) a search to its trial budget on Ray Tune."""
    return run_experiment("search", plan_search, config, resume=resume, overrides=overrides,
                          reporter=reporter)


def run_experiment(kind: str, make_plan: Callable[[SearchConfig, Any], Plan],
                   config: SearchConfig | None = None, *, resume=None,
                   overrides: dict | None = None, reporter: Reporter | None = None
                   ) -> SearchSummary:
    """Open or create the experiment directory, plan it, and run its trials on Ray Tune."""
    from evaluators import tune as tune_exec
    from evaluators.datasets import load_dataset
    t0 = time.time()
    overrides = dict(overrides or {})
    if resume is not None:
        store = ExperimentStore.open(resume)
        stored_kind = store.meta("kind", "search")
        if stored_kind != kind:
            store.close()
            raise NasError(f"{resume} is a {stored_kind} experiment; resume it with "
                           f"`nas {stored_kind} --resume {resume}`")
        config = store.config()
        changed = sorted(k for k, v in overrides.items()
                         if k not in RESUME_OVERRIDES and v != getattr(config, k))
        if changed:
            store.close()
            raise NasError(f"--resume continues the stored experiment: cannot change "
                           f"{', '.join(changed)} (may change: {', '.join(RESUME_OVERRIDES)})")
        config = config.replace(**{k: v for k, v in overrides.items() if k in RESUME_OVERRIDES})
    else:
        config = (config or SearchConfig()).replace(**overrides)
        _precheck(config, kind)
        store = None
    try:
        data = load_dataset(config.dataset, config.data_dir, seed=config.seed,
                            val_fraction=config.val_fraction, input=_input(config),
                            samples=config.samples, augment=config.augment,
                            with_test=kind == "table")
        plan = make_plan(config, data)
        config = config.replace(trials=plan.trials)
        if store is None:
            root = Path(config.out) if config.out else default_out(config, kind)
            store = ExperimentStore.create(root, config)
            store.set_meta(kind=kind)
            try:
                controller = plan.make_controller(root, True)
            except BaseException:
                store.discard()
                raise
            store.save_controller_state(controller.state_dict())
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
                          settings_of=plan.settings_of)
        if not loop.finished:
            try:
                tune_exec.execute(loop, data, config, store.root, on_ready=lambda: reporter.start(
                    plan.title, config.trials, loop.done), tensorboard=kind != "table")
            except NasError:
                if resume is None and not store.rows():   # Ray could not start: leave no trace
                    store.discard()
                raise
            finally:
                reporter.stop()
        return SearchSummary(store.root, store.counts(), store.leaderboard(config.top),
                             store.best(), loop.finished, loop.exhausted, time.time() - t0,
                             data.describe())
    finally:
        store.close()


def _input(config: SearchConfig):
    from nas.commands._common import parse_input
    return parse_input(config.input) if config.input else None


def _precheck(config: SearchConfig, kind: str) -> None:
    """Fail fast on names before loading data or starting Ray."""
    from controllers import CONTROLLERS
    from search_spaces import SPACES
    if kind in ("search", "table") or config.n:
        SPACES.get(config.space)
    if kind == "search":
        CONTROLLERS.get(config.controller)
