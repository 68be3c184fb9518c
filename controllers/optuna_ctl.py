"""Optuna samplers behind ask/tell: a ``Study`` on real storage, one parameter per decision.

Each ask is ``study.ask(fixed_distributions=...)`` with one ``CategoricalDistribution`` per
decision (choices that are not JSON scalars are mapped to their indices), so the trial's params
are the assignment and the study opens in optuna-dashboard like any other
(``optuna-dashboard sqlite:///EXP/optuna.db``). Tell is ``study.tell``: ok → COMPLETE with the
reward (and, multi-objective, the cost), failed → FAIL, pruned → PRUNED; the result's metrics
and error are kept as trial user attributes. A told assignment that was never asked (replayed
from an experiment store) is added as a finished trial. Warm-start assignments are
``study.enqueue_trial``-ed.

Samplers: ``tpe`` (multivariate, group, constant liar for parallel asks), ``random``, ``nsga2``
(two objectives: maximise the reward, minimise ``cost_metric``), ``gp``, ``cmaes``. CMA-ES has no
categorical support: for it each decision becomes an integer index, an ordering the choices do
not have, so expect little better than random on categorical spaces.

Resume: the sampler is rebuilt before every ask, seeded from ``(seed, number of trials in the
study)``, so the next ask is a function of the stored study and the seed alone; the state is the
study name, the storage URL and the outstanding trial numbers. An in-memory study (no
``storage``) cannot be resumed in another process.
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

from controllers.base import CONTROLLERS, Controller, assignment_key
from controllers.options import option
from controllers.rewards import COST_METRICS, metric_value
from nas.errors import NasError
from nas.space import Assignment

SAMPLERS = ("tpe", "random", "nsga2", "gp", "cmaes")
_SCALARS = (str, int, float, bool, type(None))


@dataclasses.dataclass(frozen=True)
class OptunaOptions:
    sampler: str = option("tpe", "Optuna sampler", SAMPLERS)
    storage: str = option("", "SQLite file or RDB URL for the study ('' = in memory)")
    study_name: str = option("", "study name ('' = nas-<space>)")
    n_startup_trials: int = option(10, "random trials before TPE/GP/CMA-ES model the results")
    constant_liar: bool = option(True, "TPE: treat in-flight trials as bad (parallel asks)")
    population: int = option(50, "NSGA-II population size")
    multi_objective: bool = option(False, "maximise reward and minimise cost_metric (nsga2: on)")
    cost_metric: str = option("flops", "second objective when multi-objective",
                              tuple(k for k, v in COST_METRICS.items()))


@CONTROLLERS.register("optuna")
class OptunaController(Controller):
    name = "optuna"
    description = "Optuna study on SQLite storage: tpe, random, nsga2, gp, cmaes samplers"
    Options = OptunaOptions

    def __init__(self, space, **kw):
        import optuna  # (imported here: listing the controllers needs no optuna)
        super().__init__(space, **kw)
        o = self.options
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.multi = o.multi_objective or o.sampler == "nsga2"
        self.storage = _storage_url(o.storage)
        self.study_name = o.study_name or f"nas-{space.name}"
        # decisions whose Optuna param is the choice's index (CMA-ES; non-scalar choices)
        self.by_index = {d.name for d in space.decisions if o.sampler == "cmaes"
                         or not all(isinstance(c, _SCALARS) for c in d.choices)}
        self.distributions = {d.name: _distribution(d.choices, d.name in self.by_index,
                                                    o.sampler == "cmaes")
                              for d in space.decisions}
        self.study = optuna.create_study(
            storage=_open_storage(self.storage), study_name=self.study_name, load_if_exists=True,
            directions=["maximize", "minimize"] if self.multi else ["maximize"])
        if len(self.study.directions) != (2 if self.multi else 1):
            raise NasError(f"study {self.study_name!r} in {self.storage} has "
                           f"{len(self.study.directions)} objective(s); sampler "
                           f"{o.sampler!r} needs {2 if self.multi else 1}")
        if self.study.user_attrs.get("decisions") not in (None, list(self.distributions)):
            raise NasError(f"study {self.study_name!r} in {self.storage} was made for other "
                           f"decisions (another space?); use another study_name or storage")
        self.study.set_user_attr("space", space.name)
        self.study.set_user_attr("decisions", list(self.distributions))
        self.trials: dict[str, list[int]] = {}  # assignment key -> outstanding trial numbers

    # ------------------------------------------------------------------ sampler
    def _sampler(self, seed: int):
        import optuna
        o, s = self.options, optuna.samplers
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if o.sampler == "tpe":
                return s.TPESampler(seed=seed, multivariate=True, group=True,
                                    n_startup_trials=o.n_startup_trials,
                                    constant_liar=o.constant_liar)
            if o.sampler == "random":
                return s.RandomSampler(seed=seed)
            if o.sampler == "nsga2":
                return s.NSGAIISampler(seed=seed, population_size=o.population)
            if o.sampler == "gp":
                return s.GPSampler(seed=seed, n_startup_trials=o.n_startup_trials)
            try:
                import cmaes  # noqa: F401
            except ImportError:
                raise NasError("sampler 'cmaes' needs the 'cmaes' package: "
                               "pip install cmaes") from None
            return s.CmaEsSampler(seed=seed, n_startup_trials=o.n_startup_trials,
                                  warn_independent_sampling=False)

    # ------------------------------------------------------------------ ask / tell
    def propose(self) -> Assignment:
        import optuna
        n = len(self.study.get_trials(deepcopy=False))
        self.study.sampler = self._sampler((self.seed * 1_000_003 + n) % 2**31)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            trial = self.study.ask(fixed_distributions=self.distributions)
        a = self._assignment(trial.params)
        self.trials.setdefault(assignment_key(a), []).append(trial.number)
        return a

    def withdraw(self, assignment) -> None:
        """Close the study trial of a proposal outside the constraint (failed, as Optuna's own
        constraint handling would see it), so no trial stays running."""
        from optuna.trial import TrialState
        numbers = self.trials.get(assignment_key(assignment))
        if numbers:
            number = numbers.pop()
            if not numbers:
                del self.trials[assignment_key(assignment)]
            self.study.tell(number, None, state=TrialState.FAIL)

    def observe(self, assignment, result, reward) -> None:
        import optuna
        from optuna.trial import TrialState
        values, state = None, TrialState.COMPLETE
        if result.status == "failed":
            state = TrialState.FAIL
        elif result.status == "pruned":
            state = TrialState.PRUNED
        else:
            values = [reward]
            if self.multi:
                values.append(metric_value(result, self.options.cost_metric,
                                           self.space.decode(assignment)))
        attrs = {k: v for k, v in result.metrics.items() if isinstance(v, _SCALARS)}
        if result.error:
            attrs["error"] = result.error[:2000]
        numbers = self.trials.get(assignment_key(assignment))
        if numbers:
            number = numbers.pop(0)
            if not numbers:
                del self.trials[assignment_key(assignment)]
            trial = self._live_trial(number)
            for k, v in attrs.items():
                trial.set_user_attr(k, v)
            self.study.tell(number, values, state=state)
        else:  # a result from outside this controller's asks: record it as a finished trial
            self.study.add_trial(optuna.trial.create_trial(
                state=state, values=values, params=self._params(assignment),
                distributions=self.distributions, user_attrs=attrs))

    def warm_start(self, assignments) -> None:
        """Fixed points become enqueued trials, proposed before the sampler's own."""
        for a in assignments:
            self.study.enqueue_trial(self._params(self.space.check(a)), skip_if_exists=True)

    # ------------------------------------------------------------------ mapping
    def _params(self, assignment: Assignment) -> dict:
        return {d.name: d.index(assignment[d.name]) if d.name in self.by_index
                else assignment[d.name] for d in self.space.decisions}

    def _assignment(self, params: dict) -> Assignment:
        return {d.name: d.choices[params[d.name]] if d.name in self.by_index
                else params[d.name] for d in self.space.decisions}

    def _live_trial(self, number: int):
        import optuna
        ft = self.study.get_trials(deepcopy=False)[number]
        return optuna.trial.Trial(self.study, ft._trial_id)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {**super().state_dict(), "storage": self.storage, "study_name": self.study_name,
                "sampler": self.options.sampler, "trials": self.trials}

    def load_state_dict(self, state) -> None:
        import optuna
        super().load_state_dict(state)
        if state["storage"] is None:
            raise NasError("an in-memory Optuna study cannot be resumed; give the controller "
                           "option storage (e.g. EXP/optuna.db)")
        if state["sampler"] != self.options.sampler:
            raise NasError(f"state is for sampler {state['sampler']!r}, "
                           f"not {self.options.sampler!r}")
        if (state["storage"], state["study_name"]) != (self.storage, self.study_name):
            self.storage, self.study_name = state["storage"], state["study_name"]
            self.study = optuna.load_study(study_name=self.study_name,
                                           storage=_open_storage(self.storage))
        self.trials = {k: list(v) for k, v in state["trials"].items()}


def _storage_url(storage: str) -> str | None:
    if not storage:
        return None
    if "://" in storage:
        return storage
    path = Path(storage).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _open_storage(url: str | None):
    """The RDB storage for ``url``; SQLite in WAL mode with ``synchronous=NORMAL`` (each of
    the ~D parameter writes of an ask is its own commit: this halves the time per ask; the
    file stays an ordinary SQLite database that optuna-dashboard opens)."""
    if url is None or not url.startswith("sqlite"):
        return url
    import optuna
    from sqlalchemy import event
    storage = optuna.storages.RDBStorage(url)

    @event.listens_for(storage.engine, "connect")
    def _pragmas(conn, _record):
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    storage.engine.dispose()  # reconnect with the pragmas
    return storage


def _distribution(choices: tuple, by_index: bool, integer: bool):
    from optuna.distributions import CategoricalDistribution, IntDistribution
    if integer:
        return IntDistribution(0, len(choices) - 1)
    return CategoricalDistribution(tuple(range(len(choices))) if by_index else choices)
