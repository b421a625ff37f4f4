"""ONNX converters for MatMul, Gemm and patch-embedding convolutions."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from onnx import NodeProto

from tataa.frontend.onnx_context import Ctx, Malformed, Unsupported
from tataa.frontend.onnx_lower import dtype_of, ir, need, opt, out_name, reshape, transpose
from tataa.frontend.onnx_ops_math import binary
from tataa.frontend.onnx_registry import converter
from tataa.frontend.onnx_values import Val, const_val, dim_of, expr_of
from tataa.ir.dims import Dim, dims_equal


def _linear(ctx: Ctx, x: Val, w: Val | np.ndarray, bias: np.ndarray | None, hint: str, wname: str) -> Val:
    """``linear(x, w[, bias])`` with a constant [K, N] weight; a bias-free one may absorb a following Add."""
    wv = w if isinstance(w, Val) else const_val(np.ascontiguousarray(w))
    wn = ctx.ir(wv, wv.source or wname)
    xn = ir(ctx, x)
    if bias is None:
        out = ctx.emit("linear", [xn, wn], hint)
        ctx.linears[out.name] = (xn, wn)  # type: ignore[index]
        return out
    bn = ctx.ir(const_val(np.ascontiguousarray(bias)), f"{wname}.bias")
    return ctx.emit("linear", [xn, wn, bn], hint)


def _check_inner(a: Sequence[Dim], b: Sequence[Dim]) -> None:
    ka = a[-1]
    kb = b[-2] if len(b) >= 2 else b[0]
    if not dims_equal(ka, kb):
        raise Malformed(f"inner dimensions differ: {list(a)} @ {list(b)} ({ka} != {kb})")


@converter("MatMul")
def convert_matmul(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """A constant 2-D right operand makes a ``linear``; otherwise a ``matmul`` (1-D operands promoted)."""
    a, b, hint = need(ins, 0, node), need(ins, 1, node), out_name(node)
    if a.rank == 0 or b.rank == 0:
        raise Malformed("MatMul operands must have rank >= 1")
    _check_inner(a.shape, b.shape)
    if b.const is not None and b.rank == 2:
        return [_linear(ctx, a, b, None, hint, "weight")]
    if b.const is not None and b.rank == 1:
        y = _linear(ctx, a, b.const.reshape(-1, 1), None, f"{hint}.col", b.source or "weight")
        return [reshape(ctx, y, y.shape[:-1], hint)]
    a2 = reshape(ctx, a, (1, *a.shape), f"{hint}.row") if a.rank == 1 else a
    b2 = reshape(ctx, b, (*b.shape, 1), f"{hint}.col") if b.rank == 1 else b
    final = a.rank > 1 and b.rank > 1
    y = ctx.emit("matmul", [ir(ctx, a2), ir(ctx, b2)], hint if final else f"{hint}.mm")
    if a.rank == 1:
        y = reshape(ctx, y, (*y.shape[:-2], y.shape[-1]), hint if b.rank > 1 else f"{hint}.r")
    if b.rank == 1:
        y = reshape(ctx, y, y.shape[:-1], hint)
    return [y]


@converter("Gemm")
def convert_gemm(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """``alpha * A' @ B' + beta * C``; a constant B becomes a linear weight (C a bias when it is a row)."""
    a, b, c, hint = need(ins, 0, node), need(ins, 1, node), opt(ins, 2), out_name(node)
    attrs = ctx.attrs(node)
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    ta, tb = int(attrs.get("transA", 0)), int(attrs.get("transB", 0))
    if a.rank != 2 or b.rank != 2:
        raise Malformed(f"Gemm needs 2-D operands, got {list(a.shape)} and {list(b.shape)}")
    a2 = transpose(ctx, a, (1, 0), f"{hint}.At") if ta else a
    dt = dtype_of(a, "A")
    if b.const is not None:
        w = b.const.T if tb else b.const
        _check_inner(a2.shape, w.shape)
        if alpha != 1.0:
            w = (w * np.asarray(alpha, dtype=w.dtype)).astype(w.dtype)
        n = w.shape[1]
        bias = None
        if c is not None and c.const is not None and beta != 0.0 and _is_row(c.const, n):
            bias = np.broadcast_to(c.const.reshape(-1), (n,)) * np.asarray(beta, dtype=c.const.dtype)
            c = None
        wv: Val | np.ndarray = b if (not tb and alpha == 1.0) else w
        y = _linear(ctx, a2, wv, None if bias is None else bias.astype(w.dtype), hint if c is None else f"{hint}.ab",
                    b.source or "weight")
    else:
        b2 = transpose(ctx, b, (1, 0), f"{hint}.Bt") if tb else b
        _check_inner(a2.shape, b2.shape)
        y = ctx.emit("matmul", [ir(ctx, a2), ir(ctx, b2)], f"{hint}.ab" if (alpha != 1.0 or c is not None) else hint)
        if alpha != 1.0:
            y = binary(ctx, "mul", y, const_val(np.array(alpha, dt.numpy)), f"{hint}.alpha" if c is not None else hint)
    if c is not None and beta != 0.0:
        cc = c if beta == 1.0 else binary(ctx, "mul", c, const_val(np.array(beta, dt.numpy)), f"{hint}.beta")
        y = binary(ctx, "add", y, cc, hint)
    return [y]


def _is_row(c: np.ndarray, n: int) -> bool:
    """Whether C broadcasts along rows only (scalar, [N], [1, N], [1])."""
    if c.ndim == 0:
        return True
    if c.ndim == 1:
        return c.shape[0] in (1, n)
    return c.ndim == 2 and c.shape[0] == 1 and c.shape[1] in (1, n)


@converter("Conv")
def convert_conv(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """A patch embedding (kernel == stride, no padding, no dilation, group 1) as reshape/transpose + linear."""
    x, w, b, hint = need(ins, 0, node), need(ins, 1, node), opt(ins, 2), out_name(node)
    if w.const is None:
        raise Unsupported("the weight is not a constant")
    if b is not None and b.const is None:
        raise Unsupported("the bias is not a constant")
    attrs = ctx.attrs(node)
    n = w.rank - 2
    if n < 1 or x.rank != n + 2:
        raise Malformed(f"input {list(x.shape)} and weight {list(w.shape)} ranks do not match")
    kernel = [int(k) for k in attrs.get("kernel_shape", w.const.shape[2:])]
    strides = [int(s) for s in attrs.get("strides", [1] * n)]
    pads = [int(p) for p in attrs.get("pads", [0] * 2 * n)]
    dil = [int(d) for d in attrs.get("dilations", [1] * n)]
    group, auto_pad = int(attrs.get("group", 1)), str(attrs.get("auto_pad", "NOTSET"))
    why = []
    if group != 1:
        why.append(f"group={group}")
    if any(pads) or auto_pad not in ("NOTSET", "VALID"):
        why.append(f"padding {pads} / auto_pad={auto_pad}")
    if any(d != 1 for d in dil):
        why.append(f"dilations {dil}")
    if strides != kernel:
        why.append(f"strides {strides} != kernel {kernel}")
    if why:
        raise Unsupported("only patch-embedding convolutions are supported (kernel == stride, no padding, "
                          "no dilation, group 1); this one has " + ", ".join(why))
    cout, cin = int(w.const.shape[0]), int(w.const.shape[1])
    if not dims_equal(x.shape[1], cin):
        raise Malformed(f"input has {x.shape[1]} channels, the weight expects {cin}")
    spatial = x.shape[2:]
    outs: list[Dim] = []
    for s, k in zip(spatial, kernel, strict=True):
        if isinstance(s, int):
            outs.append(s // k)
            continue
        q = expr_of(s) / k
        if not q.is_integer:
            raise Unsupported(f"symbolic spatial size {s} is not provably a multiple of the kernel {k}")
        outs.append(dim_of(q))
    xs = x
    if any(isinstance(s, int) and s % k for s, k in zip(spatial, kernel, strict=True)):
        ends = tuple(o * k if isinstance(o, int) else s for o, s, k in zip(outs, spatial, kernel, strict=True))
        xs = ctx.emit("slice", [ir(ctx, x)], f"{hint}.crop", axes=tuple(range(2, 2 + n)), starts=(0,) * n,
                      ends=ends, steps=(1,) * n)
    batch = x.shape[0]
    split = (batch, cin, *[d for o, k in zip(outs, kernel, strict=True) for d in (o, k)])
    patches = reshape(ctx, xs, split, f"{hint}.patches")
    perm = (0, *[2 + 2 * i for i in range(n)], 1, *[3 + 2 * i for i in range(n)])
    patches = transpose(ctx, patches, perm, f"{hint}.patches_t")
    k_all = cin * math.prod(kernel)
    rows = reshape(ctx, patches, (batch, *outs, k_all), f"{hint}.rows")
    wmat = w.const.reshape(cout, k_all).T
    bias = None if b is None else b.const.reshape(-1)  # type: ignore[union-attr]
    y = _linear(ctx, rows, wmat, bias, f"{hint}.linear", w.source or "weight")
    return [transpose(ctx, y, (0, n + 1, *range(1, n + 1)), hint)]


__all__: list[str] = []
