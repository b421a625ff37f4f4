"""Lowering primitives shared by the torch.export and FX paths: torch semantics expressed as IR nodes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import sympy
import torch

from tataa.errors import IRError
from tataa.frontend.torch_values import Param, TVal, Unsupported, ir_dtype, to_numpy, torch_dtype
from tataa.ir.dims import Dim, add_dims, dim_expr, dims_equal, from_expr, mul_dims, shapes_equal, sub_dims
from tataa.ir.graph import GraphBuilder
from tataa.ir.ops import broadcast_shapes
from tataa.ir.types import DType, TensorType

Scalar = bool | int | float
Operand = TVal | Param | bool | int | float | str  # str: a symbolic size used as a number

_FLOAT_ONLY = {"exp", "log", "sqrt", "rsqrt", "reciprocal", "tanh", "erf", "sigmoid", "silu", "gelu", "softmax",
               "layer_norm", "rms_norm"}
_BIG = 2**62  # slice ends at or past this mean "to the end"


def _is_tensor(v: object) -> bool:
    return isinstance(v, TVal | Param)


def norm_axis(axis: int, rank: int, what: str = "dim") -> int:
    """A non-negative axis; Unsupported when out of range."""
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise Unsupported(f"{what} {axis!r} is not an int")
    r = max(rank, 1)
    if not -r <= axis < r:
        raise Unsupported(f"{what} {axis} out of range for rank {rank}")
    return axis % r


def div_dims(a: Dim, b: Dim) -> Dim:
    """``a / b`` for sizes that divide exactly (symbolic allowed)."""
    if isinstance(a, int) and isinstance(b, int):
        if b == 0 or a % b:
            raise Unsupported(f"size {a} is not divisible by {b}")
        return a // b
    q = sympy.simplify(dim_expr(a) / dim_expr(b))
    if q.is_Integer and q >= 0:
        return int(q)
    num, den = sympy.fraction(sympy.together(q))
    if den != 1 or not num.free_symbols or any(not c.is_Integer for c in sympy.Poly(num, *num.free_symbols).coeffs()):
        raise Unsupported(f"size {a} is not provably divisible by {b}")
    return from_expr(q)


def resolve_sizes(total: Dim, sizes: Sequence[Dim]) -> tuple[Dim, ...]:
    """Sizes with their one ``-1`` resolved so that their product is ``total``."""
    sizes = list(sizes)
    holes = [i for i, d in enumerate(sizes) if isinstance(d, int) and d == -1]
    if len(holes) > 1:
        raise Unsupported(f"shape {sizes} has more than one -1")
    if holes:
        known = mul_dims(*(d for i, d in enumerate(sizes) if i != holes[0])) if len(sizes) > 1 else 1
        sizes[holes[0]] = div_dims(total, known)
    return tuple(sizes)


class Lowerer:
    """Emits IR nodes for torch operations; remembers constant values and caches small constants."""

    def __init__(self, builder: GraphBuilder) -> None:
        self.b = builder
        self.consts: dict[str, np.ndarray] = {}
        self.hint = "v"
        self.emitted = 0
        self._scalars: dict[tuple[str, str], TVal] = {}
        self._params: dict[tuple[int, str], TVal] = {}

    # ------------------------------------------------------------------------------------------ values
    def emit(self, op: str, inputs: Sequence[TVal], **attrs: object) -> TVal:
        """Append one IR node named after the current source node; returns its value."""
        name = self.b.add(op, [t.name for t in inputs], name=self.hint, **attrs)
        self.emitted += 1
        return TVal(name, self.b.type_of(name))

    def constant(self, value: np.ndarray, hint: str | None = None) -> TVal:
        """A new IR constant."""
        arr = np.asarray(value)
        name = self.b.constant(arr, hint or f"{self.hint}.const")
        self.consts[name] = arr
        return TVal(name, self.b.type_of(name))

    def scalar(self, value: Scalar, dtype: DType) -> TVal:
        """A rank-0 constant of the given element type (shared between uses)."""
        key = (repr(value), dtype.value)
        if key not in self._scalars:
            with np.errstate(all="ignore"):
                arr = np.asarray(value).astype(dtype.numpy)
            self._scalars[key] = self.constant(arr, f"c_{dtype.value}")
        return self._scalars[key]

    def tensor(self, v: object, what: str = "input") -> TVal:
        """The IR value of a tensor operand (a parameter becomes a constant named after it on first use)."""
        if isinstance(v, TVal):
            return v
        if isinstance(v, Param):
            key = (id(v), "")
            if key not in self._params:
                self._params[key] = self.constant(to_numpy(v.tensor, v.fqn), v.fqn)
            return self._params[key]
        raise Unsupported(f"{what} must be a tensor, got {type(v).__name__} {v!r}")

    def weight_t(self, v: object) -> TVal:
        """A ``[out, in]`` weight as the IR's ``[in, out]``: a transposed constant for parameters."""
        if isinstance(v, Param) and v.rank == 2:
            key = (id(v), "T")
            if key not in self._params:
                hint = v.fqn if (id(v), "") not in self._params else f"{v.fqn}.T"
                self._params[key] = self.constant(np.ascontiguousarray(to_numpy(v.tensor, v.fqn).T), hint)
            return self._params[key]
        w = self.tensor(v, "weight")
        if w.rank != 2:
            raise Unsupported(f"weight has rank {w.rank}, expected 2")
        c = self.consts.get(w.name)
        if c is not None:
            return self.constant(np.ascontiguousarray(c.T), f"{w.name}.T")
        return self.transpose(w, (1, 0))

    def const_value(self, v: object) -> np.ndarray | None:
        """The value of a constant operand, when it is one."""
        if isinstance(v, Param):
            return to_numpy(v.tensor, v.fqn)
        if isinstance(v, TVal):
            return self.consts.get(v.name)
        return None

    def operand(self, v: Operand, dtype: DType) -> TVal:
        """A tensor, scalar or symbolic size as an IR value of the given element type."""
        if _is_tensor(v):
            return self.cast(self.tensor(v), dtype)
        if isinstance(v, str):
            return self.size_value(v, dtype)
        if isinstance(v, bool | int | float):
            return self.scalar(v, dtype)
        raise Unsupported(f"operand {v!r} ({type(v).__name__}) is neither a tensor nor a number")

    def size_value(self, d: Dim, dtype: DType) -> TVal:
        """A rank-0 tensor holding the value of a (symbolic) size."""
        if isinstance(d, int):
            return self.scalar(d, dtype)
        ones = self.full((d,), 1.0, DType.I64)
        return self.cast(self.emit("reduce_sum", [ones], axes=(0,), keepdims=False), dtype)

    # ------------------------------------------------------------------------------------------ dtypes
    @staticmethod
    def promote(*vals: object) -> DType:
        """torch's type promotion of tensors and Python numbers."""

        def rep(v: object) -> torch.Tensor | Scalar:
            if _is_tensor(v):
                return torch.empty(() if v.rank == 0 else (1,), dtype=torch_dtype(v.dtype))  # type: ignore[union-attr]
            if isinstance(v, str):
                return 1
            if isinstance(v, bool | int | float):
                return v
            raise Unsupported(f"operand {v!r} ({type(v).__name__}) is neither a tensor nor a number")

        reps = [rep(v) for v in vals]
        acc = reps[0]
        for r in reps[1:]:
            if isinstance(acc, torch.Tensor) or isinstance(r, torch.Tensor):
                dimmed = any(isinstance(t, torch.Tensor) and t.dim() > 0 for t in (acc, r))
                acc = torch.empty((1,) if dimmed else (), dtype=torch.result_type(acc, r))
            else:  # two Python numbers: the wider kind wins
                acc = 1.0 if isinstance(acc, float) or isinstance(r, float) else (
                    1 if not (isinstance(acc, bool) and isinstance(r, bool)) else True)
        if isinstance(acc, torch.Tensor):
            return ir_dtype(acc.dtype)
        return DType.BOOL if isinstance(acc, bool) else DType.I64 if isinstance(acc, int) else DType.F32

    def cast(self, x: TVal, dtype: DType) -> TVal:
        """``x`` converted to ``dtype`` (no node when it already is)."""
        return x if x.dtype is dtype else self.emit("cast", [x], dtype=dtype)

    # ------------------------------------------------------------------------------------------ elementwise
    def binary(self, op: str, a: Operand, b: Operand, dtype: DType | None = None) -> TVal:
        """An arithmetic op with torch's type promotion (``div`` of integers is true division)."""
        dt = dtype or self.promote(a, b)
        if op == "div" and not dt.is_float:
            dt = DType.F32
        if op in ("maximum", "minimum") and dt is DType.BOOL:
            return self.logical("logical_or" if op == "maximum" else "logical_and", a, b)
        return self.emit(op, [self.operand(a, dt), self.operand(b, dt)])

    def compare(self, op: str, a: Operand, b: Operand) -> TVal:
        """A comparison (``not_equal`` included) after promoting both sides."""
        dt = self.promote(a, b)
        x, y = self.operand(a, dt), self.operand(b, dt)
        if op == "not_equal":
            return self.emit("logical_not", [self.emit("equal", [x, y])])
        return self.emit(op, [x, y])

    def logical(self, op: str, a: Operand, b: Operand | None = None) -> TVal:
        """``logical_and/or/xor/not`` on operands converted to bool."""
        x = self.operand(a, DType.BOOL)
        if op == "logical_not":
            return self.emit(op, [x])
        y = self.operand(b, DType.BOOL)  # type: ignore[arg-type]
        if op == "logical_xor":
            return self.emit("logical_not", [self.emit("equal", [x, y])])
        return self.emit(op, [x, y])

    def unary(self, op: str, x: TVal, **attrs: object) -> TVal:
        """A unary op; integer inputs of float-only ops are converted to f32 first (torch's promotion)."""
        if op in _FLOAT_ONLY and not x.dtype.is_float:
            x = self.cast(x, DType.F32)
        if op == "relu" and not x.dtype.is_float:
            return self.binary("maximum", x, 0)
        return self.emit(op, [x], **attrs)

    def where(self, cond: Operand, a: Operand, b: Operand) -> TVal:
        """``cond ? a : b`` with the branches promoted together."""
        dt = self.promote(a, b)
        return self.emit("where", [self.operand(cond, DType.BOOL), self.operand(a, dt), self.operand(b, dt)])

    # ------------------------------------------------------------------------------------------ layout
    def reshape(self, x: TVal, shape: Sequence[Dim]) -> TVal:
        """``x`` with a new shape (no node when unchanged)."""
        shape = tuple(shape)
        if shapes_equal(x.shape, shape):
            return x
        return self.emit("reshape", [x], shape=shape)

    def resolve_shape(self, x: TVal, sizes: Sequence[Dim]) -> tuple[Dim, ...]:
        """A view/reshape target with its ``-1`` resolved from the element count of ``x``."""
        return resolve_sizes(x.type.numel, sizes)

    def transpose(self, x: TVal, perm: Sequence[int]) -> TVal:
        """Axes permuted (no node for the identity)."""
        perm = tuple(norm_axis(p, x.rank) for p in perm)
        if perm == tuple(range(x.rank)):
            return x
        return self.emit("transpose", [x], perm=perm)

    def swap(self, x: TVal, a: int, b: int) -> TVal:
        """Two axes exchanged."""
        perm = list(range(x.rank))
        a, b = norm_axis(a, x.rank), norm_axis(b, x.rank)
        perm[a], perm[b] = perm[b], perm[a]
        return self.transpose(x, perm)

    def expand(self, x: TVal, shape: Sequence[Dim]) -> TVal:
        """``x`` broadcast to ``shape`` (no node when it already has it)."""
        shape = tuple(shape)
        if shapes_equal(x.shape, shape):
            return x
        return self.emit("expand", [x], shape=shape)

    def expand_sizes(self, x: TVal, sizes: Sequence[Dim]) -> TVal:
        """torch ``expand``: ``-1`` keeps a size, new leading axes may be added."""
        sizes = list(sizes)
        lead = len(sizes) - x.rank
        if lead < 0:
            raise Unsupported(f"expand to {sizes} has fewer axes than the input's {x.rank}")
        for i, d in enumerate(sizes):
            if isinstance(d, int) and d == -1:
                if i < lead:
                    raise Unsupported(f"expand: -1 in a new leading axis ({sizes})")
                sizes[i] = x.shape[i - lead]
        return self.expand(x, sizes)

    def unsqueeze(self, x: TVal, axis: int) -> TVal:
        """A size-1 axis inserted at ``axis``."""
        a = norm_axis(axis, x.rank + 1)
        return self.reshape(x, (*x.shape[:a], 1, *x.shape[a:]))

    def squeeze(self, x: TVal, axes: Sequence[int] | None) -> TVal:
        """Size-1 axes removed (all of them when ``axes`` is None; others in ``axes`` are kept, as torch does)."""
        picked = range(x.rank) if axes is None else {norm_axis(a, x.rank) for a in axes}
        drop = {a for a in picked if isinstance(x.shape[a], int) and x.shape[a] == 1}
        return self.reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in drop))

    def norm_slice(self, size: Dim, start: Dim | None, end: Dim | None, step: int) -> tuple[Dim, Dim]:
        """Python slice bounds normalised to ``0 <= start <= end <= size``."""
        if not isinstance(step, int) or step < 1:
            raise Unsupported(f"slice step {step!r} must be a positive int")

        def fix(v: Dim | None, default: Dim) -> Dim:
            if v is None:
                return default
            if isinstance(v, int):
                if v >= _BIG:
                    return size
                if v < 0:
                    if isinstance(size, int):
                        return max(size + v, 0)
                    return add_dims(size, v) if v != 0 else size
                return min(v, size) if isinstance(size, int) else v
            return v

        s, e = fix(start, 0), fix(end, size)
        if isinstance(s, int) and isinstance(e, int) and e < s:
            e = s
        return s, e

    def slice(self, x: TVal, axis: int, start: Dim | None, end: Dim | None, step: int = 1) -> TVal:
        """torch slicing ``x[start:end:step]`` on one axis (bounds normalised)."""
        ax = norm_axis(axis, x.rank)
        s, e = self.norm_slice(x.shape[ax], start, end, step)
        if step == 1 and s == 0 and dims_equal(e, x.shape[ax]):
            return x
        return self.emit("slice", [x], axes=(ax,), starts=(s,), ends=(e,), steps=(step,))

    def select(self, x: TVal, axis: int, index: Dim) -> TVal:
        """``x`` at one index of an axis, that axis removed."""
        ax = norm_axis(axis, x.rank)
        size = x.shape[ax]
        if isinstance(index, int) and index < 0:
            if isinstance(size, int):
                if index < -size:
                    raise Unsupported(f"index {index} out of range for size {size}")
                index = size + index
            else:
                index = add_dims(size, index)
        elif isinstance(index, int) and isinstance(size, int) and index >= size:
            raise Unsupported(f"index {index} out of range for size {size}")
        one = self.emit("slice", [x], axes=(ax,), starts=(index,), ends=(add_dims(index, 1),), steps=(1,))
        return self.reshape(one, (*x.shape[:ax], *x.shape[ax + 1 :]))

    def concat(self, xs: Sequence[object], axis: int) -> TVal:
        """Tensors joined along an axis (promoted to a common element type)."""
        ts = [self.tensor(t) for t in xs]
        if not ts:
            raise Unsupported("cat of no tensors")
        ts = [t for t in ts if not (t.rank == 1 and t.shape[0] == 0)] or ts[:1]  # torch skips legacy empty inputs
        if len(ts) == 1:
            return ts[0]
        dt = self.promote(*ts)
        return self.emit("concat", [self.cast(t, dt) for t in ts], axis=norm_axis(axis, ts[0].rank))

    def split(self, x: TVal, sizes: Sequence[int], axis: int) -> list[tuple[int, int]]:
        """The (start, end) ranges of consecutive pieces of the given sizes."""
        ax = norm_axis(axis, x.rank)
        out, at = [], 0
        for s in sizes:
            out.append((at, at + s))
            at += s
        if not isinstance(x.shape[ax], int) or at != x.shape[ax]:
            raise Unsupported(f"split sizes {list(sizes)} do not add up to the size {x.shape[ax]} of axis {ax}")
        return out

    def repeat(self, x: TVal, reps: Sequence[int]) -> TVal:
        """torch ``repeat``: tile ``x`` ``reps[i]`` times along each axis."""
        reps = list(reps)
        if len(reps) < x.rank:
            raise Unsupported(f"repeat {reps} has fewer entries than the input's rank {x.rank}")
        shape = (1,) * (len(reps) - x.rank) + tuple(x.shape)
        inter: list[Dim] = []
        for d in shape:
            inter += [1, d]
        y = self.reshape(x, inter)
        y = self.expand(y, [v for r, d in zip(reps, shape, strict=True) for v in (r, d)])
        return self.reshape(y, [mul_dims(r, d) for r, d in zip(reps, shape, strict=True)])

    def repeat_interleave(self, x: TVal, repeats: int, axis: int) -> TVal:
        """Each entry along ``axis`` repeated ``repeats`` times in place (GQA head expansion)."""
        ax = norm_axis(axis, x.rank)
        if repeats == 1:
            return x
        y = self.reshape(x, (*x.shape[: ax + 1], 1, *x.shape[ax + 1 :]))
        y = self.expand(y, (*x.shape[: ax + 1], repeats, *x.shape[ax + 1 :]))
        return self.reshape(y, (*x.shape[:ax], mul_dims(x.shape[ax], repeats), *x.shape[ax + 1 :]))

    # ------------------------------------------------------------------------------------------ creation
    def full(self, shape: Sequence[Dim], value: Scalar, dtype: DType) -> TVal:
        """A tensor filled with one value (a constant when the shape is static and small)."""
        shape = tuple(shape)
        if not isinstance(value, bool | int | float):
            raise Unsupported(f"fill value {value!r} is not a number")
        if all(isinstance(d, int) for d in shape) and math.prod(shape) <= 64:  # type: ignore[arg-type]
            with np.errstate(all="ignore"):
                return self.constant(np.full(shape, value).astype(dtype.numpy))
        return self.emit("full", [], shape=shape, value=float(value), dtype=dtype)

    def arange(self, start: Dim, stop: Dim, step: int, dtype: DType) -> TVal:
        """``[start, start+step, ...)`` below ``stop``; a symbolic start is added after the fact."""
        if not isinstance(step, int) or step < 1:
            raise Unsupported(f"arange step {step!r} must be a positive int")
        if isinstance(start, int):
            return self.emit("arange", [], start=start, stop=stop, step=step, dtype=dtype)
        base = self.emit("arange", [], start=0, stop=sub_dims(stop, start), step=step, dtype=dtype)
        return self.binary("add", base, self.size_value(start, dtype), dtype)

    # ------------------------------------------------------------------------------------------ gathers
    def gather(self, x: TVal, idx: TVal, axis: int) -> TVal:
        """``take(x, idx, axis)``."""
        if not idx.dtype.is_int:
            raise Unsupported(f"index tensor has element type {idx.dtype.value}; integer indices are required"
                              + (" (boolean masks give data-dependent shapes)" if idx.dtype is DType.BOOL else ""))
        return self.emit("gather", [x, idx], axis=norm_axis(axis, x.rank))

    def _nonneg(self, idx: TVal, size: Dim) -> TVal:
        neg = self.compare("less", idx, 0)
        return self.where(neg, self.binary("add", idx, size), idx)

    def index(self, x: TVal, indices: Sequence[object | None]) -> TVal:
        """torch advanced indexing ``x[i0, i1, ...]`` with integer index tensors (None keeps an axis)."""
        idx = [None if i is None else self.tensor(i, "index") for i in indices]
        if len(idx) > x.rank:
            raise Unsupported(f"{len(idx)} indices for a tensor of rank {x.rank}")
        idx += [None] * (x.rank - len(idx))
        adv = [a for a, i in enumerate(idx) if i is not None]
        if not adv:
            return x
        for a in adv:
            if not idx[a].dtype.is_int:  # type: ignore[union-attr]
                raise Unsupported(f"index on axis {a} has element type {idx[a].dtype.value}; only integer index "  # type: ignore[union-attr]
                                  "tensors are supported (boolean masks give data-dependent shapes)")
        bshape = broadcast_shapes("index", *(idx[a].shape for a in adv))  # type: ignore[union-attr]
        if adv != list(range(adv[0], adv[-1] + 1)):  # separated advanced indices: their axes go first
            rest = [a for a in range(x.rank) if a not in adv]
            x = self.transpose(x, adv + rest)
            idx = [idx[a] for a in adv] + [None] * len(rest)
            adv = list(range(len(adv)))
        a0, k = adv[0], len(adv)
        before, after = x.shape[:a0], x.shape[a0 + k :]
        live = [a for a in adv if not (isinstance(x.shape[a], int) and x.shape[a] == 1)]
        if not live:  # every indexed axis has size 1: any valid index is 0
            y = self.reshape(x, (*before, *(1 for _ in bshape), *after))
            return self.expand(y, (*before, *bshape, *after))
        if len(live) == 1:
            a = live[0]
            y = self.reshape(x, (*before, x.shape[a], *after))
            return self.gather(y, self.expand(idx[a], bshape), a0)  # type: ignore[arg-type]
        sizes = [x.shape[a] for a in adv]
        flat: TVal | None = None
        stride: Dim = 1
        for a, s in reversed(list(zip(adv, sizes, strict=True))):
            if s != 1:
                term = self._nonneg(self.cast(idx[a], DType.I64), s)  # type: ignore[arg-type]
                term = term if stride == 1 else self.binary("mul", term, stride)
                flat = term if flat is None else self.binary("add", term, flat)
            stride = mul_dims(stride, s)
        y = self.reshape(x, (*before, stride, *after))
        return self.gather(y, self.expand(flat, bshape), a0)  # type: ignore[arg-type]

    def take_along(self, x: TVal, axis: int, idx: TVal) -> TVal:
        """torch ``gather(x, axis, idx)``: ``out[..i..] = x[..idx[..i..]..]`` along one axis."""
        ax = norm_axis(axis, x.rank)
        others = [d for i, d in enumerate(x.shape) if i != ax]
        if all(isinstance(d, int) and d == 1 for d in others):
            return self.gather(self.reshape(x, (x.shape[ax],)), idx, 0)
        if not (x.type.is_static and idx.type.is_static):
            raise Unsupported("gather along an axis of a tensor with symbolic sizes and other axes larger than 1")
        strides = np.cumprod((1, *x.shape[::-1]))[::-1][1:]  # row-major strides
        grid = np.indices(idx.shape, dtype=np.int64)  # type: ignore[arg-type]
        offset = sum(grid[i] * int(strides[i]) for i in range(x.rank) if i != ax)
        n = int(x.shape[ax])  # type: ignore[arg-type]
        pos = self.binary("mul", self._nonneg(self.cast(idx, DType.I64), n), int(strides[ax]))
        flat = self.binary("add", pos, self.constant(np.asarray(offset, dtype=np.int64)))
        return self.gather(self.reshape(x, (int(x.type.numel),)), flat, 0)  # type: ignore[arg-type]

    def tri(self, x: TVal, diagonal: int, upper: bool) -> TVal:
        """``tril``/``triu`` of the last two axes: the rest becomes zero."""
        if x.rank < 2:
            raise Unsupported(f"tril/triu needs rank >= 2, got {x.rank}")
        rows = self.reshape(self.arange(0, x.shape[-2], 1, DType.I64), (x.shape[-2], 1))
        cols = self.reshape(self.arange(0, x.shape[-1], 1, DType.I64), (1, x.shape[-1]))
        shifted = self.binary("add", rows, diagonal) if diagonal else rows
        keep = self.compare("greater_equal" if upper else "less_equal", cols, shifted)
        return self.where(keep, x, self.scalar(0, x.dtype))

    # ------------------------------------------------------------------------------------------ linear algebra
    def linear(self, x: TVal, w_in_out: TVal, bias: object | None) -> TVal:
        """``x @ w (+ bias)`` with ``w`` in the IR's ``[in, out]`` layout."""
        dt = x.dtype
        w = self.cast(w_in_out, dt)
        b = None if bias is None else self.cast(self.tensor(bias, "bias"), dt)
        if w.name in self.consts or x.rank < 2:
            if b is not None and b.rank == 1:
                return self.emit("linear", [x, w, b])
            y = self.emit("linear", [x, w])
        else:
            y = self.emit("matmul", [x, w])
        return y if b is None else self.binary("add", y, b)

    def matmul(self, a: object, b: object) -> TVal:
        """torch ``matmul`` (1-D operands included); a constant 2-D right operand becomes ``linear``."""
        x = self.tensor(a)
        if (isinstance(b, Param) and b.rank == 2) or (isinstance(b, TVal) and b.name in self.consts and b.rank == 2):
            y = self.tensor(b)
            if x.rank == 1:
                return self.reshape(self.linear(self.reshape(x, (1, x.shape[0])), y, None), (y.shape[1],))
            return self.linear(x, y, None)
        y = self.tensor(b)
        dt = self.promote(x, y)
        x, y = self.cast(x, dt), self.cast(y, dt)
        if x.rank == 0 or y.rank == 0:
            raise Unsupported("matmul of a 0-d tensor")
        x2 = self.reshape(x, (1, x.shape[0])) if x.rank == 1 else x
        y2 = self.reshape(y, (y.shape[0], 1)) if y.rank == 1 else y
        out = self.emit("matmul", [x2, y2])
        shape = list(out.shape)
        if y.rank == 1:
            shape.pop(-1)
        if x.rank == 1:
            shape.pop(-2 if y.rank != 1 else -1)
        return self.reshape(out, shape)

    def attention(self, q: TVal, k: TVal, v: TVal, mask: object | None, scale: float | None, causal: bool,
                  gqa: bool) -> TVal:
        """``scaled_dot_product_attention`` (GQA key/value heads repeated to the query heads)."""
        if q.rank < 2:
            raise Unsupported(f"attention query of rank {q.rank}")
        dt = q.dtype
        k, v = self.cast(k, dt), self.cast(v, dt)
        if scale is None:
            e = q.shape[-1]
            if not isinstance(e, int):
                raise Unsupported(f"attention with a symbolic head size {e} and no explicit scale")
            scale = 1.0 / math.sqrt(e)
        if gqa and q.rank >= 3 and not dims_equal(q.shape[-3], k.shape[-3]):
            hq, hk = q.shape[-3], k.shape[-3]
            if not (isinstance(hq, int) and isinstance(hk, int) and hk and hq % hk == 0):
                raise Unsupported(f"GQA with {hq} query heads and {hk} key/value heads")
            k = self.repeat_interleave(k, hq // hk, -3)
            v = self.repeat_interleave(v, hq // hk, -3)
        ins = [q, k, v]
        if mask is not None:
            m = self.tensor(mask, "attn_mask")
            ins.append(m if m.dtype is DType.BOOL else self.cast(m, dt))
        return self.emit("attention", ins, scale=float(scale), causal=bool(causal))

    def patch_conv(self, x: TVal, w: object, bias: object | None, stride: Sequence[int], padding: Sequence[int],
                   dilation: Sequence[int], groups: int) -> TVal:
        """A 2-D convolution whose kernel equals its stride (patch embedding) as reshapes plus ``linear``."""
        wt = self.tensor(w, "weight") if not isinstance(w, Param) else None
        wshape = w.shape if isinstance(w, Param) else wt.shape  # type: ignore[union-attr]
        if len(wshape) != 4:
            raise Unsupported(f"conv2d weight of rank {len(wshape)}")
        o, c, kh, kw = wshape
        stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
        why = []
        if tuple(stride) != (kh, kw):
            why.append(f"stride {tuple(stride)} != kernel {(kh, kw)}")
        if any(padding):
            why.append(f"padding {tuple(padding)}")
        if tuple(dilation) != (1, 1):
            why.append(f"dilation {tuple(dilation)}")
        if groups != 1:
            why.append(f"groups {groups}")
        if why:
            raise Unsupported("only patch-embedding convolutions (kernel == stride, no padding, dilation 1, groups 1) "
                              "are supported; this one has " + ", ".join(why))
        batched = x.rank == 4
        if not batched:
            x = self.reshape(x, (1, *x.shape))
        n, cin, h, wd = x.shape
        if not (isinstance(h, int) and isinstance(wd, int)):
            raise Unsupported(f"patch convolution over symbolic image size {h}x{wd}")
        hp, wp = h // kh, wd // kw  # type: ignore[operator]
        x = self.slice(self.slice(x, 2, 0, hp * kh), 3, 0, wp * kw)
        x = self.reshape(x, (n, cin, hp, kh, wp, kw))
        x = self.transpose(x, (0, 2, 4, 1, 3, 5))
        x = self.reshape(x, (n, hp, wp, mul_dims(cin, kh, kw)))
        if isinstance(w, Param):
            arr = to_numpy(w.tensor, w.fqn).reshape(o, -1)
            wmat = self.constant(np.ascontiguousarray(arr.T), w.fqn)
        else:
            wmat = self.transpose(self.reshape(wt, (o, c * kh * kw)), (1, 0))  # type: ignore[arg-type]
        y = self.linear(x, wmat, bias)
        y = self.transpose(y, (0, 3, 1, 2))
        return y if batched else self.reshape(y, y.shape[1:])


def _pair(v: Sequence[int] | int) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    return v * 2 if len(v) == 1 else v


def check_type(got: TVal, want: TensorType | None) -> None:
    """Raise IRError when a lowered value's type differs from what torch computed for the node."""
    if want is None:
        return
    if got.dtype is not want.dtype or not shapes_equal(got.shape, want.shape):
        raise IRError(f"the IR computes {got.type} but torch computed {want}")


__all__ = ["Lowerer", "Operand", "Scalar", "check_type", "div_dims", "norm_axis", "resolve_sizes"]
