"""Activation patterns: GELU (erf and tanh forms), SiLU and softmax written out elementwise."""

from __future__ import annotations

import math
from collections.abc import Iterator

from tataa.ir.graph import Node
from tataa.ir.passes.editor import Editor, Rewrite
from tataa.ir.passes.match import close, node_of, orders, product, scalar

SQRT1_2 = math.sqrt(0.5)
SQRT_2_PI = math.sqrt(2 / math.pi)
GELU_CUBIC = 0.044715


def gelu(ed: Editor, root: Node) -> Iterator[Rewrite]:
    """``0.5·x·(1 + erf(x/√2))`` → gelu; ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`` → gelu(tanh)."""
    top = product(ed, root.name, top=True)
    if len(top.factors) != 2 or not close(top.coef, 0.5):
        return
    f0, f1 = top.factors
    for x, a in ((f0, f1), (f1, f0)) if f0 != f1 else ():
        one_plus = node_of(ed, a, "add", private=True)
        if one_plus is None:
            continue
        for e, one in orders(one_plus):
            fn = node_of(ed, e, "erf", "tanh", private=True)
            if fn is None or not close(scalar(ed, one), 1.0):
                continue
            inner = top.internal | {a, e}
            arg = product(ed, fn.inputs[0])
            if fn.op == "erf":
                if arg.factors == [x] and close(arg.coef, SQRT1_2):
                    yield Rewrite("gelu", "gelu", (x,), {}, frozenset(inner | arg.internal))
                continue
            found = _tanh_argument(ed, x, arg.factors, arg.coef)
            if found is not None:
                yield Rewrite("gelu_tanh", "gelu", (x,), {"approximate": "tanh"},
                              frozenset(inner | arg.internal | found))


def _tanh_argument(ed: Editor, x: str, factors: list[str], coef: float) -> set[str] | None:
    """The nodes of ``coef·(c1·x + c3·x³)`` when ``coef·c1 = √(2/π)`` and ``coef·c3 = 0.044715·√(2/π)``."""
    if len(factors) != 1:
        return None
    s = node_of(ed, factors[0], "add", private=True)
    if s is None:
        return None
    for p, q in orders(s):
        lin, cub = product(ed, p), product(ed, q)
        if lin.factors != [x] or cub.factors != [x, x, x]:
            continue
        if close(coef * lin.coef, SQRT_2_PI) and close(coef * cub.coef, SQRT_2_PI * GELU_CUBIC):
            return {factors[0]} | lin.internal | cub.internal
    return None


def silu(ed: Editor, root: Node) -> Iterator[Rewrite]:
    """``x · sigmoid(x)`` → silu(x)."""
    for x, s in orders(root):
        sig = node_of(ed, s, "sigmoid", private=True)
        if sig is not None and sig.inputs[0] == x:
            yield Rewrite("silu", "silu", (x,), {}, frozenset({s}))


def silu_div(ed: Editor, root: Node) -> Iterator[Rewrite]:
    """``x / (1 + exp(-x))`` → silu(x)."""
    x, den = root.inputs
    one_plus = node_of(ed, den, "add", private=True)
    if one_plus is None:
        return
    for e, one in orders(one_plus):
        ex = node_of(ed, e, "exp", private=True)
        if ex is None or not close(scalar(ed, one), 1.0):
            continue
        arg = product(ed, ex.inputs[0])
        if arg.factors == [x] and arg.coef == -1:
            yield Rewrite("silu", "silu", (x,), {}, frozenset({den, e} | arg.internal))


def softmax(ed: Editor, root: Node) -> Iterator[Rewrite]:
    """``exp(x - max(x)) / sum(exp(x - max(x)))`` (or ``* 1/sum``; or without the max) → softmax(x)."""
    if root.op == "div":
        cands = [(root.inputs[0], root.inputs[1], set[str]())]
    else:
        cands = []
        for e, r in orders(root):
            rc = node_of(ed, r, "reciprocal", private=True)
            if rc is not None:
                cands.append((e, rc.inputs[0], {r}))
    for e, s, internal in cands:
        ex = node_of(ed, e, "exp")
        total = node_of(ed, s, "reduce_sum", private=True)
        if ex is None or total is None or total.inputs[0] != e or not total.attr("keepdims"):
            continue
        if len(total.attr("axes")) != 1:
            continue
        rank = ed.types[e].rank
        axis = total.attr("axes")[0] % rank
        inner = internal | {e, s}
        z = ex.inputs[0]
        sub = node_of(ed, z, "sub", private=True)
        mx = sub and node_of(ed, sub.inputs[1], "reduce_max", private=True)
        if sub is not None and mx is not None and mx.inputs[0] == sub.inputs[0] and mx.attr("keepdims") and \
                [a % rank for a in mx.attr("axes")] == [axis]:
            yield Rewrite("softmax", "softmax", (sub.inputs[0],), {"axis": axis - rank},
                          frozenset(inner | {z, sub.inputs[1]}))
        yield Rewrite("softmax", "softmax", (z,), {"axis": axis - rank}, frozenset(inner))


__all__ = ["gelu", "silu", "silu_div", "softmax"]
