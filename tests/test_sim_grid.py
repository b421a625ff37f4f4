"""Affine word grids: the structural shortcuts agree with brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tataa.sim.grid import Grid, keep_last

terms = st.lists(st.tuples(st.integers(1, 6), st.integers(0, 7)), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 20), terms)
def test_grid_matches_brute_force(base: int, ts: list[tuple[int, int]]) -> None:
    g = Grid.of(base, *ts)
    words = [base]
    for count, stride in ts:
        words = [w + i * stride for w in words for i in range(count)]
    assert g.words.tolist() == words and g.size == len(words) and g.last == max(words)
    assert g.distinct() == (len(set(words)) == len(words))
    assert g.consecutive() == (words == list(range(base, base + len(words))))
    ix = g.index()
    assert np.arange(200)[ix].tolist() == words
    keep = g.keep_last()
    if keep is None:
        assert len(set(words)) == len(words)
    else:
        last = {w: p for p, w in enumerate(words)}
        assert keep.tolist() == sorted(last.values())


def test_keep_last_of_plain_arrays() -> None:
    assert keep_last(np.array([3, 1, 3, 2, 1])).tolist() == [2, 3, 4]
    assert keep_last(np.array([5, 6])) is None and keep_last(np.array([4])) is None
