"""Import an ONNX model into the graph IR.

Walks the (topologically sorted) ONNX graph once. Each node is, in this order: evaluated at import time when all its
inputs are constants; evaluated symbolically when it is shape arithmetic on known sizes; otherwise lowered into IR
nodes by its converter (``onnx_ops_*`` modules). Every node that cannot be expressed is collected, and one
``UnsupportedOpsError`` lists them all at the end.
"""

from __future__ import annotations

import keyword
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

import onnx
from onnx import ModelProto, NodeProto, ValueInfoProto

from tataa.errors import FrontendError, IRError, UnsupportedOpsError

# The op modules register their converters on import.
from tataa.frontend import (  # noqa: F401
    onnx_ops_layout,
    onnx_ops_linalg,
    onnx_ops_math,
    onnx_ops_reduce,
    onnx_ops_shape,
    onnx_ops_table,
)
from tataa.frontend.onnx_context import Ctx, Malformed, Unsupported, node_label, op_key, op_label
from tataa.frontend.onnx_grow import attach_grow
from tataa.frontend.onnx_load import (
    LoadedModel,
    checker_copy,
    initializer_array,
    load_model,
    sparse_initializer_array,
)
from tataa.frontend.onnx_registry import lookup
from tataa.frontend.onnx_symbolic import fold_symbolic
from tataa.frontend.onnx_values import ONNX_TO_DTYPE, Val, const_val, onnx_type_name
from tataa.frontend.result import ImportResult
from tataa.ir.dims import Dim
from tataa.ir.graph import Graph, GraphBuilder, make_graph, sanitize_name
from tataa.ir.passes import PassReport
from tataa.ir.passes import optimize as optimize_graph
from tataa.ir.types import TensorType

_RANDOM = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                     "Bernoulli"})
_CONTROL_FLOW = frozenset({"If", "Loop", "Scan", "SequenceMap"})
_RESERVED = frozenset({"floor", "ceiling", "Max", "Min"})


def import_onnx(model_or_path: ModelProto | bytes | str | os.PathLike[str], *, dims: Mapping[str, int] | None = None,
                optimize: bool = True, max_dim: int = 8192) -> ImportResult:
    """Import an ONNX model (ModelProto, serialized bytes, or a path whose external data sits beside it).

    Dynamic dimensions become IR symbols (``dim_param`` names, or fresh ones); ``dims`` binds some of them to sizes.
    ``max_dim`` bounds a symbolic size where a position table must be precomputed (cos/sin of positions).
    Raises FrontendError for malformed models and UnsupportedOpsError listing every node the IR cannot express.
    """
    t0 = time.perf_counter()
    loaded = load_model(model_or_path)
    graph, source_ops, folded = _Importer(loaded, dims or {}, max_dim).run()
    report = None
    if optimize:  # the dims were bound while importing (so that more folds at import time): none is left
        graph, report = _optimize(graph)
    return ImportResult(graph, loaded.source, source_ops, folded, report, time.perf_counter() - t0)


def _optimize(graph: Graph) -> tuple[Graph, PassReport]:
    try:
        return optimize_graph(graph)
    except IRError as e:
        raise FrontendError(f"optimising the imported graph failed: {e}") from None


class _Importer:
    """One import: ONNX graph in, IR graph plus op statistics out."""

    def __init__(self, loaded: LoadedModel, dims: Mapping[str, int], max_dim: int) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.source = loaded.source
        self.dims = dict(dims)
        g = self.model.graph
        self.ctx = Ctx(GraphBuilder(sanitize_name(g.name or "model")), loaded.opset, max_dim=max_dim)
        self.env: dict[str, Val | None] = {}
        self.symbols: dict[str, str] = {}  # dim_param -> IR symbol
        self.diagnostics: list[tuple[str, str, str]] = []
        self.owner: dict[str, int] = {}  # IR node -> index of the ONNX node that created it
        self._inferred: dict[str, ValueInfoProto] | None = None
        for node in g.node:
            for i in node.input:
                if i:
                    self.ctx.uses[i] += 1
        for o in g.output:
            self.ctx.uses[o.name] += 1

    # -------------------------------------------------------------------------------------------- driver

    def run(self) -> tuple[Graph, Counter[str], Counter[str]]:
        """Convert the whole graph."""
        g = self.model.graph
        self._bind_initializers()
        self._bind_inputs()
        source_ops: Counter[str] = Counter()
        for k, node in enumerate(g.node):
            source_ops[op_key(node)] += 1
            start = len(self.ctx.created)
            self._convert(node)
            for name in self.ctx.created[start:]:
                self.owner[name] = k
        if self.diagnostics:
            raise UnsupportedOpsError(self.diagnostics, source=self.source)
        graph = self._finish()
        live = {n.name for n in graph.nodes}
        productive = {self.owner[n] for n in live if n in self.owner}
        folded: Counter[str] = Counter(op_key(node) for k, node in enumerate(g.node) if k not in productive)
        return graph, source_ops, folded

    def _bind_initializers(self) -> None:
        g = self.model.graph
        for t in g.initializer:
            arr = initializer_array(t, self.loaded.base_dir, self.source)
            self.env[t.name] = replace(const_val(arr), source=t.name)
        for sp in g.sparse_initializer:
            arr = sparse_initializer_array(sp, self.loaded.base_dir, self.source)
            self.env[sp.values.name] = replace(const_val(arr), source=sp.values.name)

    def _bind_inputs(self) -> None:
        inputs = [i for i in self.model.graph.input if i.name not in self.env]
        for inp in inputs:  # name the dim_params first, so that fresh symbols avoid all of them
            for d in inp.type.tensor_type.shape.dim:
                if d.HasField("dim_param"):
                    self._symbol(d.dim_param)
        unnamed: dict[tuple[str, int], str] = {}
        for inp in inputs:
            for axis, d in enumerate(inp.type.tensor_type.shape.dim):
                if not d.HasField("dim_value") and not d.HasField("dim_param"):
                    base = f"{sanitize_name(inp.name).replace('.', '_')}_d{axis}"
                    unnamed[(inp.name, axis)] = self._fresh_symbol(base)
        self._check_dims(set(self.symbols.values()) | set(unnamed.values()))
        for inp in inputs:
            t = inp.type
            if not t.HasField("tensor_type"):
                raise FrontendError(f"{self.source}: graph input {inp.name!r} is not a tensor")
            code = t.tensor_type.elem_type
            dtype = ONNX_TO_DTYPE.get(code)
            if dtype is None:
                raise FrontendError(f"{self.source}: graph input {inp.name!r} has element type "
                                    f"{onnx_type_name(code)}, which the IR lacks")
            if not t.tensor_type.HasField("shape"):
                raise FrontendError(f"{self.source}: graph input {inp.name!r} has no shape (unknown rank)")
            shape = tuple(self._dim(d, unnamed.get((inp.name, i)), inp.name, i)
                          for i, d in enumerate(t.tensor_type.shape.dim))
            name = self.ctx.builder.input(inp.name, TensorType(dtype, shape))
            self.env[inp.name] = Val(dtype, shape, name=name, source=inp.name)

    def _check_dims(self, symbols: set[str]) -> None:
        """``dims`` may name the model's symbols (or its raw dim_params), with positive sizes."""
        unknown = sorted(set(self.dims) - symbols - set(self.symbols))
        if unknown:
            raise FrontendError(f"{self.source}: dims names {', '.join(unknown)}, which the model does not use; "
                                f"its dynamic dimensions are: {', '.join(sorted(symbols)) or 'none'}")
        for key, v in self.dims.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise FrontendError(f"{self.source}: dims[{key!r}] = {v!r} must be a positive int")

    def _symbol(self, param: str) -> str:
        """The IR symbol of a dim_param (the same name when it is a plain identifier)."""
        if param not in self.symbols:
            ok = param.isidentifier() and not keyword.iskeyword(param) and param not in _RESERVED
            taken = set(self.symbols.values())
            name = param if ok and param not in taken else self._fresh_symbol(sanitize_name(param).replace(".", "_"))
            self.symbols[param] = name
        return self.symbols[param]

    def _fresh_symbol(self, base: str) -> str:
        """A symbol name not used yet (``base``, else ``base`` with a number)."""
        taken = set(self.symbols.values()) | set(self.symbols)
        ok = base.isidentifier() and not keyword.iskeyword(base) and base not in _RESERVED
        base = base if ok else "dim"
        name, k = base, 0
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        self.symbols[f"<fresh {name}>"] = name
        return name

    def _dim(self, d: onnx.TensorShapeProto.Dimension, fresh: str | None, input_name: str, axis: int) -> Dim:
        if d.HasField("dim_value"):
            if d.dim_value < 0:
                raise FrontendError(f"{self.source}: input {input_name!r} axis {axis} has negative size {d.dim_value}")
            return int(d.dim_value)
        sym = self._symbol(d.dim_param) if d.HasField("dim_param") else fresh
        assert sym is not None
        for key in (sym, d.dim_param):
            if key in self.dims:
                return int(self.dims[key])
        return sym

    # -------------------------------------------------------------------------------------------- one node

    def _convert(self, node: NodeProto) -> None:
        ins: list[Val | None] = []
        for name in node.input:
            if not name:
                ins.append(None)
                continue
            if name not in self.env:
                raise FrontendError(f"{self.source}: node {node_label(node)} ({node.op_type}): input {name!r} is "
                                    "undefined")
            v = self.env[name]
            if v is None:  # downstream of a node that could not be converted or typed
                self._poison(node)
                return
            ins.append(v)
        try:
            outs = self._outputs(node, ins)
        except Unsupported as u:
            self.diagnostics.append((node_label(node), op_label(node), str(u)))
            self._stand_in(node)
            return
        except (Malformed, IRError) as e:
            if any(v is not None and v.placeholder for v in ins):
                self._poison(node)  # an effect of a stand-in type, not a fault of this node
                return
            raise FrontendError(f"{self.source}: node {node_label(node)} ({op_label(node)}): {e}") from None
        except FrontendError:
            raise
        except Exception as e:  # a defect of the importer: still named after the node, with the cause chained
            raise FrontendError(f"{self.source}: node {node_label(node)} ({op_label(node)}): internal error while "
                                f"importing: {type(e).__name__}: {e}") from e
        for i, name in enumerate(node.output):
            if not name:
                continue
            v = outs[i] if i < len(outs) else None
            if v is None:
                if self.ctx.uses[name]:
                    self.diagnostics.append((node_label(node), op_label(node), f"output #{i} is not supported"))
                    self._stand_in(node)
                    return
                continue
            self.env[name] = v if v.source else replace(v, source=name)

    def _outputs(self, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None]:
        op = node.op_type
        if node.domain not in ("", "ai.onnx") and lookup(node) is None:
            raise Unsupported(f"operator domain {node.domain!r} is not supported")
        if op in _RANDOM:
            raise Unsupported("random number generation")
        if op in _CONTROL_FLOW:
            raise Unsupported("control flow (subgraphs) is not supported")
        present = [v for v in ins if v is not None]
        if node.domain in ("", "ai.onnx") and all(v.const is not None for v in present):
            folded = self._fold(node, ins)
            if folded is not None:
                return folded
        outs = fold_symbolic(self.ctx, node, ins) if node.domain in ("", "ai.onnx") else None
        if outs is None:
            conv = lookup(node)
            if conv is None:
                known = onnx.defs.has(op, self.loaded.opset, node.domain or "")
                raise Unsupported("the IR has no equivalent of this op" if known else "unknown op")
            outs = conv(self.ctx, node, ins)
        return attach_grow(self.ctx, node, ins, outs)

    def _fold(self, node: NodeProto, ins: Sequence[Val | None]) -> list[Val | None] | None:
        """All inputs constant: evaluate the node now with ONNX's reference implementation."""
        try:
            arrays = self.ctx.evaluate(node, [None if v is None else v.const for v in ins])
        except Exception:  # the reference lacks the op or rejects it: let the converter decide
            return None
        return [const_val(a) for a in arrays]

    def _poison(self, node: NodeProto) -> None:
        for name in node.output:
            if name:
                self.env[name] = None

    def _stand_in(self, node: NodeProto) -> None:
        """Typed stand-ins for an unsupported node's outputs (from ONNX shape inference), so checking goes on."""
        for name in node.output:
            if not name:
                continue
            info = self._inferred_types().get(name)
            t = info.type.tensor_type if info is not None and info.type.HasField("tensor_type") else None
            dtype = ONNX_TO_DTYPE.get(t.elem_type) if t is not None else None
            if t is None or dtype is None or not t.HasField("shape"):
                self.env[name] = None
                continue
            shape = tuple(self._inferred_dim(d) for d in t.shape.dim)
            self.env[name] = self.ctx.placeholder(dtype, shape, name)

    def _inferred_dim(self, d: onnx.TensorShapeProto.Dimension) -> Dim:
        if d.HasField("dim_value"):
            return int(d.dim_value)
        if d.HasField("dim_param"):
            return self._symbol(d.dim_param)
        return self._fresh_symbol("unknown")

    def _inferred_types(self) -> dict[str, ValueInfoProto]:
        if self._inferred is None:
            try:
                inferred = onnx.shape_inference.infer_shapes(checker_copy(self.model, self.loaded.opset),
                                                             data_prop=True)
                self._inferred = {v.name: v for v in inferred.graph.value_info}
            except Exception:  # inference is only a help for diagnostics
                self._inferred = {}
        return self._inferred

    # -------------------------------------------------------------------------------------------- the graph

    def _finish(self) -> Graph:
        outs = []
        for o in self.model.graph.output:
            v = self.env.get(o.name)
            if v is None:
                raise FrontendError(f"{self.source}: graph output {o.name!r} could not be computed")
            try:
                outs.append(self.ctx.ir(v, o.name))
            except Unsupported as u:
                raise FrontendError(f"{self.source}: graph output {o.name!r}: {u}") from None
        b = self.ctx.builder
        b.output(*outs)
        g = b.build(validate=False)
        return _without_dead_code(g)


def _without_dead_code(g: Graph) -> Graph:
    """The graph without nodes and constants no output depends on (inputs are kept)."""
    live = set(g.outputs)
    kept = []
    for n in reversed(g.nodes):
        if n.name in live:
            kept.append(n)
            live.update(n.inputs)
    try:
        return make_graph(g.name, g.inputs, [c for c in g.constants if c.name in live], reversed(kept), g.outputs)
    except IRError as e:  # pragma: no cover - the builder checked every node already
        raise FrontendError(f"internal error: the imported graph is invalid: {e}") from None


__all__ = ["import_onnx"]
