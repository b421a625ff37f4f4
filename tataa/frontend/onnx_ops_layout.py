"""ONNX converters for data movement: reshapes, transposes, slices, concatenation, splits, gathers and tiling."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import sympy
from onnx import NodeProto

from tataa.frontend.onnx_context import Ctx, Malformed, Unsupported
from tataa.frontend.onnx_lower import (
    axes_arg,
    concrete_of,
    dims_of,
    dtype_of,
    ints_of,
    ir,
    need,
    norm_axis,
    opt,
    out_name,
    reshape,
    transpose,
)
from tataa.frontend.onnx_ops_math import binary
from tataa.frontend.onnx_registry import converter
from tataa.frontend.onnx_values import HUGE, Val, const_val, dim_of, expr_of, nonneg, numel
from tataa.ir.dims import Dim, dims_equal
from tataa.ir.ops import broadcast_shapes
from tataa.ir.types import DType


@converter("Reshape")
def convert_reshape(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Reshape with ONNX's 0 (copy the input dim, unless allowzero) and -1 (inferred) entries."""
    x, hint = need(ins, 0, node), out_name(node)
    target = ints_of(need(ins, 1, node), "the target shape")
    allowzero = bool(int(ctx.attrs(node).get("allowzero", 0)))
    out: list[Dim | None] = []
    infer_at = None
    for i, e in enumerate(target):
        if e.is_Integer and int(e) == 0 and not allowzero:
            if i >= x.rank:
                raise Malformed(f"shape entry {i} is 0 (copy) but the input has rank {x.rank}")
            out.append(x.shape[i])
        elif e.is_Integer and int(e) == -1:
            if infer_at is not None:
                raise Malformed("the target shape has more than one -1")
            infer_at = i
            out.append(None)
        elif e.is_Integer and int(e) < 0:
            raise Malformed(f"the target shape has a negative entry {int(e)}")
        else:
            out.append(dim_of(e))
    if infer_at is not None:
        rest = numel([d for d in out if d is not None])
        if rest == 0:
            raise Malformed("cannot infer -1 next to a zero-sized dimension")
        q = sympy.simplify(numel(x.shape) / rest)
        if not (q.is_integer or (q.is_Integer)):
            raise Unsupported(f"cannot infer the -1 entry: {numel(x.shape)} elements / {rest} is not a whole size")
        out[infer_at] = dim_of(q)
    shape = tuple(d for d in out if d is not None)
    if not dims_equal(dim_of(numel(shape)), dim_of(numel(x.shape))):
        raise Malformed(f"cannot reshape {list(x.shape)} to {list(shape)} (element counts differ)")
    return [reshape(ctx, x, shape, hint)]


@converter("Flatten")
def convert_flatten(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Flatten to 2-D around ``axis``."""
    x = need(ins, 0, node)
    axis = int(ctx.attrs(node).get("axis", 1))
    if not -x.rank <= axis <= x.rank:
        raise Malformed(f"axis {axis} is out of range for rank {x.rank}")
    axis = axis % x.rank if axis < 0 else axis
    shape = (dim_of(numel(x.shape[:axis])), dim_of(numel(x.shape[axis:])))
    return [reshape(ctx, x, shape, out_name(node))]


@converter("Squeeze")
def convert_squeeze(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Remove size-1 axes (all static ones when no axes are given)."""
    x = need(ins, 0, node)
    axes = axes_arg(ctx, node, ins, 1, x.rank)
    if axes is None:
        if any(not isinstance(d, int) for d in x.shape):
            raise Unsupported(f"squeeze without axes on shape {list(x.shape)}: symbolic sizes may or may not be 1")
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    for a in axes:
        if x.shape[a] != 1:
            if isinstance(x.shape[a], int):
                raise Malformed(f"cannot squeeze axis {a} of size {x.shape[a]}")
            raise Unsupported(f"squeezes axis {a} of symbolic size {x.shape[a]}")
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return [reshape(ctx, x, shape, out_name(node))]


@converter("Unsqueeze")
def convert_unsqueeze(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Insert size-1 axes."""
    x = need(ins, 0, node)
    a = opt(ins, 1)
    raw = concrete_of(a, "axes") if a is not None else tuple(int(v) for v in ctx.attrs(node).get("axes", []))
    rank = x.rank + len(raw)
    axes = sorted(norm_axis(v, rank, "axes entry") for v in raw)
    if len(set(axes)) != len(axes):
        raise Malformed(f"axes {list(raw)} repeat an axis")
    it = iter(x.shape)
    shape = tuple(1 if i in axes else next(it) for i in range(rank))
    return [reshape(ctx, x, shape, out_name(node))]


@converter("Transpose")
def convert_transpose(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Permute axes (reversed when no perm is given)."""
    x = need(ins, 0, node)
    perm = tuple(int(p) for p in ctx.attrs(node).get("perm", range(x.rank - 1, -1, -1)))
    if sorted(perm) != list(range(x.rank)):
        raise Malformed(f"perm {list(perm)} is not a permutation of {x.rank} axes")
    return [transpose(ctx, x, perm, out_name(node))]


def _clamp(e: sympy.Expr, size: Dim, what: str) -> Dim:
    """A Slice bound for a positive step normalised into [0, size] (negative counts from the end)."""
    if e.is_Integer and int(e) >= HUGE:
        return size
    if e.is_Integer and int(e) <= -HUGE:
        return 0
    n = expr_of(size)
    ok = nonneg(e)
    if ok is None:
        raise Unsupported(f"slice {what} {e}: its sign is not known at import time")
    if not ok:
        e = sympy.expand(e + n)
        inside = nonneg(e)
        if inside is None:
            raise Unsupported(f"slice {what} {e - n} from the end of a size-{size} axis: sign unknown")
        if not inside:
            return 0
    if nonneg(sympy.expand(e - n)):
        return size
    # in range, or undecidable (a symbolic bound against another size): the IR slice checks 0 <= start <= end <= size
    return dim_of(e)


@converter("Slice")
def convert_slice(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Slice with negative / out-of-range bounds normalised; negative steps on static axes become gathers."""
    x, hint = need(ins, 0, node), out_name(node)
    starts = ints_of(need(ins, 1, node), "starts")
    ends = ints_of(need(ins, 2, node), "ends")
    av, sv = opt(ins, 3), opt(ins, 4)
    axes = concrete_of(av, "axes") if av is not None else tuple(range(len(starts)))
    steps = concrete_of(sv, "steps") if sv is not None else (1,) * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise Malformed("starts, ends, axes and steps have different lengths")
    keep_axes, keep_starts, keep_ends, keep_steps = [], [], [], []
    reversed_axes: list[tuple[int, Dim, sympy.Expr, sympy.Expr, int]] = []
    seen: set[int] = set()
    for raw_axis, s, e, st in zip(axes, starts, ends, steps, strict=True):
        ax = norm_axis(raw_axis, x.rank, "axes entry")
        if ax in seen:
            raise Malformed(f"axis {raw_axis} is sliced twice")
        seen.add(ax)
        size = x.shape[ax]
        if st == 0:
            raise Malformed("a step is 0")
        if st < 0:
            reversed_axes.append((ax, size, s, e, st))
            continue
        lo, hi = _clamp(s, size, "start"), _clamp(e, size, "end")
        if nonneg(sympy.expand(expr_of(hi) - expr_of(lo))) is False:
            hi = lo
        if lo == 0 and dims_equal(hi, size) and st == 1:
            continue
        keep_axes.append(ax)
        keep_starts.append(lo)
        keep_ends.append(hi)
        keep_steps.append(st)
    out = x
    if keep_axes:
        out = ctx.emit("slice", [ir(ctx, out)], hint if not reversed_axes else f"{hint}.fwd", axes=tuple(keep_axes),
                       starts=tuple(keep_starts), ends=tuple(keep_ends), steps=tuple(keep_steps))
    for i, (ax, size, s, e, st) in enumerate(reversed_axes):
        out = _reverse_slice(ctx, out, ax, size, s, e, st, hint if i == len(reversed_axes) - 1 else f"{hint}.rev{ax}")
    return [out]


def _reverse_slice(ctx: Ctx, x: Val, axis: int, size: Dim, s: sympy.Expr, e: sympy.Expr, step: int,
                   hint: str) -> Val:
    if not isinstance(size, int) or not s.is_Integer or not e.is_Integer:
        raise Unsupported(f"negative step on axis {axis} needs a static size and bounds (size {size})")
    if size == 0:
        return x
    lo, hi = int(s), int(e)
    lo = min(max(lo + size if lo < 0 else lo, 0), size - 1)
    hi = min(max(hi + size if hi < 0 else hi, -1), size - 1)
    idx = np.arange(lo, hi, step, dtype=np.int64)
    return ctx.emit("gather", [ir(ctx, x), ir(ctx, const_val(idx))], hint, axis=axis)


@converter("Concat")
def convert_concat(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Join along an axis (inputs of static size 0 there are dropped)."""
    parts = [v for v in ins if v is not None]
    if not parts:
        raise Malformed("no inputs")
    axis = norm_axis(int(ctx.attrs(node).get("axis", 0)), parts[0].rank)
    nonempty = [v for v in parts if v.shape[axis] != 0] or parts[:1]
    if len(nonempty) == 1:
        return [nonempty[0]]
    return [ctx.emit("concat", [ir(ctx, v) for v in nonempty], out_name(node), axis=axis)]


def _equal_chunks(size: Dim, n: int, what: str) -> list[Dim]:
    if isinstance(size, int):
        chunk = -(-size // n)
        return [chunk] * (n - 1) + [size - chunk * (n - 1)]
    q = sympy.simplify(expr_of(size) / n)
    if not q.is_integer:
        raise Unsupported(f"{what}: cannot split a symbolic size {size} into {n} equal parts")
    return [dim_of(q)] * n


@converter("Split")
def convert_split(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Split into slices along an axis (sizes from the ``split`` input, or equal parts)."""
    x = need(ins, 0, node)
    attrs = ctx.attrs(node)
    axis = norm_axis(int(attrs.get("axis", 0)), x.rank)
    size = x.shape[axis]
    sv = opt(ins, 1)
    if sv is not None:
        sizes = [dim_of(e) for e in ints_of(sv, "split")]
    elif "split" in attrs:
        sizes = [int(v) for v in attrs["split"]]
    else:
        n = int(attrs.get("num_outputs", len(node.output)))
        sizes = _equal_chunks(size, n, "Split")
    if len(sizes) != len(node.output):
        raise Malformed(f"{len(sizes)} split sizes for {len(node.output)} outputs")
    total = dim_of(sum((expr_of(d) for d in sizes), sympy.Integer(0)))
    if not dims_equal(total, size):
        raise Malformed(f"split sizes {sizes} do not add up to the axis size {size}")
    outs: list[Val | None] = []
    start: sympy.Expr = sympy.Integer(0)
    for i, d in enumerate(sizes):
        end = start + expr_of(d)
        if not node.output[i]:
            outs.append(None)
        elif len(sizes) == 1:
            outs.append(x)
        else:
            outs.append(ctx.emit("slice", [ir(ctx, x)], out_name(node, i), axes=(axis,), starts=(dim_of(start),),
                                 ends=(dim_of(end),), steps=(1,)))
        start = end
    return outs


@converter("Expand")
def convert_expand(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Broadcast to a shape (bidirectional, as in ONNX)."""
    x = need(ins, 0, node)
    target = dims_of(need(ins, 1, node), "the target shape")
    shape = broadcast_shapes("expand", x.shape, target)
    if len(shape) == x.rank and all(dims_equal(p, q) for p, q in zip(shape, x.shape, strict=True)):
        return [x]
    if x.rank < len(shape):
        x = reshape(ctx, x, (1,) * (len(shape) - x.rank) + x.shape, f"{out_name(node)}.rank")
    return [ctx.emit("expand", [ir(ctx, x)], out_name(node), shape=shape)]


@converter("Tile")
def convert_tile(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Repeat along each axis: reshape to [.., 1, d, ..], expand to [.., r, d, ..], merge."""
    x, hint = need(ins, 0, node), out_name(node)
    reps = [dim_of(e) for e in ints_of(need(ins, 1, node), "repeats")]
    if len(reps) != x.rank:
        raise Malformed(f"{len(reps)} repeats for rank {x.rank}")
    if all(r == 1 for r in reps):
        return [x]
    split = tuple(d for s in x.shape for d in (1, s))
    wide = tuple(d for r, s in zip(reps, x.shape, strict=True) for d in (r, s))
    y = reshape(ctx, x, split, f"{hint}.split")
    y = ctx.emit("expand", [ir(ctx, y)], f"{hint}.expand", shape=wide)
    final = tuple(dim_of(expr_of(r) * expr_of(s)) for r, s in zip(reps, x.shape, strict=True))
    return [reshape(ctx, y, final, hint)]


@converter("Gather")
def convert_gather(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """``take(data, indices, axis)`` (embedding lookups when data is constant)."""
    data, idx = need(ins, 0, node), need(ins, 1, node)
    axis = norm_axis(int(ctx.attrs(node).get("axis", 0)), data.rank)
    if idx.const is not None and isinstance(data.shape[axis], int):
        n = int(data.shape[axis])
        bad = idx.const[(idx.const < -n) | (idx.const >= n)]
        if bad.size:
            raise Malformed(f"index {int(bad.reshape(-1)[0])} is out of range for an axis of size {n}")
        idx = const_val(np.where(idx.const < 0, idx.const + n, idx.const).astype(idx.const.dtype))
    return [ctx.emit("gather", [ir(ctx, data), ir(ctx, idx)], out_name(node), axis=axis)]


def _size_scalar(ctx: Ctx, d: Dim, dt: DType, hint: str) -> Val:
    """A scalar of element type ``dt`` holding a (possibly symbolic) size."""
    if isinstance(d, int):
        return const_val(np.array(d, dtype=dt.numpy))
    name = ctx.scalar_of_dim(expr_of(d), dt, hint)
    return ctx.emit("reshape", [name], f"{hint}.s", shape=())


def _component(ctx: Ctx, idx: Val, i: int, hint: str) -> Val:
    """``idx[..., i]`` as a tensor of the leading shape."""
    lead = idx.shape[:-1]
    if idx.const is not None:
        return const_val(np.ascontiguousarray(idx.const[..., i]))
    sl = ctx.emit("slice", [ir(ctx, idx)], f"{hint}.take", axes=(idx.rank - 1,), starts=(i,), ends=(i + 1,),
                  steps=(1,))
    return reshape(ctx, sl, lead, f"{hint}.comp")


def _nonneg(ctx: Ctx, comp: Val, size: Dim, hint: str) -> Val:
    """Negative indices counted from the end (``where(i < 0, i + size, i)``)."""
    if comp.const is not None:
        if isinstance(size, int):
            return const_val(np.where(comp.const < 0, comp.const + size, comp.const))
        if (comp.const >= 0).all():
            return comp
    dt = dtype_of(comp, "indices")
    n = _size_scalar(ctx, size, dt, f"{hint}.n")
    neg = binary(ctx, "less", comp, const_val(np.array(0, dt.numpy)), f"{hint}.isneg")
    wrapped = binary(ctx, "add", comp, n, f"{hint}.wrap")
    return ctx.emit("where", [ir(ctx, neg), ir(ctx, wrapped), ir(ctx, comp)], f"{hint}.idx")


@converter("GatherND")
def convert_gather_nd(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """GatherND (batch_dims 0) as one gather on the data with its first k axes merged, at a linear index."""
    data, idx, hint = need(ins, 0, node), need(ins, 1, node), out_name(node)
    if int(ctx.attrs(node).get("batch_dims", 0)) != 0:
        raise Unsupported("batch_dims != 0")
    k = idx.shape[-1] if idx.rank else None
    if not isinstance(k, int) or k < 1 or k > data.rank:
        raise Malformed(f"indices shape {list(idx.shape)} does not fit data of rank {data.rank}")
    lead, head, rest = idx.shape[:-1], data.shape[:k], data.shape[k:]
    kept = [i for i in range(k) if head[i] != 1]
    linear: Val | None = None
    for i in kept:
        comp = _component(ctx, idx, i, f"{hint}.c{i}")
        if len(kept) > 1:  # a single component may stay negative: gather counts from the end itself
            comp = _nonneg(ctx, comp, head[i], f"{hint}.c{i}")
        stride = dim_of(numel(head[i + 1:]))
        if stride != 1:
            dt = dtype_of(comp, "indices")
            comp = binary(ctx, "mul", comp, _size_scalar(ctx, stride, dt, f"{hint}.stride{i}"), f"{hint}.off{i}")
        linear = comp if linear is None else binary(ctx, "add", linear, comp, f"{hint}.lin{i}")
    if linear is None:
        linear = ctx.emit("full", [], f"{hint}.zero", shape=lead, value=0.0, dtype=DType.I64)
    flat = reshape(ctx, data, (dim_of(numel(head)), *rest), f"{hint}.flat")
    return [ctx.emit("gather", [ir(ctx, flat), ir(ctx, linear)], hint, axis=0)]


@converter("GatherElements")
def convert_gather_elements(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """GatherElements as a gather on the flattened data at ``idx * stride + offset`` (static shapes), or a plain
    gather when every other axis of the data has size 1."""
    data, idx, hint = need(ins, 0, node), need(ins, 1, node), out_name(node)
    if idx.rank != data.rank:
        raise Malformed(f"indices rank {idx.rank} != data rank {data.rank}")
    axis = norm_axis(int(ctx.attrs(node).get("axis", 0)), data.rank)
    others = [d for i, d in enumerate(data.shape) if i != axis]
    if all(d == 1 for d in others):
        flat = reshape(ctx, data, (data.shape[axis],), f"{hint}.flat")
        return [ctx.emit("gather", [ir(ctx, flat), ir(ctx, idx)], hint, axis=0)]
    if not all(isinstance(d, int) for d in (*data.shape, *idx.shape)):
        raise Unsupported(f"data {list(data.shape)} / indices {list(idx.shape)} with symbolic sizes")
    dshape = tuple(int(d) for d in data.shape)  # type: ignore[arg-type]
    ishape = tuple(int(d) for d in idx.shape)  # type: ignore[arg-type]
    strides = [math.prod(dshape[i + 1:]) for i in range(len(dshape))]
    grid = np.indices(ishape, dtype=np.int64)
    offset = sum((grid[i] * strides[i] for i in range(len(dshape)) if i != axis), np.zeros(ishape, np.int64))
    comp = _nonneg(ctx, idx, dshape[axis], f"{hint}.i")
    comp = ctx.emit("cast", [ir(ctx, comp)], f"{hint}.i64", dtype=DType.I64) if comp.dtype is not DType.I64 else comp
    lin = binary(ctx, "mul", comp, const_val(np.array(strides[axis], np.int64)), f"{hint}.scaled")
    lin = binary(ctx, "add", lin, const_val(offset), f"{hint}.lin")
    flat = reshape(ctx, data, (math.prod(dshape),), f"{hint}.flat")
    return [ctx.emit("gather", [ir(ctx, flat), ir(ctx, lin)], hint, axis=0)]


__all__: list[str] = []
