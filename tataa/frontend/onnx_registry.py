"""The table of ONNX op converters: ``(domain, op_type) -> converter``; op modules register themselves here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from onnx import NodeProto

from tataa.frontend.onnx_context import Ctx
from tataa.frontend.onnx_values import Val

Converter = Callable[[Ctx, NodeProto, Sequence[Val | None]], list[Val | None]]
"""Turns one ONNX node into IR: gets the node's input values (None for omitted optional inputs) and returns one
value per node output (None for an output the converter does not produce)."""

CONVERTERS: dict[tuple[str, str], Converter] = {}


def converter(*op_types: str, domain: str = "") -> Callable[[Converter], Converter]:
    """Register a function as the converter of the given op types."""

    def register(fn: Converter) -> Converter:
        for op in op_types:
            CONVERTERS[(domain, op)] = fn
        return fn

    return register


def lookup(node: NodeProto) -> Converter | None:
    """The converter of a node's op, or None."""
    domain = "" if node.domain == "ai.onnx" else node.domain
    return CONVERTERS.get((domain, node.op_type))


__all__ = ["CONVERTERS", "Converter", "converter", "lookup"]
