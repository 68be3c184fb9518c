"""Searches and sweeps on Ray Tune through the Python API, sharing one local Ray session."""
import json

import pytest

from nas.config import SearchConfig
from nas.experiment import run_search
from nas.store import ExperimentStore
from nas.experiment import run_sweep
from nas.genome import Genome

pytestmark = pytest.mark.ray

QUICK = dict(space="exhaustive", controller="random", epochs=1, workers=2, seed=0)


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    """One local Ray for the module (starting Ray costs seconds); run_search reuses it."""
    from evaluators.ray_tune import connect
    started = connect()
    yield
    if started:
        import ray
        ray.shutdown()


def _rows(root, where=""):
    s = ExperimentStore.open(root)
    try:
        return s.rows(where)
    finally:
        s.close()


def test_search_runs_trials_in_parallel_and_keeps_everything(tmp_path):
    out = tmp_path / "s"
    summary = run_search(SearchConfig().replace(trials=4, out=str(out), **QUICK))
    assert summary.finished and summary.counts["trained"] == 4 and summary.counts["ok"] == 4
    rows = _rows(out)
    assert all(r.status == "ok" and r.trial_id for r in rows)
    assert len({r.hash for r in rows}) == 4
    accs = [r.accuracy for r in summary.leaderboard]
    assert accs == sorted(accs, reverse=True) and summary.best.accuracy == accs[0]
    # two workers: some trials ran at the same time
    spans = sorted((r.asked_at, r.finished_at) for r in rows)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:]))
    best = json.loads((out / "best.json").read_text())
    assert best["trial"] == summary.best.number
    assert Genome.from_dict(best["genome"]).hash == best["hash"] == summary.best.hash
    assert (out / "config.yaml").is_file() and (out / "ray").is_dir()
    for r in rows:                       # the per-epoch history arrived with the result
        assert len(r.result.metrics["history"]) == 1
        assert r.result.metrics["params"] > 0 and r.result.metrics["latency_ms"] > 0


def test_failed_trials_are_recorded_and_the_search_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_FAULT", "raise@1,nan@2,oom@3")
    out = tmp_path / "f"
    summary = run_search(SearchConfig().replace(trials=5, out=str(out), **QUICK))
    assert summary.finished
    assert summary.counts == {"trained": 5, "ok": 2, "failed": 3, "pruned": 0, "cached": 0,
                              "rejected": 0, "running": 0}
    errors = {r.number: r.result.error for r in _rows(out)}
    assert errors[1].startswith("RuntimeError: injected fault")
    assert errors[2].startswith("non-finite loss")
    assert errors[3].startswith("out of memory")
    assert errors[4] is None and errors[5] is None


@pytest.mark.slow
def test_a_crashed_worker_is_retried_then_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_FAULT", "exit@1")
    out = tmp_path / "c"
    summary = run_search(SearchConfig().replace(trials=2, max_failures=1, out=str(out), **QUICK))
    assert summary.finished and summary.counts["failed"] == 1 and summary.counts["ok"] == 1
    crashed = _rows(out, "number=1")[0]
    assert crashed.status == "failed"
    assert crashed.result.error.startswith("trial crashed (2 failures): The actor is dead")
    err = next((out / "ray").glob("run-1/trial-1/error.txt")).read_text()
    assert "Failure # 2" in err                                    # 1 try + 1 retry


@pytest.mark.slow
def test_asha_stops_weak_candidates(tmp_path):
    out = tmp_path / "a"
    summary = run_search(SearchConfig().replace(trials=6, out=str(out), scheduler="asha",
                                      **{**QUICK, "epochs": 3, "workers": 1}))
    assert summary.finished and summary.counts["trained"] == 6
    rows = _rows(out)
    pruned = [r for r in rows if r.status == "pruned"]
    assert pruned and summary.counts["pruned"] == len(pruned)
    for r in pruned:
        assert r.result.error.startswith("stopped early by the scheduler")
        assert r.result.get("epoch") < 3 and r.result.get("params") > 0
        assert [h["epoch"] for h in r.result.metrics["history"]] == list(range(1, r.result.get("epoch") + 1))
    assert all(len(r.result.metrics["history"]) == 3 for r in rows if r.status == "ok")


@pytest.mark.slow
def test_resume_can_extend_the_budget(tmp_path):
    out = tmp_path / "r"
    run_search(SearchConfig().replace(trials=2, out=str(out), **QUICK))
    summary = run_search(resume=out, overrides={"trials": 4})
    assert summary.counts["trained"] == 4
    rows = _rows(out)
    assert [r.run for r in rows] == [1, 1, 2, 2] and len({r.hash for r in rows}) == 4
    assert ExperimentStore.open(out).config().trials == 4


@pytest.mark.slow
def test_sweep_nets_and_space_samples_times_a_grid(tmp_path):
    out = tmp_path / "w"
    cfg = SearchConfig().replace(nets=["resnet20", "lenet5"], space="exhaustive", n=1,
                       grid={"lr": [0.1, 0.02]}, epochs=1, workers=2, out=str(out))
    summary = run_sweep(cfg)
    assert summary.finished
    rows = {r.assignment["job"]: r for r in _rows(out)}
    assert sorted(rows) == ["exhaustive#0 lr=0.02", "exhaustive#0 lr=0.1", "lenet5 lr=0.02",
                            "lenet5 lr=0.1", "resnet20 lr=0.02", "resnet20 lr=0.1"]
    lenet = rows["lenet5 lr=0.1"]                  # 32×32 LeNet cannot take 8×8 digits
    assert lenet.source == "rejected" and lenet.result.error.startswith("rejected: ")
    a, b = rows["resnet20 lr=0.1"], rows["resnet20 lr=0.02"]
    assert a.status == b.status == "ok" and a.hash == b.hash
    assert a.settings == {"lr": 0.1} and b.settings == {"lr": 0.02}
    assert a.result.get("loss") != b.result.get("loss")          # the setting was applied
    assert summary.counts["trained"] == 4 and summary.counts["rejected"] == 2
