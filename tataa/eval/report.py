"""``tataa eval``'s output: a text table of an :class:`EvalResult`, its JSON document, and the task list."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from tataa.eval.peers import IR_TOLERANCE, PEERS, recipe_info
from tataa.eval.runner import OK, EvalResult, PeerResult
from tataa.eval.tasks import TASKS

PEER_TITLES = {
    "fp32": "fp32 (torch)",
    "ir_float": "IR interpreter (float)",
    "tataa": "tataa int8",
    "ort_int8": "onnxruntime int8 (QDQ)",
    "paper_recipe": "paper recipe",
}


def _json_number(x: float | None) -> float | str | None:
    """A float for strict JSON: non-finite values become the strings "inf", "-inf", "nan"."""
    if x is None:
        return None
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _json_value(v: Any) -> Any:
    if isinstance(v, float):
        return _json_number(v)
    if isinstance(v, Mapping):
        return {str(k): _json_value(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_value(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return _json_value(v.item())
    return v


def _rel_delta_pct(p: PeerResult, fp32: float | None) -> float | None:
    if p.value is None or fp32 is None or fp32 == 0 or math.isnan(fp32):
        return None
    return 100.0 * (p.value - fp32) / fp32


def result_json(result: EvalResult) -> dict[str, Any]:
    """The JSON document of a result: one metric value per peer at top level (None unless it ran), deltas versus
    fp32, per-peer details (status, extras, timings), the recipe, data details and timings. Strict JSON: non-finite
    numbers are written as the strings "inf", "-inf", "nan"."""
    fp32 = result.peer("fp32").value
    doc: dict[str, Any] = {
        "task": result.task,
        "metric": result.metric,
        "unit": result.unit,
        "higher_is_better": result.higher_is_better,
        "n": result.n,
        "calibration_samples": result.n_calibration,
    }
    doc.update(dict.fromkeys(PEERS))
    for p in result.peers:
        doc[p.name] = p.value
    doc["deltas"] = {p.name: p.delta for p in result.peers if p.name != "fp32"}
    doc["relative_deltas_pct"] = {p.name: _rel_delta_pct(p, fp32) for p in result.peers if p.name != "fp32"}
    doc["ir_max_rel_err"] = result.ir_max_rel_err
    doc["ir_tolerance"] = IR_TOLERANCE
    doc["ir_ok"] = result.ir_ok
    doc["peers"] = {p.name: {"status": p.status, "value": p.value, "delta": p.delta, "extras": p.extras,
                             "setup_s": p.setup_s, "run_s": p.run_s, "reason": p.reason, "info": p.info}
                    for p in result.peers}
    doc["unavailable"] = {p.name: p.reason for p in result.peers if p.status != OK}
    doc["recipe"] = recipe_info(result.recipe)
    doc["settings"] = dataclasses.asdict(result.settings)
    doc["description"] = result.description
    doc["data_source"] = result.data_source
    doc["details"] = result.details
    doc["timings"] = result.timings
    return _json_value(doc)


def _fmt(x: float | None, unit: str, signed: bool = False) -> str:
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    digits = 2 if unit == "%" else (3 if abs(x) < 100 else 1)
    text = f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
    return text + (unit if unit == "%" and not signed else (" pt" if unit == "%" else ""))


def _extras(p: PeerResult) -> str:
    parts = []
    for k, v in p.extras.items():
        if k == "delta_se":
            parts.append(f"Δ s.e. {v:.2f} pt")
        else:
            parts.append(f"{k} {v:.4f}" if k == "mean_cosine" else f"{k} {v:.3f}" if "nll" in k else f"{k} {v:.1f}%")
    return ", ".join(parts)


def format_result(result: EvalResult) -> str:
    """The result as a text table (one row per peer) with a few lines of context."""
    fp32 = result.peer("fp32").value
    better = "higher" if result.higher_is_better else "lower"
    lines = [f"{result.task}: {result.description}",
             f"  metric: {result.metric}{' (' + result.unit + ')' if result.unit else ''}, {better} is better; "
             f"n = {result.n} scored, {result.n_calibration} calibration samples; recipe of the tataa column: "
             f"{result.recipe.name}",
             f"  data: {result.data_source}"]
    lines += [f"  {k}: {v}" for k, v in result.details.items() if isinstance(v, str)]
    rows = [("peer", result.metric, "Δ vs fp32", "Δ %", "vs fp32", "setup s", "run s", "status")]
    for p in result.peers:
        rel = _rel_delta_pct(p, fp32)
        rows.append((PEER_TITLES.get(p.name, p.name), _fmt(p.value, result.unit),
                     "" if p.name == "fp32" else _fmt(p.delta, result.unit, signed=True),
                     "" if p.name == "fp32" or rel is None else f"{rel:+.2f}%", _extras(p),
                     f"{p.setup_s:.1f}" if p.status == OK else "-", f"{p.run_s:.1f}" if p.status == OK else "-",
                     p.status if p.status == OK else f"{p.status}: {p.reason}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines.append("")
    for r in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    lines.append("")
    if result.ir_max_rel_err is not None:
        verdict = "ok" if result.ir_ok else "MISMATCH"
        lines.append(f"  IR interpreter vs fp32: max relative error {result.ir_max_rel_err:.2e} "
                     f"(tolerance {IR_TOLERANCE:g}): {verdict}")
    lines.append("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()))
    return "\n".join(lines) + "\n"


def format_task_list() -> str:
    """The known tasks, one per line: name, metric, description."""
    width = max(len(n) for n in TASKS)
    lines = ["eval tasks (tataa eval NAME [--limit N] [--calib N] [--recipe tataa|paper] [--json]):"]
    for t in TASKS.values():
        lines.append(f"  {t.name.ljust(width)}  {t.metric:<10}  {t.description}")
    lines.append(f"peers: {', '.join(PEERS)}")
    return "\n".join(lines) + "\n"


__all__ = ["PEER_TITLES", "format_result", "format_task_list", "result_json"]
