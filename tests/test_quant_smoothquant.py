"""SmoothQuant: which norms fold, the float function is unchanged, channel ranges flatten, factor formula."""

from __future__ import annotations

import numpy as np
import pytest

from tataa.ir import DType, GraphBuilder, TensorType
from tataa.ir.interp import run_graph
from tataa.quant.recipe import QuantError
from tataa.quant.smoothquant import channel_absmax, find_smooth_groups, smoothing_factors, smoothquant

C = 32


def _gamma(rng):
    g = rng.uniform(0.5, 1.5, C).astype(np.float32)
    g[[2, 9, 30]] = [25.0, -40.0, 60.0]  # outlier channels, as the norms of real LLMs have
    return g


def layer_norm_graph(rng, *, extra_reader: str | None = None):
    gb = GraphBuilder("sq")
    x = gb.input("x", TensorType(DType.F32, (2, "seq", C)))
    ln = gb.add("layer_norm", [x, gb.constant(_gamma(rng), "ln.w"),
                               gb.constant(rng.standard_normal(C).astype(np.float32), "ln.b")], name="ln")
    flat = gb.add("reshape", [ln], shape=["2*seq", C], name="flat")
    w = [gb.constant(rng.standard_normal((C, n)).astype(np.float32) * 0.1, f"w{i}") for i, n in enumerate((8, 12, 8))]
    outs = [gb.add("linear", [flat, w[0], gb.constant(rng.standard_normal(8).astype(np.float32), "b0")], name="l0"),
            gb.add("linear", [flat, w[1]], name="l1"),
            gb.add("linear", [ln, w[2]], name="l2")]
    if extra_reader == "add":
        outs.append(gb.add("add", [ln, x], name="resid"))
    gb.output(*outs)
    if extra_reader == "output":
        gb.output(ln)
    return gb.build()


def _feeds(rng, count=4, seq=10):
    return [{"x": (rng.standard_normal((2, seq, C)) * 3 + 1).astype(np.float32)} for _ in range(count)]


def _close(a, b):
    return np.abs(a - b).max() <= 1e-5 * np.abs(b).max()


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def test_groups_follow_reshapes_and_share_one_factor(rng):
    g = layer_norm_graph(rng)
    groups = find_smooth_groups(g)
    assert len(groups) == 1 and groups[0].norm == "ln" and set(groups[0].linears) == {"l0", "l1", "l2"}
    res = smoothquant(g, _feeds(rng), 0.5, progress=False)
    assert set(res.factors) == {"l0", "l1", "l2"}
    assert np.array_equal(res.factors["l0"], res.factors["l1"]) and np.array_equal(res.factors["l0"], res.factors["l2"])
    # the shared originals are gone, each linear has its own folded weight
    names = {c.name for c in res.graph.constants}
    assert not {"ln.w", "ln.b", "w0", "w1", "w2"} & names and "b0" in names


def test_float_outputs_unchanged_and_channel_ranges_flatten(rng):
    g = layer_norm_graph(rng)
    feeds = _feeds(rng)
    res = smoothquant(g, feeds, 0.5, progress=False)
    test = _feeds(rng, 1, seq=7)[0]
    before, after = run_graph(g, test), run_graph(res.graph, test)
    for name in g.outputs:
        assert _close(after[name], before[name]), name
    old = channel_absmax(g, ["ln"], feeds, progress=False)["ln"]
    new = channel_absmax(res.graph, ["ln"], feeds, progress=False)["ln"]
    assert old.max() / np.median(old) > 20
    assert new.max() / np.median(new) < 0.25 * old.max() / np.median(old)
    # the factors follow the formula from the observed statistics
    w_rows = np.max([np.abs(g.constant_map[f"w{i}"]).max(axis=1) for i in range(3)], axis=0)
    assert np.allclose(res.factors["l0"], np.sqrt(old) / np.sqrt(w_rows), rtol=1e-6)


def test_alpha_extremes(rng):
    g = layer_norm_graph(rng)
    feeds = _feeds(rng)
    full = smoothquant(g, feeds, 1.0, progress=False)  # s = max|X|: every activation channel ends at max 1
    assert np.allclose(channel_absmax(full.graph, ["ln"], feeds, progress=False)["ln"], 1.0, rtol=1e-5)
    none = smoothquant(g, feeds, 0.0, progress=False)  # s = 1/max|W|: every weight row ends at max 1
    consts = none.graph.constant_map
    rows = np.max([np.abs(consts[none.graph.node_map[f"l{i}"].inputs[1]]).max(axis=1) for i in range(3)], axis=0)
    assert np.allclose(rows, 1.0, rtol=1e-6)


def test_rms_norm_without_weight_gets_one(rng):
    gb = GraphBuilder("rms")
    x = gb.input("x", TensorType(DType.F32, (6, C)))
    scale = np.ones(C, dtype=np.float32)
    scale[4] = 50.0
    xs = gb.add("mul", [x, gb.constant(scale, "boost")], name="boost_x")  # an outlier channel before the norm
    n = gb.add("rms_norm", [xs], name="norm")
    w = rng.standard_normal((C, 5)).astype(np.float32)
    gb.output(gb.add("linear", [n, gb.constant(w, "w")], name="fc"))
    g = gb.build()
    feeds = [{"x": rng.standard_normal((6, C)).astype(np.float32)} for _ in range(3)]
    res = smoothquant(g, feeds, 0.5, progress=False)
    assert len(res.graph.node_map["norm"].inputs) == 2
    assert _close(run_graph(res.graph, feeds[0])["fc"], run_graph(g, feeds[0])["fc"])


@pytest.mark.parametrize("reader", ["add", "output"])
def test_norm_read_by_something_else_is_left_alone(rng, reader):
    g = layer_norm_graph(rng, extra_reader=reader)
    assert find_smooth_groups(g) == []
    res = smoothquant(g, _feeds(rng), 0.5, progress=False)
    assert res.graph is g and res.factors == {}


def test_norms_that_cannot_fold(rng):
    gb = GraphBuilder("no")
    x = gb.input("x", TensorType(DType.F32, (4, C)))
    first = gb.add("layer_norm", [x], axis=0, name="ln_axis0")  # not over the last axis
    gb.output(gb.add("linear", [first, gb.constant(np.ones((C, 2), np.float32), "w0")], name="a"))
    second = gb.add("layer_norm", [x], name="ln_split")
    split = gb.add("reshape", [second], shape=[8, C // 2], name="split")  # the last axis changes meaning
    gb.output(gb.add("linear", [split, gb.constant(np.ones((C // 2, 2), np.float32), "w1")], name="b"))
    y = gb.input("y", TensorType(DType.F32, (C, C)))
    third = gb.add("layer_norm", [y], name="ln_wt")
    gb.output(gb.add("linear", [x, third], name="c"))  # the norm is a weight, not an input
    assert find_smooth_groups(gb.build()) == []


def test_smoothing_factors_formula_and_guards():
    s = smoothing_factors([4.0, 0.0, 9.0, 1e12, 1.0], [1.0, 3.0, 0.0, 1e-12, 4.0], 0.5)
    assert np.allclose(s, [2.0, 1.0, 1.0, 1e5, 0.5])
    assert np.allclose(smoothing_factors([8.0], [2.0], 1.0 / 3.0), [8 ** (1 / 3) / 2 ** (2 / 3)])
    assert smoothing_factors([1e-12], [1e6], 0.5)[0] == 1e-5
    with pytest.raises(QuantError, match=r"alpha 1\.5"):
        smoothing_factors([1.0], [1.0], 1.5)
