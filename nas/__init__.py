"""nas — neural architecture search for PyTorch: genomes, spaces, controllers, evaluators.

The core (this package) is torch-free except :func:`build`::

    from nas import Genome, build, cost
    g = Genome.load("configs/genomes/small_resnet.yaml")
    print(cost(g).flops, g.hash)
    model = build(g)
"""
from __future__ import annotations

from nas.cost import CostReport, LayerCost, cost
from nas.errors import GenomeError, NasError, UnknownNameError
from nas.genome import Cell, Genome, Graph, LNode, Node, Stage
from nas.hashing import genome_hash
from nas.ops import OPS
from nas.registry import Registry
from nas.result import Result
from nas.space import Decision, NotInSpaceError, SearchSpace

__version__ = "0.1.0"


def build(genome: Genome):
    """Build ``genome`` into a ``torch.fx.GraphModule`` (imports torch on first use)."""
    from nas.builder import build as _build
    return _build(genome)


__all__ = ["Genome", "Cell", "Node", "Stage", "Graph", "LNode", "GenomeError", "NasError",
           "UnknownNameError", "Registry", "OPS", "build", "cost", "CostReport", "LayerCost",
           "genome_hash", "Result", "Decision", "SearchSpace", "NotInSpaceError", "__version__"]
