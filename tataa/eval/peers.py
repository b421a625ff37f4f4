"""The implementations ``tataa eval`` compares on the same data: each is a :class:`Peer`, a function from one feed
to the model's output, built once (import, quantization, export) before the data is scored.

* ``fp32``: the torch module (float32, eval mode): the reference every other peer is compared with.
* ``ir_float``: the imported IR graph run by the float interpreter ``tataa.ir.interp.run_graph`` (a sanity check:
  it must equal fp32 within ``IR_TOLERANCE``).
* ``tataa``: ``tataa.quant.quantize`` (a recipe, default ``TATAA_RECIPE``) then ``tataa.quant.reference.run_quantized``,
  the bit-exact overlay arithmetic.
* ``ort_int8``: onnxruntime's ``quantize_static`` (QDQ, per-channel int8 weights, int8 activations from MinMax
  calibration on the same feeds) of the model's ONNX export, run by onnxruntime.
* ``paper_recipe``: like ``tataa`` with ``PAPER_RECIPE`` (the published design's choices).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tataa.errors import TataaError
from tataa.eval.tasks import Feed
from tataa.ir.graph import Graph
from tataa.models import ZooModel
from tataa.quant.recipe import QuantRecipe

PEERS = ("fp32", "ir_float", "tataa", "ort_int8", "paper_recipe")
"""Peer names in the order they are built and reported (also the JSON keys of their metric values)."""

IR_TOLERANCE = 1e-4
"""Largest relative error max|ir - fp32| / max|fp32| the IR interpreter may show on any batch."""

ORT_OP_TYPES = ("MatMul", "Gemm")
"""Operators onnxruntime quantizes: the linear layers and attention's two matmuls, as tataa does; the rest stays
fp32 in onnxruntime (whereas tataa runs it in bf16)."""


class PeerUnavailable(TataaError):
    """A peer cannot be built in this checkout (a component it needs is not there yet)."""


@dataclass(frozen=True, eq=False)
class Peer:
    """One implementation under test: ``run(feed)`` is the model's (first) output as a float32 array."""

    name: str
    run: Callable[[Feed], np.ndarray] = field(repr=False)
    setup_s: float  # what building it took (import, quantization with calibration, export)
    info: dict[str, Any] = field(default_factory=dict)  # recipe, quantized node counts, file names (for the report)


# ---------------------------------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _quiet_logging(level: int = logging.ERROR) -> Iterator[None]:
    """Raise the root logger's level (onnxruntime's quantizer logs advice through ``logging.warning``)."""
    root = logging.getLogger()
    old = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(old)


def _as_f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def import_graph(zoo: ZooModel, dims: dict[str, int] | None = None) -> tuple[Graph, float]:
    """The model's IR graph through ``torch.export`` (optimised; ``dims`` specialises symbolic sizes) and the
    seconds the import took."""
    from tataa.frontend.torch_import import import_torch

    t0 = time.perf_counter()
    seq = min(16, zoo.max_seq or 16)
    result = import_torch(zoo.module, zoo.example_inputs(seq=seq), dynamic=zoo.dynamic, dims=dims or None,
                          output_names=zoo.output_names)
    return result.graph, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------------- peers


def fp32_peer(zoo: ZooModel) -> Peer:
    """The torch module itself."""

    def run(feed: Feed) -> np.ndarray:
        return _as_f32(zoo.run(*(torch.from_numpy(np.ascontiguousarray(feed[n])) for n in zoo.input_names)).numpy())

    return Peer("fp32", run, 0.0, {"model": zoo.name, "weights": zoo.origin})


def ir_peer(graph: Graph, import_s: float) -> Peer:
    """The float IR interpreter on the imported graph."""
    from tataa.ir.interp import run_graph

    out = graph.outputs[0]

    def run(feed: Feed) -> np.ndarray:
        return _as_f32(run_graph(graph, feed, outputs=[out])[out])

    return Peer("ir_float", run, import_s, {"nodes": len(graph.nodes)})


def quant_api() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``(quantize, run_quantized)`` from ``tataa.quant``; PeerUnavailable while either module is missing."""
    try:
        from tataa.quant.quantize import quantize
        from tataa.quant.reference import run_quantized
    except ModuleNotFoundError as e:
        if e.name in ("tataa.quant.quantize", "tataa.quant.reference"):
            raise PeerUnavailable(f"{e.name} is not in this checkout yet") from None
        raise
    return quantize, run_quantized


def recipe_info(recipe: QuantRecipe) -> dict[str, Any]:
    """A recipe's settings as plain JSON values."""
    import dataclasses
    import enum

    def plain(v: Any) -> Any:
        if isinstance(v, enum.Enum):
            return v.value
        if isinstance(v, tuple):
            return list(v)
        return v

    return {f.name: plain(getattr(recipe, f.name)) for f in dataclasses.fields(recipe)}


def quantized_peer(name: str, graph: Graph, calibration: Sequence[Feed], recipe: QuantRecipe, *,
                   progress: bool = True) -> Peer:
    """``quantize`` the graph with ``recipe`` on ``calibration`` (every feed is used), then ``run_quantized``."""
    import dataclasses

    quantize, run_quantized = quant_api()
    recipe = dataclasses.replace(recipe, calibration_samples=max(1, len(calibration)))
    t0 = time.perf_counter()
    qm = quantize(graph, list(calibration), recipe, progress=progress)
    setup = time.perf_counter() - t0
    out = qm.graph.outputs[0]

    def run(feed: Feed) -> np.ndarray:
        return _as_f32(run_quantized(qm, feed, outputs=[out])[out])

    info = {"recipe": recipe_info(recipe), "int8_linear": len(qm.linears), "int8_matmul": len(qm.matmuls),
            "int8_attention": len(qm.attentions), "kept_bf16": len(qm.kept_bf16)}
    return Peer(name, run, setup, info)


def _calibration_reader(feeds: Sequence[Feed], inputs: Sequence[str], progress: bool) -> Any:
    """An onnxruntime ``CalibrationDataReader`` giving the calibration feeds once each (with a progress bar)."""
    from onnxruntime.quantization import CalibrationDataReader
    from tqdm.auto import tqdm

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.bar = tqdm(total=len(feeds), desc="ort_int8 calibration", disable=not progress, leave=False,
                            unit="batch")
            self.items = iter([{k: f[k] for k in inputs} for f in feeds])

        def get_next(self) -> dict[str, np.ndarray] | None:
            item = next(self.items, None)
            if item is None:
                self.bar.close()
            else:
                self.bar.update(1)
            return item

    return Reader()


def ort_int8_peer(zoo: ZooModel, calibration: Sequence[Feed], *, progress: bool = True) -> Peer:
    """onnxruntime static int8 (QDQ, per-channel weights, MinMax-calibrated activations) of the ONNX export."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from tataa import models

    t0 = time.perf_counter()
    exported = models.export_onnx(zoo)
    export_s = time.perf_counter() - t0
    probe = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    inputs = [i.name for i in probe.get_inputs()]
    del probe
    reader = _calibration_reader(calibration, inputs, progress)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tataa-ort-") as tmp, _quiet_logging():
        qpath = Path(tmp) / f"{zoo.name}-int8.onnx"
        try:
            quantize_static(str(exported.path), str(qpath), reader, quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=list(ORT_OP_TYPES), per_channel=True,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax,
                            calibration_providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises many types; name the step
            raise TataaError(f"onnxruntime quantize_static failed on {exported.path.name}: {e}") from None
        session = ort.InferenceSession(str(qpath), options, providers=["CPUExecutionProvider"])
        size = qpath.stat().st_size
    quant_s = time.perf_counter() - t1

    def run(feed: Feed) -> np.ndarray:
        return _as_f32(session.run(None, {k: feed[k] for k in inputs})[0])

    info = {"onnx": exported.path.name, "export_s": export_s, "export_cached": exported.cached,
            "quantize_s": quant_s, "quantized_bytes": size, "format": "QDQ", "weights": "int8 per-channel symmetric",
            "activations": "int8 per-tensor asymmetric, MinMax", "op_types": list(ORT_OP_TYPES)}
    return Peer("ort_int8", run, export_s + quant_s, info)


__all__ = ["IR_TOLERANCE", "ORT_OP_TYPES", "PEERS", "Peer", "PeerUnavailable", "fp32_peer", "import_graph",
           "ir_peer", "ort_int8_peer", "quant_api", "quantized_peer", "recipe_info"]
