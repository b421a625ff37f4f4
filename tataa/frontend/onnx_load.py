"""Loading and validating ONNX models: bytes, paths (with external data) or ModelProto; opset and checker checks."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import ModelProto, SparseTensorProto, TensorProto, helper, numpy_helper

from tataa.errors import FrontendError

MIN_OPSET, MAX_OPSET = 13, 21
"""The default-domain opsets the importer accepts."""

UNREGISTERED_DOMAIN = "tataa.unregistered"


@dataclass(frozen=True)
class LoadedModel:
    """A parsed model, where it came from, the directory its external data lives in, and its default opset."""

    model: ModelProto
    source: str
    base_dir: str | None
    opset: int


def load_model(model_or_path: ModelProto | bytes | str | os.PathLike[str]) -> LoadedModel:
    """Parse and validate a model; FrontendError (never a protobuf or onnx traceback) when it is malformed."""
    base_dir: str | None = None
    if isinstance(model_or_path, ModelProto):
        model, source = model_or_path, f"<ModelProto {model_or_path.graph.name or 'unnamed'}>"
    elif isinstance(model_or_path, bytes | bytearray | memoryview):
        model, source = _parse(bytes(model_or_path), "<bytes>"), "<bytes>"
    elif isinstance(model_or_path, str | os.PathLike):
        path = Path(model_or_path)
        if not path.is_file():
            raise FrontendError(f"{path}: no such file")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise FrontendError(f"{path}: cannot read: {e.strerror}") from None
        model, source, base_dir = _parse(data, str(path)), str(path), str(path.parent)
    else:
        raise FrontendError(f"cannot import a {type(model_or_path).__name__}: pass a path, bytes or an onnx.ModelProto")
    opset = _validate(model, source)
    if model.functions:
        try:
            model = onnx.inliner.inline_local_functions(model)
        except Exception as e:  # onnx raises several types here
            raise FrontendError(f"{source}: cannot inline the model's local functions: {e}") from None
    return LoadedModel(model, source, base_dir, opset)


def _parse(data: bytes, source: str) -> ModelProto:
    if not data:
        raise FrontendError(f"{source}: empty input, not an ONNX model")
    model = ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise FrontendError(f"{source}: not a valid ONNX protobuf (truncated or corrupt file?): {e}") from None
    if not model.HasField("graph") or model.ir_version <= 0:
        raise FrontendError(f"{source}: not an ONNX model (no graph or no IR version in the protobuf)")
    return model


def _validate(model: ModelProto, source: str) -> int:
    opsets = {o.domain: o.version for o in model.opset_import}
    opset = opsets.get("", opsets.get("ai.onnx"))
    if opset is None:
        raise FrontendError(f"{source}: the model imports no opset of the default ONNX domain")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise FrontendError(f"{source}: default-domain opset {opset} is outside the supported range "
                            f"{MIN_OPSET}..{MAX_OPSET}")
    _check_references(model, source)
    try:
        onnx.checker.check_model(checker_copy(model, opset))
    except Exception as e:  # ValidationError and friends
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FrontendError(f"{source}: the model fails onnx.checker: {first}") from None
    return opset


def _check_references(model: ModelProto, source: str) -> None:
    """Every node input is a graph input, an initializer or an earlier node's output (clear message if not)."""
    g = model.graph
    defined = {i.name for i in g.input} | {t.name for t in g.initializer} | {t.values.name for t in
                                                                            g.sparse_initializer}
    for k, node in enumerate(g.node):
        for name in node.input:
            if name and name not in defined:
                label = node.name or f"#{k}"
                later = any(name in n.output for n in g.node[k + 1:])
                why = ("is only produced by a later node (the graph is not topologically sorted)" if later else
                       "is not a graph input, an initializer or the output of an earlier node (missing initializer?)")
                raise FrontendError(f"{source}: node {label} ({node.op_type}): input {name!r} {why}")
        defined.update(o for o in node.output if o)
    for o in g.output:
        if o.name not in defined:
            raise FrontendError(f"{source}: graph output {o.name!r} is not produced by any node or input")


def checker_copy(model: ModelProto, opset: int) -> ModelProto:
    """A light copy for onnx.checker: initializers become typed inputs (no weight bytes are copied), and nodes of
    default-domain ops unknown to ONNX move to a private domain so that they are reported as unsupported nodes."""
    light = ModelProto()
    for f in ("ir_version", "producer_name", "producer_version", "domain", "model_version"):
        setattr(light, f, getattr(model, f))
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    g, src = light.graph, model.graph
    g.name = src.name
    g.input.extend(src.input)
    g.output.extend(src.output)
    g.value_info.extend(src.value_info)
    have = {i.name for i in src.input}
    for t in src.initializer:
        if t.name not in have:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    g.sparse_initializer.extend(src.sparse_initializer)
    relabelled = False
    for node in src.node:
        n = g.node.add()
        n.CopyFrom(node)
        if n.domain in ("", "ai.onnx") and not onnx.defs.has(n.op_type, opset, ""):
            n.domain = UNREGISTERED_DOMAIN
            relabelled = True
    if relabelled:
        light.opset_import.append(helper.make_opsetid(UNREGISTERED_DOMAIN, 1))
    return light


def initializer_array(t: TensorProto, base_dir: str | None, source: str) -> np.ndarray:
    """An initializer's data (external data read from ``base_dir``); FrontendError when it is missing or corrupt."""
    if t.data_location == TensorProto.EXTERNAL:
        location = {e.key: e.value for e in t.external_data}.get("location", "")
        if base_dir is None:
            raise FrontendError(f"{source}: initializer {t.name!r} keeps its data in the external file "
                                f"{location!r}; import the model from its path instead")
        if not (Path(base_dir) / location).is_file():
            raise FrontendError(f"{source}: initializer {t.name!r}: external data file not found: "
                                f"{Path(base_dir) / location}")
    try:
        return numpy_helper.to_array(t, base_dir or "")
    except FileNotFoundError as e:
        raise FrontendError(f"{source}: initializer {t.name!r}: external data file not found: {e.filename}") from None
    except Exception as e:  # wrong sizes, unknown types, unreadable files
        raise FrontendError(f"{source}: initializer {t.name!r} is corrupt or unreadable: {e}") from None


def sparse_initializer_array(sp: SparseTensorProto, base_dir: str | None, source: str) -> np.ndarray:
    """A sparse initializer as a dense array (indices linear or [nnz, rank] coordinates)."""
    name = sp.values.name
    values = initializer_array(sp.values, base_dir, source)
    idx = initializer_array(sp.indices, base_dir, source).astype(np.int64)
    shape = tuple(int(d) for d in sp.dims)
    dense = np.zeros(math.prod(shape), dtype=values.dtype)
    try:
        flat = idx.reshape(-1) if idx.ndim == 1 else np.ravel_multi_index(tuple(idx.T), shape)
        dense[flat] = values.reshape(-1)
    except (ValueError, IndexError) as e:
        raise FrontendError(f"{source}: sparse initializer {name!r} is corrupt: {e}") from None
    return dense.reshape(shape)


__all__ = ["MAX_OPSET", "MIN_OPSET", "LoadedModel", "checker_copy", "initializer_array", "load_model",
           "sparse_initializer_array"]
