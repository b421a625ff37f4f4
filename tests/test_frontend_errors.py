"""ONNX frontend errors: malformed files raise FrontendError with a clear message (never a protobuf / onnx /
IndexError traceback); every unsupported node is listed in one UnsupportedOpsError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx_models import F32, I64, model, node, rand

from tataa.errors import FrontendError, UnsupportedOpsError
from tataa.frontend.onnx_import import import_onnx


def _small() -> bytes:
    nodes = [node("MatMul", ["x", "w"], "mm"), node("Add", ["mm", "b"], "y"), node("Relu", ["y"], "r")]
    m = model(nodes, [("x", F32, ["batch", 16])], ["r"], {"w": rand(16, 8), "b": rand(8, seed=1)})
    return m.SerializeToString()


# ---------------------------------------------------------------------------------------------------- malformed


def test_truncated_file_at_many_cut_points(tmp_path: Path) -> None:
    data = _small()
    cuts = sorted({1, 7, len(data) // 3, len(data) // 2, len(data) - 10, len(data) - 1})
    for cut in cuts:
        path = tmp_path / f"cut{cut}.onnx"
        path.write_bytes(data[:cut])
        with pytest.raises(FrontendError) as info:
            import_onnx(path, optimize=False)
        assert str(path) in str(info.value)
        assert type(info.value) is FrontendError  # not an unsupported-op report


def test_truncated_file_message() -> None:
    data = _small()
    with pytest.raises(FrontendError, match="truncated or corrupt"):
        import_onnx(data[: len(data) // 2], optimize=False)


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(seed: int) -> None:
    data = np.random.default_rng(seed).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    with pytest.raises(FrontendError, match=r"not a valid ONNX protobuf|not an ONNX model"):
        import_onnx(data, optimize=False)


def test_empty_missing_and_wrong_argument(tmp_path: Path) -> None:
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(FrontendError, match="empty"):
        import_onnx(tmp_path / "empty.onnx")
    with pytest.raises(FrontendError, match="no such file"):
        import_onnx(tmp_path / "absent.onnx")
    with pytest.raises(FrontendError, match="int"):
        import_onnx(42)  # type: ignore[arg-type]
    with pytest.raises(FrontendError, match="not a valid ONNX protobuf"):
        import_onnx(helper.make_tensor("t", F32, [1], [1.0]).SerializeToString())
    with pytest.raises(FrontendError, match="not an ONNX model"):
        import_onnx(onnx.ModelProto(producer_name="nothing").SerializeToString())


def test_missing_initializer_names_node_and_value() -> None:
    m = model([node("MatMul", ["x", "w"], "y")], [("x", F32, [2, 3])], [("y", F32, [2, 4])], infer=False)
    with pytest.raises(FrontendError, match=r"n_y \(MatMul\): input 'w' .*missing initializer"):
        import_onnx(m)


def test_inconsistent_matmul_names_node() -> None:
    m = model([node("MatMul", ["x", "w"], "mm")], [("x", F32, [2, 3])], [("mm", F32, [2, 5])],
              {"w": rand(4, 5)}, infer=False)
    with pytest.raises(FrontendError, match=r"n_mm .*MatMul.*inner dimensions differ.*3 != 4"):
        import_onnx(m)
    m = model([node("MatMul", ["x", "y"], "mm")], [("x", F32, ["s", 3]), ("y", F32, [5, 2])], [("mm", F32, ["s", 2])],
              infer=False)
    with pytest.raises(FrontendError, match=r"n_mm .*inner dimensions differ"):
        import_onnx(m)


def test_inconsistent_broadcast_names_node() -> None:
    m = model([node("Add", ["a", "b"], "y")], [("a", F32, [2, 3]), ("b", F32, [4])], [("y", F32, [2, 3])],
              infer=False)
    with pytest.raises(FrontendError, match=r"n_y .*Add.*broadcast"):
        import_onnx(m)


@pytest.mark.parametrize("opset", [12, 22])
def test_opset_out_of_range(opset: int) -> None:
    m = model([node("Relu", ["x"], "y")], [("x", F32, [2])], [("y", F32, [2])], opset=opset, infer=False)
    with pytest.raises(FrontendError, match=f"opset {opset} is outside the supported range 13..21"):
        import_onnx(m)


def test_checker_failure() -> None:
    """Two nodes writing the same value: not SSA, onnx.checker refuses it."""
    nodes = [node("Relu", ["x"], "y"), helper.make_node("Neg", ["x"], ["y"], name="again")]
    m = model(nodes, [("x", F32, [2])], [("y", F32, [2])], infer=False)
    with pytest.raises(FrontendError, match=r"fails onnx\.checker: .*SSA|fails onnx\.checker: .*y"):
        import_onnx(m)


def test_bad_inputs_and_dims() -> None:
    m = model([node("Relu", ["x"], "y")], [("x", TensorProto.UINT16, [2])], [("y", TensorProto.UINT16, [2])],
              infer=False)
    with pytest.raises(FrontendError, match="UINT16"):
        import_onnx(m)
    m = model([node("Relu", ["x"], "y")], [("x", F32, ["seq"])], [("y", F32, ["seq"])], infer=False)
    with pytest.raises(FrontendError, match="positive"):
        import_onnx(m, dims={"seq": 0})
    with pytest.raises(FrontendError, match="dynamic dimensions are: seq"):
        import_onnx(m, dims={"batch": 2})


def test_bad_attribute_value_is_malformed() -> None:
    m = model([node("Transpose", ["x"], "y", perm=[0, 0])], [("x", F32, [2, 3])], [("y", F32, [2, 3])], infer=False)
    with pytest.raises(FrontendError, match=r"n_y .*perm \[0, 0\] is not a permutation"):
        import_onnx(m)


# ---------------------------------------------------------------------------------------------------- unsupported


def test_unsupported_op_names_the_node() -> None:
    m = model([node("Relu", ["x"], "r"), node("HardSwish", ["r"], "y")], [("x", F32, [2, 3])], ["y"])
    with pytest.raises(UnsupportedOpsError) as info:
        import_onnx(m)
    assert info.value.diagnostics == [("n_y", "ai.onnx::HardSwish", "the IR has no equivalent of this op")]
    assert "n_y (ai.onnx::HardSwish)" in str(info.value)


def test_every_unsupported_node_is_listed_at_once() -> None:
    """Five different reasons, including nodes downstream of unsupported ones (typed by shape inference)."""
    pads = node("Conv", ["x", "w"], "conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [pads,
             node("Cos", ["conv"], "cos"),  # runtime input: not tabulable
             helper.make_node("FusedThing", ["cos"], ["fused"], name="custom", domain="com.example"),
             node("Shape", ["x"], "shp"), node("Reshape", ["x", "dyn"], "dd"),  # data-dependent shape
             helper.make_node("NotAnOnnxOp", ["x"], ["unk"], name="unknown"),
             node("Relu", ["x"], "fine")]
    m = model(nodes, [("x", F32, [1, 2, 8, 8]), ("dyn", I64, [4])],
              [("fused", F32, [1, 4, 8, 8]), ("dd", F32, [1, 2, 8, 8]), ("unk", F32, [1, 2, 8, 8]),
               ("fine", F32, [1, 2, 8, 8])],
              {"w": rand(4, 2, 3, 3)}, infer=False, extra_opsets={"com.example": 1})
    with pytest.raises(UnsupportedOpsError) as info:
        import_onnx(m)
    diags = info.value.diagnostics
    assert [d[0] for d in diags] == ["n_conv", "n_cos", "custom", "n_dd", "unknown"]
    by_name = {name: (op, why) for name, op, why in diags}
    assert "padding" in by_name["n_conv"][1] and "kernel == stride" in by_name["n_conv"][1]
    assert "no cos" in by_name["n_cos"][1]
    assert by_name["custom"][0] == "com.example::FusedThing" and "domain" in by_name["custom"][1]
    assert "data-dependent" in by_name["n_dd"][1]
    assert by_name["unknown"] == ("ai.onnx::NotAnOnnxOp", "unknown op")
    text = str(info.value)
    assert text.startswith("<ModelProto test>: 5 unsupported node(s):")
    for name in ("n_conv", "n_cos", "custom", "n_dd", "unknown"):
        assert f"  {name} (" in text


def test_three_unsupported_nodes_in_a_file(tmp_path: Path) -> None:
    nodes = [node("Sin", ["x"], "a"), node("Floor", ["a"], "b"), node("Round", ["b"], "c")]
    m = model(nodes, [("x", F32, [4])], ["c"])
    path = tmp_path / "three.onnx"
    path.write_bytes(m.SerializeToString())
    with pytest.raises(UnsupportedOpsError) as info:
        import_onnx(path)
    assert [(d[0], d[1]) for d in info.value.diagnostics] == [
        ("n_a", "ai.onnx::Sin"), ("n_b", "ai.onnx::Floor"), ("n_c", "ai.onnx::Round")]
    assert str(info.value).startswith(f"{path}: 3 unsupported node(s):")


def test_random_and_control_flow_are_unsupported() -> None:
    then = helper.make_graph([node("Relu", ["x"], "t")], "then", [], [helper.make_tensor_value_info("t", F32, [2])])
    other = helper.make_graph([node("Neg", ["x"], "e")], "else", [], [helper.make_tensor_value_info("e", F32, [2])])
    nodes = [node("RandomNormalLike", ["x"], "noise"), node("If", ["c"], "y", then_branch=then, else_branch=other),
             node("Add", ["noise", "y"], "z")]
    m = model(nodes, [("x", F32, [2]), ("c", TensorProto.BOOL, [])], [("z", F32, [2])], infer=False)
    with pytest.raises(UnsupportedOpsError) as info:
        import_onnx(m)
    whys = [d[2] for d in info.value.diagnostics]
    assert any("random" in w for w in whys) and any("control flow" in w for w in whys)


def test_training_dropout_and_used_layer_norm_stats() -> None:
    nodes = [node("Dropout", ["x", "ratio", "train"], "d"),
             node("LayerNormalization", ["x", "w"], ["ln", "mean"]), node("Add", ["ln", "mean"], "y")]
    m = model(nodes, [("x", F32, [2, 4]), ("train", TensorProto.BOOL, [])], ["d", "y"],
              {"ratio": np.array(0.1, np.float32), "w": rand(4)}, opset=17)
    with pytest.raises(UnsupportedOpsError) as info:
        import_onnx(m)
    whys = " | ".join(d[2] for d in info.value.diagnostics)
    assert "training_mode" in whys and "mean / inverse std" in whys
