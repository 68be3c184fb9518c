"""Stopping a driver: SIGTERM is handled exactly as Ctrl-C (SIGINT) is.

A ``kill`` (SIGTERM) of a search then stops it the way Ctrl-C does — Ray Tune finishes its
bookkeeping, the store keeps every finished result, the leaderboard so far and the ``--resume``
command are printed — instead of Ray's native handler dumping a stack and aborting. Ray installs
its own handlers when it starts, so this is called again after ``ray.init``.
"""
from __future__ import annotations

import signal
import threading


def _as_interrupt(signum, frame) -> None:
    """Run the SIGINT handler in place (Ray Tune's graceful stop, or Python's KeyboardInterrupt).
    When SIGINT is ignored — a process started in the background by a non-interactive shell
    inherits SIG_IGN, and Python then installs no handler — SIGTERM still stops the search."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def term_as_interrupt() -> None:
    """Route SIGTERM to the SIGINT handler (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _as_interrupt)
