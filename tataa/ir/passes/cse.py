"""Common-subexpression elimination: one node per (op, inputs, attributes), one constant per content."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from tataa.ir.graph import Graph
from tataa.ir.passes.editor import Editor

COMMUTATIVE = frozenset({"add", "mul", "maximum", "minimum", "equal", "logical_and", "logical_or"})
"""Binary ops whose operands may be swapped."""


def eliminate_common_subexpressions_stats(g: Graph) -> tuple[Graph, Counter[str]]:
    """The graph with duplicate nodes and identical constants (same dtype, shape and bytes) merged into their first
    occurrence, and counts of what was merged (by op, ``constant``)."""
    ed = Editor(g)
    stats: Counter[str] = Counter()
    buckets: dict[tuple[Any, ...], list[str]] = {}
    for c in g.constants:
        bucket = buckets.setdefault(_fingerprint(c.value), [])
        first = next((f for f in bucket if _same_bytes(ed.consts[f].value, c.value)), None)
        if first is None or c.name in ed.output_set:
            bucket.append(c.name)
        else:
            ed.alias(c.name, first)
            stats["constant"] += 1
    seen: dict[tuple[Any, ...], str] = {}
    for name in ed.order:
        n = ed.nodes[name]
        inputs = tuple(sorted(n.inputs)) if n.op in COMMUTATIVE else n.inputs
        key = (n.op, inputs, n.attrs)
        first = seen.setdefault(key, name)
        if first != name and name not in ed.output_set:
            ed.alias(name, first)
            stats[n.op] += 1
    return (ed.finish() if stats else g), stats


def _fingerprint(v: np.ndarray) -> tuple[Any, ...]:
    """Dtype, shape and a sample of the bytes: equal for identical constants, cheap for big ones."""
    flat = v.reshape(-1)
    sample = flat[np.linspace(0, flat.size - 1, num=min(flat.size, 64)).astype(np.int64)] if flat.size else flat
    return v.dtype.str, v.shape, sample.tobytes()


def _same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8)))


def eliminate_common_subexpressions(g: Graph) -> Graph:
    """The graph with duplicate nodes (same op, inputs and attributes) and identical constants merged."""
    return eliminate_common_subexpressions_stats(g)[0]


__all__ = ["COMMUTATIVE", "eliminate_common_subexpressions", "eliminate_common_subexpressions_stats"]
