"""Typed graph IR: ops, graphs, a lark text form, and a numpy reference interpreter."""

from tataa.ir.dims import Dim, dims_equal, eval_dim, eval_shape
from tataa.ir.graph import Constant, Graph, GraphBuilder, Node, Value, make_graph, sanitize_name
from tataa.ir.ops import OPS, AttrKind, AttrSpec, OpSpec, Unit, infer_type, op_spec
from tataa.ir.text import load_graph, parse_graph, print_graph, save_graph
from tataa.ir.types import DType, TensorType

__all__ = ["OPS", "AttrKind", "AttrSpec", "Constant", "DType", "Dim", "Graph", "GraphBuilder", "Node", "OpSpec",
           "TensorType", "Unit", "Value", "dims_equal", "eval_dim", "eval_shape", "infer_type", "load_graph",
           "make_graph", "op_spec", "parse_graph", "print_graph", "sanitize_name", "save_graph"]
