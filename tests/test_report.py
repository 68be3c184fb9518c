"""`nas report` and `nas export DIR` after a real (tiny) search on Ray: the leaderboard equals
the store, the plots are real PNGs, the best genome exports and reloads with its trained
weights."""
import json
import sqlite3

import pytest
import torch

from tests.conftest import run_cli


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp") / "search"
    r = run_cli("search", "--space", "exhaustive", "--trials", "3", "--dataset", "digits",
                "--epochs", "1", "--workers", "2", "--seed", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    return out


@pytest.mark.slow
def test_report_leaderboard_equals_store_and_plots_exist(experiment):
    r = run_cli("report", str(experiment), "--json", "--dot")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    (exp,) = rep["experiments"]
    con = sqlite3.connect(experiment / "trials.db")
    rows = con.execute("SELECT number, accuracy, params, flops, hash FROM trials WHERE "
                       "status='ok' AND source='trained' ORDER BY accuracy DESC, params ASC, "
                       "number ASC").fetchall()
    assert [(b["trial"], b["accuracy"], b["params"], b["flops"], b["hash"])
            for b in exp["leaderboard"]] == [tuple(row) for row in rows]
    assert exp["counts"]["trained"] == 3 and exp["controller"] == "random"
    for name in ("progress.png", "pareto.png", "best.png"):
        w, h = _png_size(experiment / name)
        assert w >= 500 and h >= 300, name
    assert (experiment / "best.dot").read_text().startswith("digraph")
    # per-epoch trial metrics also land where TensorBoard reads them (Ray Tune's TBX logger)
    assert len(list((experiment / "ray").rglob("events.out.tfevents.*"))) == 3
    page = (experiment / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and rows[0][4][:12] in page
    r = run_cli("report", str(experiment))
    assert r.returncode == 0 and "rank" in r.stdout and rows[0][4][:12] in r.stdout


@pytest.mark.slow
def test_export_best_of_experiment(experiment, tmp_path):
    best = json.loads((experiment / "best.json").read_text())
    r = run_cli("export", str(experiment), "--format", "py", "--out", str(tmp_path / "best_net.py"))
    assert r.returncode == 0, r.stderr
    assert best["hash"] in r.stdout
    import importlib.util
    spec = importlib.util.spec_from_file_location("best_net", tmp_path / "best_net.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.load().eval()
    assert net(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    # the Ray trials sent their weights back: the export is the trained best trial, and its
    # accuracy on the validation split is the stored one
    assert f"(trained weights of trial {best['trial']}, val acc" in r.stdout, r.stdout
    from nas.experiment import load_data
    from nas.store import ExperimentStore
    store = ExperimentStore.open(experiment)
    try:
        dd = load_data(store.config()).to("cpu")
    finally:
        store.close()
    with torch.no_grad():
        correct = sum(int((net(x).argmax(1) == y).sum()) for x, y in dd.eval_batches(1024))
    assert abs(correct / len(dd.eval_y) - best["metrics"]["accuracy"]) <= 1e-6


def test_report_bad_dirs(tmp_path):
    r = run_cli("report", str(tmp_path))
    assert r.returncode == 2 and "not an experiment directory" in r.stderr
    r = run_cli("export", str(tmp_path), "--format", "pt", "--out", str(tmp_path / "x.pt"))
    assert r.returncode == 2 and "not an experiment directory" in r.stderr
