"""The state of one ONNX import: the graph builder, emission helpers, attribute access and import-time evaluation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
from onnx import NodeProto, helper
from onnx.reference import ReferenceEvaluator

from tataa.frontend.onnx_values import Val, dim_of, expr_of, nonneg
from tataa.ir.dims import Dim
from tataa.ir.graph import GraphBuilder
from tataa.ir.types import DType, TensorType


class Unsupported(Exception):
    """Raised by a converter: the node cannot be expressed in the IR; the message says why."""


class Malformed(Exception):
    """Raised by a converter: the node itself is invalid (bad attribute value, inconsistent shapes)."""


def node_label(node: NodeProto) -> str:
    """The name a diagnostic uses for a node: its name, else its first output."""
    return node.name or (node.output[0] if node.output else "<unnamed>")


def op_key(node: NodeProto) -> str:
    """The op type as counted in histograms: ``MatMul`` for the default domain, ``domain::Op`` otherwise."""
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"


def op_label(node: NodeProto) -> str:
    """The op type with its domain spelled out, for diagnostics: ``ai.onnx::Cos``, ``com.microsoft::Gelu``."""
    return f"{node.domain or 'ai.onnx'}::{node.op_type}"


@dataclass
class Ctx:
    """Everything a converter needs: the builder, the model's default opset and import options."""

    builder: GraphBuilder
    opset: int
    max_dim: int = 8192
    uses: Counter[str] = field(default_factory=Counter)  # ONNX value name -> readers (graph outputs count)
    linears: dict[str, tuple[str, str]] = field(default_factory=dict)  # bias-free linear node -> (x, weight)
    created: list[str] = field(default_factory=list)  # IR nodes emitted, in order
    _fold_cache: dict[int, ReferenceEvaluator] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------------------ attributes

    @staticmethod
    def attrs(node: NodeProto) -> dict[str, Any]:
        """A node's attributes as Python values (strings decoded, tensors kept as TensorProto)."""
        out: dict[str, Any] = {}
        for a in node.attribute:
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode("utf-8", errors="replace")
            elif isinstance(v, list) and v and isinstance(v[0], bytes):
                v = [x.decode("utf-8", errors="replace") for x in v]
            out[a.name] = v
        return out

    # ------------------------------------------------------------------------------------------------ emission

    def add(self, op: str, inputs: Sequence[str], hint: str, **attrs: Any) -> str:
        """Append one IR node; its name."""
        name = self.builder.add(op, list(inputs), name=hint, **attrs)
        self.created.append(name)
        return name

    def emit(self, op: str, inputs: Sequence[str], hint: str, **attrs: Any) -> Val:
        """Append one IR node; its value as a runtime Val."""
        name = self.add(op, inputs, hint, **attrs)
        t = self.builder.type_of(name)
        return Val(t.dtype, t.shape, name=name)

    def ir(self, v: Val, hint: str = "const") -> str:
        """The IR value holding ``v``, materialising constants and symbolic integers on first use."""
        if v.name is not None:
            return v.name
        cached = v._cache.get("ir")
        if isinstance(cached, str):
            return cached
        if v.const is not None:
            if v.dtype is None:
                raise Unsupported(f"constant {hint!r} has element type {v.const.dtype}, which the IR lacks")
            name = self.builder.constant(v.const, name=hint)
        elif v.known is not None:
            name = self._materialise_known(v, hint)
        else:  # pragma: no cover - every Val is one of the above
            raise AssertionError("value has no representation")
        v._cache["ir"] = name
        return name

    def _materialise_known(self, v: Val, hint: str) -> str:
        assert v.known is not None and v.dtype is not None
        dt = v.dtype
        pieces: list[str] = []
        run: list[int] = []

        def flush() -> None:
            if run:
                pieces.append(self.builder.constant(np.array(run, dtype=dt.numpy), name=f"{hint}.part"))
                run.clear()

        for e in v.known:
            if e.is_Integer:
                run.append(int(e))
                continue
            flush()
            pieces.append(self.scalar_of_dim(e, dt, hint))
        flush()
        name = pieces[0] if len(pieces) == 1 else self.add("concat", pieces, f"{hint}.cat", axis=0)
        if not v.shape:
            name = self.add("reshape", [name], f"{hint}.scalar", shape=())
        return name

    def scalar_of_dim(self, e: sympy.Expr, dt: DType, hint: str) -> str:
        """A [1] tensor holding the run-time value of a symbolic size expression."""
        pos = nonneg(e)
        if pos is None:
            raise Unsupported(f"cannot compute the symbolic value {e} at run time (its sign is unknown)")
        neg = not pos
        d = dim_of(-e if neg else e)
        if not dt.is_int and not dt.is_float:
            raise Unsupported(f"symbolic value {e} needed as {dt.value}")
        r = self.add("arange", [], f"{hint}.range", start=0, stop=_add1(d), step=1, dtype=dt)
        out = self.add("slice", [r], f"{hint}.dim", axes=(0,), starts=(d,), ends=(_add1(d),), steps=(1,))
        return self.add("neg", [out], f"{hint}.neg") if neg else out

    def placeholder(self, dtype: DType, shape: tuple[Dim, ...], hint: str) -> Val:
        """A stand-in input for the output of an unsupported node, so that later nodes can still be checked."""
        name = self.builder.input(f"unsupported.{hint}", TensorType(dtype, shape))
        return Val(dtype, shape, name=name, placeholder=True)

    # ------------------------------------------------------------------------------------------------ folding

    def evaluate(self, node: NodeProto, inputs: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """Run one ONNX node on numpy inputs with ONNX's reference implementation (import-time folding)."""
        key = id(node)
        ev = self._fold_cache.get(key)
        if ev is None:
            ev = ReferenceEvaluator(node, opsets={"": self.opset})
            self._fold_cache[key] = ev
        feeds = {n: a for n, a in zip(node.input, inputs, strict=True) if n and a is not None}
        outs = ev.run(None, feeds)
        return [np.asarray(o) for o in outs]


def _add1(d: Dim) -> Dim:
    return d + 1 if isinstance(d, int) else dim_of(expr_of(d) + 1)


__all__ = ["Ctx", "Malformed", "Unsupported", "node_label", "op_key", "op_label"]
