"""The quantized reference (tataa.quant.reference.run_quantized) and the per-layer trace (tataa.quant.trace):
quantized nodes against hand computations with tataa.numerics, whole models against the float interpreter,
the published design's approximations against ours, and the errors users can provoke."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tataa import numerics as nm
from tataa.codegen import nonlinear as nl
from tataa.ir.graph import GraphBuilder
from tataa.ir.interp import run_graph
from tataa.ir.types import DType, TensorType
from tataa.quant import bf16_ops as bo
from tataa.quant.params import ActQuant, AttentionQuant, LinearQuant, MatmulQuant, QuantizedModel
from tataa.quant.quantize import quantize
from tataa.quant.recipe import PAPER_RECIPE, TATAA_RECIPE, QuantError, QuantRecipe
from tataa.quant.reference import int8_matmul, qk_requant_word, requant_bf16, run_quantized, to_int32
from tataa.quant.trace import compare, format_trace, layer_trace

F = nm.f64_to_bf16
V = nm.bf16_to_f64


def f32(shape: tuple[int, ...]) -> TensorType:
    return TensorType(DType.F32, shape)


def act(amax: float) -> ActQuant:
    """127/amax rounded down to bf16."""
    inv = 127.0 / amax
    bits = int(F(inv))
    if V(np.uint16(bits)) > inv:
        bits -= 1
    return ActQuant(bits, amax)


def word(scale: float) -> int:
    m, s = nm.scale_to_multiplier(scale)
    return int(nm.pack_scale(m, s))


# ---- the systolic side -------------------------------------------------------------------------------------
def test_int8_matmul_is_exact_where_float32_is_not() -> None:
    rng = np.random.default_rng(0)
    k = 2500
    a = np.full((3, k), 127, np.int8)
    b = np.full((k, 4), 127, np.int8)
    b[-1] = rng.integers(-128, 128, 4)  # odd sums above 2**24: a plain float32 GEMM rounds them
    exact = nm.gemm_int32(a, b)
    np.testing.assert_array_equal(int8_matmul(a, b), exact)
    assert (np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(np.int64) != exact).any()
    r1, r2 = rng.integers(-128, 128, (2, 5, 7, 1100)).astype(np.int8), rng.integers(-128, 128, (5, 1100, 3))
    r2 = r2.astype(np.int8)
    got = int8_matmul(r1, r2)
    for i in range(2):
        for j in range(5):
            np.testing.assert_array_equal(got[i, j], nm.gemm_int32(r1[i, j], r2[j]))


def test_accumulators_wrap_like_the_acc_adder() -> None:
    acc = np.array([(1 << 31) + 4, -(1 << 31) - 3, 7, -9], np.int64)
    np.testing.assert_array_equal(to_int32(acc, 1 << 17), nm.wrap_int32(acc))  # K * 2**14 reaches 2**31
    np.testing.assert_array_equal(to_int32(acc, 4, np.array([(1 << 31) - 1])), nm.wrap_int32(acc))  # so can a bias
    small = np.array([123, -456, 0], np.int64)
    got = to_int32(small, 1000, np.array([-7, 9]))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, small)


def test_requant_bf16_equals_the_numerics_definition() -> None:
    rng = np.random.default_rng(1)
    acc = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 20000), [0, 1, -1, -(1 << 31), (1 << 31) - 1]])
    m = rng.integers(0, 1 << 16, acc.size)
    s = rng.integers(0, 64, acc.size)
    m[:5], s[:5] = [0, 65535, 1, 65535, 32768], [0, 0, 63, 63, 16]
    words = nm.pack_scale(m, s)
    np.testing.assert_array_equal(requant_bf16(acc, words), nm.requant_bf16(acc, words))


# ---- hand-built models against hand computations ------------------------------------------------------------
def linear_model(bias: bool = True) -> tuple[QuantizedModel, dict[str, np.ndarray]]:
    rng = np.random.default_rng(2)
    b = GraphBuilder("lin")
    x = b.input("x", f32((2, 3, 40)))
    w = b.constant(rng.normal(0, 0.2, (40, 24)).astype(np.float32), "w")
    ins = [x, w]
    if bias:
        ins.append(b.constant(rng.normal(0, 1, 24).astype(np.float32), "b"))
    b.output(b.add("linear", ins, "y"))
    g = b.build()
    xq = act(2.0)
    wq = rng.integers(-127, 128, (40, 24)).astype(np.int8)
    wscale = rng.uniform(0.001, 0.003, 24)
    bq = rng.integers(-5000, 5000, 24).astype(np.int32) if bias else None
    words = nm.pack_scale(*nm.scale_to_multiplier(xq.scale * wscale)).astype(np.int64)
    qm = QuantizedModel(g, TATAA_RECIPE, linears={"y": LinearQuant("y", xq, wq, wscale, bq, words)})
    feed = {"x": rng.normal(0, 1, (2, 3, 40)).astype(np.float32) * np.float32(1.5)}  # some inputs saturate
    return qm, feed


def test_quantized_linear_by_hand() -> None:
    qm, feed = linear_model()
    lq = qm.linears["y"]
    y = run_quantized(qm, feed)["y"]
    assert y.dtype == np.float32 and y.shape == (2, 3, 24)
    x8 = nm.bf16_to_int8(nm.f32_to_bf16(feed["x"]).reshape(6, 40), lq.x.inv_scale_bf16)
    assert (np.abs(x8.astype(int)) == 127).any() or (x8 == -128).any()  # saturation is exercised
    acc = nm.wrap_int32(nm.gemm_int32(x8, lq.weight_q).astype(np.int64) + lq.bias_q)
    expect = nm.bf16_to_f32(nm.requant_bf16(acc, lq.requant)).reshape(2, 3, 24)
    np.testing.assert_array_equal(y, expect)
    # the truncating requant of the published design: never larger in magnitude, often smaller
    yt = run_quantized(QuantizedModel(qm.graph, PAPER_RECIPE, dict(qm.linears)), feed)["y"]
    assert np.all(np.abs(yt) <= np.abs(y)) and (yt != y).any()


def test_quantized_matmul_and_attention_by_hand() -> None:
    rng = np.random.default_rng(3)
    b = GraphBuilder("att")
    q, k, v = (b.input(n, f32((2, 3, 6, 8))) for n in "qkv")
    m = b.input("m", TensorType(DType.BOOL, (2, 1, 6, 6)))
    att = b.add("attention", [q, k, v, m], "att", scale=0.35, causal=True)
    kt = b.add("transpose", [k], "kt", perm=[0, 1, 3, 2])
    mm = b.add("matmul", [q, kt], "mm")
    b.output(att, mm)
    g = b.build()
    aq = AttentionQuant("att", MatmulQuant("att.qk", act(3.0), act(2.5), word(3.0 / 127 * 2.5 / 127)),
                        MatmulQuant("att.pv", ActQuant(0x42FE, 1.0), act(3.0), word(3.0 / 127 / 127)))
    mq = MatmulQuant("mm", act(3.0), act(2.5), word(3.0 / 127 * 2.5 / 127))
    qm = QuantizedModel(g, TATAA_RECIPE, matmuls={"mm": mq}, attentions={"att": aq})
    mask = rng.random((2, 1, 6, 6)) < 0.8
    mask[1, 0, 0, :] = False  # a fully masked query row
    feed = {n: rng.normal(0, 1, (2, 3, 6, 8)).astype(np.float32) for n in "qkv"} | {"m": mask}
    out = run_quantized(qm, feed)
    qb, kb, vb = (nm.f32_to_bf16(feed[n]) for n in "qkv")
    # matmul: F2I8 both, int8 GEMM per batch, one requant word
    acc = np.stack([[nm.gemm_int32(nm.bf16_to_int8(qb[i, j], mq.a.inv_scale_bf16),
                                   nm.bf16_to_int8(kb[i, j].T, mq.b.inv_scale_bf16)) for j in range(3)]
                    for i in range(2)])
    np.testing.assert_array_equal(out["mm"], nm.bf16_to_f32(nm.requant_bf16(acc, mq.requant)))
    # attention: the scale folded into the Q.K^T requant word, additive mask, the softmax kernel, P.V
    w_qk = word(aq.qk.a.scale * aq.qk.b.scale * 0.35)
    assert qk_requant_word(aq, 0.35) == w_qk
    keep = np.broadcast_to(mask, (2, 3, 6, 6)) & (np.arange(6)[None, :] <= np.arange(6)[:, None])
    additive = np.where(keep, 0, 0xFF80).astype(np.uint16)
    expect = np.zeros((2, 3, 6, 8), np.uint16)
    for i in range(2):
        for j in range(3):
            s = nm.requant_bf16(nm.gemm_int32(nm.bf16_to_int8(qb[i, j], aq.qk.a.inv_scale_bf16),
                                              nm.bf16_to_int8(kb[i, j].T, aq.qk.b.inv_scale_bf16)), w_qk)
            p = nl.softmax_reference(s, 32, additive[i, j])
            pv = nm.gemm_int32(nm.bf16_to_int8(p, aq.pv.a.inv_scale_bf16),
                               nm.bf16_to_int8(vb[i, j], aq.pv.b.inv_scale_bf16))
            expect[i, j] = nm.requant_bf16(pv, aq.pv.requant)
    np.testing.assert_array_equal(out["att"], nm.bf16_to_f32(expect))
    assert (out["att"][1, :, 0] == 0).all()  # the fully masked row gives zeros
    ref = run_graph(g, feed)["att"]
    assert np.abs(out["att"] - ref).max() < 0.1 * np.abs(ref).max()


def test_kept_bf16_linear_runs_on_the_simd_lanes() -> None:
    qm, feed = linear_model()
    kept = QuantizedModel(qm.graph, QuantRecipe(keep_bf16=("y",)), kept_bf16=("y",))
    y = run_quantized(kept, feed, array_size=8)["y"]
    x = nm.f32_to_bf16(feed["x"]).reshape(6, 40)
    w, bias = (nm.f32_to_bf16(qm.graph.constant_map[n]) for n in ("w", "b"))
    expect = nm.bf16_add(bo.matmul_bf16(x, w, 8), bias).reshape(2, 3, 24)
    np.testing.assert_array_equal(y, nm.bf16_to_f32(expect))
    ref = run_graph(qm.graph, feed)["y"]
    assert np.abs(y - ref).max() < 0.02 * np.abs(ref).max()


@pytest.mark.parametrize("n", [8, 32])
def test_simd_nodes_follow_the_lane_order_of_array_size(n: int) -> None:
    rng = np.random.default_rng(4)
    b = GraphBuilder("ln")
    x = b.input("x", f32((5, 70)))
    g_ = b.constant(rng.normal(1, 0.1, 70).astype(np.float32), "g")
    be = b.constant(rng.normal(0, 0.1, 70).astype(np.float32), "be")
    ln = b.add("layer_norm", [x, g_, be], "ln", eps=1e-5)
    s = b.add("reduce_sum", [x], "s", axes=[1], keepdims=False)
    b.output(ln, s)
    g = b.build()
    feed = {"x": (1000 + rng.normal(0, 3, (5, 70))).astype(np.float32)}
    out = run_quantized(QuantizedModel(g, TATAA_RECIPE), feed, array_size=n)
    xb = nm.f32_to_bf16(feed["x"])
    gb, bb = (nm.f32_to_bf16(g.constant_map[k]) for k in ("g", "be"))
    np.testing.assert_array_equal(out["ln"], nm.bf16_to_f32(nl.layernorm_reference(xb, n, gb, bb, 1e-5)))
    w = -(-70 // n)
    words = np.zeros((5, w * n), np.uint16)
    words[:, :70] = xb
    np.testing.assert_array_equal(out["s"], nm.bf16_to_f32(nm.reduce_sum(words.reshape(5, w, n))))


def test_observer_outputs_and_value_kinds() -> None:
    b = GraphBuilder("mix")
    x = b.input("x", f32((4, 8)))
    ids = b.input("ids", TensorType(DType.I64, (3,)))
    e = b.add("exp", [x], "e")
    gt = b.add("greater", [e, b.constant(np.float32(2.0), "two")], "gt")
    sel = b.add("where", [gt, e, x], "sel")
    rows = b.add("gather", [sel, ids], "rows", axis=0)
    one = b.add("add", [ids, b.constant(np.int64(1), "one")], "one_more")
    b.output(rows, one)
    g = b.build()
    feed = {"x": np.random.default_rng(5).normal(0, 1, (4, 8)).astype(np.float32), "ids": np.array([3, 0, 3])}
    seen: dict[str, np.dtype] = {}
    out = run_quantized(QuantizedModel(g, TATAA_RECIPE), feed, outputs=["rows", "one_more", "gt", "x"],
                        observer=lambda node, v: seen.__setitem__(node.name, v.dtype))
    assert seen == {"e": np.float32, "gt": np.bool_, "sel": np.float32, "rows": np.float32, "one_more": np.int64}
    xb = nm.f32_to_bf16(feed["x"])
    eb = bo.exp(xb)
    np.testing.assert_array_equal(out["gt"], V(eb) > 2.0)
    np.testing.assert_array_equal(out["rows"], nm.bf16_to_f32(np.where(V(eb) > 2.0, eb, xb)[[3, 0, 3]]))
    np.testing.assert_array_equal(out["one_more"], [4, 1, 4])
    np.testing.assert_array_equal(out["x"], nm.bf16_to_f32(xb))  # an input comes back rounded to bf16
    assert (out["rows"].view(np.uint32) & 0xFFFF == 0).all()  # every float value is a bf16 value


# ---- whole models -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def zoo_graphs() -> dict[str, tuple[object, object]]:
    from tataa.frontend.torch_import import import_torch
    from tataa.models import zoo

    out = {}
    for name in ("gpt2-tiny", "llama-tiny"):
        z = zoo.load(name)
        g = import_torch(z.module, z.example_inputs(seq=16, seed=99), dynamic=z.dynamic,
                         output_names=z.output_names).graph
        out[name] = (z, g)
    return out


@pytest.mark.parametrize("name,bound", [("gpt2-tiny", 0.06), ("llama-tiny", 0.06)])
def test_zoo_models_close_to_the_float_graph(zoo_graphs, name: str, bound: float) -> None:
    z, g = zoo_graphs[name]
    feeds = [z.example_dict(seq=24, seed=s) for s in range(4)]
    test = z.example_dict(seq=24, seed=11)
    ref = run_graph(g, test)["logits"]
    results = {}
    for recipe in (TATAA_RECIPE, PAPER_RECIPE):
        qm = quantize(g, feeds, recipe, progress=False)
        out = run_quantized(qm, test)["logits"]
        assert out.shape == ref.shape and np.isfinite(out).all()
        results[recipe.name] = np.abs(out - ref).max() / np.abs(ref).max()
    assert results["tataa"] < bound, results
    assert results["paper"] != results["tataa"]


def test_layer_trace_on_a_model(zoo_graphs) -> None:
    z, g = zoo_graphs["gpt2-tiny"]
    qm = quantize(g, [z.example_dict(seq=12, seed=s) for s in range(2)], progress=False)
    test = z.example_dict(seq=12, seed=5)
    errs = layer_trace(qm, test)
    float_nodes = [n for n in g.nodes if n.type.dtype.is_float and n.unit.value != "layout"]
    assert [e.node for e in errs] == [n.name for n in float_nodes]
    assert {e.op for e in errs} >= {"linear", "attention", "layer_norm", "gelu"}
    by = {e.node: e for e in errs}
    last = by[g.outputs[0]]
    ref = run_graph(g, test)["logits"]
    out = run_quantized(qm, test)["logits"]
    assert last.max_abs == pytest.approx(float(np.abs(out.astype(np.float64) - ref).max()))
    assert last.rel_err == pytest.approx(last.max_abs / float(np.abs(ref).max()))
    assert all(math.isfinite(e.sqnr_db) and e.sqnr_db > 10 for e in errs if e.op == "linear")
    with_layout = layer_trace(qm, test, include_layout=True)
    assert len(with_layout) > len(errs)
    text = format_trace(errs)
    assert text.splitlines()[0].split()[:3] == ["node", "op", "max"] and g.outputs[0] in text
    worst = format_trace(errs, worst=3).splitlines()[2:]
    assert len(worst) == 3
    assert [float(line.split()[-2]) for line in worst] == pytest.approx(sorted(e.sqnr_db for e in errs)[:3],
                                                                          abs=0.006)


def test_compare_metrics() -> None:
    f = np.array([1.0, -2.0, 3.0, 0.0])
    e = compare("n", "op", f + np.array([0.1, 0.0, -0.1, 0.0]), f)
    assert e.max_abs == pytest.approx(0.1) and e.mean_abs == pytest.approx(0.05)
    assert e.sqnr_db == pytest.approx(10 * math.log10(14 / 0.02))
    assert e.rel_err == pytest.approx(0.1 / 3)
    assert compare("n", "op", f, f).sqnr_db == math.inf
    bad = compare("n", "op", np.array([np.nan, np.inf, 1.0]), np.array([1.0, np.inf, 1.0]))
    assert bad.max_abs == math.inf and bad.sqnr_db == -math.inf


# ---- the published design's approximations -----------------------------------------------------------------
def softmax_graph(gain: float) -> tuple[object, dict[str, np.ndarray], np.ndarray]:
    b = GraphBuilder("sm")
    x = b.input("x", f32((8, 40)))
    z = b.add("mul", [x, b.constant(np.float32(gain), "gain")], "z")
    b.output(b.add("softmax", [z], "p", axis=-1))
    g = b.build()
    feed = {"x": nm.bf16_to_f32(F(np.random.default_rng(6).normal(0, 1, (8, 40))))}  # x * gain exact in bf16
    return g, feed, run_graph(g, feed)["p"]


def test_paper_softmax_differs_and_loses_on_large_logits() -> None:
    g, feed, ref = softmax_graph(4.0)
    ours = run_quantized(QuantizedModel(g, TATAA_RECIPE), feed)["p"]
    theirs = run_quantized(QuantizedModel(g, PAPER_RECIPE), feed)["p"]
    assert np.abs(ours - ref).max() < 0.01 and np.abs(theirs - ref).max() > 3 * np.abs(ours - ref).max()
    g, feed, ref = softmax_graph(64.0)  # logits far above 88.7: 2**(x/ln 2) overflows
    ours = run_quantized(QuantizedModel(g, TATAA_RECIPE), feed)["p"]
    theirs = run_quantized(QuantizedModel(g, PAPER_RECIPE), feed)["p"]
    assert np.abs(ours - ref).max() < 0.01
    assert not np.isfinite(theirs).all() or np.abs(theirs - ref).max() > 0.5


def test_paper_recipe_changes_every_approximated_op() -> None:
    b = GraphBuilder("ops")
    x = b.input("x", f32((8, 16)))
    outs = [b.add(op, [x], op) for op in ("exp", "tanh", "erf", "sigmoid", "silu", "reciprocal")]
    outs.append(b.add("gelu", [x], "gelu_none"))
    outs.append(b.add("div", [x, b.add("abs", [x], "ax")], "div"))
    outs.append(b.add("layer_norm", [x], "ln"))
    b.output(*outs)
    g = b.build()
    x = nm.bf16_to_f32(F(np.random.default_rng(7).normal(0, 2, (8, 16))))  # bf16 values: no input rounding
    ref = run_graph(g, {"x": x})
    ours = run_quantized(QuantizedModel(g, TATAA_RECIPE), {"x": x})
    theirs = run_quantized(QuantizedModel(g, PAPER_RECIPE), {"x": x})
    for name in ref:
        r = ref[name].astype(np.float64)
        scale = np.maximum(np.abs(r), 1e-3 * np.abs(r).max())  # relative error, absolute near zero
        e_ours, e_theirs = (float(np.mean(np.abs(o[name] - r) / scale)) for o in (ours, theirs))
        assert (ours[name] != theirs[name]).any(), name
        assert e_ours < 0.01, (name, e_ours)
        # one-pass LayerNorm statistics only lose with a large common offset (test_quant_bf16_ops)
        assert name == "ln" or e_ours < e_theirs, (name, e_ours, e_theirs)


# ---- errors ---------------------------------------------------------------------------------------------------
def one_op_graph(op: str, **attrs: object) -> object:
    b = GraphBuilder("one")
    x = b.input("x", f32((2, 4)))
    if op == "pow":
        y = b.add("pow", [x, b.constant(np.float32(2.5), "e")], "y")
    elif op == "cast":
        y = b.add("cast", [x], "y", dtype="i32")
    else:
        y = b.add(op, [x], "y", **attrs)
    b.output(y)
    return b.build()


@pytest.mark.parametrize("op,match", [("log", "no logarithm"), ("cumsum", "prefix sum"), ("pow", "exponent 2.5"),
                                      ("cast", "f32 -> i32")])
def test_ops_the_overlay_cannot_run_name_the_node(op: str, match: str) -> None:
    g = one_op_graph(op, **({"axis": 1} if op == "cumsum" else {}))
    with pytest.raises(QuantError, match=rf"node y \({op}\):.*{match}"):
        run_quantized(QuantizedModel(g, TATAA_RECIPE), {"x": np.ones((2, 4), np.float32)})


def test_missing_or_inconsistent_int8_parameters() -> None:
    qm, feed = linear_model()
    with pytest.raises(QuantError, match=r"node y \(linear\): no int8 parameters.*kept_bf16"):
        run_quantized(QuantizedModel(qm.graph, TATAA_RECIPE), feed)
    lq = qm.linears["y"]
    bad = LinearQuant("y", lq.x, lq.weight_q[:, :20], lq.weight_scale, lq.bias_q, lq.requant)
    with pytest.raises(QuantError, match=r"node y \(linear\): weight_q is int8\[40, 20\].*\[40, 24\]"):
        run_quantized(QuantizedModel(qm.graph, TATAA_RECIPE, {"y": bad}), feed)
    nob = LinearQuant("y", lq.x, lq.weight_q, lq.weight_scale, None, lq.requant)
    with pytest.raises(QuantError, match="has a bias but"):
        run_quantized(QuantizedModel(qm.graph, TATAA_RECIPE, {"y": nob}), feed)
    with pytest.raises(QuantError, match="array_size 12 must be a power of two"):
        run_quantized(qm, feed, array_size=12)
