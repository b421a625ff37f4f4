"""What ``tataa inspect`` reports about an imported model: op histograms, overlay units, folding, parameters, time."""

from __future__ import annotations

import dataclasses
import enum
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tataa.errors import FrontendError, UnsupportedOpsError
from tataa.frontend.result import ImportResult
from tataa.ir.ops import Unit, op_spec

if TYPE_CHECKING:
    from tataa.models import ZooModel

FRONTENDS = ("torch", "onnx")

UNIT_TITLES = {
    Unit.SYSTOLIC: "systolic array (int8)",
    Unit.SIMD: "SIMD lanes (bf16)",
    Unit.LAYOUT: "layout only (address generation / DMA)",
}


def _sorted_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts by decreasing count, then name."""
    return dict(sorted(((str(k), int(v)) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0])))


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a report value (dataclasses, counters, enums, tuples, numpy scalars)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Counter):
        return _sorted_counts(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass(frozen=True)
class ImportedModel:
    """A model imported for inspection: the import, and what it came from (a zoo model, an ONNX file)."""

    name: str
    frontend: str
    result: ImportResult
    zoo: ZooModel | None = None
    onnx_path: Path | None = None
    timings: Mapping[str, float] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """The ``inspect_report`` of this import."""
        return inspect_report(self.result, name=f"{self.name} ({self.frontend} frontend)", timings=self.timings,
                              source_parameters=None if self.zoo is None else self.zoo.parameter_count)


def import_model(model: str | Path, *, frontend: str = "torch", dims: Mapping[str, int] | None = None,
                 optimize: bool = True) -> ImportedModel:
    """Import an ``.onnx`` file, or a zoo model by name through ``frontend`` (``torch``: torch.export; ``onnx``:
    its cached ONNX export). Raises FrontendError (UnsupportedOpsError when ops cannot be expressed)."""
    if frontend not in FRONTENDS:
        raise FrontendError(f"unknown frontend {frontend!r}; known: {', '.join(FRONTENDS)}")
    path = Path(model)
    dims = dict(dims or {})
    if path.suffix == ".onnx" or path.is_file():
        from tataa.frontend.onnx_import import import_onnx

        if not path.is_file():
            raise FrontendError(f"cannot read {str(model)!r}: no such file")
        result = import_onnx(path, dims=dims or None, optimize=optimize)
        return ImportedModel(str(model), "onnx", result, onnx_path=path)
    from tataa import models

    t0 = time.perf_counter()
    zoo = models.load(str(model))
    timings = {"load": time.perf_counter() - t0}
    symbols = {s for axes in zoo.dynamic.values() for s in axes.values()}
    for sym, size in dims.items():
        if sym not in symbols:
            known = ", ".join(sorted(symbols)) or "none"
            raise FrontendError(f"{zoo.name} has no symbolic size {sym!r}; it has: {known}")
        if zoo.max_seq is not None and not 1 <= size <= zoo.max_seq:
            raise FrontendError(f"{zoo.name}: {sym}={size} is outside 1..{zoo.max_seq}")
    if frontend == "onnx":
        from tataa.frontend.onnx_import import import_onnx

        exported = models.export_onnx(zoo)
        timings["onnx export" + (" (cached)" if exported.cached else "")] = exported.seconds
        result = import_onnx(exported.path, dims=dims or None, optimize=optimize)
        return ImportedModel(zoo.name, frontend, result, zoo, exported.path, timings)
    from tataa.frontend.torch_import import import_torch

    # traced at a generic length (torch.export specialises sizes 0 and 1); `dims` binds sizes afterwards
    seq = min(16, zoo.max_seq or 16)
    result = import_torch(zoo.module, zoo.example_inputs(seq=seq), dynamic=zoo.dynamic, dims=dims or None,
                          optimize=optimize, output_names=zoo.output_names)
    return ImportedModel(zoo.name, frontend, result, zoo, None, timings)


def inspect_report(result: ImportResult, *, name: str | None = None,
                   timings: Mapping[str, float] | None = None, source_parameters: int | None = None) -> dict[str, Any]:
    """The ``tataa inspect`` report of an import, as a JSON-friendly dict.

    ``name`` labels the model (default: ``result.source``); ``timings`` adds other measured seconds (load,
    export) next to the import time; ``source_parameters`` is the source model's own weight count, when known.
    ``parameters`` counts the elements of the graph's floating-point constants.
    """
    g = result.graph
    ir_ops = g.op_histogram()
    units: dict[str, dict[str, int]] = {u.value: {} for u in Unit}
    for op, count in _sorted_counts(ir_ops).items():
        units[op_spec(op).unit.value][op] = count
    float_params = sum(int(c.value.size) for c in g.constants if c.type.dtype.is_float)
    return {
        "model": name or result.source,
        "source": result.source,
        "graph": g.name,
        "inputs": {v.name: str(v.type) for v in g.inputs},
        "outputs": {o: str(g.type_of(o)) for o in g.outputs},
        "symbols": sorted(g.symbols),
        "source_nodes": int(sum(result.source_ops.values())),
        "source_ops": _sorted_counts(result.source_ops),
        "ir_nodes": len(g.nodes),
        "ir_ops": _sorted_counts(ir_ops),
        "units": units,
        "unit_nodes": {u: sum(ops.values()) for u, ops in units.items()},
        "folded": _sorted_counts(result.folded),
        "folded_nodes": int(sum(result.folded.values())),
        "passes": None if result.report is None else _plain(result.report),
        "parameters": float_params,
        "source_parameters": source_parameters,
        "constants": len(g.constants),
        "constant_elements": sum(int(c.value.size) for c in g.constants),
        "constant_bytes": sum(int(c.value.nbytes) for c in g.constants),
        "seconds": {"import": float(result.seconds), **{k: float(v) for k, v in (timings or {}).items()}},
    }


def unsupported_report(error: UnsupportedOpsError, *, name: str) -> dict[str, Any]:
    """The report of an import that failed on unsupported ops: one entry per offending node."""
    return {"model": name, "error": "unsupported ops",
            "unsupported": [{"node": n, "op": op, "why": why} for n, op, why in error.diagnostics]}


# ---------------------------------------------------------------------------------------------------- text


def _table(rows: list[tuple[str, ...]], indent: str = "  ") -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))).rstrip() for r in rows]


def _counts_table(counts: Mapping[str, int], indent: str = "  ") -> list[str]:
    return _table([(op, str(n)) for op, n in counts.items()], indent) or [indent + "(none)"]


def _human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError


def _pass_lines(passes: Any, indent: str = "  ") -> list[str]:
    """The pass report, flattened to ``key: value`` lines (nested mappings indented)."""
    if passes is None:
        return [indent + "(optimizer not run)"]
    if not isinstance(passes, Mapping):
        return [indent + str(passes)]
    lines: list[str] = []
    for k, v in passes.items():
        if isinstance(v, Mapping):
            inner = ", ".join(f"{a}={b}" for a, b in v.items()) if all(
                not isinstance(b, Mapping | list) for b in v.values()) else None
            if inner is not None:
                lines.append(f"{indent}{k}: {inner or '-'}")
            else:
                lines.append(f"{indent}{k}:")
                lines += _pass_lines(v, indent + "  ")
        elif isinstance(v, list) and v and isinstance(v[0], Mapping):
            lines.append(f"{indent}{k}:")
            for item in v:
                lines.append(indent + "  - " + ", ".join(f"{a}={b}" for a, b in item.items()))
        else:
            lines.append(f"{indent}{k}: {v:.3f}" if isinstance(v, float) else f"{indent}{k}: {v}")
    return lines


def format_report(report: Mapping[str, Any]) -> str:
    """The text form of an ``inspect_report`` (or ``unsupported_report``) dict."""
    lines = [f"model: {report['model']}"]
    if "unsupported" in report:
        lines.append(f"unsupported: {len(report['unsupported'])} node(s)")
        lines += _table([("node", "op", "why")] + [(u["node"], u["op"], u["why"]) for u in report["unsupported"]])
        return "\n".join(lines) + "\n"
    secs = report["seconds"]
    lines.append(f"source: {report['source']}")
    lines.append("time: " + ", ".join(f"{k} {v:.2f} s" for k, v in secs.items()))
    lines.append("inputs: " + ", ".join(f"{k}: {v}" for k, v in report["inputs"].items()))
    lines.append("outputs: " + ", ".join(f"{k}: {v}" for k, v in report["outputs"].items()))
    if report["symbols"]:
        lines.append("symbolic sizes: " + ", ".join(report["symbols"]))
    src = report.get("source_parameters")
    lines.append(f"parameters: {report['parameters']:,} in {report['constants']} constants "
                 f"({_human_bytes(report['constant_bytes'])})" + ("" if src is None else f"; source model {src:,}"))
    lines.append(f"source ops: {report['source_nodes']} nodes, {len(report['source_ops'])} op types")
    lines += _counts_table(report["source_ops"])
    lines.append(f"IR ops: {report['ir_nodes']} nodes, {len(report['ir_ops'])} op types")
    for unit in Unit:
        ops = report["units"][unit.value]
        lines.append(f"  {UNIT_TITLES[unit]}: {report['unit_nodes'][unit.value]} nodes")
        lines += _counts_table(ops, "    ")
    lines.append(f"folded by the frontend: {report['folded_nodes']} source nodes")
    lines += _counts_table(report["folded"])
    lines.append("optimizer:")
    lines += _pass_lines(report["passes"])
    return "\n".join(lines) + "\n"


__all__ = ["FRONTENDS", "UNIT_TITLES", "ImportedModel", "format_report", "import_model", "inspect_report",
           "unsupported_report"]
