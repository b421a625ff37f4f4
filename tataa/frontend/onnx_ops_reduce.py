"""ONNX converters for reductions, normalisations, CumSum and Trilu."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from onnx import NodeProto

from tataa.frontend.onnx_context import Ctx, Malformed, Unsupported
from tataa.frontend.onnx_lower import axes_arg, concrete_of, dtype_of, ir, need, norm_axis, opt, out_name, scalar
from tataa.frontend.onnx_ops_math import binary
from tataa.frontend.onnx_registry import converter
from tataa.frontend.onnx_values import Val, const_val, dim_of, expr_of
from tataa.ir.dims import shapes_equal
from tataa.ir.types import DType

_REDUCE = {"ReduceSum": "reduce_sum", "ReduceMean": "reduce_mean", "ReduceMax": "reduce_max",
           "ReduceMin": "reduce_min", "ReduceSumSquare": "reduce_sum", "ReduceL1": "reduce_sum",
           "ReduceL2": "reduce_sum"}


@converter(*_REDUCE)
def convert_reduce(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Reductions over axes given as attribute (older opsets) or input; SumSquare/L1/L2 composed from sum."""
    x, hint, op = need(ins, 0, node), out_name(node), node.op_type
    attrs = ctx.attrs(node)
    keepdims = bool(int(attrs.get("keepdims", 1)))
    axes = axes_arg(ctx, node, ins, 1, x.rank)
    if not axes:
        if int(attrs.get("noop_with_empty_axes", 0)):
            return [x]
        axes = tuple(range(x.rank))
    if not axes:  # a scalar reduced over nothing
        return [x]
    src = x
    if op == "ReduceSumSquare" or op == "ReduceL2":
        src = binary(ctx, "mul", x, x, f"{hint}.sq")
    elif op == "ReduceL1":
        src = ctx.emit("abs", [ir(ctx, x)], f"{hint}.abs")
    last = op != "ReduceL2"
    out = ctx.emit(_REDUCE[op], [ir(ctx, src)], hint if last else f"{hint}.sum", axes=axes, keepdims=keepdims)
    if op == "ReduceL2":
        out = ctx.emit("sqrt", [ir(ctx, out)], hint)
    return [out]


def _norm_param(ctx: Ctx, v: Val | None, x: Val, axis: int, what: str, hint: str) -> str | None:
    """A LayerNorm scale/bias as a tensor of exactly the normalised shape (constants broadcast at import)."""
    if v is None:
        return None
    tail = x.shape[axis:]
    if v.rank == len(tail) and shapes_equal(v.shape, tail):
        return ir(ctx, v)
    if v.const is not None and all(isinstance(d, int) for d in tail):
        try:
            arr = np.broadcast_to(v.const, tuple(int(d) for d in tail))  # type: ignore[arg-type]
        except ValueError:
            raise Malformed(f"{what} shape {list(v.const.shape)} does not broadcast to {list(tail)}") from None
        return ctx.builder.constant(np.ascontiguousarray(arr), name=v.source or hint)
    raise Unsupported(f"{what} of shape {list(v.shape)} differs from the normalised shape {list(tail)}")


@converter("LayerNormalization", "SimplifiedLayerNormalization")
@converter("SimplifiedLayerNormalization", domain="com.microsoft")
def convert_layer_norm(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """LayerNormalization -> layer_norm; SimplifiedLayerNormalization (RMS norm) -> rms_norm."""
    x, hint = need(ins, 0, node), out_name(node)
    attrs = ctx.attrs(node)
    axis = norm_axis(int(attrs.get("axis", -1)), x.rank)
    eps = float(attrs.get("epsilon", 1e-5))
    for i, o in enumerate(node.output[1:], start=1):
        if o and ctx.uses[o]:
            raise Unsupported(f"output #{i} (mean / inverse std) is used; only the normalised output is supported")
    rms = node.op_type == "SimplifiedLayerNormalization"
    params = [_norm_param(ctx, opt(ins, 1), x, axis, "scale", f"{hint}.scale")]
    if not rms:
        params.append(_norm_param(ctx, opt(ins, 2), x, axis, "bias", f"{hint}.bias"))
    names = [ir(ctx, x)] + [p for p in params if p is not None]
    if params[0] is None and len(params) > 1 and params[1] is not None:
        raise Malformed("bias without scale")
    return [ctx.emit("rms_norm" if rms else "layer_norm", names, hint, axis=axis, eps=eps)]


@converter("CumSum")
def convert_cumsum(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Inclusive prefix sums; ``exclusive`` shifts by one, ``reverse`` flips a static axis."""
    x, hint = need(ins, 0, node), out_name(node)
    axes = concrete_of(need(ins, 1, node), "axis")
    if len(axes) != 1:
        raise Malformed(f"axis must hold one value, got {list(axes)}")
    axis = norm_axis(axes[0], x.rank)
    attrs = ctx.attrs(node)
    exclusive, reverse = int(attrs.get("exclusive", 0)), int(attrs.get("reverse", 0))
    size = x.shape[axis]
    src = x
    if reverse:
        if not isinstance(size, int):
            raise Unsupported(f"reverse=1 along an axis of symbolic size {size}")
        src = _flip(ctx, x, axis, size, f"{hint}.flip")
    out = ctx.emit("cumsum", [ir(ctx, src)], hint if not (exclusive or reverse) else f"{hint}.inclusive", axis=axis)
    if exclusive:
        out = _shift_right(ctx, out, axis, hint if not reverse else f"{hint}.exclusive")
    if reverse:
        out = _flip(ctx, out, axis, size, hint)  # type: ignore[arg-type]
    return [out]


def _flip(ctx: Ctx, x: Val, axis: int, size: int, hint: str) -> Val:
    idx = const_val(np.arange(size - 1, -1, -1, dtype=np.int64))
    return ctx.emit("gather", [ir(ctx, x), ir(ctx, idx)], hint, axis=axis)


def _shift_right(ctx: Ctx, x: Val, axis: int, hint: str) -> Val:
    """``concat(0, x[:-1])`` along ``axis``: exclusive prefix sums from inclusive ones, exactly."""
    dt = dtype_of(x, "input")
    zshape = tuple(1 if i == axis else d for i, d in enumerate(x.shape))
    zero = ctx.emit("full", [], f"{hint}.zero", shape=zshape, value=0.0, dtype=dt)
    end = x.shape[axis]
    if isinstance(end, int) and end == 0:
        return x
    head = ctx.emit("slice", [ir(ctx, x)], f"{hint}.head", axes=(axis,), starts=(0,),
                    ends=(dim_of(expr_of(end) - 1),), steps=(1,))
    return ctx.emit("concat", [zero.name, head.name], hint, axis=axis)  # type: ignore[list-item]


@converter("Trilu")
def convert_trilu(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Upper/lower triangle of the last two axes: ``where(col - row >= k, x, 0)`` (or ``<= k``)."""
    x, hint = need(ins, 0, node), out_name(node)
    if x.rank < 2:
        raise Malformed(f"input rank {x.rank} < 2")
    kv = opt(ins, 1)
    k = concrete_of(kv, "k")[0] if kv is not None else 0
    upper = bool(int(ctx.attrs(node).get("upper", 1)))
    rows, cols = x.shape[-2], x.shape[-1]
    dt = dtype_of(x, "input")
    if isinstance(rows, int) and isinstance(cols, int):
        mask = np.triu(np.ones((rows, cols), bool), k) if upper else np.tril(np.ones((rows, cols), bool), k)
        keep = const_val(mask)
    else:
        r = ctx.emit("arange", [], f"{hint}.rows", start=0, stop=rows, step=1, dtype=DType.I64)
        c = ctx.emit("arange", [], f"{hint}.cols", start=0, stop=cols, step=1, dtype=DType.I64)
        r2 = ctx.emit("reshape", [r.name], f"{hint}.rows2", shape=(rows, 1))  # type: ignore[list-item]
        diff = binary(ctx, "sub", c, r2, f"{hint}.diag")
        keep = binary(ctx, "greater_equal" if upper else "less_equal", diff, scalar(ctx, k, DType.I64), f"{hint}.keep")
    zero = scalar(ctx, 0, dt) if dt is not DType.BOOL else const_val(np.array(False))
    return [ctx.emit("where", [ir(ctx, keep), ir(ctx, x), ir(ctx, zero)], hint)]


__all__: list[str] = []
