"""Specialisation: bind symbolic sizes to integers everywhere, then fold what became static."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import sympy

from tataa.errors import IRError
from tataa.ir.dims import Dim, canonical_dim, dim_expr, dim_symbols
from tataa.ir.graph import Graph, Node, Value
from tataa.ir.ops import AttrKind, op_spec
from tataa.ir.passes.fold import constant_fold_stats
from tataa.ir.types import TensorType


def graph_symbols(g: Graph) -> frozenset[str]:
    """Every symbolic size a graph uses: in input and node types and in size attributes."""
    out: set[str] = set(g.symbols)
    for n in g.nodes:
        for d in n.type.shape:
            out |= dim_symbols(d)
        for key, value in n.attrs:
            kind = op_spec(n.op).attrs[key].kind
            if kind is AttrKind.DIM:
                out |= dim_symbols(value)  # type: ignore[arg-type]
            elif kind is AttrKind.DIMS:
                for d in value:  # type: ignore[union-attr]
                    out |= dim_symbols(d)
    return frozenset(out)


def specialize_stats(g: Graph, dims: Mapping[str, int]) -> tuple[Graph, Counter[str]]:
    """The graph with the named sizes bound and constants folded again, and counts of what changed."""
    known = graph_symbols(g)
    unknown = sorted(set(dims) - known)
    if unknown:
        raise IRError(f"specialize {g.name}: no size named {', '.join(unknown)}; the graph's sizes are "
                      f"{', '.join(sorted(known)) or 'none'}")
    for k, v in dims.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise IRError(f"specialize {g.name}: size {k} = {v!r} must be a positive integer")
    subs = {sympy.Symbol(k, integer=True, positive=True): int(v) for k, v in dims.items()}
    cache: dict[Dim, Dim] = {}

    def bind(d: Dim) -> Dim:
        if isinstance(d, int):
            return d
        if d not in cache:
            expr = dim_expr(d)
            cache[d] = canonical_dim(expr.subs(subs)) if expr.free_symbols & subs.keys() else d
        return cache[d]

    def bind_type(t: TensorType) -> TensorType:
        return TensorType(t.dtype, tuple(bind(d) for d in t.shape))

    stats: Counter[str] = Counter()
    nodes = []
    for n in g.nodes:
        attrs = []
        for key, value in n.attrs:
            kind = op_spec(n.op).attrs[key].kind
            if kind is AttrKind.DIM:
                value = bind(value)  # type: ignore[arg-type]
            elif kind is AttrKind.DIMS:
                value = tuple(bind(d) for d in value)  # type: ignore[union-attr]
            attrs.append((key, value))
        new = Node(n.name, n.op, n.inputs, tuple(attrs), bind_type(n.type))
        stats["retyped"] += new != n
        nodes.append(new)
    inputs = tuple(Value(v.name, bind_type(v.type)) for v in g.inputs)
    try:
        bound = Graph(g.name, inputs, g.constants, tuple(nodes), g.outputs).validate()
    except IRError as e:
        shown = ", ".join(f"{k}={v}" for k, v in dims.items())
        raise IRError(f"specialize {g.name} with {shown}: {e}") from None
    folded, fold_stats = constant_fold_stats(bound)
    stats.update(fold_stats)
    return folded, stats


def specialize(g: Graph, dims: Mapping[str, int]) -> Graph:
    """The graph with symbolic sizes bound to integers (input and node types, size attributes), then
    constant-folded (masks built from ``arange`` become constants, for instance)."""
    return specialize_stats(g, dims)[0]


__all__ = ["graph_symbols", "specialize", "specialize_stats"]
