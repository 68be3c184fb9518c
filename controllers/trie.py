"""The assignments already seen, as a prefix tree over choice indices that knows which prefixes
are exhausted (every completion seen) — for sampling an autoregressive policy without
replacement: mask the tokens whose subtree is exhausted and the sample is new by construction.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence


class SeenTrie:
    def __init__(self, sizes: Sequence[int]):
        self.sizes = list(sizes)
        # completions below a node at depth d
        self.capacity = [math.prod(self.sizes[d:]) for d in range(len(self.sizes) + 1)]
        self.root: list = [0, {}]  # node = [distinct completions seen below, {token: child}]

    def add(self, idx: Sequence[int]) -> bool:
        """Record an assignment (choice indices); False if it was already there."""
        if idx in self:
            return False
        node = self.root
        for k in idx:
            node[0] += 1
            node = node[1].setdefault(k, [0, {}])
        node[0] += 1
        return True

    def __contains__(self, idx: Sequence[int]) -> bool:
        node = self.root
        for k in idx:
            node = node[1].get(k)
            if node is None:
                return False
        return node[0] > 0

    def __len__(self) -> int:
        return self.root[0]

    def exhausted(self) -> bool:
        return self.root[0] >= self.capacity[0]

    def blocked(self, prefix: Sequence[int]) -> list[int]:
        """Tokens at position ``len(prefix)`` after ``prefix`` whose every completion is seen."""
        node = self.root
        for k in prefix:
            node = node[1].get(k)
            if node is None:
                return []
        full = self.capacity[len(prefix) + 1]
        return [k for k, child in node[1].items() if child[0] >= full]

    def items(self) -> Iterable[list[int]]:
        """Every recorded assignment (for saving)."""
        stack = [(self.root, [])]
        while stack:
            node, path = stack.pop()
            if len(path) == len(self.sizes):
                yield path
                continue
            for k, child in sorted(node[1].items(), reverse=True):
                stack.append((child, path + [k]))
