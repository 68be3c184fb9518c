"""The search-space contract: decisions, not modules.

A space is an ordered list of named categorical :class:`Decision` s and a ``decode`` from an
assignment (one choice per decision) to a :class:`~nas.genome.Genome`. Controllers see only the
decision list; they never import torch modules of a network.
"""
from __future__ import annotations

import abc
import math
import random
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from nas.errors import NasError
from nas.genome import Genome

Assignment = dict  # decision name -> chosen value (one of Decision.choices)


@dataclass(frozen=True)
class Decision:
    """One categorical decision: a stable dotted ``name`` and its ``choices`` (JSON scalars)."""

    name: str
    choices: tuple

    def __post_init__(self):
        object.__setattr__(self, "choices", tuple(self.choices))
        if len(self.choices) < 1 or len(set(map(repr, self.choices))) != len(self.choices):
            raise ValueError(f"decision {self.name!r} needs distinct choices, got {self.choices!r}")

    def index(self, value: Any) -> int:
        for k, c in enumerate(self.choices):
            if c == value and type(c) is type(value):
                return k
        for k, c in enumerate(self.choices):
            if c == value:
                return k
        raise NotInSpaceError(f"{self.name}: {value!r} is not one of {list(self.choices)}")


@dataclass(frozen=True)
class CellBlock:
    """One block of a cell as the papers draw it: two hidden states, an op on each, combined."""

    inputs: tuple            # (state, state): names of cell inputs or earlier blocks
    ops: tuple               # (op, op): the op applied to each input
    combine: str             # "add" | "concat"


@dataclass(frozen=True)
class CellDiagram:
    """A cell as a person reads it (Zoph et al. 2018, fig. 4): the hidden states it takes,
    its blocks in order (block ``k``'s output is the state ``"block{k}"``) and the states
    concatenated into its output. Plain data for :func:`nas.draw.draw_cell`."""

    name: str                # "normal", "reduction"
    inputs: tuple            # e.g. ("h[i-1]", "h[i-2]")
    blocks: tuple            # CellBlock, ...
    output: tuple            # states concatenated into the cell output
    note: str = ""           # e.g. "ops on the cell inputs have stride 2"


class NotInSpaceError(NasError):
    """A genome or assignment that the space cannot express; the message names the decision."""


class SearchSpace(abc.ABC):
    """Subclasses define ``name``, ``decisions`` and ``decode``; ``encode`` where they can."""

    name: str = "space"
    description: str = ""

    @property
    @abc.abstractmethod
    def decisions(self) -> Sequence[Decision]:
        ...

    @abc.abstractmethod
    def decode(self, assignment: Mapping[str, Any]) -> Genome:
        """The genome of a complete assignment (always valid for a valid assignment)."""

    def encode(self, genome: Genome) -> Assignment | None:
        """The assignment whose decode hashes equal to ``genome``; None if not in the space."""
        try:
            return self.encode_strict(genome)
        except NotInSpaceError:
            return None

    def encode_strict(self, genome: Genome) -> Assignment:
        """Like :meth:`encode`, but a genome outside the space raises :class:`NotInSpaceError`
        naming the decision (or space option) that cannot express it."""
        raise NotInSpaceError(f"{self.name}: this space cannot encode genomes")

    def fixed_points(self) -> dict[str, Genome]:
        """Named classic genomes that lie in this space (decode(encode(g)) == g by hash)."""
        return {}

    def cell_diagrams(self, genome: Genome) -> "tuple[CellDiagram, ...] | None":
        """The cells of ``genome`` as this space describes them (one :class:`CellDiagram`
        per cell type, e.g. normal and reduction) for drawing; None (the default): the space
        has no such reading, draw the op graph."""
        return None

    def projected_fixed_points(self) -> list[dict]:
        """The classic nets of this space's bigger presets as points of *this* space: the
        fixed points of those presets, projected onto this space's options by the space's own
        rule. One plain dict per classic, in a fixed order: ``name``, ``source`` (where the
        original is a fixed point, e.g. ``"blocks/cifar"``), ``genome`` (the projected network,
        None if it cannot be made), ``assignment`` (its assignment here, None if outside the
        space), ``reason`` (why the original at this space's input size is not in this space;
        None if it is) and ``changes`` (what the projection changed). Default: none."""
        return []

    # ------------------------------------------------------------------ generic helpers
    def decode_cached(self, assignment: Mapping[str, Any]) -> Genome:
        """``decode`` memoised by assignment (genomes are immutable, so the controller's dedup
        and the search loop share one decode and one hash per candidate)."""
        import json
        cache = self.__dict__.setdefault("_decoded", {})
        key = json.dumps(dict(assignment), sort_keys=True, default=repr)
        g = cache.get(key)
        if g is None:
            if len(cache) >= 4096:
                cache.clear()
            g = cache[key] = self.decode(assignment)
        return g

    def key(self, assignment: Mapping[str, Any]) -> str:
        """A canonical key of the network ``assignment`` decodes to, for deduplication: equal
        keys exactly when the genome hashes are equal. Default: the genome hash; a space may
        answer faster (``exhaustive`` looks its cell up in a precomputed table)."""
        return self.decode_cached(assignment).hash

    def check(self, assignment: Mapping[str, Any]) -> Assignment:
        """Validate an assignment: every decision present with an allowed value, nothing else."""
        if not isinstance(assignment, Mapping):
            raise NotInSpaceError(f"{self.name}: an assignment must be a mapping")
        names = [d.name for d in self.decisions]
        extra = set(assignment) - set(names)
        if extra:
            raise NotInSpaceError(f"{self.name}: unknown decision(s) {sorted(extra)}")
        out = {}
        for d in self.decisions:
            if d.name not in assignment:
                raise NotInSpaceError(f"{self.name}: decision {d.name!r} is missing")
            out[d.name] = d.choices[d.index(assignment[d.name])]
        return out

    def sample(self, rng: random.Random) -> Assignment:
        return {d.name: d.choices[rng.randrange(len(d.choices))] for d in self.decisions}

    def size(self) -> int:
        """Number of assignments (not all distinct networks; see :meth:`distinct`)."""
        return math.prod(len(d.choices) for d in self.decisions)

    def distinct(self) -> int | None:
        """Number of distinct networks (by hash) where computable, else None."""
        return None

    def enumerate(self, limit: int = 1_000_000) -> Iterator[Assignment]:
        """Every assignment, in index order (the last decision varies fastest); a space larger
        than ``limit`` raises instead of running for ever."""
        if self.size() > limit:
            raise NasError(f"space {self.name!r} has {self.size():.3g} assignments; only spaces "
                           f"of at most {limit:,} can be enumerated")
        from itertools import product
        for idx in product(*(range(len(d.choices)) for d in self.decisions)):
            yield self.from_indices(idx)

    def distinct_assignments(self, limit: int = 1_000_000) -> list[Assignment]:
        """One assignment per distinct network (the first in :meth:`enumerate` order whose
        genome hash is new): what a tabular benchmark trains."""
        seen: set[str] = set()
        out = []
        for a in self.enumerate(limit):
            h = self.decode(a).hash
            if h not in seen:
                seen.add(h)
                out.append(a)
        return out

    def sample_distinct(self, n: int, rng: random.Random, tries: int = 100) -> list[Assignment]:
        """``n`` assignments drawn uniformly at random that decode to ``n`` distinct networks
        (for spaces too large to enumerate); fewer only if the space has fewer."""
        seen: set[str] = set()
        out: list[Assignment] = []
        misses = 0
        while len(out) < n and misses < tries * n:
            a = self.sample(rng)
            h = self.decode(a).hash
            if h in seen:
                misses += 1
                continue
            seen.add(h)
            out.append(a)
        return out

    def neighbours(self, assignment: Mapping[str, Any]) -> Iterator[Assignment]:
        """Every assignment that differs from ``assignment`` in exactly one decision."""
        for d in self.decisions:
            for c in d.choices:
                if c != assignment[d.name]:
                    yield {**assignment, d.name: c}

    def to_indices(self, assignment: Mapping[str, Any]) -> list[int]:
        return [d.index(assignment[d.name]) for d in self.decisions]

    def from_indices(self, idx: Sequence[int]) -> Assignment:
        return {d.name: d.choices[k] for d, k in zip(self.decisions, idx)}

    def describe(self) -> dict:
        return {"name": self.name, "description": self.description,
                "decisions": len(self.decisions), "size": self.size(),
                "distinct": self.distinct()}
