"""What a running search shows: a progress bar, a live best-so-far line, one line per trial.

The search loop calls a :class:`Reporter`; the base class is silent (tests, the Python API),
:class:`RichReporter` draws on stderr with rich (a live bar on a terminal; plain lines
otherwise), so stdout stays free for the leaderboard or ``--json``.
"""
from __future__ import annotations

import sys
import time


class Reporter:
    """The no-op reporter; subclasses override what they show."""

    def start(self, title: str, total: int, done: int) -> None: ...

    def started(self, number: int, hash: str) -> None: ...

    def epoch(self, number: int, metrics: dict) -> None: ...

    def finished(self, number: int, hash: str, source: str, result, best) -> None: ...

    def note(self, text: str) -> None: ...

    def stop(self) -> None: ...


class RichReporter(Reporter):
    def __init__(self, stream=None, verbose: bool = True):
        from rich.console import Console
        self.console = Console(file=stream or sys.stderr, highlight=False)
        if not self.console.is_terminal:        # logs and pipes: room for the status line
            self.console = Console(file=stream or sys.stderr, highlight=False, width=140)
        self.verbose = verbose
        self.progress = None
        self.running: dict[int, str] = {}
        self.counts = {"ok": 0, "failed": 0, "pruned": 0, "cached": 0, "rejected": 0}
        self.best = None
        self.t0 = time.time()

    def start(self, title: str, total: int, done: int) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[status]}"), console=self.console,
                                 transient=False)
        self.task = self.progress.add_task(title, total=total, completed=done, status="")
        self.progress.start()
        self._refresh()

    def started(self, number: int, hash: str) -> None:
        self.running[number] = ""
        self._refresh()

    def epoch(self, number: int, metrics: dict) -> None:
        self.running[number] = f"e{metrics.get('epoch')} {metrics.get('accuracy', 0):.3f}"
        self._refresh()

    def finished(self, number: int, hash: str, source: str, result, best) -> None:
        self.running.pop(number, None)
        key = source if source in ("cached", "rejected") else result.status
        self.counts[key] = self.counts.get(key, 0) + 1
        self.best = best
        if self.progress is not None and source == "trained":
            self.progress.advance(self.task)
        if self.verbose:
            m = result.metrics
            if result.ok:
                what = (f"acc {m.get('accuracy', 0):.4f}  params {_h(m.get('params'))}  "
                        f"FLOPs {_h(m.get('flops'))}  {m.get('train_seconds', 0):.1f}s")
            else:
                what = f"{result.status}: {result.error or ''}"
            tag = f" ({source})" if source != "trained" else ""
            self.console.print(f"trial {number:>3} {hash[:10]}{tag}  {what}")
        self._refresh()

    def note(self, text: str) -> None:
        self.console.print(text)

    def stop(self) -> None:
        if self.progress is not None:
            self._refresh()
            self.progress.stop()
            self.progress = None

    def _refresh(self) -> None:
        if self.progress is None:
            return
        b = self.best
        best = (f"best {b.accuracy:.4f} (#{b.number} {b.hash[:8]})" if b is not None
                else "best -")
        c = self.counts
        extra = "".join(f" · {k} {c[k]}" for k in ("failed", "pruned", "cached", "rejected")
                        if c.get(k))
        live = " ".join(self.running.values()) if any(self.running.values()) else ""
        self.progress.update(self.task, status=f"{best} · running {len(self.running)}"
                                               f"{extra}{'  ' + live if live else ''}")


def _h(n) -> str:
    if n is None:
        return "-"
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f}{suf}"
    return f"{n:g}"
