"""Two accuracy measures of the default recipe, in overlay arithmetic: outlier input channels of a linear computed
in bf16 beside the int8 GEMM (LLM.int8()-style), and attention with the softmax normalisation deferred past P.V."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tataa import numerics as nm
from tataa.ir.graph import GraphBuilder
from tataa.ir.interp import run_graph
from tataa.ir.types import DType, TensorType
from tataa.quant import bf16_ops as bo
from tataa.quant.params import ActQuant, AttentionQuant, MatmulQuant, QuantizedModel
from tataa.quant.quantize import outlier_channels, quantize
from tataa.quant.recipe import PAPER_RECIPE, TATAA_RECIPE, QuantError, check_recipe
from tataa.quant.reference import run_quantized
from tataa.quant.trace import compare

OUTLIERS = (5, 17)


def f32(shape: tuple[int, ...]) -> TensorType:
    return TensorType(DType.F32, shape)


# ---------------------------------------------------------------------------------------------------- outliers


def test_outlier_channels_by_ratio_and_limit() -> None:
    cmax = np.array([1.0, 2.0, 50.0, 1.5, 9.0, 30.0, 1.0])
    np.testing.assert_array_equal(outlier_channels(cmax, 4.0, 8), [2, 4, 5])  # median 2: above 8
    np.testing.assert_array_equal(outlier_channels(cmax, 4.0, 2), [2, 5])  # the two largest, ascending
    np.testing.assert_array_equal(outlier_channels(cmax, 40.0, 8), [])
    assert outlier_channels(np.zeros(5), 4.0, 8).size == 0  # a dead input selects nothing


def outlier_linear(rows: int = 48) -> tuple[object, list[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    rng = np.random.default_rng(11)
    b = GraphBuilder("outl")
    x = b.input("x", f32((rows, 40)))
    w = b.constant(rng.normal(0, 0.2, (40, 24)).astype(np.float32), "fc.weight")
    bias = b.constant(rng.normal(0, 0.5, 24).astype(np.float32), "fc.bias")
    b.output(b.add("linear", [x, w, bias], "y"))

    def feed(seed: int) -> dict[str, np.ndarray]:
        v = np.random.default_rng(seed).normal(0, 1, (rows, 40))
        v[:, list(OUTLIERS)] *= 120.0  # two massive channels, as in SmolLM2's down projections
        return {"x": v.astype(np.float32)}

    return b.build(), [feed(s) for s in range(4)], feed(99)


def test_outlier_linear_by_hand() -> None:
    g, calib, feed = outlier_linear()
    qm = quantize(g, calib, TATAA_RECIPE, progress=False)
    lq = qm.linears["y"]
    assert lq.outliers is not None and lq.outliers.tolist() == list(OUTLIERS)
    w = g.constant_map["fc.weight"]
    assert not lq.weight_q[list(OUTLIERS)].any()  # the int8 GEMM skips them
    np.testing.assert_array_equal(lq.outlier_weight, nm.f32_to_bf16(w[list(OUTLIERS)]))
    ordinary = np.delete(np.abs(np.concatenate([f["x"] for f in calib])), OUTLIERS, axis=1).max()
    assert lq.x.amax <= ordinary * 1.0001  # the range ignores the outlier channels
    y = run_quantized(qm, feed)["y"]
    xb = nm.f32_to_bf16(feed["x"])
    acc = nm.gemm_int32(nm.bf16_to_int8(xb, lq.x.inv_scale_bf16), lq.weight_q).astype(np.int64) + lq.bias_q
    expect = nm.requant_bf16(nm.wrap_int32(acc), lq.requant)
    for i, c in enumerate(OUTLIERS):  # one MAC per channel, ascending, a single rounding each
        expect = nm.bf16_fma(xb[:, c:c + 1], lq.outlier_weight[i][None, :], expect)
    np.testing.assert_array_equal(y, nm.bf16_to_f32(expect))


def test_outlier_channels_repair_the_linear() -> None:
    g, calib, feed = outlier_linear()
    ref = run_graph(g, feed)["y"]
    naive = dataclasses.replace(TATAA_RECIPE, outlier_ratio=None)
    sq = {}
    for name, recipe in (("split", TATAA_RECIPE), ("naive", naive)):
        qm = quantize(g, calib, recipe, progress=False)
        sq[name] = compare("y", "linear", run_quantized(qm, feed)["y"], ref).sqnr_db
    assert sq["split"] > 30.0 and sq["split"] > sq["naive"] + 15.0


def test_outlier_channels_only_where_linears_alone_read() -> None:
    # a value read by a dynamic matmul as well keeps all its channels in int8 (one encoding per value)
    rng = np.random.default_rng(1)
    b = GraphBuilder("shared")
    x = b.input("x", f32((16, 8)))
    w = b.constant(rng.normal(0, 1, (8, 8)).astype(np.float32), "w")
    lin = b.add("linear", [x, w], "lin")
    xt = b.add("transpose", [x], "xt", perm=[1, 0])
    b.output(lin, b.add("matmul", [x, xt], "gram"))
    g = b.build()
    feeds = []
    for s in range(2):
        v = np.random.default_rng(s).normal(0, 1, (16, 8))
        v[:, 3] *= 100
        feeds.append({"x": v.astype(np.float32)})
    qm = quantize(g, feeds, TATAA_RECIPE, progress=False)
    assert qm.linears["lin"].outliers is None and "gram" in qm.matmuls


# ---------------------------------------------------------------------------------------------------- deferred


def act(amax: float) -> ActQuant:
    inv = 127.0 / amax
    bits = int(nm.f64_to_bf16(inv))
    if nm.bf16_to_f64(np.uint16(bits)) > inv:
        bits -= 1
    return ActQuant(bits, amax)


def word(scale: float) -> int:
    return int(nm.pack_scale(*nm.scale_to_multiplier(scale)))


def attention_model(keys: int, deferred: bool, spread: float) -> tuple[QuantizedModel, dict[str, np.ndarray]]:
    rng = np.random.default_rng(5)
    b = GraphBuilder("att")
    q, k, v = (b.input(n, f32((1, 2, keys if n != "q" else 8, 16))) for n in "qkv")
    m = b.input("m", TensorType(DType.BOOL, (1, 1, 8, keys)))
    b.output(b.add("attention", [q, k, v, m], "att", scale=0.25, causal=False))
    g = b.build()
    aq = AttentionQuant("att", MatmulQuant("att.qk", act(4.0 * spread), act(4.0), word(4.0 * spread / 127 * 4 / 127)),
                        MatmulQuant("att.pv", act(1.0), act(4.0), word(1.0 / 127 * 4.0 / 127)), deferred_norm=deferred)
    recipe = dataclasses.replace(TATAA_RECIPE, deferred_softmax_norm=deferred)
    qm = QuantizedModel(g, recipe, attentions={"att": aq})
    mask = np.ones((1, 1, 8, keys), bool)
    mask[0, 0, 3] = False  # a fully masked query row
    mask[0, 0, 5, keys // 2:] = False
    feed = {"q": (rng.normal(0, 1, (1, 2, 8, 16)) * spread).astype(np.float32),
            "k": rng.normal(0, 1, (1, 2, keys, 16)).astype(np.float32),
            "v": rng.normal(0, 1, (1, 2, keys, 16)).astype(np.float32), "m": mask}
    return qm, feed


def test_deferred_attention_by_hand() -> None:
    qm, feed = attention_model(24, True, 1.0)
    aq = qm.attentions["att"]
    out = run_quantized(qm, feed, array_size=8)["att"]
    qb, kb, vb = (nm.f32_to_bf16(feed[n]) for n in "qkv")
    additive = np.where(feed["m"][0, 0], 0, 0xFF80).astype(np.uint16)
    w_qk = word(aq.qk.a.scale * aq.qk.b.scale * 0.25)
    expect = np.zeros((1, 2, 8, 16), np.uint16)
    for j in range(2):
        s = nm.requant_bf16(nm.gemm_int32(nm.bf16_to_int8(qb[0, j], aq.qk.a.inv_scale_bf16),
                                          nm.bf16_to_int8(kb[0, j].T, aq.qk.b.inv_scale_bf16)), w_qk)
        e, r = bo.softmax_parts_rows(s, 8, additive)
        e = e[:, :24]
        live = feed["m"][0, 0].any(axis=1)
        assert (e[live].max(axis=1) == 0x3F80).all()  # each live row's largest e is exactly 1.0
        assert not e[~live].any()
        pv = nm.gemm_int32(nm.bf16_to_int8(e, aq.pv.a.inv_scale_bf16), nm.bf16_to_int8(vb[0, j],
                                                                                      aq.pv.b.inv_scale_bf16))
        expect[0, j] = nm.bf16_mul(nm.requant_bf16(pv, aq.pv.requant), r[:, None])
    np.testing.assert_array_equal(out, nm.bf16_to_f32(expect))
    assert (out[0, :, 3] == 0).all()  # the fully masked row gives zeros


def test_per_channel_v_by_hand_and_calibrated() -> None:
    # V with one loud channel per head: per-channel scales are calibrated per (head, channel) and used by F2I8
    b = GraphBuilder("vch")
    q, k, v = (b.input(n, f32((2, 3, 10, 8))) for n in "qkv")
    b.output(b.add("attention", [q, k, v], "att", scale=0.3, causal=True))
    g = b.build()

    def feed(seed: int) -> dict[str, np.ndarray]:
        r = np.random.default_rng(seed)
        f = {n: r.normal(0, 1, (2, 3, 10, 8)).astype(np.float32) for n in "qkv"}
        f["v"][:, :, :, 2] *= 30.0
        return f

    recipe = dataclasses.replace(TATAA_RECIPE, attention_v_per_channel=True)
    calib = [feed(s) for s in range(3)]
    qm = quantize(g, calib, recipe, progress=False)
    aq = qm.attentions["att"]
    vc = aq.v_channels
    assert vc is not None and vc.inv_scale_bf16.shape == (3, 8)
    want = np.abs(np.concatenate([c["v"] for c in calib])).max(axis=(0, 2))
    np.testing.assert_allclose(vc.amax, want)
    assert (vc.scales()[:, 2] > 10 * vc.scales()[:, 0]).all()
    x = feed(50)
    out = run_quantized(qm, x, array_size=8)["att"]
    qb, kb, vb = (nm.f32_to_bf16(x[n]) for n in "qkv")
    causal = np.where(np.arange(10)[None, :] <= np.arange(10)[:, None], 0, 0xFF80).astype(np.uint16)
    w_qk = word(aq.qk.a.scale * aq.qk.b.scale * 0.3)
    expect = np.zeros((2, 3, 10, 8), np.uint16)
    for i in range(2):
        for j in range(3):
            s = nm.requant_bf16(nm.gemm_int32(nm.bf16_to_int8(qb[i, j], aq.qk.a.inv_scale_bf16),
                                              nm.bf16_to_int8(kb[i, j].T, aq.qk.b.inv_scale_bf16)), w_qk)
            e, r = bo.softmax_parts_rows(s, 8, causal)
            v8 = nm.bf16_to_int8(vb[i, j], vc.inv_scale_bf16[j][None, :])
            acc = nm.gemm_int32(nm.bf16_to_int8(e[:, :10], aq.pv.a.inv_scale_bf16), v8)
            expect[i, j] = nm.bf16_mul(nm.requant_bf16(acc, vc.requant[j][None, :]), r[:, None])
    np.testing.assert_array_equal(out, nm.bf16_to_f32(expect))
    ref = run_graph(g, x)["att"]
    per_tensor = quantize(g, calib, TATAA_RECIPE, progress=False)
    quiet = [c for c in range(8) if c != 2]  # the quiet channels gain most from their own scale
    err_ch = np.abs(out - ref)[..., quiet].mean()
    err_pt = np.abs(run_quantized(per_tensor, x, array_size=8)["att"] - ref)[..., quiet].mean()
    assert err_ch < 0.5 * err_pt


def test_softmax_parts_compose_to_the_softmax() -> None:
    x = nm.f32_to_bf16(np.random.default_rng(2).normal(0, 3, (5, 37)).astype(np.float32))
    e, r = bo.softmax_parts(x, 8)
    np.testing.assert_array_equal(nm.bf16_mul(e, r), bo.softmax(x, -1, 8))


@pytest.mark.parametrize("spread", [0.05, 1.0])
def test_deferred_normalisation_is_more_accurate_on_long_rows(spread: float) -> None:
    # 512 keys: most probabilities are below 1/254 and vanish at P's step 1/127; e's row maximum is 1
    errs = {}
    for deferred in (False, True):
        qm, feed = attention_model(512, deferred, spread)
        ref = run_graph(qm.graph, feed)["att"]
        errs[deferred] = compare("att", "attention", run_quantized(qm, feed, array_size=32)["att"], ref).sqnr_db
    assert errs[True] > errs[False] + 6.0


def test_recipe_checks_of_the_new_settings() -> None:
    with pytest.raises(QuantError, match="deferred_softmax_norm with the paper's approximations"):
        check_recipe(dataclasses.replace(PAPER_RECIPE, deferred_softmax_norm=True))
    with pytest.raises(QuantError, match=r"outlier_ratio 1\.0"):
        check_recipe(dataclasses.replace(TATAA_RECIPE, outlier_ratio=1.0))
    assert TATAA_RECIPE.keeps_bf16("linear_3", "model.layers.0.mlp.down_proj.weight") is False
    keep = dataclasses.replace(TATAA_RECIPE, keep_bf16=("*down_proj*",))
    assert keep.keeps_bf16("linear_3", "model.layers.0.mlp.down_proj.weight")
