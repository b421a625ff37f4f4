"""ONNX converters for elementwise math, comparisons, logic, casts and activations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from onnx import NodeProto

from tataa.frontend.onnx_context import Ctx, Malformed, Unsupported
from tataa.frontend.onnx_lower import cast, dtype_of, ir, need, opt, out_name, scalar
from tataa.frontend.onnx_registry import converter
from tataa.frontend.onnx_values import ONNX_TO_DTYPE, Val, const_val, onnx_type_name
from tataa.ir.types import DType

_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Max": "maximum", "Min": "minimum",
           "Equal": "equal", "Less": "less", "LessOrEqual": "less_equal", "Greater": "greater",
           "GreaterOrEqual": "greater_equal", "And": "logical_and", "Or": "logical_or", "Sum": "add"}
_UNARY = {"Neg": "neg", "Abs": "abs", "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Reciprocal": "reciprocal",
          "Tanh": "tanh", "Erf": "erf", "Sigmoid": "sigmoid", "Not": "logical_not"}


def binary(ctx: Ctx, op: str, a: Val, b: Val, hint: str) -> Val:
    """``op(a, b)`` in the IR with ONNX broadcasting."""
    return ctx.emit(op, [ir(ctx, a), ir(ctx, b)], hint)


@converter(*_BINARY, "Mean")
def convert_binary(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Binary (and variadic Max/Min/Sum/Mean) elementwise ops."""
    op = node.op_type
    args = [v for v in ins if v is not None]
    if not args:
        raise Malformed("needs at least one input")
    if op == "Pow" and args[1].dtype is not args[0].dtype:
        args[1] = cast(ctx, args[1], dtype_of(args[0], "base"), f"{out_name(node)}.exponent")
    if op == "Add" and len(args) == 2:
        fused = _fuse_bias(ctx, node, args)
        if fused is not None:
            return [fused]
    if len(args) == 1:
        return [args[0]]
    ir_op = _BINARY.get(op, "add")
    acc = args[0]
    for i, v in enumerate(args[1:]):
        last = i == len(args) - 2 and op != "Mean"
        acc = binary(ctx, ir_op, acc, v, out_name(node) if last else f"{out_name(node)}.acc")
    if op == "Mean":
        acc = binary(ctx, "div", acc, scalar(ctx, len(args), dtype_of(acc, "input")), out_name(node))
    return [acc]


def _fuse_bias(ctx: Ctx, node: NodeProto, args: list[Val]) -> Val | None:
    """``Add(MatMul(x, W), b)`` with a constant b of shape [N] (leading 1s allowed) -> ``linear(x, W, b)``."""
    for k in (0, 1):
        y, b = args[k], args[1 - k]
        if y.name is None or y.name not in ctx.linears or b.const is None or ctx.uses[node.input[k]] != 1:
            continue
        n = y.shape[-1]
        if b.const.ndim > y.rank or any(d != 1 for d in b.const.shape[:-1]) or b.const.ndim == 0:
            continue
        if b.const.shape[-1] != n or b.dtype is not y.dtype:
            continue
        x, w = ctx.linears[y.name]
        bias = ctx.builder.constant(b.const.reshape(-1), name=b.source or "bias")
        return ctx.emit("linear", [x, w, bias], out_name(node))
    return None


@converter(*_UNARY, "Relu", "IsNaN", "IsInf", "LeakyRelu", "Clip", "Gelu", "Identity", "Dropout")
def convert_unary(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Unary elementwise ops (Identity and inference-mode Dropout pass their input through)."""
    op, x, hint = node.op_type, need(ins, 0, node), out_name(node)
    attrs = ctx.attrs(node)
    dt = dtype_of(x, "input")
    if op in _UNARY:
        return [ctx.emit(_UNARY[op], [ir(ctx, x)], hint)]
    if op == "Identity":
        return [x]
    if op == "Dropout":
        return _dropout(ctx, node, ins, x)
    if op == "Relu":
        if dt.is_float:
            return [ctx.emit("relu", [ir(ctx, x)], hint)]
        return [binary(ctx, "maximum", x, scalar(ctx, 0, dt), hint)]
    if op == "IsNaN":
        same = binary(ctx, "equal", x, x, f"{hint}.eq")
        return [ctx.emit("logical_not", [ir(ctx, same)], hint)]
    if op == "IsInf":
        pos, neg = int(attrs.get("detect_positive", 1)), int(attrs.get("detect_negative", 1))
        if pos and neg:
            return [binary(ctx, "equal", ctx.emit("abs", [ir(ctx, x)], f"{hint}.abs"), scalar(ctx, np.inf, dt), hint)]
        if pos or neg:
            return [binary(ctx, "equal", x, scalar(ctx, np.inf if pos else -np.inf, dt), hint)]
        return [binary(ctx, "less", x, x, hint)]  # detects nothing: all false
    if op == "LeakyRelu":
        alpha = float(attrs.get("alpha", 0.01))
        neg = binary(ctx, "less", x, scalar(ctx, 0, dt), f"{hint}.neg")
        scaled = binary(ctx, "mul", x, scalar(ctx, alpha, dt), f"{hint}.scaled")
        return [ctx.emit("where", [ir(ctx, neg), ir(ctx, scaled), ir(ctx, x)], hint)]
    if op == "Clip":  # an omitted bound is the type's lowest / highest value (so infinities are clipped too)
        info = np.finfo(dt.numpy) if dt.is_float else np.iinfo(dt.numpy)
        lo = opt(ins, 1) or scalar(ctx, info.min, dt)
        hi = opt(ins, 2) or scalar(ctx, info.max, dt)
        return [binary(ctx, "minimum", binary(ctx, "maximum", x, lo, f"{hint}.lo"), hi, hint)]
    if op == "Gelu":
        approx = str(attrs.get("approximate", "none"))
        if approx not in ("none", "tanh"):
            raise Malformed(f"attribute approximate={approx!r}; allowed: none, tanh")
        return [ctx.emit("gelu", [ir(ctx, x)], hint, approximate=approx)]
    raise AssertionError(op)


def _dropout(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None], x: Val) -> list[Val | None]:
    training = opt(ins, 2)
    if training is not None:
        flag = training.concrete_ints()
        if flag is None or any(flag):
            raise Unsupported("training_mode must be a constant false (inference only)")
    if len(node.output) > 1 and node.output[1] and ctx.uses[node.output[1]]:
        mask = ctx.emit("full", [], out_name(node, 1), shape=x.shape, value=1.0, dtype=DType.BOOL)
        return [x, mask]
    return [x]


@converter("Where")
def convert_where(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """``Where(cond, a, b)``."""
    c, a, b = need(ins, 0, node), need(ins, 1, node), need(ins, 2, node)
    return [ctx.emit("where", [ir(ctx, c), ir(ctx, a), ir(ctx, b)], out_name(node))]


@converter("Cast", "CastLike")
def convert_cast(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Element type conversion (``CastLike`` takes the type of its second input)."""
    x = need(ins, 0, node)
    if node.op_type == "CastLike":
        to = dtype_of(need(ins, 1, node), "target")
    else:
        code = int(ctx.attrs(node).get("to", 0))
        to = ONNX_TO_DTYPE.get(code)  # type: ignore[assignment]
        if to is None:
            raise Unsupported(f"cast to {onnx_type_name(code)}, which the IR lacks")
    if x.dtype is to:
        return [x]
    return [ctx.emit("cast", [ir(ctx, x)], out_name(node), dtype=to)]


@converter("Softmax", "LogSoftmax")
def convert_softmax(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Softmax along one axis; LogSoftmax as ``x - max - log(sum(exp(x - max)))``."""
    x, hint = need(ins, 0, node), out_name(node)
    axis = int(ctx.attrs(node).get("axis", -1))
    if not -x.rank <= axis < max(x.rank, 1):
        raise Malformed(f"axis {axis} is out of range for rank {x.rank}")
    if node.op_type == "Softmax":
        return [ctx.emit("softmax", [ir(ctx, x)], hint, axis=axis)]
    ax = axis % x.rank
    mx = ctx.emit("reduce_max", [ir(ctx, x)], f"{hint}.max", axes=(ax,), keepdims=True)
    shifted = binary(ctx, "sub", x, mx, f"{hint}.shift")
    total = ctx.emit("reduce_sum", [ir(ctx, ctx.emit("exp", [ir(ctx, shifted)], f"{hint}.exp"))], f"{hint}.sum",
                     axes=(ax,), keepdims=True)
    return [binary(ctx, "sub", shifted, ctx.emit("log", [ir(ctx, total)], f"{hint}.log"), hint)]


@converter("Constant")
def convert_constant(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """A Constant node (normally folded before this is reached)."""
    outs = ctx.evaluate(node, [])
    return [const_val(outs[0])]


__all__ = ["binary"]
