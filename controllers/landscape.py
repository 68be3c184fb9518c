"""A synthetic objective over a space's decisions, for testing and benchmarking controllers.

``score(a) = Σ_i u_i[a_i] + Σ_{i<j} W_ij[a_i, a_j]``: random unary terms plus pairwise
interaction terms between every two decisions (a quadratic pseudo-boolean landscape, as in
NK/spin-glass benchmarks), so the best choice for one decision depends on the others: with the
default interaction strength the pairwise terms carry ~85% of the variance and 6 decisions × 5
choices have about ten local optima under one-decision moves. The score maps to an "accuracy" shaped like
NAS-Bench-201's CIFAR-10 table: most networks at 0.80–0.92, a long tail down to 0.1, and the top
compressed within a few tenths of a percent of 0.945 — the hard regime for a learning controller.

Given ``classes`` (each assignment's network identity), assignments of one network share the
value of its first assignment, so dedup by hash never hides a better network.
"""
from __future__ import annotations

import itertools
import math

from typing import Sequence

import numpy as np

from nas.result import Result
from nas.space import Assignment, SearchSpace


class Landscape:
    def __init__(self, space: SearchSpace, seed: int = 0, interaction: float = 1.5,
                 classes: Sequence | None = None):
        """``classes``: the network identity (e.g. genome hash) of every assignment in
        :meth:`all_indices` order; assignments of one network then share one value."""
        self.space = space
        rng = np.random.default_rng(seed)
        sizes = [len(d.choices) for d in space.decisions]
        self.unary = [rng.normal(0.0, 1.0, n) for n in sizes]
        self.pairs = {(i, j): rng.normal(0.0, interaction, (sizes[i], sizes[j]))
                      for i, j in itertools.combinations(range(len(sizes)), 2)}
        # moments of the score over uniform assignments, to standardise it
        self.mean = sum(u.mean() for u in self.unary) + sum(w.mean() for w in self.pairs.values())
        self.std = math.sqrt(sum(u.var() for u in self.unary) +
                             sum(w.var() for w in self.pairs.values()))
        self.canonical: dict[tuple, tuple] | None = None
        if classes is not None:
            first: dict = {}
            self.canonical = {idx: first.setdefault(c, idx)
                              for idx, c in zip(self.all_indices(), classes)}

    def all_indices(self):
        return itertools.product(*(range(len(d.choices)) for d in self.space.decisions))

    def score(self, assignment: Assignment) -> float:
        idx = tuple(self.space.to_indices(assignment))
        if self.canonical is not None:
            idx = self.canonical[idx]
        s = sum(u[k] for u, k in zip(self.unary, idx))
        return float(s + sum(w[idx[i], idx[j]] for (i, j), w in self.pairs.items()))

    def accuracy(self, assignment: Assignment) -> float:
        z = (self.score(assignment) - self.mean) / self.std
        return 0.1 + 0.845 / (1.0 + math.exp(-(1.2 * z + 2.0)))

    def result(self, assignment: Assignment) -> Result:
        return Result("ok", {"accuracy": self.accuracy(assignment)})

    def table(self) -> np.ndarray:
        """Accuracy of every assignment, in ``itertools.product`` order (small spaces only)."""
        return np.array([self.accuracy(self.space.from_indices(i)) for i in self.all_indices()])

    def optimum(self) -> tuple[Assignment, float]:
        best = max(self.all_indices(), key=lambda i: self.score(self.space.from_indices(i)))
        a = self.space.from_indices(best)
        return a, self.accuracy(a)

    def greedy(self) -> Assignment:
        """Per-decision best choice by its mean over all other decisions (what a separable
        model would pick); differs from the optimum on an interacting landscape."""
        sizes = [len(d.choices) for d in self.space.decisions]
        marg = [u.copy() for u in self.unary]
        for (i, j), w in self.pairs.items():
            marg[i] += w.mean(axis=1)
            marg[j] += w.mean(axis=0)
        return self.space.from_indices([int(np.argmax(m)) for m in marg[:len(sizes)]])
