"""Symbolic sizes: torch's SymInts (``s0``, ``2*s0 - 1``) as IR dimensions over the user's names (``seq``)."""

from __future__ import annotations

from collections.abc import Mapping

import sympy
import torch
from torch.utils._sympy import functions as tsf

from tataa.errors import FrontendError, IRError
from tataa.ir.dims import Dim, canonical_dim, dim_expr, eval_dim


class SymbolTable:
    """Maps torch's shape symbols to IR symbol names, and converts sizes and size expressions both ways."""

    def __init__(self) -> None:
        self._names: dict[sympy.Symbol, str] = {}
        self._cache: dict[sympy.Expr, Dim] = {}
        self.bounds: dict[str, tuple[int, int | None]] = {}

    def bind(self, symbol: sympy.Symbol, name: str, lower: int = 0, upper: int | None = None) -> None:
        """Name a torch symbol (a second name for the same symbol is ignored: torch found them equal)."""
        if symbol not in self._names:
            self._cache.clear()
            self._names[symbol] = name
            self.bounds[name] = (lower, upper)

    @property
    def names(self) -> tuple[str, ...]:
        """The IR names of the bound symbols."""
        return tuple(self._names.values())

    def dim(self, v: int | torch.SymInt | sympy.Expr, where: str = "size") -> Dim:
        """An IR dimension from an int, a SymInt or a torch sympy expression."""
        if isinstance(v, bool):
            raise FrontendError(f"{where}: {v!r} is a bool, not a size")
        if isinstance(v, int):
            return v
        expr = v.node.expr if isinstance(v, torch.SymInt) else v
        if not isinstance(expr, sympy.Expr):
            raise FrontendError(f"{where}: {v!r} is not a size")
        if expr not in self._cache:
            self._cache[expr] = self._from_expr(sympy.sympify(expr), where)
        return self._cache[expr]

    def shape(self, shape: tuple | torch.Size, where: str = "tensor") -> tuple[Dim, ...]:
        """IR dimensions of a torch shape."""
        return tuple(self.dim(d, f"{where} axis {i}") for i, d in enumerate(shape))

    def _from_expr(self, expr: sympy.Expr, where: str) -> Dim:
        if expr.is_Integer:
            return int(expr)
        expr = expr.replace(tsf.FloorDiv, lambda a, b: sympy.floor(a / b))
        expr = expr.replace(tsf.CeilDiv, lambda a, b: sympy.ceiling(a / b))
        unknown = [s for s in expr.free_symbols if s not in self._names]
        if unknown:
            raise FrontendError(f"{where}: size {expr} uses {', '.join(map(str, unknown))}, which no input dimension "
                                "defines (a data-dependent size?)")
        named = expr.xreplace({s: sympy.Symbol(n, integer=True, positive=True) for s, n in self._names.items()})
        try:
            text = str(sympy.simplify(named)).replace(" ", "")
            return canonical_dim(text)
        except IRError as e:
            raise FrontendError(f"{where}: size {expr} cannot be an IR dimension: {e}") from None

    @staticmethod
    def value(d: Dim, bindings: Mapping[str, int]) -> int:
        """The value of an IR dimension under concrete bindings of the names."""
        return eval_dim(d, bindings)

    @staticmethod
    def is_symbolic(d: Dim) -> bool:
        """Whether a dimension depends on a symbol."""
        return not isinstance(d, int) and bool(dim_expr(d).free_symbols)


__all__ = ["SymbolTable"]
