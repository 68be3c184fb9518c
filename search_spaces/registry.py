"""The registries of ``search_spaces``: ``NETS`` (classic nets as genome factories) and ``SPACES``
(search-space factories). Their own module, so the modules that register import it without
importing the package that imports them."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from nas.genome import Genome
from nas.registry import Registry

NetFactory = Callable[..., Genome]
#: name -> keyword-only factory ``(num_classes=..., input=...) -> Genome``
NETS: Registry[NetFactory] = Registry("net")
#: name -> SearchSpace factory ``(**options) -> SearchSpace`` (the space class itself; its
#: ``Options`` dataclass and ``PRESETS`` describe the options)
SPACES = Registry("space")


def get_net(name: str, *, num_classes: int | None = None,
            input: Sequence[int] | None = None) -> Genome:
    """The classic net ``name`` as a genome (default classes and input size unless given)."""
    kw = {}
    if num_classes is not None:
        kw["num_classes"] = num_classes
    if input is not None:
        kw["input"] = tuple(input)
    return NETS.get(name)(**kw)


def list_nets(pattern: str = "*") -> list[str]:
    return NETS.names(pattern)


def get_space(name: str, options: Mapping[str, Any] | None = None):
    """The space ``name`` built with ``options`` (strings from a command line are fine)."""
    return SPACES.get(name)(**dict(options or {}))


def list_spaces(pattern: str = "*") -> list[str]:
    return SPACES.names(pattern)
