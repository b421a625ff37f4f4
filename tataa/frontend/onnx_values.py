"""What the ONNX importer knows about each ONNX value while it walks the graph.

A value is one or more of: a run-time IR value (``name``), a constant (``const``, folded at import time), a small
integer tensor whose entries are known symbolically (``known``: shape arithmetic such as ``Shape -> Gather -> Concat``),
and a position table (``grow``: a value that depends only on symbolic sizes and grows along one axis with one symbol).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy
from onnx import TensorProto

from tataa.errors import IRError
from tataa.ir.dims import Dim, dim_expr, from_expr
from tataa.ir.types import DType

# ONNX element types the IR has an equivalent for.
ONNX_TO_DTYPE: dict[int, DType] = {
    TensorProto.FLOAT: DType.F32,
    TensorProto.DOUBLE: DType.F64,
    TensorProto.FLOAT16: DType.F16,
    TensorProto.BFLOAT16: DType.BF16,
    TensorProto.INT64: DType.I64,
    TensorProto.INT32: DType.I32,
    TensorProto.INT8: DType.I8,
    TensorProto.UINT8: DType.U8,
    TensorProto.BOOL: DType.BOOL,
}

# Integer values at or beyond this magnitude stand for "to the end" in Slice bounds (INT64_MAX and friends).
HUGE = 2**31


def onnx_type_name(code: int) -> str:
    """The ONNX name of an element type code (``FLOAT``, ``INT64``, ...)."""
    try:
        return TensorProto.DataType.Name(code)
    except ValueError:
        return f"type {code}"


def dtype_of_numpy(dt: np.dtype) -> DType | None:
    """The IR element type of a numpy dtype, or None when the IR has none."""
    try:
        return DType.from_numpy(dt)
    except IRError:
        return None


@dataclass(frozen=True, eq=False)
class Grow:
    """A value that depends only on symbolic sizes, of static shape except along ``axis``, whose length there is an
    expression in ``symbol`` alone; its entries at index i along ``axis`` do not change as the symbol grows.

    ``thunk(n)`` evaluates the value with the symbol bound to n, so that a function the IR cannot express (cos, sin)
    can be tabulated once for a large n and sliced to the run-time length.
    """

    axis: int
    symbol: str
    thunk: Callable[[int], np.ndarray]


@dataclass(frozen=True, eq=False)
class Val:
    """One ONNX value as the importer sees it (see the module docstring)."""

    dtype: DType | None
    shape: tuple[Dim, ...]
    name: str | None = None
    const: np.ndarray | None = None
    known: tuple[sympy.Expr, ...] | None = None
    grow: Grow | None = None
    placeholder: bool = False  # stands in for the output of an unsupported node (diagnostics go on)
    source: str = ""  # the ONNX name it was bound to first (names materialised constants)
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def rank(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def is_runtime(self) -> bool:
        """Whether the value is only known at run time (no constant, no symbolic entries)."""
        return self.const is None and self.known is None

    def ints(self) -> tuple[sympy.Expr, ...] | None:
        """The entries of a rank 0/1 integer (or bool) value, symbolic or not; None when they are not known."""
        if self.known is not None:
            return self.known
        c = self.const
        if c is not None and c.ndim <= 1 and c.size <= 4096 and (c.dtype.kind in "iub"):
            return tuple(sympy.Integer(int(v)) for v in c.reshape(-1))
        return None

    def concrete_ints(self) -> tuple[int, ...] | None:
        """The entries as Python ints when every one is a known integer; else None."""
        vals = self.ints()
        if vals is None or not all(v.is_Integer for v in vals):
            return None
        return tuple(int(v) for v in vals)


def const_val(arr: np.ndarray) -> Val:
    """A constant value (entries of small integer tensors are also kept as ``known``)."""
    arr = np.asarray(arr)
    return Val(dtype_of_numpy(arr.dtype), tuple(int(d) for d in arr.shape), const=arr)


def known_val(values: Sequence[sympy.Expr | int], dtype: DType, scalar: bool = False) -> Val:
    """A rank-1 (or scalar) integer value with symbolically known entries; a constant when all are integers."""
    exprs = tuple(sympy.Integer(v) if isinstance(v, int) else v for v in values)
    if scalar and len(exprs) != 1:
        raise IRError(f"a scalar needs exactly one entry, got {len(exprs)}")
    if all(e.is_Integer for e in exprs):
        arr = np.array([int(e) for e in exprs], dtype=dtype.numpy)
        return const_val(arr.reshape(()) if scalar else arr)
    shape: tuple[Dim, ...] = () if scalar else (len(exprs),)
    return Val(dtype, shape, known=exprs)


def expr_of(d: Dim) -> sympy.Expr:
    """A dimension as a sympy expression (symbols are positive integers, as in ``tataa.ir.dims``)."""
    return dim_expr(d)


def dim_of(e: sympy.Expr) -> Dim:
    """A non-negative sympy expression as an IR dimension (raises IRError when provably negative)."""
    return from_expr(e)


def nonneg(e: sympy.Expr) -> bool | None:
    """True when ``e >= 0`` for every value of the symbols (positive integers), False when ``e < 0``; else None."""
    if e.is_Integer:
        return int(e) >= 0
    if e.is_nonnegative:
        return True
    if e.is_negative:
        return False
    return None


def numel(shape: Sequence[Dim]) -> sympy.Expr:
    """The number of elements of a shape, as an expression."""
    out: sympy.Expr = sympy.Integer(1)
    for d in shape:
        out = out * expr_of(d)
    return out


def static_numel(shape: Sequence[Dim]) -> int | None:
    """The number of elements when every dimension is an int; else None."""
    if all(isinstance(d, int) for d in shape):
        return math.prod(int(d) for d in shape)
    return None


def symbols_of(e: sympy.Expr) -> frozenset[str]:
    """The names of the symbols in an expression."""
    return frozenset(str(s) for s in e.free_symbols)


__all__ = ["HUGE", "ONNX_TO_DTYPE", "Grow", "Val", "const_val", "dim_of", "dtype_of_numpy", "expr_of", "known_val",
           "nonneg", "numel", "onnx_type_name", "static_numel", "symbols_of"]
