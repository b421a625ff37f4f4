"""Layout chains: a run of transposes and reshapes that only add or drop size-1 axes is one transpose or reshape."""

from __future__ import annotations

from collections.abc import Sequence

from tataa.ir.dims import Dim, shapes_equal
from tataa.ir.graph import Node
from tataa.ir.passes.editor import Editor, Rewrite

MAX_CHAIN = 16


def unit_reshape(a: Sequence[Dim], b: Sequence[Dim]) -> bool:
    """Whether reshaping ``a`` to ``b`` only inserts or removes axes of size 1."""
    return shapes_equal([d for d in a if d != 1], [d for d in b if d != 1])


def collapse_layout(ed: Editor, n: Node) -> str | Rewrite | None:
    """The value, or a single transpose / reshape of it, that a chain of layout nodes ending at ``n`` computes."""
    chain: list[Node] = []
    node: Node | None = n
    src = n.name
    while node is not None and node.op in ("reshape", "transpose") and len(chain) < MAX_CHAIN:
        if node.op == "reshape" and not unit_reshape(ed.types[node.inputs[0]].shape, node.type.shape):
            break
        chain.append(node)
        src = node.inputs[0]
        node = ed.producer(src)
    if len(chain) < 2:
        return None
    src_shape = ed.types[src].shape
    axes: list[int | None] = list(range(len(src_shape)))  # for each axis of the current value: its source axis
    shape = src_shape
    for step in reversed(chain):
        if step.op == "transpose":
            axes = [axes[p] for p in step.attr("perm")]
        else:
            kept = iter([axes[i] for i, d in enumerate(shape) if d != 1])
            axes = [None if d == 1 else next(kept) for d in step.type.shape]
        shape = step.type.shape
    order = [a for a in axes if a is not None]
    if order == sorted(order):
        if shapes_equal(src_shape, n.type.shape):
            return src
        return Rewrite("layout.chain", "reshape", (src,), {"shape": n.type.shape})
    missing = iter([a for a in range(len(src_shape)) if a not in order])  # size-1 source axes dropped on the way
    if axes.count(None) != len(src_shape) - len(order):
        return None
    perm = [next(missing) if a is None else a for a in axes]
    return Rewrite("layout.chain", "transpose", (src,), {"perm": perm})


__all__ = ["collapse_layout", "unit_reshape"]
