"""Affine grids of buffer words (`base + sum(i_k * stride_k)`), as the DMA, GEMM, REQUANT and VOP loops address them.

Structural questions (consecutive? all distinct?) are answered from the strides when possible, so that
checking an instruction rarely needs to materialise or sort its word list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

Index = slice | np.ndarray  # a buffer-word index: a slice when the words are consecutive


def affine(base: int, *terms: tuple[int, int]) -> np.ndarray:
    """base + sum(stride * i_k) over a grid of (count, stride) terms, as an int64 array of the grid's shape."""
    out = np.full((), base, np.int64)
    for count, stride in terms:
        out = out[..., None] + np.arange(count, dtype=np.int64) * stride
    return out


def keep_last(words: np.ndarray) -> np.ndarray | None:
    """Positions of the last occurrence of every value of `words` (ascending), or None if all are distinct."""
    flat = words.ravel()
    if flat.size < 2:
        return None
    _, first_rev = np.unique(flat[::-1], return_index=True)
    if first_rev.size == flat.size:
        return None
    return np.sort(flat.size - 1 - first_rev)


@dataclass(frozen=True)
class Grid:
    """Words base + sum(i_k * stride_k) for i_k < count_k, in row-major order of the terms (outermost first)."""

    base: int
    terms: tuple[tuple[int, int], ...]  # (count, stride)

    @classmethod
    def of(cls, base: int, *terms: tuple[int, int]) -> Grid:
        """The grid with these (count, stride) terms."""
        return cls(base, tuple(terms))

    @property
    def size(self) -> int:
        """Number of (not necessarily distinct) words."""
        return math.prod(c for c, _ in self.terms)

    @property
    def last(self) -> int:
        """The largest word (strides are non-negative)."""
        return self.base + sum((c - 1) * s for c, s in self.terms)

    @cached_property
    def words(self) -> np.ndarray:
        """Every word, flattened in row-major order."""
        return affine(self.base, *self.terms).ravel()

    def consecutive(self) -> bool:
        """Whether the flattened words are base, base + 1, ... (a slice)."""
        expected = 1
        for count, stride in reversed(self.terms):
            if count > 1 and stride != expected:
                return False
            expected *= count
        return True

    def distinct(self) -> bool:
        """Whether no word repeats."""
        span = 0
        for count, stride in sorted((t for t in self.terms if t[0] > 1), key=lambda t: t[1]):
            if stride == 0:
                return False
            if stride <= span:  # the strides interleave: decide by counting
                return keep_last(self.words) is None
            span += (count - 1) * stride
        return True

    def index(self) -> Index:
        """The words as a slice when consecutive, else as an index array."""
        if self.consecutive():
            return slice(self.base, self.base + self.size)
        return self.words

    def keep_last(self) -> np.ndarray | None:
        """Positions (in flattened order) of the last write of each word, or None when no word repeats."""
        return None if self.distinct() else keep_last(self.words)
