"""The elementwise primitives of the bf16 SIMD datapath (one per VFunct, dispatched by name).

Every primitive reads its bf16 operands with DAZ (a subnormal is a zero of the same sign), computes the
exact result in float64 (exact for every operation here, or made exact by an error-free transformation)
and rounds it once with :func:`~tataa.numerics.bf16.f64_to_bf16`. Bit-pattern primitives (``bits_*``)
act on raw uint16 patterns with no flushing or NaN canonicalisation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tataa.numerics.bf16 import (
    ABS_MASK,
    BF16_NAN,
    BF16_ONE,
    BF16_ZERO,
    EXP_MASK,
    FRAC_MASK,
    SIGN_MASK,
    U16,
    ArrayLike,
    bits,
    canonical,
    daz,
    decode_daz,
    f64_to_bf16,
    is_nan,
    order_key,
)

LDEXP_CLAMP = 300  # bf16_ldexp clamps floor(b) to [-LDEXP_CLAMP, LDEXP_CLAMP]
_INT8_MIN, _INT8_MAX = -128, 127


def bf16_add(a: ArrayLike, b: ArrayLike) -> U16:
    """a + b, rounded once (RNE), IEEE signed zeros, subnormals flushed, NaN canonical."""
    with np.errstate(invalid="ignore"):
        # Exact when the exponents differ by < 45; otherwise the float64 sum is within 2**-44 ulp of the
        # larger operand, never on a bf16 midpoint, so the final rounding still sees the right side.
        return f64_to_bf16(decode_daz(a, "a") + decode_daz(b, "b"))


def bf16_sub(a: ArrayLike, b: ArrayLike) -> U16:
    """a - b, rounded once (RNE); x - x = +0."""
    with np.errstate(invalid="ignore"):
        return f64_to_bf16(decode_daz(a, "a") - decode_daz(b, "b"))


def bf16_mul(a: ArrayLike, b: ArrayLike) -> U16:
    """a * b, rounded once (RNE); the sign of a zero product is the xor of the signs; 0 * inf = NaN."""
    with np.errstate(invalid="ignore"):
        return f64_to_bf16(decode_daz(a, "a") * decode_daz(b, "b"))  # 16-bit significand: exact


def _two_sum(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> tuple[np.ndarray, np.ndarray]:
    """s = fl(x + y) and the exact error e = (x + y) - s (Knuth's TwoSum; no overflow in our range)."""
    s = x + y
    yv = s - x
    e = (x - (s - yv)) + (y - yv)
    return s, e


def _round_to_odd(s: npt.NDArray[np.float64], e: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Given s = RN(v) and e = v - s exactly, return v rounded to odd at float64 precision.

    Round-to-odd keeps a sticky bit in the last of 53 bits, so a later rounding to 8 bits is the
    correct single rounding of v (no double rounding).
    """
    u = s.view(np.uint64)
    fix = (e != 0) & ((u & np.uint64(1)) == 0)
    grow = np.signbit(e) == np.signbit(s)  # |v| > |s|: the odd neighbour is one ulp further from zero
    step = np.where(grow, np.uint64(1), np.uint64(0xFFFF_FFFF_FFFF_FFFF))  # +1 or -1 on the magnitude bits
    return np.where(fix, u + step, u).view(np.float64)


def bf16_fma(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> U16:
    """a * b + c with a single rounding (fused); used by FMA (c = constant) and MAC (c = destination)."""
    x, y, z = decode_daz(a, "a"), decode_daz(b, "b"), decode_daz(c, "c")
    with np.errstate(invalid="ignore", over="ignore"):
        p = x * y  # exact: 16 significant bits, exponent within float64's normal range
        s, e = _two_sum(p, z)
        e = np.where(np.isfinite(s), e, 0.0)
        return f64_to_bf16(_round_to_odd(s, e))


def bf16_max(a: ArrayLike, b: ArrayLike) -> U16:
    """max(a, b); NaN if either is NaN; max(-0, +0) = +0."""
    x, y = daz(bits(a, "a")), daz(bits(b, "b"))
    out = np.where(order_key(x) >= order_key(y), x, y)
    return np.where(is_nan(x) | is_nan(y), BF16_NAN, out)


def bf16_min(a: ArrayLike, b: ArrayLike) -> U16:
    """min(a, b); NaN if either is NaN; min(-0, +0) = -0."""
    x, y = daz(bits(a, "a")), daz(bits(b, "b"))
    out = np.where(order_key(x) <= order_key(y), x, y)
    return np.where(is_nan(x) | is_nan(y), BF16_NAN, out)


def bf16_cmplt(a: ArrayLike, b: ArrayLike) -> U16:
    """1.0 (0x3F80) where a < b else +0; false when either is NaN; -0 < +0 is false."""
    with np.errstate(invalid="ignore"):
        return np.where(decode_daz(a, "a") < decode_daz(b, "b"), BF16_ONE, BF16_ZERO)


def bf16_cmpeq(a: ArrayLike, b: ArrayLike) -> U16:
    """1.0 (0x3F80) where a == b else +0; +0 == -0; NaN is never equal."""
    with np.errstate(invalid="ignore"):
        return np.where(decode_daz(a, "a") == decode_daz(b, "b"), BF16_ONE, BF16_ZERO)


def bf16_select(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> U16:
    """a where c != 0 else b (NaN c counts as non-zero, subnormal c as zero); the result is canonical."""
    cond = (daz(bits(c, "c")) & np.uint16(ABS_MASK)) != 0
    return canonical(np.where(cond, bits(a, "a"), bits(b, "b")))


def bf16_mov(a: ArrayLike) -> U16:
    """a with the output policy applied: subnormals flushed to signed zero, NaN made canonical."""
    return canonical(bits(a, "a"))


def bf16_abs(a: ArrayLike) -> U16:
    """|a| (sign cleared after DAZ); NaN gives the canonical NaN."""
    return canonical(bits(a, "a") & np.uint16(ABS_MASK))


def bf16_floor(a: ArrayLike) -> U16:
    """Largest integer <= a (exact in bf16); floor(-0) = -0, floor(+0.5) = +0, floor(-0.5) = -1."""
    return f64_to_bf16(np.floor(decode_daz(a, "a")))


def bf16_getexp(a: ArrayLike) -> U16:
    """Unbiased exponent of a as a bf16 integer; +-0 (and subnormals) give -inf, +-inf give +inf, NaN NaN."""
    x = daz(bits(a, "a"))
    field = ((x & np.uint16(EXP_MASK)) >> np.uint16(7)).astype(np.float64)
    val = np.where(field == 0, -np.inf, np.where(field == 255, np.inf, field - 127.0))
    return np.where(is_nan(x), BF16_NAN, f64_to_bf16(val))


def bf16_getmant(a: ArrayLike) -> U16:
    """sign(a) * 1.f, the mantissa of a scaled to [1, 2); +-0 stay +-0, +-inf stay +-inf, NaN gives NaN."""
    x = daz(bits(a, "a"))
    field = x & np.uint16(EXP_MASK)
    mant = (x & np.uint16(SIGN_MASK | FRAC_MASK)) | np.uint16(0x3F80)
    return canonical(np.where((field == 0) | (field == EXP_MASK), x, mant))


def bf16_ldexp(a: ArrayLike, b: ArrayLike) -> U16:
    """a * 2**floor(b), rounded once; floor(b) is clamped to [-300, 300] (so inf b clamps); NaN b gives NaN."""
    x, y = decode_daz(a, "a"), decode_daz(b, "b")
    n = np.clip(np.floor(np.nan_to_num(y, nan=0.0)), -LDEXP_CLAMP, LDEXP_CLAMP).astype(np.int64)
    with np.errstate(invalid="ignore"):
        out = np.ldexp(x, n)  # exact: |result| stays inside float64's normal range
    return np.where(np.isnan(y), BF16_NAN, f64_to_bf16(out))


def bits_add(a: ArrayLike, b: ArrayLike) -> U16:
    """Bit patterns added as uint16, modulo 2**16 (no flushing, no NaN canonicalisation)."""
    return (bits(a, "a").astype(np.uint32) + bits(b, "b")).astype(np.uint16)


def bits_sub(a: ArrayLike, b: ArrayLike) -> U16:
    """Bit patterns subtracted as uint16, modulo 2**16."""
    return (bits(a, "a").astype(np.uint32) + np.uint32(0x10000) - bits(b, "b")).astype(np.uint16)


def bits_shr(a: ArrayLike, b: ArrayLike) -> U16:
    """Pattern a shifted right (logical) by b & 15."""
    return (bits(a, "a") >> (bits(b, "b") & np.uint16(15))).astype(np.uint16)


def bits_shl(a: ArrayLike, b: ArrayLike) -> U16:
    """Pattern a shifted left by b & 15, modulo 2**16."""
    return (bits(a, "a").astype(np.uint32) << (bits(b, "b") & np.uint16(15))).astype(np.uint16)


def bf16_to_int8(a: ArrayLike, b: ArrayLike) -> npt.NDArray[np.int8]:
    """saturate_int8(round_half_even(a * b)) with a * b exact; NaN gives 0, +-inf saturates."""
    with np.errstate(invalid="ignore"):
        v = np.rint(decode_daz(a, "a") * decode_daz(b, "b"))
    v = np.clip(v, _INT8_MIN, _INT8_MAX)
    return np.where(np.isnan(v), 0.0, v).astype(np.int8)
