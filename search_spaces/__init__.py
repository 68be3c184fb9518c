"""Search spaces and the classic networks as genomes (registries ``NETS`` and ``SPACES``).

Importing the package registers every net and space; the registries themselves live in
:mod:`search_spaces.registry`."""
from search_spaces.registry import NETS, SPACES, get_net, get_space, list_nets, list_spaces

# each module registers its nets / its space (and any classic net only it defines)
from search_spaces import nets, zoo_resnet, zoo_mobile, zoo_classic  # noqa: E402,F401
from search_spaces import zoo_inception, zoo_densenet, zoo_fractal, zoo_dpn  # noqa: E402,F401
from search_spaces import nasnet, exhaustive, blocks  # noqa: E402,F401

__all__ = ["NETS", "SPACES", "get_net", "get_space", "list_nets", "list_spaces"]
