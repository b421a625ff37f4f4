"""Tables for input-independent nodes the IR cannot express (rotary ``cos``/``sin`` of positions, ...).

A node whose value does not depend on any user input's *values* (only on parameters, constants and symbolic
sizes) is evaluated with torch at the largest allowed sizes; the IR then slices that table to the actual sizes.
Evaluating again at a second size checks that smaller sizes really are prefixes of the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.fx

from tataa.frontend.torch_lower import Lowerer
from tataa.frontend.torch_symbols import SymbolTable
from tataa.frontend.torch_values import LazyList, TVal, Unsupported, ir_dtype, to_numpy
from tataa.ir.dims import dim_symbols, eval_dim
from tataa.ir.types import TensorType

MAX_TABLE_ELEMENTS = 1 << 24
"""The largest table (elements) a node may be folded into."""

_SHAPE_ONLY = {"sym_size", "sym_numel", "sym_stride", "zeros_like", "ones_like", "empty_like", "full_like",
               "new_zeros", "new_ones", "new_full", "new_empty", "_assert_tensor_metadata"}


def _aten_name(target: object) -> str:
    schema = getattr(target, "_schema", None)
    return schema.name.split("::")[-1] if schema is not None else ""


class Tabulator:
    """Finds input-independent nodes of an exported graph and folds them into (sliced) constant tables."""

    def __init__(self, params: Mapping[torch.fx.Node, torch.Tensor], user_inputs: set[torch.fx.Node],
                 symbols: SymbolTable, upper: Mapping[str, int | None], hints: Mapping[str, int]) -> None:
        self.params = params
        self.user_inputs = user_inputs
        self.symbols = symbols
        self.upper = upper
        self.hints = hints
        self._dependent: dict[torch.fx.Node, bool] = {}

    def input_dependent(self, node: torch.fx.Node) -> bool:
        """Whether a node's value depends on the values (not just the shapes) of user inputs."""
        if node in self._dependent:
            return self._dependent[node]
        if node.op == "placeholder":
            result = node in self.user_inputs
        elif node.op != "call_function":
            result = True
        elif _aten_name(node.target) in _SHAPE_ONLY:
            result = False
        else:
            result = any(self.input_dependent(n) for n in node.all_input_nodes)
        self._dependent[node] = result
        return result

    def _evaluate(self, node: torch.fx.Node, bindings: Mapping[str, int], memo: dict[torch.fx.Node, Any]) -> Any:
        if node in memo:
            return memo[node]
        if node.op == "placeholder":
            if node in self.params:
                value: Any = self.params[node]
            else:
                val = node.meta.get("val")
                if not isinstance(val, torch.Tensor):
                    raise Unsupported(f"input {node.name} is not a tensor")
                shape = [eval_dim(d, bindings) for d in self.symbols.shape(val.shape, node.name)]
                value = torch.zeros(shape, dtype=val.dtype)
        elif node.op == "call_function":
            args = torch.fx.node.map_arg(node.args, lambda n: self._evaluate(n, bindings, memo))
            kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: self._evaluate(n, bindings, memo))
            try:
                value = node.target(*args, **kwargs)  # type: ignore[operator]
            except Exception as e:  # any failure of the source op: report, do not crash
                raise Unsupported(f"evaluating it with torch failed: {type(e).__name__}: {e}") from None
        else:
            raise Unsupported(f"depends on a {node.op} node")
        memo[node] = value
        return value

    def evaluate(self, node: torch.fx.Node, bindings: Mapping[str, int], item: int | None = None) -> torch.Tensor:
        """The node's value (its ``item``-th result) with the symbolic sizes bound to concrete values."""
        with torch.no_grad():
            value = self._evaluate(node, bindings, {})
        if item is not None and isinstance(value, tuple | list):
            value = value[item]
        if not isinstance(value, torch.Tensor):
            raise Unsupported("only tensor results can be tabulated")
        return value

    def table(self, lo: Lowerer, node: torch.fx.Node) -> TVal | LazyList:
        """The node as a constant table sliced to the symbolic sizes (one per result of a multi-result op);
        Unsupported when that is not exact."""
        val = node.meta.get("val")
        if isinstance(val, tuple | list) and all(isinstance(v, torch.Tensor) for v in val):
            return LazyList(len(val), lambda i: self._table(lo, node, val[i], i))
        return self._table(lo, node, val, None)

    def _table(self, lo: Lowerer, node: torch.fx.Node, val: object, item: int | None) -> TVal:
        if not isinstance(val, torch.Tensor):
            raise Unsupported("only tensor results can be tabulated")
        want = TensorType(ir_dtype(val.dtype, node.name), self.symbols.shape(val.shape, node.name))
        names = sorted(self._used_symbols(node))
        missing = [n for n in names if self.upper.get(n) is None]
        if missing:
            raise Unsupported(f"its value depends only on sizes, but tabulating it needs an upper bound for "
                              f"{', '.join(missing)} (pass max_sizes={{{missing[0]!r}: N}})")
        top = {n: int(self.upper[n]) for n in names}  # type: ignore[arg-type]
        others = {n: self.hints.get(n, 1) for n in self.symbols.names if n not in top}  # values that do not matter
        numel = 1
        for d in want.shape:
            numel *= eval_dim(d, top)
        if numel > MAX_TABLE_ELEMENTS:
            raise Unsupported(f"its table at the largest sizes {top} would have {numel} elements "
                              f"(limit {MAX_TABLE_ELEMENTS})")
        full = self.evaluate(node, top | others, item)
        sym_axes = [i for i, d in enumerate(want.shape) if dim_symbols(d)]
        if names:
            check = {n: (self.hints.get(n, top[n]) if self.hints.get(n, top[n]) != top[n] else top[n] - 1)
                     for n in names}
            if all(v >= 1 for v in check.values()):
                self._check_prefix(node, full, want, check | others, item)
        hint = node.name if item is None else f"{node.name}_{item}"
        c = lo.constant(to_numpy(full, node.name), f"{hint}.table")
        if not sym_axes:
            return c
        return lo.emit("slice", [c], axes=tuple(sym_axes), starts=tuple(0 for _ in sym_axes),
                       ends=tuple(want.shape[i] for i in sym_axes), steps=tuple(1 for _ in sym_axes))

    def _used_symbols(self, node: torch.fx.Node) -> set[str]:
        """The size symbols appearing in the shapes and size values of a node's ancestors."""
        seen: set[torch.fx.Node] = set()
        stack, names = [node], set()
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(n.all_input_nodes)
            val = n.meta.get("val")
            sizes = list(val.shape) if isinstance(val, torch.Tensor) else [val] if isinstance(val, torch.SymInt) else []
            for d in sizes:
                if isinstance(d, torch.SymInt):
                    names |= dim_symbols(self.symbols.dim(d, n.name))
        return names

    def _check_prefix(self, node: torch.fx.Node, full: torch.Tensor, want: TensorType, check: Mapping[str, int],
                      item: int | None) -> None:
        try:
            small = self.evaluate(node, check, item)
        except Unsupported:
            return  # the second size is not valid for this model; the table itself was computed fine
        index = tuple(slice(0, eval_dim(d, check)) for d in want.shape)
        expect = full[index]
        same = expect.shape == small.shape and (
            torch.equal(expect, small) if not expect.is_floating_point()
            else torch.allclose(expect.double(), small.double(), rtol=1e-5, atol=1e-6, equal_nan=True))
        if not same:
            raise Unsupported(f"its value at sizes {dict(check)} is not a prefix of its value at the largest sizes, "
                              "so it cannot be a sliced table")


__all__ = ["MAX_TABLE_ELEMENTS", "Tabulator"]
