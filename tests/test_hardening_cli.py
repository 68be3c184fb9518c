"""Hardening of `nas search` / `nas report` / `nas sweep` as a user types them, with real
processes where the case is about processes:

1. two drivers on one experiment (the driver lock; kill -9 leaves no stale lock);
2. a resume never silently restarts or mixes (empty db, edited config.yaml, damaged rows);
3. ``--address`` to something that listens but is not a Ray head;
4. exit codes (nothing succeeded: 1; bad ``--top`` / grid value: 2);
5. SIGTERM stops a search like Ctrl-C (exit 130, resume hint, resume finishes the budget).

Every user error is one ``nas: error: …`` line on stderr (argparse's own usage errors: one
``nas report: error: …`` line after the usage), never a traceback.
"""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import finished_rows, ROOT, run_cli

NAS = str(Path(sys.executable).parent / "nas")
DIGITS = ("--space", "exhaustive", "--dataset", "digits")


# ============================================================================ helpers


def assert_one_error_line(p, *words: str, code: int = 2, only: bool = True) -> str:
    """``p`` exited with ``code`` and said why in exactly one ``nas: error:`` line (and, with
    ``only``, nothing else on stderr); no traceback. Returns that line."""
    assert p.returncode == code, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    assert "Traceback" not in p.stderr, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("nas: error: ")]
    assert len(errors) == 1, p.stderr
    if only:
        assert lines == errors, p.stderr
    for w in words:
        assert w in errors[0], (w, errors[0])
    return errors[0]


def query(db: Path, sql: str, args=()) -> list:
    c = sqlite3.connect(str(db), timeout=30)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def execute(db: Path, sql: str) -> None:
    c = sqlite3.connect(str(db), timeout=30)
    try:
        with c:
            c.execute(sql)
    finally:
        c.close()


def start(args, log: Path, env: dict | None = None,
          ignore_sigint: bool = False) -> subprocess.Popen:
    """``nas ARGS`` in the background (own session: its leftovers can be killed as a group);
    stdout and stderr go to files (no pipe to fill up). ``ignore_sigint``: started as a
    non-interactive shell starts a background job (``nas search … &``: SIGINT ignored)."""
    out = open(log.with_suffix(".out"), "w")
    err = open(log.with_suffix(".err"), "w")
    pre = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    try:
        return subprocess.Popen([NAS, *map(str, args)], cwd=ROOT, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, text=True, start_new_session=True,
                                env={**os.environ, **(env or {})}, preexec_fn=pre)
    finally:
        out.close()
        err.close()


def logs(log: Path) -> tuple[str, str]:
    return log.with_suffix(".out").read_text(), log.with_suffix(".err").read_text()


def wait_for_rows(proc: subprocess.Popen, db: Path, n: int, log: Path, timeout: float = 300):
    deadline = time.time() + timeout
    while finished_rows(db) < n:
        assert proc.poll() is None, ("driver ended before a trial finished", proc.returncode,
                                     *logs(log))
        assert time.time() < deadline, ("no trial finished in time", *logs(log))
        time.sleep(0.3)


def kill_group(proc: subprocess.Popen) -> None:
    """Whatever the background ``nas`` left behind (its session only)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def done_rows(db: Path) -> dict[int, tuple]:
    return {r[0]: r[1:] for r in query(
        db, "SELECT number, hash, source, status, accuracy, metrics, finished_at FROM trials "
            "WHERE status!='running'")}


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory) -> Path:
    """A finished tiny search (2 trials, local executor), copied by the tests that damage it."""
    out = tmp_path_factory.mktemp("done") / "exp"
    p = run_cli("search", *DIGITS, "--epochs", "1", "--trials", "2", "--executor", "local",
                "--out", str(out), "--quiet")
    assert p.returncode == 0, p.stderr
    return out


def copy_of(src: Path, tmp_path: Path, name: str = "exp") -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


# ============================================================================ 1. two drivers


@pytest.mark.slow
def test_second_driver_refused_with_holder_pid_and_kill_9_leaves_no_stale_lock(tmp_path):
    out = tmp_path / "R"
    log = tmp_path / "first"
    # a budget the first driver cannot reach while the checks run (≈ 0.7 s a trial); the
    # resume after its kill -9 asks for 30 (or a few more than were done by then)
    first = start(["search", *DIGITS, "--epochs", "1", "--trials", "300", "--executor",
                   "local", "--out", out, "--quiet"], log)
    try:
        wait_for_rows(first, out / "trials.db", 1, log)

        # a second driver is refused at once, naming the holder
        p = run_cli("search", "--resume", str(out), "--trials", "30", timeout=120)
        line = assert_one_error_line(p, "in use by another nas process (pid")
        pid = int(re.search(r"\(pid (\d+)\)", line).group(1))
        assert pid == first.pid or parent_of(pid) == first.pid, (pid, first.pid, line)

        # a reader works meanwhile
        r = run_cli("report", str(out), "--json", timeout=120)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
        rep = json.loads(r.stdout)
        assert rep["experiments"][0]["counts"]["trained"] >= 1

        # the refused driver changed nothing: the first is still the one running it
        assert first.poll() is None, ("the first driver ended before the checks were done; "
                                      "the refusal was not tested against a live holder",
                                      *logs(log))
        before = done_rows(out / "trials.db")
        os.kill(first.pid, signal.SIGKILL)                     # the driver, nothing else
        first.wait(timeout=60)
    finally:
        kill_group(first)

    # kill -9 leaves no stale lock: the next driver takes over and finishes the budget
    trials = max(30, sum(1 for r in before.values() if r[1] == "trained") + 3)
    p = run_cli("search", "--resume", str(out), "--trials", str(trials), "--executor", "local",
                "--quiet", timeout=900)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    assert "Traceback" not in p.stderr and "nas: error" not in p.stderr, p.stderr
    db = out / "trials.db"
    ok_hashes = [h for (h,) in query(db, "SELECT hash FROM trials WHERE source='trained' "
                                         "AND status='ok'")]
    assert len(ok_hashes) == len(set(ok_hashes)), "a hash was trained twice"
    trained = [h for (h,) in query(db, "SELECT hash FROM trials WHERE source='trained' "
                                       "AND status!='running'")]
    assert len(trained) == len(set(trained)) == trials
    assert query(db, "SELECT COUNT(*) FROM trials WHERE status='running'") == [(0,)]
    after = done_rows(db)
    for n, row in before.items():                              # nothing finished was lost
        assert after[n] == row, (n, row, after.get(n))


# ============================================================================ 2. resume


def test_resume_of_an_empty_database_is_refused(tmp_path, finished_search):
    d = tmp_path / "empty"
    d.mkdir()
    shutil.copy(finished_search / "config.yaml", d / "config.yaml")
    (d / "trials.db").write_bytes(b"")
    p = run_cli("search", "--resume", str(d), timeout=120)
    assert_one_error_line(p, "is empty")
    assert (d / "trials.db").stat().st_size == 0              # not silently recreated
    assert sorted(x.name for x in d.iterdir()) == ["config.yaml", "trials.db"]


def test_resume_of_an_edited_config_is_refused(tmp_path, finished_search):
    d = copy_of(finished_search, tmp_path)
    cfg = yaml.safe_load((d / "config.yaml").read_text())
    assert cfg["space"] == "exhaustive"
    cfg["space"] = "blocks"
    (d / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    before = done_rows(d / "trials.db")
    p = run_cli("search", "--resume", str(d), timeout=120)
    err = assert_one_error_line(p, "was edited", "space")
    r = run_cli("report", str(d), timeout=120)
    assert_one_error_line(r, "was edited")
    assert r.stderr.strip() == err                              # the same one-line error
    assert done_rows(d / "trials.db") == before                 # nothing run, nothing mixed
    assert query(d / "trials.db", "SELECT value FROM meta WHERE key='runs'") == [("1",)]


@pytest.mark.parametrize("sql,what", [
    ("UPDATE trials SET metrics='{bad' WHERE number=1", "metrics"),
    ("UPDATE trials SET status='weird' WHERE number=1", "status"),
])
def test_damaged_row_is_one_error_naming_the_trial(tmp_path, finished_search, sql, what):
    d = copy_of(finished_search, tmp_path)
    execute(d / "trials.db", sql)
    snapshot = query(d / "trials.db", "SELECT * FROM trials ORDER BY number")
    config = (d / "config.yaml").read_text()
    r = run_cli("report", str(d), timeout=120)
    assert_one_error_line(r, "trial 1", what)
    p = run_cli("search", "--resume", str(d), "--trials", "3", "--executor", "local",
                timeout=120)
    assert_one_error_line(p, "trial 1", what)
    # the refused resume wrote nothing: rows, config.yaml (trials) and the run count as before
    assert query(d / "trials.db", "SELECT * FROM trials ORDER BY number") == snapshot
    assert (d / "config.yaml").read_text() == config, "a refused resume rewrote config.yaml"
    assert query(d / "trials.db", "SELECT value FROM meta WHERE key='runs'") == [("1",)], \
        "a refused resume counted a run"


# ============================================================================ 3. --address


class _Listener:
    """A plain TCP listener that accepts connections and holds them, never answering."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.stopped.set()
        self.thread.join(timeout=5)
        for c in self.held:
            c.close()
        self.sock.close()


@pytest.mark.timeout(120)
def test_address_of_something_that_is_not_a_ray_head(tmp_path):
    listener = _Listener()
    try:
        d = tmp_path / "D"
        t0 = time.time()
        p = run_cli("search", "--space", "exhaustive", "--trials", "1", "--epochs", "1",
                    "--address", f"127.0.0.1:{listener.port}", "--out", str(d),
                    env={"NAS_RAY_CONNECT_TIMEOUT": "2"}, timeout=110)
        elapsed = time.time() - t0
        assert_one_error_line(p, "not a Ray head", f"127.0.0.1:{listener.port}")
        assert listener.held, "nas never connected to the listener"
        if d.exists():                                          # no half-made experiment
            r = run_cli("report", str(d), timeout=60)
            assert r.returncode != 0, ("a half-made experiment was left behind", r.stdout)
        assert elapsed < 110
    finally:
        listener.close()


# ============================================================================ 4. exit codes


def test_every_trial_failing_exits_1(tmp_path):
    d = tmp_path / "fail"
    p = run_cli(*("search", *DIGITS, "--epochs", "1", "--trials", "2", "--executor", "local",
                  "--out", str(d), "--quiet"), env={"NAS_FAULT": "raise@1,raise@2"},
                timeout=300)
    assert_one_error_line(p, "no candidate succeeded", "2 failed", code=1)
    assert query(d / "trials.db", "SELECT status, COUNT(*) FROM trials GROUP BY status") == \
        [("failed", 2)]


def test_constraint_nothing_satisfies_exits_non_zero(tmp_path):
    cfg = tmp_path / "tight.yaml"
    cfg.write_text("space: exhaustive\ndataset: digits\nepochs: 1\n"
                   "constraints: {max_params: 10}\n")
    d = tmp_path / "tight"
    p = run_cli("search", "--config", str(cfg), "--trials", "2", "--executor", "local",
                "--out", str(d), "--quiet", timeout=300)
    assert p.returncode != 0, p.stdout
    line = assert_one_error_line(p, "no candidate succeeded", code=1)
    text = p.stdout + p.stderr
    assert "rejected" in line and "nothing trained" in line, line
    assert "trained 0" in text, text[-2000:]
    assert query(d / "trials.db", "SELECT COUNT(*) FROM trials WHERE source='trained'") == [(0,)]


@pytest.mark.parametrize("top", ["0", "-1"])
def test_report_top_must_be_positive(tmp_path, finished_search, top):
    r = run_cli("report", str(finished_search), "--top", top, timeout=120)
    assert r.returncode == 2, r.stdout
    assert "Traceback" not in r.stderr and r.stdout == ""
    errors = [ln for ln in r.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1, r.stderr                           # argparse: usage + one line
    assert errors[0].startswith(("nas: error: ", "nas report: error: ")), r.stderr
    assert "--top" in errors[0] and "≥ 1" in errors[0] and top in errors[0], errors[0]


def test_sweep_bad_grid_value_names_the_key_and_leaves_nothing(tmp_path):
    p = run_cli("sweep", "--nets", "lenet5", "--grid", "lr=abc", "--executor", "local",
                "--epochs", "1", cwd=tmp_path, timeout=120)
    assert_one_error_line(p, "grid.lr", "abc")
    assert p.stdout == ""
    assert list(tmp_path.iterdir()) == []                       # no runs/<sweep> left behind
    d = tmp_path / "sweep"
    p = run_cli("sweep", "--nets", "lenet5", "--grid", "lr=abc", "--executor", "local",
                "--epochs", "1", "--out", str(d), cwd=tmp_path, timeout=120)
    assert_one_error_line(p, "grid.lr", "abc")
    assert list(tmp_path.iterdir()) == []


# ============================================================================ 5. SIGTERM


def _sigterm_then_resume(tmp_path: Path, extra: tuple, trials: int, wait_rows: int = 1,
                         ignore_sigint: bool = False):
    out = tmp_path / "R"
    log = tmp_path / "driver"
    args = ["search", *DIGITS, "--epochs", "2", "--trials", str(trials), *extra, "--out", out]
    proc = start(args, log, ignore_sigint=ignore_sigint)
    try:
        wait_for_rows(proc, out / "trials.db", wait_rows, log, timeout=600)
        assert proc.poll() is None, ("the search ended before SIGTERM", *logs(log))
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            pytest.fail("the search did not stop within 180 s of SIGTERM:\n" +
                        "\n".join(s[-3000:] for s in logs(log)))
    finally:
        kill_group(proc)
    stdout, stderr = logs(log)
    assert code == 130, (code, stdout[-3000:], stderr[-3000:])
    assert "--resume" in stdout + stderr, (stdout[-3000:], stderr[-3000:])
    assert "Traceback" not in stdout + stderr, stderr[-5000:]
    assert "SIGTERM received" not in stdout + stderr, stderr[-5000:]
    assert "nas: error" not in stderr, stderr[-3000:]
    db = out / "trials.db"
    before = done_rows(db)
    assert len(before) >= 1
    assert len([r for r in before.values() if r[1] == "trained"]) < trials, \
        "the whole budget ran: SIGTERM did not stop the search early"

    p = run_cli("search", "--resume", str(out), "--trials", str(trials), "--quiet",
                timeout=1200)
    assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
    assert "Traceback" not in p.stderr, p.stderr[-5000:]
    numbers = [n for (n,) in query(db, "SELECT number FROM trials ORDER BY number")]
    assert numbers == list(range(1, len(numbers) + 1))
    assert query(db, "SELECT COUNT(*) FROM trials WHERE status='running' OR status IS NULL "
                     "OR finished_at IS NULL") == [(0,)]          # every number has a result
    trained = [h for (h,) in query(db, "SELECT hash FROM trials WHERE source='trained'")]
    assert len(trained) == len(set(trained)) == trials          # none twice, budget complete
    after = done_rows(db)
    for n, row in before.items():                               # nothing finished was lost
        assert after[n] == row, (n, row, after.get(n))
    assert query(db, "SELECT value FROM meta WHERE key='runs'") == [("2",)]


@pytest.mark.slow
def test_sigterm_stops_a_local_search_like_ctrl_c(tmp_path):
    # started the way `nas search … &` in a script starts it: SIGINT ignored, SIGTERM still stops
    _sigterm_then_resume(tmp_path, ("--executor", "local"), trials=12, ignore_sigint=True)


@pytest.mark.slow
@pytest.mark.ray
def test_sigterm_stops_a_ray_search_like_ctrl_c(tmp_path):
    _sigterm_then_resume(tmp_path, ("--workers", "1"), trials=6)
