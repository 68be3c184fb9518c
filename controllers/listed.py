"""A controller that proposes a given list of assignments in order (sweeps, table builds)."""
from __future__ import annotations

from controllers.base import Controller


class Listed(Controller):
    """Proposes ``jobs`` in order; ``exhausted`` once every one was asked. Its state is just the
    base class's counters: the list is rebuilt from the config on resume."""

    name = "listed"

    def __init__(self, space, jobs: list[dict], **kw):
        super().__init__(space, **kw)
        self.jobs = jobs

    def propose(self):
        return dict(self.jobs[self.n_asked])

    def observe(self, assignment, result, reward) -> None:
        pass

    @property
    def exhausted(self) -> bool:
        return self.n_asked >= len(self.jobs)
