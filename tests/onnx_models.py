"""Helpers for the ONNX frontend tests: build small models with onnx.helper and compare the IR with onnxruntime."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from tataa.frontend.onnx_import import import_onnx
from tataa.frontend.result import ImportResult
from tataa.ir.interp import run_graph

F32, I64, I32, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL

InputSpec = tuple[str, int, Sequence[int | str | None]]


def model(nodes: Sequence[onnx.NodeProto], inputs: Sequence[InputSpec], outputs: Sequence[str | InputSpec],
          inits: Mapping[str, np.ndarray] | None = None, opset: int = 18, infer: bool = True,
          extra_opsets: Mapping[str, int] | None = None) -> onnx.ModelProto:
    """A model from nodes; outputs given by name get their types from ONNX shape inference."""
    ins = [helper.make_tensor_value_info(n, t, list(s)) for n, t, s in inputs]
    outs = [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) if isinstance(o, str) else
            helper.make_tensor_value_info(o[0], o[1], list(o[2])) for o in outputs]
    init = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    g = helper.make_graph(list(nodes), "test", ins, outs, initializer=init)
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    m = helper.make_model(g, opset_imports=opsets)
    m.ir_version = 9
    if infer:
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        del m.graph.output[:]
        m.graph.output.extend(inferred.graph.output)
    return m


def node(op: str, inputs: Sequence[str], outputs: Sequence[str] | str, **attrs: Any) -> onnx.NodeProto:
    """One ONNX node named after its first output."""
    outs = [outputs] if isinstance(outputs, str) else list(outputs)
    return helper.make_node(op, list(inputs), outs, name=f"n_{outs[0]}", **attrs)


def reference(m: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """onnxruntime's outputs (graph optimisations off, so that it computes the model as written)."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, dict(feeds))


def check(m: onnx.ModelProto, feeds: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]], *,
          atol: float = 1e-5, rtol: float = 1e-5, optimize: bool = False, **kw: Any) -> ImportResult:
    """Import ``m`` and assert that the IR interpreter matches onnxruntime on every feed set."""
    result = import_onnx(m, optimize=optimize, **kw)
    for f in [feeds] if isinstance(feeds, Mapping) else feeds:
        want = reference(m, f)
        got = run_graph(result.graph, f)
        assert len(got) == len(want)
        for (name, g), w in zip(got.items(), want, strict=True):
            assert g.shape == w.shape, f"{name}: shape {g.shape} != {w.shape}"
            assert g.dtype == w.dtype, f"{name}: dtype {g.dtype} != {w.dtype}"
            if w.dtype.kind in "biu":
                np.testing.assert_array_equal(g, w, err_msg=name)
            else:
                np.testing.assert_allclose(g, w, atol=atol, rtol=rtol, err_msg=name)
    return result


def rand(*shape: int, seed: int = 0, dtype: Any = np.float32) -> np.ndarray:
    """Seeded standard-normal data."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
