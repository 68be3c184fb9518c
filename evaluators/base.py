"""The evaluator and executor interfaces, and their registries (``EVALUATORS``, ``EXECUTORS``).

An **evaluator** turns one trial — a genome already fitted to the data, its hash, seed, budget,
recipe and the cost the driver computed once (:class:`nas.loop.TrialSpec`) — into a
:class:`~nas.result.Result`. Evaluators form a ladder from cheap to faithful (``table`` lookup,
``train``); each declares the executor it is best run by.

An **executor** runs a search loop's trials (:class:`nas.loop.SearchLoop`: ``next_trial`` →
evaluate → ``complete``): ``ray`` as Ray Tune trials (local Ray or a cluster), ``local`` in
this process, for evaluations cheaper than starting a trial.

The modules that implement them register here; the wiring module (:mod:`nas.experiment`)
imports them all, so looking a name up never imports anything behind the caller's back.
"""
from __future__ import annotations

import abc
import dataclasses
from pathlib import Path
from typing import Any, Callable

from nas.options import NoOptions, make_options
from nas.registry import Registry
from nas.result import Result

EpochCallback = Callable[[dict], None]


class Evaluator(abc.ABC):
    """Subclasses set ``name``, ``description``, ``Options`` and ``default_executor`` and
    implement :meth:`evaluate`; :meth:`prepare` is an optional hook run once on the driver."""

    name: str = "evaluator"
    description: str = ""
    Options: type = NoOptions
    default_executor: str = "ray"
    #: the option that ``--evaluator NAME:ARG`` sets (None: the evaluator takes no ``:ARG``)
    argument: str | None = None
    #: the executors that can run it (None: any); a supernet lives in the driver's memory
    executors: tuple | None = None
    #: how many of the best candidates a search retrains stand-alone afterwards when the config
    #: leaves ``retrain`` unset (a cheap estimate's top K, checked against the ground truth)
    default_retrain: int = 0

    def __init__(self, **options: Any):
        self.options = make_options(self.Options, options, f"evaluator {self.name!r}")

    def prepare(self, context: "EvaluationContext") -> None:
        """Called once on the driver before any trial (load a table, check the space…)."""

    def start(self, context: "EvaluationContext") -> None:
        """Called once on the driver when the experiment is open, before its first evaluation,
        with ``root``, ``controller`` and ``trials`` set (a supernet loads its checkpoint from
        the directory and samples its training paths from the controller). Default: nothing."""

    def finish(self, store, data, *, device: str = "cpu") -> int:
        """Called once on the driver when a search has all its trials, before its top K are
        retrained: a cheap estimate may refine the scores of its finalists in ``store`` (a
        supernet scoring each child on one validation batch re-scores the leaders on the
        whole split). Returns how many rows it changed. Default: nothing."""
        return 0

    def default_budget(self):
        """The budget to use when the config leaves it at its default (None: the config's).
        A table answers its full training, not the config's default 4 epochs."""
        return None

    @abc.abstractmethod
    def evaluate(self, trial, data, *, device: str = "cpu", threads: int | None = None,
                 callback: EpochCallback | None = None) -> Result:
        """The result of one trial (:class:`nas.loop.TrialSpec`). ``callback(metrics)`` after
        each epoch where the evaluator has epochs (schedulers, progress)."""


@dataclasses.dataclass(frozen=True)
class EvaluationContext:
    """What an evaluator may know about the experiment it serves (given to ``prepare``)."""

    space: Any                     # the SearchSpace
    dataset: str
    data: Any = None               # evaluators.datasets.Data, when loaded
    root: Any = None               # the experiment directory (given to ``start``)
    controller: Any = None         # the search's controller (``start``; None in a sweep)
    trials: int | None = None      # the trial budget (``start``)
    execution: Any = None          # the config's Execution section (workers, address, …)


class Executor(abc.ABC):
    """Runs a loop's trials to the end (or until interrupted: the store keeps what finished)."""

    name: str = "executor"
    description: str = ""

    @abc.abstractmethod
    def run(self, loop, evaluator: Evaluator, data, execution, root: Path,
            on_ready: Callable[[], None] = lambda: None) -> None:
        """Evaluate ``loop.next_trial()`` until it says ``FINISHED``, giving each result to
        ``loop.complete``. ``execution`` is the config's :class:`nas.config.Execution`."""


EVALUATORS: Registry[type[Evaluator]] = Registry("evaluator")
EXECUTORS: Registry[type[Executor]] = Registry("executor")


def split_name(text: str) -> tuple[str, str | None]:
    """``"table:exhaustive-digits"`` -> ("table", "exhaustive-digits"); ``"train"`` -> (…, None)."""
    name, _, arg = str(text).partition(":")
    return name, (arg or None)


def describe(cls: type[Evaluator]) -> dict:
    from nas.options import describe_options
    return {"name": cls.name, "description": cls.description,
            "default_executor": cls.default_executor, "options": describe_options(cls.Options)}
