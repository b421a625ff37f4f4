"""One torch import in progress: node-by-node conversion with diagnostics, then the finished, tidy graph."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import torch.fx
import torch.utils._pytree as pytree

from tataa.errors import FrontendError, IRError, UnsupportedOpsError
from tataa.frontend.torch_lower import Lowerer, check_type
from tataa.frontend.torch_values import Param, TVal, Unsupported
from tataa.ir.graph import Graph, GraphBuilder, Node, Value, make_graph, sanitize_name
from tataa.ir.types import TensorType


class Session:
    """Converts source nodes one at a time, collecting every unsupported node instead of stopping at the first."""

    def __init__(self, name: str, source: str) -> None:
        self.source = source
        self.b = GraphBuilder(sanitize_name(name))
        self.lo = Lowerer(self.b)
        self.env: dict[torch.fx.Node, Any] = {}
        self.poisoned: set[torch.fx.Node] = set()
        self.diagnostics: list[tuple[str, str, str]] = []
        self.source_ops: Counter[str] = Counter()
        self.folded: Counter[str] = Counter()
        self.live: set[torch.fx.Node] | None = None
        self._absorbed = False

    def absorbed(self, value: Any) -> Any:
        """Mark the node being converted as folded away (e.g. into a table) even though it emitted slices."""
        self._absorbed = True
        return value

    def set_graph(self, graph: torch.fx.Graph) -> None:
        """Restrict conversion to the nodes the graph's outputs depend on."""
        live: set[torch.fx.Node] = set()
        stack = [n for n in graph.nodes if n.op == "output"]
        while stack:
            n = stack.pop()
            if n not in live:
                live.add(n)
                stack.extend(n.all_input_nodes)
        self.live = live

    def value(self, node: torch.fx.Node) -> Any:
        """The converted value of an earlier source node."""
        return self.env[node]

    def args(self, node: torch.fx.Node) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The node's args and kwargs with source nodes replaced by their converted values."""
        args = torch.fx.node.map_arg(node.args, self.value)
        kwargs = torch.fx.node.map_arg(node.kwargs, self.value)
        return _plain(args), _plain(kwargs)

    def convert(self, node: torch.fx.Node, op_name: str, mapped: bool, fn: Callable[[], Any],
                want: TensorType | None = None) -> None:
        """Run one node's conversion; an unsupported node is recorded and its dependants are skipped.

        Nodes no output depends on (unused results, shape assertions) are counted as folded, not converted.
        """
        self.source_ops[op_name] += 1
        if self.live is not None and node not in self.live:
            self.folded[op_name] += 1
            return
        if any(n in self.poisoned for n in node.all_input_nodes):
            self.poisoned.add(node)
            if not mapped:
                self.diagnostics.append((node.name, op_name, "no IR mapping for this op"))
            return
        before = self.lo.emitted
        self._absorbed = False
        self.lo.hint = sanitize_name(node.name)
        try:
            value = fn()
            if isinstance(value, TVal):
                check_type(value, want)
        except Unsupported as e:
            self.diagnostics.append((node.name, op_name, str(e)))
            self.poisoned.add(node)
            return
        except IRError as e:
            raise FrontendError(f"node {node.name} ({op_name}): {e}") from None
        if self.lo.emitted == before or self._absorbed:
            self.folded[op_name] += 1
        self.env[node] = value

    def raise_unsupported(self) -> None:
        """Raise UnsupportedOpsError listing every unsupported node, if there were any."""
        if self.diagnostics:
            raise UnsupportedOpsError(self.diagnostics, source=self.source)

    def finish(self, outputs: Sequence[object], names: Sequence[str]) -> Graph:
        """The graph with these outputs under these names, dead nodes and unused constants removed."""
        vals = []
        for v, n in zip(outputs, names, strict=True):
            if isinstance(v, Param):
                v = self.lo.tensor(v)
            if not isinstance(v, TVal):
                raise FrontendError(f"{self.source}: output {n} is not a tensor ({type(v).__name__})")
            vals.append(v.name)
        if not vals:
            raise FrontendError(f"{self.source}: the model returns no tensors")
        self.b.output(*vals)
        g = prune(self.b.build(validate=False))
        return rename_outputs(g, names).validate()


def _plain(v: Any) -> Any:
    """fx's immutable containers as plain tuples/lists/dicts."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def prune(g: Graph) -> Graph:
    """Drop nodes no output depends on and constants nothing reads (inputs always stay)."""
    live = set(g.outputs)
    kept: list[Node] = []
    for n in reversed(g.nodes):
        if n.name in live:
            kept.append(n)
            live.update(n.inputs)
    consts = tuple(c for c in g.constants if c.name in live)
    return Graph(g.name, g.inputs, consts, tuple(reversed(kept)), g.outputs)


def rename_outputs(g: Graph, names: Sequence[str]) -> Graph:
    """Give each output node the requested name (inputs, constants and repeated outputs keep theirs)."""
    taken = {v.name for v in g.inputs} | {c.name for c in g.constants} | {n.name for n in g.nodes}
    mapping: dict[str, str] = {}
    for out, want in zip(g.outputs, names, strict=True):
        want = sanitize_name(want)
        if out in mapping or out not in g.node_map or out == want:
            continue
        target = want
        i = 0
        while target in taken:
            i += 1
            target = f"{want}_{i}"
        taken.discard(out)
        taken.add(target)
        mapping[out] = target
    if not mapping:
        return g

    def r(name: str) -> str:
        return mapping.get(name, name)

    nodes = [Node(r(n.name), n.op, tuple(r(i) for i in n.inputs), n.attrs, n.type) for n in g.nodes]
    inputs = [Value(v.name, v.type) for v in g.inputs]
    return make_graph(g.name, inputs, g.constants, nodes, [r(o) for o in g.outputs], validate=False)


def output_names(spec: pytree.TreeSpec | None, count: int, given: Sequence[str] | None) -> list[str]:
    """Names for the flattened outputs: the caller's, else their keys in the returned structure."""
    if given is not None:
        if len(given) != count:
            raise FrontendError(f"output_names has {len(given)} names but the model returns {count} tensors")
        return list(given)
    if spec is None or count == 0:
        return ["output"] if count == 1 else [f"output_{i}" for i in range(count)]
    paths = [p for p, _ in pytree.tree_flatten_with_path(pytree.tree_unflatten(list(range(spec.num_leaves)),
                                                                                spec))[0]]
    names = []
    for path in paths:
        parts = []
        for k in path:
            key = getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))
            parts.append(str(key))
        names.append("output" if not parts else ("output_" + "_".join(parts) if parts[0].isdigit()
                                                 else "_".join(parts)))
    return names


__all__ = ["Session", "output_names", "prune", "rename_outputs"]
