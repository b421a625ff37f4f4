"""Algebraic simplifications: identities that remove a node, and rewrites into cheaper or systolic forms."""

from __future__ import annotations

import numpy as np

from tataa.ir.dims import dims_equal, shapes_equal
from tataa.ir.graph import Node
from tataa.ir.passes.editor import Editor, NewConst, Ref, Rewrite, same_type
from tataa.ir.passes.layout import collapse_layout
from tataa.ir.passes.match import is_causal_mask, node_of, orders, scalar

_IDENTITY_RIGHT = {"add": 0.0, "sub": 0.0, "mul": 1.0, "div": 1.0, "pow": 1.0}
_COMMUTATIVE_IDENTITY = ("add", "mul")


def simplify(ed: Editor, n: Node) -> tuple[str, str | Rewrite] | None:
    """A simplification of node ``n``: ``(rule, value)`` when it equals an existing value, ``(rule, Rewrite)``."""
    op, ins = n.op, n.inputs
    if op == "cast" and ed.types[ins[0]].dtype is n.type.dtype:
        return "identity.cast", ins[0]
    if op in ("reshape", "expand") and _same_shape(ed, ins[0], n):
        return f"identity.{op}", ins[0]
    if op == "concat" and len(ins) == 1:
        return "identity.concat", ins[0]
    if op == "slice" and _full_slice(ed, n):
        return "identity.slice", ins[0]
    if op == "reshape":
        inner = node_of(ed, ins[0], "reshape")
        if inner is not None:
            if shapes_equal(ed.types[inner.inputs[0]].shape, n.type.shape):
                return "reshape.chain", inner.inputs[0]
            return "reshape.chain", Rewrite("reshape.chain", "reshape", (inner.inputs[0],), n.attr_dict)
    if op == "transpose":
        perm = n.attr("perm")
        if list(perm) == sorted(perm):
            return "identity.transpose", ins[0]
        inner = node_of(ed, ins[0], "transpose")
        if inner is not None:
            composed = [inner.attr("perm")[p] for p in perm]
            if composed == sorted(composed):
                return "transpose.chain", inner.inputs[0]
            return "transpose.chain", Rewrite("transpose.chain", "transpose", (inner.inputs[0],), {"perm": composed})
    if op in ("reshape", "transpose"):
        collapsed = collapse_layout(ed, n)
        if collapsed is not None:
            return "layout.chain", collapsed
    if op in _IDENTITY_RIGHT:
        pairs = list(orders(n)) if op in _COMMUTATIVE_IDENTITY else [(ins[0], ins[1])]
        for x, c in pairs:
            if scalar(ed, c) == _IDENTITY_RIGHT[op] and same_type(ed.types[x], n.type):
                return f"identity.{op}", x
    if op == "attention" and len(ins) == 4:
        sq, sk = ed.types[ins[0]].shape[-2], ed.types[ins[1]].shape[-2]
        if is_causal_mask(ed, ins[3], sq, sk):
            return "attention.causal", Rewrite("attention.causal", "attention", ins[:3],
                                               {"scale": n.attr("scale"), "causal": True})
    if op == "matmul" and ed.value(ins[1]) is not None and ed.types[ins[1]].rank == 2:
        return "linear.from_matmul", Rewrite("linear.from_matmul", "linear", ins, {})
    if op == "add":
        for y, b in orders(n):
            lin = node_of(ed, y, "linear", private=True)
            if lin is None or len(lin.inputs) != 2:
                continue
            bias = _bias_vector(ed, b, lin.type.shape[-1])
            if bias is not None:
                return "linear.bias", Rewrite("linear.bias", "linear", (*lin.inputs, bias), {}, frozenset({y}))
    return None


def _same_shape(ed: Editor, src: str, n: Node) -> bool:
    return shapes_equal(ed.types[src].shape, n.type.shape)


def _full_slice(ed: Editor, n: Node) -> bool:
    shape = ed.types[n.inputs[0]].shape
    for ax, s, e, st in zip(n.attr("axes"), n.attr("starts"), n.attr("ends"), n.attr("steps"), strict=True):
        size = shape[ax % len(shape)]
        if st != 1 or s != 0 or not dims_equal(e, size):
            return False
    return True


def _bias_vector(ed: Editor, b: str, n: object) -> Ref | None:
    """A constant ``b`` as a bias vector ``[n]`` (it may carry leading 1 axes, or be a broadcast scalar)."""
    v = ed.value(b)
    if v is None or not isinstance(n, int):
        return None
    shape = list(v.shape)
    while shape and shape[0] == 1 and len(shape) > 1:
        shape.pop(0)
    if shape == [n]:
        return b if v.shape == (n,) else NewConst(v.reshape(n), b)
    if v.size == 1:
        return NewConst(np.full(n, v.reshape(-1)[0], dtype=v.dtype), b)
    return None


__all__ = ["simplify"]
