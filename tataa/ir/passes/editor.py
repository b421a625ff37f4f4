"""A mutable working copy of a graph that passes edit in place, keeping users and types current."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tataa.errors import IRError
from tataa.ir.dims import shapes_equal
from tataa.ir.graph import Constant, Graph, Node, sanitize_name
from tataa.ir.ops import infer_type, normalize_attrs
from tataa.ir.types import TensorType


@dataclass(frozen=True, eq=False)
class NewConst:
    """A constant a rewrite adds (named from ``hint``)."""

    value: np.ndarray
    hint: str


@dataclass(frozen=True, eq=False)
class Helper:
    """A node a rewrite adds just before the node it rewrites (named from ``hint``)."""

    op: str
    inputs: tuple[Ref, ...]
    attrs: Mapping[str, Any]
    hint: str


Ref = str | Helper | NewConst
"""An input of a rewritten node: an existing value, or a helper node / constant created with it."""


@dataclass(frozen=True)
class Rewrite:
    """Replace the node ``root`` by ``op(inputs) {attrs}`` (same name), deleting the ``internal`` nodes it absorbs."""

    kind: str
    op: str
    inputs: tuple[Ref, ...]
    attrs: Mapping[str, Any]
    internal: frozenset[str] = frozenset()


def same_type(a: TensorType, b: TensorType) -> bool:
    """Whether two tensor types are provably equal."""
    return a.dtype is b.dtype and shapes_equal(a.shape, b.shape)


class Editor:
    """A graph being edited: nodes by name in order, each value's users and type, and the constants."""

    def __init__(self, g: Graph) -> None:
        self.name = g.name
        self.inputs = g.inputs
        self.outputs = g.outputs
        self.output_set = frozenset(g.outputs)
        self.consts: dict[str, Constant] = {c.name: c for c in g.constants}
        self.nodes: dict[str, Node] = {n.name: n for n in g.nodes}
        self.order: list[str] = [n.name for n in g.nodes]
        self.before: dict[str, list[str]] = {}
        self.types: dict[str, TensorType] = {v.name: v.type for v in g.inputs}
        self.types.update((c.name, c.type) for c in g.constants)
        self.types.update((n.name, n.type) for n in g.nodes)
        self.users: dict[str, dict[str, None]] = {name: {} for name in self.types}
        for n in g.nodes:
            for i in n.inputs:
                self.users[i][n.name] = None
        self._taken: set[str] = set(self.types)
        self._counts: dict[str, int] = {}

    # ------------------------------------------------------------------------------------------------ queries

    def producer(self, name: str) -> Node | None:
        """The node defining a value (None for inputs and constants)."""
        return self.nodes.get(name)

    def value(self, name: str) -> np.ndarray | None:
        """The value of a constant (None when ``name`` is not a constant)."""
        c = self.consts.get(name)
        return None if c is None else c.value

    def user_names(self, name: str) -> list[str]:
        """The names of the nodes reading a value."""
        return list(self.users.get(name, ()))

    def private(self, name: str) -> bool:
        """Whether a value is read by exactly one node and is not a graph output."""
        return len(self.users.get(name, ())) == 1 and name not in self.output_set

    def fresh(self, hint: str) -> str:
        """An unused value name close to ``hint``."""
        base = sanitize_name(hint)
        name = base
        while name in self._taken:
            self._counts[base] = self._counts.get(base, 0) + 1
            name = f"{base}_{self._counts[base]}"
        self._taken.add(name)
        return name

    # ------------------------------------------------------------------------------------------------ edits

    def set_node(self, new: Node) -> None:
        """Replace the node of the same name (its users keep reading it)."""
        old = self.nodes[new.name]
        for i in old.inputs:
            self.users[i].pop(old.name, None)
        for i in new.inputs:
            self.users[i][new.name] = None
        self.nodes[new.name] = new
        self.types[new.name] = new.type

    def delete(self, name: str) -> None:
        """Remove a node or constant that nobody reads any more."""
        if self.users.get(name):
            raise IRError(f"cannot delete {name!r}: still read by {', '.join(self.users[name])}")
        n = self.nodes.pop(name, None)
        if n is not None:
            for i in n.inputs:
                self.users[i].pop(name, None)
        else:
            self.consts.pop(name)
        del self.types[name]
        del self.users[name]

    def alias(self, name: str, target: str) -> None:
        """Make every reader of ``name`` read ``target`` instead, then delete ``name``."""
        if name in self.output_set:
            raise IRError(f"cannot replace graph output {name!r}")
        for u in list(self.users[name]):
            n = self.nodes[u]
            self.set_node(dataclasses.replace(n, inputs=tuple(target if i == name else i for i in n.inputs)))
        self.delete(name)

    def to_constant(self, name: str, value: np.ndarray) -> None:
        """Replace a node by a constant of the same name holding its value."""
        n = self.nodes.pop(name)
        for i in n.inputs:
            self.users[i].pop(name, None)
        c = Constant(name, value)
        self.consts[name] = c
        self.types[name] = c.type

    def add_constant(self, value: np.ndarray, hint: str) -> str:
        """Add a constant; returns its name."""
        c = Constant(self.fresh(hint), value)
        self.consts[c.name] = c
        self.types[c.name] = c.type
        self.users[c.name] = {}
        return c.name

    def insert_before(self, anchor: str, op: str, inputs: Iterable[str], hint: str, **attrs: Any) -> str:
        """Add ``op(inputs)`` just before node ``anchor``; returns its name."""
        norm = normalize_attrs(op, attrs)
        ins = tuple(inputs)
        t = infer_type(op, [self.types[i] for i in ins], dict(norm))
        n = Node(self.fresh(hint), op, ins, norm, t)
        self.nodes[n.name] = n
        self.types[n.name] = t
        self.users[n.name] = {}
        for i in ins:
            self.users[i][n.name] = None
        self.before.setdefault(anchor, []).append(n.name)
        return n.name

    def apply(self, root: Node, rw: Rewrite) -> bool:
        """Perform a rewrite if it is safe: absorbed values unused elsewhere, result type unchanged. Returns done."""
        internal = rw.internal
        for name in internal:
            if name == root.name or name in self.output_set or name not in self.nodes:
                return False
            if any(u not in internal and u != root.name for u in self.users[name]):
                return False
        types: dict[int, TensorType] = {}

        def typ(ref: Ref) -> TensorType:
            if isinstance(ref, str):
                if ref in internal or ref not in self.types:
                    raise IRError(f"rewrite input {ref!r} is absorbed or undefined")
                return self.types[ref]
            if id(ref) not in types:
                if isinstance(ref, NewConst):
                    types[id(ref)] = Constant("c", ref.value).type
                else:
                    ins = [typ(i) for i in ref.inputs]
                    types[id(ref)] = infer_type(ref.op, ins, dict(normalize_attrs(ref.op, ref.attrs)))
            return types[id(ref)]

        try:
            norm = normalize_attrs(rw.op, rw.attrs)
            t = infer_type(rw.op, [typ(i) for i in rw.inputs], dict(norm))
        except IRError:
            return False
        if not same_type(t, root.type):
            return False
        made: dict[int, str] = {}

        def make(ref: Ref) -> str:
            if isinstance(ref, str):
                return ref
            if id(ref) not in made:
                if isinstance(ref, NewConst):
                    made[id(ref)] = self.add_constant(ref.value, ref.hint)
                else:
                    ins = [make(i) for i in ref.inputs]
                    made[id(ref)] = self.insert_before(root.name, ref.op, ins, ref.hint, **ref.attrs)
            return made[id(ref)]

        inputs = tuple(make(i) for i in rw.inputs)
        self.set_node(Node(root.name, rw.op, inputs, norm, root.type))
        for name in internal:
            n = self.nodes.pop(name)
            for i in n.inputs:
                self.users[i].pop(name, None)
        for name in internal:
            del self.types[name]
            del self.users[name]
        return True

    # ------------------------------------------------------------------------------------------------ result

    def finish(self, validate: bool = True) -> Graph:
        """The edited graph (validated unless told otherwise)."""
        nodes: list[Node] = []
        for name in self.order:
            for h in self.before.get(name, ()):
                if h in self.nodes:
                    nodes.append(self.nodes[h])
            if name in self.nodes:
                nodes.append(self.nodes[name])
        g = Graph(self.name, self.inputs, tuple(self.consts.values()), tuple(nodes), self.outputs)
        return g.validate() if validate else g


__all__ = ["Editor", "Helper", "NewConst", "Ref", "Rewrite", "same_type"]
