"""Independent reference models of the numerics policy, for tests only.

Written differently from tataa.numerics on purpose:
* scalar models use Python integers and ``fractions.Fraction`` (exact rational values, Python's
  ``round`` for ties-to-even) with the IEEE special-value rules spelled out case by case;
* the bulk model (:func:`round_scaled`, :func:`sum_terms`) uses int64 integer significands aligned on
  a common exponent, with a sticky bit for far-apart operands, the way a hardware adder does it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import ml_dtypes
import numpy as np
import torch

NAN_BITS = 0x7FC0
POS_INF_BITS, NEG_INF_BITS = 0x7F80, 0xFF80
TINY_TIE = 2.0**-126 - 2.0**-135  # 2**-126 * (1 - 2**-9): the midpoint below the smallest normal


@dataclass(frozen=True)
class Val:
    """An extended real: kind 'num' (magnitude q >= 0 with a sign, so -0 exists), 'inf' or 'nan'."""

    kind: str
    neg: bool = False
    q: Fraction = Fraction(0)

    @property
    def signed(self) -> Fraction:
        return -self.q if self.neg else self.q

    @property
    def is_zero(self) -> bool:
        return self.kind == "num" and self.q == 0


NAN = Val("nan")


def num(x: Fraction, neg_zero: bool = False) -> Val:
    """A finite value; a zero is -0 when neg_zero."""
    if x == 0:
        return Val("num", neg_zero, Fraction(0))
    return Val("num", x < 0, abs(Fraction(x)))


def decode(b: int, flush: bool = True) -> Val:
    """Value of a bf16 pattern; with flush (DAZ) a subnormal reads as a zero of its sign."""
    neg = bool(b >> 15)
    e = (b >> 7) & 0xFF
    f = b & 0x7F
    if e == 0xFF:
        return NAN if f else Val("inf", neg)
    if e != 0:
        return Val("num", neg, Fraction(128 + f) * Fraction(2) ** (e - 134))
    return Val("num", neg, Fraction(0) if flush else Fraction(f, 2**133))


def floor_log2(q: Fraction) -> int:
    """floor(log2(q)) for q > 0, exactly."""
    e = q.numerator.bit_length() - q.denominator.bit_length()
    if Fraction(2) ** e > q:
        e -= 1
    assert Fraction(2) ** e <= q < Fraction(2) ** (e + 1)
    return e


def round_val(v: Val, digits: int, emin: int, emax: int) -> Val:
    """v rounded to `digits` significant bits, ties to even, unbounded exponent; then magnitudes below
    2**emin become a zero of v's sign and exponents above emax become infinity."""
    if v.kind != "num" or v.q == 0:
        return v
    e = floor_log2(v.q)
    m = round(v.q / Fraction(2) ** (e - digits + 1))  # in [2**(digits-1), 2**digits]; ties to even
    if m == 2**digits:
        m, e = m // 2, e + 1
    if e < emin:
        return Val("num", v.neg, Fraction(0))
    if e > emax:
        return Val("inf", v.neg)
    return Val("num", v.neg, m * Fraction(2) ** (e - digits + 1))


def round_f32(v: Val) -> Val:
    """The reductions' binary32 accumulator: 24 bits, RNE, FTZ below 2**-126, overflow to inf."""
    return round_val(v, 24, -126, 127)


def round_bf16(v: Val) -> int:
    """The policy: 8 significant bits, ties to even, unbounded exponent; then FTZ, overflow, canonical NaN."""
    r = round_val(v, 8, -126, 127)
    if r.kind == "nan":
        return NAN_BITS
    sign = 0x8000 if r.neg else 0
    if r.kind == "inf":
        return sign | 0x7F80
    if r.q == 0:
        return sign
    e = floor_log2(r.q)
    frac = r.q / Fraction(2) ** e - 1  # in [0, 1), a multiple of 2**-7
    assert (frac * 128).denominator == 1
    return sign | (e + 127) << 7 | int(frac * 128)


def add(x: Val, y: Val) -> Val:
    """IEEE addition on exact values (no rounding)."""
    if x.kind == "nan" or y.kind == "nan":
        return NAN
    if x.kind == "inf" and y.kind == "inf":
        return x if x.neg == y.neg else NAN
    if x.kind == "inf":
        return x
    if y.kind == "inf":
        return y
    s = x.signed + y.signed
    if s == 0:
        both_neg_zero = x.is_zero and y.is_zero and x.neg and y.neg
        return Val("num", both_neg_zero, Fraction(0))
    return num(s)


def neg(x: Val) -> Val:
    return x if x.kind == "nan" else Val(x.kind, not x.neg, x.q)


def mul(x: Val, y: Val) -> Val:
    """IEEE multiplication on exact values (no rounding)."""
    if x.kind == "nan" or y.kind == "nan":
        return NAN
    sign = x.neg != y.neg
    if x.kind == "inf" or y.kind == "inf":
        if x.is_zero or y.is_zero:
            return NAN
        return Val("inf", sign)
    return Val("num", sign, x.q * y.q)


def less(x: Val, y: Val) -> bool:
    """x < y as real numbers (NaN compares false; -0 == +0)."""
    if x.kind == "nan" or y.kind == "nan":
        return False

    def key(v: Val) -> tuple[int, Fraction]:
        if v.kind == "inf":
            return (-1 if v.neg else 1, Fraction(0))
        return (0, v.signed)

    return key(x) < key(y)


def total_less(x: Val, y: Val) -> bool:
    """Ordering used by MAX/MIN: as :func:`less`, but -0 < +0."""
    if x.is_zero and y.is_zero:
        return x.neg and not y.neg
    return less(x, y)


def vfloor(x: Val) -> Val:
    """Exact floor (IEEE: floor(-0) = -0, floor(+0.3) = +0)."""
    if x.kind != "num":
        return x
    f = math.floor(x.signed)
    if f == 0:
        return Val("num", x.neg and x.q == 0, Fraction(0))
    return num(Fraction(f))


# --------------------------------------------------------------------------------------------------
# Bulk integer model: a value is S * 2**E with S an int64 significand.
# --------------------------------------------------------------------------------------------------


def split(b: np.ndarray, flush: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signed significand M, exponent E, negative) of finite bf16 patterns: value = M * 2**E."""
    b = b.astype(np.int64)
    neg = (b >> 15) == 1
    e = (b >> 7) & 0xFF
    f = b & 0x7F
    assert not np.any(e == 0xFF), "split() takes finite patterns only"
    mag = np.where(e == 0, 0 if flush else f, 128 + f)
    exp = np.where(e == 0, -133, e - 134)
    return np.where(neg, -mag, mag), exp, neg


def bit_length(a: np.ndarray) -> np.ndarray:
    """Bit length of non-negative int64 values below 2**62 (0 for 0)."""
    nb = np.frexp(a.astype(np.float64))[1].astype(np.int64)  # may be one too big after rounding up
    too_big = (nb > 0) & ((a >> np.maximum(nb - 1, 0)) == 0)
    return nb - too_big


def round_scaled(s: np.ndarray, e: np.ndarray, zero_neg: np.ndarray) -> np.ndarray:
    """bf16 patterns of the exact values s * 2**e (int64 s, |s| < 2**62); zero_neg gives the sign of zeros."""
    s, e = np.asarray(s, np.int64), np.asarray(e, np.int64)
    a = np.abs(s)
    nb = bit_length(a)
    sh = nb - 8
    pos = np.maximum(sh, 0)
    q = a >> pos
    rem = a - (q << pos)
    half = (np.int64(1) << pos) >> 1
    up = (sh > 0) & ((rem > half) | ((rem == half) & (q % 2 == 1)))
    q = q + up
    q = np.where(sh < 0, a << np.maximum(-sh, 0), q)
    carry = q == 256
    q = np.where(carry, 128, q)
    exp = e + sh + carry + 7  # value = q * 2**(exp - 7), q in [128, 255]
    sign = np.where(s < 0, 0x8000, np.where(s == 0, np.where(zero_neg, 0x8000, 0), 0))
    body = np.where(exp < -126, 0, np.where(exp > 127, 0x7F80, ((exp + 127) << 7) | (q - 128)))
    body = np.where(a == 0, 0, body)
    return (sign | body).astype(np.uint16)


def sum_terms(s1: np.ndarray, e1: np.ndarray, s2: np.ndarray, e2: np.ndarray, zero_neg: np.ndarray) -> np.ndarray:
    """bf16 of s1 * 2**e1 + s2 * 2**e2, exactly rounded once (|s1| < 2**17, |s2| < 2**17).

    Near operands are aligned exactly; when one is more than 40 bit positions below the other it is
    replaced by a sticky unit 20 positions below the larger one (same side of every rounding midpoint).
    """
    s1, e1, s2, e2 = (np.asarray(v, np.int64) for v in (s1, e1, s2, e2))
    e1 = np.where(s1 == 0, e2, e1)
    e2 = np.where(s2 == 0, e1, e2)
    top1 = e1 + bit_length(np.abs(s1))
    top2 = e2 + bit_length(np.abs(s2))
    swap = top2 > top1
    s1, s2 = np.where(swap, s2, s1), np.where(swap, s1, s2)
    e1, e2 = np.where(swap, e2, e1), np.where(swap, e1, e2)
    far = (np.abs(top1 - top2) > 40) & (s2 != 0)
    emin = np.minimum(e1, e2)
    d1 = np.where(far, 20, e1 - emin)
    d2 = np.where(far, 0, e2 - emin)
    t2 = np.where(far, np.sign(s2), s2)
    s = (s1 << d1) + (t2 << d2)
    e = np.where(far, e1 - 20, emin)
    return round_scaled(s, e, zero_neg)


def daz_bits(b: np.ndarray) -> np.ndarray:
    """DAZ written independently: exponent field zero keeps only the sign bit."""
    b = b.astype(np.uint32)
    return np.where(((b >> 7) & 0xFF) == 0, b & 0x8000, b).astype(np.uint16)


SPECIALS = [
    *(0x0000, 0x8000),  # signed zeros
    *(0x0001, 0x8001, 0x007F, 0x807F, 0x0040),  # subnormals (read as zeros)
    *(0x0080, 0x8080, 0x0081, 0x00FF, 0x0100),  # smallest normals
    *(0x7F7F, 0xFF7F, 0x7F7E, 0x7F00, 0x7E80),  # near the top of the range
    *(0x7F80, 0xFF80),  # infinities
    *(0x7FC0, 0xFFC0, 0x7F81, 0xFFFF, 0x7FA0),  # NaNs (quiet, negative, signalling, payloads)
    *(0x3F80, 0xBF80, 0x3F81, 0xBF81, 0x3F7F),  # around one
    *(0x4000, 0xC000, 0x3F00, 0xBF00, 0x3FC0, 0xBFC0),  # 2, 0.5, 1.5
    *(0x4040, 0x40A0, 0xC0B0),  # 3, 5, -5.5
    *(0x5F80, 0x1F80, 0x4B80, 0xCB80, 0x0D80),  # 2**64, 2**-64, +-2**24, 2**-100
]


# --------------------------------------------------------------------------------------------------
# Library conversions (IEEE, gradual underflow) and how our FTZ rule relates to them.
# --------------------------------------------------------------------------------------------------


def ml_bits(x: np.ndarray) -> np.ndarray:
    """ml_dtypes' IEEE bf16 conversion (gradual underflow) as bit patterns."""
    with np.errstate(all="ignore"):
        return np.asarray(x).astype(ml_dtypes.bfloat16).view(np.uint16)


def torch_bits(x32: np.ndarray) -> np.ndarray:
    """torch's float32 -> bfloat16 conversion as bit patterns."""
    t = torch.from_numpy(np.ascontiguousarray(x32, dtype=np.float32)).to(torch.bfloat16)
    return t.view(torch.int16).numpy().view(np.uint16)


def to_f32_round_to_odd(x: np.ndarray) -> np.ndarray:
    """float64 -> float32 rounded to odd: a later rounding to 8 bits is then a correct single rounding."""
    with np.errstate(all="ignore"):
        y = x.astype(np.float32)
    inexact = np.isfinite(x) & np.isfinite(y) & (y.astype(np.float64) != x)
    even = (y.view(np.uint32) & 1) == 0
    toward = np.where(x > y, np.float32(np.inf), np.float32(-np.inf))
    return np.where(inexact & even, np.nextafter(y, toward), y)


def check_against_ieee(x: np.ndarray, ours: np.ndarray, ieee: np.ndarray) -> None:
    """ours must equal an IEEE (gradual underflow) conversion except below 2**-126, where our FTZ rule holds.

    Below 2**-126 the exact value rounded with an unbounded exponent is either below 2**-126 (flushed to a
    zero of the value's sign) or exactly 2**-126; the latter happens from the midpoint TINY_TIE upwards.
    """
    with np.errstate(invalid="ignore"):
        x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    assert np.all(ours[nan] == 0x7FC0), "every NaN must become the canonical 0x7FC0"
    assert np.all((ieee[nan] & 0x7FFF) > 0x7F80)
    small = ~nan & (np.abs(x) < 2.0**-126)
    big = ~nan & ~small
    bad = np.flatnonzero(ours[big] != ieee[big])
    assert bad.size == 0, (
        f"{bad.size} mismatches, first x={x[big][bad[0]]!r}: {ours[big][bad[0]]:#x} vs {ieee[big][bad[0]]:#x}"
    )
    sign = np.where(np.signbit(x[small]), 0x8000, 0)
    want = sign | np.where(np.abs(x[small]) >= TINY_TIE, 0x0080, 0)
    assert np.array_equal(ours[small], want.astype(np.uint16))
    # the flushed region is exactly where IEEE gives a subnormal or zero, or rounds up onto 2**-126
    assert np.all((ieee[small] & 0x7F80 == 0) | (ieee[small] & 0x7FFF == 0x0080))
