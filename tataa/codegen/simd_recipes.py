"""bf16 approximations of nonlinear functions, written once against the abstract SIMD-ops interface.

Every recipe takes a :class:`~tataa.codegen.simd.ops.SimdOps` and values and returns a value. Run it with
:class:`~tataa.codegen.simd.numpy_eval.NumpySimd` for the bit-exact numpy reference, or record it with
:class:`~tataa.codegen.simd.emitter.SimdTrace` to emit SETC/VOP instructions; both give the same bits.
Only the SIMD primitives of the ISA are used. Errors are measured in docs/kernels-nonlinear.md.

* exp: Cody-Waite reduction k = floor(x*log2(e) + 1/2), r = x - k*C1 - k*C2 where C1 = bf16(ln 2) makes
  x - k*C1 exact in bf16 (a multiple of 2**-8 below 1 in magnitude), so only the second step rounds; a
  degree-4 polynomial (|r| <= 0.65) by single-rounding FMAs; 2**k applied by LDEXP (which flushes and
  saturates exactly like the true result).
  exp(s*x) for s a power of two costs nothing extra (C1/s, C2/s and the coefficients are rescaled), and an
  argument given as an exact (hi, lo) pair is reduced without rounding hi + lo first.
* reciprocal: seed = magic - pattern (an ISUB from a splatted constant; the sign is handled by the bit
  arithmetic), then two Newton steps y += y*(1 - x*y), each rounded once.
* rsqrt: seed = magic - (pattern >> 1), two Newton steps y += y*(x*y*y - 1)*(-1/2).
* sigmoid and x*sigmoid(z) (SiLU, tanh-GELU): from t = exp(-|z|) = p*2**k, sigmoid(|z|) = 1/(1 + t) and
  sigmoid(-|z|) = p/(1 + t) * 2**k, so the negative tail underflows exactly where the true value does.
* tanh and erf: an odd polynomial x + x*w(x*x) for small |x|, else 1 - 2/(1 + exp(2|x|)), resp. 1 - erfc(|x|),
  with the sign bit copied from x (two integer ops).
* Gaussian tails, erfc(y) and Phi(-y): exp(-c*y*y) * s * Q(s) with s = 1/(1 + p*y) (the form of
  Abramowitz-Stegun 7.1.26, coefficients fitted here for relative error with bf16 coefficients), y*y*c as an
  exact (hi, lo) pair. The erf form of GELU is relu(x) - |x|*Phi(-|x|), free of cancellation.
* rotary: x*cos + x_rot*sin_rot with rotate_half's permutation done by addressing and its sign folded into the
  sin table, so only a MUL and a MAC run on the lanes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from tataa.codegen.simd.ops import Const, SimdOps
from tataa.isa.spec import VFunct

V = TypeVar("V")

LN2 = 0.6931471805599453
LOG2E = 1.4426950408889634
BF16_MAX = 3.3895313892515355e38
BF16_NEG_INF = Const(0xFF80)

# Cody-Waite split of ln 2: C1 has 8 significant bits (177/256), C2 is the rest rounded to bf16.
EXP_C1 = 0.69140625
EXP_C2 = LN2 - EXP_C1
# exp(r) ~ sum EXP_POLY[i] * r**i on |r| <= 0.65: c0 = c1 = 1 keep exp(tiny) exact, c2..c4 are minimax
# coefficients rounded to bf16 and then nudged by one ULP where that lowered the exhaustive maximum error.
EXP_POLY = (1.0, 1.0, 0.5, 0.16796875, 0.04052734375)
# exp arguments are clamped to this range by default: below it the result flushes to 0, above it is inf.
EXP_ARG_MIN = -100.0
EXP_ARG_MAX = 100.0
# Largest exp argument whose result the reciprocal seed still handles (e**87 < 2**126).
EXP_ARG_RECIP = 87.0

RECIP_MAGIC = 0x7EF3
RSQRT_MAGIC = 0x5F37

# tanh(x) = x + x*T(z), z = x*x, for |x| < TANH_SMALL (Taylor coefficients).
TANH_SMALL = 0.5625
TANH_POLY = (0.0, -1.0 / 3.0, 2.0 / 15.0, -17.0 / 315.0)
# erf(x) = x + x*E(z), z = x*x, for |x| < ERF_SMALL (E(0) = 2/sqrt(pi) - 1).
ERF_SMALL = 0.5
ERF_POLY = (2.0 / math.sqrt(math.pi) - 1.0, -2.0 / (3.0 * math.sqrt(math.pi)), 1.0 / (5.0 * math.sqrt(math.pi)))
# Gaussian tails: tail(y) = exp(-c*y*y) * s * sum(Q[i] * s**i), s = 1/(1 + p*y), y >= 0.
ERFC_P = 0.75  # erfc(y): c = 1
ERFC_Q = (0.423828125, 0.40625, 0.431640625, -0.26171875)
PHI_P = 1.0  # Phi(-y) = erfc(y/sqrt(2))/2: c = 1/2
PHI_Q = (0.39453125, 0.490234375, -0.5234375, 0.08447265625, 0.054931640625)
TAIL_Y_MAX = 16.0  # beyond it every tail underflows

GELU_TANH_A = 2.0 * math.sqrt(2.0 / math.pi)  # z = 2*u = x*(A + B*x*x) and 0.5*(1 + tanh(u)) = sigmoid(z)
GELU_TANH_B = GELU_TANH_A * 0.044715


def horner(o: SimdOps[V], r: V, coeffs: Sequence[float]) -> V:
    """sum(coeffs[i] * r**i) by Horner's rule, one FMA per coefficient after the first (at least two)."""
    if len(coeffs) < 2:
        raise ValueError("horner() needs at least two coefficients")
    q = o.fma(r, coeffs[-1], coeffs[-2])
    for ci in reversed(coeffs[:-2]):
        q = o.fma(r, q, ci)
    return q


# ---- exp -----------------------------------------------------------------------------------------
def exp_parts(
    o: SimdOps[V],
    x: V,
    *,
    scale: float = 1.0,
    lo: V | None = None,
    arg_min: float | None = EXP_ARG_MIN,
    arg_max: float | None = EXP_ARG_MAX,
) -> tuple[V, V]:
    """(p, k) with exp(scale*(x + lo)) ~= p * 2**k, p in [0.58, 1.7] and k an integer-valued bf16.

    `scale` is a power of two (sign included); `lo` an optional exact low part of the argument. The
    argument scale*x is clamped to [arg_min, arg_max]; None skips that side (the caller guarantees it,
    and -inf must never reach an unclamped lower side).
    """
    if scale == 0 or math.frexp(abs(scale))[0] != 0.5:
        raise ValueError(f"exp scale {scale} is not a power of two")
    xmin, xmax = (arg_min, arg_max) if scale > 0 else (arg_max, arg_min)
    xc = x
    if xmin is not None:
        xc = o.max(xc, xmin / scale)
    if xmax is not None:
        xc = o.min(xc, xmax / scale)
    k = o.floor(o.fma(xc, LOG2E * scale, 0.5))
    r = o.mac(xc, k, -EXP_C1 / scale)  # exact
    r = o.mac(r, k, -EXP_C2 / scale) if lo is None else o.add(r, o.mac(lo, k, -EXP_C2 / scale))
    p = horner(o, r, [ci * scale**i for i, ci in enumerate(EXP_POLY)])
    return p, k


def exp(
    o: SimdOps[V],
    x: V,
    *,
    scale: float = 1.0,
    lo: V | None = None,
    arg_min: float | None = EXP_ARG_MIN,
    arg_max: float | None = EXP_ARG_MAX,
) -> V:
    """exp(scale*(x + lo)): flushed to 0 below 2**-126, inf above the bf16 maximum (options: exp_parts)."""
    p, k = exp_parts(o, x, scale=scale, lo=lo, arg_min=arg_min, arg_max=arg_max)
    return o.ldexp(p, k)


# ---- reciprocal, rsqrt -------------------------------------------------------------------------
def reciprocal_of_neg(o: SimdOps[V], xn: V) -> V:
    """1/x given xn = -x, for normal |x| in [2**-125, 2**125] (outside that range the seed is invalid)."""
    y = o.isub(o.splat(Const(RECIP_MAGIC ^ 0x8000)), xn)  # (M + 0x8000) - pattern(-x) = M - pattern(x)
    for _ in range(2):
        e = o.fma(xn, y, 1.0)  # 1 - x*y, rounded once
        y = o.mac(y, y, e)  # y + y*e, rounded once
    return y


def reciprocal(o: SimdOps[V], x: V) -> V:
    """1/x for normal |x| in [2**-125, 2**125]."""
    return reciprocal_of_neg(o, o.mul(x, -1.0))


def rsqrt(o: SimdOps[V], x: V) -> V:
    """1/sqrt(x) for positive normal x (inf and zero are outside the domain)."""
    y = o.isub(o.splat(Const(RSQRT_MAGIC)), o.ishr(x, Const(1)))
    for _ in range(2):
        e = o.fma(o.mul(x, y), y, -1.0)  # x*y*y - 1 (x*y rounded)
        y = o.mac(y, o.mul(y, -0.5), e)  # y - y*e/2
    return y


# ---- logistic family ---------------------------------------------------------------------------
def _sigmoid_parts(o: SimdOps[V], az: V, neg: V) -> tuple[V, V]:
    """(m, k) with sigmoid(z) = m * 2**k, given az = |z| and neg = 1.0 where z < 0 (else 0.0).

    From t = exp(-|z|) = p * 2**k: sigmoid(|z|) = 1/(1 + t) and sigmoid(-|z|) = p/(1 + t) * 2**k, so the
    negative tail underflows exactly where the true value does.
    """
    p, k = exp_parts(o, az, scale=-1.0, arg_min=-200.0, arg_max=None)
    r = reciprocal_of_neg(o, o.fma(o.ldexp(p, k), -1.0, -1.0))  # 1/(1 + t)
    k2 = o.mul(k, neg)
    return o.mul(r, o.sel(neg, p, 1.0)), k2


def sigmoid(o: SimdOps[V], x: V) -> V:
    """1/(1 + exp(-x))."""
    m, k = _sigmoid_parts(o, o.abs(x), o.cmplt(x, 0.0))
    return o.ldexp(m, k)


def x_sigmoid(o: SimdOps[V], x: V, az: V, neg: V) -> V:
    """x * sigmoid(z) given az = |z| and neg = 1.0 where z < 0 (else 0.0), accurate into the underflow tail."""
    m, k = _sigmoid_parts(o, az, neg)
    return o.ldexp(o.mul(x, m), k)


def silu(o: SimdOps[V], x: V) -> V:
    """x * sigmoid(x)."""
    return x_sigmoid(o, x, o.abs(x), o.cmplt(x, 0.0))


def _copysign(o: SimdOps[V], mag: V, x: V, ax: V) -> V:
    """mag (>= +0) with the sign bit of x, given ax = |x|: pattern(x) - pattern(|x|) is the sign bit."""
    return o.iadd(mag, o.isub(x, ax))


def _odd_series(o: SimdOps[V], x: V, coeffs: Sequence[float]) -> V:
    """x + x*w(z), w(z) = sum(coeffs[i] * z**i), z = x*x: one rounding at the end, odd bit for bit."""
    return o.mac(x, x, horner(o, o.mul(x, x), coeffs))


def tanh(o: SimdOps[V], x: V) -> V:
    """tanh(x): odd polynomial for |x| < TANH_SMALL, else 1 - 2/(1 + exp(2|x|)) with x's sign."""
    ax = o.abs(x)
    t = exp(o, ax, scale=2.0, arg_min=None, arg_max=EXP_ARG_RECIP)
    r = reciprocal_of_neg(o, o.fma(t, -1.0, -1.0))
    big = _copysign(o, o.fma(r, -2.0, 1.0), x, ax)
    small = _odd_series(o, x, TANH_POLY)
    return o.sel(o.cmplt(ax, TANH_SMALL), small, big)


# ---- Gaussian tails, erf, GELU --------------------------------------------------------------------
def gauss_tail(o: SimdOps[V], y: V, *, half: bool, times_y: bool = False) -> V:
    """Phi(-y) (half=True) or erfc(y) (half=False), times y if `times_y`, for y >= +0.

    Computed as ((s * Q(s)) * y * p) * 2**k with s = 1/(1 + p_*y) and exp(-c*y*y) = p * 2**k, so the
    result only underflows where the exact product does.
    """
    p_, q_ = (PHI_P, PHI_Q) if half else (ERFC_P, ERFC_Q)
    yc = o.min(y, TAIL_Y_MAX)
    yn = o.mul(yc, -0.5 if half else -1.0)  # exact
    hi = o.mul(yc, yn)  # -c*y*y rounded
    lo = o.mac(o.mul(hi, -1.0), yc, yn)  # the exact rounding error of hi
    p, k = exp_parts(o, hi, lo=lo, arg_max=None)
    s = reciprocal_of_neg(o, o.fma(yc, -p_, -1.0))
    g = o.mul(s, horner(o, s, q_))
    if times_y:
        g = o.mul(g, yc)
    return o.ldexp(o.mul(g, p), k)


def erf(o: SimdOps[V], x: V) -> V:
    """erf(x): odd polynomial for |x| < ERF_SMALL, else sign(x) * (1 - erfc(|x|))."""
    ax = o.abs(x)
    big = _copysign(o, o.fma(gauss_tail(o, ax, half=False), -1.0, 1.0), x, ax)
    small = _odd_series(o, x, ERF_POLY)
    return o.sel(o.cmplt(ax, ERF_SMALL), small, big)


def gelu_erf(o: SimdOps[V], x: V) -> V:
    """x * Phi(x) = relu(x) - |x| * Phi(-|x|)."""
    ax = o.abs(x)
    return o.sub(o.max(x, 0.0), gauss_tail(o, ax, half=True, times_y=True))


def gelu_tanh(o: SimdOps[V], x: V) -> V:
    """0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x**3))) = x * sigmoid(z), z = x*(A + B*x*x)."""
    ax = o.abs(x)
    az = o.mul(ax, o.fma(o.mul(x, x), GELU_TANH_B, GELU_TANH_A))
    return x_sigmoid(o, x, az, o.cmplt(x, 0.0))


# ---- row-wise composites ---------------------------------------------------------------------------
def _split(x: float) -> tuple[float, float]:
    """x as bf16 hi plus the bf16 of the rest."""
    hi = Const.of(x).value
    return hi, x - hi


def _scale_add(o: SimdOps[V], s: V, k: float, c: float = 0.0) -> V:
    """s*k + c with k carried as a (hi, lo) pair of constants: one final rounding."""
    hi, lo = _split(k)
    if lo == 0.0:
        return o.fma(s, hi, c)
    return o.mac(o.fma(s, lo, c), s, hi)


def scale_add(o: SimdOps[V], s: V, k: float, c: float = 0.0) -> V:
    """s*k + c for a float constant k (e.g. 1/cols: a mean from a row sum), with k as a (hi, lo) pair of bf16
    constants so that the result is rounded once at the end."""
    return _scale_add(o, s, k, c)


def softmax(o: SimdOps[V], x: V, *, mask: V | None = None, tail: V | None = None) -> V:
    """Row softmax, max-subtracted; `mask` is added to x first (0 / -inf), `tail` is a WORD that is -inf in
    the lanes past the end of the row. A row that is entirely -inf gives zeros."""
    z = x if mask is None else o.add(x, mask)
    if tail is not None:
        z = o.tail(VFunct.ADD, z, tail)
    m = o.max(o.redmax(z), -BF16_MAX)  # an all -inf row subtracts a finite max: exp(-inf) = 0
    e = exp(o, o.sub(z, m), arg_max=None)
    s = o.max(o.redsum(e), 1.0)  # >= 1 unless the row is fully masked (then 0 * 1 = 0)
    return o.mul(e, reciprocal(o, s))


def layernorm(
    o: SimdOps[V],
    x: V,
    *,
    cols: int,
    eps: float,
    gamma: V | None = None,
    beta: V | None = None,
    valid: V | None = None,
) -> V:
    """(x - mean) / sqrt(var + eps) * gamma + beta with mean-centred variance. The mean is computed in two
    passes (the second on x - mean1) so that a large common offset cancels exactly; `valid` is a WORD of
    1.0 / 0.0 marking the lanes of the row's last word that hold data."""
    x1 = o.sub(x, _scale_add(o, o.redsum(x), 1.0 / cols))
    if valid is not None:
        x1 = o.tail(VFunct.MUL, x1, valid)
    xc = o.sub(x1, _scale_add(o, o.redsum(x1), 1.0 / cols))
    if valid is not None:
        xc = o.tail(VFunct.MUL, xc, valid)
    y = o.mul(xc, rsqrt(o, _scale_add(o, o.redsumsq(xc), 1.0 / cols, eps)))
    if gamma is not None and beta is not None:
        return o.mac(beta, y, gamma)
    if gamma is not None:
        return o.mul(y, gamma)
    if beta is not None:
        return o.add(y, beta)
    return y


def rmsnorm(o: SimdOps[V], x: V, *, cols: int, eps: float, gamma: V | None = None) -> V:
    """x / sqrt(mean(x*x) + eps) * gamma (the zero lanes past the row end add nothing to the sum)."""
    y = o.mul(x, rsqrt(o, _scale_add(o, o.redsumsq(x), 1.0 / cols, eps)))
    return y if gamma is None else o.mul(y, gamma)


# ---- rotary embedding --------------------------------------------------------------------------------
def rotary(o: SimdOps[V], x: V, x_rot: V, cos: V, sin_rot: V) -> V:
    """x*cos + rotate_half(x)*sin as one MUL and one MAC (two roundings).

    `x_rot` is x after rotate_half's data movement (each element's partner: the other half, or the other
    element of an even/odd pair), which is address generation, not arithmetic; `sin_rot` is sin with
    rotate_half's sign folded in (negated where rotate_half negates), an exact change of sign made once per
    table. So the lanes only compute x*cos (rounded) + x_rot*sin_rot (fused, rounded once).
    """
    return o.mac(o.mul(x, cos), x_rot, sin_rot)
