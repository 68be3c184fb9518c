"""Controllers learn, and resume exactly: on a synthetic landscape with interacting decisions
(controllers.landscape), REINFORCE's probability of the optimum rises, evolution and TPE find
better networks than random search on the same budget, and a controller saved after k tells and
loaded in a new process asks exactly what an uninterrupted run asks."""
import json
import subprocess
import sys

import numpy as np
import pytest

from controllers import CONTROLLERS
from controllers.landscape import Landscape
from nas.result import Result
from tests.conftest import ROOT
from tests.test_controllers import Tiny

SEEDS = range(12)
BUDGET = 60


def best_rank(name: str, seed: int, **opts) -> int:
    """How many of the 1024 networks beat the best one found in BUDGET evaluations."""
    space = Tiny()
    land = Landscape(space, seed=seed)
    table = land.table()
    ctl = CONTROLLERS.get(name)(space, seed=seed, **opts)
    best = 0.0
    for _ in range(BUDGET):
        a = ctl.ask()
        r = land.result(a)
        ctl.tell(a, r)
        best = max(best, r.get("accuracy"))
    return int((table > best).sum())


@pytest.fixture(scope="module")
def random_ranks():
    return [best_rank("random", s) for s in SEEDS]


@pytest.mark.parametrize("name,opts", [("evolution", {"population": 10, "sample": 3}),
                                       ("optuna", {"sampler": "tpe"})])
def test_beats_random_search_on_a_small_budget(name, opts, random_ranks):
    ranks = [best_rank(name, s, **opts) for s in SEEDS]
    assert np.mean(ranks) < 0.6 * np.mean(random_ranks), (ranks, random_ranks)
    assert np.median(ranks) <= np.median(random_ranks)


def test_reinforce_probability_of_the_optimum_rises():
    space = Tiny()
    rises = []
    for seed in range(4):   # a separable landscape: one optimal token per decision
        land = Landscape(space, seed=seed, interaction=0.0)
        optimum, _ = land.optimum()
        ctl = CONTROLLERS.get("reinforce")(space, seed=seed)
        before = ctl.log_prob(optimum)
        assert before == pytest.approx(np.log(1 / 1024), abs=0.5)   # ~uniform at first
        for _ in range(120):
            a = ctl.ask()
            ctl.tell(a, land.result(a))
        rises.append(ctl.log_prob(optimum) - before)
    assert min(rises) > 0.3 and np.mean(rises) > 2.0, rises   # e² ≈ 7× likelier on average


def test_reinforce_asks_better_networks_as_it_learns():
    space = Tiny()
    early, late = [], []
    for seed in range(4):   # interacting decisions
        land = Landscape(space, seed=seed)
        ctl = CONTROLLERS.get("reinforce")(space, seed=seed)
        accs = []
        for _ in range(90):
            a = ctl.ask()
            r = land.result(a)
            ctl.tell(a, r)
            accs.append(r.get("accuracy"))
        early.append(np.mean(accs[:30]))
        late.append(np.mean(accs[-30:]))
    assert np.mean(late) > np.mean(early) + 0.02, (early, late)


# ---------------------------------------------------------------------- exact resume
CONFIGS = {"random": {}, "evolution": {"population": 5, "sample": 2},
           "reinforce": {"batch": 3}, "optuna": {"sampler": "tpe", "n_startup_trials": 4}}
K, N = 12, 8


def drive(ctl, land, steps: int, outstanding: list) -> list:
    """``steps`` asks with up to 3 in flight (the oldest told first; every 5th a failure)."""
    asked = []
    for _ in range(steps):
        a = ctl.ask()
        asked.append(a)
        outstanding.append(a)
        if len(outstanding) >= 3:
            b = outstanding.pop(0)
            failed = (ctl.n_told + 1) % 5 == 0
            ctl.tell(b, Result.failed("crashed") if failed else land.result(b))
    return asked


def controller(name: str, storage: str):
    from search_spaces import get_space
    space = get_space("exhaustive")
    opts = dict(CONFIGS[name], **({"storage": storage} if name == "optuna" else {}))
    return CONTROLLERS.get(name)(space, seed=7, **opts), Landscape(
        space, seed=3, classes=space.cell_hashes())


RESUME = """
import json, sys
from tests.test_controllers_learning import controller, drive, N
saved = json.load(open(sys.argv[1]))
out = {}
for name, (state, outstanding, storage) in saved.items():
    ctl, land = controller(name, storage)
    ctl.load_state_dict(state)
    out[name] = drive(ctl, land, N, outstanding)
print(json.dumps(out))
"""


@pytest.mark.slow
def test_state_saved_after_k_tells_resumes_exactly_in_a_new_process(tmp_path):
    expected, saved = {}, {}
    for name in CONFIGS:
        ctl, land = controller(name, str(tmp_path / "whole.db"))
        outstanding: list = []
        drive(ctl, land, K, outstanding)
        expected[name] = drive(ctl, land, N, outstanding)
        ctl, land = controller(name, str(tmp_path / "killed.db"))
        outstanding = []
        drive(ctl, land, K, outstanding)
        assert ctl.n_told == K - 2 and len(ctl.pending) == 2
        saved[name] = [json.loads(json.dumps(ctl.state_dict())), outstanding,
                       str(tmp_path / "killed.db")]
    (tmp_path / "state.json").write_text(json.dumps(saved))
    p = subprocess.run([sys.executable, "-c", RESUME, str(tmp_path / "state.json")],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    resumed = json.loads(p.stdout)
    for name in CONFIGS:
        assert resumed[name] == expected[name], name
    assert len({json.dumps(a, sort_keys=True) for a in expected["random"]}) == N
