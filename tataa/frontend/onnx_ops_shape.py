"""ONNX converters that produce shapes and index ranges: Shape, Size, Range, ConstantOfShape."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from onnx import NodeProto, numpy_helper

from tataa.frontend.onnx_context import Ctx, Malformed, Unsupported
from tataa.frontend.onnx_lower import dims_of, ints_of, need, out_name
from tataa.frontend.onnx_registry import converter
from tataa.frontend.onnx_values import Val, const_val, dim_of, dtype_of_numpy, expr_of, known_val, nonneg, numel
from tataa.ir.types import DType


@converter("Shape")
def convert_shape(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """The (possibly symbolic) shape of the input, as known integers (``start``/``end`` as in opset 15)."""
    x = need(ins, 0, node)
    attrs = ctx.attrs(node)
    r = x.rank
    start, end = int(attrs.get("start", 0)), int(attrs.get("end", r))
    start = min(max(start + r if start < 0 else start, 0), r)
    end = min(max(end + r if end < 0 else end, 0), r)
    return [known_val([expr_of(d) for d in x.shape[start:end]], DType.I64)]


@converter("Size")
def convert_size(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """The (possibly symbolic) number of elements of the input."""
    return [known_val([numel(need(ins, 0, node).shape)], DType.I64, scalar=True)]


@converter("Range")
def convert_range(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """``arange`` with a possibly symbolic limit (start and delta must be integers known at import time)."""
    vals = []
    dtypes = set()
    for i, what in enumerate(("start", "limit", "delta")):
        v = need(ins, i, node)
        if v.rank != 0:
            raise Malformed(f"{what} must be a scalar, got shape {list(v.shape)}")
        if v.const is not None and v.const.dtype.kind == "f":
            f = float(v.const)
            if not f.is_integer():
                raise Unsupported(f"{what} {f} is not a whole number while the limit is symbolic")
            vals.append(expr_of(int(f)) if f >= 0 else -expr_of(int(-f)))
        else:
            vals.append(ints_of(v, what)[0])
        dtypes.add(v.dtype)
    start, limit, delta = vals
    if not (start.is_Integer and delta.is_Integer):
        raise Unsupported(f"start {start} and delta {delta} must be known integers")
    if int(delta) <= 0:
        raise Unsupported(f"delta {delta} must be positive when the limit is symbolic")
    dt = need(ins, 0, node).dtype
    if dt is None or len(dtypes) != 1:
        raise Malformed("start, limit and delta must share one element type")
    if not nonneg(limit - start):
        raise Unsupported(f"limit {limit} - start {start} may be negative")
    return [ctx.emit("arange", [], out_name(node), start=int(start), stop=dim_of(limit), step=int(delta), dtype=dt)]


@converter("ConstantOfShape")
def convert_constant_of_shape(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """A tensor of a (possibly symbolic) shape filled with one value."""
    shape = dims_of(need(ins, 0, node), "the shape")
    t = ctx.attrs(node).get("value")
    value = numpy_helper.to_array(t).reshape(-1) if t is not None else np.zeros(1, np.float32)
    if value.size != 1:
        raise Malformed(f"value must hold one element, got {value.size}")
    dt = dtype_of_numpy(value.dtype)
    if dt is None:
        raise Unsupported(f"value of element type {value.dtype}, which the IR lacks")
    v = value[0].item()
    if all(isinstance(d, int) for d in shape):
        return [const_val(np.full(tuple(int(d) for d in shape), value[0], dtype=value.dtype))]  # type: ignore
    if float(v) != v:
        raise Unsupported(f"fill value {v} is not exactly representable as a float attribute")
    return [ctx.emit("full", [], out_name(node), shape=shape, value=float(v), dtype=dt)]


__all__: list[str] = []
