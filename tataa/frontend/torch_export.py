"""The torch.export path: an ``ExportedProgram``'s aten graph converted node by node into the IR."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.fx
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind, OutputKind, TensorArgument

from tataa.errors import FrontendError
from tataa.frontend.torch_aten import ATEN, aten_name, bind, python_op, sym_call
from tataa.frontend.torch_session import Session, output_names
from tataa.frontend.torch_symbols import SymbolTable
from tataa.frontend.torch_tabulate import Tabulator
from tataa.frontend.torch_values import LazyList, Param, TVal, Unsupported, ir_dtype
from tataa.ir.graph import Graph
from tataa.ir.types import TensorType

_SYM_FUNCS = {"sym_max", "sym_min", "sym_int", "sym_float", "sym_not", "sym_sum"}


def target_name(target: object) -> str:
    """A readable name of an fx call target (``aten.linear.default``, ``operator.getitem``)."""
    if isinstance(target, torch._ops.OpOverload | torch._ops.OpOverloadPacket):
        return str(target)
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__qualname__", getattr(target, "__name__", repr(target)))
    mod = {"_operator": "operator", "torch._C._nn": "torch.nn.functional", "torch._C._VariableFunctions": "torch"}.get(
        mod, mod)
    return f"{mod}.{name}" if mod else str(name)


def _expected(sym: SymbolTable, node: torch.fx.Node) -> TensorType | None:
    val = node.meta.get("val")
    if not isinstance(val, torch.Tensor):
        return None
    try:
        return TensorType(ir_dtype(val.dtype, node.name), sym.shape(val.shape, node.name))
    except (FrontendError, Unsupported):
        return None


def _symbols(ep: ExportedProgram, dynamic: Mapping[str, Mapping[int, str]]) -> tuple[SymbolTable, dict[str, int]]:
    """Name torch's shape symbols after the user's dynamic dims; also the example value of each symbol."""
    sym = SymbolTable()
    hints: dict[str, int] = {}
    ranges = {str(k): v for k, v in ep.range_constraints.items()}
    users = {s.arg.name for s in ep.graph_signature.input_specs if s.kind is InputKind.USER_INPUT
             and isinstance(s.arg, TensorArgument)}

    def bounds(expr: Any) -> tuple[int, int | None]:
        r = ranges.get(str(expr))
        if r is None:
            return 0, None
        upper = r.upper
        return int(r.lower), (int(upper) if getattr(upper, "is_finite", True) and upper != float("inf")
                              and str(upper) not in ("oo", "int_oo") else None)

    named, unnamed = [], []
    for node in ep.graph.nodes:
        if node.op != "placeholder" or node.name not in users:
            continue
        val = node.meta.get("val")
        if not isinstance(val, torch.Tensor):
            continue
        axes = dynamic.get(node.name, {})
        for axis, d in enumerate(val.shape):
            if not isinstance(d, torch.SymInt):
                continue
            expr = d.node.expr
            target = named if axis in axes else unnamed
            target.append((expr, axes.get(axis, str(expr)), d))
    for expr, name, d in named + unnamed:
        if not expr.is_Symbol:
            continue
        lower, upper = bounds(expr)
        sym.bind(expr, name, lower, upper)
        hint = getattr(d.node, "hint", None)
        if hint is not None:
            hints.setdefault(sym.dim(d), int(hint))  # type: ignore[arg-type]
    return sym, hints


def convert_exported(ep: ExportedProgram, *, name: str, source: str,
                     dynamic: Mapping[str, Mapping[int, str]] | None = None,
                     max_sizes: Mapping[str, int] | None = None,
                     out_names: Sequence[str] | None = None) -> tuple[Graph, Session]:
    """The IR graph of an exported program (raises UnsupportedOpsError listing every unmappable node)."""
    sym, hints = _symbols(ep, dynamic or {})
    upper = {n: (max_sizes or {}).get(n, sym.bounds[n][1]) for n in sym.names}
    sess = Session(name, source)
    sess.set_graph(ep.graph)
    sig = ep.graph_signature
    specs = {s.arg.name: s for s in sig.input_specs if hasattr(s.arg, "name")}
    params: dict[torch.fx.Node, torch.Tensor] = {}
    user_inputs: set[torch.fx.Node] = set()
    for node in ep.graph.nodes:
        if node.op != "placeholder":
            continue
        spec = specs.get(node.name)
        kind = spec.kind if spec is not None else InputKind.USER_INPUT
        if kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
            tensor = ep.state_dict.get(spec.target) if spec.target in ep.state_dict else ep.constants.get(spec.target)
            if not isinstance(tensor, torch.Tensor):
                raise FrontendError(f"{source}: {kind.name.lower()} {spec.target} has no tensor value")
            params[node] = tensor
            sess.env[node] = Param(spec.target, tensor)
        elif kind is InputKind.USER_INPUT:
            user_inputs.add(node)
            val = node.meta.get("val")
            if isinstance(val, torch.Tensor):
                try:
                    t = TensorType(ir_dtype(val.dtype, node.name), sym.shape(val.shape, node.name))
                except Unsupported as e:
                    raise FrontendError(f"{source}: input {node.name}: {e}") from None
                n = sess.b.input(node.name, t)
                sess.env[node] = TVal(n, t)
            else:
                sess.env[node] = val  # a Python value torch.export specialised
        else:
            raise FrontendError(f"{source}: input {node.name} of kind {kind.name} is not supported")
    tab = Tabulator(params, user_inputs, sym, upper, hints)
    for node in ep.graph.nodes:
        if node.op == "call_function":
            _convert_call(sess, sym, tab, node)
        elif node.op not in ("placeholder", "output"):
            sess.source_ops[node.op] += 1
            sess.diagnostics.append((node.name, node.op, f"{node.op} nodes are not supported"))
            sess.poisoned.add(node)
    sess.raise_unsupported()
    outputs = _outputs(ep)
    spec = ep.call_spec.out_spec
    leaves = output_names(spec, len(outputs), None) if spec is not None and spec.num_leaves == len(outputs) \
        else output_names(None, len(outputs), None)
    vals, names = [], []
    by_name = {n.name: n for n in ep.graph.nodes}
    for arg, leaf in zip(outputs, leaves, strict=True):
        if isinstance(arg, TensorArgument):
            vals.append(sess.value(by_name[arg.name]))
            names.append(leaf)
    if out_names is not None:
        names = output_names(None, len(vals), out_names)
    return sess.finish(vals, names), sess


def _outputs(ep: ExportedProgram) -> list[Any]:
    specs = [s for s in ep.graph_signature.output_specs if s.kind is OutputKind.USER_OUTPUT]
    if len(specs) != len(ep.graph_signature.output_specs):
        others = sorted({s.kind.name for s in ep.graph_signature.output_specs} - {"USER_OUTPUT"})
        raise FrontendError(f"the model mutates state ({', '.join(others)}); only pure inference modules import")
    return [s.arg for s in specs]


def _convert_call(sess: Session, sym: SymbolTable, tab: Tabulator, node: torch.fx.Node) -> None:
    target = node.target
    label = target_name(target)
    name = aten_name(target)
    want = _expected(sym, node) if sess.live is None or node in sess.live else None
    if name is not None:
        handler = ATEN.get(name)
        if handler is None:
            if tab.input_dependent(node):
                sess.convert(node, label, False, lambda: _raise(f"no IR mapping for aten.{name}"))
            else:
                sess.convert(node, label, False, lambda: sess.absorbed(tab.table(sess.lo, node)), want)
            return

        def run() -> Any:
            args, kwargs = sess.args(node)
            args, kwargs = _dims_of(sym, args), _dims_of(sym, kwargs)
            bound = bind(target._schema, args, kwargs)  # type: ignore[union-attr]
            if bound is None:
                raise Unsupported(f"arguments do not fit the schema {target._schema}")  # type: ignore[union-attr]
            return handler(sess.lo, bound, want.dtype if want is not None else None)

        sess.convert(node, label, True, run, want)
        return
    if target is operator.getitem:
        def item() -> Any:
            seq, i = sess.args(node)[0]
            if isinstance(seq, list | tuple | LazyList):
                return seq[i]
            raise Unsupported(f"getitem on {type(seq).__name__}")

        sess.convert(node, label, True, item, want)
        return
    if getattr(target, "__name__", "") in _SYM_FUNCS:
        sess.convert(node, label, True, lambda: sym_call(target, sess.args(node)[0]))  # type: ignore[arg-type]
        return
    if getattr(target, "__module__", None) in ("_operator", "operator"):
        sess.convert(node, label, True, lambda: python_op(target, _dims_of(sym, sess.args(node)[0])))  # type: ignore
        return
    sess.convert(node, label, False, lambda: _raise(f"no IR mapping for {label}"))


def _raise(msg: str) -> Any:
    raise Unsupported(msg)


def _dims_of(sym: SymbolTable, v: Any) -> Any:
    """Leftover SymInts (literal in args) as IR dimensions."""
    if isinstance(v, torch.SymInt):
        return sym.dim(v)
    if isinstance(v, list):
        return [_dims_of(sym, x) for x in v]
    if isinstance(v, tuple):
        return tuple(_dims_of(sym, x) for x in v)
    if isinstance(v, dict):
        return {k: _dims_of(sym, x) for k, x in v.items()}
    return v


__all__ = ["convert_exported", "target_name"]
