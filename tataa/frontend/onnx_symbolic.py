"""Shape arithmetic at import time: ONNX ops on small integer tensors whose entries are symbolic sizes.

``Shape(x) -> Gather -> Unsqueeze -> Concat -> Reshape`` chains compute sizes; the importer evaluates them on sympy
expressions so that Reshape/Expand/Slice/Range/ConstantOfShape/Tile receive (possibly symbolic) attribute shapes.
``fold_symbolic`` returns None when an op or a comparison cannot be decided without run-time data.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

import sympy
from onnx import NodeProto

from tataa.frontend.onnx_context import Ctx
from tataa.frontend.onnx_values import ONNX_TO_DTYPE, Val, known_val, nonneg
from tataa.ir.types import DType

Exprs = tuple[sympy.Expr, ...]
_TRUE, _FALSE = sympy.Integer(1), sympy.Integer(0)


def _bool(b: bool) -> sympy.Expr:
    return _TRUE if b else _FALSE


def _broadcast(vals: Sequence[Exprs], ranks: Sequence[int]) -> tuple[list[Exprs], bool] | None:
    """Entries of rank 0/1 operands repeated to a common length; and whether the result is a scalar."""
    lengths = {len(v) for v, r in zip(vals, ranks, strict=True) if r == 1 and len(v) != 1}
    if len(lengths) > 1:
        return None
    n = lengths.pop() if lengths else 1
    return [v * n if len(v) == 1 else v for v in vals], all(r == 0 for r in ranks)


def _div(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr | None:
    """Integer division truncating toward zero (ONNX Div on integers), when the signs are provable."""
    a_pos, b_pos = nonneg(a), nonneg(b)
    if a_pos is None or b_pos is None or b == 0:
        return None
    q = sympy.floor(sympy.Abs(a) / sympy.Abs(b))
    return sympy.simplify(q if a_pos == b_pos else -q)


def _logic(a: sympy.Expr, b: sympy.Expr, both: bool) -> sympy.Expr | None:
    if not (a.is_Integer and b.is_Integer):
        return None
    return _bool((bool(a) and bool(b)) if both else (bool(a) or bool(b)))


def _compare(a: sympy.Expr, b: sympy.Expr, op: str) -> sympy.Expr | None:
    diff = sympy.expand(a - b)
    if op == "Equal":
        if diff == 0:
            return _TRUE
        return _FALSE if diff.is_nonzero else None
    ge = nonneg(diff)  # a >= b
    le = nonneg(-diff)  # a <= b
    result = {"Less": None if ge is None else not ge, "LessOrEqual": le, "Greater": None if le is None else not le,
              "GreaterOrEqual": ge}[op]
    return None if result is None else _bool(result)


def _max(a: sympy.Expr, b: sympy.Expr, pick_max: bool) -> sympy.Expr | None:
    ge = nonneg(sympy.expand(a - b))
    if ge is None:
        return None
    return (a if ge else b) if pick_max else (b if ge else a)


_ARITH: dict[str, Callable[[sympy.Expr, sympy.Expr], sympy.Expr | None]] = {
    "Add": operator.add,
    "Sub": operator.sub,
    "Mul": operator.mul,
    "Div": _div,
    "Max": lambda a, b: _max(a, b, True),
    "Min": lambda a, b: _max(a, b, False),
    "And": lambda a, b: _logic(a, b, True),
    "Or": lambda a, b: _logic(a, b, False),
}
_COMPARE = ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual")


def fold_symbolic(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val] | None:
    """The outputs of a shape-arithmetic node on symbolically known integers, or None when it cannot be folded."""
    present = [v for v in ins if v is not None]
    if not present or any(v.ints() is None or v.rank > 1 for v in present):
        return None
    op = node.op_type
    vals = [v.ints() if v is not None else None for v in ins]
    fn = _FOLDERS.get(op)
    if fn is None:
        return None
    out = fn(ctx, node, ins, vals)  # type: ignore[arg-type]
    return None if out is None else [out]


def _elementwise(ctx: Ctx, node: NodeProto, ins: Sequence[Val], vals: Sequence[Exprs]) -> Val | None:
    op = node.op_type
    b = _broadcast(vals, [v.rank for v in ins])
    if b is None:
        return None
    cols, scalar = b
    results: list[sympy.Expr] = []
    for items in zip(*cols, strict=True):
        if op in _COMPARE:
            r = _compare(items[0], items[1], op)
        elif op == "Where":
            r = (items[1] if bool(items[0]) else items[2]) if items[0].is_Integer else None
        else:  # Max and Min are variadic; the others binary
            r = items[0]
            for x in items[1:]:
                r = _ARITH[op](r, x) if r is not None else None
        if r is None:
            return None
        results.append(sympy.expand(r) if not isinstance(r, sympy.Integer) else r)
    dtype = DType.BOOL if op in _COMPARE or op in ("And", "Or") else (ins[1].dtype if op == "Where" else ins[0].dtype)
    assert dtype is not None
    return known_val(results, dtype, scalar=scalar)


def _unary(ctx: Ctx, node: NodeProto, ins: Sequence[Val], vals: Sequence[Exprs]) -> Val | None:
    op, x, v = node.op_type, ins[0], vals[0]
    assert x.dtype is not None
    if op in ("Identity", "Squeeze", "Unsqueeze", "Reshape", "Flatten"):
        return _rank_change(ctx, node, ins, vals)
    if op == "Neg":
        return known_val([-e for e in v], x.dtype, scalar=x.rank == 0)
    if op == "Abs":
        signs = [nonneg(e) for e in v]
        if any(s is None for s in signs):
            return None
        return known_val([e if s else -e for e, s in zip(v, signs, strict=True)], x.dtype, scalar=x.rank == 0)
    if op == "Not":
        return known_val([_bool(not bool(e)) for e in v], DType.BOOL, scalar=x.rank == 0)
    if op == "Cast":
        to = ONNX_TO_DTYPE.get(int(ctx.attrs(node).get("to", 0)))
        if to is None or not (to.is_int or to is DType.BOOL):
            return None
        if to is DType.BOOL:
            flags = [None if not (e.is_Integer or e.is_nonzero) else bool(e != 0) for e in v]
            if any(f is None for f in flags):
                return None
            return known_val([_bool(bool(f)) for f in flags], to, scalar=x.rank == 0)
        return known_val(list(v), to, scalar=x.rank == 0)
    return None


def _rank_change(ctx: Ctx, node: NodeProto, ins: Sequence[Val], vals: Sequence[Exprs]) -> Val | None:
    """Identity/Squeeze/Unsqueeze/Reshape/Flatten between scalars and vectors."""
    x, v = ins[0], vals[0]
    assert x.dtype is not None
    op = node.op_type
    if op == "Identity":
        return known_val(list(v), x.dtype, scalar=x.rank == 0)
    if op == "Squeeze":
        return known_val(list(v), x.dtype, scalar=len(v) == 1) if len(v) == 1 else None
    if op == "Unsqueeze":
        return known_val(list(v), x.dtype) if x.rank == 0 else None
    if op == "Reshape":
        target = ins[1].concrete_ints() if len(ins) > 1 and ins[1] is not None else None
        if target is None or len(target) > 1:
            return None
        if len(target) == 0:
            return known_val(list(v), x.dtype, scalar=True) if len(v) == 1 else None
        return known_val(list(v), x.dtype) if target[0] in (-1, len(v)) else None
    return None


def _gather(ctx: Ctx, node: NodeProto, ins: Sequence[Val], vals: Sequence[Exprs]) -> Val | None:
    data, idx = ins[0], ins[1]
    assert data.dtype is not None
    if data.rank != 1:
        return None
    picks = idx.concrete_ints()
    if picks is None:
        return None
    n = len(vals[0])
    if any(not -n <= p < n for p in picks):
        return None
    return known_val([vals[0][p] for p in picks], data.dtype, scalar=idx.rank == 0)


def _slice(ctx: Ctx, node: NodeProto, ins: Sequence[Val], vals: Sequence[Exprs]) -> Val | None:
    data = ins[0]
    assert data.dtype is not None
    if data.rank != 1:
        return None
    parts = [v.concrete_ints() if v is not None else None for v in ins[1:]]
    starts, ends = parts[0], parts[1]
    axes = parts[2] if len(parts) > 2 else None
    steps = parts[3] if len(parts) > 3 else None
    if starts is None or ends is None or len(starts) != 1 or (axes is not None and axes[0] not in (0, -1)):
        return None
    step = steps[0] if steps else 1
    if step == 0:
        return None
    return known_val(list(vals[0][slice(starts[0], ends[0], step)]), data.dtype)


def _concat(ctx: Ctx, node: NodeProto, ins: Sequence[Val], vals: Sequence[Exprs]) -> Val | None:
    if any(v.rank != 1 for v in ins):
        return None
    dt = ins[0].dtype
    assert dt is not None
    return known_val([e for v in vals for e in v], dt)


def _expand(ctx: Ctx, node: NodeProto, ins: Sequence[Val], vals: Sequence[Exprs]) -> Val | None:
    x, shape = ins[0], ins[1].concrete_ints()
    assert x.dtype is not None
    if shape is None or len(shape) > 1:
        return None
    if not shape:
        return known_val(list(vals[0]), x.dtype, scalar=x.rank == 0)
    n = len(vals[0])
    if n != 1 and shape[0] not in (1, n):
        return None
    out = list(vals[0]) * (shape[0] if n == 1 else 1)
    return known_val(out, x.dtype)


_FOLDERS: dict[str, Callable[..., Val | None]] = {
    **{op: _elementwise for op in (*_ARITH, *_COMPARE, "Where")},
    **{op: _unary for op in ("Identity", "Neg", "Abs", "Not", "Cast", "Squeeze", "Unsqueeze", "Reshape")},
    "Gather": _gather,
    "Slice": _slice,
    "Concat": _concat,
    "Expand": _expand,
}

__all__ = ["fold_symbolic"]
