"""The integer side: int32 wrapping, int8 saturation, RNE to integers, the int8 GEMM, requantization
(packed multiplier/shift scales) and host-side float -> int8 quantization."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tataa.isa.spec import SCALE_M_BITS, SCALE_S_BITS
from tataa.numerics.bf16 import U16, ArrayLike, f64_to_bf16

I8 = npt.NDArray[np.int8]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]

INT8_MIN, INT8_MAX = -128, 127
SCALE_M_MAX = (1 << SCALE_M_BITS) - 1  # 65535
SCALE_S_MAX = (1 << SCALE_S_BITS) - 1  # 63
# float64 sums of int8 products are exact while every partial sum stays below 2**53: K * 2**14 < 2**53.
GEMM_MAX_K = 1 << 38
_QUANT_SCALE_RANGE = (2.0**-900, 2.0**900)


def _first(arr: np.ndarray, mask: np.ndarray) -> object:
    """The first element of arr where mask holds (for error messages)."""
    return np.broadcast_to(arr, mask.shape)[mask].flat[0].item()


def _ints(x: ArrayLike, what: str) -> I64:
    """x as an int64 array; non-integer dtypes are refused."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"{what}: expected integers, got dtype {arr.dtype}")
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) >= 1 << 63:
        raise ValueError(f"{what}: value {int(arr.max())} does not fit int64")
    return arr.astype(np.int64)


def wrap_int32(x: ArrayLike) -> I32:
    """Integers reduced modulo 2**32 into int32 (two's complement wrap, as the hardware adder does)."""
    v = _ints(x, "wrap_int32")
    return (((v + (1 << 31)) & 0xFFFF_FFFF) - (1 << 31)).astype(np.int32)


def saturate_int8(x: ArrayLike) -> I8:
    """Integers clamped to [-128, 127] as int8."""
    return np.clip(_ints(x, "saturate_int8"), INT8_MIN, INT8_MAX).astype(np.int8)


def round_half_even(x: ArrayLike) -> I64:
    """float64 values rounded to the nearest integer, ties to even, as int64 (NaN/inf/|x| >= 2**63 refused)."""
    v = np.asarray(x, dtype=np.float64)
    bad = ~(np.abs(v) < 2.0**63)
    if bad.any():
        raise ValueError(f"round_half_even: value {_first(v, bad)} has no int64 rounding")
    return np.rint(v).astype(np.int64)


def gemm_int32(a: ArrayLike, b: ArrayLike) -> I32:
    """int8 [M, K] @ int8 [K, N] -> int32, exact and wrapping modulo 2**32 (float64 BLAS, exact for K < 2**38)."""
    x, y = np.asarray(a), np.asarray(b)
    for name, arr in (("a", x), ("b", y)):
        if arr.dtype != np.int8 or arr.ndim != 2:
            raise ValueError(f"gemm_int32: {name} must be a 2-D int8 array, got {arr.ndim}-D {arr.dtype}")
    if x.shape[1] != y.shape[0]:
        raise ValueError(f"gemm_int32: inner dimensions differ: a is {x.shape}, b is {y.shape}")
    k = x.shape[1]
    if k >= GEMM_MAX_K:
        raise ValueError(f"gemm_int32: K = {k} >= 2**38 would make float64 partial sums inexact")
    exact = x.astype(np.float64) @ y.astype(np.float64)
    return wrap_int32(exact.astype(np.int64))


def pack_scale(m: ArrayLike, s: ArrayLike) -> I32:
    """Pack a requantization scale: multiplier m (0..65535) in bits 15:0, shift s (0..63) in bits 21:16."""
    mm, ss = _ints(m, "pack_scale m"), _ints(s, "pack_scale s")
    for name, v, hi in (("multiplier m", mm, SCALE_M_MAX), ("shift s", ss, SCALE_S_MAX)):
        bad = (v < 0) | (v > hi)
        if bad.any():
            raise ValueError(f"pack_scale: {name} = {_first(v, bad)} outside 0..{hi}")
    return (mm | (ss << SCALE_M_BITS)).astype(np.int32)


def unpack_scale(w: ArrayLike) -> tuple[I64, I64]:
    """(m, s) of packed scale words: m = bits 15:0, s = bits 21:16; the other bits are ignored."""
    v = _ints(w, "unpack_scale") & 0xFFFF_FFFF
    return v & SCALE_M_MAX, (v >> SCALE_M_BITS) & SCALE_S_MAX


def _product(acc: ArrayLike, scale_word: ArrayLike) -> tuple[I64, I64]:
    """p = acc * m exactly (|p| < 2**47) and the shift s of the packed scale."""
    a = _ints(acc, "requant acc")
    bad = (a < -(1 << 31)) | (a >= 1 << 31)
    if bad.any():
        raise ValueError(f"requant: accumulator {_first(a, bad)} is not an int32")
    m, s = unpack_scale(scale_word)
    return a * m, s


def requant_int8(acc: ArrayLike, scale_word: ArrayLike) -> I8:
    """saturate_int8(round_half_even(acc * m / 2**s)) in exact integer arithmetic."""
    p, s = _product(acc, scale_word)
    s = np.minimum(s, 48)  # |p| < 2**47, so p / 2**s rounds to 0 for every s >= 48 alike
    q = p >> s  # floor
    rem = p - (q << s)  # in [0, 2**s)
    half = (np.int64(1) << s) >> 1
    up = (s > 0) & ((rem > half) | ((rem == half) & ((q & 1) == 1)))
    return saturate_int8(q + up)


def requant_bf16(acc: ArrayLike, scale_word: ArrayLike) -> U16:
    """acc * m * 2**-s rounded once to bf16 (exact before the rounding; a zero product is +0)."""
    p, s = _product(acc, scale_word)
    return f64_to_bf16(np.ldexp(p.astype(np.float64), -s))  # p < 2**47: exact in float64


def scale_to_multiplier(x: ArrayLike) -> tuple[I64, I64] | tuple[int, int]:
    """Nearest m * 2**-s to x with m in [2**15, 2**16) and s in 0..63 (ties to even m).

    Scales below 2**-48 use s = 63 and a smaller m; x == 0 gives (0, 0). A value that is negative, not
    finite, >= 65535.5 or that rounds to m = 0 raises ValueError naming it. Scalars give ints, arrays
    give int64 arrays.
    """
    v = np.asarray(x, dtype=np.float64)
    bad = ~np.isfinite(v) | (v < 0)
    if bad.any():
        raise ValueError(f"scale_to_multiplier: scale {_first(v, bad)} is not a finite value >= 0")
    frac, exp = np.frexp(v)  # v = frac * 2**exp, frac in [0.5, 1)
    s = 16 - exp.astype(np.int64)
    m = np.rint(frac * 65536.0).astype(np.int64)
    carry = m == 1 << 16
    m, s = np.where(carry, 1 << 15, m), np.where(carry, s - 1, s)
    tiny = s > SCALE_S_MAX
    m = np.where(tiny, np.rint(np.ldexp(np.minimum(v, 2.0**-48), SCALE_S_MAX)).astype(np.int64), m)
    s = np.where(tiny, SCALE_S_MAX, s)
    zero = v == 0
    m, s = np.where(zero, 0, m), np.where(zero, 0, s)
    bad = (s < 0) | ((m == 0) & ~zero)
    if bad.any():
        raise ValueError(
            f"scale_to_multiplier: scale {_first(v, bad)!r} is not representable as m * 2**-s "
            f"(m <= {SCALE_M_MAX}, s <= {SCALE_S_MAX}): it must be 0 or lie in (2**-64, 65535.5)"
        )
    if v.ndim == 0:
        return int(m), int(s)
    return m, s


def _two_prod_parts(mid: npt.NDArray[np.float64], scale: npt.NDArray[np.float64]) -> tuple[np.ndarray, np.ndarray]:
    """mid * scale as hi + lo exactly, for |mid| <= 2**9 (Veltkamp split of scale; no overflow in range)."""
    c = scale * (2.0**27 + 1.0)
    s_hi = c - (c - scale)
    s_lo = scale - s_hi
    return mid * s_hi, mid * s_lo  # each product has <= 9 + 27 significant bits: exact


def quantize_int8(x: ArrayLike, scale: ArrayLike) -> I8:
    """Host-side quantization: saturate_int8(round_half_even(x / scale)), decided exactly (no double rounding).

    scale broadcasts against x (e.g. per channel) and must lie in [2**-900, 2**900]; NaN x gives 0 and
    +-inf saturates, like the F2I8 instruction.
    """
    v = np.asarray(x, dtype=np.float64)
    sc = np.asarray(scale, dtype=np.float64)
    lo, hi = _QUANT_SCALE_RANGE
    bad = ~((sc >= lo) & (sc <= hi))
    if bad.any():
        raise ValueError(f"quantize_int8: scale {_first(sc, bad)} outside [2**-900, 2**900]")
    with np.errstate(invalid="ignore", over="ignore"):
        k = np.floor(np.clip(v / sc, -200.0, 200.0))  # the exact quotient's nearest integer is k or k + 1
        p_hi, p_lo = _two_prod_parts(k + 0.5, sc)  # the midpoint (k + 0.5) * scale, exactly
        r = v - p_hi  # exact whenever v is near the midpoint (Sterbenz); otherwise its sign decides alone
        above = r > p_lo
        tie = r == p_lo
        q = k + (above | (tie & (np.mod(k, 2.0) == 1.0)))
    q = np.clip(q, INT8_MIN, INT8_MAX)
    return np.where(np.isnan(v), 0.0, q).astype(np.int8)
