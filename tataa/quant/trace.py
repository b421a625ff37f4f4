"""Per-layer error of the quantized reference against the float model: where does the accuracy go?

``layer_trace(qm, inputs)`` runs the float graph (``tataa.ir.interp.run_graph``) and the quantized reference
(``run_quantized``) on the same inputs and compares every floating-point node's two values: max and mean absolute
error, SQNR in dB (10 log10 of signal power over error power) and the relative error max|q - f| / max|f|.
``format_trace`` prints the records as a table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tataa.ir.graph import Node
from tataa.ir.interp import run_graph
from tataa.ir.ops import Unit
from tataa.quant.params import QuantizedModel
from tataa.quant.reference import run_quantized


@dataclass(frozen=True)
class LayerError:
    """The error of one node's quantized value against its float value."""

    node: str
    op: str
    max_abs: float  # max |q - f|
    mean_abs: float  # mean |q - f|
    sqnr_db: float  # 10 log10(sum f^2 / sum (q - f)^2); inf when exact
    rel_err: float  # max |q - f| / max |f| (inf when f is all zero and q is not)


def compare(node: str, op: str, quant: np.ndarray, ref: np.ndarray) -> LayerError:
    """The error record of one value; entries where both agree exactly (infinities, NaNs included) count as 0,
    a non-finite mismatch as an infinite error."""
    q = np.asarray(quant, dtype=np.float64)
    f = np.asarray(ref, dtype=np.float64)
    with np.errstate(all="ignore"):
        same = (q == f) | (np.isnan(q) & np.isnan(f))
        err = np.where(same, 0.0, np.abs(q - f))
        err = np.where(np.isnan(err), np.inf, err)
        signal = float(np.sum(np.where(np.isfinite(f), f * f, 0.0)))
        noise = float(np.sum(err * err))
    if err.size == 0:
        return LayerError(node, op, 0.0, 0.0, math.inf, 0.0)
    max_abs, mean_abs = float(err.max()), float(err.mean())
    if noise == 0.0:
        sqnr = math.inf
    elif signal == 0.0 or not math.isfinite(noise):
        sqnr = -math.inf
    else:
        sqnr = 10.0 * math.log10(signal / noise)
    peak = float(np.max(np.abs(np.where(np.isfinite(f), f, 0.0))))
    rel = max_abs / peak if peak > 0 else (0.0 if max_abs == 0 else math.inf)
    return LayerError(node, op, max_abs, mean_abs, sqnr, rel)


def layer_trace(qm: QuantizedModel, inputs: Mapping[str, Any], *, include_layout: bool = False,
                array_size: int | None = None) -> list[LayerError]:
    """One record per floating-point node of ``qm.graph`` (in graph order), comparing ``run_quantized`` with
    ``run_graph`` on `inputs`. Layout-only nodes (reshape, transpose, ...) repeat their input's error and are left
    out unless `include_layout`."""
    g = qm.graph
    ref: dict[str, np.ndarray] = {}

    def wanted(node: Node) -> bool:
        return node.type.dtype.is_float and (include_layout or node.unit is not Unit.LAYOUT)

    def keep_float(node: Node, value: np.ndarray) -> None:
        if wanted(node):
            ref[node.name] = np.array(value, dtype=np.float32)

    run_graph(g, inputs, observer=keep_float)
    out: list[LayerError] = []

    def check(node: Node, value: np.ndarray) -> None:
        if node.name in ref:
            out.append(compare(node.name, node.op, value, ref.pop(node.name)))

    run_quantized(qm, inputs, observer=check, array_size=array_size)
    return out


def _num(v: float, fmt: str) -> str:
    return format(v, fmt) if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def format_trace(errors: list[LayerError], *, worst: int | None = None) -> str:
    """A text table of the records (in graph order, or the `worst` ones by SQNR, lowest first)."""
    rows = sorted(errors, key=lambda e: e.sqnr_db)[:worst] if worst is not None else list(errors)
    width = max([len(e.node) for e in rows] + [4])
    opw = max([len(e.op) for e in rows] + [2])
    head = f"{'node':<{width}}  {'op':<{opw}}  {'max abs':>10}  {'mean abs':>10}  {'SQNR dB':>8}  {'rel err':>9}"
    lines = [head, "-" * len(head)]
    for e in rows:
        lines.append(f"{e.node:<{width}}  {e.op:<{opw}}  {_num(e.max_abs, '10.3g')}  {_num(e.mean_abs, '10.3g')}  "
                     f"{_num(e.sqnr_db, '8.2f')}  {_num(e.rel_err, '9.2e')}")
    return "\n".join(lines)


__all__ = ["LayerError", "compare", "format_trace", "layer_trace"]
