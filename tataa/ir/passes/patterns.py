"""Pattern folding: recognise decomposed LayerNorm, RMSNorm, GELU, SiLU, softmax, rotary and attention."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from tataa.ir.graph import Graph, Node
from tataa.ir.passes.editor import Editor, Rewrite
from tataa.ir.passes.pattern_activations import gelu, silu, silu_div, softmax
from tataa.ir.passes.pattern_attention import attention, rotary
from tataa.ir.passes.pattern_norms import norm_bias, norm_cast, norm_core, norm_weight

Matcher = Callable[[Editor, Node], Iterator[Rewrite]]

MATCHERS: dict[str, tuple[Matcher, ...]] = {
    "div": (norm_core, softmax, silu_div, gelu),
    "mul": (norm_core, norm_weight, silu, gelu, softmax),
    "add": (norm_bias, rotary),
    "cast": (norm_cast,),
    "matmul": (attention,),
}
"""For each op, the patterns that may end at a node of that op, tried in order."""

MAX_SWEEPS = 8


def fold_patterns_stats(g: Graph) -> tuple[Graph, Counter[str]]:
    """The graph with decomposed patterns replaced by IR ops, and how many of each kind were found.

    A pattern is replaced only when its intermediate values have no reader outside it and are not graph
    outputs; the replacing node takes the name of the pattern's last node.
    """
    stats: Counter[str] = Counter()
    for _ in range(MAX_SWEEPS):
        ed = Editor(g)
        found = 0
        for name in list(ed.order):
            n = ed.nodes.get(name)
            if n is None:
                continue
            for matcher in MATCHERS.get(n.op, ()):
                done = next((rw for rw in matcher(ed, n) if ed.apply(n, rw)), None)
                if done is not None:
                    stats[done.kind] += 1
                    found += 1
                    break
        if not found:
            break
        g = ed.finish()
    return g, stats


def fold_patterns(g: Graph) -> Graph:
    """The graph with decomposed LayerNorm, RMSNorm, GELU (erf/tanh), SiLU, softmax, rotary and attention
    subgraphs replaced by the IR's ops (numerically equivalent; names of surviving nodes kept)."""
    return fold_patterns_stats(g)[0]


__all__ = ["MATCHERS", "fold_patterns", "fold_patterns_stats"]
