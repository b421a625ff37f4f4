"""Dead-code elimination: drop nodes and constants no graph output depends on."""

from __future__ import annotations

from collections import Counter

from tataa.ir.graph import Graph


def eliminate_dead_code_stats(g: Graph) -> tuple[Graph, Counter[str]]:
    """The graph without nodes and constants that no output reads, and counts of what went (by op)."""
    live = set(g.outputs)
    for n in reversed(g.nodes):
        if n.name in live:
            live.update(n.inputs)
    stats: Counter[str] = Counter()
    for n in g.nodes:
        if n.name not in live:
            stats[n.op] += 1
    dead_consts = sum(1 for c in g.constants if c.name not in live)
    if dead_consts:
        stats["constant"] += dead_consts
    if not stats:
        return g, stats
    out = Graph(g.name, g.inputs, tuple(c for c in g.constants if c.name in live),
                tuple(n for n in g.nodes if n.name in live), g.outputs)
    return out.validate(), stats


def eliminate_dead_code(g: Graph) -> Graph:
    """The graph without nodes and constants that no output reads (inputs are kept: they are the interface)."""
    return eliminate_dead_code_stats(g)[0]


__all__ = ["eliminate_dead_code", "eliminate_dead_code_stats"]
