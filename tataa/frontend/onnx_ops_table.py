"""ONNX converters for elementwise functions the IR lacks (cos, sin, floor, ...): position tables or unsupported."""

from __future__ import annotations

from collections.abc import Sequence

from onnx import NodeProto

from tataa.frontend.onnx_context import Ctx, Unsupported
from tataa.frontend.onnx_grow import TABLE_OPS, tabulate
from tataa.frontend.onnx_lower import out_name
from tataa.frontend.onnx_registry import converter
from tataa.frontend.onnx_values import Val


@converter(*sorted(TABLE_OPS))
def convert_table_op(ctx: Ctx, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
    """Tabulated at import time when the input depends only on a growing size (rotary cos/sin of positions)."""
    out = tabulate(ctx, node, ins, out_name(node))
    if out is None:
        raise Unsupported(f"the IR has no {node.op_type.lower()} and its input is computed from run-time data "
                          "(only constants and position tables can be evaluated at import time)")
    return [out]


__all__: list[str] = []
