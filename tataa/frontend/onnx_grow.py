"""Position tables: values that depend only on a symbolic size and grow along one axis with it.

``cos(arange(seq)[:, None] * inv_freq)`` cannot be computed by the IR (it has no cos), but its row i does not depend
on ``seq``. Such values are tracked structurally here (a :class:`Grow` on the output of each node whose inputs are
constants or growing values, when the op provably keeps every position's entries independent of the size), so that
an op the IR lacks can be tabulated at import time for a large size and sliced to the run-time length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
from onnx import NodeProto

from tataa.frontend.onnx_context import Ctx
from tataa.frontend.onnx_values import HUGE, Grow, Val, const_val, expr_of, numel, static_numel, symbols_of

ELEMENTWISE = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Less", "LessOrEqual", "Greater",
    "GreaterOrEqual", "And", "Or", "Xor", "Not", "Where", "Cast", "CastLike", "Neg", "Abs", "Exp", "Log", "Sqrt",
    "Reciprocal", "Tanh", "Erf", "Sigmoid", "Relu", "Identity", "IsNaN", "IsInf", "Clip", "Gelu", "LeakyRelu",
    "Cos", "Sin", "Tan", "Acos", "Asin", "Atan", "Cosh", "Sinh", "Asinh", "Acosh", "Atanh", "Floor", "Ceil", "Round",
    "Sign", "Softplus", "Softsign", "Mod",
})
"""Ops whose output at a position depends only on the inputs at the same (broadcast) position."""

TABLE_OPS = frozenset({"Cos", "Sin", "Tan", "Acos", "Asin", "Atan", "Cosh", "Sinh", "Asinh", "Acosh", "Atanh",
                       "Floor", "Ceil", "Round", "Sign", "Softplus", "Softsign", "Mod"})
"""Elementwise ops the IR cannot express; on a growing value they become a sliced import-time table."""

_RESHAPES = frozenset({"Reshape", "Unsqueeze", "Squeeze", "Flatten"})


def _growing_axis(v: Val) -> tuple[int, str] | None:
    """The single symbolic axis of a shape and its one symbol, when every other dimension is static."""
    found = None
    for i, d in enumerate(v.shape):
        if isinstance(d, int):
            continue
        syms = symbols_of(expr_of(d))
        if found is not None or len(syms) != 1:
            return None
        found = (i, next(iter(syms)))
    return found


def _aligned(v: Val, out_rank: int) -> int | None:
    return None if v.grow is None else v.grow.axis + out_rank - v.rank


def _ok_inputs(ins: Sequence[Val | None], sym: str, shape_inputs: frozenset[int]) -> bool:
    """Every input is a constant, a value growing with ``sym``, or (at ``shape_inputs``) integers in ``sym``."""
    for i, v in enumerate(ins):
        if v is None or v.const is not None:
            continue
        if v.grow is not None:
            if v.grow.symbol != sym:
                return False
            continue
        vals = v.ints()
        if i in shape_inputs and vals is not None and all(symbols_of(e) <= {sym} for e in vals):
            continue
        return False
    return True


def _keeps_position(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None], out: Val, axis: int) -> bool:
    """Whether the op maps position i of its growing input(s) to position i of the output along ``axis``."""
    op = node.op_type
    growing = [(k, v) for k, v in enumerate(ins) if v is not None and v.grow is not None]
    if op in ELEMENTWISE:
        return bool(growing) and all(_aligned(v, out.rank) == axis for _, v in growing)
    if op == "Range":
        return True
    if op == "ConstantOfShape":
        return True
    if op == "Expand":
        x = ins[0]
        return x is not None and (x.grow is None or _aligned(x, out.rank) == axis)
    if op in _RESHAPES:
        x = ins[0]
        if x is None or x.grow is None:
            return False
        a = x.grow.axis
        return (static_numel(x.shape[:a]) == static_numel(out.shape[:axis])
                and static_numel(x.shape[a + 1:]) == static_numel(out.shape[axis + 1:]))
    if op == "Transpose":
        x = ins[0]
        perm = [int(p) for p in ctx.attrs(node).get("perm", range(out.rank - 1, -1, -1))]
        return x is not None and x.grow is not None and perm[axis] == x.grow.axis
    if op == "Concat":
        cat = int(ctx.attrs(node).get("axis", 0)) % out.rank
        return cat != axis and all(v is not None and v.grow is not None and v.grow.axis == axis for v in ins)
    if op == "Slice":
        return _slice_keeps(ins)
    if op == "CumSum":
        x = ins[0]
        return x is not None and x.grow is not None and x.grow.axis == axis and not (
            int(ctx.attrs(node).get("reverse", 0)))
    if op == "Gather":
        data, idx = ins[0], ins[1]
        g_axis = int(ctx.attrs(node).get("axis", 0))
        if data is None or idx is None:
            return False
        g_axis %= data.rank
        if data.grow is None and idx.grow is not None:
            return axis == g_axis + idx.grow.axis
        if data.grow is not None and idx.grow is None:
            a = data.grow.axis
            return a != g_axis and axis == (a if a < g_axis else a + idx.rank - 1)
        return False
    if op == "MatMul":
        return _matmul_keeps(ins, out, axis)
    return False


def _slice_keeps(ins: Sequence[Val | None]) -> bool:
    """Starts and steps known and non-negative: entry i of the result is a fixed entry of the input."""
    starts = ins[1].concrete_ints() if len(ins) > 1 and ins[1] is not None else None
    steps = ins[4].concrete_ints() if len(ins) > 4 and ins[4] is not None else (1,)
    return starts is not None and steps is not None and all(0 <= s < HUGE for s in starts) and all(
        s > 0 for s in steps)


def _matmul_keeps(ins: Sequence[Val | None], out: Val, axis: int) -> bool:
    a, b = ins[0], ins[1]
    if a is None or b is None or a.rank < 2 or b.rank < 2:
        return False
    if a.grow is not None and b.grow is None:
        return a.grow.axis != a.rank - 1 and _aligned(a, out.rank) == axis
    if b.grow is not None and a.grow is None:
        return b.grow.axis == b.rank - 1 and axis == out.rank - 1
    return False


_SHAPE_INPUTS: dict[str, frozenset[int]] = {
    "Slice": frozenset({2}), "Range": frozenset({0, 1, 2}), "Expand": frozenset({1}), "Reshape": frozenset({1}),
    "ConstantOfShape": frozenset({0}),
}
"""Inputs that may hold integers in the growing symbol (a size), per op."""


def attach_grow(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None], outs: list[Val | None]) -> list[Val | None]:
    """The outputs with a :class:`Grow` attached where the op keeps positions independent of the size."""
    if node.domain not in ("", "ai.onnx") or len(outs) != 1 or outs[0] is None or outs[0].const is not None:
        return outs
    out = outs[0]
    found = _growing_axis(out)
    if found is None:
        return outs
    axis, sym = found
    if not _ok_inputs(ins, sym, _SHAPE_INPUTS.get(node.op_type, frozenset())):
        return outs
    if not _keeps_position(ctx, node, ins, out, axis):
        return outs
    return [replace(out, grow=Grow(axis, sym, _thunk(ctx, node, ins)))]


def _value_at(v: Val | None, n: int) -> np.ndarray | None:
    """An input of a growing computation evaluated with its symbol bound to n."""
    if v is None:
        return None
    if v.const is not None:
        return v.const
    if v.grow is not None:
        return v.grow.thunk(n)
    vals = v.ints()
    assert vals is not None and v.dtype is not None
    arr = np.array([int(e.subs({s: n for s in e.free_symbols})) for e in vals], dtype=v.dtype.numpy)
    return arr.reshape(()) if v.rank == 0 else arr


def _thunk(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> Callable[[int], np.ndarray]:
    memo: dict[int, np.ndarray] = {}

    def thunk(n: int) -> np.ndarray:
        if n not in memo:
            memo.clear()
            memo[n] = ctx.evaluate(node, [_value_at(v, n) for v in ins])[0]
        return memo[n]

    return thunk


def tabulate(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None], hint: str) -> Val | None:
    """An elementwise op the IR lacks, applied to growing values and constants: its table for the size
    ``ctx.max_dim``, sliced to the run-time length; None when the inputs do not allow it."""
    growing = [v for v in ins if v is not None and v.grow is not None]
    if not growing or any(v is not None and v.const is None and v.grow is None for v in ins):
        return None
    ref = growing[0]
    g = ref.grow
    assert g is not None
    if any(v.grow is None or v.grow.symbol != g.symbol for v in growing):
        return None
    n = ctx.max_dim
    table = ctx.evaluate(node, [_value_at(v, n) for v in ins])[0]
    axis = g.axis + table.ndim - ref.rank
    length = ref.shape[g.axis]
    expected = int(numel([length]).subs({s: n for s in expr_of(length).free_symbols}))
    if axis < 0 or table.shape[axis] != expected:
        return None
    tv = const_val(np.ascontiguousarray(table))
    return ctx.emit("slice", [ctx.ir(tv, f"{hint}.table")], hint, axes=(axis,), starts=(0,), ends=(length,),
                    steps=(1,))


__all__ = ["ELEMENTWISE", "TABLE_OPS", "attach_grow", "tabulate"]
