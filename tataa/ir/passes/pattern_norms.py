"""Normalisation patterns: decomposed LayerNorm and RMSNorm, their affine parameters and surrounding casts."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tataa.ir.dims import shapes_equal
from tataa.ir.graph import Node
from tataa.ir.interp import work_dtype
from tataa.ir.passes.editor import Editor, Helper, NewConst, Ref, Rewrite
from tataa.ir.passes.match import axis_from, node_of, orders, product, scalar
from tataa.ir.types import TensorType


def _denominators(ed: Editor, root: Node) -> Iterator[tuple[str, str, set[str]]]:
    """``(numerator, variance + eps, internal)`` for ``num / sqrt(v)``, ``num * rsqrt(v)``, ``num * 1/sqrt(v)``."""
    if root.op == "div":
        num, den = root.inputs
        s = node_of(ed, den, "sqrt", private=True)
        if s is not None:
            yield num, s.inputs[0], {den}
        return
    for num, r in orders(root):
        rs = node_of(ed, r, "rsqrt", private=True)
        if rs is not None:
            yield num, rs.inputs[0], {r}
        rc = node_of(ed, r, "reciprocal", private=True)
        sq = rc and node_of(ed, rc.inputs[0], "sqrt", private=True)
        if rc is not None and sq is not None:
            yield num, sq.inputs[0], {r, rc.inputs[0]}


def norm_core(ed: Editor, root: Node) -> Iterator[Rewrite]:
    """``x / sqrt(mean(x²) + eps)`` → rms_norm; with ``x = y - mean(y)`` → layer_norm (no affine yet)."""
    for num, ve, internal in _denominators(ed, root):
        add = node_of(ed, ve, "add", private=True)
        if add is None:
            continue
        for var, e in orders(add):
            eps = scalar(ed, e)
            mean = node_of(ed, var, "reduce_mean", private=True)
            if eps is None or eps < 0 or mean is None or not mean.attr("keepdims"):
                continue
            rank = ed.types[num].rank
            axis = axis_from(mean.attr("axes"), rank)
            sq = mean.inputs[0]
            squares = product(ed, sq, top=True)
            if axis is None or not ed.private(sq) or sorted(squares.factors) != [num, num] or squares.coef != 1:
                continue
            inner = internal | {ve, var, sq} | squares.internal
            attrs = {"axis": axis - rank, "eps": eps}
            centred = _centred(ed, num, axis)
            if centred is not None:
                x, more = centred
                yield Rewrite("layer_norm", "layer_norm", (x,), attrs, frozenset(inner | more))
            yield Rewrite("rms_norm", "rms_norm", (num,), attrs, frozenset(inner))


def _centred(ed: Editor, d: str, axis: int) -> tuple[str, set[str]] | None:
    """``(y, internal)`` when ``d = y - mean(y)`` over the same trailing axes."""
    sub = node_of(ed, d, "sub")
    if sub is None:
        return None
    y, m = sub.inputs
    mean = node_of(ed, m, "reduce_mean", private=True)
    if mean is None or mean.inputs[0] != y or not mean.attr("keepdims"):
        return None
    if axis_from(mean.attr("axes"), ed.types[y].rank) != axis or ed.types[y].rank != ed.types[d].rank:
        return None
    return y, {d, m}


def tail_param(ed: Editor, w: str, x: TensorType, axis: int) -> Ref | None:
    """``w`` as a parameter of the normalised shape ``x.shape[axis:]``, reshaped or broadcast when it must be."""
    tail = x.shape[axis:]
    wt = ed.types[w]
    if wt.dtype is not x.dtype:
        return None
    if shapes_equal(wt.shape, tail):
        return w
    shape = list(wt.shape)
    lead = len(shape) - len(tail)
    if lead > 0:
        if any(d != 1 for d in shape[:lead]):
            return None
        shape = shape[lead:]
    padded = [1] * (len(tail) - len(shape)) + shape
    value = ed.value(w)
    static = all(isinstance(d, int) for d in tail)
    if shapes_equal(padded, tail):
        if value is not None and static:
            return NewConst(value.reshape(tail), w)  # type: ignore[arg-type]
        return Helper("reshape", (w,), {"shape": tail}, w)
    if value is not None and static and all(p == 1 or p == t for p, t in zip(padded, tail, strict=True)):
        return NewConst(np.ascontiguousarray(np.broadcast_to(value.reshape(padded), tail)), w)  # type: ignore
    return None


def norm_weight(ed: Editor, root: Node) -> Iterator[Rewrite]:
    """``norm(x) * w`` → norm(x, w) when the norm has no weight yet and ``w`` is a parameter of its shape."""
    for nv, w in orders(root):
        norm = node_of(ed, nv, "layer_norm", "rms_norm", private=True)
        if norm is None or len(norm.inputs) != 1:
            continue
        x = ed.types[norm.inputs[0]]
        param = tail_param(ed, w, x, norm.attr("axis") % x.rank)
        if param is not None:
            yield Rewrite(f"{norm.op}.weight", norm.op, (norm.inputs[0], param), norm.attr_dict, frozenset({nv}))


def norm_bias(ed: Editor, root: Node) -> Iterator[Rewrite]:
    """``layer_norm(x[, w]) + b`` → layer_norm(x, w, b) (a weight of ones when there was none)."""
    for nv, b in orders(root):
        norm = node_of(ed, nv, "layer_norm", private=True)
        if norm is None or len(norm.inputs) == 3:
            continue
        x = ed.types[norm.inputs[0]]
        axis = norm.attr("axis") % x.rank
        param = tail_param(ed, b, x, axis)
        if param is None:
            continue
        if len(norm.inputs) == 2:
            weight: Ref = norm.inputs[1]
        elif all(isinstance(d, int) for d in x.shape[axis:]):
            weight = NewConst(np.ones(x.shape[axis:], dtype=x.dtype.numpy), f"{root.name}.weight")  # type: ignore
        else:
            continue
        yield Rewrite("layer_norm.bias", "layer_norm", (norm.inputs[0], weight, param), norm.attr_dict,
                      frozenset({nv}))


def norm_cast(ed: Editor, root: Node) -> Iterator[Rewrite]:
    """``cast(norm(cast(x, f32)), dtype(x))`` → norm(x): a low-precision norm computes in float32 anyway."""
    norm = node_of(ed, root.inputs[0], "layer_norm", "rms_norm", private=True)
    if norm is None or len(norm.inputs) != 1:
        return
    up = node_of(ed, norm.inputs[0], "cast", private=True)
    if up is None:
        return
    x = ed.types[up.inputs[0]]
    if x.dtype is root.type.dtype and x.dtype.is_float and work_dtype(x.dtype) == up.type.dtype.numpy:
        yield Rewrite(f"{norm.op}.cast", norm.op, (up.inputs[0],), norm.attr_dict,
                      frozenset({root.inputs[0], norm.inputs[0]}))


__all__ = ["norm_bias", "norm_cast", "norm_core", "norm_weight", "tail_param"]
