"""The numpy reference interpreter: every op against torch (or an independent computation), bindings, freeing."""

from __future__ import annotations

import gc
import math
import weakref
from collections.abc import Callable

import ml_dtypes
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tataa.errors import BindingError, IRError
from tataa.ir import OPS, DType, GraphBuilder, Node, TensorType, make_graph
from tataa.ir.graph import Value
from tataa.ir.interp import KERNELS, run_graph

F32 = DType.F32
T = torch.from_numpy


def run_op(op: str, args: list[np.ndarray], **attrs: object) -> np.ndarray:
    """Build a one-node graph whose inputs are ``args`` and run it."""
    b = GraphBuilder("one")
    names = [b.input(f"x{i}", TensorType(DType.from_numpy(a.dtype), a.shape)) for i, a in enumerate(args)]
    y = b.add(op, names, name="y", **attrs)
    b.output(y)
    return run_graph(b.build(), {n: a for n, a in zip(names, args, strict=True)})["y"]


def rnd(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def close(got: np.ndarray, want: np.ndarray | torch.Tensor, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    w = want.numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    assert got.dtype == w.dtype, (got.dtype, w.dtype)
    assert got.shape == w.shape, (got.shape, w.shape)
    np.testing.assert_allclose(got, w, rtol=rtol, atol=atol, equal_nan=True)


# ---------------------------------------------------------------------------------------------------- per-op cases

Case = Callable[[np.random.Generator], None]


def _linear(rng: np.random.Generator) -> None:
    x, w, b = rnd(rng, 2, 5, 16), rnd(rng, 16, 24), rnd(rng, 24)
    close(run_op("linear", [x, w, b]), F.linear(T(x), T(w).T, T(b)), rtol=1e-4, atol=1e-5)
    close(run_op("linear", [x[0, 0], w]), F.linear(T(x[0, 0]), T(w).T), rtol=1e-4, atol=1e-5)


def _matmul(rng: np.random.Generator) -> None:
    a, b = rnd(rng, 3, 1, 4, 8), rnd(rng, 5, 8, 6)
    close(run_op("matmul", [a, b]), torch.matmul(T(a), T(b)), rtol=1e-4, atol=1e-5)


def _attention(rng: np.random.Generator) -> None:
    q, k, v = rnd(rng, 2, 3, 5, 8), rnd(rng, 2, 3, 7, 8), rnd(rng, 2, 3, 7, 4)
    bmask = rng.random((5, 7)) > 0.3
    bmask[2] = False  # a fully masked query row: zeros, as torch SDPA gives
    fmask = rnd(rng, 2, 1, 5, 7)
    fmask[0, 0, 1] = -np.inf
    for mask, causal in [(None, False), (bmask, False), (fmask, False), (None, True), (bmask, True)]:
        args = [q, k, v] + ([] if mask is None else [mask])
        got = run_op("attention", args, scale=0.3, causal=causal)
        if mask is not None and causal:  # torch takes one or the other: fold the causal band into the mask
            want = F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=T(mask) & torch.ones(5, 7).tril().bool(),
                                                  scale=0.3)
        else:
            want = F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=None if mask is None else T(mask),
                                                  is_causal=causal, scale=0.3)
        close(got, want, rtol=1e-4, atol=1e-5)
    assert np.all(run_op("attention", [q, k, v, bmask], scale=1.0)[:, :, 2] == 0)


def _binary(op: str, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Case:
    def case(rng: np.random.Generator) -> None:
        a, b = rnd(rng, 3, 4), rnd(rng, 4)
        if op in ("pow",):
            a = np.abs(a) + 0.1
        close(run_op(op, [a, b]), fn(T(a), T(b)))
        ia, ib = rng.integers(-20, 20, (3, 4)), rng.integers(1, 5, (4,))
        ib[0] = -3
        if op == "pow":
            ib = np.abs(ib)
        got = run_op(op, [ia, ib])
        want = torch.div(T(ia), T(ib), rounding_mode="trunc") if op == "div" else fn(T(ia), T(ib))
        close(got, want)
        got8 = run_op(op, [ia.astype(np.int8), ib.astype(np.int8)])
        assert got8.dtype == np.int8 and np.array_equal(got8, want.numpy().astype(np.int8))

    return case


def _compare(op: str, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Case:
    def case(rng: np.random.Generator) -> None:
        a = rng.integers(0, 3, (3, 4)).astype(np.float32)
        b = rng.integers(0, 3, (4,)).astype(np.float32)
        close(run_op(op, [a, b]), fn(T(a), T(b)))
        close(run_op(op, [a.astype(np.int64), b.astype(np.int64)]), fn(T(a), T(b)))

    return case


def _logical(op: str, fn: Callable[..., torch.Tensor]) -> Case:
    def case(rng: np.random.Generator) -> None:
        a, b = rng.random((3, 4)) > 0.5, rng.random((1, 4)) > 0.5
        args = [a] if op == "logical_not" else [a, b]
        close(run_op(op, args), fn(*map(T, args)))

    return case


def _where(rng: np.random.Generator) -> None:
    c, a, b = rng.random((3, 1)) > 0.5, rnd(rng, 3, 4), rnd(rng, 4)
    close(run_op("where", [c, a, b]), torch.where(T(c), T(a), T(b)))


def _unary(op: str, fn: Callable[[torch.Tensor], torch.Tensor], lo: float = -4, hi: float = 4,
           ints: bool = False) -> Case:
    def case(rng: np.random.Generator) -> None:
        x = rng.uniform(lo, hi, (4, 33)).astype(np.float32)
        x[0, :3] = [lo, 0.0, hi]
        close(run_op(op, [x]), fn(T(x)), rtol=2e-6, atol=1e-6)
        if ints:
            i = rng.integers(-9, 9, (5,))
            close(run_op(op, [i]), fn(T(i)))

    return case


def _erf(rng: np.random.Generator) -> None:
    x = np.concatenate([rng.uniform(-5, 5, 200), [0.0, 1e-8, -1e-3, 0.5, 6.0]])
    got = run_op("erf", [x.astype(np.float32)])
    want = np.array([math.erf(v) for v in x.astype(np.float32).astype(np.float64)])
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=3e-7, atol=1e-7)
    got64 = run_op("erf", [x])
    np.testing.assert_allclose(got64, [math.erf(v) for v in x], rtol=1e-14, atol=1e-15)


def _sigmoid(rng: np.random.Generator) -> None:
    x = np.array([-200.0, -30.0, -1.0, 0.0, 2.0, 100.0], dtype=np.float32)
    close(run_op("sigmoid", [x]), torch.sigmoid(T(x)), rtol=1e-6, atol=0)
    _unary("sigmoid", torch.sigmoid)(rng)


def _gelu(rng: np.random.Generator) -> None:
    x = rng.uniform(-6, 6, (3, 40)).astype(np.float32)
    close(run_op("gelu", [x]), F.gelu(T(x)), rtol=1e-5, atol=1e-6)  # 1 + erf cancels for x << 0
    close(run_op("gelu", [x], approximate="tanh"), F.gelu(T(x), approximate="tanh"), rtol=1e-5, atol=1e-6)


def _cast(rng: np.random.Generator) -> None:
    x = rng.uniform(-300, 300, (64,)).astype(np.float32)
    x[:4] = [-2.5, -0.5, 0.0, 1.99]
    close(run_op("cast", [x], dtype=DType.I32), T(x).to(torch.int32))
    bf = run_op("cast", [x], dtype="bf16")
    assert bf.dtype == ml_dtypes.bfloat16
    assert np.array_equal(bf.view(np.int16), T(x).to(torch.bfloat16).view(torch.int16).numpy())
    close(run_op("cast", [x], dtype=DType.BOOL), T(x).to(torch.bool))
    i = rng.integers(-5, 5, (7,))
    close(run_op("cast", [i], dtype=F32), T(i).to(torch.float32))


def _reduce(op: str, fn: Callable[..., torch.Tensor]) -> Case:
    def case(rng: np.random.Generator) -> None:
        x = rnd(rng, 3, 4, 5)
        for axes, keep in [([-1], True), ([0, 2], False), ([1], False)]:
            close(run_op(op, [x], axes=axes, keepdims=keep), fn(T(x), dim=axes, keepdim=keep), rtol=1e-5)
        if op != "reduce_mean":
            i = rng.integers(-50, 50, (3, 4))
            close(run_op(op, [i], axes=[1]), fn(T(i), dim=[1], keepdim=True))
        else:
            i = np.array([[-7, 0, 0], [7, 1, 1]])
            assert run_op(op, [i], axes=[1], keepdims=False).tolist() == [-2, 3]  # truncated toward zero

    return case


def _cumsum(rng: np.random.Generator) -> None:
    x = rnd(rng, 3, 6)
    close(run_op("cumsum", [x], axis=1), torch.cumsum(T(x), 1), rtol=1e-5)
    i = rng.integers(-9, 9, (3, 6))
    close(run_op("cumsum", [i], axis=-2), torch.cumsum(T(i), 0))


def _softmax(rng: np.random.Generator) -> None:
    x = rnd(rng, 3, 7) * 30
    x[1] = -np.inf  # all -inf: NaN as torch
    x[2, :3] = -np.inf
    close(run_op("softmax", [x]), torch.softmax(T(x), -1), rtol=1e-5, atol=1e-7)
    close(run_op("softmax", [x], axis=0), torch.softmax(T(x), 0), rtol=1e-5, atol=1e-7)
    assert np.isnan(run_op("softmax", [x])[1]).all()


def _layer_norm(rng: np.random.Generator) -> None:
    x, w, b = rnd(rng, 2, 3, 4, 8) * 3 + 1, rnd(rng, 4, 8), rnd(rng, 4, 8)
    close(run_op("layer_norm", [x, w, b], axis=-2, eps=1e-6), F.layer_norm(T(x), (4, 8), T(w), T(b), eps=1e-6),
          rtol=1e-4, atol=1e-5)
    close(run_op("layer_norm", [x], axis=3), F.layer_norm(T(x), (8,)), rtol=1e-4, atol=1e-5)


def _rms_norm(rng: np.random.Generator) -> None:
    x, w = rnd(rng, 2, 5, 16), rnd(rng, 16)
    close(run_op("rms_norm", [x, w], eps=1e-6), F.rms_norm(T(x), (16,), T(w), eps=1e-6), rtol=1e-5, atol=1e-6)
    close(run_op("rms_norm", [x]), F.rms_norm(T(x), (16,), eps=1e-5), rtol=1e-5, atol=1e-6)
    # bf16 as HF Llama: normalise in float32, round to bf16, then multiply by the bf16 weight
    xb, wb = x.astype(ml_dtypes.bfloat16), w.astype(ml_dtypes.bfloat16)
    tx, tw = T(xb.view(np.int16)).view(torch.bfloat16), T(wb.view(np.int16)).view(torch.bfloat16)
    h = tx.to(torch.float32)
    want = tw * (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6)).to(torch.bfloat16)
    got = run_op("rms_norm", [xb, wb], eps=1e-6)
    assert got.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(got.astype(np.float32), want.float().numpy())


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def _rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    return torch.stack((-x[..., 1::2], x[..., ::2]), dim=-1).flatten(-2)


def _rotary(rng: np.random.Generator) -> None:
    x = rnd(rng, 2, 3, 5, 8)
    ang = rng.uniform(0, 6, (1, 1, 5, 8)).astype(np.float32)
    cos, sin = np.cos(ang), np.sin(ang)
    want = T(x) * T(cos) + _rotate_half(T(x)) * T(sin)
    close(run_op("rotary", [x, cos, sin]), want, rtol=1e-5, atol=1e-6)
    want = T(x) * T(cos) + _rotate_every_two(T(x)) * T(sin)
    close(run_op("rotary", [x, cos, sin], interleaved=True), want, rtol=1e-5, atol=1e-6)


def _gather(rng: np.random.Generator) -> None:
    data = rnd(rng, 4, 6, 3)
    idx = np.array([[0, -1], [5, -6]], dtype=np.int64)
    got = run_op("gather", [data, idx], axis=1)
    close(got, T(data)[:, T(idx % 6)])
    close(run_op("gather", [data, np.array([3, 0], dtype=np.int32)]), T(data)[[3, 0]])


def _reshape(rng: np.random.Generator) -> None:
    x = rnd(rng, 2, 3, 4)
    close(run_op("reshape", [x], shape=[6, 1, 4]), T(x).reshape(6, 1, 4))


def _transpose(rng: np.random.Generator) -> None:
    x = rnd(rng, 2, 3, 4)
    close(run_op("transpose", [x], perm=[2, 0, 1]), T(x).permute(2, 0, 1))


def _slice(rng: np.random.Generator) -> None:
    x = rnd(rng, 5, 9)
    close(run_op("slice", [x], axes=[1, 0], starts=[1, 2], ends=[9, 4], steps=[3, 1]), T(x)[2:4, 1:9:3])
    close(run_op("slice", [x], axes=[-1], starts=[4], ends=[4], steps=[1]), T(x)[:, 4:4])


def _concat(rng: np.random.Generator) -> None:
    a, b = rnd(rng, 2, 3), rnd(rng, 2, 5)
    close(run_op("concat", [a, b, a], axis=-1), torch.cat([T(a), T(b), T(a)], dim=1))


def _expand(rng: np.random.Generator) -> None:
    x = rnd(rng, 3, 1)
    close(run_op("expand", [x], shape=[2, 3, 4]), T(x).expand(2, 3, 4).contiguous())


def _arange(rng: np.random.Generator) -> None:
    close(run_op("arange", [], start=2, stop=11, step=3, dtype=DType.I64), torch.arange(2, 11, 3))
    close(run_op("arange", [], stop=5, dtype=F32), torch.arange(5, dtype=torch.float32))


def _full(rng: np.random.Generator) -> None:
    close(run_op("full", [], shape=[2, 3], value=-np.inf, dtype=F32), torch.full((2, 3), -torch.inf))
    close(run_op("full", [], shape=[4], value=7.0, dtype=DType.I32), torch.full((4,), 7, dtype=torch.int32))


CASES: dict[str, Case] = {
    "linear": _linear, "matmul": _matmul, "attention": _attention,
    "add": _binary("add", torch.add), "sub": _binary("sub", torch.sub), "mul": _binary("mul", torch.mul),
    "div": _binary("div", torch.div), "pow": _binary("pow", torch.pow),
    "maximum": _binary("maximum", torch.maximum), "minimum": _binary("minimum", torch.minimum),
    "equal": _compare("equal", torch.eq), "less": _compare("less", torch.lt),
    "less_equal": _compare("less_equal", torch.le), "greater": _compare("greater", torch.gt),
    "greater_equal": _compare("greater_equal", torch.ge),
    "logical_and": _logical("logical_and", torch.logical_and), "logical_or": _logical("logical_or", torch.logical_or),
    "logical_not": _logical("logical_not", torch.logical_not), "where": _where,
    "neg": _unary("neg", torch.neg, ints=True), "abs": _unary("abs", torch.abs, ints=True),
    "exp": _unary("exp", torch.exp, -80, 80), "log": _unary("log", torch.log, 1e-6, 1e6),
    "sqrt": _unary("sqrt", torch.sqrt, 0, 1e4), "rsqrt": _unary("rsqrt", torch.rsqrt, 1e-6, 1e4),
    "reciprocal": _unary("reciprocal", torch.reciprocal, 0.01, 100), "tanh": _unary("tanh", torch.tanh, -10, 10),
    "erf": _erf, "sigmoid": _sigmoid, "relu": _unary("relu", torch.relu), "silu": _unary("silu", F.silu, -30, 30),
    "gelu": _gelu, "cast": _cast,
    "reduce_sum": _reduce("reduce_sum", torch.sum), "reduce_mean": _reduce("reduce_mean", torch.mean),
    "reduce_max": _reduce("reduce_max", torch.amax), "reduce_min": _reduce("reduce_min", torch.amin),
    "cumsum": _cumsum, "softmax": _softmax, "layer_norm": _layer_norm, "rms_norm": _rms_norm, "rotary": _rotary,
    "gather": _gather, "reshape": _reshape, "transpose": _transpose, "slice": _slice, "concat": _concat,
    "expand": _expand, "arange": _arange, "full": _full,
}


def test_every_op_has_a_kernel_and_a_test() -> None:
    assert set(KERNELS) == set(OPS)
    assert set(CASES) == set(OPS)


@pytest.mark.parametrize("op", sorted(OPS))
def test_op_matches_reference(op: str) -> None:
    CASES[op](np.random.default_rng(sum(map(ord, op))))


# ---------------------------------------------------------------------------------------------------- bindings


def _symbolic_graph() -> tuple:
    b = GraphBuilder("sym")
    x = b.input("x", TensorType(F32, ("batch", "seq", 4)))
    flat = b.input("flat", TensorType(F32, ("batch*seq", 4)))
    ids = b.input("ids", TensorType(DType.I64, ("seq",)))
    r = b.add("reshape", [x], shape=["batch*seq", 4])
    y = b.add("add", [r, flat], name="y")
    pos = b.add("arange", [], stop="seq", dtype=DType.I64)
    z = b.add("add", [ids, pos], name="z")
    b.output(y, z)
    return b.build(), x, flat, ids


def test_symbolic_dims_bind_from_inputs_including_expressions() -> None:
    g, *_ = _symbolic_graph()
    rng = np.random.default_rng(0)
    x, flat = rnd(rng, 2, 3, 4), rnd(rng, 6, 4)
    out = run_graph(g, {"x": x, "flat": flat, "ids": np.array([5, 6, 7])})
    np.testing.assert_array_equal(out["y"], x.reshape(6, 4) + flat)
    np.testing.assert_array_equal(out["z"], [5, 7, 9])


def test_flat_only_expression_is_solved_for_the_unknown_symbol() -> None:
    b = GraphBuilder("solve")
    a = b.input("a", TensorType(F32, ("n",)))
    c = b.input("c", TensorType(F32, ("2*n+1",)))
    b.output(b.add("reduce_sum", [c], axes=[0], keepdims=False), a)
    g = b.build()
    run_graph(g, {"c": np.ones(7, np.float32), "a": np.ones(3, np.float32)})
    with pytest.raises(BindingError, match=r"input c: axis 0 has size 6"):
        run_graph(g, {"c": np.ones(6, np.float32), "a": np.ones(3, np.float32)})


@pytest.mark.parametrize(("inputs", "pattern"), [
    ({"x": np.zeros((2, 3, 4), np.float32), "flat": np.zeros((5, 4), np.float32), "ids": np.zeros(3, np.int64)},
     r"input flat: axis 0 has size 5, but batch\*seq = 6"),
    ({"x": np.zeros((2, 3, 4), np.float32), "flat": np.zeros((6, 4), np.float32), "ids": np.zeros(4, np.int64)},
     r"input ids: axis 0 binds seq=4, but input x axis 1 bound seq=3"),
    ({"x": np.zeros((2, 3, 4), np.float32), "flat": np.zeros((6, 4), np.float32)}, r"missing input 'ids'"),
    ({"x": np.zeros((2, 3, 4), np.float64), "flat": np.zeros((6, 4), np.float32), "ids": np.zeros(3, np.int64)},
     r"input x: element type float64 but the graph wants f32"),
    ({"x": np.zeros((6, 4), np.float32), "flat": np.zeros((6, 4), np.float32), "ids": np.zeros(3, np.int64)},
     r"input x: rank 2"),
    ({"x": np.zeros((2, 3, 5), np.float32), "flat": np.zeros((6, 4), np.float32), "ids": np.zeros(3, np.int64)},
     r"input x: axis 2 has size 5, the graph wants 4"),
    ({"x": np.zeros((2, 3, 4), np.float32), "flat": np.zeros((6, 4), np.float32), "ids": np.zeros(3, np.int64),
      "bogus": np.zeros(1)}, r"unknown input\(s\) bogus"),
])
def test_binding_errors_name_the_input(inputs: dict, pattern: str) -> None:
    g, *_ = _symbolic_graph()
    with pytest.raises(BindingError, match=pattern):
        run_graph(g, inputs)


def test_torch_tensors_and_lists_are_accepted() -> None:
    b = GraphBuilder("t")
    x = b.input("x", TensorType(DType.BF16, (3,)))
    y = b.input("y", TensorType(F32, (3,)))
    b.output(b.add("add", [b.add("cast", [x], dtype=F32), y], name="s"))
    g = b.build()
    tx = torch.tensor([1.5, -2.0, 3.25], dtype=torch.bfloat16)
    out = run_graph(g, {"x": tx, "y": [1, 2, 3]})["s"]
    np.testing.assert_array_equal(out, [2.5, 0.0, 6.25])
    with pytest.raises(BindingError, match="input y: element type float64"):
        run_graph(g, {"x": tx, "y": torch.zeros(3, dtype=torch.float64)})


def test_produced_value_is_checked_against_the_node_type() -> None:
    x = Value("x", TensorType(F32, (2, 3)))
    bad = Node("y", "reshape", ("x",), (("shape", (3, 2)),), TensorType(F32, (2, 3)))
    g = make_graph("bad", [x], [], [bad], ["y"], validate=False)
    with pytest.raises(IRError, match=r"node y \(reshape\): produced shape \[3, 2\]"):
        run_graph(g, {"x": np.zeros((2, 3), np.float32)})


def test_gather_out_of_range_names_the_node() -> None:
    b = GraphBuilder("g")
    d = b.input("d", TensorType(F32, (4, 2)))
    i = b.input("i", TensorType(DType.I64, (3,)))
    b.output(b.add("gather", [d, i], name="emb"))
    g = b.build()
    with pytest.raises(IRError, match=r"node emb \(gather\): index 4 out of range \[-4, 4\)"):
        run_graph(g, {"d": np.zeros((4, 2), np.float32), "i": np.array([0, 4, 1])})
    with pytest.raises(IRError, match=r"index -5"):
        run_graph(g, {"d": np.zeros((4, 2), np.float32), "i": np.array([0, -5, 1])})


def test_integer_division_by_zero_is_an_error() -> None:
    with pytest.raises(IRError, match=r"node y \(div\): integer division by zero"):
        run_op("div", [np.array([1, 2]), np.array([1, 0])])


# ---------------------------------------------------------------------------------------------------- running


def _chain() -> tuple:
    b = GraphBuilder("chain")
    x = b.input("x", TensorType(F32, (256,)))
    c = b.constant(np.full(256, 2.0, np.float32), "two")
    a1 = b.add("mul", [x, c], name="a1")
    a2 = b.add("exp", [a1], name="a2")
    dead = b.add("neg", [a2], name="dead")
    a3 = b.add("add", [a2, x], name="a3")
    a4 = b.add("tanh", [a3], name="a4")
    b.output(a4)
    return b.build(), (a1, a2, dead, a3, a4)


def test_observer_sees_every_node_in_order_and_values_are_freed() -> None:
    g, names = _chain()
    refs: dict[str, weakref.ref] = {}
    alive_at: dict[str, list[str]] = {}

    def observe(node: Node, value: np.ndarray) -> None:
        gc.collect()
        alive_at[node.name] = [n for n, r in refs.items() if r() is not None]
        refs[node.name] = weakref.ref(value)

    x = np.linspace(-1, 1, 256, dtype=np.float32)
    out = run_graph(g, {"x": x}, observer=observe)
    assert list(alive_at) == list(names)
    assert alive_at["a3"] == ["a2"]  # a1 freed after exp; the unused `dead` freed right away
    assert alive_at["a4"] == ["a3"]  # a2 freed after its last use in a3; a3 is a4's operand
    np.testing.assert_allclose(out["a4"], np.tanh(np.exp(2 * x) + x), rtol=1e-6)


def test_outputs_selects_intermediates_inputs_and_constants() -> None:
    g, _ = _chain()
    x = np.linspace(-1, 1, 256, dtype=np.float32)
    out = run_graph(g, {"x": x}, outputs=["a1", "dead", "x", "two"])
    assert list(out) == ["a1", "dead", "x", "two"]
    np.testing.assert_allclose(out["dead"], -np.exp(2 * x), rtol=1e-6)
    assert out["two"].flags.writeable and np.all(out["two"] == 2)
    with pytest.raises(IRError, match="no value named 'nope'"):
        run_graph(g, {"x": x}, outputs=["nope"])


def test_bf16_nodes_compute_in_float32_and_round_once() -> None:
    rng = np.random.default_rng(3)
    a, b = rnd(rng, 64).astype(ml_dtypes.bfloat16), rnd(rng, 64).astype(ml_dtypes.bfloat16)
    got = run_op("mul", [a, b])
    assert got.dtype == ml_dtypes.bfloat16
    want = (T(a.view(np.int16)).view(torch.bfloat16) * T(b.view(np.int16)).view(torch.bfloat16))
    assert np.array_equal(got.view(np.int16), want.view(torch.int16).numpy())


# ---------------------------------------------------------------------------------------------------- a real block


def test_gpt2_style_block_matches_torch() -> None:
    """A pre-LN causal transformer block (GPT-2 layout) built in the IR agrees with the same block in torch."""
    rng = np.random.default_rng(7)
    d, h, ff = 64, 4, 256
    p = {n: rnd(rng, *s) * 0.2 for n, s in [("ln1_w", (d,)), ("ln1_b", (d,)), ("qkv_w", (d, 3 * d)),
                                             ("qkv_b", (3 * d,)), ("o_w", (d, d)), ("o_b", (d,)), ("ln2_w", (d,)),
                                             ("ln2_b", (d,)), ("fc_w", (d, ff)), ("fc_b", (ff,)),
                                             ("pr_w", (ff, d)), ("pr_b", (d,))]}
    b = GraphBuilder("block")
    x = b.input("x", TensorType(F32, ("batch", "seq", d)))
    c = {k: b.constant(v, k) for k, v in p.items()}
    hd = d // h
    n1 = b.add("layer_norm", [x, c["ln1_w"], c["ln1_b"]])
    qkv = b.add("linear", [n1, c["qkv_w"], c["qkv_b"]])
    heads = []
    for i in range(3):
        s = b.add("slice", [qkv], axes=[2], starts=[i * d], ends=[(i + 1) * d], steps=[1])
        r = b.add("reshape", [s], shape=["batch", "seq", h, hd])
        heads.append(b.add("transpose", [r], perm=[0, 2, 1, 3]))
    att = b.add("attention", heads, scale=1 / math.sqrt(hd), causal=True)
    att = b.add("reshape", [b.add("transpose", [att], perm=[0, 2, 1, 3])], shape=["batch", "seq", d])
    x1 = b.add("add", [x, b.add("linear", [att, c["o_w"], c["o_b"]])])
    n2 = b.add("layer_norm", [x1, c["ln2_w"], c["ln2_b"]])
    m = b.add("gelu", [b.add("linear", [n2, c["fc_w"], c["fc_b"]])], approximate="tanh")
    y = b.add("add", [x1, b.add("linear", [m, c["pr_w"], c["pr_b"]])], name="y")
    b.output(y)
    g = b.build()

    xv = rnd(rng, 2, 11, d)
    t = {k: T(v) for k, v in p.items()}
    tx = T(xv)
    a = F.layer_norm(tx, (d,), t["ln1_w"], t["ln1_b"]) @ t["qkv_w"] + t["qkv_b"]
    q, k, v = (z.reshape(2, 11, h, hd).transpose(1, 2) for z in a.split(d, dim=-1))
    o = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(2, 11, d)
    tx1 = tx + o @ t["o_w"] + t["o_b"]
    mm = F.gelu(F.layer_norm(tx1, (d,), t["ln2_w"], t["ln2_b"]) @ t["fc_w"] + t["fc_b"], approximate="tanh")
    want = tx1 + mm @ t["pr_w"] + t["pr_b"]
    got = run_graph(g, {"x": xv})["y"]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-5)
