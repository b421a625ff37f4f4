"""The IR core: symbolic dimensions, tensor types, op shape inference and graph validation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tataa.errors import IRError
from tataa.ir import OPS, DType, GraphBuilder, Node, TensorType, Unit, infer_type
from tataa.ir.dims import (
    add_dims,
    canonical_dim,
    dim_symbols,
    dims_equal,
    eval_dim,
    eval_shape,
    format_dim,
    mul_dims,
    sub_dims,
)
from tataa.ir.ops import broadcast_shapes, normalize_attrs

F32 = DType.F32


def t(*shape, dtype=F32):
    return TensorType(dtype, tuple(shape))


# ------------------------------------------------------------------------------------------------ dims


def test_dims_canonical_forms_compare_equal():
    assert canonical_dim("seq*batch") == canonical_dim("batch * seq")
    assert dims_equal("2*(seq+1)", "2*seq+2")
    assert not dims_equal("seq", "batch")
    assert canonical_dim("seq-seq+3") == 3
    assert mul_dims("batch", "seq", 4) == canonical_dim("4*batch*seq")
    assert add_dims("seq", 1) == "seq+1"
    assert sub_dims("seq+5", 5) == "seq"
    assert dim_symbols("batch*seq+past") == {"batch", "seq", "past"}


def test_dims_evaluate_and_reject_bad_values():
    assert eval_dim("batch*seq+1", {"batch": 3, "seq": 7}) == 22
    assert eval_shape(("seq", 4, "seq//2"), {"seq": 9}) == (9, 4, 4)
    with pytest.raises(IRError, match="no value for seq"):
        eval_dim("seq*2", {})
    with pytest.raises(IRError, match="negative"):
        sub_dims(2, 5)
    with pytest.raises(IRError, match="negative"):
        canonical_dim(-1)
    with pytest.raises(IRError, match="only names"):
        canonical_dim("seq; import os")
    with pytest.raises(IRError, match="bool"):
        canonical_dim(True)


def test_format_dim_quotes_expressions_only():
    assert format_dim(7) == "7"
    assert format_dim("seq") == "seq"
    assert format_dim("batch*seq") == '"batch*seq"'


# ------------------------------------------------------------------------------------------------ types


def test_dtype_numpy_roundtrip_and_unknowns():
    for d in DType:
        assert DType.from_numpy(d.numpy) is d
    with pytest.raises(IRError, match="no IR element type"):
        DType.from_numpy(np.complex64)
    with pytest.raises(IRError, match="unknown element type"):
        DType.parse("f8")
    assert str(t("batch", "batch*seq", 3)) == 'f32[batch, "batch*seq", 3]'
    assert t("seq", 4).numel == "4*seq"


# ------------------------------------------------------------------------------------------------ inference


def test_broadcasting_with_symbols():
    assert broadcast_shapes("add", ("b", 1, "s"), (4, 1)) == ("b", 4, "s")
    assert broadcast_shapes("add", ("s",), ("s",)) == ("s",)
    with pytest.raises(IRError, match="do not broadcast"):
        broadcast_shapes("add", ("s",), (4,))
    with pytest.raises(IRError, match="do not broadcast"):
        broadcast_shapes("add", (3,), (4,))


@pytest.mark.parametrize(
    ("op", "inputs", "attrs", "expected"),
    [
        ("linear", [t("b", "s", 8), t(8, 16), t(16)], {}, t("b", "s", 16)),
        ("matmul", [t("b", 4, "s", 8), t("b", 4, 8, "s")], {}, t("b", 4, "s", "s")),
        ("matmul", [t(1, 5, 8), t(3, 8, 2)], {}, t(3, 5, 2)),
        ("attention", [t(2, 4, "s", 8), t(2, 4, "s", 8), t(2, 4, "s", 6), t(1, 1, "s", "s", dtype=DType.BOOL)],
         {"scale": 0.125}, t(2, 4, "s", 6)),
        ("reduce_mean", [t(2, "s", 8)], {"axes": [-1]}, t(2, "s", 1)),
        ("reduce_sum", [t(2, "s", 8)], {"axes": [0, 2], "keepdims": False}, t("s")),
        ("gather", [t(100, 16), t("b", "s", dtype=DType.I64)], {"axis": 0}, t("b", "s", 16)),
        ("reshape", [t("b", "s", 12, 64)], {"shape": ["b*s", 768]}, t("b*s", 768)),
        ("transpose", [t("b", "s", 12, 64)], {"perm": [0, 2, 1, 3]}, t("b", 12, "s", 64)),
        ("slice", [t("b", "s", 64)], {"axes": [2], "starts": [32], "ends": [64], "steps": [1]}, t("b", "s", 32)),
        ("slice", [t(10)], {"axes": [0], "starts": [1], "ends": [10], "steps": [4]}, t(3)),
        ("slice", [t("s", 4)], {"axes": [0], "starts": [1], "ends": ["s"], "steps": [1]}, t("s-1", 4)),
        ("concat", [t("s", 3), t("s", 5)], {"axis": 1}, t("s", 8)),
        ("concat", [t("s", 3), t("p", 3)], {"axis": 0}, t("p+s", 3)),
        ("expand", [t(1, 1, "s")], {"shape": ["b", 4, "s"]}, t("b", 4, "s")),
        ("arange", [], {"stop": "s", "dtype": "i64"}, t("s", dtype=DType.I64)),
        ("full", [], {"shape": ["s", "s"], "value": 0.0, "dtype": "bool"}, t("s", "s", dtype=DType.BOOL)),
        ("layer_norm", [t("b", "s", 8), t(8), t(8)], {}, t("b", "s", 8)),
        ("rms_norm", [t("b", "s", 8), t(8)], {"eps": 1e-6}, t("b", "s", 8)),
        ("rotary", [t(1, 4, "s", 8), t(1, 1, "s", 8), t(1, 1, "s", 8)], {}, t(1, 4, "s", 8)),
        ("where", [t("s", "s", dtype=DType.BOOL), t(1, "s", "s"), t()], {}, t(1, "s", "s")),
        ("less", [t("s"), t(1)], {}, t("s", dtype=DType.BOOL)),
        ("cast", [t(3)], {"dtype": DType.BF16}, t(3, dtype=DType.BF16)),
    ],
)
def test_shape_inference(op, inputs, attrs, expected):
    got = infer_type(op, inputs, dict(normalize_attrs(op, attrs)))
    assert got.dtype is expected.dtype
    assert len(got.shape) == len(expected.shape)
    assert all(dims_equal(a, b) for a, b in zip(got.shape, expected.shape, strict=True)), (got, expected)


@pytest.mark.parametrize(
    ("op", "inputs", "attrs", "message"),
    [
        ("linear", [t(2, 8), t(9, 4)], {}, "input features 8 != weight rows 9"),
        ("matmul", [t(2, 3), t(4, 5)], {}, "inner dimensions differ"),
        ("matmul", [t(3), t(3, 5)], {}, "rank >= 2"),
        ("add", [t(2), t(2, dtype=DType.I64)], {}, "different element types"),
        ("reshape", [t(2, 3)], {"shape": [5]}, "element counts differ"),
        ("transpose", [t(2, 3)], {"perm": [0, 0]}, "not a permutation"),
        ("slice", [t(4)], {"axes": [0], "starts": [2], "ends": [9], "steps": [1]}, "outside 0:4"),
        ("slice", [t(4)], {"axes": [0], "starts": [0], "ends": [4], "steps": [0]}, "must be positive"),
        ("concat", [t(2, 3), t(3, 3)], {"axis": 1}, "differ off axis"),
        ("softmax", [t(3, dtype=DType.I64)], {}, "floating point"),
        ("layer_norm", [t(2, 8), t(4)], {}, "normalised shape"),
        ("rotary", [t(2, 7), t(2, 7), t(2, 7)], {}, "even"),
        ("gather", [t(4, 4), t(2)], {}, "indices must be integers"),
        ("reduce_max", [t(2, 3)], {"axes": [2]}, "axis 2 out of range"),
        ("where", [t(3), t(3), t(3)], {}, "condition must be bool"),
        ("add", [t(3)], {}, "takes 2 input"),
        ("expand", [t(3)], {"shape": [2, 4]}, "broadcast"),
    ],
)
def test_shape_inference_errors_name_the_problem(op, inputs, attrs, message):
    with pytest.raises(IRError, match=message):
        infer_type(op, inputs, dict(normalize_attrs(op, attrs)))


def test_attributes_are_checked_and_defaults_filled():
    assert normalize_attrs("softmax", {}) == (("axis", -1),)
    assert dict(normalize_attrs("gelu", {"approximate": "tanh"}))["approximate"] == "tanh"
    with pytest.raises(IRError, match="allowed: none, tanh"):
        normalize_attrs("gelu", {"approximate": "sigmoid"})
    with pytest.raises(IRError, match="unknown attribute"):
        normalize_attrs("softmax", {"dim": 1})
    with pytest.raises(IRError, match="required"):
        normalize_attrs("reshape", {})
    with pytest.raises(IRError, match="must be an int"):
        normalize_attrs("softmax", {"axis": 1.5})
    with pytest.raises(IRError, match="unknown op"):
        normalize_attrs("conv", {})


def test_every_op_has_a_unit_and_doc():
    for spec in OPS.values():
        assert isinstance(spec.unit, Unit)
        assert spec.doc, spec.name
    assert OPS["linear"].unit is Unit.SYSTOLIC and OPS["softmax"].unit is Unit.SIMD
    assert OPS["reshape"].unit is Unit.LAYOUT


# ------------------------------------------------------------------------------------------------ graphs


def _small_graph():
    b = GraphBuilder("g")
    x = b.input("input/ids:0", t("b", "s", 8))
    w = b.constant(np.ones((8, 4), np.float32), "w")
    y = b.add("linear", [x, w], name="fc")
    z = b.add("softmax", [y], name="fc")  # a second "fc" gets a fresh name
    b.output(z)
    return b.build()


def test_builder_sanitizes_and_uniquifies_names():
    g = _small_graph()
    assert [v.name for v in g.inputs] == ["input.ids_0"]
    assert [n.name for n in g.nodes] == ["fc", "fc_1"]
    assert g.symbols == {"b", "s"}
    assert g.op_histogram() == {"linear": 1, "softmax": 1}
    assert [n.name for n in g.users["fc"]] == ["fc_1"]
    assert g.nodes[0].unit is Unit.SYSTOLIC


def test_validate_catches_each_kind_of_malformation():
    g = _small_graph()
    bad_type = dataclasses.replace(g.nodes[1], type=t("b", "s", 5))
    with pytest.raises(IRError, match="declared type"):
        dataclasses.replace(g, nodes=(g.nodes[0], bad_type)).validate()
    with pytest.raises(IRError, match="defined later"):
        dataclasses.replace(g, nodes=(g.nodes[1], g.nodes[0])).validate()
    dup = dataclasses.replace(g.nodes[1], name="fc")
    with pytest.raises(IRError, match="redefines"):
        dataclasses.replace(g, nodes=(g.nodes[0], dup), outputs=("fc",)).validate()
    with pytest.raises(IRError, match="not defined"):
        dataclasses.replace(g, outputs=("nope",)).validate()
    with pytest.raises(IRError, match="not a valid identifier"):
        dataclasses.replace(g, nodes=(g.nodes[0], dataclasses.replace(g.nodes[1], name="a b")),
                            outputs=("a b",)).validate()
    odd = Node("fc_1", "softmax", ("fc",), (("axis", 1.0),), g.nodes[1].type)
    with pytest.raises(IRError, match="must be an int"):
        dataclasses.replace(g, nodes=(g.nodes[0], odd)).validate()


def test_constants_are_immutable_and_compare_by_content():
    b = GraphBuilder("c")
    name = b.constant(np.arange(4, dtype=np.float32), "k")
    g = b.build(validate=False)
    c = g.constants[0]
    assert c.name == name
    with pytest.raises(ValueError):
        c.value[0] = 5
    from tataa.ir import Constant

    assert c == Constant("k", np.arange(4, dtype=np.float32))
    assert c != Constant("k", np.arange(4, dtype=np.float64))
    assert c != Constant("k", np.array([0, 1, 2, 5], np.float32))
