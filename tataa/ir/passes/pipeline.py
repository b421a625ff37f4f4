"""The optimiser: specialise, then fold constants, fold patterns, merge duplicates and drop dead code to a
fixed point."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping

from tataa.ir.graph import Graph
from tataa.ir.passes.cse import eliminate_common_subexpressions_stats
from tataa.ir.passes.dce import eliminate_dead_code_stats
from tataa.ir.passes.fold import constant_fold_stats
from tataa.ir.passes.patterns import fold_patterns_stats
from tataa.ir.passes.report import PassReport
from tataa.ir.passes.specialize import specialize_stats

MAX_ITERATIONS = 10

PASSES: tuple[tuple[str, Callable[[Graph], tuple[Graph, Counter[str]]]], ...] = (
    ("constant_fold", constant_fold_stats),
    ("fold_patterns", fold_patterns_stats),
    ("cse", eliminate_common_subexpressions_stats),
    ("dce", eliminate_dead_code_stats),
)
"""The passes of one iteration, in order."""


def optimize(g: Graph, dims: Mapping[str, int] | None = None) -> tuple[Graph, PassReport]:
    """The optimised graph and a report: specialize (when ``dims`` is given), then constant folding, pattern
    folding, CSE and DCE repeated until none of them changes anything."""
    start = time.perf_counter()
    nodes_before, consts_before = len(g.nodes), len(g.constants)
    counts: dict[str, Counter[str]] = {}
    if dims:
        g, counts["specialize"] = specialize_stats(g, dims)
    for name, _ in PASSES:
        counts[name] = Counter()
    iterations = 0
    for iterations in range(1, MAX_ITERATIONS + 1):  # noqa: B007 - the count is reported
        changed = False
        for name, run in PASSES:
            g, c = run(g)
            counts[name].update(c)
            changed |= any(c.values())
        if not changed:
            break
    report = PassReport(nodes_before, len(g.nodes), consts_before, len(g.constants), iterations, counts,
                        time.perf_counter() - start)
    return g, report


__all__ = ["MAX_ITERATIONS", "PASSES", "optimize"]
