"""SearchLoop bookkeeping without Ray: budget, dedup by hash, waiting duplicates, constraints,
resume from the store, replay, exhaustion, the NAS_FAULT hook."""
import pytest

from controllers.base import Controller
from controllers.rewards import Constraints
from nas.config import SearchConfig
from nas.loop import FINISHED, SearchLoop, parse_faults
from nas.store import ExperimentStore
from nas.errors import NasError
from nas.genome import Genome
from nas.result import Result
from nas.space import Decision, SearchSpace


class TinySpace(SearchSpace):
    """width × kernel; ``alias`` does not change the network (same hash, other assignment)."""

    name = "tiny"

    @property
    def decisions(self):
        return (Decision("width", (4, 8, 64)), Decision("kernel", (1, 3)),
                Decision("alias", ("a", "b")))

    def decode(self, a):
        return Genome.from_dict({
            "name": f"w{a['width']}k{a['kernel']}", "input": [1, 8, 8], "num_classes": 10,
            "stages": [{"name": "body", "block_name": "", "cell": {"nodes": [
                {"name": "conv", "op": "conv", "args": {"out_ch": a["width"],
                                                        "kernel": a["kernel"]}},
                {"name": "relu", "op": "relu"}, {"name": "pool", "op": "gap"},
                {"name": "flatten", "op": "flatten"},
                {"name": "fc", "op": "linear", "args": {"out_ch": "K"}}]}}]})


class Scripted(Controller):
    """Asks a fixed list of assignments (then repeats the last); records what it is told."""

    name = "scripted"

    def __init__(self, space, script, **kw):
        super().__init__(space, **kw)
        self.script = script
        self.told = []

    def propose(self):
        return dict(self.script[min(self.n_asked, len(self.script) - 1)])

    def observe(self, assignment, result, reward):
        self.told.append((dict(assignment), result.status, result.error))


def A(w, k=3, alias="a"):
    return {"width": w, "kernel": k, "alias": alias}


def fake_eval(spec):
    w = spec.assignment["width"]
    return Result("ok", {"accuracy": w / 100, "params": w, "flops": w, "train_seconds": 0.0})


def drain(loop, evaluate=fake_eval):
    """A serial executor: start and complete trials until the loop is finished."""
    while True:
        spec = loop.next_trial()
        if spec == FINISHED:
            return
        loop.complete(spec.number, evaluate(spec))


@pytest.fixture
def make(tmp_path):
    stores = []

    def _make(script, trials=3, root="exp", resume=False, constraints=None):
        cfg = SearchConfig(trials=trials)
        st = ExperimentStore.open(tmp_path / root) if resume else \
            ExperimentStore.create(tmp_path / root, cfg)
        stores.append(st)
        ctl = Scripted(TinySpace(), script)
        return SearchLoop(cfg, st, ctl.space, ctl, constraints=constraints), ctl, st
    yield _make
    for s in stores:
        s.close()


def trained_hashes(store):
    return [r.hash for r in store.rows("source='trained'")]


def test_budget_counts_trained_and_duplicates_are_told_the_cached_result(make):
    loop, ctl, st = make([A(4), A(4, alias="b"), A(8), A(4), A(64)], trials=3)
    drain(loop)
    assert loop.finished and loop.done == 3
    c = st.counts()
    assert (c["trained"], c["cached"], c["running"]) == (3, 2, 0)
    hs = trained_hashes(st)
    assert len(hs) == len(set(hs)) == 3
    assert len(ctl.told) == 5 and ctl.n_told == 5 and not ctl.pending
    cached = st.rows("source='cached'")
    assert [r.result.get("accuracy") for r in cached] == [0.04, 0.04]
    assert st.best().assignment == A(64)


def test_duplicate_of_an_in_flight_trial_waits_for_its_result(make):
    loop, ctl, st = make([A(4), A(4, alias="b"), A(8)], trials=2)
    first = loop.next_trial()
    second = loop.next_trial()                     # A(4,b) waits; A(8) is started instead
    assert second.assignment == A(8) and loop.in_flight == 2
    assert st.counts()["running"] == 3
    loop.complete(second.number, fake_eval(second))
    loop.complete(first.number, fake_eval(first))
    waited = st.rows("source='cached'")[0]
    assert waited.status == "ok" and waited.result.get("accuracy") == 0.04
    assert loop.next_trial() == FINISHED and loop.finished
    assert ctl.n_told == 3


def test_hard_constraints_reject_before_training(make):
    big = TinySpace().decode(A(64))
    from nas.cost import cost
    limit = cost(big).params - 1
    loop, ctl, st = make([A(64), A(4), A(8)], trials=2,
                         constraints=Constraints(max_params=limit))
    evaluated = []
    drain(loop, lambda s: evaluated.append(s.hash) or fake_eval(s))
    assert len(evaluated) == 2 and st.counts()["rejected"] == 1
    rej = st.rows("source='rejected'")[0]
    assert rej.status == "failed" and rej.result.error.startswith("rejected: params")
    assert rej.result.get("params") == cost(big).params          # cost recorded for plots
    assert ctl.told[0][1] == "failed" and ctl.told[0][2].startswith("rejected: params")


def test_resume_reruns_interrupted_trials_and_counts_the_budget(make):
    script = [A(4), A(8), A(64), A(4, 1), A(8, 1)]
    loop, ctl, st = make(script, trials=4)
    a, b = loop.next_trial(), loop.next_trial()
    loop.complete(a.number, fake_eval(a))
    st.close()                                      # the driver dies with b in flight
    loop2, ctl2, st2 = make(script, trials=4, resume=True)
    assert ctl2.n_asked == 2 and ctl2.n_told == 1 and ctl2.pending == [b.assignment]
    assert loop2.done == 1 and loop2.run == 2
    rerun = loop2.next_trial()
    assert rerun.number == b.number and rerun.hash == b.hash      # same row, not re-asked
    loop2.complete(rerun.number, fake_eval(rerun))
    drain(loop2)
    assert st2.counts()["trained"] == 4 and st2.counts()["running"] == 0
    hs = trained_hashes(st2)
    assert len(hs) == len(set(hs)) == 4
    assert [r.run for r in st2.rows()] == [1, 1, 2, 2]
    assert st2.row(a.number).finished_at < st2.row(b.number).finished_at


def test_resume_without_saved_state_replays_the_results(make):
    loop, ctl, st = make([A(4), A(8), A(64)], trials=3)
    s1 = loop.next_trial()
    loop.complete(s1.number, fake_eval(s1))
    st.conn.execute("DELETE FROM meta WHERE key='controller_state'")
    st.conn.commit()
    st.close()
    loop2, ctl2, st2 = make([A(8), A(64)], trials=3, resume=True)
    assert ctl2.told == [(A(4), "ok", None)] and loop2.done == 1
    drain(loop2)
    assert st2.counts()["trained"] == 3


def test_a_controller_that_only_repeats_is_stopped(make):
    loop, ctl, st = make([A(4)], trials=3)
    loop.max_skips = 5
    drain(loop)
    assert loop.exhausted and loop.finished and st.counts()["trained"] == 1
    assert st.counts()["cached"] == 5


def test_an_exhausted_controller_ends_the_search(make):
    loop, ctl, st = make([A(4), A(8)], trials=5)
    type(ctl).exhausted = property(lambda self: self.n_asked >= 2)
    try:
        drain(loop)
    finally:
        del type(ctl).exhausted
    assert loop.exhausted and st.counts()["trained"] == 2


def test_fault_hook(make, monkeypatch):
    assert parse_faults("nan@3, raise@5,oom@1") == {3: "nan", 5: "raise", 1: "oom"}
    assert parse_faults("") == {}
    for bad in ("nan", "boom@1", "nan@x"):
        with pytest.raises(NasError, match="NAS_FAULT"):
            parse_faults(bad)
    monkeypatch.setenv("NAS_FAULT", "nan@2")
    loop, ctl, st = make([A(4), A(8)], trials=2)
    assert [loop.next_trial().fault, loop.next_trial().fault] == [None, "nan"]


def test_warm_start_asks_the_fixed_points_first(make):
    from nas.experiment import warm_start

    class WithFixed(TinySpace):
        def fixed_points(self):
            return {"wide": self.decode(A(64, 1))}

        def encode(self, g):
            return A(64, 1) if g.hash == self.decode(A(64, 1)).hash else None

    loop, ctl, st = make([A(4), A(8)], trials=2)
    ctl.space = loop.space = WithFixed()
    warm_start(SearchConfig(init=["wide"]), loop.space, lambda g: g, ctl)
    drain(loop)
    assert st.rows()[0].assignment == A(64, 1) and st.counts()["trained"] == 2
    with pytest.raises(NasError, match="not a fixed point of .* nor a classic net"):
        warm_start(SearchConfig(init=["narrow"]), loop.space, lambda g: g, ctl)
    with pytest.raises(NasError, match="is not in space"):
        warm_start(SearchConfig(init=["resnet20"]), loop.space, lambda g: g, ctl)


def test_best_json_breaks_ties_as_the_leaderboard_does(make):
    """Equal accuracy: best.json is the leaderboard's first (fewer parameters), not the first
    trial that reached it, so `nas export DIR` ships what the search printed as best."""
    import json
    loop, ctl, st = make([A(64), A(8), A(4)], trials=3)
    drain(loop, lambda spec: Result("ok", {"accuracy": 0.5, "train_seconds": 0.0}))
    best = json.loads((st.root / "best.json").read_text())
    assert st.best().assignment == A(4) and best["trial"] == st.best().number
    assert loop.best.number == st.best().number
