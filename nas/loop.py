"""The search loop: ask → check → evaluate → tell → store, nothing lost.

:class:`SearchLoop` owns the bookkeeping and is execution-agnostic: ``next_trial()`` asks the
controller until it has an assignment worth evaluating — decoded, fitted to the data, hashed
and costed once, here on the driver — and returns it as a :class:`TrialSpec`: a genome hash
already evaluated is told its cached result; one that breaks a hard constraint is told it was
rejected; one that is being evaluated right now waits for that result (deduplication happens
here and only here). ``complete(number, result)`` tells the controller and stores the result —
one SQLite transaction per result, with the controller state. An executor
(:mod:`evaluators.base`) drives it; :mod:`nas.experiment` wires a whole experiment together.

Testing hook: ``NAS_FAULT="nan@3,raise@5,oom@6"`` injects a fault into the evaluation of the
trials with those numbers (see :func:`evaluators.train.evaluate`).
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Callable

from nas.config import Budget, Recipe, SearchConfig
from nas.constraints import Constraints, cost_metrics, rejected
from nas.errors import GenomeError, NasError
from nas.genome import Genome
from nas.progress import Reporter
from nas.result import Result
from nas.space import SearchSpace
from nas.store import ExperimentStore

FINISHED = "FINISHED"
EPOCH_KEYS = ("epoch", "accuracy", "loss", "train_loss", "seconds")
#: the evaluation faults the NAS_FAULT hook can inject (see evaluators.train)
FAULTS = ("raise", "nan", "oom", "exit")
BUDGET_KEYS = tuple(f.name for f in dataclasses.fields(Budget))


@dataclass(frozen=True)
class Screen:
    """Move proposal: of every ``m`` new candidates only the best by ``score(genome, cost)``
    (a zero-cost proxy, named ``metric`` in the results) is evaluated."""

    m: int
    score: Callable[[Genome, dict], float]
    metric: str = "proxy"


@dataclass(frozen=True)
class TrialSpec:
    """One evaluation to run: everything an evaluator needs, computed once on the driver. The
    genome is already fitted to the data and validated (its lowered graph travels with it)."""

    number: int
    assignment: dict
    genome: Genome
    hash: str
    seed: int = 0
    budget: Budget = Budget()
    recipe: Recipe = Recipe()
    cost: dict = dataclasses.field(default_factory=dict)    # params, flops, memory_kb
    fault: str | None = None
    settings: dict = dataclasses.field(default_factory=dict)   # per-trial overrides (sweeps)
    keep_weights: bool = False      # return the trained weights (Result.weights) if any


class SearchLoop:
    """Ask/tell bookkeeping over an :class:`ExperimentStore` (see the module docstring)."""

    def __init__(self, config: SearchConfig, store: ExperimentStore, space: SearchSpace,
                 controller, *, fit: Callable[[Genome], Genome] = lambda g: g,
                 reporter: Reporter | None = None, constraints: Constraints | None = None,
                 settings_of: Callable[[dict], dict] = lambda a: {},
                 screen: "Screen | None" = None):
        self.config = config
        self.screen = screen
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
        self._rejected_in_row = 0
        self._history: dict[int, list[dict]] = {}
        self._costs: dict[str, dict] = {}
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
            if self.controller.exhausted:
                self.exhausted = True
                self.reporter.note("stopping: the controller has proposed every network of "
                                   "the space")
                break
            if self._skips >= self.max_skips:
                self.exhausted = True
                r = self._rejected_in_row
                self.reporter.note(
                    f"stopping: the last {self._skips} proposals were not new ({r} rejected by "
                    f"the constraints or invalid, {self._skips - r} already evaluated); the "
                    f"space{' under these constraints' if r else ''} looks exhausted")
                break
            spec = self._ask()
            if spec is not None:
                self._skips = self._rejected_in_row = 0
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
        keep = self.config.keep_weights
        kept = result.weights is not None and result.ok and \
            self.store.wants_weights(result.get("accuracy"), keep)
        if kept:                  # the file first: a kill before the row leaves an orphan
            self.store.save_weights(number, result.weights)
        history = self._history.pop(number, [])
        if history and "history" not in result.metrics:
            result = Result(result.status, {**result.metrics, "history": history}, result.error)
        result = _with_cost(result, spec.cost)
        self.controller.tell(spec.assignment, result)
        self.store.finish_trial(number, result, self.controller.state_dict(), trial_id=trial_id)
        if kept:
            self.store.prune_weights(keep)
        self._done += 1
        row = self.store.row(number)
        if row.accuracy is not None and (self.best is None or row.accuracy >= self.best.accuracy):
            top = self.store.best()          # ties broken as the leaderboard breaks them
            if top is not None and (self.best is None or top.number != self.best.number):
                self.best = top
                self.store.write_best(top)
        self.reporter.finished(number, spec.hash, "trained", result, self.best)
        for n, a in self._waiting.pop(_key(spec.hash, spec.settings), []):
            self._finish_untrained(n, a, spec.hash, result, "cached")

    def note_error(self, number: int, error: str) -> None:
        """A fuller reason for a trial that crashed (recorded after ``complete``)."""
        self.store.set_error(number, error)

    # ------------------------------------------------------------------ internals
    def _ask(self) -> TrialSpec | None:
        """One new candidate to evaluate (or None: the ask was cached, rejected, waiting).
        With a screen, ``screen.m`` new candidates are drawn and only the best by the proxy
        is evaluated; the others are told ``pruned`` with their proxy score. Warm-start
        assignments (already chosen) are not screened."""
        if self.screen is None or self.controller.queued:
            c = self._candidate()
            return None if c is None else self._admit(*c)
        pool = []
        for _ in range(self.screen.m * 4):          # asks that were not new do not count
            if len(pool) >= self.screen.m or self.controller.exhausted:
                break
            c = self._candidate()
            if c is not None:
                pool.append((c, self.screen.score(c[2], c[4])))
        if not pool:
            return None
        pool.sort(key=lambda p: -p[1])
        for k, ((a, settings, genome, h, cost), value) in enumerate(pool[1:], start=2):
            n = self._record(a, h, genome, "rejected", settings)
            r = Result("pruned", {**cost, self.screen.metric: value},
                       f"screened out: {self.screen.metric} rank {k} of {len(pool)}")
            self._finish_untrained(n, a, h, r, "rejected")
        (a, settings, genome, h, cost), value = pool[0]
        return self._admit(a, settings, genome, h, {**cost, self.screen.metric: value})

    def _candidate(self):
        """Ask the controller once; (assignment, settings, genome, hash, cost) when the
        network is new and within the constraints, else None (told right away)."""
        a = self.controller.ask()
        settings = self.settings_of(a)
        try:
            genome = self.fit(self.space.decode_cached(a))
        except GenomeError as e:
            self._rejected_in_row += 1
            n = self._record(a, "-", {}, "rejected", settings)
            self._finish_untrained(n, a, "-", Result.failed(f"rejected: {e}"), "rejected")
            return None
        h = genome.hash
        cost = self._cost(genome, h)
        reason = self.constraints.violated_by(cost) if self.constraints else None
        if reason:
            self._rejected_in_row += 1
            n = self._record(a, h, genome, "rejected", settings)
            self._finish_untrained(n, a, h, _with_cost(rejected(reason), cost), "rejected")
            return None
        cached = self.store.trained_result(h, settings)
        if cached is not None:
            n = self._record(a, h, genome, "cached", settings)
            self._finish_untrained(n, a, h, cached.result, "cached")
            return None
        key = _key(h, settings)
        if key in self._by_hash:          # the same network is being evaluated right now
            n = self._record(a, h, genome, "cached", settings)
            self._waiting.setdefault(key, []).append((n, a))
            return None
        return a, settings, genome, h, cost

    def _admit(self, a: dict, settings: dict, genome: Genome, h: str, cost: dict) -> TrialSpec:
        n = self._record(a, h, genome, "trained", settings)
        return self._spec(n, a, genome, h, settings, cost)

    def _spec(self, n: int, a: dict, genome: Genome, h: str, settings: dict,
              cost: dict | None = None) -> TrialSpec:
        c = self.config
        return TrialSpec(
            n, dict(a), genome, h, seed=settings.get("seed", c.seed),
            budget=dataclasses.replace(c.budget, **{k: v for k, v in settings.items()
                                                    if k in BUDGET_KEYS}),
            recipe=dataclasses.replace(c.recipe, **{k: v for k, v in settings.items()
                                                    if k not in BUDGET_KEYS and k != "seed"}),
            cost=cost if cost is not None else self._cost(genome, h),
            fault=self.faults.get(n), settings=dict(settings), keep_weights=c.keep_weights > 0)

    def _cost(self, genome: Genome, h: str) -> dict:
        """The cost model's totals, once per network."""
        c = self._costs.get(h)
        if c is None:
            if len(self._costs) >= 65536:
                self._costs.clear()
            c = self._costs[h] = cost_metrics(genome)
        return c

    def _record(self, a: dict, h: str, genome: Genome | dict, source: str,
                settings: dict) -> int:
        doc = genome.to_dict() if isinstance(genome, Genome) else genome
        return self.store.add_trial(self.run, a, h, json.dumps(doc, separators=(",", ":")),
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
        self.store.prune_weights(self.config.keep_weights)   # orphans of a kill, a smaller K
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
                self._queue.append(self._spec(r.number, r.assignment,
                                              Genome.from_dict(r.genome), r.hash, r.settings))


def _key(h: str, settings: dict) -> str:
    """The cache identity of an evaluation: genome hash (+ per-trial settings in a sweep)."""
    return h + json.dumps(settings, sort_keys=True) if settings else h


def _with_cost(result: Result, cost: dict) -> Result:
    """The result with the cost model's params/FLOPs/memory where the evaluation did not report
    them (pruned, crashed, rejected), so every row can be plotted against cost."""
    missing = {k: v for k, v in cost.items() if k not in result.metrics}
    return Result(result.status, {**missing, **result.metrics}, result.error) if missing \
        else result


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


