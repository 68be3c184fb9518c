"""Search spaces and the classic networks as genomes (registries ``NETS`` and ``SPACES``)."""
from search_spaces.nets import NETS, get_net, list_nets

__all__ = ["NETS", "get_net", "list_nets"]

from nas.registry import Registry as _Registry

#: name -> SearchSpace factory ``(**options) -> SearchSpace``
SPACES = _Registry("space")
__all__.append("SPACES")
