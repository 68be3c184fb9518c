"""Tabular benchmarks: the build (a few networks, 1 epoch), resume of a killed build, the table
file, `nas table show`, and lookups through `nas search --evaluator table`."""
import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evaluators.table import Table, TableEvaluator, load_table
from nas.config import Budget
from nas.errors import NasError
from nas.loop import TrialSpec
from search_spaces import get_space
from tests.conftest import run_cli

SHIPPED = Path(__file__).resolve().parent.parent / "evaluators" / "tables"


def _rows(db: Path) -> list[tuple]:
    c = sqlite3.connect(db)
    try:
        return c.execute("SELECT hash, settings, status, source FROM trials").fetchall()
    finally:
        c.close()


@pytest.mark.slow
def test_build_a_few_networks_and_show_them(tmp_path):
    out = tmp_path / "build"
    r = run_cli("table", "build", "--networks", "3", "--seeds", "0,1", "--seeds-sample", "2",
                "--epochs", "1", "--executor", "local", "--out", str(out), "--json",
                timeout=600)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["counts"]["trained"] == 5 and d["counts"]["ok"] == 5      # 3 networks + 2 repeats
    table = Table.load(d["table"])
    assert table.header["networks"] == 3 and table.header["trainings"] == 5
    assert table.header["command"].startswith("nas table build --networks 3")
    assert table.header["protocol"]["data"]["val_fraction"] == 0.75     # the digits protocol
    space = get_space("exhaustive")
    for h, row in table.rows.items():
        assert space.decode(row["assignment"]).hash == h               # keyed by genome hash
        for run in row["runs"].values():
            assert len(run["val"]) == 1 and 0 <= run["test"][0] <= 1
            # an accuracy on the 1,078 validation / 360 test images is k / n
            assert abs(run["val"][0][0] * 1078 - round(run["val"][0][0] * 1078)) < 1e-3
            assert abs(run["test"][0] * 360 - round(run["test"][0] * 360)) < 1e-3
    assert sum(len(r["runs"]) == 2 for r in table.rows.values()) == 2
    s = json.loads(run_cli("table", "show", d["table"], "--json", "--all").stdout)
    assert s["networks"] == 3 and s["noise"]["val"]["networks"] == 2
    assert len(s["rows"]) == 3 and all(len(r["history"]) == 1 for r in s["rows"])
    best = max(s["rows"], key=lambda r: r["accuracy"])
    assert s["best"]["hash"] == best["hash"]
    plots = tmp_path / "plots"
    plots.mkdir()
    r = run_cli("table", "show", d["table"], "--plots", str(plots))
    assert r.returncode == 0 and "noise floor" in r.stdout
    assert all((plots / f"exhaustive-digits-{k}.png").stat().st_size > 1000
               for k in ("hist", "flops", "early"))


@pytest.mark.slow
def test_a_killed_build_resumes_without_training_anything_twice(tmp_path):
    out = tmp_path / "build"
    cmd = [sys.executable, "-m", "nas", "table", "build", "--networks", "8", "--seeds", "0",
           "--epochs", "2",
           "--executor", "local", "--out", str(out), "--quiet"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        time.sleep(0.5)
        if (out / "trials.db").is_file() and \
                sum(r[2] == "ok" for r in _rows(out / "trials.db")) >= 3:
            break
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    done_before = sum(r[2] == "ok" for r in _rows(out / "trials.db"))
    assert 3 <= done_before < 8
    r = run_cli("table", "build", "--resume", str(out), "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    rows = _rows(out / "trials.db")
    trained = [(h, s) for h, s, status, source in rows if source == "trained"]
    assert len(trained) == len(set(trained)) == 8                 # each network once
    assert all(status == "ok" for _, _, status, _ in rows)
    assert Table.load(json.loads(r.stdout)["table"]).header["networks"] == 8


def _tiny_table(tmp_path, n=4, seeds=(0, 1)) -> Path:
    """A hand-written table of the first n networks of exhaustive (3 epochs)."""
    space = get_space("exhaustive")
    rows = {}
    for k, a in enumerate(space.distinct_assignments()[:n]):
        h = space.decode(a).hash
        rows[h] = {"hash": h, "assignment": a, "params": 100 + k, "flops": 1000 + k,
                   "memory_kb": 1.0, "runs": {str(s): {
                       "val": [[0.1 * e + 0.01 * k + 0.001 * s, 2.0 - e] for e in (1, 2, 3)],
                       "test": [0.5 + 0.01 * k, 1.0], "latency_ms": 0.1,
                       "seconds": [1.0, 2.0, 3.0]} for s in seeds}}
    header = {"format": "nas-table/1", "name": "tiny", "space": "exhaustive",
              "space_options": {}, "dataset": "digits", "input": [1, 8, 8], "num_classes": 10,
              "protocol": {}, "seeds": list(seeds), "epochs": 3, "networks": n,
              "trainings": n * len(seeds)}
    return Table(header, rows).write(tmp_path / "tiny.jsonl.gz")


def test_lookup_respects_the_epoch_budget_and_the_seed(tmp_path):
    path = _tiny_table(tmp_path)
    ev = TableEvaluator(name=str(path), seed="1")
    from evaluators.base import EvaluationContext
    ev.prepare(EvaluationContext(get_space("exhaustive"), "digits"))
    assert ev.default_budget() == Budget(epochs=3)
    h, row = next(iter(ev.table.rows.items()))
    k = row["params"] - 100
    spec = TrialSpec(1, row["assignment"], None, h, seed=0, budget=Budget(epochs=2))
    seen = []
    r = ev.evaluate(spec, None, callback=seen.append)
    assert r.ok and r.metrics["accuracy"] == pytest.approx(0.2 + 0.01 * k + 0.001)
    assert [e["epoch"] for e in seen] == [1, 2] and "test_accuracy" not in r.metrics
    full = ev.evaluate(TrialSpec(1, row["assignment"], None, h, budget=Budget(epochs=3)), None)
    assert full.metrics["test_accuracy"] == pytest.approx(0.5 + 0.01 * k)
    assert full.metrics["table_seed"] == 1
    with pytest.raises(NasError, match="records epochs 1..3; the budget asks for 5"):
        ev.evaluate(TrialSpec(1, row["assignment"], None, h, budget=Budget(epochs=5)), None)
    with pytest.raises(NasError, match="has no entry for the assignment"):
        ev.evaluate(TrialSpec(1, row["assignment"], None, "0" * 32, budget=Budget(3)), None)
    # a random seed per lookup: reproducible, and both seeds come up
    rnd = TableEvaluator(name=str(path))
    rnd.prepare(EvaluationContext(get_space("exhaustive"), "digits"))
    got = {rnd.evaluate(TrialSpec(n, row["assignment"], None, h, budget=Budget(3)),
                        None).metrics["table_seed"] for n in range(20)}
    again = {rnd.evaluate(TrialSpec(n, row["assignment"], None, h, budget=Budget(3)),
                          None).metrics["table_seed"] for n in range(20)}
    assert got == again == {0, 1}


def test_a_sampled_table_draws_distinct_networks_at_random(tmp_path):
    """--sample N: N distinct networks drawn at random (for spaces too large to enumerate),
    reproducible from the protocol's seed, recorded in the header."""
    import random
    out = tmp_path / "sampled"
    r = run_cli("table", "build", "--sample", "3", "--seeds", "0", "--epochs", "1",
                "--executor", "local", "--out", str(out), "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    table = Table.load(json.loads(r.stdout)["table"])
    assert table.header["sampled"] == 3 and table.header["networks"] == 3
    space = get_space("exhaustive")
    drawn = space.sample_distinct(3, random.Random(0))
    assert {space.decode(a).hash for a in drawn} == set(table.rows)
    first = {space.decode(a).hash for a in space.distinct_assignments()[:3]}
    assert first != set(table.rows)                   # not the first three of the enumeration
    r = run_cli("table", "build", "--sample", "3", "--networks", "3", "--out",
                str(tmp_path / "both"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "networks (the first N) or sample" in r.stderr


def test_table_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad, "wt") as f:
        f.write('{"format": "other"}\n')
    with pytest.raises(NasError, match="not a nas-table/1 table"):
        Table.load(bad)
    (tmp_path / "plain.jsonl.gz").write_text("not gzip")
    with pytest.raises(NasError, match="cannot read table"):
        Table.load(tmp_path / "plain.jsonl.gz")
    r = run_cli("table", "show", "no-such-table")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown table" in r.stderr
    with pytest.raises(NasError, match="seed"):
        TableEvaluator(seed="often")
    r = run_cli("search", "--space", "blocks", "--evaluator", f"table:{_tiny_table(tmp_path)}",
                "--trials", "2", "--out", str(tmp_path / "x"), "--quiet")
    assert r.returncode == 2 and "is of space 'exhaustive'" in r.stderr
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- the shipped table


def test_the_shipped_table_is_complete_and_documented():
    t = load_table("exhaustive-digits")
    h = t.header
    assert h["space"] == "exhaustive" and h["dataset"] == "digits" and h["epochs"] == 8
    assert len(t.rows) == 6269 == get_space("exhaustive").distinct()
    assert sum(len(r["runs"]) >= 3 for r in t.rows.values()) >= 1000      # the noise floor
    assert h["command"].startswith("nas table build") and h["versions"]["torch"]
    assert h["protocol"]["data"]["val_fraction"] == 0.75 and h["wall_seconds"] > 0
    assert (SHIPPED / "exhaustive-digits.jsonl.gz").stat().st_size <= 5 * 2 ** 20
    s = t.summary()
    assert 0 < s["noise"]["val"]["mean_std"] < 0.05
    assert s["best"]["accuracy"] > s["median_accuracy"] > 0.1


def test_a_300_trial_search_on_the_table_through_the_cli(tmp_path):
    r = run_cli("search", "--space", "exhaustive", "--evaluator", "table", "--controller",
                "evolution", "--trials", "300", "--out", str(tmp_path / "t"), "--json",
                "--quiet", timeout=600)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["counts"]["trained"] == 300 and d["counts"]["ok"] == 300
    t = load_table("exhaustive-digits")
    from nas.store import ExperimentStore
    s = ExperimentStore.open(tmp_path / "t")
    try:
        for row in s.rows():
            m = row.result.metrics
            rec = t.rows[row.hash]["runs"][str(m["table_seed"])]
            assert m["accuracy"] == rec["val"][-1][0] and m["test_accuracy"] == rec["test"][0]
            assert len(m["history"]) == 8
    finally:
        s.close()
    r = run_cli("search", "--space", "exhaustive", "--evaluator", "table", "--epochs", "2",
                "--evaluator-option", "seed=0", "--trials", "5", "--out", str(tmp_path / "e2"),
                "--json", "--quiet")
    s = ExperimentStore.open(tmp_path / "e2")
    try:
        for row in s.rows():
            assert row.accuracy == t.rows[row.hash]["runs"]["0"]["val"][1][0]
    finally:
        s.close()


def test_proxy_warmup_and_screen_on_the_table(tmp_path):
    r = run_cli("search", "--space", "exhaustive", "--evaluator", "table", "--controller",
                "evolution", "--controller-option", "population=5", "--controller-option",
                "sample=2", "--proxy", "params", "--proxy-warmup", "20", "--proxy-screen", "3",
                "--trials", "10", "--out", str(tmp_path / "p"), "--json", "--quiet")
    assert r.returncode == 0, r.stderr
    from nas.store import ExperimentStore
    s = ExperimentStore.open(tmp_path / "p")
    try:
        warm = s.meta("proxy_warmup")
        assert len(warm) == 20 and warm == sorted(warm, key=lambda w: -w["score"])
        rows = s.rows()
        trained = [x for x in rows if x.source == "trained"]
        screened = [x for x in rows if x.source == "rejected" and x.status == "pruned"]
        assert len(trained) == 10 and len(screened) >= 10
        # the first trained networks are the warm-up's best (evolution's initial population)
        assert [x.hash for x in trained[:5]] == [w["hash"] for w in warm[:5]]
        # every candidate carries its proxy score; a screened one lost to the trained one
        assert all(x.result.metrics["proxy_params"] == x.result.metrics["params"]
                   for x in trained[5:] + screened)
    finally:
        s.close()


@pytest.mark.slow
@pytest.mark.ray
def test_asha_on_the_table_stops_trials_early(tmp_path):
    r = run_cli("search", "--space", "exhaustive", "--evaluator", "table", "--executor", "ray",
                "--scheduler", "asha", "--workers", "2", "--trials", "24", "--out",
                str(tmp_path / "a"), "--json", "--quiet", timeout=600)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["counts"]["trained"] == 24 and d["counts"]["pruned"] >= 1
