"""A controller's options: one small dataclass per controller, checked and listed from one place.

Each field's ``metadata["help"]`` is what ``nas controllers`` prints. Values may come from Python,
a YAML config or the command line (strings), so they are coerced to the default's type; an
unknown name or a bad value raises :class:`~nas.errors.NasError` naming the controller and option.
"""
from __future__ import annotations

from typing import Any, Mapping

from nas.options import NoOptions, describe_options, option  # noqa: F401  (re-exported)
from nas.options import make_options as _make_options


def make_options(cls: type, values: Mapping[str, Any], controller: str):
    """The options of controller ``controller`` (see :func:`nas.options.make_options`)."""
    return _make_options(cls, values, f"controller {controller!r}")
