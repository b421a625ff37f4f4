"""The quantized reference: a QuantizedModel executed in numpy with exactly the overlay's arithmetic.

``run_quantized(qm, inputs)`` runs ``qm.graph`` node by node. Values between nodes are bf16 bit patterns (uint16;
float inputs and float constants are rounded to bf16 once, ``f32_to_bf16``); integer tensors (ids, indices) stay
integers and bool stays bool -- nodes on those alone are evaluated by the float interpreter's exact integer kernels
(``tataa.ir.interp.eval_node``), as the host or the address generators would compute them.

Systolic nodes (docs/semantics.md, ``tataa.quant.params``):

* a quantized ``linear``: F2I8 of the bf16 input with ``x.inv_scale_bf16`` (``numerics.bf16_to_int8``),
  int8 x int8 -> int32 exactly plus ``bias_q`` (wrapping modulo 2**32 like the ACC adder), then REQUANT to bf16
  per output channel (``requant_bf16``; truncated toward zero instead when ``recipe.truncate_requant``); then,
  for each outlier input channel c of ``lq.outliers`` in ascending order (their int8 weight rows are zero), one
  MAC on the SIMD lanes: y = bf16_fma(x[:, c], outlier_weight[c], y), a single rounding each;
* a quantized ``matmul``: the same with two activation encodings and one per-tensor requant word;
* a quantized ``attention``: Q.K^T in int8 -> requant to bf16 with the attention ``scale`` folded into the
  requant multiplier (:func:`qk_requant_word`) -> mask (additive 0 / -inf; bool and causal masks become that) ->
  softmax (bf16) -> P to int8 -> P.V in int8 -> requant to bf16; with ``aq.deferred_norm`` the softmax stops
  before its final multiply: e = exp(z - max) goes to int8 (scale 1/127), e.V is requantized to bf16 and each
  row is multiplied by the softmax's 1/REDSUM(e) (``bf16_ops.softmax_parts``); with ``aq.v_channels`` V goes
  through F2I8 with one inverse scale per (head, channel) (a vector operand) and P.V's REQUANT is per column;
* a node in ``qm.kept_bf16`` runs on the SIMD lanes instead: bf16 products (MUL) summed by REDSUM (fp32, lane
  order) -- ``bf16_ops.matmul_bf16``; an attention kept in bf16 multiplies its scores by bf16(scale).

The int8 products are exact: they are computed with float32 BLAS on chunks of K <= 1024, where every partial sum
(in whatever order BLAS adds) is an integer of magnitude at most 1024 * 128 * 128 = 2**24, which float32 holds
exactly; chunk sums are added in int64. (float64 BLAS, as ``numerics.gemm_int32`` uses, is exact too but about five
times slower on the LM heads.) Requantization multiplies the int32 accumulator by m * 2**-s in float64, which is
exact (|acc * m| < 2**47), and rounds once: ``numerics.requant_bf16`` bit for bit, without its int64 temporaries.

SIMD nodes run the functions of ``tataa.quant.bf16_ops`` (``Approximations.TATAA``) or, for
``Approximations.PAPER``, the published design's approximations of ``tataa.quant.paper_approx``. Ops the overlay
cannot execute (``log``, floating-point ``cumsum``, float -> integer casts, general powers) raise a QuantError
naming the node. ``array_size`` (N, default: the u280 configuration's) fixes the lane order of the reductions.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tataa import config
from tataa import numerics as nm
from tataa.codegen.builder import CodegenError
from tataa.codegen.simd.ops import Const
from tataa.errors import IRError
from tataa.ir.graph import Node
from tataa.ir.interp import KERNELS, Env, bind_inputs, eval_node
from tataa.ir.types import DType
from tataa.quant import bf16_ops as bo
from tataa.quant import paper_approx as pa
from tataa.quant.params import ActQuant, AttentionQuant, LinearQuant, MatmulQuant, QuantizedModel
from tataa.quant.recipe import Approximations, QuantError

U16 = npt.NDArray[np.uint16]
Observer = Callable[[Node, np.ndarray], Any]

INT_GEMM_CHUNK = 1024  # K per float32 GEMM: partial sums stay within 2**24, exact in float32


# ---------------------------------------------------------------------------------------------------- systolic side


def int8_matmul(a: npt.NDArray[np.int8], b: npt.NDArray[np.int8]) -> npt.NDArray[np.int64]:
    """Exact int8 a[..., M, K] @ b[..., K, N] (batch dims broadcast) as int64, by float32 GEMMs over K chunks."""
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"int8 matmul: shapes {list(a.shape)} and {list(b.shape)} do not multiply")
    k = a.shape[-1]
    acc: npt.NDArray[np.int64] | None = None
    for k0 in range(0, max(k, 1), INT_GEMM_CHUNK):
        part = np.matmul(a[..., k0:k0 + INT_GEMM_CHUNK].astype(np.float32),
                         b[..., k0:k0 + INT_GEMM_CHUNK, :].astype(np.float32)).astype(np.int64)
        acc = part if acc is None else acc + part
    assert acc is not None
    return acc


def to_int32(acc: npt.NDArray[np.int64], k: int, bias: npt.ArrayLike | None = None) -> npt.NDArray[np.int32]:
    """An int8 GEMM's int64 sum over K (plus an int32 bias) as the int32 ACC holds it: wrapped modulo 2**32, which
    is a plain conversion whenever K * 2**14 + max|bias| < 2**31 bounds every sum."""
    bound = k * (1 << 14) + (0 if bias is None else int(np.abs(np.asarray(bias, dtype=np.int64)).max(initial=0)))
    return acc.astype(np.int32) if bound < 1 << 31 else nm.wrap_int32(acc)


def requant_bf16(acc: npt.ArrayLike, scale_word: npt.ArrayLike) -> U16:
    """acc * m * 2**-s rounded once to bf16 (= ``numerics.requant_bf16``; the float64 product is exact)."""
    m, s = nm.unpack_scale(scale_word)
    p = np.asarray(acc).astype(np.float64)
    p *= np.ldexp(m.astype(np.float64), -s)
    p += 0.0  # an integer zero product is +0, never -0
    return nm.f64_to_bf16(p)


def requantize(acc: npt.ArrayLike, scale_word: npt.ArrayLike, truncate: bool) -> U16:
    """REQUANT to bf16: rounded to nearest even, or truncated toward zero (the published design)."""
    return pa.requant_bf16_truncate(acc, scale_word) if truncate else requant_bf16(acc, scale_word)


def f2i8(x: U16, act: ActQuant) -> npt.NDArray[np.int8]:
    """F2I8: saturate(RNE(x * inv_scale)) with the activation's bf16 inverse scale."""
    return nm.bf16_to_int8(x, np.uint16(act.inv_scale_bf16))


def qk_requant_word(aq: AttentionQuant, scale: float) -> int:
    """The packed requant word of an attention's Q.K^T: q.scale * k.scale * scale as m * 2**-s (one rounding)."""
    m, s = nm.scale_to_multiplier(aq.qk.a.scale * aq.qk.b.scale * float(scale))
    return int(nm.pack_scale(m, s))


def linear_int8(x: U16, lq: LinearQuant, truncate: bool = False) -> U16:
    """A quantized linear on bf16 x[..., K]: F2I8, int8 GEMM + int32 bias (wrapping), per-channel REQUANT."""
    k, n_out = lq.weight_q.shape
    x8 = f2i8(x.reshape(-1, k), lq.x)
    acc = int8_matmul(x8, lq.weight_q)
    if lq.bias_q is not None:
        acc += np.asarray(lq.bias_q, dtype=np.int64)
    y = requantize(to_int32(acc, k, lq.bias_q), np.asarray(lq.requant), truncate)
    if lq.outliers is not None and lq.outlier_weight is not None:
        xs = x.reshape(-1, k)
        for row, c in zip(lq.outlier_weight, lq.outliers, strict=True):  # one MAC per outlier channel, ascending
            y = nm.bf16_fma(xs[:, int(c), None], row[None, :], y)
    return y.reshape(*x.shape[:-1], n_out)


def matmul_int8(a: U16, b: U16, mq: MatmulQuant, truncate: bool = False) -> U16:
    """A quantized dynamic matmul: both operands through F2I8, int8 GEMM, one per-tensor REQUANT word."""
    acc = to_int32(int8_matmul(f2i8(a, mq.a), f2i8(b, mq.b)), a.shape[-1])
    return requantize(acc, mq.requant, truncate)


def attention_mask(mask: np.ndarray | None, causal: bool, shape: tuple[int, ...]) -> U16 | None:
    """The additive bf16 mask (0 / -inf, or a float mask's own bits) of scores of `shape`; None if nothing masks.

    A bool mask keeps its True entries; `causal` keeps key j <= query i.
    """
    add: U16 | None = None
    if mask is not None:
        if mask.dtype == np.bool_:
            add = np.where(np.broadcast_to(mask, shape), bo.ZERO, bo.NEG_INF).astype(np.uint16)
        else:
            add = np.broadcast_to(mask, shape)
    if causal:
        sq, sk = shape[-2], shape[-1]
        keep = np.arange(sk)[None, :] <= np.arange(sq)[:, None]
        base = np.zeros(shape, dtype=np.uint16) if add is None else add
        add = np.where(keep, base, bo.NEG_INF).astype(np.uint16)
    return add


@dataclass(frozen=True)
class SimdFunctions:
    """The approximating SIMD functions of one ``Approximations`` setting (array in, array out)."""

    exp: Callable[[U16], U16]
    reciprocal: Callable[[U16], U16]
    rsqrt: Callable[[U16], U16]
    sqrt: Callable[[U16], U16]
    tanh: Callable[[U16], U16]
    erf: Callable[[U16], U16]
    sigmoid: Callable[[U16], U16]
    silu: Callable[[U16], U16]
    gelu: Callable[[U16, str], U16]
    div: Callable[[U16, U16], U16]
    power: Callable[[U16, float], U16]
    softmax: Callable[..., U16]
    layer_norm: Callable[..., U16]
    rms_norm: Callable[..., U16]


def simd_functions(approximations: Approximations) -> SimdFunctions:
    """The functions of ``bf16_ops`` (TATAA) or ``paper_approx`` (PAPER)."""
    mod: Any = pa if approximations is Approximations.PAPER else bo
    return SimdFunctions(mod.exp, mod.reciprocal, mod.rsqrt, mod.sqrt, mod.tanh, mod.erf, mod.sigmoid, mod.silu,
                         mod.gelu, mod.div, mod.power, mod.softmax, mod.layer_norm, mod.rms_norm)


def attention_int8(q: U16, k: U16, v: U16, mask: U16 | None, aq: AttentionQuant, scale: float, n: int,
                   fns: SimdFunctions, truncate: bool = False) -> U16:
    """A quantized attention: int8 Q.K^T, REQUANT with the scale folded in, + mask, softmax, int8 P.V, REQUANT."""
    s_acc = to_int32(int8_matmul(f2i8(q, aq.qk.a), np.swapaxes(f2i8(k, aq.qk.b), -1, -2)), q.shape[-1])
    scores = requantize(s_acc, qk_requant_word(aq, scale), truncate)
    vc = aq.v_channels
    if vc is None:
        v8, pv_word = f2i8(v, aq.pv.b), np.asarray(aq.pv.requant)
    else:  # F2I8 with a vector of per-channel inverse scales; REQUANT per output column
        v8, pv_word = nm.bf16_to_int8(v, vc.along_keys(vc.inv_scale_bf16)), vc.along_keys(vc.requant)
    if aq.deferred_norm:
        e, r = bo.softmax_parts(scores, n, mask)
        o_acc = to_int32(int8_matmul(f2i8(e, aq.pv.a), v8), e.shape[-1])
        return nm.bf16_mul(requantize(o_acc, pv_word, truncate), r)
    p = fns.softmax(scores, -1, n, mask)
    o_acc = to_int32(int8_matmul(f2i8(p, aq.pv.a), v8), p.shape[-1])
    return requantize(o_acc, pv_word, truncate)


def attention_bf16(q: U16, k: U16, v: U16, mask: U16 | None, scale: float, n: int, fns: SimdFunctions) -> U16:
    """An attention kept in bf16: bf16 dot products (REDSUM), scores times bf16(scale), + mask, softmax, P.V."""
    scores = nm.bf16_mul(bo.matmul_bf16(q, np.swapaxes(k, -1, -2), n), np.uint16(Const.of(scale).bits))
    return bo.matmul_bf16(fns.softmax(scores, -1, n, mask), v, n)


# ---------------------------------------------------------------------------------------------------- execution


@functools.cache
def default_array_size() -> int:
    """N of the u280 configuration (the lane count that orders the reductions)."""
    return config.load("u280").array_size


def to_bits(arr: np.ndarray) -> U16:
    """A float array rounded once to bf16 patterns (bf16 arrays are taken as they are, subnormals flushed)."""
    if arr.dtype == np.float32:
        return nm.f32_to_bf16(arr)
    if arr.dtype == DType.BF16.numpy:
        return nm.f64_to_bf16(nm.bf16_to_f64(arr.view(np.uint16)))
    return nm.f64_to_bf16(arr.astype(np.float64))


_CONST_BITS: weakref.WeakKeyDictionary[QuantizedModel, dict[str, U16]] = weakref.WeakKeyDictionary()


class _Run:
    """The state of one execution: the model, bindings, live values and the model's bf16 constants."""

    def __init__(self, qm: QuantizedModel, env: Env, n: int) -> None:
        self.qm, self.g, self.env, self.n = qm, qm.graph, env, n
        self.fns = simd_functions(qm.recipe.approximations)
        self.truncate = qm.recipe.truncate_requant
        self.values: dict[str, np.ndarray] = {}
        self.consts = qm.graph.constant_map
        self.const_bits = _CONST_BITS.setdefault(qm, {})
        self.kept = frozenset(qm.kept_bf16)

    def is_float(self, name: str) -> bool:
        """Whether a value is floating point (held as bf16 bits)."""
        return self.g.type_of(name).dtype.is_float

    def value(self, name: str) -> np.ndarray:
        """A value by name: a live node/input value, or a constant (float constants as cached bf16 bits)."""
        v = self.values.get(name)
        if v is not None:
            return v
        raw = self.consts[name]
        if not self.is_float(name):
            return raw
        bits = self.const_bits.get(name)
        if bits is None:
            bits = self.const_bits[name] = to_bits(raw)
            bits.setflags(write=False)
        return bits

    def arg(self, node: Node, i: int) -> np.ndarray:
        """Input i of a node."""
        return self.value(node.inputs[i])

    def args(self, node: Node) -> list[np.ndarray]:
        """Every input of a node."""
        return [self.value(name) for name in node.inputs]

    def execute(self, node: Node) -> np.ndarray:
        """The node's value in overlay arithmetic (float values as bf16 bits)."""
        floaty = node.type.dtype.is_float or any(self.is_float(i) for i in node.inputs)
        if not floaty:
            return eval_node(node, self.args(node), self.env)
        handler = _HANDLERS.get(node.op)
        if handler is None:
            raise QuantError(f"node {node.name} ({node.op}): the overlay has no SIMD execution of {node.op!r} on "
                             "floating-point values")
        try:
            out = np.asarray(handler(self, node))
        except (QuantError, IRError):
            raise
        except (ValueError, TypeError, IndexError, OverflowError, CodegenError) as e:
            raise QuantError(f"node {node.name} ({node.op}): {e}") from None
        want = self.env.shape(node.type.shape)
        if out.shape != want:
            raise QuantError(f"node {node.name} ({node.op}): produced shape {list(out.shape)}, its type says "
                             f"{list(want)}")
        if node.type.dtype.is_float and out.dtype != np.uint16:
            raise QuantError(f"node {node.name} ({node.op}): produced {out.dtype} instead of bf16 bits")
        return out

    def not_quantized(self, node: Node) -> None:
        """Raise unless the node is one the recipe keeps in bf16."""
        if node.name not in self.kept:
            raise QuantError(f"node {node.name} ({node.op}): no int8 parameters in the QuantizedModel and not in "
                             "kept_bf16; quantize the graph (or keep the node in bf16) first")


Handler = Callable[[_Run, Node], np.ndarray]


def _linear(r: _Run, node: Node) -> np.ndarray:
    x = r.arg(node, 0)
    lq = r.qm.linears.get(node.name)
    if lq is not None:
        w_shape = tuple(r.g.type_of(node.inputs[1]).shape)
        if lq.weight_q.dtype != np.int8 or tuple(lq.weight_q.shape) != w_shape:
            raise QuantError(f"node {node.name} (linear): weight_q is {lq.weight_q.dtype}{list(lq.weight_q.shape)}, "
                             f"the graph's weight is {list(w_shape)} (int8 expected)")
        if len(node.inputs) == 3 and lq.bias_q is None:
            raise QuantError(f"node {node.name} (linear): the graph has a bias but LinearQuant.bias_q is None")
        return linear_int8(x, lq, r.truncate)
    r.not_quantized(node)
    w = r.arg(node, 1)
    y = bo.matmul_bf16(x.reshape(-1, w.shape[0]), w, r.n).reshape(*x.shape[:-1], w.shape[1])
    return nm.bf16_add(y, r.arg(node, 2)) if len(node.inputs) == 3 else y


def _matmul(r: _Run, node: Node) -> np.ndarray:
    a, b = r.args(node)
    mq = r.qm.matmuls.get(node.name)
    if mq is not None:
        return matmul_int8(a, b, mq, r.truncate)
    r.not_quantized(node)
    return bo.matmul_bf16(a, b, r.n)


def _attention(r: _Run, node: Node) -> np.ndarray:
    q, k, v = (r.arg(node, i) for i in range(3))
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    shape = (*batch, q.shape[-2], k.shape[-2])
    mask = attention_mask(r.arg(node, 3) if len(node.inputs) == 4 else None, node.attr("causal"), shape)
    aq = r.qm.attentions.get(node.name)
    if aq is not None:
        return attention_int8(q, k, v, mask, aq, node.attr("scale"), r.n, r.fns, r.truncate)
    r.not_quantized(node)
    return attention_bf16(q, k, v, mask, node.attr("scale"), r.n, r.fns)


def _binary(fn: Callable[[U16, U16], U16]) -> Handler:
    return lambda r, node: fn(*r.args(node))


def _unary(pick: Callable[[_Run], Callable[[U16], U16]]) -> Handler:
    return lambda r, node: pick(r)(r.arg(node, 0))


def _compare(r: _Run, node: Node) -> np.ndarray:
    return bo.compare(node.op, *r.args(node))


def _pow(r: _Run, node: Node) -> np.ndarray:
    x, e = r.args(node)
    ev = np.unique(nm.bf16_to_f64(e))
    if ev.size != 1:
        raise QuantError(f"node {node.name} (pow): the exponent must be one constant value on the SIMD lanes, got "
                         f"{ev.size} different values")
    y = r.fns.power(x, float(ev[0]))
    return np.broadcast_to(y, np.broadcast_shapes(x.shape, e.shape))


def _cast(r: _Run, node: Node) -> np.ndarray:
    x = r.arg(node, 0)
    src, dst = r.g.type_of(node.inputs[0]).dtype, node.type.dtype
    if src.is_float and dst.is_float:
        return x
    if src.is_float and dst is DType.BOOL:
        return nm.bf16_cmpeq(x, bo.ZERO) == 0
    if src.is_float:
        raise QuantError(f"node {node.name} (cast): {src.value} -> {dst.value} has no overlay instruction (F2I8 "
                         "only converts to int8 with a scale)")
    return nm.f64_to_bf16(x.astype(np.float64))


def _reduce(r: _Run, node: Node) -> np.ndarray:
    return bo.reduce(node.op, r.arg(node, 0), node.attr("axes"), node.attr("keepdims"), r.n)


def _softmax(r: _Run, node: Node) -> np.ndarray:
    return r.fns.softmax(r.arg(node, 0), node.attr("axis"), r.n)


def _layer_norm(r: _Run, node: Node) -> np.ndarray:
    x, *p = r.args(node)
    return r.fns.layer_norm(x, node.attr("axis"), node.attr("eps"), p[0] if p else None,
                            p[1] if len(p) > 1 else None, r.n)


def _rms_norm(r: _Run, node: Node) -> np.ndarray:
    x, *p = r.args(node)
    return r.fns.rms_norm(x, node.attr("axis"), node.attr("eps"), p[0] if p else None, r.n)


def _rotary(r: _Run, node: Node) -> np.ndarray:
    return bo.rotary(*r.args(node), interleaved=node.attr("interleaved"))


def _layout(r: _Run, node: Node) -> np.ndarray:
    return KERNELS[node.op](node, r.args(node), r.env)


def _gather(r: _Run, node: Node) -> np.ndarray:
    name = node.inputs[0]
    if name in r.values or name in r.const_bits:
        return _layout(r, node)
    # a float table constant (an embedding): gather its rows first, then round only those to bf16
    return to_bits(KERNELS["gather"](node, [r.consts[name], r.arg(node, 1)], r.env))


def _generate(r: _Run, node: Node) -> np.ndarray:
    return nm.f64_to_bf16(np.asarray(KERNELS[node.op](node, [], r.env), dtype=np.float64))


def _refuse(why: str) -> Handler:
    def run(r: _Run, node: Node) -> np.ndarray:
        raise QuantError(f"node {node.name} ({node.op}): {why}")

    return run


_HANDLERS: dict[str, Handler] = {
    "linear": _linear,
    "matmul": _matmul,
    "attention": _attention,
    "add": _binary(bo.add),
    "sub": _binary(bo.sub),
    "mul": _binary(bo.mul),
    "maximum": _binary(bo.maximum),
    "minimum": _binary(bo.minimum),
    "div": lambda r, node: r.fns.div(*r.args(node)),
    "pow": _pow,
    **{op: _compare for op in bo.COMPARES},
    "where": lambda r, node: bo.where(*r.args(node)),
    "neg": _unary(lambda r: bo.neg),
    "abs": _unary(lambda r: bo.absolute),
    "relu": _unary(lambda r: bo.relu),
    "exp": _unary(lambda r: r.fns.exp),
    "sqrt": _unary(lambda r: r.fns.sqrt),
    "rsqrt": _unary(lambda r: r.fns.rsqrt),
    "reciprocal": _unary(lambda r: r.fns.reciprocal),
    "tanh": _unary(lambda r: r.fns.tanh),
    "erf": _unary(lambda r: r.fns.erf),
    "sigmoid": _unary(lambda r: r.fns.sigmoid),
    "silu": _unary(lambda r: r.fns.silu),
    "gelu": lambda r, node: r.fns.gelu(r.arg(node, 0), node.attr("approximate")),
    "log": _refuse("the overlay has no logarithm recipe"),
    "cumsum": _refuse("a floating-point prefix sum has no SIMD kernel on the overlay"),
    "cast": _cast,
    **{op: _reduce for op in bo.REDUCTIONS},
    "softmax": _softmax,
    "layer_norm": _layer_norm,
    "rms_norm": _rms_norm,
    "rotary": _rotary,
    **{op: _layout for op in ("reshape", "transpose", "slice", "concat", "expand")},
    "gather": _gather,
    "arange": _generate,
    "full": _generate,
}


def decode(node_type_is_float: bool, value: np.ndarray) -> np.ndarray:
    """A value as the caller sees it: float32 for bf16 bits (exact), integers and bools unchanged."""
    return nm.bf16_to_f32(value) if node_type_is_float else value


def run_quantized(qm: QuantizedModel, inputs: Mapping[str, Any], *, outputs: Sequence[str] | None = None,
                  observer: Observer | None = None, array_size: int | None = None) -> dict[str, np.ndarray]:
    """Execute a quantized model in the overlay's arithmetic; returns the requested values (default: the graph
    outputs) by name, float ones as float32 arrays holding bf16 values.

    Inputs are as for ``run_graph`` (float inputs are rounded to bf16 once). ``observer(node, value)`` is called
    after every node with its value (float32 for floating-point nodes). ``array_size`` is N (default: u280's).
    """
    g = qm.graph
    wanted = tuple(g.outputs if outputs is None else outputs)
    for name in wanted:
        g.type_of(name)
    n = default_array_size() if array_size is None else int(array_size)
    if n < 1 or n & (n - 1):
        raise QuantError(f"array_size {array_size} must be a power of two (the lanes of a VEC word)")
    arrays, bindings = bind_inputs(g, inputs)
    r = _Run(qm, Env(bindings), n)
    for name, arr in arrays.items():
        r.values[name] = to_bits(arr) if r.is_float(name) else arr
    keep = set(wanted)
    last_use: dict[str, int] = {}
    for i, node in enumerate(g.nodes):
        for name in node.inputs:
            last_use[name] = i
    results: dict[str, np.ndarray] = {name: r.values[name] for name in wanted if name in r.values}
    with np.errstate(all="ignore"):
        for i, node in enumerate(g.nodes):
            out = r.execute(node)
            if observer is not None:
                observer(node, decode(node.type.dtype.is_float, out))
            if node.name in keep:
                results[node.name] = out
            if last_use.get(node.name, -1) > i:
                r.values[node.name] = out
            for name in node.inputs:
                if last_use[name] == i:
                    r.values.pop(name, None)
    for name in wanted:
        if name not in results:
            results[name] = r.value(name)
    return {name: np.array(decode(r.is_float(name), results[name]), order="C") for name in wanted}


__all__ = ["INT_GEMM_CHUNK", "SimdFunctions", "attention_bf16", "attention_int8", "attention_mask", "decode",
           "default_array_size", "f2i8", "int8_matmul", "linear_int8", "matmul_int8", "qk_requant_word",
           "requant_bf16", "requantize", "run_quantized", "simd_functions", "to_bits", "to_int32"]
