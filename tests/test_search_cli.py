"""`nas search` / `nas sweep` as a user types them: bad input, the quick search, kill -9 and
--resume, and a separately started Ray head joined with --address."""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import finished_rows

from nas.store import ExperimentStore

NAS = str(Path(sys.executable).parent / "nas")
FAST = ("--space", "exhaustive", "--epochs", "1", "--quiet")


def nas_main(capsys, *argv):
    """``nas ARGV`` in this process (same parser and error handling as the installed command;
    the heavy imports are paid once for all the error cases)."""
    from nas.cli import main
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args,message", [
    (("--space", "nope"), "unknown space 'nope'"),
    (("--controller", "nope"), "unknown controller 'nope'"),
    (("--trials", "0"), "trials: must be ≥ 1, got 0"),
    (("--workers", "0"), "workers: must be ≥ 1"),
    (("--gpus-per-trial", "1.5"), "gpus_per_trial: must be a fraction ≤ 1 or a whole number"),
    (("--dataset", "cifar10"), "give --data-dir"),
    (("--dataset", "cifar10", "--data-dir", "/nonexistent"), "is not a directory"),
    (("--option", "bogus=1"), "bogus"),
    (("--option", "N"), "--option 'N': expected NAME=VALUE"),
    (("--controller", "evolution", "--controller-option", "population=x"),
     "option 'population': expected an integer"),
    (("--space", "exhaustive", "--init", "resnet18"), "not in space 'exhaustive'"),
    (("--resume", "/nonexistent/exp"), "is not an experiment directory"),
    (("--address", "127.0.0.1:1"), "nothing answers there"),
    (("--address", "nowhere"), "expected HOST:PORT"),
    (("--config", "configs/nope.yaml"), "cannot read config"),
])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, args, message):
    out = () if "--resume" in args else ("--out", tmp_path / "x")
    code, _, err = nas_main(capsys, "search", *args, *out)
    assert code == 2, err
    assert message in err and err.startswith("nas: error: ")
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()                       # no experiment left behind


def test_installed_command_reports_one_line(cli, tmp_path):
    p = cli("search", "--trials", "0", "--out", str(tmp_path / "x"))
    assert p.returncode == 2 and p.stderr == "nas: error: trials: must be ≥ 1, got 0\n"


def test_bad_config_file_names_file_and_key(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("space: exhaustive\ntrails: 3\n")
    code, _, err = nas_main(capsys, "search", "--config", bad)
    assert code == 2 and f"{bad}: unknown key 'trails' (did you mean 'trials'?)" in err
    bad.write_text("epochs: four\n")
    code, _, err = nas_main(capsys, "search", "--config", bad)
    assert code == 2 and "epochs: expected int or null, got 'four'" in err
    bad.write_text("space: [unclosed\n")
    code, _, err = nas_main(capsys, "search", "--config", bad)
    assert code == 2 and "bad YAML at line" in err


def test_resume_refuses_to_change_the_experiment(capsys, tmp_path):
    from nas.config import SearchConfig
    ExperimentStore.create(tmp_path / "e", SearchConfig(space="exhaustive")).close()
    code, _, err = nas_main(capsys, "search", "--resume", tmp_path / "e", "--space",
                            "nasnet-cell")
    assert code == 2 and "cannot change space" in err
    code, _, err = nas_main(capsys, "search", "--resume", tmp_path / "e", "--config",
                            "configs/digits-quick.yaml")
    assert code == 2 and "drop --config" in err
    code, _, err = nas_main(capsys, "sweep", "--resume", tmp_path / "e")
    assert code == 2 and "is a search experiment" in err


def test_sweep_bad_input(capsys, tmp_path):
    for args, message in ((("--nets", "nope"), "unknown net 'nope'"),
                          ((), "nothing to evaluate"),
                          (("--nets", "resnet20", "--grid", "lr"), "--grid 'lr': expected"),
                          (("--nets", "resnet20", "--grid", "space=a,b"), "grid: 'space' cannot vary"),
                          (("--nets", "resnet20,resnet20"), "listed twice")):
        code, _, err = nas_main(capsys, "sweep", *args, "--out", tmp_path / "x")
        assert code == 2 and message in err, (args, err)
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_no_node_has_the_gpus_asked_for(cli, tmp_path):
    p = cli("search", *FAST, "--trials", "1", "--gpus-per-trial", "1", "--out",
            str(tmp_path / "g"))
    assert p.returncode == 2 and "no Ray node can run a trial needing 1 CPU and 1 GPU" in p.stderr


@pytest.mark.slow
def test_quick_nasnet_search(cli, tmp_path):
    out = tmp_path / "quick"
    p = cli("search", "--space", "nasnet-cell", "--trials", "2", "--dataset", "digits",
            "--epochs", "1", "--option", "N=1", "--workers", "2", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "leaderboard — digits 1×8×8" in p.stdout and "trained 2 (ok 2" in p.stdout
    assert f"results: {out}" in p.stdout and "best: trial" in p.stdout
    assert "nasnet-cell · random" in p.stderr and p.stderr.count("trial ") >= 2
    store = ExperimentStore.open(out)
    try:
        assert store.counts()["ok"] == 2 and store.config().options == {"N": "1"}
    finally:
        store.close()


@pytest.mark.slow
def test_kill_9_then_resume_loses_nothing_and_trains_nothing_twice(cli, tmp_path):
    out = tmp_path / "k"
    proc = subprocess.Popen([NAS, "search", *FAST, "--epochs", "2", "--trials", "6",
                             "--workers", "2", "--out", str(out)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while finished_rows(out / "trials.db") < 2:
            assert proc.poll() is None, proc.stderr.read()
            assert time.time() < deadline, "no trial finished in time"
            time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)                       # the driver, nothing else
        proc.wait()
    finally:
        try:                                                    # Ray agents it left behind
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    store = ExperimentStore.open(out)
    before = {r.number: r for r in store.rows() if r.done}
    store.close()
    assert len(before) >= 2
    p = cli("search", "--resume", str(out), "--quiet")
    assert p.returncode == 0, p.stderr
    store = ExperimentStore.open(out)
    try:
        rows = store.rows()
        assert store.counts()["trained"] == 6 and store.counts()["running"] == 0
        for n, r in before.items():                              # completed trials untouched
            after = store.row(n)
            assert (after.status, after.result, after.finished_at) == \
                (r.status, r.result, r.finished_at)
        trained = [r.hash for r in rows if r.source == "trained"]
        assert len(trained) == len(set(trained)) == 6             # no hash trained twice
        assert {r.run for r in rows} <= {1, 2} and any(r.run == 2 or r.number not in before
                                                       for r in rows)
        assert json.loads((out / "best.json").read_text())["hash"] == store.best().hash
    finally:
        store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_search_and_sweep_on_a_separately_started_ray_head(cli, tmp_path):
    port = _free_port()
    ray = str(Path(sys.executable).parent / "ray")
    head = subprocess.Popen([ray, "start", "--head", "--port", str(port), "--node-ip-address",
                             "127.0.0.1", "--num-cpus", "2", "--include-dashboard", "false",
                             "--disable-usage-stats", "--block"], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in head.stdout:                                # wait until it is up
            if "Ray runtime started" in line:
                break
        assert head.poll() is None
        address = f"127.0.0.1:{port}"
        out = tmp_path / "h"
        p = cli("search", *FAST, "--trials", "2", "--address", address, "--out", str(out))
        assert p.returncode == 0, p.stderr
        store = ExperimentStore.open(out)
        try:
            assert store.counts()["ok"] == 2
        finally:
            store.close()
        # the search was a job of that cluster: its session logs hold the driver of job 1
        logs = list(Path("/tmp/ray").glob(f"session_*_{head.pid}/logs"))
        assert logs and list(logs[0].glob("python-core-driver-01000000*"))
        p = cli("sweep", "--space", "exhaustive", "--n", "2", "--grid", "lr=0.1,0.05",
                "--epochs", "1", "--address", address, "--out", str(tmp_path / "w"), "--json")
        assert p.returncode == 0, p.stderr
        sweep = json.loads(p.stdout)
        assert sweep["counts"]["trained"] == 4 and len(sweep["trials"]) == 4
        assert sorted(t["assignment"]["job"] for t in sweep["trials"]) == [
            "exhaustive#0 lr=0.05", "exhaustive#0 lr=0.1", "exhaustive#1 lr=0.05",
            "exhaustive#1 lr=0.1"]
    finally:
        head.send_signal(signal.SIGTERM)                        # `ray start --block` stops its
        try:                                                    # processes on SIGTERM
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        try:
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
