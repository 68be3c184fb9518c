"""The controller interface: ask / tell, with state that resumes exactly.

A controller proposes assignments of a :class:`nas.space.SearchSpace`'s decisions and learns
from results. The caller owns the loop::

    ctl = CONTROLLERS.get("evolution")(space, seed=0)
    a = ctl.ask()                 # several asks may be outstanding (parallel workers)
    ctl.tell(a, result)           # every result, failures included, is told
    state = ctl.state_dict()      # JSON-serialisable; load_state_dict(state) resumes exactly

Controllers see only the decision list (and the space's canonical ``key`` of an assignment, for
the ``seen`` set of networks asked or told that the base class keeps); they never build or train
networks. The loop, not the controller, caches results by genome hash.

Subclasses implement two hooks and let the base class do the bookkeeping:
``propose() -> assignment`` (called by ``ask`` when the warm-start queue is empty) and
``observe(assignment, result, reward)`` (called by ``tell``). ``ask`` validates, counts and
records the in-flight assignment (``pending``); ``tell`` validates, removes it from ``pending``
(an assignment that was never asked — e.g. a completed trial replayed from the experiment store
on resume — is accepted too) and computes the reward once. Options are a small dataclass
(``Options``) checked by :func:`controllers.options.make_options`.
"""
from __future__ import annotations

import abc
import json
import math
import random
from typing import Any, Callable, Mapping

from controllers.options import NoOptions, make_options
from nas.errors import NasError
from nas.registry import Registry
from nas.result import Result
from nas.space import Assignment, SearchSpace

RewardFn = Callable[[Result], float]


def accuracy_reward(result: Result) -> float:
    """The default reward: validation accuracy; failed or pruned results get 0."""
    return float(result.get("accuracy", 0.0)) if result.ok else 0.0


def assignment_key(assignment: Mapping[str, Any]) -> str:
    """A canonical string for an assignment (sorted JSON): equal assignments, equal keys."""
    return json.dumps(dict(assignment), sort_keys=True, default=repr)


def rng_state(rng: random.Random) -> list:
    """``random.Random`` state as JSON data (see :func:`set_rng_state`)."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng: random.Random, state: list) -> None:
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))


class Controller(abc.ABC):
    """Base class. Subclasses implement ``propose``/``observe`` (or override ``ask``/``tell``)
    and extend ``state_dict``/``load_state_dict`` with their own state."""

    name: str = "controller"
    description: str = ""
    Options: type = NoOptions
    #: True once the controller has nothing new to propose: the loop stops asking
    exhausted: bool = False

    def __init__(self, space: SearchSpace, *, seed: int = 0, reward: RewardFn = accuracy_reward,
                 **options: Any):
        self.space = space
        self.seed = seed
        self.reward = reward
        self.options = make_options(self.Options, options, self.name)
        self.n_asked = 0
        self.n_told = 0
        self._queue: list[Assignment] = []
        self._pending: dict[str, list[Assignment]] = {}
        self.seen: set[str] = set()   # keys of the networks asked or told (see mark_seen)

    # ------------------------------------------------------------------ the interface
    def ask(self) -> Assignment:
        """Propose the next assignment to evaluate: the warm-start queue first, then ``propose``
        (redrawn inside the constraint, see :meth:`constrain`)."""
        queued = self._pop_queue()
        a = self.space.check(queued) if queued is not None else self._propose_feasible()
        self.n_asked += 1
        self._pending.setdefault(assignment_key(a), []).append(a)
        return dict(a)

    def tell(self, assignment: Mapping[str, Any], result: Result) -> None:
        """Report the result of an assignment (ok, failed or pruned)."""
        if not isinstance(result, Result):
            raise TypeError(f"tell() needs a nas.result.Result, got {type(result).__name__}")
        a = self.space.check(assignment)
        key = assignment_key(a)
        if key in self._pending:
            self._pending[key].pop()
            if not self._pending[key]:
                del self._pending[key]
        self.n_told += 1
        self.observe(a, result, finite(float(self.reward(result))))

    def constrain(self, excess: Callable[[Assignment], float] | None,
                  tries: int = 500, draws: int = 32) -> None:
        """Propose only assignments inside the hard cost constraints; ``excess(a)`` says how
        far ``a`` is outside them (0: inside; :meth:`nas.constraints.Constraints.excess`).
        Each ask redraws the controller's own proposal — a new sample, another mutation,
        another policy draw — up to ``draws`` times; if none is inside (a cap that admits a
        small part of the space: under 1 in 200 of nasnet-cell's networks with
        ``concat=choice`` at NASNet-A's FLOPs), the draw nearest the constraint is *repaired*:
        a random descent over single-decision changes, each kept when it lowers the excess,
        up to ``tries`` cost checks (:meth:`_repair`), preferring a network not seen yet.
        After 3 asks in a row that this did not bring inside, later asks are not redrawn (the
        loop rejects them and stops when the space under the cap looks exhausted). (Not
        state: the wiring sets it again on resume.) None: no constraint."""
        self._excess, self._tries = excess, max(1, int(tries))
        self._draws = max(1, int(draws))
        self._failed = 0

    def _propose_feasible(self) -> Assignment:
        if getattr(self, "_excess", None) is None or self._failed >= 3:
            return self.propose()
        a, ok = self._redraw(lambda: self.propose(), self.withdraw, adopt=self.adopt,
                             new=self.is_new)
        self._failed = 0 if ok else self._failed + 1    # 3 in a row: stop redrawing
        return a

    def _redraw(self, draw: Callable[[], Assignment],
                withdraw: Callable[[Assignment], None] = lambda a: None,
                adopt: Callable[[Assignment], Assignment] = lambda a: a,
                new: Callable[[Assignment], bool] | None = None
                ) -> tuple[Assignment, bool]:
        """``draw()`` redrawn up to ``draws`` times until it is inside the constraint
        (``withdraw`` releases each rejected draw), else the nearest draw repaired (towards a
        network ``new`` accepts, when given) and handed to ``adopt`` (the controller takes
        it as its proposal); the assignment and whether it is inside."""
        excess = getattr(self, "_excess", None)
        a = draw()
        if excess is None:
            return a, True
        best, e = a, excess(a)
        for _ in range(self._draws - 1):
            if e == 0:                   # (e reaches 0 only on the latest draw)
                return a, True
            withdraw(a)
            a = draw()
            ea = excess(a)
            if ea < e:
                best, e = a, ea
        if e == 0:
            return a, True
        withdraw(a)
        best, e = self._repair(best, e, excess, new)
        return adopt(best), e == 0

    def _repair(self, a: Assignment, e: float, excess: Callable[[Assignment], float],
                new: Callable[[Assignment], bool] | None = None) -> tuple[Assignment, float]:
        """A random descent from ``a`` into the constraint: a random decision set to a random
        other choice, kept when it lowers the excess ``e`` — or, once inside, when it stays
        inside and ``new`` accepts it while the current one is not new (an ask should not
        repeat a network already asked); at most ``tries`` cost checks. Seeded by ``a`` (the
        same draw repairs the same way, on resume too)."""
        import hashlib
        rng = random.Random(hashlib.sha1(repr(sorted(a.items())).encode()).digest())
        mutable = [d for d in self.space.decisions if len(d.choices) > 1]
        fresh = new is None or new(a)
        for _ in range(self._tries if mutable else 0):
            if e == 0 and fresh:
                break
            d = mutable[rng.randrange(len(mutable))]
            v = d.choices[rng.randrange(len(d.choices))]
            if v == a[d.name]:
                continue
            b = {**a, d.name: v}
            eb = excess(b)
            if eb < e or (eb == 0 == e and new(b)):
                a, e = b, eb
                fresh = e > 0 or new is None or new(a)
        return a, e

    def adopt(self, assignment: Assignment) -> Assignment:
        """Take ``assignment`` (a repaired proposal: not one :meth:`propose` made) as this
        ask's proposal, after the proposals it replaces were withdrawn; returns it. Default:
        mark its network seen (as :meth:`propose` marks its own). Controllers learn from what
        :meth:`observe` is told (Optuna records a told assignment it did not ask as a
        finished trial)."""
        self.mark_seen(assignment)
        return assignment

    def withdraw(self, assignment: Assignment) -> None:
        """A proposal taken back before it was asked (outside the constraint): release what
        ``propose`` reserved for it. Default: nothing (Optuna closes its study trial)."""

    def propose(self) -> Assignment:
        raise NotImplementedError(f"{type(self).__name__} implements neither ask nor propose")

    def observe(self, assignment: Assignment, result: Result, reward: float) -> None:
        raise NotImplementedError(f"{type(self).__name__} implements neither tell nor observe")

    @property
    def pending(self) -> list[Assignment]:
        """Assignments asked and not yet told (in flight), oldest first."""
        return [dict(a) for v in self._pending.values() for a in v]

    def sample(self, rng: random.Random) -> Assignment:
        """An assignment drawn from the controller's current distribution with the caller's
        ``rng``, without asking: no bookkeeping, no dedup, the controller's state unchanged.
        What weight-sharing training (ENAS) uses to pick the path of each step. Default:
        uniform over each decision (a controller without a distribution)."""
        return self.space.sample(rng)

    def sample_feasible(self, rng: random.Random,
                        draw: Callable[[random.Random], Assignment] | None = None
                        ) -> tuple[Assignment, bool]:
        """A draw (``draw(rng)``, default :meth:`sample`) inside the search's hard constraint
        (:meth:`constrain`: redrawn, else repaired): weight-sharing training then trains the
        paths the search may pick (SPOS samples under its FLOPs cap the same way). Returns
        the assignment and whether it is inside."""
        draw = draw or self.sample
        return self._redraw(lambda: draw(rng))

    def entropy(self) -> float | None:
        """The entropy of the controller's current distribution over assignments (nats), where
        it has one (a report's learning curve). Default: None."""
        return None

    def warm_start_size(self) -> int:
        """How many good starting points the controller can use (a proxy warm-up queues this
        many): the first results it learns from. Default 10."""
        return 10

    def warm_start(self, assignments: list[Assignment]) -> None:
        """Assignments (e.g. encoded classic nets) to propose first. Default: queue them."""
        self._queue = list(getattr(self, "_queue", [])) + [
            self.space.check(a) for a in assignments]

    @property
    def queued(self) -> int:
        """Warm-start assignments still to be asked (they are not screened again)."""
        return len(getattr(self, "_queue", []))

    def _pop_queue(self) -> Assignment | None:
        q = getattr(self, "_queue", None)
        return q.pop(0) if q else None

    # ------------------------------------------------------------------ helpers for subclasses
    def is_new(self, assignment: Mapping[str, Any]) -> bool:
        """Whether the network of ``assignment`` was neither asked nor told yet (by the
        space's canonical key: equal keys, equal genome hashes)."""
        return self.space.key(assignment) not in self.seen

    def mark_seen(self, assignment: Mapping[str, Any]) -> None:
        self.seen.add(self.space.key(assignment))

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {"name": self.name, "seed": self.seed, "n_asked": self.n_asked,
                "n_told": self.n_told, "queue": list(getattr(self, "_queue", [])),
                "pending": self.pending, "seen": sorted(self.seen)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("name", self.name) != self.name:
            raise NasError(f"state is for controller {state['name']!r}, not {self.name!r}")
        self.n_asked = state["n_asked"]
        self.n_told = state["n_told"]
        self._queue = list(state.get("queue", []))
        self.seen = set(state.get("seen", []))
        self._pending = {}
        for a in state.get("pending", []):
            self._pending.setdefault(assignment_key(a), []).append(dict(a))


CONTROLLERS: Registry[type[Controller]] = Registry("controller")


def finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0
