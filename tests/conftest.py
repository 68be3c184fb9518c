import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None):
    """Run ``nas ARGS`` as a user types it; returns CompletedProcess (text)."""
    e = {**os.environ, **(env or {})}
    exe = Path(sys.executable).parent / "nas"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "nas"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout, env=e)


@pytest.fixture
def one_thread():
    """torch on one thread for the test (what a trial gets), the old setting restored after;
    a module uses it with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def cli():
    return run_cli


def finished_rows(db) -> int:
    """Rows of an experiment's trials.db that have a result (0 while it does not exist yet),
    read-only so a live driver is not disturbed."""
    import sqlite3
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return c.execute("SELECT COUNT(*) FROM trials WHERE status!='running'").fetchone()[0]
        finally:
            c.close()
    except sqlite3.Error:
        return 0
