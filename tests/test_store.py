"""The experiment store: rows, counts, cache lookups, state kept with each result, durability."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nas.config import SearchConfig
from nas.store import ExperimentStore
from nas.errors import NasError
from nas.result import Result


@pytest.fixture
def store(tmp_path):
    s = ExperimentStore.create(tmp_path / "exp", SearchConfig(trials=5, seed=3))
    yield s
    s.close()


def _ok(acc, params=100, **kw):
    return Result("ok", {"accuracy": acc, "params": params, "flops": 10 * params, **kw})


def test_create_layout_and_reopen(tmp_path, store):
    root = tmp_path / "exp"
    assert (root / "config.yaml").is_file() and (root / "trials.db").is_file()
    mode = sqlite3.connect(root / "trials.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert store.config().seed == 3 and store.config().trials == 5
    with pytest.raises(NasError, match="already holds an experiment; continue it with --resume"):
        ExperimentStore.create(root, SearchConfig())
    with pytest.raises(NasError, match="is not an experiment directory"):
        ExperimentStore.open(tmp_path / "nothing")
    assert store.new_run() == 1 and store.new_run() == 2


def test_trial_lifecycle_counts_and_leaderboard(store):
    a = store.add_trial(1, {"x": 1}, "h1", '{"g":1}', {"n_asked": 1})
    assert store.controller_state() == {"n_asked": 1}              # saved with the ask
    assert store.row(a).status == "running" and store.row(a).result is None
    store.finish_trial(a, _ok(0.5, params=300), {"n_told": 1}, trial_id="t1")
    assert store.controller_state() == {"n_told": 1}               # saved with the result
    b = store.add_trial(1, {"x": 2}, "h2", "{}", None)
    store.finish_trial(b, _ok(0.9, params=200), None)
    c = store.add_trial(1, {"x": 3}, "h3", "{}", None)
    store.finish_trial(c, _ok(0.9, params=100), None)
    d = store.add_trial(1, {"x": 4}, "h4", "{}", None)
    store.finish_trial(d, Result.failed("boom", params=5), None)
    e = store.add_trial(1, {"x": 2}, "h2", "{}", None, source="cached")
    store.finish_trial(e, store.trained_result("h2").result, None)
    f = store.add_trial(1, {"x": 5}, "h5", "{}", None, source="rejected")
    store.finish_trial(f, Result.failed("rejected: flops"), None)
    g = store.add_trial(1, {"x": 6}, "h6", "{}", None)
    assert store.counts() == {"trained": 4, "ok": 3, "failed": 1, "pruned": 0, "cached": 1,
                              "rejected": 1, "running": 1}
    assert [r.number for r in store.leaderboard(10)] == [c, b, a]  # ties: fewer params first
    assert store.best().number == c and store.leaderboard(2)[1].number == b
    assert [r.number for r in store.running()] == [g]
    row = store.row(d)
    assert row.result.error == "boom" and row.accuracy is None and row.finished_at >= row.asked_at
    assert store.row(a).trial_id == "t1" and store.row(a).assignment == {"x": 1}
    assert store.trained_result("h5") is None                      # rejected rows are no cache
    assert store.trained_result("h6") is None                      # nor running ones
    with pytest.raises(KeyError):
        store.finish_trial(999, _ok(0.1), None)


def test_settings_are_part_of_the_cache_key(store):
    n = store.add_trial(1, {"job": "a"}, "h", "{}", None, settings={"lr": 0.1})
    store.finish_trial(n, _ok(0.7), None)
    assert store.trained_result("h", {"lr": 0.1}).number == n
    assert store.trained_result("h", {"lr": 0.2}) is None and store.trained_result("h") is None
    assert store.row(n).settings == {"lr": 0.1}


def test_write_best(store, tmp_path):
    n = store.add_trial(1, {"x": 1}, "abc", json.dumps({"name": "g"}), None)
    store.finish_trial(n, _ok(0.8, history=[1, 2]), None)
    p = store.write_best(store.row(n))
    best = json.loads(p.read_text())
    assert best["trial"] == n and best["hash"] == "abc" and best["genome"] == {"name": "g"}
    assert best["metrics"]["accuracy"] == 0.8 and "history" not in best["metrics"]


def test_results_survive_kill_9_right_after_commit(tmp_path):
    """A writer killed by SIGKILL just after finish_trial loses nothing it committed."""
    root = tmp_path / "k"
    script = textwrap.dedent(f"""
        import os, signal
        from nas.config import SearchConfig
        from nas.store import ExperimentStore
        from nas.result import Result
        s = ExperimentStore.create({str(root)!r}, SearchConfig())
        for i in range(20):
            n = s.add_trial(1, {{"i": i}}, f"h{{i}}", "{{}}", {{"asked": i + 1, "told": i}})
            s.finish_trial(n, Result("ok", {{"accuracy": i / 20}}), {{"asked": i + 1,
                                                                     "told": i + 1}})
        n = s.add_trial(1, {{"i": 20}}, "h20", "{{}}", {{"asked": 21, "told": 20}})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       cwd=os.path.dirname(os.path.dirname(__file__)))
    assert p.returncode == -signal.SIGKILL, p.stderr
    s = ExperimentStore.open(root)
    try:
        assert s.counts()["ok"] == 20 and s.counts()["running"] == 1
        assert s.controller_state() == {"asked": 21, "told": 20}    # matches the rows exactly
        assert s.best().accuracy == pytest.approx(19 / 20)
    finally:
        s.close()


def test_discard_removes_a_fresh_experiment(tmp_path):
    s = ExperimentStore.create(tmp_path / "d", SearchConfig())
    s.discard()
    assert not (tmp_path / "d").exists()


OLD = Path(__file__).resolve().parent / "data" / "old_experiment"


def test_an_experiment_written_before_the_restructure_opens_and_resumes(tmp_path):
    """tests/data/old_experiment was written by the code before the nested config and the
    evaluator interface (flat config.yaml, no stored identity): it reports and resumes."""
    import json
    import shutil
    from tests.conftest import run_cli
    exp = tmp_path / "old"
    shutil.copytree(OLD, exp)
    r = run_cli("report", str(exp), "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["experiments"][0]["counts"]["trained"] == 2
    r = run_cli("search", "--resume", str(exp), "--trials", "3", "--executor", "local", "--json",
                "--quiet")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["counts"]["trained"] == 3 and d["counts"]["ok"] == 3
