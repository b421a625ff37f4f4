"""The published TATAA design's bf16 approximations (``Approximations.PAPER``), for comparison with ours.

Source: issue 5 ("exp as 2^floor(x/ln2) without max-subtraction, division as x*rsqrt(y)^2, a Pade tanh,
truncating requantization") and the published design's open-source quantizer (github.com/CASR-HKU/TATAA,
``compilation/parser/*/quant_module.py``), whose formulas are re-expressed here with the overlay's SIMD primitives:

* **exp** (softmax): ``2**floor(x * c)``, c = bf16(1/ln 2) = 1.4453125: MUL, then LDEXP of 1.0 (which floors).
  The fractional part of the exponent is dropped, an error of up to a factor 2. Softmax applies it to the raw
  logits, with **no max subtraction**: a logit above 128*ln 2 ~ 88.7 overflows to inf, the row sum becomes inf and
  the row is lost.
* **rsqrt**: seed ``0x5F37 - (pattern >> 1)`` and **one** Newton step ``y * (1.5 - (x/2 * y) * y)``.
* **division** a/y as ``(a * r) * r`` with r = rsqrt(|y|) (negated for y < 0); reciprocal = 1/y alike. Softmax
  divides by the row sum this way.
* **tanh**: the Pade approximant ``x (27 + x^2) / (27 + 9 x^2)``, the division as above, clamped to [-1, 1]. (The
  published code forms 27 as three additions of the constant 9; here 27 is one constant.)
* **GELU** (both forms): the tanh formula ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` with the Pade tanh,
  in the published order x*x, *x, *0.044715, +x, *sqrt(2/pi), tanh, +1, *x, *0.5.
* **LayerNorm**: one-pass statistics, ``mean = sum(x) * (1/n)``, ``var = sum(x^2) * (1/n) - mean^2`` (1/n a bf16
  constant; REDSUM / REDSUMSQ), the one-step rsqrt of ``var + eps``, ``(x - mean) * rstd``, ``* gamma``, ``+ beta``.
* **requantization** truncates: ``acc * m * 2**-s`` is rounded toward zero to bf16 instead of to nearest even.

Not in the published design (it has no Llama-style layers), extrapolated in the same style and marked so:
sigmoid ``0.5 + 0.5 tanh(x/2)``, SiLU ``x * sigmoid(x)``, erf ``tanh(2/sqrt(pi) (x + 0.08943 x^3))`` (the GELU tanh
formula rewritten for erf), sqrt ``x * rsqrt(x)``, RMSNorm ``x * rsqrt(sum(x^2)/n + eps) * gamma``.

Each approximation is a recipe against ``SimdOps`` (so it can be emitted for the overlay and evaluated by
``NumpySimd``); the array functions below apply the elementwise ones by table (``bf16_ops.tabulate``) and run the
row-wise ones in the layout of ``bf16_ops``, with the same signatures as their ``bf16_ops`` counterparts.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from tataa import numerics as nm
from tataa.codegen.simd.ops import Const, Kind, SimdOps
from tataa.codegen.simd.rowwise import RowKernel, evaluate
from tataa.isa.spec import VFunct
from tataa.quant import bf16_ops as bo

V = TypeVar("V")
U16 = npt.NDArray[np.uint16]

INV_LN2 = 1.0 / math.log(2.0)  # rounded to bf16 by the constant register: 1.4453125
RSQRT_MAGIC = 0x5F37
PADE_A, PADE_B = 27.0, 9.0
GELU_C = 0.044715
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
ERF_A = 2.0 / math.sqrt(math.pi)  # erf(z) ~ tanh(ERF_A * (z + ERF_C * z^3)): the GELU formula at x = sqrt(2) z
ERF_C = 2.0 * GELU_C


# ---------------------------------------------------------------------------------------------------- recipes


def exp2_floor(o: SimdOps[V], x: V) -> V:
    """2**floor(x * bf16(1/ln 2)): MUL, then LDEXP of 1.0 (LDEXP floors its exponent operand)."""
    return o.ldexp(o.splat(Const.of(1.0)), o.mul(x, INV_LN2))


def rsqrt_newton1(o: SimdOps[V], x: V) -> V:
    """1/sqrt(x): seed 0x5F37 - (pattern >> 1), one Newton step y * (1.5 - (x/2 * y) * y)."""
    y = o.isub(o.splat(Const(RSQRT_MAGIC)), o.ishr(x, Const(1)))
    t = o.mul(o.mul(o.mul(x, 0.5), y), y)
    return o.mul(y, o.fma(t, -1.0, 1.5))


def divide(o: SimdOps[V], a: V, y: V) -> V:
    """a / y as (a * r) * r with r = rsqrt(|y|) (one Newton step), negated where y < 0."""
    r = rsqrt_newton1(o, o.abs(y))
    q = o.mul(o.mul(a, r), r)
    return o.sel(o.cmplt(y, 0.0), o.mul(q, -1.0), q)


def reciprocal_rsqrt2(o: SimdOps[V], y: V) -> V:
    """1 / y as r * r with r = rsqrt(|y|), negated where y < 0."""
    return divide(o, o.splat(Const.of(1.0)), y)


def pade_tanh(o: SimdOps[V], x: V) -> V:
    """x (27 + x^2) / (27 + 9 x^2) with the rsqrt^2 division, clamped to [-1, 1]."""
    x2 = o.mul(x, x)
    num = o.mul(x, o.add(x2, PADE_A))
    den = o.add(o.mul(x2, PADE_B), PADE_A)
    r = rsqrt_newton1(o, den)  # den >= 27 > 0
    return o.max(o.min(o.mul(o.mul(num, r), r), 1.0), -1.0)


def gelu_pade(o: SimdOps[V], x: V) -> V:
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) with the Pade tanh, in the published order."""
    x3 = o.mul(o.mul(x, x), x)
    u = o.mul(o.add(x, o.mul(x3, GELU_C)), SQRT_2_OVER_PI)
    return o.mul(o.mul(x, o.add(pade_tanh(o, u), 1.0)), 0.5)


def erf_pade(o: SimdOps[V], x: V) -> V:
    """erf(x) ~ tanh(2/sqrt(pi) (x + 0.08943 x^3)) with the Pade tanh (extrapolated)."""
    x3 = o.mul(o.mul(x, x), x)
    return pade_tanh(o, o.mul(o.add(x, o.mul(x3, ERF_C)), ERF_A))


def sigmoid_pade(o: SimdOps[V], x: V) -> V:
    """0.5 + 0.5 tanh(x/2) with the Pade tanh (extrapolated)."""
    return o.fma(pade_tanh(o, o.mul(x, 0.5)), 0.5, 0.5)


def silu_pade(o: SimdOps[V], x: V) -> V:
    """x * sigmoid(x) with the Pade sigmoid (extrapolated)."""
    return o.mul(x, sigmoid_pade(o, x))


def sqrt_newton1(o: SimdOps[V], x: V) -> V:
    """sqrt(x) as x * rsqrt(x) with the one-step rsqrt (extrapolated)."""
    return o.mul(x, rsqrt_newton1(o, x))


def softmax_recipe(o: SimdOps[V], x: V, *, mask: V | None = None, tail: V | None = None) -> V:
    """e = 2**floor(z / ln 2) of z = x (+ mask), NO max subtraction; e * r * r with r = rsqrt(REDSUM(e)).
    `tail` is a WORD that is -inf in the lanes past the end of the row (as in ``simd_recipes.softmax``)."""
    z = x if mask is None else o.add(x, mask)
    if tail is not None:
        z = o.tail(VFunct.ADD, z, tail)
    e = exp2_floor(o, z)
    r = rsqrt_newton1(o, o.redsum(e))
    return o.mul(o.mul(e, r), r)


def layernorm_recipe(o: SimdOps[V], x: V, *, cols: int, eps: float, gamma: V | None = None,
                     beta: V | None = None) -> V:
    """One-pass LayerNorm: mean = REDSUM(x)/n, var = REDSUMSQ(x)/n - mean^2, (x - mean) * rsqrt1(var + eps)."""
    inv_n = 1.0 / cols
    mean = o.mul(o.redsum(x), inv_n)
    var = o.sub(o.mul(o.redsumsq(x), inv_n), o.mul(mean, mean))
    y = o.mul(o.sub(x, mean), rsqrt_newton1(o, o.add(var, eps)))
    if gamma is not None:
        y = o.mul(y, gamma)
    if beta is not None:
        y = o.add(y, beta)
    return y


def rmsnorm_recipe(o: SimdOps[V], x: V, *, cols: int, eps: float, gamma: V | None = None) -> V:
    """x * rsqrt1(REDSUMSQ(x)/n + eps) (* gamma) (extrapolated)."""
    y = o.mul(x, rsqrt_newton1(o, o.add(o.mul(o.redsumsq(x), 1.0 / cols), eps)))
    return y if gamma is None else o.mul(y, gamma)


UNARY: dict[str, bo.UnaryRecipe] = {
    "exp": exp2_floor,
    "reciprocal": reciprocal_rsqrt2,
    "rsqrt": rsqrt_newton1,
    "sqrt": sqrt_newton1,
    "tanh": pade_tanh,
    "erf": erf_pade,
    "sigmoid": sigmoid_pade,
    "silu": silu_pade,
    "gelu": gelu_pade,
}
"""The published design's unary approximations (names are table keys)."""


# ---------------------------------------------------------------------------------------------------- arrays


def _u(name: str, x: U16) -> U16:
    return bo.lookup("paper/" + name, UNARY[name], x)


def exp(x: U16) -> U16:
    """2**floor(x / ln 2)."""
    return _u("exp", x)


def reciprocal(x: U16) -> U16:
    """1/x as rsqrt(|x|)^2 with x's sign."""
    return _u("reciprocal", x)


def rsqrt(x: U16) -> U16:
    """1/sqrt(x), one Newton step."""
    return _u("rsqrt", x)


def sqrt(x: U16) -> U16:
    """x * rsqrt(x)."""
    return _u("sqrt", x)


def tanh(x: U16) -> U16:
    """Pade tanh."""
    return _u("tanh", x)


def erf(x: U16) -> U16:
    """erf via the Pade tanh (extrapolated)."""
    return _u("erf", x)


def sigmoid(x: U16) -> U16:
    """0.5 + 0.5 tanh(x/2) (extrapolated)."""
    return _u("sigmoid", x)


def silu(x: U16) -> U16:
    """x * sigmoid(x) (extrapolated)."""
    return _u("silu", x)


def gelu(x: U16, approximate: str = "none") -> U16:
    """The tanh-formula GELU with the Pade tanh, for either form (the published design has only this one)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu approximate must be 'none' or 'tanh', got {approximate!r}")
    return _u("gelu", x)


def div(a: U16, b: U16) -> U16:
    """a / b as (a * r) * r, r = rsqrt(|b|), negated where b < 0 (:func:`divide`)."""
    r = rsqrt(nm.bf16_abs(b))
    q = nm.bf16_mul(nm.bf16_mul(a, r), r)
    return nm.bf16_select(bo.neg(q), q, nm.bf16_cmplt(b, bo.ZERO))


def power(x: U16, k: float) -> U16:
    """x**k as in ``bf16_ops.power`` with this module's reciprocal, rsqrt and sqrt."""
    return bo.power(x, k, recip=reciprocal, rsq=rsqrt, sq=sqrt)


def softmax_rows(x: U16, n: int, mask: U16 | None = None) -> U16:
    """:func:`softmax_recipe` on [rows, cols] bits with an optional additive mask of the same shape."""
    rows, cols = x.shape
    z = bo.pad_rows(x, n)
    if mask is not None:
        z = nm.bf16_add(z, bo.pad_rows(mask, n))
    z = bo.apply_tail(z, cols, n, nm.bf16_add, bo.tail_word(cols, n, 0x0000, int(bo.NEG_INF)))
    e = exp(z)
    r = rsqrt(nm.reduce_sum(e.reshape(rows, -1, n)))[:, None]
    return nm.bf16_mul(nm.bf16_mul(e, r), r)[:, :cols]


def softmax(x: U16, axis: int, n: int, mask: U16 | None = None) -> U16:
    """The published softmax along `axis` (no max subtraction); `mask` (additive bits) broadcasts to x."""
    return bo.along_last(lambda a, m: softmax_rows(a, n, m), x, axis, mask)


def _norm(name: str, body: Any, x: U16, axis: int, n: int, consts: dict[str, U16 | None]) -> U16:
    x2, cols = bo.norm_rows(x, axis)
    vecs = {k: (Kind.VEC, bo.as_vec(v, cols)) for k, v in consts.items() if v is not None}
    kernel = RowKernel(name, cols, ("x",), vecs, lambda o, v: body(o, v["x"], cols=cols, **{
        k: v.get(k) for k in consts}))
    return evaluate(kernel, n, {"x": x2}).reshape(x.shape)


def layer_norm(x: U16, axis: int, eps: float, weight: U16 | None, bias: U16 | None, n: int) -> U16:
    """The published one-pass LayerNorm over axes axis.. (numpy evaluator on :func:`layernorm_recipe`)."""
    def body(o: SimdOps[Any], xv: Any, *, cols: int, gamma: Any, beta: Any) -> Any:
        return layernorm_recipe(o, xv, cols=cols, eps=eps, gamma=gamma, beta=beta)

    return _norm("paper_layernorm", body, x, axis, n, {"gamma": weight, "beta": bias})


def rms_norm(x: U16, axis: int, eps: float, weight: U16 | None, n: int) -> U16:
    """RMSNorm with the one-step rsqrt (extrapolated; numpy evaluator on :func:`rmsnorm_recipe`)."""
    def body(o: SimdOps[Any], xv: Any, *, cols: int, gamma: Any) -> Any:
        return rmsnorm_recipe(o, xv, cols=cols, eps=eps, gamma=gamma)

    return _norm("paper_rmsnorm", body, x, axis, n, {"gamma": weight})


# ---------------------------------------------------------------------------------------------------- requant


_F64_DROP = np.uint64(~((1 << 45) - 1) & 0xFFFF_FFFF_FFFF_FFFF)  # keep sign, exponent and 7 fraction bits


def requant_bf16_truncate(acc: npt.ArrayLike, scale_word: npt.ArrayLike) -> U16:
    """acc * m * 2**-s (exact) truncated toward zero to bf16: the published design's requantization."""
    a = np.asarray(acc, dtype=np.int64)
    m, s = nm.unpack_scale(scale_word)
    v = a.astype(np.float64) * np.ldexp(m.astype(np.float64), -s) + 0.0  # exact (|acc*m| < 2**47); zero is +0
    return nm.f64_to_bf16((v.view(np.uint64) & _F64_DROP).view(np.float64))  # already 8 bits: exact
