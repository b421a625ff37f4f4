"""The graph: named inputs, constants, nodes in topological order, and outputs; plus a builder for frontends."""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tataa.errors import IRError
from tataa.ir.dims import dim_symbols, shapes_equal
from tataa.ir.ops import AttrValue, Unit, infer_type, normalize_attrs, op_spec
from tataa.ir.types import DType, TensorType

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


@dataclass(frozen=True)
class Node:
    """One operation: ``name = op(inputs) {attrs} : type``. A node defines exactly one value, named like it."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: tuple[tuple[str, AttrValue], ...]
    type: TensorType

    def attr(self, key: str) -> Any:
        """The value of one attribute (defaults are always filled in)."""
        for k, v in self.attrs:
            if k == key:
                return v
        raise IRError(f"node {self.name} ({self.op}) has no attribute {key!r}")

    @property
    def attr_dict(self) -> dict[str, AttrValue]:
        """The attributes as a dict."""
        return dict(self.attrs)

    @property
    def unit(self) -> Unit:
        """The overlay unit that executes this node."""
        return op_spec(self.op).unit


@dataclass(frozen=True)
class Value:
    """A graph input: a name and a type."""

    name: str
    type: TensorType


@dataclass(frozen=True, eq=False)
class Constant:
    """A named constant tensor (weights, tables, small shape constants). Equal when name, dtype and bytes agree."""

    name: str
    value: np.ndarray

    def __post_init__(self) -> None:
        arr = np.array(self.value, copy=True, order="C")
        DType.from_numpy(arr.dtype)
        arr.setflags(write=False)
        object.__setattr__(self, "value", arr)

    @property
    def type(self) -> TensorType:
        """The constant's tensor type."""
        return TensorType(DType.from_numpy(self.value.dtype), tuple(int(d) for d in self.value.shape))

    @functools.cached_property
    def digest(self) -> str:
        """A sha256 of dtype, shape and bytes (hex, 16 characters)."""
        h = hashlib.sha256()
        h.update(f"{self.value.dtype.str}{self.value.shape}".encode())
        h.update(self.value.tobytes())
        return h.hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Constant):
            return NotImplemented
        return (self.name == other.name and self.value.dtype == other.value.dtype
                and self.value.shape == other.value.shape and self.value.tobytes() == other.value.tobytes())

    def __hash__(self) -> int:
        return hash((self.name, self.digest))


@dataclass(frozen=True)
class Graph:
    """A typed dataflow graph. Values are named; names are unique across inputs, constants and nodes."""

    name: str
    inputs: tuple[Value, ...]
    constants: tuple[Constant, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]

    @functools.cached_property
    def _types(self) -> dict[str, TensorType]:
        out: dict[str, TensorType] = {}
        for v in self.inputs:
            out[v.name] = v.type
        for c in self.constants:
            out[c.name] = c.type
        for n in self.nodes:
            out[n.name] = n.type
        return out

    @functools.cached_property
    def constant_map(self) -> dict[str, np.ndarray]:
        """Constant values by name."""
        return {c.name: c.value for c in self.constants}

    @functools.cached_property
    def node_map(self) -> dict[str, Node]:
        """Nodes by name."""
        return {n.name: n for n in self.nodes}

    @functools.cached_property
    def users(self) -> dict[str, list[Node]]:
        """For each value name, the nodes that read it (in graph order)."""
        out: dict[str, list[Node]] = {name: [] for name in self._types}
        for n in self.nodes:
            for i in dict.fromkeys(n.inputs):
                out.setdefault(i, []).append(n)
        return out

    def type_of(self, name: str) -> TensorType:
        """The type of a named value."""
        try:
            return self._types[name]
        except KeyError:
            raise IRError(f"graph {self.name}: no value named {name!r}") from None

    @property
    def symbols(self) -> frozenset[str]:
        """The symbolic sizes the graph's input shapes use."""
        return frozenset(s for v in self.inputs for d in v.type.shape for s in dim_symbols(d))

    def op_histogram(self) -> Counter[str]:
        """How many nodes of each op the graph has."""
        return Counter(n.op for n in self.nodes)

    def validate(self) -> Graph:
        """Check names, order, attributes and every node's type; returns self or raises IRError."""
        seen: dict[str, str] = {}

        def define(name: str, what: str) -> None:
            if not NAME_RE.fullmatch(name):
                raise IRError(f"graph {self.name}: {what} name {name!r} is not a valid identifier")
            if name in seen:
                raise IRError(f"graph {self.name}: {what} {name!r} redefines a {seen[name]}")
            seen[name] = what

        for v in self.inputs:
            define(v.name, "input")
        for c in self.constants:
            define(c.name, "constant")
        types = {v.name: v.type for v in self.inputs} | {c.name: c.type for c in self.constants}
        for n in self.nodes:
            for i in n.inputs:
                if i not in types:
                    where = "later" if i in self.node_map else "nowhere"
                    raise IRError(f"node {n.name} ({n.op}): input {i!r} is defined {where} before its use")
            attrs = normalize_attrs(n.op, n.attr_dict)
            if attrs != n.attrs:
                raise IRError(f"node {n.name} ({n.op}): attributes are not in canonical form")
            t = infer_type(n.op, [types[i] for i in n.inputs], dict(attrs))
            if t.dtype is not n.type.dtype or not shapes_equal(t.shape, n.type.shape):
                raise IRError(f"node {n.name} ({n.op}): declared type {n.type} but inputs give {t}")
            define(n.name, "node")
            types[n.name] = n.type
        if not self.outputs:
            raise IRError(f"graph {self.name}: no outputs")
        for o in self.outputs:
            if o not in types:
                raise IRError(f"graph {self.name}: output {o!r} is not defined")
        return self


def sanitize_name(hint: str) -> str:
    """An IR identifier derived from an arbitrary source name (``/model/Add_1:0`` -> ``model.Add_1_0``)."""
    s = re.sub(r"[^A-Za-z0-9_.]+", "_", hint.strip("/").replace("/", ".")).strip("_.")
    s = re.sub(r"\.{2,}", ".", s)
    if not s or not (s[0].isalpha() or s[0] == "_"):
        s = "v_" + s
    return s


@dataclass
class GraphBuilder:
    """Builds a graph node by node, inferring each node's type and keeping names unique."""

    name: str
    _inputs: list[Value] = field(default_factory=list)
    _constants: list[Constant] = field(default_factory=list)
    _nodes: list[Node] = field(default_factory=list)
    _outputs: list[str] = field(default_factory=list)
    _types: dict[str, TensorType] = field(default_factory=dict)
    _counts: Counter[str] = field(default_factory=Counter)

    def fresh(self, hint: str) -> str:
        """An unused value name close to ``hint``."""
        base = sanitize_name(hint)
        name = base
        while name in self._types:
            self._counts[base] += 1
            name = f"{base}_{self._counts[base]}"
        return name

    def type_of(self, name: str) -> TensorType:
        """The type of a value defined so far."""
        try:
            return self._types[name]
        except KeyError:
            raise IRError(f"graph {self.name}: no value named {name!r}") from None

    def input(self, name: str, type: TensorType) -> str:
        """Declare a graph input; returns its (sanitized, unique) name."""
        n = self.fresh(name)
        self._inputs.append(Value(n, type))
        self._types[n] = type
        return n

    def constant(self, value: np.ndarray | float | int, name: str = "const", dtype: DType | None = None) -> str:
        """Add a constant; returns its name."""
        arr = np.asarray(value, dtype=None if dtype is None else dtype.numpy)
        n = self.fresh(name)
        c = Constant(n, arr)
        self._constants.append(c)
        self._types[n] = c.type
        return n

    def add(self, op: str, inputs: Sequence[str], name: str | None = None, **attrs: Any) -> str:
        """Append ``op(inputs)`` with attributes; returns the new value's name. Raises IRError on bad types."""
        norm = normalize_attrs(op, attrs)
        t = infer_type(op, [self.type_of(i) for i in inputs], dict(norm))
        n = self.fresh(name or op)
        self._nodes.append(Node(n, op, tuple(inputs), norm, t))
        self._types[n] = t
        return n

    def output(self, *names: str) -> None:
        """Mark values as graph outputs (in order)."""
        for n in names:
            self.type_of(n)
            self._outputs.append(n)

    def build(self, validate: bool = True) -> Graph:
        """The finished graph (validated unless told otherwise)."""
        g = Graph(self.name, tuple(self._inputs), tuple(self._constants), tuple(self._nodes), tuple(self._outputs))
        return g.validate() if validate else g


def make_graph(name: str, inputs: Iterable[Value], constants: Iterable[Constant], nodes: Iterable[Node],
               outputs: Iterable[str], validate: bool = True) -> Graph:
    """A graph from its parts (validated unless told otherwise)."""
    g = Graph(name, tuple(inputs), tuple(constants), tuple(nodes), tuple(outputs))
    return g.validate() if validate else g


def node(name: str, op: str, inputs: Sequence[str], types: Mapping[str, TensorType], **attrs: Any) -> Node:
    """A node whose type is inferred from the types of its inputs."""
    norm = normalize_attrs(op, attrs)
    return Node(name, op, tuple(inputs), norm, infer_type(op, [types[i] for i in inputs], dict(norm)))
