"""Graph passes: DCE, CSE, constant folding, specialisation, pattern folding and the optimiser."""

from __future__ import annotations

import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping

import numpy as np
import pytest

from tataa.errors import IRError
from tataa.ir import DType, Graph, GraphBuilder, TensorType
from tataa.ir.interp import run_graph
from tataa.ir.passes import (
    PassReport,
    constant_fold,
    constant_fold_stats,
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_patterns,
    fold_patterns_stats,
    optimize,
    specialize,
)

F32 = DType.F32
BF16 = DType.BF16


def f32(*shape: int | str) -> TensorType:
    return TensorType(F32, shape)


def const(b: GraphBuilder, value: float | np.ndarray, name: str = "c", dtype: type = np.float32) -> str:
    return b.constant(np.asarray(value, dtype=dtype), name)


def feeds_for(g: Graph, seed: int = 0, **sizes: int) -> dict[str, np.ndarray]:
    """Random inputs for a graph (symbolic sizes from ``sizes``)."""
    rng = np.random.default_rng(seed)
    out = {}
    for v in g.inputs:
        shape = tuple(d if isinstance(d, int) else sizes[d] for d in v.type.shape)
        if v.type.dtype is DType.BOOL:
            out[v.name] = rng.random(shape) > 0.3
        else:
            out[v.name] = (rng.standard_normal(shape) * 2).astype(v.type.dtype.numpy)
    return out


def same_results(a: Graph, b: Graph, feeds: Mapping[str, np.ndarray], rtol: float = 1e-5,
                 atol: float = 1e-6) -> None:
    """Both graphs give the same outputs (within float32 rounding)."""
    assert a.outputs == b.outputs
    ra, rb = run_graph(a, feeds), run_graph(b, feeds)
    for name in a.outputs:
        np.testing.assert_allclose(rb[name].astype(np.float64), ra[name].astype(np.float64), rtol=rtol, atol=atol)


def build(fn: Callable[[GraphBuilder, list[str]], str], *types: TensorType) -> Graph:
    b = GraphBuilder("t")
    ins = [b.input(f"x{i}" if i else "x", t) for i, t in enumerate(types)]
    b.output(fn(b, ins))
    return b.build()


def folds_to(g: Graph, ops: Mapping[str, int], feeds: Mapping[str, np.ndarray] | None = None) -> Graph:
    """Pattern-fold ``g``, check the op histogram and that results did not change."""
    out = fold_patterns(g)
    assert out.op_histogram() == Counter(ops), out.op_histogram()
    assert out.outputs == g.outputs
    same_results(g, out, feeds or feeds_for(g, seq=5))
    return out


def no_fold(g: Graph) -> None:
    out, stats = fold_patterns_stats(g)
    assert out.op_histogram() == g.op_histogram(), stats


# ---------------------------------------------------------------------------------------------------- LayerNorm


def layer_norm(b: GraphBuilder, x: str, *, square: str = "pow", den: str = "div", eps_shape: tuple = (),
               weight: tuple | None = None, bias: tuple | None = None, swap: bool = False, exponent: float = 2.0,
               var_axes: tuple = (-1,), eps: float = 1e-5) -> str:
    m = b.add("reduce_mean", [x], axes=[-1], keepdims=True)
    d = b.add("sub", [x, m])
    sq = b.add("pow", [d, const(b, exponent)]) if square == "pow" else b.add("mul", [d, d])
    v = b.add("reduce_mean", [sq], axes=list(var_axes), keepdims=True)
    e = const(b, np.full(eps_shape, eps))
    ve = b.add("add", [e, v] if swap else [v, e])
    if den == "div":
        n = b.add("div", [d, b.add("sqrt", [ve])])
    elif den == "rsqrt":
        n = b.add("mul", [b.add("rsqrt", [ve]), d] if swap else [d, b.add("rsqrt", [ve])])
    else:
        n = b.add("mul", [d, b.add("reciprocal", [b.add("sqrt", [ve])])])
    rng = np.random.default_rng(zlib.crc32(x.encode()))
    if weight is not None:
        w = const(b, 1 + 0.1 * rng.standard_normal(weight), "w")
        n = b.add("mul", [w, n] if swap else [n, w])
    if bias is not None:
        bb = const(b, 0.1 * rng.standard_normal(bias), "bias")
        n = b.add("add", [bb, n] if swap else [n, bb], name="out")
    return n


@pytest.mark.parametrize(("kw", "params"), [
    ({}, 1),
    ({"square": "mul", "den": "rsqrt", "eps_shape": (1,)}, 1),
    ({"den": "recip", "eps_shape": (1, 1, 1), "weight": (8,)}, 2),
    ({"weight": (8,), "bias": (8,)}, 3),
    ({"square": "mul", "den": "rsqrt", "weight": (1, 1, 8), "bias": (1, 8), "swap": True}, 3),
    ({"bias": (8,)}, 3),
])
def test_layer_norm_folds(kw: dict, params: int) -> None:
    g = build(lambda b, x: layer_norm(b, x[0], eps=1e-6, **kw), f32(2, "seq", 8))
    out = folds_to(g, {"layer_norm": 1})
    (n,) = out.nodes
    assert len(n.inputs) == params and n.name == g.outputs[0]
    assert n.attr("eps") == pytest.approx(1e-6) and n.attr("axis") % 3 == 2


def test_layer_norm_over_two_axes() -> None:
    def f(b: GraphBuilder, x: list[str]) -> str:
        m = b.add("reduce_mean", [x[0]], axes=[1, 2], keepdims=True)
        d = b.add("sub", [x[0], m])
        v = b.add("reduce_mean", [b.add("mul", [d, d])], axes=[-2, -1], keepdims=True)
        n = b.add("div", [d, b.add("sqrt", [b.add("add", [v, const(b, 1e-5)])])])
        return b.add("mul", [n, const(b, np.full((4, 8), 3.0), "w")])

    g = build(f, f32(2, 4, 8))
    (n,) = folds_to(g, {"layer_norm": 1}).nodes
    assert n.attr("axis") == -2 and len(n.inputs) == 2


@pytest.mark.parametrize("kw", [{"exponent": 3.0}, {"var_axes": (1,)}, {"eps": -1.0}])
def test_layer_norm_near_misses(kw: dict) -> None:
    no_fold(build(lambda b, x: layer_norm(b, x[0], **kw), f32(2, 3, 8)))


def test_layer_norm_not_folded_when_an_intermediate_has_another_user() -> None:
    b = GraphBuilder("t")
    x = b.input("x", f32(2, 8))
    y = layer_norm(b, x)
    b.output(y, "reduce_mean")  # the mean is also a graph output
    g = b.build()
    out = fold_patterns(g)
    assert "layer_norm" not in out.op_histogram()
    assert out.op_histogram()["rms_norm"] == 1  # what is left is still a valid RMS of the centred value
    same_results(g, out, feeds_for(g))

    b = GraphBuilder("t")
    x = b.input("x", f32(2, 8))
    y = layer_norm(b, x)
    b.output(b.add("add", [y, "sqrt"]))  # the denominator has a second reader
    no_fold(b.build())


# ---------------------------------------------------------------------------------------------------- RMSNorm


def llama_rms(b: GraphBuilder, x: str, dtype: DType = F32, den: str = "rsqrt", weight: bool = True) -> str:
    h = b.add("cast", [x], dtype=F32) if dtype is not F32 else x
    v = b.add("reduce_mean", [b.add("pow", [h, const(b, 2.0)])], axes=[-1], keepdims=True)
    ve = b.add("add", [v, const(b, 1e-6)])
    h = b.add("mul", [h, b.add("rsqrt", [ve])]) if den == "rsqrt" else b.add("div", [h, b.add("sqrt", [ve])])
    if dtype is not F32:
        h = b.add("cast", [h], dtype=dtype)
    if not weight:
        return h
    w = b.constant((1 + 0.1 * np.random.default_rng(2).standard_normal(16)).astype(dtype.numpy), "w")
    return b.add("mul", [w, h])


@pytest.mark.parametrize("den", ["rsqrt", "div"])
def test_rms_norm_folds(den: str) -> None:
    g = build(lambda b, x: llama_rms(b, x[0], den=den), f32("seq", 16))
    (n,) = folds_to(g, {"rms_norm": 1}).nodes
    assert n.attr("eps") == pytest.approx(1e-6) and len(n.inputs) == 2


def test_rms_norm_with_llama_casts_in_bf16() -> None:
    g = build(lambda b, x: llama_rms(b, x[0], dtype=BF16), TensorType(BF16, (3, 16)))
    out = fold_patterns(g)
    assert out.op_histogram() == Counter({"rms_norm": 1})
    assert out.nodes[0].inputs[0] == "x" and out.nodes[0].type.dtype is BF16
    feeds = feeds_for(g)
    a, b = run_graph(g, feeds)[g.outputs[0]], run_graph(out, feeds)[g.outputs[0]]
    np.testing.assert_array_equal(a.view(np.int16), b.view(np.int16))  # bit-identical


def test_rms_norm_near_misses() -> None:
    def other_x(b: GraphBuilder, x: list[str]) -> str:  # mean of y² but multiplies x
        v = b.add("reduce_mean", [b.add("mul", [x[1], x[1]])], axes=[-1], keepdims=True)
        return b.add("mul", [x[0], b.add("rsqrt", [b.add("add", [v, const(b, 1e-6)])])])

    no_fold(build(other_x, f32(2, 8), f32(2, 8)))

    def no_keepdims(b: GraphBuilder, x: list[str]) -> str:
        v = b.add("reduce_mean", [b.add("mul", [x[0], x[0]])], axes=[0], keepdims=True)  # not the last axis
        return b.add("mul", [x[0], b.add("rsqrt", [b.add("add", [v, const(b, 1e-6)])])])

    no_fold(build(no_keepdims, f32(2, 8)))


# ---------------------------------------------------------------------------------------------------- GELU, SiLU


def gelu_erf(b: GraphBuilder, x: str, form: int = 0, half: float = 0.5, root2: float = math.sqrt(2)) -> str:
    if form == 0:  # 0.5 * x * (1 + erf(x / sqrt2))
        e = b.add("erf", [b.add("div", [x, const(b, root2)])])
        return b.add("mul", [b.add("mul", [const(b, half), x]), b.add("add", [const(b, 1.0), e])])
    if form == 1:  # x * 0.5 * (erf(x * 1/sqrt2) + 1)
        e = b.add("erf", [b.add("mul", [const(b, [1 / root2]), x])])
        return b.add("mul", [b.add("mul", [x, const(b, half)]), b.add("add", [e, const(b, 1.0)])])
    e = b.add("erf", [b.add("div", [x, const(b, 1.41421)])])  # (x * (1 + erf(x / 1.41421))) / 2
    return b.add("div", [b.add("mul", [b.add("add", [e, const(b, 1.0)]), x]), const(b, 1 / half)])


def gelu_tanh(b: GraphBuilder, x: str, form: int = 0, kappa: float = 0.044715) -> str:
    c = math.sqrt(2 / math.pi)
    if form == 0:  # GPT-2: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * pow(x, 3))))
        cube = b.add("mul", [const(b, kappa), b.add("pow", [x, const(b, 3.0)])])
        inner = b.add("mul", [const(b, c), b.add("add", [x, cube])])
    else:  # distributed: c*x + c*kappa*x*x*x
        cube = b.add("mul", [b.add("mul", [b.add("mul", [x, x]), x]), const(b, c * kappa)])
        inner = b.add("add", [cube, b.add("mul", [x, const(b, c)])])
    t = b.add("tanh", [inner])
    return b.add("mul", [b.add("mul", [const(b, 0.5), x]), b.add("add", [const(b, 1.0), t])])


@pytest.mark.parametrize("form", [0, 1, 2])
def test_gelu_erf_forms_fold(form: int) -> None:
    (n,) = folds_to(build(lambda b, x: gelu_erf(b, x[0], form), f32(3, 17)), {"gelu": 1}).nodes
    assert n.attr("approximate") == "none"


@pytest.mark.parametrize("form", [0, 1])
def test_gelu_tanh_forms_fold(form: int) -> None:
    (n,) = folds_to(build(lambda b, x: gelu_tanh(b, x[0], form), f32(3, 17)), {"gelu": 1}).nodes
    assert n.attr("approximate") == "tanh"


@pytest.mark.parametrize("make", [
    lambda b, x: gelu_erf(b, x, half=0.6),
    lambda b, x: gelu_erf(b, x, root2=2.0),
    lambda b, x: gelu_tanh(b, x, kappa=0.04),
])
def test_gelu_near_misses(make: Callable[[GraphBuilder, str], str]) -> None:
    no_fold(build(lambda b, x: make(b, x[0]), f32(4)))


def test_gelu_not_folded_when_erf_has_another_user() -> None:
    b = GraphBuilder("t")
    x = b.input("x", f32(4))
    b.output(gelu_erf(b, x), "erf")
    no_fold(b.build())


@pytest.mark.parametrize("form", ["mul", "mul_swapped", "div"])
def test_silu_folds(form: str) -> None:
    def f(b: GraphBuilder, x: list[str]) -> str:
        if form == "div":
            e = b.add("exp", [b.add("neg", [x[0]])])
            return b.add("div", [x[0], b.add("add", [e, const(b, 1.0)])])
        s = b.add("sigmoid", [x[0]])
        return b.add("mul", [x[0], s] if form == "mul" else [s, x[0]])

    folds_to(build(f, f32(2, 9)), {"silu": 1})


def test_silu_near_miss() -> None:
    no_fold(build(lambda b, x: b.add("mul", [x[0], b.add("sigmoid", [x[1]])]), f32(3), f32(3)))


# ---------------------------------------------------------------------------------------------------- softmax


def softmax_dec(b: GraphBuilder, x: str, axis: int = -1, recip: bool = False, sub_max: bool = True,
                sum_axis: int | None = None) -> str:
    z = b.add("sub", [x, b.add("reduce_max", [x], axes=[axis], keepdims=True)]) if sub_max else x
    e = b.add("exp", [z])
    s = b.add("reduce_sum", [e], axes=[axis if sum_axis is None else sum_axis], keepdims=True)
    return b.add("mul", [b.add("reciprocal", [s]), e]) if recip else b.add("div", [e, s])


@pytest.mark.parametrize("kw", [{}, {"axis": 1, "recip": True}, {"sub_max": False}])
def test_softmax_folds(kw: dict) -> None:
    (n,) = folds_to(build(lambda b, x: softmax_dec(b, x[0], **kw), f32(2, 5, 7)), {"softmax": 1}).nodes
    assert n.attr("axis") % 3 == kw.get("axis", -1) % 3


def test_softmax_near_misses() -> None:
    def two_axes(b: GraphBuilder, x: list[str]) -> str:  # normalised over two axes: not a softmax
        e = b.add("exp", [x[0]])
        return b.add("div", [e, b.add("reduce_sum", [e], axes=[0, 1], keepdims=True)])

    no_fold(build(two_axes, f32(2, 5)))
    no_fold(build(lambda b, x: b.add("div", [b.add("exp", [x[0]]), b.add("reduce_sum", [b.add(
        "exp", [x[1]])], axes=[-1], keepdims=True)]), f32(2, 5), f32(2, 5)))
    b = GraphBuilder("t")
    x = b.input("x", f32(2, 5))
    y = softmax_dec(b, x)
    b.output(y, b.add("neg", ["exp"]))  # exp(x - max) has a third reader
    g = b.build()
    assert fold_patterns(g).op_histogram() == g.op_histogram()


# ---------------------------------------------------------------------------------------------------- rotary


def rotary_dec(b: GraphBuilder, x: str, cos: str, sin: str, d: int, neg: str = "neg", wrong: bool = False) -> str:
    h = d // 2
    x1 = b.add("slice", [x], axes=[-1], starts=[0], ends=[h], steps=[1])
    x2 = b.add("slice", [x], axes=[3], starts=[h], ends=[d], steps=[1])
    n2 = b.add("neg", [x2]) if neg == "neg" else b.add("mul", [x2, const(b, -1.0)])
    rot = b.add("concat", [x1, n2] if wrong else [n2, x1], axis=-1)
    return b.add("add", [b.add("mul", [cos, x]), b.add("mul", [rot, sin])])


def rotary_interleaved_dec(b: GraphBuilder, x: str, cos: str, sin: str, d: int) -> str:
    odd = b.add("slice", [x], axes=[-1], starts=[1], ends=[d], steps=[2])
    even = b.add("slice", [x], axes=[-1], starts=[0], ends=[d], steps=[2])
    a = b.add("reshape", [b.add("neg", [odd])], shape=[2, 3, "seq", d // 2, 1])
    c = b.add("reshape", [even], shape=[2, 3, "seq", d // 2, 1])
    rot = b.add("reshape", [b.add("concat", [a, c], axis=-1)], shape=[2, 3, "seq", d])
    return b.add("add", [b.add("mul", [x, cos]), b.add("mul", [sin, rot])])


@pytest.mark.parametrize("neg", ["neg", "mul"])
def test_rotary_folds(neg: str) -> None:
    g = build(lambda b, x: rotary_dec(b, x[0], x[1], x[2], 8, neg), f32(2, 3, "seq", 8), f32(1, 1, "seq", 8),
              f32(1, 1, "seq", 8))
    (n,) = folds_to(g, {"rotary": 1}).nodes
    assert n.inputs == ("x", "x1", "x2") and not n.attr("interleaved")


def test_rotary_interleaved_folds() -> None:
    g = build(lambda b, x: rotary_interleaved_dec(b, x[0], x[1], x[2], 8), f32(2, 3, "seq", 8),
              f32("seq", 8), f32("seq", 8))
    (n,) = folds_to(g, {"rotary": 1}).nodes
    assert n.attr("interleaved")


def test_rotary_near_misses() -> None:
    types = (f32(2, 3, 4, 8), f32(4, 8), f32(4, 8))
    no_fold(build(lambda b, x: rotary_dec(b, x[0], x[1], x[2], 8, wrong=True), *types))

    def mixed(b: GraphBuilder, x: list[str]) -> str:  # x·cos uses a different tensor than the rotated one
        h = 4
        x1 = b.add("slice", [x[0]], axes=[-1], starts=[0], ends=[h], steps=[1])
        x2 = b.add("slice", [x[0]], axes=[-1], starts=[h], ends=[8], steps=[1])
        rot = b.add("concat", [b.add("neg", [x2]), x1], axis=-1)
        return b.add("add", [b.add("mul", [x[3], x[1]]), b.add("mul", [rot, x[2]])])

    no_fold(build(mixed, *types, f32(2, 3, 4, 8)))

    def scrambled(b: GraphBuilder, x: list[str]) -> str:  # interleaved, but the "unsqueeze" also swaps axes
        odd = b.add("slice", [x[0]], axes=[-1], starts=[1], ends=[8], steps=[2])
        even = b.add("slice", [x[0]], axes=[-1], starts=[0], ends=[8], steps=[2])
        a = b.add("reshape", [b.add("neg", [odd])], shape=[3, 2, 4, 4, 1])
        c = b.add("reshape", [even], shape=[3, 2, 4, 4, 1])
        rot = b.add("reshape", [b.add("concat", [a, c], axis=-1)], shape=[2, 3, 4, 8])
        return b.add("add", [b.add("mul", [x[0], x[1]]), b.add("mul", [rot, x[2]])])

    no_fold(build(scrambled, *types))


# ---------------------------------------------------------------------------------------------------- attention


def heads(*dims: int | str) -> TensorType:
    return f32(*dims)


def attn_bert(b: GraphBuilder, q: str, k: str, v: str, mask: str | None, d: int) -> str:
    s = b.add("matmul", [q, b.add("transpose", [k], perm=[0, 1, 3, 2])])
    s = b.add("div", [s, const(b, math.sqrt(d))])
    if mask is not None:
        s = b.add("add", [mask, s])
    return b.add("matmul", [softmax_dec(b, s), v], name="out")


def attn_sdpa(b: GraphBuilder, q: str, k: str, v: str, mask: str | None, scale: float) -> str:
    r = const(b, math.sqrt(scale), "sqrt_scale")
    kt = b.add("mul", [b.add("transpose", [k], perm=[0, 1, 3, 2]), r])
    s = b.add("matmul", [b.add("mul", [q, r]), kt])
    if mask is not None:
        s = b.add("where", [mask, s, const(b, -np.inf, "ninf")])
    return b.add("matmul", [b.add("softmax", [s]), v], name="out")


QKV = (heads(2, 3, "seq", 8), heads(2, 3, "seq", 8), heads(2, 3, "seq", 4))


def test_attention_bert_form_folds() -> None:
    g = build(lambda b, x: attn_bert(b, x[0], x[1], x[2], x[3], 8), *QKV, f32(2, 1, 1, "seq"))
    (n,) = folds_to(g, {"attention": 1}).nodes
    assert n.inputs == ("x", "x1", "x2", "x3") and n.attr("scale") == pytest.approx(1 / math.sqrt(8))


def test_attention_sdpa_decomposition_folds() -> None:
    g = build(lambda b, x: attn_sdpa(b, x[0], x[1], x[2], x[3], 0.2), *QKV, TensorType(DType.BOOL, ("seq", "seq")))
    feeds = feeds_for(g, seq=5)
    feeds["x3"][:, 0] = True  # no fully masked row (softmax gives NaN there, attention gives 0)
    (n,) = folds_to(g, {"attention": 1}, feeds).nodes
    assert n.attr("scale") == pytest.approx(0.2) and not n.attr("causal")


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_constant_causal_mask_becomes_causal(kind: str) -> None:
    band = np.tril(np.ones((5, 5), bool))

    def f(b: GraphBuilder, x: list[str]) -> str:
        if kind == "bool":
            return attn_sdpa(b, x[0], x[1], x[2], b.constant(band, "causal_mask"), 0.5)
        m = b.constant(np.where(band, 0, -np.inf).astype(np.float32)[None, None], "causal_mask")
        return attn_bert(b, x[0], x[1], x[2], m, 8)

    g = build(f, heads(2, 3, 5, 8), heads(2, 3, 5, 8), heads(2, 3, 5, 4))
    (n,) = folds_to(g, {"attention": 1}).nodes
    assert n.attr("causal") and len(n.inputs) == 3


def test_attention_with_pretransposed_keys_gets_a_transpose() -> None:
    def f(b: GraphBuilder, x: list[str]) -> str:
        return b.add("matmul", [b.add("softmax", [b.add("matmul", [x[0], x[1]])]), x[2]])

    g = build(f, heads(2, 3, "seq", 8), heads(2, 3, 8, "seq"), heads(2, 3, "seq", 4))
    out = folds_to(g, {"attention": 1, "transpose": 1})
    assert out.nodes[1].attr("scale") == 1.0


def test_attention_near_misses() -> None:
    def softmax_axis(b: GraphBuilder, x: list[str]) -> str:
        s = b.add("matmul", [x[0], b.add("transpose", [x[1]], perm=[0, 1, 3, 2])])
        return b.add("matmul", [b.add("softmax", [s], axis=-2), x[2]])

    no_fold(build(softmax_axis, heads(2, 3, 4, 8), heads(2, 3, 4, 8), heads(2, 3, 4, 4)))

    def finfo_min(b: GraphBuilder, x: list[str]) -> str:  # masked_fill with finfo.min is not a -inf mask
        s = b.add("matmul", [x[0], b.add("transpose", [x[1]], perm=[0, 1, 3, 2])])
        s = b.add("where", [x[3], s, const(b, np.finfo(np.float32).min)])
        return b.add("matmul", [b.add("softmax", [s]), x[2]])

    g = build(finfo_min, *QKV, TensorType(DType.BOOL, ("seq", "seq")))
    no_fold(g)

    b = GraphBuilder("t")
    q, k, v = (b.input(n, t) for n, t in zip("qkv", QKV, strict=True))
    out = attn_bert(b, q, k, v, None, 8)
    b.output(out, "matmul")  # the raw scores are also an output
    g = b.build()
    assert "attention" not in fold_patterns(g).op_histogram()


def test_exporter_attention_with_nan_guard_and_reshaped_key_transpose_folds() -> None:
    """The dynamo ONNX exporter's SDPA: K transposed through unit reshapes, √scale on both sides, a finfo.min
    float mask, and ``where(isnan(p), 0, p)`` after the softmax."""
    def f(b: GraphBuilder, x: list[str]) -> str:
        q, k, v, keep = x
        k3 = b.add("reshape", [k], shape=[3, "seq", 8])
        kt = b.add("reshape", [b.add("transpose", [k3], perm=[0, 2, 1])], shape=[1, 3, 8, "seq"])
        r = const(b, 0.5, "r")
        s = b.add("matmul", [b.add("mul", [q, r]), b.add("mul", [kt, r])])
        mask = b.add("where", [keep, const(b, 0.0), const(b, np.finfo(np.float32).min)])
        p = b.add("softmax", [b.add("add", [s, mask])])
        nan = b.add("logical_not", [b.add("equal", [p, p])])
        return b.add("matmul", [b.add("where", [nan, const(b, 0.0), p]), v], name="out")

    g = build(f, heads(1, 3, "seq", 8), heads(1, 3, "seq", 8), heads(1, 3, "seq", 4),
              TensorType(DType.BOOL, (1, 1, "seq", "seq")))
    out, rep = optimize(g)
    assert rep.patterns["attention"] == 1 and rep.folded["layout.chain"] == 1
    assert out.op_histogram() == Counter({"attention": 1, "where": 1}), out.op_histogram()
    assert out.node_map["out"].attr("scale") == pytest.approx(0.25) and out.node_map["out"].inputs[1] == "x1"
    feeds = feeds_for(g, seq=5)
    feeds["x3"][..., 0] = True
    same_results(g, out, feeds)


def test_finfo_min_fill_with_a_constant_causal_mask_folds_to_causal() -> None:
    band = np.tril(np.ones((5, 5), bool))

    def f(b: GraphBuilder, x: list[str]) -> str:
        s = b.add("matmul", [x[0], b.add("transpose", [x[1]], perm=[0, 1, 3, 2])])
        s = b.add("where", [b.constant(band, "band"), s, const(b, np.finfo(np.float32).min)])
        return b.add("matmul", [b.add("softmax", [s]), x[2]])

    g = build(f, heads(2, 3, 5, 8), heads(2, 3, 5, 8), heads(2, 3, 5, 4))
    (n,) = folds_to(g, {"attention": 1}).nodes
    assert n.attr("causal") and len(n.inputs) == 3


@pytest.mark.parametrize(("mask", "causal"), [
    (np.tril(np.ones((4, 4), bool)), True),
    (np.where(np.tril(np.ones((4, 4), bool)), 0, np.finfo(np.float32).min).astype(np.float32)[None], True),
    (np.tril(np.ones((4, 4), bool), k=1), False),
    (np.ones((1, 4), bool), False),  # broadcast over queries: not the band
])
def test_attention_with_a_constant_band_mask_becomes_causal(mask: np.ndarray, causal: bool) -> None:
    g = build(lambda b, x: b.add("attention", [*x, b.constant(mask, "m")], scale=0.5), heads(2, 4, 8),
              heads(2, 4, 8), heads(2, 4, 8))
    out = eliminate_dead_code(constant_fold(g))
    (n,) = out.nodes
    assert n.attr("causal") is causal and len(n.inputs) == (3 if causal else 4)
    same_results(g, out, feeds_for(g))


@pytest.mark.parametrize(("steps", "ops"), [
    ([("reshape", [1, 6, 4]), ("transpose", [0, 2, 1]), ("reshape", [4, 6])], {"transpose": 1}),
    ([("reshape", [1, 6, 1, 4]), ("reshape", [6, 4, 1])], {"reshape": 1}),
    ([("transpose", [1, 0]), ("reshape", [4, 1, 6]), ("reshape", [4, 6]), ("transpose", [1, 0])], {}),  # identity
])
def test_layout_chains_collapse(steps: list, ops: dict) -> None:
    def f(b: GraphBuilder, x: list[str]) -> str:
        v = b.add("neg", [x[0]])
        for op, arg in steps:
            v = b.add(op, [v], **({"shape": arg} if op == "reshape" else {"perm": arg}))
        return b.add("exp", [v], name="y")

    g = build(f, f32(6, 4))
    out = eliminate_dead_code(constant_fold(g))
    assert out.op_histogram() == Counter({"neg": 1, "exp": 1}) + Counter(ops), out.op_histogram()
    same_results(g, out, feeds_for(g))


# ---------------------------------------------------------------------------------------------------- constant folding


def test_constants_fold_and_identities_simplify() -> None:
    b = GraphBuilder("t")
    x = b.input("x", f32(4, 6))
    a = b.add("mul", [const(b, np.arange(6)), const(b, 2.0)])  # constant: folds
    pos = b.add("cast", [b.add("arange", [], stop=6, dtype=DType.I64)], dtype=F32)  # arange folds too
    y = b.add("add", [x, b.add("add", [a, pos])])
    y = b.add("reshape", [y], shape=[4, 6])  # same shape
    y = b.add("transpose", [b.add("transpose", [y], perm=[1, 0])], perm=[1, 0])  # chain -> identity
    y = b.add("mul", [y, const(b, np.ones((1, 6)))])  # x * 1
    y = b.add("add", [const(b, 0.0), y])  # 0 + x
    y = b.add("cast", [y], dtype=F32)
    y = b.add("reshape", [b.add("reshape", [y], shape=[24])], shape=[2, 12])  # chain
    y = b.add("sub", [y, const(b, [0.0])], name="y")  # output: kept even though it is an identity
    b.output(y)
    g = b.build()
    out, stats = constant_fold_stats(g)
    out = eliminate_dead_code(out)
    assert out.op_histogram() == Counter({"add": 1, "reshape": 1, "sub": 1}), out.op_histogram()
    assert stats["fold.mul"] == 1 and stats["fold.arange"] == 1 and stats["transpose.chain"] == 1
    assert stats["identity.mul"] == 1 and stats["identity.add"] == 1 and stats["identity.cast"] == 1
    same_results(g, out, feeds_for(g))


def test_identity_that_broadcasts_is_kept() -> None:
    g = build(lambda b, x: b.add("mul", [x[0], const(b, np.ones((2, 1)))]), f32(3))
    out = constant_fold(g)
    assert out.op_histogram() == Counter({"mul": 1}) and out.type_of(out.outputs[0]).shape == (2, 3)


def test_matmul_by_a_transposed_weight_becomes_linear_with_bias() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((12, 8)).astype(np.float32)  # torch layout [out, in]

    def f(b: GraphBuilder, x: list[str]) -> str:
        wt = b.add("transpose", [b.constant(w, "fc.weight")], perm=[1, 0])
        y = b.add("matmul", [x[0], wt])
        return b.add("add", [b.constant(rng.standard_normal((1, 1, 12)).astype(np.float32), "fc.bias"), y])

    g = build(f, f32(2, "seq", 8))
    out = eliminate_dead_code(constant_fold(g))
    (n,) = out.nodes
    assert n.op == "linear" and len(n.inputs) == 3 and n.name == g.outputs[0]
    np.testing.assert_array_equal(out.constant_map[n.inputs[1]], w.T)
    assert out.type_of(n.inputs[2]).shape == (12,)
    same_results(g, out, feeds_for(g, seq=3))


def test_fold_size_cap() -> None:
    def f(b: GraphBuilder, x: list[str]) -> str:
        big = b.constant(np.ones((1, 40), np.float32), "big")
        e = b.add("expand", [big], shape=[10, 40])  # 400 elements from 40: over the cap, replaces nothing
        shared = b.constant(np.arange(200, dtype=np.float32).reshape(10, 20), "shared")
        t1 = b.add("transpose", [shared], perm=[1, 0])  # a shared weight laid out for a matmul: folded
        t2 = b.add("transpose", [shared], perm=[1, 0])  # the same, feeding an add while shared is still read
        own = b.constant(np.ones((40, 10), np.float32), "own")
        t3 = b.add("transpose", [own], perm=[1, 0])  # replaces its private constant: folded
        y = b.add("matmul", [b.add("matmul", [x[0], t1]), t3])
        y = b.add("add", [y, b.add("reduce_sum", [e], axes=[0], keepdims=False)])
        u1 = b.add("reduce_sum", [b.add("add", [t2, x[1]])], axes=[0, 1], keepdims=False)
        u2 = b.add("reduce_sum", [b.add("mul", [shared, x[2]])], axes=[0, 1], keepdims=False)
        return b.add("add", [y, b.add("add", [u1, u2])])

    g = build(f, f32(3, 20), f32(20, 10), f32(10, 20))
    out, stats = constant_fold_stats(g, limit=100)
    hist = out.op_histogram()
    assert hist["expand"] == 1 and hist["transpose"] == 1 and stats["fold.transpose"] == 2, (hist, stats)
    same_results(g, out, feeds_for(g))


# ---------------------------------------------------------------------------------------------------- CSE, DCE


def test_cse_merges_duplicates_and_identical_constants() -> None:
    b = GraphBuilder("t")
    x, y = b.input("x", f32(4)), b.input("y", f32(4))
    c1, c2, c3 = const(b, [1, 2, 3, 4], "c"), const(b, [1, 2, 3, 4], "c"), const(b, [1, 2, 3, 5], "c")
    a1, a2 = b.add("add", [x, y]), b.add("add", [y, x])  # commutative duplicate
    m1, m2, m3 = b.add("mul", [a1, c1]), b.add("mul", [a2, c2]), b.add("mul", [a1, c3])
    s1, s2 = b.add("sub", [m1, m2]), b.add("sub", [m2, m1])  # not commutative: kept
    b.output(b.add("add", [s1, s2], name="o1"), m3)
    g = b.build()
    out = eliminate_dead_code(eliminate_common_subexpressions(g))
    assert len(out.constants) == 2
    assert out.op_histogram() == Counter({"add": 2, "mul": 2, "sub": 1})  # m2 = m1, then s2 = s1
    assert out.outputs == g.outputs
    same_results(g, out, feeds_for(g))
    b.output(m2)  # a duplicate that is a graph output keeps its name
    g = b.build()
    out = eliminate_common_subexpressions(g)
    assert m2 in out.node_map and out.outputs == g.outputs


def test_dce_drops_unused_nodes_and_constants_but_keeps_inputs() -> None:
    b = GraphBuilder("t")
    x, unused = b.input("x", f32(4)), b.input("unused", f32(2))
    dead = b.add("exp", [b.add("mul", [x, const(b, 3.0, "k")])])
    b.output(b.add("neg", [x]))
    g = b.build()
    out = eliminate_dead_code(g)
    assert [n.op for n in out.nodes] == ["neg"] and out.constants == () and len(out.inputs) == 2
    assert dead not in out.node_map and unused in {v.name for v in out.inputs}


# ---------------------------------------------------------------------------------------------------- specialize


def _masked_graph() -> Graph:
    b = GraphBuilder("spec")
    x = b.input("x", f32("batch", "seq", 8))
    i = b.add("arange", [], stop="seq", dtype=DType.I64)
    causal = b.add("less_equal", [b.add("reshape", [i], shape=[1, "seq"]), b.add("reshape", [i], shape=["seq", 1])])
    s = b.add("matmul", [x, b.add("transpose", [x], perm=[0, 2, 1])])
    s = b.add("where", [causal, s, const(b, -np.inf)])
    flat = b.add("reshape", [b.add("softmax", [s])], shape=["batch*seq", "seq"])
    b.output(b.add("slice", [flat], axes=[0], starts=[1], ends=["batch*seq"], steps=[1], name="y"))
    return b.build()


def test_specialize_binds_sizes_and_folds_the_mask() -> None:
    g = _masked_graph()
    out = specialize(g, {"seq": 5, "batch": 2})
    assert out.inputs[0].type.shape == (2, 5, 8) and out.type_of("y").shape == (9, 5)
    assert not any(n.op in ("arange", "less_equal") for n in out.nodes)
    assert out.nodes[-1].attr("ends") == (10,)
    feeds = feeds_for(g, batch=2, seq=5)
    same_results(g, out, feeds)
    part = specialize(g, {"seq": 5})
    assert part.type_of("y").shape == ("5*batch-1", 5)


def test_specialize_rejects_unknown_or_bad_sizes() -> None:
    g = _masked_graph()
    with pytest.raises(IRError, match=r"no size named sqe; the graph's sizes are batch, seq"):
        specialize(g, {"sqe": 5})
    with pytest.raises(IRError, match=r"size seq = 0 must be a positive integer"):
        specialize(g, {"seq": 0})


# ---------------------------------------------------------------------------------------------------- optimize


def decomposed_bert(layers: int, d: int, heads_: int, seed: int = 0) -> Graph:
    """A BERT-like encoder the way old exporters write it: torch-layout weights, decomposed norms/softmax/GELU."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder("bert")
    x = b.input("x", f32(1, "seq", d))
    mask = b.input("mask", f32(1, 1, 1, "seq"))
    hd = d // heads_

    def linear(t: str, k: int, n: int, name: str) -> str:
        w = b.constant((rng.standard_normal((n, k)) / math.sqrt(k)).astype(np.float32), f"{name}.weight")
        y = b.add("matmul", [t, b.add("transpose", [w], perm=[1, 0])])
        return b.add("add", [y, b.constant((0.02 * rng.standard_normal(n)).astype(np.float32), f"{name}.bias")])

    def split(t: str) -> str:
        return b.add("transpose", [b.add("reshape", [t], shape=[1, "seq", heads_, hd])], perm=[0, 2, 1, 3])

    h = x
    for i in range(layers):
        q, k, v = (split(linear(h, d, d, f"l{i}.{n}")) for n in "qkv")
        o = attn_bert(b, q, k, v, mask, hd)
        o = b.add("reshape", [b.add("transpose", [o], perm=[0, 2, 1, 3])], shape=[1, "seq", d])
        h = layer_norm(b, b.add("add", [linear(o, d, d, f"l{i}.o"), h]), weight=(d,), bias=(d,))
        m = linear(gelu_erf(b, linear(h, d, 4 * d, f"l{i}.fc1")), 4 * d, d, f"l{i}.fc2")
        h = layer_norm(b, b.add("add", [m, h]), weight=(d,), bias=(d,))
    b.output(h)
    return b.build()


def test_optimize_a_decomposed_encoder() -> None:
    g = decomposed_bert(2, 32, 4)
    out, rep = optimize(g)
    assert isinstance(rep, PassReport) and rep.nodes_before == len(g.nodes) and rep.nodes_after == len(out.nodes)
    assert out.op_histogram() == Counter({"linear": 12, "attention": 2, "layer_norm": 4, "gelu": 2, "add": 4,
                                          "reshape": 8, "transpose": 8}), out.op_histogram()
    assert rep.patterns["attention"] == 2 and rep.patterns["layer_norm"] == 4 and rep.patterns["gelu"] == 2
    assert rep.folded["linear.from_matmul"] == 12 and rep.folded["linear.bias"] == 12
    assert rep.removed["constant"] > 0 and "attention=2" in rep.summary()
    assert out.outputs == g.outputs
    feeds = feeds_for(g, seq=6)
    feeds["mask"] = np.where(np.arange(6) < 4, 0, -1e4).astype(np.float32).reshape(1, 1, 1, 6)
    same_results(g, out, feeds, rtol=1e-4, atol=1e-5)
    again, rep2 = optimize(out)
    assert again.op_histogram() == out.op_histogram() and rep2.iterations == 1  # a fixed point


def test_optimize_with_dims_specializes_first() -> None:
    g = _masked_graph()
    out, rep = optimize(g, {"seq": 4, "batch": 1})
    assert rep.counts["specialize"]["retyped"] > 0 and out.inputs[0].type.is_static
    same_results(g, out, feeds_for(g, batch=1, seq=4))


def test_optimize_scales_to_3000_nodes_and_100m_parameters() -> None:
    g = decomposed_bert(50, 384, 6)
    params = sum(c.value.size for c in g.constants)
    assert len(g.nodes) >= 3000 and params >= 88_000_000
    start = time.perf_counter()
    out, rep = optimize(g)
    assert time.perf_counter() - start < 30
    assert rep.patterns["attention"] == 50 and out.op_histogram()["linear"] == 300
    # every weight transposed once and its original dropped (the small scalar constants were merged)
    assert sum(c.value.size for c in out.constants if c.value.size > 1) == sum(
        c.value.size for c in g.constants if c.value.size > 1)


def _random_graph(seed: int) -> Graph:
    """A random graph of elementwise, layout and matmul nodes over [4, 6] values, rich in foldable constants,
    identities and duplicates."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder(f"rand{seed}")
    vals = [b.input("x", f32(4, 6)), b.input("y", f32(4, 6))]

    def pick() -> str:
        return vals[int(rng.integers(len(vals)))]

    def scalar_const() -> str:
        return const(b, rng.choice([0.0, 1.0, 0.5, 2.0, -1.0]), "s")

    for _ in range(int(rng.integers(6, 16))):
        kind = int(rng.integers(8))
        a = pick()
        if kind == 0:
            v = b.add(str(rng.choice(["add", "mul", "sub", "maximum"])), [a, pick()])
        elif kind == 1:
            v = b.add(str(rng.choice(["add", "mul", "sub", "div"])), [a, scalar_const()])
            if b.type_of(v).shape != (4, 6):
                continue
        elif kind == 2:
            v = b.add(str(rng.choice(["tanh", "neg", "sigmoid", "abs"])), [a])
        elif kind == 3:
            t = b.add("transpose", [b.add("reshape", [a], shape=[1, 4, 6])], perm=[0, 2, 1])
            v = b.add("transpose", [b.add("reshape", [t], shape=[6, 4])], perm=[1, 0])
        elif kind == 4:
            w = b.add("transpose", [const(b, rng.standard_normal((6, 6)), "w")], perm=[1, 0])
            v = b.add("add", [b.add("matmul", [a, w]), const(b, rng.standard_normal((1, 6)), "bias")])
        elif kind == 5:
            h = b.add("slice", [a], axes=[1], starts=[0], ends=[3], steps=[1])
            v = b.add("concat", [h, b.add("slice", [a], axes=[1], starts=[3], ends=[6], steps=[1])], axis=1)
        elif kind == 6:
            v = b.add("cast", [b.add("cast", [a], dtype=F32)], dtype=F32)
        else:
            v = b.add("add", [a, b.add("mul", [const(b, rng.standard_normal(6), "k"), const(b, 2.0, "two")])])
        vals.append(v)
    b.output(vals[-1], pick())
    return b.build()


@pytest.mark.parametrize("seed", range(24))
def test_optimize_preserves_results_on_random_graphs(seed: int) -> None:
    g = _random_graph(seed)
    out, _ = optimize(g)
    assert out.outputs == g.outputs
    assert len(out.nodes) <= len(g.nodes)
    same_results(g, out, feeds_for(g, seed=seed), rtol=1e-5, atol=1e-5)
