"""`tataa inspect`: the report of an imported model, its text form, and the command line around it."""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may download; set before transformers / huggingface_hub load

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tataa import cli, models
from tataa.errors import FrontendError, UnsupportedOpsError
from tataa.frontend.inspect import format_report, import_model, inspect_report, unsupported_report
from tataa.frontend.result import ImportResult
from tataa.ir import DType, GraphBuilder, TensorType
from tataa.ir.ops import OPS, Unit


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `tataa argv...` in-process; return (exit status, stdout, stderr)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def small_result() -> ImportResult:
    """A hand-built import: a block with work on all three units, two weight matrices and a scalar."""
    b = GraphBuilder("block")
    x = b.input("x", TensorType(DType.F32, (1, "seq", 8)))
    w1 = b.constant(np.ones((8, 16), np.float32), "w1")
    w2 = b.constant(np.ones((16, 8), np.float32), "w2")
    eps = b.constant(np.float32(1e-5), "eps")
    idx = b.constant(np.arange(3, dtype=np.int64), "idx")
    h = b.add("linear", [x, w1])
    h = b.add("gelu", [h])
    h = b.add("linear", [h, w2])
    h = b.add("add", [h, eps])
    q = b.add("reshape", [h], shape=[1, "seq", 2, 4])
    q = b.add("transpose", [q], perm=[0, 2, 1, 3])
    a = b.add("attention", [q, q, q], scale=0.5, causal=True)
    out = b.add("gather", [a, idx], axis=3)
    b.output(out)
    return ImportResult(b.build(), "hand-built", Counter({"MatMul": 2, "Gelu": 1, "Shape": 3}),
                        Counter({"Shape": 3}), None, 0.25)


# ---------------------------------------------------------------------------------------------------- the report


def test_report_sorts_ir_ops_onto_their_overlay_units() -> None:
    res = small_result()
    rep = inspect_report(res, name="blk", timings={"load": 1.5}, source_parameters=256)
    hist = res.graph.op_histogram()
    assert rep["model"] == "blk" and rep["source"] == "hand-built"
    assert rep["ir_nodes"] == len(res.graph.nodes) == sum(rep["ir_ops"].values())
    assert rep["ir_ops"] == dict(hist)
    for unit in Unit:
        assert rep["units"][unit.value] == {op: n for op, n in hist.items() if OPS[op].unit is unit}
        assert rep["unit_nodes"][unit.value] == sum(rep["units"][unit.value].values())
    assert rep["units"]["systolic"] == {"linear": 2, "attention": 1}
    assert rep["parameters"] == 8 * 16 + 16 * 8 + 1  # float constants only: the int64 index table is not a weight
    assert rep["constants"] == 4 and rep["constant_bytes"] == (8 * 16 + 16 * 8 + 1) * 4 + 3 * 8
    assert rep["source_nodes"] == 6 and rep["folded_nodes"] == 3 and rep["folded"] == {"Shape": 3}
    assert list(rep["source_ops"]) == ["Shape", "MatMul", "Gelu"]  # by decreasing count
    assert rep["symbols"] == ["seq"] and rep["inputs"] == {"x": "f32[1, seq, 8]"}
    assert rep["seconds"] == {"import": 0.25, "load": 1.5} and rep["passes"] is None
    assert json.loads(json.dumps(rep)) == rep  # plain JSON


def test_report_text_has_every_section() -> None:
    text = format_report(inspect_report(small_result(), name="blk", source_parameters=256))
    for needle in ("model: blk", "source: hand-built", "import 0.25 s", "inputs: x: f32[1, seq, 8]",
                   "symbolic sizes: seq", "parameters: 257 in 4 constants", "source model 256",
                   "source ops: 6 nodes, 3 op types", "systolic array (int8): 3 nodes", "SIMD lanes (bf16): 2 nodes",
                   "layout only", "folded by the frontend: 3 source nodes", "optimizer not run"):
        assert needle in text, needle
    lines = text.splitlines()
    systolic = lines.index("  systolic array (int8): 3 nodes")
    assert lines[systolic + 1].split() == ["linear", "2"] and lines[systolic + 2].split() == ["attention", "1"]


def test_report_includes_the_pass_report() -> None:
    from tataa.ir.passes import optimize

    res = small_result()
    g, report = optimize(res.graph)
    rep = inspect_report(ImportResult(g, res.source, res.source_ops, res.folded, report, 0.1))
    assert rep["passes"]["nodes_before"] == len(res.graph.nodes) and rep["passes"]["nodes_after"] == len(g.nodes)
    assert json.loads(json.dumps(rep)) == rep
    assert f"nodes_after: {len(g.nodes)}" in format_report(rep)


def test_unsupported_report_lists_every_node() -> None:
    err = UnsupportedOpsError([("n1", "TopK", "unknown op"), ("n2", "NonZero", "data-dependent shape")], "m.onnx")
    rep = unsupported_report(err, name="m.onnx")
    assert [u["node"] for u in rep["unsupported"]] == ["n1", "n2"]
    text = format_report(rep)
    assert "unsupported: 2 node(s)" in text and "NonZero" in text and "data-dependent shape" in text


def test_import_model_rejects_unknown_frontends_and_models(tmp_path: Path) -> None:
    with pytest.raises(FrontendError, match="unknown frontend 'tf'"):
        import_model("gpt2", frontend="tf")
    with pytest.raises(FrontendError, match="unknown zoo model 'nope'"):
        import_model("nope")
    with pytest.raises(FrontendError, match="no such file"):
        import_model(tmp_path / "missing.onnx")


# ---------------------------------------------------------------------------------------------------- the command


def unsupported_onnx(path: Path) -> Path:
    """A valid ONNX model with three nodes the IR cannot express (and one it can)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in (("d", []), ("h", [4, 4]),
                                                                                  ("e", [4, 4]))]
    nz = helper.make_tensor_value_info("nz", TensorProto.INT64, [2, "n"])
    nodes = [helper.make_node("Det", ["x"], ["d"], name="det_node"),
             helper.make_node("NonZero", ["x"], ["nz"], name="nonzero_node"),
             helper.make_node("Hardmax", ["x"], ["h"], name="hardmax_node"),
             helper.make_node("Exp", ["x"], ["e"], name="exp_node")]
    model = helper.make_model(helper.make_graph(nodes, "bad", [x], [*outs, nz]),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


def test_cli_lists_all_unsupported_nodes_and_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = unsupported_onnx(tmp_path / "bad.onnx")
    code, out, err = run_cli(capsys, "inspect", str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"tataa: error: {path}: 3 unsupported node(s)")
    for node, op in (("det_node", "Det"), ("nonzero_node", "NonZero"), ("hardmax_node", "Hardmax")):
        assert any(node in line and op in line for line in err.splitlines()), node
    assert "exp_node" not in err
    code, out, _ = run_cli(capsys, "inspect", str(path), "--json")
    assert code == 2 and {u["node"] for u in json.loads(out)["unsupported"]} == {"det_node", "nonzero_node",
                                                                              "hardmax_node"}


@pytest.mark.parametrize("argv, message", [
    (["inspect", "no-such-model"], "unknown zoo model 'no-such-model'"),
    (["inspect", "missing.onnx"], "cannot read 'missing.onnx'"),
    (["inspect", "gpt2", "--dim", "seq"], "--dim 'seq': expected NAME=SIZE"),
    (["inspect", "gpt2", "--dim", "seq=-3"], "--dim 'seq=-3'"),
    (["inspect", "gpt2", "--dim", "batch=2"], "gpt2-tiny has no symbolic size 'batch'; it has: seq"),
    (["inspect", "gpt2", "--dim", "seq=257"], "gpt2-tiny: seq=257 is outside 1..256"),
    (["inspect", "vit", "--dim", "seq=4"], "vit-tiny has no symbolic size 'seq'; it has: none"),
    (["inspect", "gpt2", "--frontend", "tf"], None),
])
def test_cli_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str | None) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    if message is None:  # a usage error: argparse's message
        assert "invalid choice: 'tf'" in err
    else:
        assert err.startswith("tataa: error: ") and message in err and err.count("\n") == 1


@pytest.mark.xdist_group("gpt2-tiny")
def test_cli_inspects_a_zoo_model_through_torch_export(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "inspect", "gpt2", "--json")
    assert code == 0, err
    rep = json.loads(out)
    cfg = models.gpt2().module.model.config
    assert rep["model"] == "gpt2-tiny (torch frontend)" and rep["symbols"] == ["seq"]
    assert rep["inputs"] == {"input_ids": "i64[1, seq]"}
    assert rep["outputs"] == {"logits": f"f32[1, seq, {cfg.vocab_size}]"}
    # per layer: the qkv, output, and two MLP projections; plus the LM head
    assert rep["units"]["systolic"].get("linear") == 4 * cfg.n_layer + 1
    assert rep["source_parameters"] == models.gpt2().parameter_count
    assert rep["parameters"] >= rep["source_parameters"]  # every weight survives (a tied one may be copied)
    assert any(op.startswith("aten.") for op in rep["source_ops"])
    assert rep["seconds"]["import"] > 0 and "load" in rep["seconds"]
    code, text, _ = run_cli(capsys, "inspect", "gpt2")
    assert code == 0 and text.startswith("model: gpt2-tiny (torch frontend)\n") and "systolic array" in text


@pytest.mark.xdist_group("gpt2-tiny")
def test_cli_dim_specialises_the_symbolic_size(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "inspect", "gpt2", "--dim", "seq=1", "--json")  # 1: torch.export's hard case
    assert code == 0, err
    rep = json.loads(out)
    assert rep["symbols"] == [] and rep["inputs"] == {"input_ids": "i64[1, 1]"}
    code, out, err = run_cli(capsys, "inspect", "gpt2", "--json")
    dynamic = json.loads(out)
    assert dynamic["symbols"] == ["seq"]
    assert rep["ir_nodes"] < dynamic["ir_nodes"]  # a static size lets the optimizer fold the mask construction
    assert rep["units"]["systolic"] == dynamic["units"]["systolic"]


@pytest.mark.xdist_group("gpt2-tiny")
def test_cli_inspects_onnx_files_and_zoo_models_through_onnx(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "inspect", "gpt2", "--frontend", "onnx", "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["model"] == "gpt2-tiny (onnx frontend)"
    assert "Gemm" in rep["source_ops"] or "MatMul" in rep["source_ops"]
    assert any(k.startswith("onnx export") for k in rep["seconds"])
    path = models.export_onnx(models.gpt2()).path
    code, out2, err = run_cli(capsys, "inspect", str(path), "--json")
    assert code == 0, err
    rep2 = json.loads(out2)
    assert rep2["ir_ops"] == rep["ir_ops"] and rep2["source_ops"] == rep["source_ops"]
    assert rep2["source_parameters"] is None
