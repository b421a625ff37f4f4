"""The IR's operator set: for each op, its arity, attributes, shape inference and the overlay unit that runs it.

Every op is deliberately small; frontends lower everything else into these. Semantics (what each op computes) are
those of the numpy reference interpreter in ``tataa.ir.interp`` and are documented in ``docs/ir.md``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tataa.errors import IRError
from tataa.ir.dims import (
    Dim,
    add_dims,
    canonical_dim,
    ceil_div_dims,
    dim_expr,
    dims_equal,
    mul_dims,
    sub_dims,
)
from tataa.ir.types import DType, TensorType


class Unit(enum.Enum):
    """Where an op runs on the overlay."""

    SYSTOLIC = "systolic"  # int8 systolic array (linear layers, matmuls)
    SIMD = "simd"  # bf16 SIMD lanes (elementwise, reductions, nonlinear)
    LAYOUT = "layout"  # address generation / DMA only (reshape, transpose, slice, gather, ...)


class AttrKind(enum.Enum):
    """The type of an attribute's value."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STR = "str"
    INTS = "ints"
    DIM = "dim"
    DIMS = "dims"
    DTYPE = "dtype"


AttrValue = int | float | bool | str | tuple[int, ...] | tuple[Dim, ...] | DType
_REQUIRED = object()


@dataclass(frozen=True)
class AttrSpec:
    """One attribute of an op: its kind, default (absent = required) and allowed string values."""

    kind: AttrKind
    default: Any = _REQUIRED
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        """Whether the attribute has no default."""
        return self.default is _REQUIRED


InferFn = Callable[[Sequence[TensorType], Mapping[str, AttrValue]], TensorType]


@dataclass(frozen=True)
class OpSpec:
    """An IR operator: inputs (min..max; max None = variadic), attributes, shape inference, unit."""

    name: str
    min_inputs: int
    max_inputs: int | None
    infer: InferFn
    unit: Unit
    attrs: Mapping[str, AttrSpec] = field(default_factory=dict)
    doc: str = ""


def normalize_attr(op: str, key: str, spec: AttrSpec, value: Any) -> AttrValue:
    """An attribute value checked against its spec and put in canonical form."""
    where = f"op {op}: attribute {key}"
    k = spec.kind
    if k is AttrKind.BOOL:
        if not isinstance(value, bool):
            raise IRError(f"{where} must be a bool, got {value!r}")
        return value
    if k is AttrKind.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise IRError(f"{where} must be an int, got {value!r}")
        return int(value)
    if k is AttrKind.FLOAT:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise IRError(f"{where} must be a float, got {value!r}")
        return float(value)
    if k is AttrKind.STR:
        if not isinstance(value, str):
            raise IRError(f"{where} must be a string, got {value!r}")
        if spec.choices and value not in spec.choices:
            raise IRError(f"{where} is {value!r}; allowed: {', '.join(spec.choices)}")
        return value
    if k is AttrKind.INTS:
        if not isinstance(value, list | tuple) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise IRError(f"{where} must be a list of ints, got {value!r}")
        return tuple(int(v) for v in value)
    if k is AttrKind.DIM:
        return canonical_dim(value)
    if k is AttrKind.DIMS:
        if not isinstance(value, list | tuple):
            raise IRError(f"{where} must be a list of dimensions, got {value!r}")
        return tuple(canonical_dim(v) for v in value)
    if k is AttrKind.DTYPE:
        if isinstance(value, str):
            return DType.parse(value)
        if not isinstance(value, DType):
            raise IRError(f"{where} must be an element type, got {value!r}")
        return value
    raise AssertionError(k)


# ---------------------------------------------------------------------------------------------------- shape helpers


def broadcast_shapes(op: str, *shapes: tuple[Dim, ...]) -> tuple[Dim, ...]:
    """Numpy broadcasting of shapes that may be symbolic (a symbol only broadcasts against 1 or itself)."""
    rank = max((len(s) for s in shapes), default=0)
    out: list[Dim] = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        result: Dim = 1
        for d in dims:
            if d == 1:
                continue
            if result == 1 or dims_equal(result, d):
                result = d if result == 1 else result
                continue
            raise IRError(f"op {op}: shapes {' and '.join(_fmt(s) for s in shapes)} do not broadcast (axis {i})")
        out.append(result)
    return tuple(out)


def _fmt(shape: Sequence[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _axis(op: str, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise IRError(f"op {op}: axis {axis} out of range for rank {rank}")
    return axis % rank if rank else 0


def _same_dtype(op: str, types: Sequence[TensorType]) -> DType:
    dts = {t.dtype for t in types}
    if len(dts) != 1:
        raise IRError(f"op {op}: inputs have different element types ({', '.join(sorted(d.value for d in dts))})")
    return types[0].dtype


def _need_float(op: str, t: TensorType) -> None:
    if not t.dtype.is_float:
        raise IRError(f"op {op}: input must be floating point, got {t.dtype.value}")


# ---------------------------------------------------------------------------------------------------- inference


def _binary(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    return TensorType(_same_dtype(op, ts), broadcast_shapes(op, *(t.shape for t in ts)))


def _compare(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    _same_dtype(op, ts)
    return TensorType(DType.BOOL, broadcast_shapes(op, *(t.shape for t in ts)))


def _logical(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    for t in ts:
        if t.dtype is not DType.BOOL:
            raise IRError(f"op {op}: inputs must be bool, got {t.dtype.value}")
    return TensorType(DType.BOOL, broadcast_shapes(op, *(t.shape for t in ts)))


def _unary(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    return ts[0]


def _unary_float(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    _need_float(op, ts[0])
    return ts[0]


def _where(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    if ts[0].dtype is not DType.BOOL:
        raise IRError(f"op where: condition must be bool, got {ts[0].dtype.value}")
    return TensorType(_same_dtype(op, ts[1:]), broadcast_shapes(op, *(t.shape for t in ts)))


def _cast(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    return TensorType(a["dtype"], ts[0].shape)  # type: ignore[arg-type]


def _reduce(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    t = ts[0]
    axes = {_axis(op, ax, t.rank) for ax in a["axes"]}  # type: ignore[union-attr]
    if len(axes) != len(a["axes"]):  # type: ignore[arg-type]
        raise IRError(f"op {op}: repeated axis in {a['axes']}")
    if a["keepdims"]:
        shape = tuple(1 if i in axes else d for i, d in enumerate(t.shape))
    else:
        shape = tuple(d for i, d in enumerate(t.shape) if i not in axes)
    return TensorType(t.dtype, shape)


def _along_axis(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    _axis(op, a["axis"], ts[0].rank)  # type: ignore[arg-type]
    return ts[0]


def _softmax(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    _need_float(op, ts[0])
    return _along_axis(ts, a, op)


def _norm(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    x = ts[0]
    _need_float(op, x)
    axis = _axis(op, a["axis"], x.rank)  # type: ignore[arg-type]
    tail = x.shape[axis:]
    for name, t in zip(("weight", "bias"), ts[1:], strict=False):
        if t.dtype is not x.dtype:
            raise IRError(f"op {op}: {name} is {t.dtype.value}, input is {x.dtype.value}")
        if len(t.shape) != len(tail) or not all(dims_equal(p, q) for p, q in zip(t.shape, tail, strict=True)):
            raise IRError(f"op {op}: {name} shape {_fmt(t.shape)} must equal the normalised shape {_fmt(tail)}")
    return x


def _linear(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    x, w = ts[0], ts[1]
    _same_dtype(op, ts)
    if x.rank < 1 or w.rank != 2:
        raise IRError(f"op linear: input {_fmt(x.shape)} needs rank >= 1 and weight {_fmt(w.shape)} rank 2")
    if not dims_equal(x.shape[-1], w.shape[0]):
        raise IRError(f"op linear: input features {x.shape[-1]} != weight rows {w.shape[0]} (weight is [in, out])")
    if len(ts) == 3 and (ts[2].rank != 1 or not dims_equal(ts[2].shape[0], w.shape[1])):
        raise IRError(f"op linear: bias shape {_fmt(ts[2].shape)} must be [{w.shape[1]}]")
    return TensorType(x.dtype, (*x.shape[:-1], w.shape[1]))


def _matmul(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    x, y = ts
    dt = _same_dtype(op, ts)
    if x.rank < 2 or y.rank < 2:
        raise IRError(f"op matmul: operands {_fmt(x.shape)} and {_fmt(y.shape)} need rank >= 2")
    if not dims_equal(x.shape[-1], y.shape[-2]):
        raise IRError(f"op matmul: inner dimensions differ: {_fmt(x.shape)} @ {_fmt(y.shape)}")
    batch = broadcast_shapes(op, x.shape[:-2], y.shape[:-2])
    return TensorType(dt, (*batch, x.shape[-2], y.shape[-1]))


def _attention(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    q, k, v = ts[:3]
    dt = _same_dtype(op, ts[:3])
    _need_float(op, q)
    if q.rank < 2 or k.rank != q.rank or v.rank != q.rank:
        raise IRError(f"op attention: q {_fmt(q.shape)}, k {_fmt(k.shape)}, v {_fmt(v.shape)} need equal rank >= 2")
    if not dims_equal(q.shape[-1], k.shape[-1]) or not dims_equal(k.shape[-2], v.shape[-2]):
        raise IRError(f"op attention: q {_fmt(q.shape)}, k {_fmt(k.shape)}, v {_fmt(v.shape)} do not agree")
    batch = broadcast_shapes(op, q.shape[:-2], k.shape[:-2], v.shape[:-2])
    if len(ts) == 4:
        m = ts[3]
        if m.dtype is not DType.BOOL and m.dtype is not dt:
            raise IRError(f"op attention: mask must be bool or {dt.value}, got {m.dtype.value}")
        broadcast_shapes(op, m.shape, (*batch, q.shape[-2], k.shape[-2]))
    return TensorType(dt, (*batch, q.shape[-2], v.shape[-1]))


def _rotary(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    x, cos, sin = ts
    _same_dtype(op, ts)
    _need_float(op, x)
    d = x.shape[-1] if x.rank else 0
    if not isinstance(d, int) or d % 2:
        raise IRError(f"op rotary: last dimension {d} must be a static even number")
    out = broadcast_shapes(op, x.shape, cos.shape, sin.shape)
    if not all(dims_equal(p, q) for p, q in zip(out, x.shape, strict=True)) or len(out) != x.rank:
        raise IRError(f"op rotary: cos {_fmt(cos.shape)} / sin {_fmt(sin.shape)} must broadcast to x {_fmt(x.shape)}")
    return x


def _gather(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    data, idx = ts
    if not idx.dtype.is_int:
        raise IRError(f"op gather: indices must be integers, got {idx.dtype.value}")
    axis = _axis(op, a["axis"], data.rank)  # type: ignore[arg-type]
    return TensorType(data.dtype, (*data.shape[:axis], *idx.shape, *data.shape[axis + 1 :]))


def _reshape(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    x = ts[0]
    shape = a["shape"]
    if not dims_equal(mul_dims(*x.shape) if x.shape else 1, mul_dims(*shape) if shape else 1):  # type: ignore[misc]
        raise IRError(f"op reshape: {_fmt(x.shape)} cannot become {_fmt(shape)} (element counts differ)")  # type: ignore
    return TensorType(x.dtype, shape)  # type: ignore[arg-type]


def _transpose(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    x = ts[0]
    perm = a["perm"]
    if sorted(perm) != list(range(x.rank)):  # type: ignore[arg-type]
        raise IRError(f"op transpose: perm {perm} is not a permutation of {x.rank} axes")
    return TensorType(x.dtype, tuple(x.shape[p] for p in perm))  # type: ignore[union-attr]


def _slice(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    x = ts[0]
    axes, starts, ends, steps = a["axes"], a["starts"], a["ends"], a["steps"]
    n = len(axes)  # type: ignore[arg-type]
    if not (len(starts) == len(ends) == len(steps) == n):  # type: ignore[arg-type]
        raise IRError("op slice: axes, starts, ends and steps must have the same length")
    shape = list(x.shape)
    seen: set[int] = set()
    for ax, s, e, st in zip(axes, starts, ends, steps, strict=True):  # type: ignore[call-overload]
        axn = _axis(op, ax, x.rank)
        if axn in seen:
            raise IRError(f"op slice: axis {ax} appears twice")
        seen.add(axn)
        if st < 1:
            raise IRError(f"op slice: step {st} must be positive")
        size = x.shape[axn]
        if isinstance(size, int) and isinstance(s, int) and isinstance(e, int) and not 0 <= s <= e <= size:
            raise IRError(f"op slice: range {s}:{e} is outside 0:{size} on axis {ax} (need 0 <= start <= end <= size)")
        shape[axn] = ceil_div_dims(sub_dims(e, s), st)
    return TensorType(x.dtype, tuple(shape))


def _concat(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    dt = _same_dtype(op, ts)
    rank = ts[0].rank
    axis = _axis(op, a["axis"], rank)  # type: ignore[arg-type]
    for t in ts[1:]:
        ok = t.rank == rank and all(dims_equal(p, q) for i, (p, q) in enumerate(zip(t.shape, ts[0].shape,
                                                                                      strict=True)) if i != axis)
        if not ok:
            raise IRError(f"op concat: shapes {', '.join(_fmt(t.shape) for t in ts)} differ off axis {axis}")
    return TensorType(dt, (*ts[0].shape[:axis], add_dims(*(t.shape[axis] for t in ts)), *ts[0].shape[axis + 1 :]))


def _expand(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    x = ts[0]
    shape = tuple(a["shape"])  # type: ignore[arg-type]
    out = broadcast_shapes(op, x.shape, shape)
    if len(out) != len(shape) or not all(dims_equal(p, q) for p, q in zip(out, shape, strict=True)):
        raise IRError(f"op expand: {_fmt(x.shape)} does not broadcast to {_fmt(shape)}")
    return TensorType(x.dtype, shape)


def _arange(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    if a["step"] < 1:  # type: ignore[operator]
        raise IRError(f"op arange: step {a['step']} must be positive")
    n = ceil_div_dims(sub_dims(a["stop"], a["start"]), a["step"])  # type: ignore[arg-type]
    if not a["dtype"].is_int and not a["dtype"].is_float:  # type: ignore[union-attr]
        raise IRError("op arange: dtype must be numeric")
    return TensorType(a["dtype"], (n,))  # type: ignore[arg-type]


def _full(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    return TensorType(a["dtype"], tuple(a["shape"]))  # type: ignore[arg-type]


def _gelu_like(ts: Sequence[TensorType], a: Mapping[str, AttrValue], op: str = "") -> TensorType:
    _need_float(op, ts[0])
    return ts[0]


# ---------------------------------------------------------------------------------------------------- the table

_AXES = {"axes": AttrSpec(AttrKind.INTS), "keepdims": AttrSpec(AttrKind.BOOL, True)}
_NORM = {"axis": AttrSpec(AttrKind.INT, -1), "eps": AttrSpec(AttrKind.FLOAT, 1e-5)}


def _spec(name: str, lo: int, hi: int | None, infer: Callable[..., TensorType], unit: Unit,
          attrs: Mapping[str, AttrSpec] | None = None, doc: str = "") -> OpSpec:
    def bound(ts: Sequence[TensorType], a: Mapping[str, AttrValue]) -> TensorType:
        return infer(ts, a, op=name)

    return OpSpec(name, lo, hi, bound, unit, dict(attrs or {}), doc)


_S, _V, _L = Unit.SYSTOLIC, Unit.SIMD, Unit.LAYOUT

OPS: dict[str, OpSpec] = {
    s.name: s
    for s in [
        # linear algebra (systolic array)
        _spec("linear", 2, 3, _linear, _S, doc="x[..., K] @ weight[K, N] (+ bias[N])"),
        _spec("matmul", 2, 2, _matmul, _S, doc="batched a @ b with broadcast batch dims; both may be dynamic"),
        _spec("attention", 3, 4, _attention, _S,
              {"scale": AttrSpec(AttrKind.FLOAT), "causal": AttrSpec(AttrKind.BOOL, False)},
              doc="softmax(q @ k^T * scale + mask) @ v; bool mask keeps True; causal keeps key j <= query i; "
                  "a fully masked row gives zeros (as torch sdpa)"),
        # elementwise binary
        *[_spec(n, 2, 2, _binary, _V, doc=d) for n, d in [
            ("add", "a + b"), ("sub", "a - b"), ("mul", "a * b"), ("div", "a / b"), ("pow", "a ** b"),
            ("maximum", "max(a, b)"), ("minimum", "min(a, b)")]],
        *[_spec(n, 2, 2, _compare, _V, doc=d) for n, d in [
            ("equal", "a == b"), ("less", "a < b"), ("less_equal", "a <= b"), ("greater", "a > b"),
            ("greater_equal", "a >= b")]],
        *[_spec(n, 2, 2, _logical, _V, doc=d) for n, d in [("logical_and", "a and b"), ("logical_or", "a or b")]],
        _spec("logical_not", 1, 1, _logical, _V, doc="not a"),
        _spec("where", 3, 3, _where, _V, doc="cond ? a : b"),
        # elementwise unary
        *[_spec(n, 1, 1, _unary, _V, doc=d) for n, d in [("neg", "-x"), ("abs", "|x|")]],
        *[_spec(n, 1, 1, _unary_float, _V, doc=d) for n, d in [
            ("exp", "e^x"), ("log", "ln x"), ("sqrt", "sqrt x"), ("rsqrt", "1/sqrt x"), ("reciprocal", "1/x"),
            ("tanh", "tanh x"), ("erf", "erf x"), ("sigmoid", "1/(1+e^-x)"), ("relu", "max(x, 0)"),
            ("silu", "x * sigmoid(x)")]],
        _spec("gelu", 1, 1, _gelu_like, _V, {"approximate": AttrSpec(AttrKind.STR, "none", ("none", "tanh"))},
              doc="x * Phi(x); approximate=tanh uses the tanh form"),
        _spec("cast", 1, 1, _cast, _V, {"dtype": AttrSpec(AttrKind.DTYPE)}, doc="convert element type"),
        # reductions and normalisations
        *[_spec(n, 1, 1, _reduce, _V, _AXES, doc=d) for n, d in [
            ("reduce_sum", "sum over axes"), ("reduce_mean", "mean over axes"), ("reduce_max", "max over axes"),
            ("reduce_min", "min over axes")]],
        _spec("cumsum", 1, 1, _along_axis, _V, {"axis": AttrSpec(AttrKind.INT)}, doc="inclusive prefix sum"),
        _spec("softmax", 1, 1, _softmax, _V, {"axis": AttrSpec(AttrKind.INT, -1)}, doc="exp(x - max) / sum"),
        _spec("layer_norm", 1, 3, _norm, _V, _NORM,
              doc="(x - mean) / sqrt(var + eps) * weight + bias over axes axis.."),
        _spec("rms_norm", 1, 2, _norm, _V, _NORM, doc="x / sqrt(mean(x^2) + eps) * weight over axes axis.."),
        _spec("rotary", 3, 3, _rotary, _V, {"interleaved": AttrSpec(AttrKind.BOOL, False)},
              doc="x * cos + rotate_half(x) * sin (halves, or even/odd pairs when interleaved)"),
        # data movement
        _spec("gather", 2, 2, _gather, _L, {"axis": AttrSpec(AttrKind.INT, 0)}, doc="take(data, indices, axis)"),
        _spec("reshape", 1, 1, _reshape, _L, {"shape": AttrSpec(AttrKind.DIMS)}, doc="same elements, new shape"),
        _spec("transpose", 1, 1, _transpose, _L, {"perm": AttrSpec(AttrKind.INTS)}, doc="permute axes"),
        _spec("slice", 1, 1, _slice, _L, {"axes": AttrSpec(AttrKind.INTS), "starts": AttrSpec(AttrKind.DIMS),
                                          "ends": AttrSpec(AttrKind.DIMS), "steps": AttrSpec(AttrKind.INTS)},
              doc="x[start:end:step] on each listed axis; 0 <= start <= end <= size, step >= 1"),
        _spec("concat", 1, None, _concat, _L, {"axis": AttrSpec(AttrKind.INT)}, doc="join along axis"),
        _spec("expand", 1, 1, _expand, _L, {"shape": AttrSpec(AttrKind.DIMS)}, doc="broadcast to shape"),
        _spec("arange", 0, 0, _arange, _L, {"start": AttrSpec(AttrKind.INT, 0), "stop": AttrSpec(AttrKind.DIM),
                                            "step": AttrSpec(AttrKind.INT, 1), "dtype": AttrSpec(AttrKind.DTYPE)},
              doc="[start, start+step, ...) below stop"),
        _spec("full", 0, 0, _full, _L, {"shape": AttrSpec(AttrKind.DIMS), "value": AttrSpec(AttrKind.FLOAT),
                                        "dtype": AttrSpec(AttrKind.DTYPE)}, doc="a tensor filled with value"),
    ]
}


def op_spec(op: str) -> OpSpec:
    """The spec of an op; an IRError naming the known ops when there is none."""
    try:
        return OPS[op]
    except KeyError:
        raise IRError(f"unknown op {op!r}") from None


def normalize_attrs(op: str, attrs: Mapping[str, Any]) -> tuple[tuple[str, AttrValue], ...]:
    """An op's attributes checked, defaults filled in, sorted by name."""
    spec = op_spec(op)
    unknown = sorted(set(attrs) - set(spec.attrs))
    if unknown:
        raise IRError(f"op {op}: unknown attribute(s) {', '.join(unknown)}; known: {', '.join(spec.attrs) or 'none'}")
    out = []
    for key, aspec in sorted(spec.attrs.items()):
        if key in attrs:
            out.append((key, normalize_attr(op, key, aspec, attrs[key])))
        elif aspec.required:
            raise IRError(f"op {op}: attribute {key} is required")
        else:
            out.append((key, normalize_attr(op, key, aspec, aspec.default)))
    return tuple(out)


def infer_type(op: str, inputs: Sequence[TensorType], attrs: Mapping[str, AttrValue]) -> TensorType:
    """The result type of ``op`` on inputs of these types (attributes already normalised)."""
    spec = op_spec(op)
    n = len(inputs)
    if n < spec.min_inputs or (spec.max_inputs is not None and n > spec.max_inputs):
        want = f"{spec.min_inputs}" + ("+" if spec.max_inputs is None else
                                       "" if spec.max_inputs == spec.min_inputs else f"..{spec.max_inputs}")
        raise IRError(f"op {op}: takes {want} input(s), got {n}")
    return spec.infer(inputs, attrs)


__all__ = ["OPS", "AttrKind", "AttrSpec", "AttrValue", "OpSpec", "Unit", "broadcast_shapes", "dim_expr",
           "infer_type", "normalize_attrs", "op_spec"]
