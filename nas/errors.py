"""The exceptions a user of `nas` can see.

Every error a user can cause is one of these, with a message that names what was wrong and
where; the CLI prints ``str(error)`` as one line and exits non-zero.
"""
from __future__ import annotations


class NasError(Exception):
    """Base of every error caused by user input (bad genome, unknown name, bad config...)."""


class GenomeError(NasError):
    """An invalid genome. ``path`` names the node (``stage.block.node``) or field at fault."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class UnknownNameError(NasError, KeyError):
    """A name that is not in a registry (op, net, space, controller, ...)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
