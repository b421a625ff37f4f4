"""Constant folding: evaluate nodes whose inputs are all constants, and apply the algebraic simplifications."""

from __future__ import annotations

import math
from collections import Counter

from tataa.errors import IRError
from tataa.ir.graph import Graph, Node
from tataa.ir.interp import eval_node
from tataa.ir.passes.algebra import simplify
from tataa.ir.passes.editor import Editor

FOLD_LIMIT = 1 << 24
"""Folded results above this many elements are kept as nodes unless they replace at least as big a constant."""

_WEIGHT_USES = {"matmul": 1, "linear": 1}


def constant_fold_stats(g: Graph, limit: int = FOLD_LIMIT) -> tuple[Graph, Counter[str]]:
    """The graph with constant subexpressions evaluated and identities simplified, and counts of what changed.

    Counts are ``fold.<op>`` (a node became a constant) and the simplification rules (``identity.reshape``,
    ``transpose.chain``, ``linear.from_matmul``, ``linear.bias``, ...).
    """
    ed = Editor(g)
    stats: Counter[str] = Counter()
    for name in list(ed.order):
        n = ed.nodes.get(name)
        if n is None:
            continue
        if _fold(ed, n, limit):
            stats[f"fold.{n.op}"] += 1
            continue
        for _ in range(4):  # a rewritten node may simplify further (a transpose chain that became an identity)
            found = simplify(ed, n)
            if found is None:
                break
            rule, result = found
            if isinstance(result, str):
                if name not in ed.output_set:
                    ed.alias(name, result)
                    stats[rule] += 1
                break
            if not ed.apply(n, result):
                break
            stats[rule] += 1
            n = ed.nodes[name]
    return (ed.finish() if stats else g), stats


def _fold(ed: Editor, n: Node, limit: int) -> bool:
    if any(i not in ed.consts for i in n.inputs) or not n.type.is_static:
        return False
    size = math.prod(n.type.shape)  # type: ignore[arg-type]
    if size > limit:
        freed = sum(ed.consts[i].value.size for i in set(n.inputs) if ed.private(i))
        weight = n.op in ("transpose", "reshape") and n.name not in ed.output_set and all(
            ed.nodes[u].op in _WEIGHT_USES and ed.nodes[u].inputs.index(n.name) == _WEIGHT_USES[ed.nodes[u].op]
            for u in ed.users[n.name])
        if size > freed and not weight:
            return False
    try:
        value = eval_node(n, [ed.consts[i].value for i in n.inputs])
    except IRError:
        return False  # left for run time, where the error names the node with real inputs
    ed.to_constant(n.name, value)
    return True


def constant_fold(g: Graph, limit: int = FOLD_LIMIT) -> Graph:
    """Evaluate constant subexpressions (results above ``limit`` elements only when they replace a bigger
    constant or lay out a matmul weight) and simplify identities; ``matmul`` by a constant 2-D weight becomes
    ``linear``, and a following constant bias add joins it."""
    return constant_fold_stats(g, limit)[0]


__all__ = ["FOLD_LIMIT", "constant_fold", "constant_fold_stats"]
