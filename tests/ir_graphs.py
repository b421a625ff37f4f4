"""Valid IR graphs for tests: a hypothesis strategy over (almost) every op, hand-built edge cases, and a bit-exact key.

``graphs()`` draws graphs built with ``GraphBuilder`` from random op applications whose inputs are chosen so that
shape inference succeeds: symbolic and expression dims, scalars, zero-size dims, every element type, constants with
arbitrary bit patterns (NaN payloads, -0.0), float attributes including inf/nan/-0.0, variadic concat, 0-input ops.
``graph_key`` compares graphs exactly (attribute floats by their bits, so -0.0 differs from 0.0; NaNs compare equal).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tataa.ir import OPS, DType, Graph, GraphBuilder, TensorType
from tataa.ir.dims import Dim, mul_dims

SYMBOLS = ("batch", "seq", "n", "graph", "const", "nan", "f32", "true")  # keywords of the text form as size names
EXPRESSIONS = ("batch*seq", "seq+1", "2*n", "seq-1", "n//2", "batch*seq+3")
FLOATS = (DType.F64, DType.F32, DType.F16, DType.BF16)
INTS = (DType.I64, DType.I32, DType.I8, DType.U8)
ALL_DTYPES = tuple(DType)
NUMERIC = FLOATS + INTS
SPECIAL_FLOATS = (0.0, -0.0, math.inf, -math.inf, math.nan, 1e-5, 1.0 / 3.0, 5e-324, 1e308, -2.5)

names = st.sampled_from(("x", "h", "_t0", "layer.0.attn.q_proj", "W", "a.b", "mlp.fc1.weight", "v_1", "const",
                         "graph", "dense", "blob", "nan", "inf", "true", "f32", "model/Add_1:0", "0.bias"))
"""Name hints (the builder turns them into unique identifiers; some are keywords of the text form)."""
float_attrs = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(allow_nan=True, allow_infinity=True))


def static_dims() -> st.SearchStrategy[int]:
    """A small static size, zero included."""
    return st.one_of(st.integers(1, 4), st.just(0))


def any_dims() -> st.SearchStrategy[Dim]:
    """A static size, a size name, or a size expression."""
    return st.one_of(static_dims(), st.sampled_from(SYMBOLS[:3]), st.sampled_from(SYMBOLS[3:]),
                     st.sampled_from(EXPRESSIONS))


def constant_values(dtype: DType, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Arrays of any bit pattern (NaN payloads, -0.0, subnormals) or of ordinary values."""
    n = int(np.prod(shape, dtype=np.int64))
    size = dtype.numpy.itemsize

    def from_bytes(raw: bytes) -> np.ndarray:
        if dtype is DType.BOOL:
            return (np.frombuffer(raw, np.uint8) % 2).astype(np.bool_).reshape(shape)
        return np.frombuffer(raw, dtype.numpy).reshape(shape).copy()

    bits = st.binary(min_size=n * size, max_size=n * size).map(from_bytes)
    if not dtype.is_float:
        return bits
    def from_floats(xs: list[float]) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.array(xs, np.float64).reshape(shape).astype(dtype.numpy)

    nice = st.lists(st.sampled_from(SPECIAL_FLOATS) | st.floats(-1e4, 1e4), min_size=n, max_size=n).map(from_floats)
    return st.one_of(bits, nice)


@dataclass
class _Ctx:
    """A graph under construction and the values defined so far."""

    draw: Callable[[st.SearchStrategy[Any]], Any]
    b: GraphBuilder
    ops: frozenset[str] = frozenset(OPS)
    values: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)

    def choose(self, ops: tuple[str, ...]) -> str:
        """One of these ops, among those the graph may use."""
        return self.draw(st.sampled_from([o for o in ops if o in self.ops]))

    def t(self, name: str) -> TensorType:
        return self.b.type_of(name)

    def leaf(self, t: TensorType) -> str:
        """A new input of this type, or a constant when the type is static."""
        if t.is_static and self.draw(st.booleans()):
            shape = tuple(int(d) for d in t.shape)
            arr = self.draw(constant_values(t.dtype, shape))
            name = self.b.constant(arr, self.draw(names), dtype=t.dtype)
        else:
            name = self.b.input(self.draw(names), t)
        self.values.append(name)
        return name

    def pick(self, ok: Callable[[TensorType], bool], make: Callable[[], TensorType]) -> str:
        """An existing value whose type passes ``ok``, or a new leaf of a drawn type."""
        have = [v for v in self.values if ok(self.t(v))]
        if have and self.draw(st.integers(0, 3)):
            return self.draw(st.sampled_from(have))
        return self.leaf(make())

    def exact(self, t: TensorType) -> str:
        """A value of exactly this type (existing or new)."""
        return self.pick(lambda u: u == t, lambda: t)

    def add(self, op: str, inputs: list[str], **attrs: Any) -> str:
        name = self.b.add(op, inputs, name=self.draw(st.one_of(st.none(), names)), **attrs)
        self.values.append(name)
        self.nodes.append(name)
        return name

    def new_type(self, dtypes: tuple[DType, ...] = ALL_DTYPES, min_rank: int = 0, max_rank: int = 3,
                 dims: st.SearchStrategy[Dim] | None = None) -> TensorType:
        dtype = self.draw(st.sampled_from(dtypes))
        rank = self.draw(st.integers(min_rank, max_rank))
        shape = tuple(self.draw(dims or any_dims()) for _ in range(rank))
        return TensorType(dtype, shape)

    def value(self, dtypes: tuple[DType, ...] = ALL_DTYPES, min_rank: int = 0, max_rank: int = 3) -> str:
        return self.pick(lambda u: u.dtype in dtypes and min_rank <= u.rank <= max_rank,
                         lambda: self.new_type(dtypes, min_rank, max_rank))

    def axis(self, rank: int) -> int:
        return self.draw(st.integers(-rank, rank - 1))

    def broadcast_partner(self, t: TensorType, dtype: DType | None = None) -> str:
        """A value whose shape broadcasts against ``t`` without changing it (a suffix, some dims set to 1)."""
        keep = self.draw(st.integers(0, t.rank))
        shape = tuple(1 if self.draw(st.booleans()) else d for d in t.shape[t.rank - keep:])
        return self.exact(TensorType(dtype or t.dtype, shape))


# ---------------------------------------------------------------------------------------------------- recipes

_UNARY_FLOAT = ("exp", "log", "sqrt", "rsqrt", "reciprocal", "tanh", "erf", "sigmoid", "relu", "silu")
_BINARY = ("add", "sub", "mul", "div", "pow", "maximum", "minimum")
_COMPARE = ("equal", "less", "less_equal", "greater", "greater_equal")


def _unary_float(c: _Ctx) -> None:
    c.add(c.choose(_UNARY_FLOAT), [c.value(FLOATS)])


def _unary_any(c: _Ctx) -> None:
    c.add(c.choose(("neg", "abs")), [c.value(NUMERIC)])


def _gelu(c: _Ctx) -> None:
    c.add("gelu", [c.value(FLOATS)], approximate=c.draw(st.sampled_from(("none", "tanh"))))


def _cast(c: _Ctx) -> None:
    c.add("cast", [c.value()], dtype=c.draw(st.sampled_from(ALL_DTYPES)))


def _binary(c: _Ctx) -> None:
    x = c.value(NUMERIC)
    y = c.broadcast_partner(c.t(x))
    pair = [x, y] if c.draw(st.booleans()) else [y, x]
    c.add(c.choose(_BINARY + _COMPARE), pair)


def _logical(c: _Ctx) -> None:
    x = c.value((DType.BOOL,))
    op = c.choose(("logical_not", "logical_and", "logical_or"))
    c.add(op, [x] if op == "logical_not" else [x, c.broadcast_partner(c.t(x))])


def _where(c: _Ctx) -> None:
    x = c.value()
    cond = c.broadcast_partner(c.t(x), DType.BOOL)
    c.add("where", [cond, x, c.broadcast_partner(c.t(x))])


def _reduce(c: _Ctx) -> None:
    x = c.value(NUMERIC, min_rank=1)
    rank = c.t(x).rank
    axes = c.draw(st.lists(st.integers(0, rank - 1), unique=True, max_size=rank))
    axes = [a - rank if c.draw(st.booleans()) else a for a in axes]
    op = c.choose(("reduce_sum", "reduce_mean", "reduce_max", "reduce_min"))
    c.add(op, [x], axes=axes, keepdims=c.draw(st.booleans()))


def _along_axis(c: _Ctx) -> None:
    if c.choose(("cumsum", "softmax")) == "cumsum":
        x = c.value(NUMERIC, min_rank=1)
        c.add("cumsum", [x], axis=c.axis(c.t(x).rank))
    else:
        x = c.value(FLOATS, min_rank=1)
        c.add("softmax", [x], axis=c.axis(c.t(x).rank))


def _norm(c: _Ctx) -> None:
    x = c.value(FLOATS, min_rank=1)
    t = c.t(x)
    axis = c.axis(t.rank)
    tail = TensorType(t.dtype, t.shape[axis % t.rank:])
    op = c.choose(("layer_norm", "rms_norm"))
    params = [c.exact(tail) for _ in range(c.draw(st.integers(0, 2 if op == "layer_norm" else 1)))]
    c.add(op, [x, *params], axis=axis, eps=c.draw(float_attrs))


def _rotary(c: _Ctx) -> None:
    half = c.draw(st.integers(0, 3))
    x = c.pick(lambda u: u.dtype.is_float and u.rank >= 1 and isinstance(u.shape[-1], int) and u.shape[-1] % 2 == 0,
               lambda: TensorType(c.draw(st.sampled_from(FLOATS)), (*c.new_type(FLOATS, 0, 2).shape, 2 * half)))
    t = c.t(x)
    cos = c.broadcast_partner(t)
    sin = c.broadcast_partner(t)
    c.add("rotary", [x, cos, sin], interleaved=c.draw(st.booleans()))


def _gather(c: _Ctx) -> None:
    data = c.value(min_rank=1)
    idx = c.value(INTS, max_rank=2)
    c.add("gather", [data, idx], axis=c.axis(c.t(data).rank))


def _reshape(c: _Ctx) -> None:
    x = c.value()
    shape = c.t(x).shape
    numel = mul_dims(*shape) if shape else 1
    target = c.draw(st.sampled_from([(numel,), (*shape, 1), (1, *shape), tuple(reversed(shape)), ()]))
    if target == () and numel != 1:
        target = (numel,)
    c.add("reshape", [x], shape=list(target))


def _transpose(c: _Ctx) -> None:
    x = c.value()
    c.add("transpose", [x], perm=c.draw(st.permutations(range(c.t(x).rank))))


def _slice(c: _Ctx) -> None:
    x = c.value(min_rank=1)
    t = c.t(x)
    axes = c.draw(st.lists(st.integers(0, t.rank - 1), unique=True, min_size=1, max_size=t.rank))
    starts, ends, steps = [], [], []
    for ax in axes:
        size = t.shape[ax]
        if isinstance(size, int):
            end = c.draw(st.integers(0, size))
            start = c.draw(st.integers(0, end))
        else:
            start, end = c.draw(st.sampled_from([0, 1])), size
        starts.append(start)
        ends.append(end)
        steps.append(c.draw(st.integers(1, 3)))
    axes = [a - t.rank if c.draw(st.booleans()) else a for a in axes]
    c.add("slice", [x], axes=axes, starts=starts, ends=ends, steps=steps)


def _concat(c: _Ctx) -> None:
    x = c.value(min_rank=1)
    t = c.t(x)
    axis = c.axis(t.rank)
    parts = [x]
    for _ in range(c.draw(st.integers(0, 4))):
        if c.draw(st.booleans()):
            parts.append(c.draw(st.sampled_from(parts)))
        else:
            shape = list(t.shape)
            shape[axis] = c.draw(any_dims())
            parts.append(c.exact(TensorType(t.dtype, tuple(shape))))
    c.add("concat", parts, axis=axis)


def _expand(c: _Ctx) -> None:
    x = c.value()
    t = c.t(x)
    lead = [c.draw(any_dims()) for _ in range(c.draw(st.integers(0, 2)))]
    shape = [c.draw(any_dims()) if d == 1 and c.draw(st.booleans()) else d for d in t.shape]
    c.add("expand", [x], shape=lead + shape)


def _arange(c: _Ctx) -> None:
    start = c.draw(st.integers(0, 3))
    stop = c.draw(st.one_of(st.integers(start, start + 6), st.sampled_from(("seq", "batch*seq", "n+3"))))
    if isinstance(stop, str) and start > 1:
        start = 1
    c.add("arange", [], start=start, stop=stop, step=c.draw(st.integers(1, 3)), dtype=c.draw(st.sampled_from(NUMERIC)))


def _full(c: _Ctx) -> None:
    shape = [c.draw(any_dims()) for _ in range(c.draw(st.integers(0, 3)))]
    c.add("full", [], shape=shape, value=c.draw(float_attrs), dtype=c.draw(st.sampled_from(ALL_DTYPES)))


def _linear(c: _Ctx) -> None:
    x = c.value(FLOATS, min_rank=1)
    t = c.t(x)
    n = c.draw(any_dims())
    w = c.exact(TensorType(t.dtype, (t.shape[-1], n)))
    bias = [c.exact(TensorType(t.dtype, (n,)))] if c.draw(st.booleans()) else []
    c.add("linear", [x, w, *bias])


def _matmul(c: _Ctx) -> None:
    a = c.value(FLOATS + INTS, min_rank=2)
    t = c.t(a)
    batch = t.shape[:-2]
    keep = c.draw(st.integers(0, len(batch)))
    bshape = tuple(1 if c.draw(st.booleans()) else d for d in batch[len(batch) - keep:])
    b = c.exact(TensorType(t.dtype, (*bshape, t.shape[-1], c.draw(any_dims()))))
    c.add("matmul", [a, b])


def _attention(c: _Ctx) -> None:
    q = c.value(FLOATS, min_rank=2)
    t = c.t(q)
    lk = c.draw(any_dims())
    k = c.exact(TensorType(t.dtype, (*t.shape[:-2], lk, t.shape[-1])))
    v = c.exact(TensorType(t.dtype, (*t.shape[:-2], lk, c.draw(any_dims()))))
    inputs = [q, k, v]
    if c.draw(st.booleans()):
        full = TensorType(c.draw(st.sampled_from((DType.BOOL, t.dtype))), (*t.shape[:-1], lk))
        inputs.append(c.broadcast_partner(full))
    c.add("attention", inputs, scale=c.draw(float_attrs), causal=c.draw(st.booleans()))


RECIPES: dict[Callable[[_Ctx], None], tuple[str, ...]] = {
    _unary_float: _UNARY_FLOAT, _unary_any: ("neg", "abs"), _gelu: ("gelu",), _cast: ("cast",),
    _binary: _BINARY + _COMPARE, _logical: ("logical_not", "logical_and", "logical_or"), _where: ("where",),
    _reduce: ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min"), _along_axis: ("cumsum", "softmax"),
    _norm: ("layer_norm", "rms_norm"), _rotary: ("rotary",), _gather: ("gather",), _reshape: ("reshape",),
    _transpose: ("transpose",), _slice: ("slice",), _concat: ("concat",), _expand: ("expand",),
    _arange: ("arange",), _full: ("full",), _linear: ("linear",), _matmul: ("matmul",), _attention: ("attention",),
}
"""Each recipe adds one node of one of its ops; together they cover ``tataa.ir.ops.OPS``."""


@st.composite
def graphs(draw: st.DrawFn, max_nodes: int = 12, ops: tuple[str, ...] | None = None) -> Graph:
    """A valid graph of 1..max_nodes nodes (of the given ops, else of any), with 1..3 outputs."""
    allowed = frozenset(OPS if ops is None else ops)
    recipes = [r for r, produces in RECIPES.items() if allowed & set(produces)]
    graph_name = draw(st.one_of(names, st.text(max_size=8)))
    c = _Ctx(draw, GraphBuilder(graph_name), allowed)
    for _ in range(draw(st.integers(0, 2))):
        c.leaf(c.new_type())
    for _ in range(draw(st.integers(1, max_nodes))):
        draw(st.sampled_from(recipes))(c)
    outs = draw(st.lists(st.sampled_from(c.nodes + c.values), min_size=1, max_size=3))
    c.b.output(*outs)
    return c.b.build()


# ---------------------------------------------------------------------------------------------------- comparison


def _attr_key(v: Any) -> Any:
    if isinstance(v, float):
        return ("float", "nan" if math.isnan(v) else v.hex())
    if isinstance(v, tuple):
        return tuple(_attr_key(x) for x in v)
    return (type(v).__name__, v)


def graph_key(g: Graph) -> tuple[Any, ...]:
    """Everything that defines a graph, bit-exact: constants by bytes, float attributes by bits (NaNs alike)."""
    return (
        g.name,
        tuple((v.name, v.type) for v in g.inputs),
        tuple((c.name, c.value.dtype.str, c.value.shape, c.value.tobytes()) for c in g.constants),
        tuple((n.name, n.op, n.inputs, tuple((k, _attr_key(v)) for k, v in n.attrs), n.type) for n in g.nodes),
        g.outputs,
    )


def has_nan_attr(g: Graph) -> bool:
    """Whether some float attribute is NaN (``==`` on such graphs is False even against themselves)."""
    return any(isinstance(v, float) and math.isnan(v) for n in g.nodes for _, v in n.attrs)


def large_constants(g: Graph, inline_limit: int) -> dict[str, np.ndarray]:
    """The constants ``print_graph(g, inline_limit)`` writes as digests, by name (the weights to parse it back)."""
    return {c.name: c.value for c in g.constants if c.value.size > inline_limit}


# ------------------------------------------------------------------------------------------------ a model-sized graph


def decoder_graph(layers: int, d_model: int = 32, heads: int = 4, vocab: int = 50, seed: int = 0) -> Graph:
    """A GPT-2-like decoder as an exporter leaves it before pattern folding (decomposed LayerNorm, GELU, attention),
    over symbolic ``batch`` and ``seq``: 49 nodes and 15 constants per layer."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder("decoder")
    f32 = DType.F32
    hd = d_model // heads

    def w(name: str, *shape: int) -> str:
        return b.constant(rng.standard_normal(shape).astype(np.float32), name)

    def layer_norm(x: str, p: str) -> str:
        mean = b.add("reduce_mean", [x], name=f"{p}.mean", axes=[-1])
        xc = b.add("sub", [x, mean], name=f"{p}.centered")
        var = b.add("reduce_mean", [b.add("mul", [xc, xc], name=f"{p}.sq")], name=f"{p}.var", axes=[-1])
        std = b.add("sqrt", [b.add("add", [var, eps], name=f"{p}.var_eps")], name=f"{p}.std")
        y = b.add("div", [xc, std], name=f"{p}.normed")
        return b.add("add", [b.add("mul", [y, w(f"{p}.weight", d_model)], name=f"{p}.scaled"),
                             w(f"{p}.bias", d_model)], name=f"{p}.out")

    ids = b.input("input_ids", TensorType(DType.I64, ("batch", "seq")))
    eps = b.constant(np.float32(1e-5), "eps")
    half = b.constant(np.float32(0.5), "half")
    one = b.constant(np.float32(1.0), "one")
    c0 = b.constant(np.float32(0.044715), "gelu_c")
    k = b.constant(np.float32(np.sqrt(2 / np.pi)), "gelu_k")
    three = b.constant(np.float32(3.0), "three")
    scale = b.constant(np.float32(1 / np.sqrt(hd)), "attn_scale")
    pos = b.add("arange", [], name="positions", stop="seq", dtype=DType.I64)
    x = b.add("add", [b.add("gather", [w("wte", vocab, d_model), ids], name="tok_emb"),
                      b.add("gather", [w("wpe", 64, d_model), pos], name="pos_emb")], name="emb")
    mask = b.add("full", [], name="mask", shape=["seq", "seq"], value=float("-inf"), dtype=f32)
    for i in range(layers):
        p = f"h.{i}"
        h = layer_norm(x, f"{p}.ln_1")
        qkv = b.add("linear", [h, w(f"{p}.attn.c_attn.weight", d_model, 3 * d_model),
                               w(f"{p}.attn.c_attn.bias", 3 * d_model)], name=f"{p}.attn.qkv")
        heads_ = []
        for j, part in enumerate("qkv"):
            s = b.add("slice", [qkv], name=f"{p}.attn.{part}", axes=[-1], starts=[j * d_model],
                      ends=[(j + 1) * d_model], steps=[1])
            r = b.add("reshape", [s], name=f"{p}.attn.{part}_heads", shape=["batch", "seq", heads, hd])
            heads_.append(b.add("transpose", [r], name=f"{p}.attn.{part}_t", perm=[0, 2, 1, 3]))
        q, kk, v = heads_
        kt = b.add("transpose", [kk], name=f"{p}.attn.k_tt", perm=[0, 1, 3, 2])
        scores = b.add("mul", [b.add("matmul", [q, kt], name=f"{p}.attn.qk"), scale], name=f"{p}.attn.scaled")
        probs = b.add("softmax", [b.add("add", [scores, mask], name=f"{p}.attn.masked")], name=f"{p}.attn.probs")
        ctx = b.add("transpose", [b.add("matmul", [probs, v], name=f"{p}.attn.pv")], name=f"{p}.attn.ctx_t",
                    perm=[0, 2, 1, 3])
        ctx = b.add("reshape", [ctx], name=f"{p}.attn.ctx", shape=["batch", "seq", d_model])
        o = b.add("linear", [ctx, w(f"{p}.attn.c_proj.weight", d_model, d_model),
                             w(f"{p}.attn.c_proj.bias", d_model)], name=f"{p}.attn.out")
        x = b.add("add", [x, o], name=f"{p}.res_1")
        h = layer_norm(x, f"{p}.ln_2")
        u = b.add("linear", [h, w(f"{p}.mlp.c_fc.weight", d_model, 4 * d_model),
                             w(f"{p}.mlp.c_fc.bias", 4 * d_model)], name=f"{p}.mlp.fc")
        cube = b.add("mul", [b.add("pow", [u, three], name=f"{p}.mlp.cube"), c0], name=f"{p}.mlp.cube_c")
        inner = b.add("mul", [b.add("add", [u, cube], name=f"{p}.mlp.poly"), k], name=f"{p}.mlp.inner")
        t = b.add("add", [b.add("tanh", [inner], name=f"{p}.mlp.tanh"), one], name=f"{p}.mlp.tanh_1")
        g = b.add("mul", [b.add("mul", [u, half], name=f"{p}.mlp.half"), t], name=f"{p}.mlp.gelu")
        m = b.add("linear", [g, w(f"{p}.mlp.c_proj.weight", 4 * d_model, d_model),
                             w(f"{p}.mlp.c_proj.bias", d_model)], name=f"{p}.mlp.out")
        x = b.add("add", [x, m], name=f"{p}.res_2")
    logits = b.add("linear", [layer_norm(x, "ln_f"), w("lm_head", d_model, vocab)], name="logits")
    b.output(logits)
    return b.build()
