"""Attention-block patterns: scaled dot-product attention and rotary position embedding written out."""

from __future__ import annotations

import math
from collections.abc import Iterator

from tataa.ir.dims import shapes_equal
from tataa.ir.graph import Node
from tataa.ir.passes.editor import Editor, Helper, Ref, Rewrite
from tataa.ir.passes.match import huge_negative, is_causal_mask, node_of, orders, product, scalar


def attention(ed: Editor, root: Node) -> Iterator[Rewrite]:
    """``softmax(q·kᵀ·scale [+ mask | where(mask, ·, -inf)]) · v`` → attention(q, k, v[, mask]).

    The scale may sit on the scores or be split over q and k (torch's SDPA decomposition puts √scale on each);
    a constant mask equal to the causal band becomes ``causal = true``.
    """
    p, v = root.inputs
    guard = _nan_guard(ed, p)
    if guard is not None:
        p, guarded = guard
    sm = node_of(ed, p, "softmax", private=guard is None)
    if sm is None or sm.attr("axis") % sm.type.rank != sm.type.rank - 1:
        return
    for scores, mask, internal in _masked(ed, sm.inputs[0]):
        found = _scaled_scores(ed, scores)
        if found is None:
            continue
        q, k, scale, inner = found
        inputs: tuple[Ref, ...] = (q, k, v)
        sq, sk = ed.types[sm.inputs[0]].shape[-2:]
        causal = mask is not None and is_causal_mask(ed, mask, sq, sk)
        if mask is not None and not causal:
            inputs += (mask,)
        yield Rewrite("attention", "attention", inputs, {"scale": scale, "causal": causal},
                      frozenset(internal | inner | {p} | (guarded if guard is not None else set())))


def _nan_guard(ed: Editor, p: str) -> tuple[str, set[str]] | None:
    """``(probs, internal)`` when ``p = where(isnan(probs), 0, probs)`` (SDPA's safe softmax as exporters write
    it: NaN is tested as ``not(x == x)``), which is what attention does with fully masked rows anyway."""
    w = node_of(ed, p, "where", private=True)
    if w is None:
        return None
    cond, a, b = w.inputs
    probs, zero, negated = (b, a, True) if scalar(ed, a) == 0 else (a, b, False)
    if scalar(ed, zero) != 0:
        return None
    internal = {p}
    if negated:
        inv = node_of(ed, cond, "logical_not", private=True)
        if inv is None:
            return None
        internal.add(cond)
        cond = inv.inputs[0]
    eq = node_of(ed, cond, "equal", private=True)
    if eq is None or eq.inputs != (probs, probs):
        return None
    return probs, internal | {cond}


def _masked(ed: Editor, s: str) -> Iterator[tuple[str, str | None, set[str]]]:
    """``(scores, mask, internal)`` readings of the softmax input: masked by a where / an add, or not at all."""
    n = ed.producer(s)
    if n is not None and ed.private(s):
        fill = scalar(ed, n.inputs[2]) if n.op == "where" else None
        sq, sk = ed.types[s].shape[-2:]
        if fill is not None and (fill == -math.inf or (huge_negative(fill, ed.types[s].dtype.numpy) and
                                                       is_causal_mask(ed, n.inputs[0], sq, sk))):
            yield n.inputs[1], n.inputs[0], {s}
        if n.op == "add":
            for scores, mask in orders(n):
                if ed.types[mask].dtype is ed.types[scores].dtype:
                    yield scores, mask, {s}
    yield s, None, set()


def _scaled_scores(ed: Editor, s: str) -> tuple[str, Ref, float, set[str]] | None:
    """``(q, k, scale, internal)`` when ``s = c·(cq·q) @ (ck·kᵀ)`` with scalar constants c, cq, ck."""
    outer = product(ed, s, top=True)
    if len(outer.factors) != 1:
        return None
    qk = outer.factors[0]
    mm = node_of(ed, qk, "matmul")
    if mm is None:
        return None
    qa, kb = product(ed, mm.inputs[0]), product(ed, mm.inputs[1])
    if len(qa.factors) != 1 or len(kb.factors) != 1:
        return None
    kt = kb.factors[0]
    rank = ed.types[kt].rank
    swap = [*range(rank - 2), rank - 1, rank - 2]
    inner = {s, qk} | outer.internal | qa.internal | kb.internal
    scale = outer.coef * qa.coef * kb.coef
    tr = node_of(ed, kt, "transpose", private=True)
    k: Ref
    if tr is not None:
        src = product(ed, tr.inputs[0])
        if len(src.factors) != 1:
            return None
        perm = [tr.attr("perm")[i] for i in swap]
        scale *= src.coef
        inner |= {kt} | src.internal
        k = src.factors[0] if perm == sorted(perm) else Helper("transpose", (src.factors[0],), {"perm": perm}, "k")
    else:
        k = Helper("transpose", (kt,), {"perm": swap}, "k")
    if not math.isfinite(scale):
        return None
    return qa.factors[0], k, scale, inner


def rotary(ed: Editor, root: Node) -> Iterator[Rewrite]:
    """``x·cos + rotate_half(x)·sin`` → rotary(x, cos, sin), halves or (interleaved) even/odd pairs."""
    for p1, p2 in orders(root):
        m1, m2 = node_of(ed, p1, "mul", private=True), node_of(ed, p2, "mul", private=True)
        if m1 is None or m2 is None:
            continue
        for rot, sin in orders(m2):
            found = _rotated(ed, rot)
            if found is None:
                continue
            x, interleaved, internal = found
            for xx, cos in orders(m1):
                if xx == x:
                    yield Rewrite("rotary", "rotary", (x, cos, sin), {"interleaved": interleaved},
                                  frozenset(internal | {p1, p2, rot}))


def _signed(ed: Editor, v: str, unsqueezed: bool) -> tuple[str, float, set[str]] | None:
    """``(src, sign, internal)`` for ``v = ±src`` (through one reshape, the unsqueeze, when ``unsqueezed``)."""
    internal: set[str] = set()
    sign, reshaped = 1.0, False
    for _ in range(3):
        n = ed.producer(v)
        if n is None or not ed.private(v):
            break
        if unsqueezed and n.op == "reshape" and not reshaped:
            if not shapes_equal(n.type.shape, (*ed.types[n.inputs[0]].shape, 1)):
                return None  # not an unsqueeze of the last axis
            reshaped = True
            internal.add(v)
            v = n.inputs[0]
            continue
        pr = product(ed, v)
        if len(pr.factors) != 1 or pr.factors[0] == v or abs(pr.coef) != 1:
            break
        sign *= pr.coef
        internal |= pr.internal
        v = pr.factors[0]
    if unsqueezed and not reshaped:
        return None
    return v, sign, internal


def _half(ed: Editor, v: str, start: int, end: int, step: int) -> str | None:
    """The sliced value when ``v = x[..., start:end:step]`` on the last axis."""
    s = node_of(ed, v, "slice", private=True)
    if s is None:
        return None
    rank = ed.types[s.inputs[0]].rank
    if [a % rank for a in s.attr("axes")] != [rank - 1] or list(s.attr("starts")) != [start] or \
            list(s.attr("ends")) != [end] or list(s.attr("steps")) != [step]:
        return None
    return s.inputs[0]


def _rotated(ed: Editor, rot: str) -> tuple[str, bool, set[str]] | None:
    """``(x, interleaved, internal)`` when ``rot`` is rotate_half(x) written with slices, neg and concat."""
    interleaved = False
    internal: set[str] = set()
    cat = node_of(ed, rot, "concat")
    if cat is None:
        r = node_of(ed, rot, "reshape")
        cat = r and node_of(ed, r.inputs[0], "concat", private=True)
        if r is None or cat is None:
            return None
        interleaved = True
        internal.add(r.inputs[0])
    if len(cat.inputs) != 2 or cat.attr("axis") % cat.type.rank != cat.type.rank - 1:
        return None
    a, b = (_signed(ed, i, interleaved) for i in cat.inputs)
    if a is None or b is None or a[1] != -1 or b[1] != 1:
        return None
    d = ed.types[rot].shape[-1]
    if not isinstance(d, int) or d % 2:
        return None
    h = d // 2
    if interleaved:
        x_odd, x_even = _half(ed, a[0], 1, d, 2), _half(ed, b[0], 0, d, 2)
        if any(ed.types[i].shape[-1] != 1 for i in cat.inputs):
            return None
    else:
        x_odd, x_even = _half(ed, a[0], h, d, 1), _half(ed, b[0], 0, h, 1)
    if x_odd is None or x_odd != x_even or not shapes_equal(ed.types[x_odd].shape, ed.types[rot].shape):
        return None
    return x_odd, interleaved, internal | a[2] | b[2] | {a[0], b[0]}


__all__ = ["attention", "rotary"]
