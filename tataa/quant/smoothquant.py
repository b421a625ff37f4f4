"""SmoothQuant: move per-channel activation outliers out of normalised activations and into the next weights.

For a ``layer_norm`` / ``rms_norm`` over the last axis whose output reaches only ``linear`` nodes (as their input x,
possibly through reshapes that keep the last axis), every input channel j gets one factor shared by all those
linears: ``s_j = max|X_j|^alpha / max|W_j|^(1-alpha)`` (X: the norm's output over the calibration feeds, W_j: row j
of every such weight). ``1/s`` is folded into the norm's weight and bias and ``s`` into the weight rows, so the float
graph computes the same function while the int8 activations see flatter channel ranges.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tataa.ir.graph import Graph, Node
from tataa.ir.passes.editor import Editor
from tataa.quant.data import Feed, run_feeds
from tataa.quant.recipe import QuantError

F64 = npt.NDArray[np.float64]
NORM_OPS = ("layer_norm", "rms_norm")
MIN_FACTOR, MAX_FACTOR = 1e-5, 1e5


@dataclass(frozen=True)
class SmoothGroup:
    """A norm and the linears that read its output (directly or through last-axis-preserving reshapes)."""

    norm: str
    linears: tuple[str, ...]
    channels: int


@dataclass(frozen=True, eq=False)
class SmoothResult:
    """The rewritten graph, the factor vector folded into each linear's weight rows, and the groups found."""

    graph: Graph
    factors: dict[str, F64]
    groups: tuple[SmoothGroup, ...]


def find_smooth_groups(graph: Graph) -> list[SmoothGroup]:
    """Every norm whose output SmoothQuant can fold: last-axis norm, constant [C] weight/bias, only linear readers."""
    consts = graph.constant_map
    groups = []
    for n in graph.nodes:
        if n.op not in NORM_OPS or not n.type.dtype.is_float or n.type.rank == 0:
            continue
        channels = n.type.shape[-1]
        if n.attr("axis") % n.type.rank != n.type.rank - 1 or not isinstance(channels, int):
            continue
        if any(p not in consts or consts[p].shape != (channels,) for p in n.inputs[1:]):
            continue
        linears = _linear_readers(graph, n.name, channels)
        if linears:
            groups.append(SmoothGroup(n.name, tuple(linears), channels))
    return groups


def _linear_readers(graph: Graph, root: str, channels: int) -> list[str] | None:
    """The linears reading ``root`` as x through reshapes keeping the last axis; None if anything else reads it."""
    consts, outputs = graph.constant_map, set(graph.outputs)
    found: dict[str, None] = {}
    stack = [root]
    while stack:
        value = stack.pop()
        if value in outputs:
            return None
        for u in graph.users.get(value, ()):
            if u.op == "reshape" and u.type.rank and u.type.shape[-1] == channels:
                stack.append(u.name)
            elif (u.op == "linear" and u.inputs[0] == value and value not in u.inputs[1:]
                  and u.inputs[1] in consts and u.type.dtype.is_float):
                found[u.name] = None
            else:
                return None
    return list(found)


def channel_absmax(graph: Graph, names: Sequence[str], feeds: Sequence[Feed], *,
                   progress: bool = True) -> dict[str, F64]:
    """max |x| per last-axis channel of each named node's value over the feeds (non-finite values ignored)."""
    wanted = set(names)
    out: dict[str, F64] = {}

    def observe(node: Node, value: np.ndarray) -> None:
        if node.name not in wanted:
            return
        mags = np.abs(np.asarray(value, dtype=np.float64))
        mags = np.where(np.isfinite(mags), mags, 0.0).reshape(-1, mags.shape[-1])
        top = mags.max(axis=0) if mags.shape[0] else np.zeros(mags.shape[-1])
        out[node.name] = top if node.name not in out else np.maximum(out[node.name], top)

    run_feeds(graph, feeds, observe, progress=progress, desc="smoothquant")
    return out


def smoothing_factors(act_max: npt.ArrayLike, weight_max: npt.ArrayLike, alpha: float) -> F64:
    """``max|X_j|^alpha / max|W_j|^(1-alpha)`` per channel, 1 where either is 0, clipped to [1e-5, 1e5]."""
    if not 0.0 <= alpha <= 1.0:
        raise QuantError(f"smoothquant: alpha {alpha} (must lie in [0, 1])")
    a = np.asarray(act_max, dtype=np.float64)
    w = np.asarray(weight_max, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = a**alpha / w ** (1.0 - alpha)
    s = np.where((a > 0) & (w > 0) & np.isfinite(s), s, 1.0)
    return np.clip(s, MIN_FACTOR, MAX_FACTOR)


def apply_smoothing(graph: Graph, groups: Sequence[SmoothGroup], factors: Mapping[str, F64]) -> SmoothResult:
    """The graph with ``1/s`` folded into each group's norm and ``s`` into its linears' weight rows (new constants)."""
    ed = Editor(graph)
    per_linear: dict[str, F64] = {}
    for g in groups:
        s = np.asarray(factors[g.norm], dtype=np.float64)
        if s.shape != (g.channels,):
            raise QuantError(f"smoothquant: norm {g.norm} has {g.channels} channels, got {s.shape} factors")
        norm = ed.nodes[g.norm]
        ins = list(norm.inputs)
        if len(ins) == 1:
            ins.append(ed.add_constant((1.0 / s).astype(norm.type.dtype.numpy), f"{g.norm}.smooth_weight"))
        else:
            for k, what in ((1, "weight"), (2, "bias")):
                if k < len(ins):
                    old = ed.consts[ins[k]].value
                    ins[k] = ed.add_constant((old.astype(np.float64) / s).astype(old.dtype), f"{g.norm}.smooth_{what}")
        ed.set_node(dataclasses.replace(norm, inputs=tuple(ins)))
        for name in g.linears:
            lin = ed.nodes[name]
            old = ed.consts[lin.inputs[1]].value
            new = ed.add_constant((old.astype(np.float64) * s[:, None]).astype(old.dtype), f"{lin.inputs[1]}.smooth")
            ed.set_node(dataclasses.replace(lin, inputs=(lin.inputs[0], new, *lin.inputs[2:])))
            per_linear[name] = s.copy()
    for c in graph.constants:  # drop the constants smoothing made unused
        if graph.users.get(c.name) and not ed.users.get(c.name) and c.name not in graph.outputs:
            ed.delete(c.name)
    return SmoothResult(ed.finish(validate=True), per_linear, tuple(groups))


def smoothquant(graph: Graph, feeds: Sequence[Feed], alpha: float, *, progress: bool = True) -> SmoothResult:
    """SmoothQuant with migration strength ``alpha`` from calibration statistics; the float function is unchanged."""
    groups = find_smooth_groups(graph)
    if not groups:
        return SmoothResult(graph, {}, ())
    act = channel_absmax(graph, [g.norm for g in groups], feeds, progress=progress)
    consts = graph.constant_map
    factors: dict[str, F64] = {}
    for g in groups:
        weight_max = np.max([np.abs(consts[graph.node_map[name].inputs[1]].astype(np.float64)).max(axis=1)
                             for name in g.linears], axis=0)
        factors[g.norm] = smoothing_factors(act.get(g.norm, np.zeros(g.channels)), weight_max, alpha)
    return apply_smoothing(graph, groups, factors)


__all__ = ["MAX_FACTOR", "MIN_FACTOR", "NORM_OPS", "SmoothGroup", "SmoothResult", "apply_smoothing",
           "channel_absmax", "find_smooth_groups", "smoothing_factors", "smoothquant"]
