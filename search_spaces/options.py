"""A space's options: one small frozen dataclass per space, with named presets.

Each field's ``metadata["help"]`` is what ``nas spaces --options`` prints. Values may come from
Python, a YAML config or the command line (``--option N=4``, ``--option input=3x224x224``,
``--option widths=16,32,64``), so they are coerced to the type of the field's default. A
``preset`` option, where a space has one, sets several defaults at once (explicit options
still win). An unknown name or a bad value raises :class:`~nas.errors.NasError` naming the
space and the option.
"""
from __future__ import annotations

from typing import Any, Mapping

from nas.errors import NasError
from nas.options import describe_options, option  # noqa: F401  (re-exported)
from nas.options import make_options as _make_options


def make_options(cls: type, values: Mapping[str, Any], space: str,
                 presets: Mapping[str, Mapping[str, Any]] | None = None):
    """The options of space ``space`` (see :func:`nas.options.make_options`)."""
    return _make_options(cls, values, f"space {space!r}", presets)


def check_io(genome, input: tuple, num_classes: int) -> None:
    """A genome's input size and class count must be the space's (its ``input`` and
    ``num_classes`` options); else :class:`~nas.space.NotInSpaceError` naming the option."""
    from nas.space import NotInSpaceError
    if tuple(genome.input) != tuple(input):
        raise NotInSpaceError(f"option input: the genome takes {'x'.join(map(str, genome.input))}"
                              f", the space {'x'.join(map(str, input))}")
    if genome.num_classes != num_classes:
        raise NotInSpaceError(f"option num_classes: the genome has {genome.num_classes} classes, "
                              f"the space {num_classes}")
