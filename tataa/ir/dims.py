"""Tensor dimensions: an int, or a symbolic expression over named sizes (``seq``, ``batch*seq``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping

import sympy

from tataa.errors import IRError

Dim = int | str
"""A static size (int >= 0) or a symbolic one, kept as sympy's canonical printed form (``"batch*seq"``)."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALLOWED = re.compile(r"^[A-Za-z0-9_+\-*/(), ]+$")
_FUNCS = {"floor": sympy.floor, "ceiling": sympy.ceiling, "Max": sympy.Max, "Min": sympy.Min}


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> sympy.Expr:
    if not _ALLOWED.match(text):
        raise IRError(f"dimension {text!r}: only names, integers, + - * / // and parentheses are allowed")
    names = {n: sympy.Symbol(n, integer=True, positive=True) for n in _NAME.findall(text) if n not in _FUNCS}
    try:
        expr = sympy.parse_expr(text, local_dict={**names, **_FUNCS}, evaluate=True)
    except Exception as e:  # sympy raises many types for bad text
        raise IRError(f"dimension {text!r} is not a valid size expression: {e}") from None
    if not isinstance(expr, sympy.Expr):
        raise IRError(f"dimension {text!r} is not a size expression")
    return expr


@functools.lru_cache(maxsize=8192)
def _canonical_text(text: str) -> Dim:
    return from_expr(_parse(text))


def dim_expr(d: Dim) -> sympy.Expr:
    """The sympy expression of a dimension."""
    if isinstance(d, bool):
        raise IRError(f"dimension {d!r} is a bool, not a size")
    if isinstance(d, int):
        return sympy.Integer(d)
    return _parse(d)


def from_expr(expr: sympy.Expr) -> Dim:
    """A dimension from a sympy expression: an int when it is a constant, otherwise its canonical text."""
    expr = sympy.expand(expr) if not expr.is_Atom else expr
    if expr.is_Integer:
        v = int(expr)
        if v < 0:
            raise IRError(f"dimension evaluates to a negative size {v}")
        return v
    if expr.is_number:
        raise IRError(f"dimension {expr} is not an integer")
    return str(expr).replace(" ", "")


def canonical_dim(d: Dim | sympy.Expr) -> Dim:
    """The canonical form of a dimension (ints stay ints; expressions are normalised)."""
    if isinstance(d, sympy.Expr):
        return from_expr(d)
    if isinstance(d, bool):
        raise IRError(f"dimension {d!r} is a bool, not a size")
    if isinstance(d, int):
        if d < 0:
            raise IRError(f"dimension {d} is negative")
        return d
    if isinstance(d, str):
        return _canonical_text(d)
    raise IRError(f"dimension {d!r} has type {type(d).__name__}, expected int or str")


def dims_equal(a: Dim, b: Dim) -> bool:
    """Whether two dimensions are provably equal."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if a == b:
        return True
    return _exprs_equal(str(a), str(b))


@functools.lru_cache(maxsize=8192)
def _exprs_equal(a: str, b: str) -> bool:
    return sympy.simplify(_parse(a) - _parse(b)) == 0


def shapes_equal(a: Iterable[Dim], b: Iterable[Dim]) -> bool:
    """Whether two shapes are provably equal, dimension by dimension."""
    a, b = tuple(a), tuple(b)
    return len(a) == len(b) and all(dims_equal(x, y) for x, y in zip(a, b, strict=True))


def mul_dims(*ds: Dim) -> Dim:
    """The product of dimensions."""
    if all(isinstance(d, int) for d in ds):
        out = 1
        for d in ds:
            out *= int(d)
        return out
    return _mul(tuple(ds))


@functools.lru_cache(maxsize=8192)
def _mul(ds: tuple[Dim, ...]) -> Dim:
    return from_expr(sympy.Mul(*(dim_expr(d) for d in ds)))


def add_dims(*ds: Dim) -> Dim:
    """The sum of dimensions."""
    if all(isinstance(d, int) for d in ds):
        return sum(int(d) for d in ds)
    return _add(tuple(ds))


@functools.lru_cache(maxsize=8192)
def _add(ds: tuple[Dim, ...]) -> Dim:
    return from_expr(sympy.Add(*(dim_expr(d) for d in ds)))


def sub_dims(a: Dim, b: Dim) -> Dim:
    """``a - b`` (an error when it is provably negative)."""
    if isinstance(a, int) and isinstance(b, int):
        if a < b:
            raise IRError(f"dimension {a} - {b} is negative")
        return a - b
    return _sub(a, b)


@functools.lru_cache(maxsize=8192)
def _sub(a: Dim, b: Dim) -> Dim:
    return from_expr(dim_expr(a) - dim_expr(b))


def ceil_div_dims(a: Dim, b: int) -> Dim:
    """``ceil(a / b)`` for a positive integer ``b``."""
    if isinstance(a, int):
        return -(-a // b)
    return _ceil_div(a, b)


@functools.lru_cache(maxsize=8192)
def _ceil_div(a: Dim, b: int) -> Dim:
    return from_expr(sympy.ceiling(dim_expr(a) / b))


def dim_symbols(d: Dim) -> frozenset[str]:
    """The names of the symbolic sizes a dimension depends on."""
    if isinstance(d, int):
        return frozenset()
    return frozenset(str(s) for s in dim_expr(d).free_symbols)


def is_static(shape: Iterable[Dim]) -> bool:
    """Whether every dimension of a shape is an int."""
    return all(isinstance(d, int) for d in shape)


def eval_dim(d: Dim, bindings: Mapping[str, int]) -> int:
    """The value of a dimension once its symbols are bound."""
    if isinstance(d, int):
        return d
    expr = dim_expr(d)
    missing = [str(s) for s in expr.free_symbols if str(s) not in bindings]
    if missing:
        raise IRError(f"dimension {d!r}: no value for {', '.join(sorted(missing))}")
    v = expr.subs({s: int(bindings[str(s)]) for s in expr.free_symbols})
    if not v.is_Integer or int(v) < 0:
        raise IRError(f"dimension {d!r} evaluates to {v}, not a size")
    return int(v)


def eval_shape(shape: Iterable[Dim], bindings: Mapping[str, int]) -> tuple[int, ...]:
    """A concrete shape once its symbols are bound."""
    return tuple(eval_dim(d, bindings) for d in shape)


def format_dim(d: Dim) -> str:
    """The text form of a dimension: ints and plain names bare, expressions quoted."""
    if isinstance(d, int):
        return str(d)
    if _NAME.fullmatch(d):
        return d
    return f'"{d}"'
