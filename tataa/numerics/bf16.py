"""bf16 bit patterns: constants, operand coercion, exact decoding and the single RNE rounding to bf16.

A bf16 value is a ``numpy.uint16`` bit pattern (sign 1, exponent 8 with bias 127, fraction 7). The one
rounding used by every bf16 result is :func:`f64_to_bf16`: round to 8 significant bits, nearest-even,
with an unbounded exponent, then flush magnitudes below 2**-126 to a zero of the exact result's sign,
send magnitudes above 0x7F7F to infinity, and make every NaN the canonical 0x7FC0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
U16 = npt.NDArray[np.uint16]

BF16_ZERO = np.uint16(0x0000)
BF16_NEG_ZERO = np.uint16(0x8000)
BF16_ONE = np.uint16(0x3F80)
BF16_INF = np.uint16(0x7F80)
BF16_NEG_INF = np.uint16(0xFF80)
BF16_NAN = np.uint16(0x7FC0)  # the canonical quiet NaN: every NaN result is this pattern
BF16_MAX = np.uint16(0x7F7F)  # largest finite: (2 - 2**-7) * 2**127 ~ 3.39e38
BF16_MIN_NORMAL = np.uint16(0x0080)  # 2**-126; nothing smaller survives (subnormals are flushed)

SIGN_MASK = 0x8000
EXP_MASK = 0x7F80
FRAC_MASK = 0x007F
ABS_MASK = 0x7FFF

_F64_ABS = np.uint64(0x7FFF_FFFF_FFFF_FFFF)
_F64_EXP = np.uint64(0x7FF0_0000_0000_0000)
_DROP = 45  # float64 has 52 fraction bits, bf16 keeps 7
_HALF_MINUS_ONE = np.uint64((1 << (_DROP - 1)) - 1)
# A float64 biased exponent E (bias 1023) is bf16 biased exponent E - 896 (bias 127); 1..254 are normal.
_REBIAS = 896 << 7
_MIN_NORMAL_E = 897
_MAX_NORMAL_E = 1150


def bits(a: ArrayLike, name: str = "operand") -> U16:
    """Coerce bf16 operands to a uint16 array: uint16 as is, ml_dtypes.bfloat16 by view, integers 0..65535.

    Floating-point arrays are refused (TypeError): a float is a value, not a bf16 bit pattern; convert it
    with :func:`f64_to_bf16` or :func:`f32_to_bf16` first.
    """
    arr = np.asarray(a)
    if arr.dtype == np.uint16:
        return arr
    if arr.dtype.name == "bfloat16":
        return arr.view(np.uint16)
    if arr.dtype.kind in "iub":
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 0xFFFF):
            bad = arr[(arr < 0) | (arr > 0xFFFF)].flat[0]
            raise ValueError(f"{name}: bf16 bit pattern {int(bad)} is outside 0..0xFFFF")
        return arr.astype(np.uint16)
    raise TypeError(f"{name}: expected bf16 bit patterns (uint16), got dtype {arr.dtype}")


def f64_to_bf16(x: ArrayLike) -> U16:
    """Round float64 values to bf16 once (RNE, 8 significant bits), with FTZ, overflow to inf, canonical NaN.

    Float64 subnormal inputs are exact values far below 2**-126 and flush to signed zero.
    """
    u = np.asarray(x, dtype=np.float64).view(np.uint64)
    mag = u & _F64_ABS
    lsb = (mag >> np.uint64(_DROP)) & np.uint64(1)
    # 11-bit exponent and 7-bit fraction, rounded once; a carry out of the fraction bumps the exponent
    r = ((mag + _HALF_MINUS_ONE + lsb) >> np.uint64(_DROP)).astype(np.int64)
    e = r >> 7
    out = np.where(e < _MIN_NORMAL_E, 0, np.where(e > _MAX_NORMAL_E, 0x7F80, r - _REBIAS))
    out = out.astype(np.uint16) | (u >> np.uint64(48)).astype(np.uint16) & np.uint16(SIGN_MASK)
    return np.where(mag > _F64_EXP, BF16_NAN, out)


def f32_to_bf16(x: ArrayLike) -> U16:
    """Round float32 values to bf16 once (the float32 value is taken exactly, subnormal float32 included)."""
    with np.errstate(invalid="ignore"):  # signalling NaNs warn on the (exact) widening
        return f64_to_bf16(np.asarray(x, dtype=np.float32).astype(np.float64))


def bf16_to_f32(b: ArrayLike) -> npt.NDArray[np.float32]:
    """Exact float32 value of bf16 patterns (no flush: subnormal patterns keep their value)."""
    return (bits(b).astype(np.uint32) << np.uint32(16)).view(np.float32)


def bf16_to_f64(b: ArrayLike) -> npt.NDArray[np.float64]:
    """Exact float64 value of bf16 patterns (no flush; a signalling NaN comes back quiet)."""
    with np.errstate(invalid="ignore"):
        return bf16_to_f32(b).astype(np.float64)


def is_subnormal(b: ArrayLike) -> npt.NDArray[np.bool_]:
    """True where the pattern is a non-zero bf16 subnormal (exponent field 0, fraction non-zero)."""
    b = bits(b)
    return ((b & np.uint16(EXP_MASK)) == 0) & ((b & np.uint16(FRAC_MASK)) != 0)


def daz(b: ArrayLike) -> U16:
    """Flush subnormal patterns to the zero of the same sign; every other pattern is unchanged."""
    b = bits(b)
    return np.where((b & np.uint16(EXP_MASK)) == 0, b & np.uint16(SIGN_MASK), b)


def is_nan(b: ArrayLike) -> npt.NDArray[np.bool_]:
    """True where the pattern is a NaN (any payload, either sign)."""
    return (bits(b) & np.uint16(ABS_MASK)) > np.uint16(EXP_MASK)


def canonical(b: ArrayLike) -> U16:
    """The output policy applied to a pattern: subnormals flushed, every NaN made 0x7FC0."""
    b = daz(b)
    return np.where(is_nan(b), BF16_NAN, b)


def order_key(b: U16) -> npt.NDArray[np.int32]:
    """A signed integer ordering non-NaN patterns by value, with -0 just below +0."""
    mag = (b & np.uint16(ABS_MASK)).astype(np.int32)
    return np.where((b & np.uint16(SIGN_MASK)) != 0, -mag - 1, mag)


def from_order_key(k: npt.NDArray[np.int32]) -> U16:
    """Inverse of :func:`order_key`."""
    return np.where(k < 0, (-k - 1) | SIGN_MASK, k).astype(np.uint16)


def _tables() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    f32 = bf16_to_f32(daz(every))
    f32.setflags(write=False)
    f64 = bf16_to_f64(daz(every))
    f64.setflags(write=False)
    return f64, f32


_DAZ_F64, _DAZ_F32 = _tables()


def decode_daz(b: ArrayLike, name: str = "operand") -> npt.NDArray[np.float64]:
    """Exact float64 value of bf16 operands as the datapath reads them (subnormals read as signed zero)."""
    return _DAZ_F64[bits(b, name)]


def decode_daz_f32(b: ArrayLike, name: str = "operand") -> npt.NDArray[np.float32]:
    """Exact float32 value of bf16 operands as the datapath reads them (subnormals read as signed zero)."""
    return _DAZ_F32[bits(b, name)]
