"""Search spaces and the classic networks as genomes (registries ``NETS`` and ``SPACES``)."""
from typing import Any, Mapping

from search_spaces.nets import NETS, get_net, list_nets

__all__ = ["NETS", "get_net", "list_nets"]

from nas.registry import Registry as _Registry

#: name -> SearchSpace factory ``(**options) -> SearchSpace`` (the space class itself; its
#: ``Options`` dataclass and ``PRESETS`` describe the options)
SPACES = _Registry("space")
__all__.append("SPACES")


def get_space(name: str, options: Mapping[str, Any] | None = None):
    """The space ``name`` built with ``options`` (strings from a command line are fine)."""
    return SPACES.get(name)(**dict(options or {}))


def list_spaces(pattern: str = "*") -> list[str]:
    return SPACES.names(pattern)


__all__ += ["get_space", "list_spaces"]

# each space module registers itself (and any classic net that only it defines)
from search_spaces import nasnet  # noqa: E402,F401
from search_spaces import exhaustive  # noqa: E402,F401
from search_spaces import blocks  # noqa: E402,F401
