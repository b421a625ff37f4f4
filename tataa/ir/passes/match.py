"""Small matching helpers shared by the rewrites: scalar constants, operand orders, products of factors."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from tataa.ir.graph import Node
from tataa.ir.passes.editor import Editor

SCALAR_LIMIT = 1 << 16
"""Constants larger than this are never treated as broadcast scalars (checking them would cost too much)."""


def scalar(ed: Editor, name: str) -> float | None:
    """The value of a constant whose elements are all equal (any broadcastable shape), or of a ``full`` node."""
    v = ed.value(name)
    if v is not None:
        if v.size == 0 or v.size > SCALAR_LIMIT or v.dtype == np.bool_:
            return None
        first = v.reshape(-1)[0]
        if not np.all(v == first):
            return None
        return float(first)
    n = ed.producer(name)
    if n is not None and n.op == "full" and (n.type.dtype.is_float or n.type.dtype.is_int):
        return float(n.attr("value"))
    return None


def close(a: float | None, b: float, rtol: float = 1e-5) -> bool:
    """Whether ``a`` is within a relative tolerance of ``b``."""
    return a is not None and math.isfinite(a) and abs(a - b) <= rtol * abs(b)


def node_of(ed: Editor, name: str, *ops: str, private: bool = False) -> Node | None:
    """The node producing ``name`` if its op is one of ``ops`` (and, if asked, nobody else reads the value)."""
    n = ed.producer(name)
    if n is None or n.op not in ops or (private and not ed.private(name)):
        return None
    return n


def orders(n: Node) -> Iterator[tuple[str, str]]:
    """Both operand orders of a binary node (one when the operands are the same value)."""
    a, b = n.inputs
    yield a, b
    if a != b:
        yield b, a


def axis_from(axes: Sequence[int], rank: int) -> int | None:
    """The first axis when ``axes`` are exactly the trailing axes ``axis..rank-1`` (else None)."""
    norm = sorted(a % rank for a in axes) if rank else []
    if not norm or norm != list(range(norm[0], rank)):
        return None
    return norm[0]


@dataclass
class Product:
    """A value written as ``coef * factor_0 * factor_1 * ...``; ``internal`` are the nodes walked through."""

    factors: list[str] = field(default_factory=list)
    coef: float = 1.0
    internal: set[str] = field(default_factory=set)


def product(ed: Editor, name: str, top: bool = False) -> Product:
    """Flatten products: mul, div by a scalar, neg and pow by 2 or 3, through values only this chain reads.

    ``top`` walks into ``name``'s own node even when it has several readers (it is the node being rewritten, and is
    not listed in ``internal``).
    """
    out = Product()

    def walk(v: str, is_top: bool) -> None:
        n = ed.producer(v)
        if n is None or n.op not in ("mul", "div", "neg", "pow") or not (is_top or ed.private(v)):
            out.factors.append(v)
            return
        if n.op == "mul":
            a, b = n.inputs
            sa, sb = scalar(ed, a), scalar(ed, b)
            if sb is not None or sa is not None:
                rest, s = (a, sb) if sb is not None else (b, sa)
                walk(rest, False)
                out.coef *= s  # type: ignore[operator]
            else:
                walk(a, False)
                walk(b, False)
        elif n.op == "div":
            s = scalar(ed, n.inputs[1])
            if not s:
                out.factors.append(v)
                return
            walk(n.inputs[0], False)
            out.coef /= s
        elif n.op == "neg":
            walk(n.inputs[0], False)
            out.coef = -out.coef
        else:
            p = scalar(ed, n.inputs[1])
            if p not in (2.0, 3.0):
                out.factors.append(v)
                return
            for _ in range(int(p)):  # type: ignore[arg-type]
                walk(n.inputs[0], False)
        if not is_top:
            out.internal.add(v)

    walk(name, top)
    return out


def huge_negative(x: float | np.ndarray, dtype: np.dtype) -> np.ndarray | bool:
    """Whether values are -inf or at most half the dtype's lowest (``finfo.min`` masks): exp(x - max) is 0."""
    return np.asarray(x) <= float(np.finfo(dtype).min) / 2


def is_causal_mask(ed: Editor, mask: str, sq: object, sk: object) -> bool:
    """Whether a constant ``[..., sq, sk]`` mask keeps exactly key j <= query i (bool True, or float 0 kept and
    -inf / ``finfo.min`` masked: no row is fully masked, so the two fills agree)."""
    v = ed.value(mask)
    if v is None or v.ndim < 2 or any(d != 1 for d in v.shape[:-2]) or v.shape[-2:] != (sq, sk):
        return False
    band = np.arange(sk)[None, :] <= np.arange(sq)[:, None]  # type: ignore[call-overload]
    m = v.reshape(v.shape[-2:])
    if v.dtype == np.bool_:
        return bool(np.array_equal(m, band))
    return bool(np.all(m[band] == 0) and np.all(huge_negative(m[~band], m.dtype)))


__all__ = ["SCALAR_LIMIT", "Product", "axis_from", "close", "huge_negative", "is_causal_mask", "node_of", "orders",
           "product", "scalar"]
