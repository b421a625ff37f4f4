"""ONNX frontend: every op mapping checked against onnxruntime through the IR interpreter, symbolic shapes,
position tables, external data, and dynamo exports of small GPT-2 / BERT models at two sequence lengths."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_models import BOOL, F32, I32, I64, check, model, node, rand, reference

from tataa.errors import BindingError, FrontendError, IRError, UnsupportedOpsError
from tataa.frontend.onnx_import import import_onnx
from tataa.ir.interp import run_graph

# ---------------------------------------------------------------------------------------------------- elementwise


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min"])
def test_binary_broadcast(op: str) -> None:
    m = model([node(op, ["a", "b"], "y")], [("a", F32, [2, 3, 4]), ("b", F32, [3, 1])], ["y"])
    r = check(m, {"a": rand(2, 3, 4), "b": rand(3, 1, seed=1) + 3.0})
    assert len(r.graph.nodes) == 1


def test_pow_with_integer_exponent_and_variadic_ops() -> None:
    nodes = [node("Pow", ["a", "e"], "p"), node("Max", ["a", "b", "p"], "mx"), node("Min", ["a", "b", "p"], "mn"),
             node("Sum", ["a", "b", "p"], "s"), node("Mean", ["a", "b"], "me")]
    m = model(nodes, [("a", F32, [4]), ("b", F32, [4])], ["mx", "mn", "s", "me"], {"e": np.array(2, np.int64)})
    check(m, {"a": rand(4), "b": rand(4, seed=1)})


def test_integer_division_truncates_toward_zero() -> None:
    m = model([node("Div", ["a", "b"], "y")], [("a", I64, [6]), ("b", I64, [6])], [("y", I64, [6])])
    check(m, {"a": np.array([7, -7, 7, -7, 0, 9]), "b": np.array([2, 2, -2, -2, 3, 3])})


def test_comparisons_logic_and_where() -> None:
    nodes = [node("Less", ["a", "b"], "lt"), node("GreaterOrEqual", ["a", "b"], "ge"),
             node("Equal", ["a", "b"], "eq"), node("Greater", ["a", "b"], "gt"), node("LessOrEqual", ["a", "b"], "le"),
             node("Or", ["lt", "eq"], "o"), node("And", ["ge", "le"], "an"), node("Not", ["gt"], "nt"),
             node("Where", ["o", "a", "b"], "w")]
    m = model(nodes, [("a", F32, [3, 4]), ("b", F32, [4])], ["o", "an", "nt", "w"])
    a = rand(3, 4)
    b = a[1].copy()  # some equal entries
    check(m, {"a": a, "b": b})


@pytest.mark.parametrize("op", ["Neg", "Abs", "Exp", "Tanh", "Erf", "Sigmoid", "Relu", "Reciprocal", "Identity"])
def test_unary(op: str) -> None:
    m = model([node(op, ["x"], "y")], [("x", F32, [2, 5])], ["y"])
    check(m, {"x": rand(2, 5)})


def test_log_sqrt_and_integer_relu() -> None:
    nodes = [node("Abs", ["x"], "ax"), node("Log", ["ax"], "lg"), node("Sqrt", ["ax"], "sq"), node("Relu", ["i"], "ri")]
    m = model(nodes, [("x", F32, [6]), ("i", I32, [6])], ["lg", "sq", ("ri", I32, [6])])
    check(m, {"x": rand(6) + 0.1, "i": np.array([-3, -1, 0, 1, 2, 5], np.int32)})


def test_isnan_isinf_leaky_relu_clip() -> None:
    nodes = [node("IsNaN", ["x"], "nan"), node("IsInf", ["x"], "inf"),
             node("IsInf", ["x"], "pinf", detect_negative=0), node("LeakyRelu", ["x"], "lr", alpha=0.2),
             node("Clip", ["x", "lo", "hi"], "c"), node("Clip", ["x", "", "hi"], "c2")]
    m = model(nodes, [("x", F32, [7])], ["nan", "inf", "pinf", "lr", "c", "c2"],
              {"lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)})
    check(m, {"x": np.array([np.nan, np.inf, -np.inf, -1.0, 0.3, 2.0, -0.1], np.float32)})


def test_cast_castlike_dropout() -> None:
    nodes = [node("Cast", ["x"], "i", to=TensorProto.INT32), node("CastLike", ["i", "x"], "f"),
             node("Dropout", ["f"], ["d", "mask"]), node("Cast", ["mask"], "mi", to=TensorProto.INT64),
             node("Cast", ["x"], "same", to=TensorProto.FLOAT)]
    m = model(nodes, [("x", F32, [2, 3])], ["i", "d", "mi", "same"])
    r = check(m, {"x": rand(2, 3) * 4})
    assert "cast" in r.graph.op_histogram()


@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax_and_log_softmax(axis: int) -> None:
    nodes = [node("Softmax", ["x"], "s", axis=axis), node("LogSoftmax", ["x"], "ls", axis=axis)]
    m = model(nodes, [("x", F32, [2, 5, 3])], ["s", "ls"])
    x = rand(2, 5, 3)
    x[0, 0, 0] = 80.0  # large logits: the composed log-softmax must stay finite
    check(m, {"x": x})


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_opset20(approximate: str) -> None:
    m = model([node("Gelu", ["x"], "y", approximate=approximate)], [("x", F32, [3, 4])], ["y"], opset=20)
    r = check(m, {"x": rand(3, 4) * 3})
    assert r.graph.nodes[0].attr("approximate") == approximate


# ---------------------------------------------------------------------------------------------------- reductions


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSumSquare", "ReduceL1",
                                "ReduceL2"])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reductions_axes_input(op: str, keepdims: int) -> None:
    m = model([node(op, ["x", "axes"], "y", keepdims=keepdims)], [("x", F32, [2, 3, 4])], ["y"],
              {"axes": np.array([0, -1], np.int64)})
    check(m, {"x": rand(2, 3, 4)})


def test_reductions_axes_attribute_opset13_and_empty_axes() -> None:
    nodes = [node("ReduceMean", ["x"], "m", axes=[1], keepdims=1), node("ReduceMax", ["x"], "all", keepdims=0),
             node("ReduceSum", ["x", "none"], "noop", noop_with_empty_axes=1)]
    m = model(nodes, [("x", F32, [2, 3, 4])], ["m", "all", "noop"], {"none": np.zeros(0, np.int64)}, opset=13)
    check(m, {"x": rand(2, 3, 4)})


def test_layer_norm_with_and_without_bias_and_inner_axis() -> None:
    nodes = [node("LayerNormalization", ["x", "w", "b"], "y", epsilon=1e-3),
             node("LayerNormalization", ["x", "w2"], "z", axis=-2)]
    m = model(nodes, [("x", F32, [2, 3, 4])], ["y", "z"],
              {"w": rand(4, seed=1), "b": rand(4, seed=2), "w2": rand(3, 4, seed=3)}, opset=17)
    r = check(m, {"x": rand(2, 3, 4)})
    assert r.graph.op_histogram()["layer_norm"] == 2


def test_simplified_layer_norm_is_rms_norm() -> None:
    m = model([node("SimplifiedLayerNormalization", ["x", "w"], "y", epsilon=1e-6)], [("x", F32, [2, 8])],
              [("y", F32, [2, 8])], {"w": rand(8, seed=1)}, opset=17, infer=False)
    r = check(m, {"x": rand(2, 8)})
    assert r.graph.op_histogram() == {"rms_norm": 1}


def test_cumsum_exclusive_reverse() -> None:
    nodes = [node("CumSum", ["x", "ax"], "c"), node("CumSum", ["x", "ax"], "ce", exclusive=1),
             node("CumSum", ["x", "ax"], "cr", reverse=1), node("CumSum", ["x", "ax"], "cer", reverse=1, exclusive=1),
             node("CumSum", ["i", "ax"], "ci")]
    m = model(nodes, [("x", F32, [3, 5]), ("i", I64, [3, 5])], ["c", "ce", "cr", "cer", ("ci", I64, [3, 5])],
              {"ax": np.array(1, np.int64)})
    check(m, {"x": rand(3, 5), "i": np.arange(15).reshape(3, 5) - 4})


@pytest.mark.parametrize("upper", [0, 1])
def test_trilu_static_and_symbolic(upper: int) -> None:
    nodes = [node("Trilu", ["x", "k"], "y", upper=upper), node("Trilu", ["s"], "z", upper=upper)]
    m = model(nodes, [("x", F32, [2, 4, 5]), ("s", F32, [2, "n", "n"])], ["y", "z"], {"k": np.array(1, np.int64)})
    r = check(m, [{"x": rand(2, 4, 5), "s": rand(2, n, n, seed=n)} for n in (3, 6)])
    assert r.graph.type_of("z").shape == (2, "n", "n")


# ---------------------------------------------------------------------------------------------------- linear algebra


def test_matmul_constant_weight_is_linear_and_absorbs_bias() -> None:
    nodes = [node("MatMul", ["x", "w"], "mm"), node("Add", ["b", "mm"], "y")]
    m = model(nodes, [("x", F32, ["batch", 3, 8])], ["y"], {"w": rand(8, 5, seed=1), "b": rand(1, 5, seed=2)})
    r = check(m, [{"x": rand(b, 3, 8, seed=b)} for b in (1, 2)])
    (lin,) = r.graph.nodes
    assert lin.op == "linear" and len(lin.inputs) == 3
    assert r.folded["MatMul"] == 1


def test_matmul_bias_not_absorbed_when_product_has_other_users() -> None:
    nodes = [node("MatMul", ["x", "w"], "mm"), node("Add", ["mm", "b"], "y"), node("Relu", ["mm"], "r")]
    m = model(nodes, [("x", F32, [3, 8])], ["y", "r"], {"w": rand(8, 5, seed=1), "b": rand(5, seed=2)})
    r = check(m, {"x": rand(3, 8)})
    assert [n.op for n in r.graph.nodes] == ["linear", "add", "relu"]


def test_matmul_dynamic_and_vector_operands() -> None:
    nodes = [node("MatMul", ["a", "b"], "ab"), node("MatMul", ["v", "b"], "vb"), node("MatMul", ["a", "u"], "au"),
             node("MatMul", ["v", "u"], "vu"), node("MatMul", ["a", "wv"], "aw")]
    m = model(nodes, [("a", F32, [2, 1, 3, 4]), ("b", F32, [5, 4, 6]), ("v", F32, [4]), ("u", F32, [4])],
              ["ab", "vb", "au", "vu", "aw"], {"wv": rand(4, seed=9)})
    r = check(m, {"a": rand(2, 1, 3, 4), "b": rand(5, 4, 6, seed=1), "v": rand(4, seed=2), "u": rand(4, seed=3)})
    assert r.graph.op_histogram()["matmul"] == 4


@pytest.mark.parametrize(("ta", "tb", "alpha", "beta", "cshape"),
                         [(0, 0, 1.0, 1.0, (6,)), (1, 1, 0.5, 2.0, (1, 6)), (0, 1, 1.0, 0.5, (4, 6)),
                          (1, 0, 2.0, 1.0, None)])
def test_gemm(ta: int, tb: int, alpha: float, beta: float, cshape: tuple[int, ...] | None) -> None:
    a_shape = (5, 4) if ta else (4, 5)
    inits = {"b": rand(*((6, 5) if tb else (5, 6)), seed=1)}
    ins = ["a", "b"]
    if cshape is not None:
        inits["c"] = rand(*cshape, seed=2)
        ins.append("c")
    m = model([node("Gemm", ins, "y", transA=ta, transB=tb, alpha=alpha, beta=beta)], [("a", F32, a_shape)], ["y"],
              inits)
    r = check(m, {"a": rand(*a_shape)})
    assert "linear" in r.graph.op_histogram()


def test_gemm_dynamic_b() -> None:
    m = model([node("Gemm", ["a", "b", "c"], "y", transB=1, alpha=0.5, beta=3.0)],
              [("a", F32, [3, 4]), ("b", F32, [2, 4]), ("c", F32, [3, 2])], ["y"])
    check(m, {"a": rand(3, 4), "b": rand(2, 4, seed=1), "c": rand(3, 2, seed=2)})


@pytest.mark.parametrize("size", [16, 18])
def test_conv_patch_embedding(size: int) -> None:
    m = model([node("Conv", ["x", "w", "b"], "y", kernel_shape=[4, 4], strides=[4, 4])],
              [("x", F32, [2, 3, size, size])], ["y"], {"w": rand(8, 3, 4, 4, seed=1), "b": rand(8, seed=2)})
    r = check(m, {"x": rand(2, 3, size, size)}, atol=1e-4)
    assert r.graph.op_histogram()["linear"] == 1


def test_conv1d_patches() -> None:
    m = model([node("Conv", ["x", "w"], "y", strides=[3])], [("x", F32, [1, 2, 9])], ["y"],
              {"w": rand(4, 2, 3, seed=1)})
    check(m, {"x": rand(1, 2, 9)})


# ---------------------------------------------------------------------------------------------------- layout


def test_gather_embedding_negative_constant_indices_and_runtime_data() -> None:
    nodes = [node("Gather", ["table", "ids"], "emb"), node("Gather", ["table", "neg"], "last", axis=0),
             node("Gather", ["x", "ids"], "cols", axis=1), node("Gather", ["x", "one"], "row", axis=0)]
    m = model(nodes, [("ids", I64, [2, "seq"]), ("x", F32, [4, 10])], ["emb", "last", "cols", "row"],
              {"table": rand(10, 6, seed=1), "neg": np.array([-1, 2], np.int64), "one": np.array(1, np.int64)})
    r = check(m, [{"ids": np.array([[1, 2, 3], [9, 0, 4]]), "x": rand(4, 10)},
                  {"ids": np.array([[5], [-2]]), "x": rand(4, 10, seed=3)}])
    assert r.graph.type_of("emb").shape == (2, "seq", 6)


def test_reshape_zero_and_minus_one_and_allowzero() -> None:
    nodes = [node("Reshape", ["x", "s1"], "a"), node("Reshape", ["x", "s2"], "b"),
             node("Reshape", ["e", "s3"], "c", allowzero=1)]
    m = model(nodes, [("x", F32, [2, 3, 4]), ("e", F32, [0, 3])], ["a", "b", "c"],
              {"s1": np.array([0, -1], np.int64), "s2": np.array([-1, 2, 0], np.int64),
               "s3": np.array([3, 0], np.int64)}, opset=14)
    r = check(m, {"x": rand(2, 3, 4), "e": np.zeros((0, 3), np.float32)})
    assert r.graph.type_of("a").shape == (2, 12)


def test_transpose_default_and_given_perm() -> None:
    nodes = [node("Transpose", ["x"], "t"), node("Transpose", ["x"], "p", perm=[1, 0, 2])]
    m = model(nodes, [("x", F32, [2, 3, 4])], ["t", "p"])
    check(m, {"x": rand(2, 3, 4)})


def test_slice_normalisation() -> None:
    big = np.iinfo(np.int64).max
    nodes = [node("Slice", ["x", "s1", "e1"], "a"),  # negative start, INT_MAX end
             node("Slice", ["x", "s2", "e2", "ax2", "st2"], "b"),  # step 2 on a negative axis, overlarge end
             node("Slice", ["x", "s3", "e3", "ax3", "st3"], "c"),  # negative step (reversal)
             node("Slice", ["x", "s4", "e4", "ax4"], "d")]  # empty (end before start)
    inits = {"s1": np.array([-2], np.int64), "e1": np.array([big], np.int64),
             "s2": np.array([1], np.int64), "e2": np.array([100], np.int64), "ax2": np.array([-1], np.int64),
             "st2": np.array([2], np.int64),
             "s3": np.array([-1, 4], np.int64), "e3": np.array([-big, 0], np.int64), "ax3": np.array([1, 2], np.int64),
             "st3": np.array([-1, -2], np.int64),
             "s4": np.array([3], np.int64), "e4": np.array([1], np.int64), "ax4": np.array([1], np.int64)}
    m = model(nodes, [("x", F32, [4, 5, 6])], ["a", "b", "c", "d"], inits)
    check(m, {"x": rand(4, 5, 6)})


def test_slice_with_symbolic_bounds() -> None:
    """x[:, 1:seq-1] with the bounds computed from Shape, and a slice to -1 on a symbolic axis."""
    nodes = [node("Shape", ["x"], "shp", start=1, end=2), node("Sub", ["shp", "one"], "end"),
             node("Slice", ["x", "one", "end", "one"], "a"), node("Slice", ["x", "zero", "m1", "one"], "b")]
    m = model(nodes, [("x", F32, [2, "seq", 3])], ["a", "b"],
              {"one": np.array([1], np.int64), "zero": np.array([0], np.int64), "m1": np.array([-1], np.int64)})
    r = check(m, [{"x": rand(2, s, 3, seed=s)} for s in (3, 7)])
    assert r.graph.type_of("a").shape == (2, "seq-2", 3)
    assert r.folded["Shape"] == 1 and r.folded["Sub"] == 1


def test_concat_split_variants() -> None:
    nodes = [node("Concat", ["a", "b", "empty"], "c", axis=1),
             node("Split", ["c", "sizes"], ["p", "q", "r"], axis=1),
             node("Split", ["a"], ["h1", "h2"], axis=-1, num_outputs=2)]
    m = model(nodes, [("a", F32, [2, 3, 5]), ("b", F32, [2, 4, 5])], ["c", "p", "q", "r", "h1", "h2"],
              {"empty": np.zeros((2, 0, 5), np.float32), "sizes": np.array([2, 0, 5], np.int64)})
    r = check(m, {"a": rand(2, 3, 5), "b": rand(2, 4, 5, seed=1)})
    assert r.graph.type_of("h1").shape == (2, 3, 3)  # uneven split: ceil first


def test_split_equal_opset13() -> None:
    m = model([node("Split", ["x"], ["a", "b", "c"], axis=0)], [("x", F32, [6, 2])], ["a", "b", "c"], opset=13)
    check(m, {"x": rand(6, 2)})


def test_squeeze_unsqueeze_flatten_expand_tile() -> None:
    nodes = [node("Unsqueeze", ["x", "ax"], "u"), node("Squeeze", ["u", "ax"], "s"), node("Squeeze", ["o"], "so"),
             node("Flatten", ["x"], "f", axis=2), node("Flatten", ["x"], "f0", axis=0),
             node("Expand", ["col", "shape"], "e"), node("Tile", ["x", "reps"], "t")]
    inits = {"ax": np.array([0, -1], np.int64), "shape": np.array([2, 1, 4], np.int64),
             "reps": np.array([2, 1, 3], np.int64)}
    m = model(nodes, [("x", F32, [2, 3, 4]), ("o", F32, [1, 3, 1]), ("col", F32, [3, 1])],
              ["u", "s", "so", "f", "f0", "e", "t"], inits)
    check(m, {"x": rand(2, 3, 4), "o": rand(1, 3, 1), "col": rand(3, 1)})


def test_gather_nd_and_gather_elements() -> None:
    nodes = [node("GatherND", ["x", "idx"], "nd"), node("GatherND", ["x", "idx1"], "nd1"),
             node("GatherElements", ["x", "ge"], "el", axis=1), node("GatherElements", ["row", "gi"], "er", axis=1)]
    idx = np.array([[[0, 2], [1, -1]], [[1, 0], [0, 1]]], np.int64)
    ge = np.array([[[0, 1], [2, 0]], [[1, 1], [-1, 0]]], np.int64)
    m = model(nodes, [("x", F32, [2, 3, 2]), ("row", F32, [1, 7]), ("gi", I64, [1, "n"])], ["nd", "nd1", "el", "er"],
              {"idx": idx, "idx1": np.array([[1], [0]], np.int64), "ge": ge})
    check(m, {"x": rand(2, 3, 2), "row": rand(1, 7), "gi": np.array([[6, 0, 3]], np.int64)})


def test_gather_nd_runtime_indices() -> None:
    m = model([node("GatherND", ["x", "i"], "y")], [("x", F32, [3, 4, 2]), ("i", I64, ["k", 2])], ["y"])
    check(m, {"x": rand(3, 4, 2), "i": np.array([[2, 3], [0, -1], [-3, 1]], np.int64)})


# ---------------------------------------------------------------------------------------------------- shapes


def test_shape_arithmetic_gives_symbolic_reshape() -> None:
    """[batch, seq, 8] -> [batch, seq, 2, 4] through Shape/Gather/Unsqueeze/Concat: all folded at import."""
    nodes = [node("Shape", ["x"], "shp"), node("Gather", ["shp", "i0"], "b"), node("Gather", ["shp", "i1"], "s"),
             node("Unsqueeze", ["b", "z"], "b1"), node("Unsqueeze", ["s", "z"], "s1"),
             node("Concat", ["b1", "s1", "tail"], "target", axis=0), node("Reshape", ["x", "target"], "y"),
             node("Size", ["x"], "n"), node("Div", ["n", "eight"], "bs"), node("Reshape", ["x", "flat"], "f"),
             node("Cast", ["bs"], "bsf", to=TensorProto.FLOAT), node("Mul", ["f", "bsf"], "scaled")]
    inits = {"i0": np.array(0, np.int64), "i1": np.array(1, np.int64), "z": np.array([0], np.int64),
             "tail": np.array([2, 4], np.int64), "eight": np.array(8, np.int64), "flat": np.array([-1], np.int64)}
    m = model(nodes, [("x", F32, ["batch", "seq", 8])], ["y", "scaled"], inits)
    r = check(m, [{"x": rand(b, s, 8, seed=s)} for b, s in ((1, 3), (2, 5))])
    assert [v.name for v in r.graph.inputs] == ["x"]
    assert r.graph.inputs[0].type.shape == ("batch", "seq", 8)
    assert r.graph.type_of("y").shape == ("batch", "seq", 2, 4)
    for op in ("Shape", "Gather", "Unsqueeze", "Concat", "Size", "Div"):
        assert r.folded[op] >= 1, op
    assert r.source_ops["Reshape"] == 2


def test_range_constant_of_shape_expand_with_symbolic_sizes() -> None:
    nodes = [node("Shape", ["x"], "shp", start=-1), node("Squeeze", ["shp"], "n"),
             node("Range", ["zero", "n", "one"], "pos"), node("ConstantOfShape", ["shp"], "ones",
                                                              value=helper.make_tensor("v", F32, [1], [1.5])),
             node("Cast", ["pos"], "posf", to=TensorProto.FLOAT), node("Add", ["posf", "ones"], "y"),
             node("Concat", ["two", "shp"], "eshape", axis=0), node("Expand", ["y", "eshape"], "e")]
    m = model(nodes, [("x", F32, [3, "seq"])], ["y", "e", ("pos", I64, ["seq"])],
              {"zero": np.array(0, np.int64), "one": np.array(1, np.int64), "two": np.array([2], np.int64)})
    r = check(m, [{"x": rand(3, s)} for s in (1, 4)])
    assert r.graph.type_of("e").shape == (2, "seq")


def test_unnamed_dynamic_dims_become_fresh_symbols() -> None:
    m = model([node("Relu", ["x"], "y")], [("x", F32, [None, 4])], [("y", F32, [None, 4])], infer=False)
    r = check(m, {"x": rand(3, 4)})
    assert r.graph.inputs[0].type.shape == ("x_d0", 4)
    r = check(m, {"x": rand(5, 4)}, dims={"x_d0": 5})
    assert r.graph.inputs[0].type.shape == (5, 4)


def test_dims_specialise_at_import() -> None:
    nodes = [node("Shape", ["x"], "shp"), node("ConstantOfShape", ["shp"], "z"), node("Add", ["x", "z"], "y")]
    m = model(nodes, [("x", F32, ["batch", "seq"])], ["y"])
    r = check(m, {"x": rand(2, 6)}, dims={"seq": 6, "batch": 2})
    assert r.graph.inputs[0].type.shape == (2, 6)
    assert r.graph.op_histogram() == {"add": 1}
    with pytest.raises(FrontendError, match="tokens"):
        import_onnx(m, dims={"tokens": 4}, optimize=False)


def test_rotary_cos_sin_of_positions_become_sliced_tables() -> None:
    """cos/sin of positions * inv_freq (the IR has no cos): a table for max_dim positions sliced to seq."""
    nodes = [node("Shape", ["x"], "shp", start=1, end=2), node("Squeeze", ["shp"], "n"),
             node("Range", ["zero", "n", "one"], "pos"), node("Unsqueeze", ["pos", "ax1"], "pos2"),
             node("Cast", ["pos2"], "posf", to=TensorProto.FLOAT), node("Mul", ["posf", "inv"], "freqs"),
             node("Concat", ["freqs", "freqs"], "emb", axis=-1), node("Cos", ["emb"], "cos"),
             node("Sin", ["emb"], "sin"), node("Mul", ["x", "cos"], "xc"), node("Add", ["xc", "sin"], "y")]
    inv = (1.0 / 10000 ** (np.arange(0, 8, 2) / 8)).astype(np.float32)
    m = model(nodes, [("x", F32, [1, "seq", 8])], ["y"],
              {"zero": np.array(0, np.int64), "one": np.array(1, np.int64), "ax1": np.array([1], np.int64),
               "inv": inv})
    r = check(m, [{"x": rand(1, s, 8, seed=s)} for s in (2, 9)], max_dim=64)
    tables = [c for c in r.graph.constants if c.value.ndim == 2 and c.value.shape[0] == 64]
    assert len(tables) == 2
    with pytest.raises(IRError, match="0:65 outside 0:64"):
        run_graph(r.graph, {"x": rand(1, 65, 8)})  # beyond the table: refused, not wrong


def test_constant_subgraphs_fold_at_import() -> None:
    nodes = [node("Transpose", ["wt"], "w", perm=[1, 0]), node("Cos", ["c"], "cc"), node("MatMul", ["x", "w"], "y"),
             node("Add", ["y", "cc"], "z")]
    m = model(nodes, [("x", F32, [2, 3])], ["z"], {"wt": rand(4, 3, seed=1), "c": rand(4, seed=2)})
    r = check(m, {"x": rand(2, 3)})
    assert r.folded["Transpose"] == 1 and r.folded["Cos"] == 1
    assert [n.op for n in r.graph.nodes] == ["linear"]


# ---------------------------------------------------------------------------------------------------- files


def test_external_data_next_to_the_model(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    m = model([node("MatMul", ["x", "w"], "y")], [("x", F32, [2, 64])], ["y"], {"w": rand(64, 32, seed=1)})
    saved = onnx.ModelProto()
    saved.CopyFrom(m)  # saving with external data rewrites the proto in place
    onnx.save_model(saved, folder / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.weights", size_threshold=0)
    assert (folder / "m.weights").is_file()
    stored = onnx.load_model(folder / "m.onnx", load_external_data=False)
    assert stored.graph.initializer[0].data_location == TensorProto.EXTERNAL
    r = import_onnx(folder / "m.onnx", optimize=False)
    x = rand(2, 64)
    np.testing.assert_allclose(run_graph(r.graph, {"x": x})["y"], reference(m, {"x": x})[0], atol=1e-5)
    assert r.source == str(folder / "m.onnx")
    with pytest.raises(FrontendError, match="external"):
        import_onnx(stored, optimize=False)  # a ModelProto without its folder cannot find the data
    (folder / "m.weights").unlink()
    with pytest.raises(FrontendError, match=r"external data file not found: .*m\.weights"):
        import_onnx(folder / "m.onnx", optimize=False)


def test_bytes_input_and_result_record() -> None:
    m = model([node("Relu", ["x"], "y")], [("x", F32, [2])], ["y"])
    r = import_onnx(m.SerializeToString(), optimize=False)
    assert r.source == "<bytes>" and r.source_ops == {"Relu": 1} and r.report is None and r.seconds >= 0
    assert "1 IR nodes" in r.summary()


def test_optimize_runs_the_pass_pipeline() -> None:
    nodes = [node("Mul", ["x", "x"], "sq"), node("ReduceMean", ["sq", "ax"], "ms"), node("Add", ["ms", "eps"], "v"),
             node("Sqrt", ["v"], "r"), node("Div", ["x", "r"], "n"), node("Mul", ["n", "w"], "y")]
    m = model(nodes, [("x", F32, [2, "seq", 8])], ["y"],
              {"ax": np.array([-1], np.int64), "eps": np.array(1e-6, np.float32), "w": rand(8, seed=1)})
    r = check(m, [{"x": rand(2, s, 8, seed=s)} for s in (1, 5)], optimize=True)
    assert r.report is not None
    assert "rms_norm" in r.graph.op_histogram()


# ---------------------------------------------------------------------------------------------------- exports


def _export(module: object, args: tuple, names: list[str], seq_inputs: list[str], path: str) -> onnx.ModelProto:
    import contextlib
    import io
    import warnings

    import torch

    seq = torch.export.Dim("seq", min=2, max=64)
    shapes = tuple({1: seq} if n in seq_inputs else {} for n in names)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(
            io.StringIO()):
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(module, args, dynamo=True, dynamic_shapes=shapes, input_names=names,
                                 output_names=["out"])
    prog.save(path)
    return onnx.load(path)


@pytest.fixture(scope="module")
def gpt2_onnx(tmp_path_factory: pytest.TempPathFactory) -> str:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    lm = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=128)).eval()

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lm = lm

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            return self.lm(input_ids=input_ids, use_cache=False).logits

    path = str(tmp_path_factory.mktemp("gpt2") / "gpt2.onnx")
    _export(Wrapper().eval(), (torch.randint(0, 128, (1, 8)),), ["input_ids"], ["input_ids"], path)
    return path


@pytest.fixture(scope="module")
def bert_onnx(tmp_path_factory: pytest.TempPathFactory) -> str:
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    bert = BertModel(BertConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                                vocab_size=128)).eval()

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    path = str(tmp_path_factory.mktemp("bert") / "bert.onnx")
    args = (torch.randint(0, 128, (1, 8)), torch.ones(1, 8, dtype=torch.long))
    _export(Wrapper().eval(), args, ["input_ids", "attention_mask"], ["input_ids", "attention_mask"], path)
    return path


@pytest.mark.parametrize("optimize", [False, True])
def test_gpt2_dynamo_export_two_sequence_lengths(gpt2_onnx: str, optimize: bool) -> None:
    m = onnx.load(gpt2_onnx)
    rng = np.random.default_rng(0)
    r = check(m, [{"input_ids": rng.integers(0, 128, (1, s))} for s in (3, 11)], optimize=optimize, atol=1e-4)
    assert r.graph.inputs[0].type.shape == (1, "seq")
    assert r.graph.type_of(r.graph.outputs[0]).shape == (1, "seq", 128)
    hist = r.graph.op_histogram()
    assert hist["linear"] >= 9  # 4 per layer + the LM head
    assert r.folded["Shape"] == r.source_ops["Shape"]  # all shape arithmetic evaluated at import
    assert r.source_ops["GatherND"] == 4


def test_bert_dynamo_export_two_sequence_lengths_with_padding(bert_onnx: str) -> None:
    m = onnx.load(bert_onnx)
    rng = np.random.default_rng(1)
    feeds = []
    for s in (4, 9):
        mask = np.ones((1, s), np.int64)
        mask[0, s - 2:] = 0
        feeds.append({"input_ids": rng.integers(0, 128, (1, s)), "attention_mask": mask})
    r = check(m, feeds, atol=1e-4)
    assert [v.name for v in r.graph.inputs] == ["input_ids", "attention_mask"]
    assert r.source_ops["GatherElements"] == 1 and r.graph.op_histogram()["layer_norm"] == 5


def test_exported_models_specialised_at_import(gpt2_onnx: str) -> None:
    r = import_onnx(gpt2_onnx, dims={"seq": 5}, optimize=False)
    assert r.graph.inputs[0].type.shape == (1, 5)
    ids = np.arange(5).reshape(1, 5)
    np.testing.assert_allclose(run_graph(r.graph, {"input_ids": ids})["out"],
                               reference(onnx.load(gpt2_onnx), {"input_ids": ids})[0], atol=1e-4)
    with pytest.raises(BindingError, match="has size 6, the graph wants 5"):
        run_graph(r.graph, {"input_ids": np.arange(6).reshape(1, 6)})


def test_unsupported_in_exported_model_lists_node(gpt2_onnx: str) -> None:
    """Replace the exported Tanh nodes by an op the IR lacks: both are reported, nothing else."""
    m = onnx.load(gpt2_onnx)
    for n in m.graph.node:
        if n.op_type == "Tanh":
            n.op_type = "Atan"
    with pytest.raises(UnsupportedOpsError) as info:
        import_onnx(m)
    assert [d[1] for d in info.value.diagnostics] == ["ai.onnx::Atan", "ai.onnx::Atan"]


def test_bool_input_and_int32() -> None:
    m = model([node("Where", ["c", "a", "b"], "y"), node("Add", ["i", "i"], "j")],
              [("c", BOOL, [3]), ("a", F32, [3]), ("b", F32, [3]), ("i", I32, [2])], ["y", ("j", I32, [2])])
    check(m, {"c": np.array([True, False, True]), "a": rand(3), "b": rand(3, seed=1), "i": np.array([1, -4], np.int32)})


def test_constant_node_and_initializer_named_like_input() -> None:
    const = helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.float32([1, 2, 3]), "k"))
    m = model([const, node("Mul", ["x", "k"], "y"), node("Add", ["y", "w"], "z")], [("x", F32, [3]), ("w", F32, [3])],
              ["z"], {"w": np.float32([4, 5, 6])})
    r = check(m, {"x": rand(3)})
    assert [v.name for v in r.graph.inputs] == ["x"]  # an input with an initializer is a constant


def test_cos_of_size_dependent_values_is_not_tabulated() -> None:
    """cos(positions - seq) changes every entry when seq grows: a table would be wrong, so it is refused."""
    nodes = [node("Shape", ["x"], "shp", start=1, end=2), node("Squeeze", ["shp"], "n"),
             node("Range", ["zero", "n", "one"], "pos"), node("Sub", ["pos", "n"], "rel"),
             node("Cast", ["rel"], "relf", to=TensorProto.FLOAT), node("Cos", ["relf"], "c"),
             node("Add", ["x", "c"], "y")]
    m = model(nodes, [("x", F32, [2, "seq"])], ["y"], {"zero": np.array(0, np.int64), "one": np.array(1, np.int64)})
    with pytest.raises(UnsupportedOpsError, match=r"n_c \(ai\.onnx::Cos\): the IR has no cos"):
        import_onnx(m, optimize=False)
    check(m, {"x": rand(2, 4)}, dims={"seq": 4})  # with the size bound, everything folds at import


def test_legacy_exporter_shape_patterns() -> None:
    """TorchScript-style exports: Expand(x, Where(Equal(shape, -1), 1, shape)) and Shape->Gather->Reshape chains."""
    nodes = [node("Shape", ["x"], "shp"), node("Gather", ["shp", "zero"], "b"), node("Unsqueeze", ["b", "z1"], "b1"),
             node("Concat", ["b1", "m1", "four"], "target", axis=0), node("Equal", ["target", "m1"], "is_m1"),
             node("Where", ["is_m1", "ones", "target"], "eshape"), node("Expand", ["row", "eshape"], "y"),
             node("Reshape", ["x", "target"], "r"), node("Less", ["b", "zero"], "neg"), node("Not", ["neg"], "pos"),
             node("Cast", ["pos"], "posi", to=TensorProto.INT64), node("Mul", ["b", "posi"], "bb"),
             node("Unsqueeze", ["bb", "z1"], "bb1"), node("Concat", ["bb1", "m1"], "flat", axis=0),
             node("Reshape", ["x", "flat"], "f")]
    inits = {"zero": np.array(0, np.int64), "z1": np.array([0], np.int64), "m1": np.array([-1], np.int64),
             "four": np.array([4], np.int64), "ones": np.array([1, 1, 1], np.int64), "row": rand(1, 1, 4, seed=5)}
    m = model(nodes, [("x", F32, ["batch", "seq", 4])], ["y", "r", "f"], inits)
    r = check(m, [{"x": rand(b, s, 4, seed=s)} for b, s in ((1, 2), (3, 5))])
    assert r.graph.type_of("f").shape == ("batch", "4*seq")
    for op in ("Equal", "Where", "Less", "Not", "Mul"):
        assert r.folded[op] == r.source_ops[op], op


def test_graph_outputs_that_are_inputs_or_constants() -> None:
    nodes = [node("Identity", ["x"], "same"), node("Shape", ["x"], "shp")]
    m = model(nodes, [("x", F32, [2, 3])], ["same", ("shp", I64, [2])])
    r = check(m, {"x": rand(2, 3)})
    assert r.graph.nodes == () and r.graph.outputs[0] == "x"


def test_slice_random_bounds_against_onnxruntime_and_shape_inference() -> None:
    """Random starts/ends (in and out of range, INT_MAX/INT_MIN), axes and steps of both signs. Values must match
    onnxruntime; shapes must match ONNX shape inference (onnxruntime misreports shapes of empty results)."""
    rng = np.random.default_rng(7)
    big = np.iinfo(np.int64).max
    bounds = [*range(-8, 9), big, -big]
    for _ in range(60):
        k = int(rng.integers(1, 4))
        axes = [int(a) - 3 if rng.random() < 0.3 else int(a) for a in rng.choice(3, size=k, replace=False)]
        inits = {"s": np.array([rng.choice(bounds) for _ in range(k)], np.int64),
                 "e": np.array([rng.choice(bounds) for _ in range(k)], np.int64), "a": np.array(axes, np.int64),
                 "st": np.array([rng.choice([-3, -2, -1, 1, 2, 3]) for _ in range(k)], np.int64)}
        m = model([node("Slice", ["x", "s", "e", "a", "st"], "y")], [("x", F32, [4, 5, 6])], ["y"], inits)
        spec_shape = tuple(d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim)
        x = rand(4, 5, 6)
        (got,) = run_graph(import_onnx(m, optimize=False).graph, {"x": x}).values()
        assert got.shape == spec_shape, inits
        if got.size:
            np.testing.assert_array_equal(got, reference(m, {"x": x})[0])


def test_sparse_initializer_is_a_dense_constant() -> None:
    values = numpy_helper.from_array(np.float32([1.5, -2.0, 3.0]), "sp")
    indices = numpy_helper.from_array(np.int64([1, 5, 6]), "sp_idx")
    m = model([node("Add", ["x", "sp"], "y")], [("x", F32, [2, 4])], [("y", F32, [2, 4])], infer=False)
    m.graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, [2, 4]))
    r = check(m, {"x": rand(2, 4)})
    (c,) = r.graph.constants
    np.testing.assert_array_equal(c.value, np.float32([[0, 1.5, 0, 0], [0, -2.0, 3.0, 0]]))
