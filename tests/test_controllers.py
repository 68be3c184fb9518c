"""Controllers behind ask/tell: options, in-flight asks, failures told, warm start, dedup and
exhaustion, Optuna's study on storage, rewards and hard constraints, ``nas controllers``."""
import json

import optuna
import pytest

from controllers import CONTROLLERS
from controllers.landscape import Landscape
from controllers.rewards import Constraints, make_reward, rejected, violates
from nas.errors import NasError, UnknownNameError
from nas.genome import Cell, Genome, Node, Stage
from nas.result import Result
from nas.space import Decision, NotInSpaceError, SearchSpace
from search_spaces import get_net

OPS = {"conv3": ("conv", {"out_ch": "C", "kernel": 3}),
       "conv1": ("conv", {"out_ch": "C", "kernel": 1}),
       "max": ("maxpool", {"kernel": 3, "stride": 1, "padding": 1}),
       "avg": ("avgpool", {"kernel": 3, "stride": 1, "padding": 1})}


class Tiny(SearchSpace):
    """A chain of ``n`` ops (4 choices each) on 1×4×4 inputs; ``dead`` extra decisions that
    decode ignores, so their assignments are the same network (same hash)."""

    name = "tiny"

    def __init__(self, n: int = 5, ops=tuple(OPS), dead: int = 0):
        self._d = tuple(Decision(f"op{i}", ops) for i in range(n)) + tuple(
            Decision(f"dead{i}", (0, 1)) for i in range(dead))
        self.n = n

    @property
    def decisions(self):
        return self._d

    def decode(self, a):
        a = self.check(a)
        nodes = tuple(Node(f"n{i}", OPS[a[f"op{i}"]][0], args=OPS[a[f"op{i}"]][1])
                      for i in range(self.n))
        head = Cell((Node("gap", "gap"), Node("flatten", "flatten"),
                     Node("fc", "linear", args={"out_ch": "K"})))
        return Genome("tiny", (Stage("s", Cell(nodes), out_ch=4),
                               Stage("head", head, block_name="")), input=(1, 4, 4),
                      num_classes=2)


ALL = [("random", {}), ("evolution", {"population": 4, "sample": 2}),
       ("reinforce", {"batch": 2}), ("optuna", {"sampler": "tpe", "n_startup_trials": 3})]


def make(name, space, seed=0, **opts):
    return CONTROLLERS.get(name)(space, seed=seed, **opts)


def acc(a) -> Result:
    return Result("ok", {"accuracy": 0.5 + 0.1 * list(OPS).index(a["op0"])})


# ---------------------------------------------------------------------- options
def test_options_are_checked_and_coerced_from_strings():
    ctl = make("evolution", Tiny(), population="8", sample="3", dedup="false")
    assert (ctl.options.population, ctl.options.sample, ctl.options.dedup) == (8, 3, False)
    with pytest.raises(NasError, match=r"controller 'evolution': unknown option\(s\) popsize"):
        make("evolution", Tiny(), popsize=8)
    with pytest.raises(NasError, match="option 'population': expected an integer, got 'eight'"):
        make("evolution", Tiny(), population="eight")
    with pytest.raises(NasError, match="sample ≤ population"):
        make("evolution", Tiny(), population=4, sample=9)
    with pytest.raises(NasError, match="need temperature > 0"):
        make("reinforce", Tiny(), temperature="0")
    with pytest.raises(NasError, match=r"'simplex' is not one of \['tpe'"):
        make("optuna", Tiny(), sampler="simplex")
    with pytest.raises(UnknownNameError, match="did you mean evolution"):
        CONTROLLERS.get("evolutoin")


# ---------------------------------------------------------------------- the interface
@pytest.mark.parametrize("name,opts", ALL)
def test_in_flight_asks_then_out_of_order_tells(name, opts):
    space = Tiny()
    ctl = make(name, space, **opts)
    asked = [ctl.ask() for _ in range(6)]
    assert all(space.check(a) == a for a in asked)
    assert len(ctl.pending) == 6
    if name != "optuna":  # dedup: six different networks in flight
        assert len({space.decode(a).hash for a in asked}) == 6
    for a in reversed(asked):
        ctl.tell(a, acc(a))
    assert ctl.pending == [] and (ctl.n_asked, ctl.n_told) == (6, 6)
    with pytest.raises(NotInSpaceError, match="op0"):
        ctl.tell({**asked[0], "op0": "conv9"}, acc(asked[0]))


@pytest.mark.parametrize("name,opts", ALL)
def test_failures_and_pruned_results_are_told_not_dropped(name, opts):
    space = Tiny()
    ctl = make(name, space, **opts)
    statuses = ["failed", "ok", "pruned", "failed", "ok", "ok"]
    told = []
    for s in statuses:
        a = ctl.ask()
        r = acc(a) if s == "ok" else Result(s, {"accuracy": 0.99}, f"{s} on purpose")
        ctl.tell(a, r)
        told.append((a, r))
    assert ctl.n_told == 6 and ctl.pending == []
    if name == "evolution":   # failures join (and age out of) the population with reward 0;
        # pruned results (not evaluated: screened out, stopped early) do not join it
        kept = [(a, r) for a, r in told if r.status != "pruned"]
        assert list(ctl.population) == [(a, r.get("accuracy") if r.ok else 0.0)
                                        for a, r in kept[-4:]]
    if name == "reinforce":
        assert ctl.n_updates == 3 and ctl.buffer == []
    if name == "optuna":
        states = [t.state.name for t in ctl.study.trials]
        assert states == ["FAIL", "COMPLETE", "PRUNED", "FAIL", "COMPLETE", "COMPLETE"]
        assert ctl.study.trials[0].user_attrs["error"] == "failed on purpose"


def test_evolution_population_ages_and_mutates_one_decision():
    space = Tiny()
    ctl = make("evolution", space, population=4, sample=2)
    told = []
    for _ in range(12):
        a = ctl.ask()
        ctl.tell(a, acc(a))
        told.append(a)
    assert [a for a, _ in ctl.population] == told[-4:]   # the oldest died
    parent_pool = told[:-1]
    for child in told[4:]:   # after the random initial population: one-decision mutants
        assert any(sum(child[k] != p[k] for k in child) == 1 for p in parent_pool)


@pytest.mark.parametrize("name,opts", ALL)
def test_warm_start_assignments_are_asked_first(name, opts):
    space = Tiny()
    ctl = make(name, space, **opts)
    fixed = [space.from_indices([1, 2, 3, 0, 1]), space.from_indices([3, 3, 3, 3, 3])]
    ctl.warm_start(fixed)
    assert [ctl.ask(), ctl.ask()] == fixed
    third = ctl.ask()
    assert third not in fixed or name == "optuna"
    with pytest.raises(NotInSpaceError, match="op4"):
        ctl.warm_start([{k: v for k, v in fixed[0].items() if k != "op4"}])


def test_random_dedups_by_hash_and_survives_exhaustion():
    space = Tiny(n=1, ops=("conv3", "max"), dead=2)   # 8 assignments, 2 networks
    ctl = make("random", space)
    a, b = ctl.ask(), ctl.ask()
    assert space.decode(a).hash != space.decode(b).hash and not ctl.exhausted
    c = ctl.ask()                                      # nothing new is left
    assert ctl.exhausted and space.check(c) == c
    state = json.loads(json.dumps(ctl.state_dict()))
    again = make("random", space)
    again.load_state_dict(state)
    assert again.exhausted and len(again.seen) == 2


def test_seen_trie_blocks_exhausted_prefixes():
    from controllers.trie import SeenTrie
    t = SeenTrie([2, 3])
    assert t.add([0, 1]) and not t.add([0, 1]) and [0, 1] in t and [0, 2] not in t
    t.add([0, 0])
    assert t.blocked([]) == [] and sorted(t.blocked([0])) == [0, 1]
    t.add([0, 2])
    assert t.blocked([]) == [0] and not t.exhausted() and len(t) == 3
    for k in range(3):
        t.add([1, k])
    assert t.exhausted() and sorted(t.items()) == [[i, k] for i in range(2) for k in range(3)]


def test_reinforce_without_replacement_enumerates_a_small_space():
    space = Tiny(n=3, ops=("conv3", "conv1"))          # 8 networks
    ctl = make("reinforce", space, batch=1, lr=0.5)
    seen = set()
    for _ in range(8):                                  # a peaked policy still finds new ones
        a = ctl.ask()
        seen.add(space.decode(a).hash)
        ctl.tell(a, Result("ok", {"accuracy": 0.9 if a["op0"] == "conv3" else 0.1}))
    assert len(seen) == 8


# ---------------------------------------------------------------------- optuna
def test_optuna_study_on_sqlite_opens_like_any_study(tmp_path):
    space = Tiny()
    db = tmp_path / "exp" / "optuna.db"
    ctl = make("optuna", space, storage=str(db), n_startup_trials=2)
    asked = [ctl.ask() for _ in range(3)]
    ctl.tell(asked[1], acc(asked[1]))
    ctl.tell({**asked[0]}, Result("ok", {"accuracy": 0.75, "flops": 1234, "note": [1]}))
    outside = space.from_indices([2, 2, 2, 2, 2])       # never asked: added as a finished trial
    ctl.tell(outside, Result("ok", {"accuracy": 0.8}))
    study = optuna.load_study(study_name="nas-tiny", storage=f"sqlite:///{db}")
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "RUNNING", "COMPLETE"]
    assert [t.params for t in trials] == [*asked, outside]
    assert trials[0].value == 0.75 and trials[0].user_attrs == {"accuracy": 0.75, "flops": 1234}
    assert study.best_trial.params == outside
    assert study.user_attrs["decisions"] == [d.name for d in space.decisions]
    with pytest.raises(NasError, match="made for other decisions"):
        make("optuna", Tiny(n=3), storage=str(db))
    with pytest.raises(NasError, match=r"has 1 objective\(s\); sampler 'nsga2' needs 2"):
        make("optuna", space, storage=str(db), sampler="nsga2")


def test_optuna_nsga2_is_multi_objective_accuracy_vs_flops(tmp_path):
    space = Tiny()
    ctl = make("optuna", space, sampler="nsga2", population=4)
    a, b = ctl.ask(), ctl.ask()
    ctl.tell(a, Result("ok", {"accuracy": 0.9, "flops": 500}))
    ctl.tell(b, Result("ok", {"accuracy": 0.8}))       # flops from the cost model
    t0, t1 = ctl.study.trials
    assert t0.values == [0.9, 500]
    from nas.cost import cost
    assert t1.values == [0.8, cost(space.decode(b)).flops]
    assert [d.name for d in ctl.study.directions] == ["MAXIMIZE", "MINIMIZE"]


@pytest.mark.parametrize("sampler", ["random", "gp", "cmaes"])
def test_other_samplers_ask_valid_assignments(sampler):
    if sampler == "cmaes":
        pytest.importorskip("cmaes")
    space = Tiny()
    ctl = make("optuna", space, sampler=sampler, n_startup_trials=2)
    asked = []
    for _ in range(4):
        a = ctl.ask()
        assert space.check(a) == a
        ctl.tell(a, acc(a))
        asked.append(a)
    params = [t.params for t in ctl.study.trials]
    if sampler == "cmaes":  # CMA-ES has no categorical support: it sees choice indices
        assert params == [{k: list(OPS).index(v) for k, v in a.items()} for a in asked]
    else:
        assert params == asked


def test_optuna_in_memory_state_cannot_resume_elsewhere():
    ctl = make("optuna", Tiny())
    ctl.tell(ctl.ask(), acc(Tiny().from_indices([0] * 5)))
    with pytest.raises(NasError, match="in-memory Optuna study cannot be resumed"):
        make("optuna", Tiny()).load_state_dict(ctl.state_dict())


# ---------------------------------------------------------------------- rewards, constraints
def test_mnas_reward_trades_accuracy_for_cost():
    r = make_reward({"name": "mnas", "target": 1e6, "metric": "flops", "w": -0.07})
    ok = Result("ok", {"accuracy": 0.8, "flops": 2e6})
    assert r(ok) == pytest.approx(0.8 * 2 ** -0.07)
    assert r(Result("ok", {"accuracy": 0.8, "flops": 5e5})) == pytest.approx(0.8 * 0.5 ** -0.07)
    assert r(Result.failed("boom")) == 0.0
    hard = make_reward({"name": "mnas", "target": 1e6, "hard": True})
    assert hard(Result("ok", {"accuracy": 0.8, "flops": 5e5})) == pytest.approx(0.8)
    assert hard(ok) == pytest.approx(0.4)
    assert make_reward("accuracy")(ok) == 0.8
    with pytest.raises(NasError, match="has no 'latency_ms' metric"):
        make_reward({"name": "mnas", "target": 10, "metric": "latency_ms"})(ok)
    with pytest.raises(NasError, match="reward 'mnas': .*target"):
        make_reward({"name": "mnas"})
    with pytest.raises(UnknownNameError, match="unknown reward 'acc'"):
        make_reward("acc")


def test_mnas_reward_steers_the_controller_through_tell():
    space = Tiny()
    ctl = make("evolution", space, reward=make_reward({"name": "mnas", "target": 100,
                                                       "hard": True}))
    a = ctl.ask()
    ctl.tell(a, Result("ok", {"accuracy": 0.9, "flops": 200}))
    assert ctl.population[-1][1] == pytest.approx(0.45)


def test_constraints_reject_before_training_from_the_cost_model():
    g = get_net("alexnet")                                   # 61.1M params, 715M FLOPs
    assert violates(g, None) is None and violates(g, {}) is None
    assert violates(g, {"max_params": 70e6, "max_flops": 1e9}) is None
    assert violates(g, {"max_params": 5e6}) == "params 61.1M > max_params 5M"
    assert violates(g, Constraints(max_flops=5e8)) == "flops 715M > max_flops 500M"
    assert violates(g, {"max_memory_kb": 100}).startswith("memory_kb ")
    with pytest.raises(NasError, match=r"unknown constraint\(s\) \['max_latency'\]"):
        violates(g, {"max_latency": 3})
    with pytest.raises(NasError, match="max_params: expected a positive number"):
        violates(g, {"max_params": "big"})
    r = rejected("params 61.1M > max_params 5M")
    assert r.status == "failed" and r.error.startswith("rejected: params")


# ---------------------------------------------------------------------- CLI
def test_cli_lists_controllers_with_options(cli):
    p = cli("controllers", "--json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    by = {c["name"]: c for c in info["controllers"]}
    assert set(by) == {"random", "evolution", "reinforce", "optuna"}
    opts = {o["name"]: o for o in by["optuna"]["options"]}
    assert opts["sampler"]["choices"] == ["tpe", "random", "nsga2", "gp", "cmaes"]
    assert {o["name"] for o in by["reinforce"]["options"]} >= {
        "lr", "batch", "baseline_decay", "entropy", "temperature", "tanh_c", "dedup"}
    assert {r["name"] for r in info["rewards"]} == {"accuracy", "mnas"}
    text = cli("controllers")
    assert text.returncode == 0 and "tanh_c" in text.stdout and "population" in text.stdout


# ---------------------------------------------------------------------- caps
@pytest.mark.parametrize("name", ["random", "evolution", "reinforce", "optuna"])
def test_asks_are_repaired_into_a_cap_almost_no_draw_meets(name, tmp_path):
    """nasnet-cell with concat=choice under NASNet-A's 1.33M FLOPs: none of 100 uniform draws
    is inside (redrawing alone fails); every controller's asks and training-path draws are
    repaired into the cap, and told results reach the controller (Optuna: the trial holding
    the repaired parameters)."""
    import random as _random
    from nas.config import SearchConfig
    from nas.constraints import cost_metrics
    from nas.experiment import load_data, plan_search
    from evaluators.train import fit_to_data
    cap = 1_330_000
    cfg = SearchConfig(space="nasnet-cell", options={"concat": "choice"}, controller=name,
                       constraints={"max_flops": cap}, seed=1)
    data = load_data(cfg)
    plan = plan_search(cfg, data)

    def flops(a):
        return cost_metrics(fit_to_data(plan.space.decode(a), data))["flops"]
    rng = _random.Random(0)
    assert sum(flops(plan.space.sample(rng)) <= cap for _ in range(100)) == 0
    ctl = plan.make_controller(tmp_path, True)
    asked = [ctl.ask() for _ in range(4)]
    assert all(flops(a) <= cap for a in asked)
    for i, a in enumerate(asked):
        ctl.tell(a, Result("ok", {"accuracy": 0.5 + i / 10}))
    assert ctl.n_told == 4 and not ctl.pending
    if name == "optuna":
        done = [t for t in ctl.study.trials if t.state.name == "COMPLETE"]
        assert sorted(t.value for t in done) == [0.5, 0.6, 0.7, 0.8]
        assert {json.dumps(ctl._assignment(t.params), sort_keys=True) for t in done} == \
            {json.dumps(a, sort_keys=True) for a in asked}
    a, inside = ctl.sample_feasible(_random.Random(3))
    assert inside and flops(a) <= cap
