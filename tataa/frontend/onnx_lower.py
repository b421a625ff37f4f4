"""Small lowering helpers shared by the ONNX op converters (reshape, cast, axes, constant access)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy
from onnx import NodeProto

from tataa.frontend.onnx_context import Ctx, Malformed, Unsupported
from tataa.frontend.onnx_values import Val, const_val, dim_of
from tataa.ir.dims import Dim, shapes_equal
from tataa.ir.types import DType


def out_name(node: NodeProto, i: int = 0) -> str:
    """The hint for the IR value of a node's i-th output (its ONNX name)."""
    return node.output[i] if i < len(node.output) and node.output[i] else f"{node.op_type}_out{i}"


def need(ins: Sequence[Val | None], i: int, node: NodeProto) -> Val:
    """Input i, which the op requires."""
    if i >= len(ins) or ins[i] is None:
        raise Malformed(f"required input #{i} is missing")
    return ins[i]  # type: ignore[return-value]


def opt(ins: Sequence[Val | None], i: int) -> Val | None:
    """Optional input i (None when omitted)."""
    return ins[i] if i < len(ins) else None


def ints_of(v: Val, what: str) -> tuple[sympy.Expr, ...]:
    """The (possibly symbolic) entries of a small integer input; Unsupported when only known at run time."""
    vals = v.ints()
    if vals is None:
        raise Unsupported(f"{what} is computed from run-time data (data-dependent shape)")
    return vals


def concrete_of(v: Val, what: str) -> tuple[int, ...]:
    """The entries of a small integer input as ints; Unsupported when symbolic or only known at run time."""
    vals = ints_of(v, what)
    if not all(e.is_Integer for e in vals):
        raise Unsupported(f"{what} must be known at import time, got {[str(e) for e in vals]}")
    return tuple(int(e) for e in vals)


def dims_of(v: Val, what: str) -> tuple[Dim, ...]:
    """A shape input as IR dimensions (symbolic entries allowed; negative entries are an error)."""
    out = []
    for e in ints_of(v, what):
        if e.is_Integer and int(e) < 0:
            raise Malformed(f"{what} has a negative entry {int(e)}")
        out.append(dim_of(e))
    return tuple(out)


def norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    """An axis in [0, rank); Malformed when out of range."""
    if not -rank <= axis < max(rank, 1):
        raise Malformed(f"{what} {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def axes_arg(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None], index: int, rank: int) -> tuple[int, ...] | None:
    """Axes given as input ``index`` (newer opsets) or as the ``axes`` attribute; None when absent."""
    a = opt(ins, index)
    if a is not None:
        axes = concrete_of(a, "axes")
    else:
        attr = ctx.attrs(node).get("axes")
        if attr is None:
            return None
        axes = tuple(int(x) for x in attr)
    out = tuple(norm_axis(x, rank, "axes entry") for x in axes)
    if len(set(out)) != len(out):
        raise Malformed(f"axes {list(axes)} repeat an axis")
    return out


def ir(ctx: Ctx, v: Val) -> str:
    """The IR name of a value (materialising constants)."""
    return ctx.ir(v, v.source or "const")


def reshape(ctx: Ctx, v: Val, shape: Sequence[Dim], hint: str) -> Val:
    """``v`` reshaped (no node when the shape is unchanged; folded when constant)."""
    shape = tuple(shape)
    if len(shape) == v.rank and shapes_equal(shape, v.shape):
        return v
    if v.const is not None and all(isinstance(d, int) for d in shape):
        return const_val(v.const.reshape(shape))  # type: ignore[arg-type]
    return ctx.emit("reshape", [ir(ctx, v)], hint, shape=shape)


def transpose(ctx: Ctx, v: Val, perm: Sequence[int], hint: str) -> Val:
    """``v`` with its axes permuted (no node for the identity permutation)."""
    perm = tuple(perm)
    if perm == tuple(range(v.rank)):
        return v
    if v.const is not None:
        return const_val(np.transpose(v.const, perm))
    return ctx.emit("transpose", [ir(ctx, v)], hint, perm=perm)


def cast(ctx: Ctx, v: Val, dtype: DType, hint: str) -> Val:
    """``v`` converted to ``dtype`` (folded when constant)."""
    if v.dtype is dtype:
        return v
    if v.const is not None:
        return const_val(v.const.astype(dtype.numpy))
    return ctx.emit("cast", [ir(ctx, v)], hint, dtype=dtype)


def scalar(ctx: Ctx, value: float, dtype: DType) -> Val:
    """A scalar constant of an element type."""
    return const_val(np.array(value, dtype=dtype.numpy))


def dtype_of(v: Val, what: str) -> DType:
    """The IR element type of a value; Unsupported when the IR has none."""
    if v.dtype is None:
        t = v.const.dtype if v.const is not None else "?"
        raise Unsupported(f"{what} has element type {t}, which the IR lacks")
    return v.dtype


__all__ = ["axes_arg", "cast", "concrete_of", "dims_of", "dtype_of", "ints_of", "ir", "need", "norm_axis", "opt",
           "out_name", "reshape", "scalar", "transpose"]
