"""Binary and ternary SIMD primitives: special-value cross products, a million random operands against the
integer bulk model and ml_dtypes, Fraction samples, and crafted rounding / signed-zero / FTZ / NaN cases."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numerics_reference as ref

from tataa import numerics as nx

BF16 = ml_dtypes.bfloat16
SPECIALS = np.array(ref.SPECIALS, dtype=np.uint16)
N_BULK = 10**6


def bf(*xs: float) -> np.ndarray:
    """bf16 patterns of values that are exactly representable (checked); one value gives a 0-d array."""
    out = nx.f64_to_bf16(np.array(xs, dtype=np.float64))
    assert np.array_equal(nx.bf16_to_f64(out), np.array(xs)), xs
    return out[0] if len(xs) == 1 else out


# ---- scalar models on decoded values -------------------------------------------------------------------------


def m_max(x: ref.Val, y: ref.Val) -> int:
    if x.kind == "nan" or y.kind == "nan":
        return ref.NAN_BITS
    return ref.round_bf16(y if ref.total_less(x, y) else x)


def m_min(x: ref.Val, y: ref.Val) -> int:
    if x.kind == "nan" or y.kind == "nan":
        return ref.NAN_BITS
    return ref.round_bf16(x if ref.total_less(x, y) else y)


def m_ldexp(x: ref.Val, y: ref.Val) -> int:
    if x.kind == "nan" or y.kind == "nan":
        return ref.NAN_BITS
    n = (-300 if y.neg else 300) if y.kind == "inf" else max(-300, min(300, math.floor(y.signed)))
    return ref.round_bf16(ref.mul(x, ref.num(Fraction(2) ** n)))


BINARY_MODELS: dict[str, Callable[[ref.Val, ref.Val], int]] = {
    "bf16_add": lambda x, y: ref.round_bf16(ref.add(x, y)),
    "bf16_sub": lambda x, y: ref.round_bf16(ref.add(x, ref.neg(y))),
    "bf16_mul": lambda x, y: ref.round_bf16(ref.mul(x, y)),
    "bf16_max": m_max,
    "bf16_min": m_min,
    "bf16_cmplt": lambda x, y: 0x3F80 if ref.less(x, y) else 0,
    "bf16_cmpeq": lambda x, y: (
        0x3F80 if "nan" not in (x.kind, y.kind) and not ref.less(x, y) and not ref.less(y, x) else 0
    ),
    "bf16_ldexp": m_ldexp,
}
BITS_MODELS: dict[str, Callable[[int, int], int]] = {
    "bits_add": lambda a, b: (a + b) & 0xFFFF,
    "bits_sub": lambda a, b: (a - b) & 0xFFFF,
    "bits_shr": lambda a, b: a >> (b & 15),
    "bits_shl": lambda a, b: (a << (b & 15)) & 0xFFFF,
}


def pairs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(values, values, indexing="ij")
    return a.ravel(), b.ravel()


@pytest.mark.parametrize("name", sorted(BINARY_MODELS))
def test_specials_cross_product(name: str) -> None:
    a, b = pairs(SPECIALS)
    got = getattr(nx, name)(a, b)
    assert got.dtype == np.uint16
    model = BINARY_MODELS[name]
    want = [model(ref.decode(int(x)), ref.decode(int(y))) for x, y in zip(a, b, strict=True)]
    bad = [(hex(x), hex(y), hex(g), hex(w)) for x, y, g, w in zip(a, b, got, want, strict=True) if g != w]
    assert not bad, f"{len(bad)} mismatches, e.g. (a, b, got, want) = {bad[:4]}"


@pytest.mark.parametrize("name", sorted(BITS_MODELS))
def test_bit_pattern_ops(name: str) -> None:
    rng = np.random.default_rng(5)
    a = np.concatenate([pairs(SPECIALS)[0], rng.integers(0, 1 << 16, 20000)]).astype(np.uint16)
    b = np.concatenate([pairs(SPECIALS)[1], rng.integers(0, 1 << 16, 20000)]).astype(np.uint16)
    got = getattr(nx, name)(a, b)
    assert got.dtype == np.uint16
    model = BITS_MODELS[name]
    assert got.tolist() == [model(int(x), int(y)) for x, y in zip(a, b, strict=True)]


def test_bit_pattern_ops_crafted() -> None:
    assert int(nx.bits_add(0xFFFF, 1)) == 0 and int(nx.bits_sub(0, 1)) == 0xFFFF
    assert int(nx.bits_shr(0x8000, 15)) == 1 and int(nx.bits_shr(0x8000, 17)) == 0x4000  # 17 & 15 = 1
    assert int(nx.bits_shl(0x4001, 2)) == 0x0004 and int(nx.bits_shl(0x0001, 0xFFF0)) == 0x0001
    assert int(nx.bits_add(0x7F81, 0)) == 0x7F81 and int(nx.bits_add(0x0001, 0)) == 0x0001  # no canonicalisation


def test_fma_and_select_specials_cross_product() -> None:
    sub = SPECIALS[::2]
    a, b, c = (g.ravel() for g in np.meshgrid(sub, sub, SPECIALS, indexing="ij"))
    vals = {int(x): ref.decode(int(x)) for x in SPECIALS}
    got = nx.bf16_fma(a, b, c)
    want = [ref.round_bf16(ref.add(ref.mul(vals[x], vals[y]), vals[z])) for x, y, z in zip(a, b, c, strict=True)]
    assert got.tolist() == want
    got = nx.bf16_select(a, b, c)
    cond = {z: v.kind == "nan" or v.kind == "inf" or v.q != 0 for z, v in vals.items()}
    want = [ref.round_bf16(vals[x] if cond[z] else vals[y]) for x, y, z in zip(a, b, c, strict=True)]
    assert got.tolist() == want


# ---- bulk: a million random operands ------------------------------------------------------------------------


def finite_patterns(rng: np.random.Generator, n: int, exp_lo: int = 0, exp_hi: int = 254) -> np.ndarray:
    """Random finite patterns: sign, exponent field in [exp_lo, exp_hi] (0 = zero/subnormal), fraction."""
    sign = rng.integers(0, 2, n) << 15
    exp = rng.integers(exp_lo, exp_hi + 1, n) << 7
    frac = rng.integers(0, 128, n)
    return (sign | exp | frac).astype(np.uint16)


def random_pairs(seed: int, n: int = N_BULK) -> tuple[np.ndarray, np.ndarray]:
    """Half uniformly random finite patterns, half with exponents within 12 of each other (real rounding)."""
    rng = np.random.default_rng(seed)
    h = n // 2
    a1, b1 = finite_patterns(rng, h), finite_patterns(rng, h)
    a2 = finite_patterns(rng, n - h, 1, 254)
    e = (a2.astype(np.int64) >> 7) & 0xFF
    shift = rng.integers(-12, 13, n - h)
    b2 = (finite_patterns(rng, n - h).astype(np.int64) & 0x807F) | (np.clip(e + shift, 1, 254) << 7)
    return np.concatenate([a1, a2]), np.concatenate([b1, b2.astype(np.uint16)])


def test_add_sub_mul_million_against_integer_model() -> None:
    a, b = random_pairs(11)
    sa, ea, na = ref.split(a)
    sb, eb, nb = ref.split(b)
    za, zb = sa == 0, sb == 0
    want_add = ref.sum_terms(sa, ea, sb, eb, za & zb & na & nb)
    want_sub = ref.sum_terms(sa, ea, -sb, eb, za & zb & na & ~nb)
    want_mul = ref.round_scaled(sa * sb, ea + eb, na ^ nb)
    assert np.array_equal(nx.bf16_add(a, b), want_add)
    assert np.array_equal(nx.bf16_sub(a, b), want_sub)
    assert np.array_equal(nx.bf16_mul(a, b), want_mul)
    # the random set really exercises rounding, flushing and overflow
    exact_mul = nx.bf16_to_f64(want_mul) == nx.bf16_to_f64(ref.daz_bits(a)) * nx.bf16_to_f64(ref.daz_bits(b))
    assert np.count_nonzero(~exact_mul) > N_BULK // 10
    assert np.count_nonzero(want_add & 0x7FFF == 0) > 300 and np.count_nonzero(want_mul & 0x7FFF == 0x7F80) > 1000


def test_add_mul_million_against_ml_dtypes() -> None:
    """A second, library-based bulk reference: exact float64 result -> round-to-odd float32 -> ml_dtypes."""
    a, b = random_pairs(12)
    x = ref.daz_bits(a).view(BF16).astype(np.float64)
    y = ref.daz_bits(b).view(BF16).astype(np.float64)
    with np.errstate(all="ignore"):
        prod, total = x * y, x + y  # the product is exact; the sum is exact when exponents are within 40
    close = np.abs(np.frexp(x)[1] - np.frexp(y)[1]) <= 40
    ref.check_against_ieee(prod, nx.bf16_mul(a, b), ref.ml_bits(ref.to_f32_round_to_odd(prod)))
    ref.check_against_ieee(
        total[close], nx.bf16_add(a[close], b[close]), ref.ml_bits(ref.to_f32_round_to_odd(total[close]))
    )


def test_fma_million_against_integer_model() -> None:
    a, b = random_pairs(13)
    rng = np.random.default_rng(14)
    c_far = finite_patterns(rng, N_BULK)
    # c near -a*b in magnitude: deep cancellation and sticky bits both ways
    ep = ((a.astype(np.int64) >> 7) & 0xFF) + ((b.astype(np.int64) >> 7) & 0xFF) - 127
    c_near = (finite_patterns(rng, N_BULK).astype(np.int64) & 0x807F) | (
        np.clip(ep + rng.integers(-10, 11, N_BULK), 1, 254) << 7
    )
    c = np.where(rng.integers(0, 2, N_BULK) == 1, c_far, c_near).astype(np.uint16)
    sa, ea, na = ref.split(a)
    sb, eb, nb = ref.split(b)
    sc, ec, nc = ref.split(c)
    p_neg = na ^ nb
    want = ref.sum_terms(sa * sb, ea + eb, sc, ec, (sa * sb == 0) & (sc == 0) & p_neg & nc)
    got = nx.bf16_fma(a, b, c)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{bad.size} mismatches, first a,b,c = {a[bad[0]]:#x},{b[bad[0]]:#x},{c[bad[0]]:#x}"
    # double rounding would bite here: the naive float64 a*b + c then one rounding differs on some triples
    with np.errstate(all="ignore"):
        naive = nx.f64_to_bf16(
            nx.bf16_to_f64(ref.daz_bits(a)) * nx.bf16_to_f64(ref.daz_bits(b)) + nx.bf16_to_f64(ref.daz_bits(c))
        )
    assert np.count_nonzero(naive != want) > 0


def test_ldexp_million_against_integer_model() -> None:
    rng = np.random.default_rng(15)
    a = finite_patterns(rng, N_BULK)
    b = finite_patterns(rng, N_BULK, 100, 140)  # |b| from ~2**-27 to ~2**13: shifts of every size, clamping
    sa, ea, na = ref.split(a)
    n = np.clip(np.floor(ref.daz_bits(b).view(BF16).astype(np.float64)), -300, 300).astype(np.int64)
    assert np.array_equal(nx.bf16_ldexp(a, b), ref.round_scaled(sa, ea + n, na))


def test_max_min_cmp_million() -> None:
    a, b = random_pairs(16)
    rng = np.random.default_rng(17)
    nan = rng.integers(0, 20, N_BULK) == 0
    a = np.where(nan, rng.choice(np.array([0x7FC0, 0xFFC1, 0x7F81], np.uint16), N_BULK), a).astype(np.uint16)
    zero = rng.integers(0, 10, N_BULK) == 0
    b = np.where(zero, rng.choice(np.array([0x0000, 0x8000, 0x0005, 0x8005], np.uint16), N_BULK), b).astype(np.uint16)
    x, y = ref.daz_bits(a).view(BF16), ref.daz_bits(b).view(BF16)
    with np.errstate(invalid="ignore"):  # signalling NaN patterns warn in float comparisons
        either_nan = np.isnan(x) | np.isnan(y)
        both_zero = (x == 0) & (y == 0)
        y_wins = (y > x) | (both_zero & (ref.daz_bits(b) == 0) & (ref.daz_bits(a) == 0x8000))
        want_max = np.where(either_nan, 0x7FC0, np.where(y_wins, ref.daz_bits(b), ref.daz_bits(a)))
        x_wins_min = (x < y) | (both_zero & (ref.daz_bits(a) == 0x8000))
        want_min = np.where(
            either_nan, 0x7FC0, np.where(x_wins_min | (x == y) & ~both_zero, ref.daz_bits(a), ref.daz_bits(b))
        )
        assert np.array_equal(nx.bf16_max(a, b), want_max)
        assert np.array_equal(nx.bf16_min(a, b), want_min)
        assert np.array_equal(nx.bf16_cmplt(a, b), np.where(x < y, 0x3F80, 0))
        assert np.array_equal(nx.bf16_cmpeq(a, b), np.where(x == y, 0x3F80, 0))


def test_fraction_sample_add_sub_mul_fma() -> None:
    a, b = random_pairs(18, 10000)
    c = random_pairs(19, 10000)[0]
    va, vb, vc = ([ref.decode(int(v)) for v in arr] for arr in (a, b, c))
    assert nx.bf16_add(a, b).tolist() == [ref.round_bf16(ref.add(x, y)) for x, y in zip(va, vb, strict=True)]
    assert nx.bf16_sub(a, b).tolist() == [ref.round_bf16(ref.add(x, ref.neg(y))) for x, y in zip(va, vb, strict=True)]
    assert nx.bf16_mul(a, b).tolist() == [ref.round_bf16(ref.mul(x, y)) for x, y in zip(va, vb, strict=True)]
    c_near = nx.bf16_sub(0, nx.bf16_mul(a, b))  # -(a*b) rounded: cancels to a few bits of a*b's rounding error
    c_near = nx.bf16_add(c_near, c & 0x807F | 0x0C00)  # nudged by something tiny (exponent field 24)
    for cc in (c, c_near):
        vcc = [ref.decode(int(v)) for v in cc]
        want = [ref.round_bf16(ref.add(ref.mul(x, y), z)) for x, y, z in zip(va, vb, vcc, strict=True)]
        assert nx.bf16_fma(a, b, cc).tolist() == want
    assert len(vc) == 10000


# ---- crafted cases ------------------------------------------------------------------------------------------


def test_fma_midpoint_needs_single_rounding() -> None:
    """(1 + 2**-4)**2 = 1 + 2**-3 + 2**-8 is exactly halfway between bf16 0x3F90 and 0x3F91; a tiny c
    decides the direction. float64 alone would drop c (a double rounding) and land on the even 0x3F90."""
    a = bf(1 + 2.0**-4)  # 0x3F88
    tiny, neg_tiny = bf(2.0**-100), bf(-(2.0**-100))
    assert int(nx.bf16_fma(a, a, tiny)) == 0x3F91
    assert int(nx.bf16_fma(a, a, neg_tiny)) == 0x3F90
    assert int(nx.bf16_fma(a, a, nx.BF16_ZERO)) == 0x3F90  # an exact tie goes to even
    assert int(nx.bf16_fma(nx.bf16_sub(0, a), a, neg_tiny)) == 0xBF91
    assert int(nx.bf16_fma(nx.bf16_sub(0, a), a, tiny)) == 0xBF90
    p = float(nx.bf16_to_f64(a)) ** 2
    assert p + 2.0**-100 == p and int(nx.f64_to_bf16(p + 2.0**-100)) == 0x3F90  # the trap being avoided
    # the tie just above a power of two, approached from below: 1 - tiny rounds to 1.0
    assert int(nx.bf16_fma(nx.BF16_ONE, nx.BF16_ONE, neg_tiny)) == 0x3F80
    # 1 + 2**-8 (bf16 tie) minus tiny must go down to 1.0, plus tiny up to 1 + 2**-7
    half_ulp = bf(2.0**-8)
    assert int(nx.bf16_fma(half_ulp, nx.BF16_ONE, nx.bf16_add(nx.BF16_ONE, 0))) == 0x3F80
    # 1.75 * 0.578125 = 1 + 3 * 2**-8: a tie between 0x3F81 (odd) and 0x3F82 (even)
    a, b = bf(1.75), bf(0.578125)
    assert [int(nx.bf16_fma(a, b, c)) for c in (neg_tiny, nx.BF16_ZERO, tiny)] == [0x3F81, 0x3F82, 0x3F82]


def test_fma_exceeds_range_inside() -> None:
    big = nx.BF16_MAX
    assert int(nx.bf16_fma(big, bf(1.5), nx.bf16_sub(0, big))) == 0x7EFF  # 1.5 MAX - MAX = MAX / 2, no overflow
    assert int(nx.bf16_fma(big, big, nx.bf16_sub(0, big))) == 0x7F80
    assert int(nx.bf16_fma(bf(2.0**-100), bf(2.0**-100), nx.BF16_MIN_NORMAL)) == 0x0080  # 2**-200 is a sticky bit
    assert int(nx.bf16_fma(bf(2.0**-100), bf(2.0**-100), nx.BF16_ZERO)) == 0x0000  # 2**-200 alone: flushed


def test_fma_special_values() -> None:
    inf, ninf = nx.BF16_INF, nx.BF16_NEG_INF
    one, zero, nzero = nx.BF16_ONE, nx.BF16_ZERO, nx.BF16_NEG_ZERO
    cases = [
        (inf, zero, one, 0x7FC0),  # 0 * inf
        (inf, one, ninf, 0x7FC0),  # inf - inf
        (one, one, 0xFFC3, 0x7FC0),  # NaN c, any payload
        (inf, one, bf(5.0), 0x7F80),
        (ninf, one, nx.BF16_MAX, 0xFF80),
        (one, 0x0001, ninf, 0xFF80),  # subnormal b reads as 0: 0 + -inf
        (0x0001, inf, one, 0x7FC0),  # subnormal a reads as 0: 0 * inf = NaN
        (nzero, one, nzero, 0x8000),  # -0 + -0 = -0
        (nzero, one, zero, 0x0000),
        (zero, bf(-3.0), 0x8001, 0x8000),  # (-0) + (-0 from a subnormal)
        (bf(2.0), bf(3.0), bf(-6.0), 0x0000),  # exact cancellation: +0
        (bf(-2.0), bf(3.0), bf(6.0), 0x0000),
        (bf(1.5), nx.BF16_MIN_NORMAL, bf(-(2.0**-126)), 0x0000),  # 0.5 * 2**-126 flushed to +0
        (bf(-1.5), nx.BF16_MIN_NORMAL, nx.BF16_MIN_NORMAL, 0x8000),  # -0.5 * 2**-126 flushed to -0
    ]
    for a, b, c, want in cases:
        assert int(nx.bf16_fma(a, b, c)) == want, (hex(int(a)), hex(int(b)), hex(int(c)))


def test_signed_zeros_and_daz() -> None:
    pz, nz = nx.BF16_ZERO, nx.BF16_NEG_ZERO
    assert int(nx.bf16_add(nz, nz)) == 0x8000 and int(nx.bf16_add(pz, nz)) == 0 and int(nx.bf16_add(nz, pz)) == 0
    assert int(nx.bf16_sub(nz, pz)) == 0x8000 and int(nx.bf16_sub(pz, pz)) == 0 and int(nx.bf16_sub(nz, nz)) == 0
    x = bf(3.25)
    assert int(nx.bf16_sub(x, x)) == 0 and int(nx.bf16_add(nx.bf16_sub(0, x), x)) == 0  # x - x = +0, -x + x = +0
    assert int(nx.bf16_mul(nz, bf(5.0))) == 0x8000 and int(nx.bf16_mul(nz, bf(-5.0))) == 0
    assert int(nx.bf16_add(0x8001, 0x8001)) == 0x8000  # subnormals read as -0
    assert int(nx.bf16_sub(0x8001, 0x0001)) == 0x8000
    assert int(nx.bf16_mul(0x0001, nx.BF16_INF)) == 0x7FC0  # DAZ: 0 * inf
    assert int(nx.bf16_add(0x007F, 0x007F)) == 0  # would be a normal 2**-126 - 2**-133 without DAZ
    assert int(nx.bf16_max(0x8000, 0x0000)) == 0 and int(nx.bf16_min(0x0000, 0x8000)) == 0x8000
    assert int(nx.bf16_max(0x0001, 0x8000)) == 0  # subnormal read as +0, result flushed
    assert int(nx.bf16_cmpeq(0x8000, 0x0000)) == 0x3F80 and int(nx.bf16_cmplt(0x8000, 0x0000)) == 0
    assert int(nx.bf16_cmpeq(0x0001, 0x0000)) == 0x3F80 and int(nx.bf16_cmplt(0x0000, 0x0001)) == 0


def test_ftz_outputs() -> None:
    """Results rounded with an unbounded exponent, then flushed below 2**-126 (not IEEE gradual underflow)."""
    a = bf(2.0**-126 * 1.140625)  # 0x0092
    assert int(a) == 0x0092
    # 2**-126 * 0.998046875 = 2**-127 * 1.99609375: a tie between 1.9921875 (odd) and 2: rounds up to 2**-126
    assert int(nx.bf16_mul(a, bf(0.875))) == 0x0080
    # 2**-126 * 1.140625 * 0.87109375 = 2**-127 * 1.9871...: rounds to 2**-127 * 1.984375, below 2**-126: flushed
    assert int(nx.bf16_mul(a, bf(0.87109375))) == 0x0000
    assert int(nx.bf16_mul(nx.bf16_sub(0, a), bf(0.87109375))) == 0x8000
    # IEEE (ml_dtypes) would give a subnormal there
    ieee = (np.float64(2.0**-126 * 1.140625) * 0.87109375).astype(BF16).view(np.uint16)
    assert ieee != 0 and ieee & 0x7F80 == 0
    assert int(nx.bf16_sub(bf(1.5 * 2.0**-126), nx.BF16_MIN_NORMAL)) == 0  # 2**-127: flushed
    assert int(nx.bf16_ldexp(bf(1 + 2.0**-7), bf(-127.0))) == 0
    assert int(nx.bf16_ldexp(bf(1.0), bf(-126.0))) == 0x0080


def test_overflow_and_nan() -> None:
    assert int(nx.bf16_add(nx.BF16_MAX, nx.BF16_MAX)) == 0x7F80
    assert int(nx.bf16_add(nx.BF16_MAX, bf(2.0**119))) == 0x7F80  # MAX + half ulp: tie, rounds to even = 2**128
    assert int(nx.bf16_add(nx.BF16_MAX, bf(2.0**118))) == 0x7F7F
    assert int(nx.bf16_mul(bf(-(2.0**64)), bf(2.0**64))) == 0xFF80
    for op in (nx.bf16_add, nx.bf16_sub, nx.bf16_mul, nx.bf16_max, nx.bf16_min, nx.bf16_ldexp):
        assert (
            op(np.array([0xFFC1, 0x7F81, 0x3F80], np.uint16), np.array([0, 0, 0xFF83], np.uint16)).tolist()
            == [0x7FC0] * 3
        )
    assert int(nx.bf16_sub(nx.BF16_INF, nx.BF16_INF)) == 0x7FC0
    assert int(nx.bf16_add(nx.BF16_NEG_INF, nx.BF16_INF)) == 0x7FC0
    assert int(nx.bf16_mul(nx.BF16_NEG_ZERO, nx.BF16_NEG_INF)) == 0x7FC0


def test_ldexp_clamping() -> None:
    one = nx.BF16_ONE
    assert nx.bf16_ldexp(one, bf(2.5, -2.5, 2.0, -0.5)).tolist() == [0x4080, 0x3E00, 0x4080, 0x3F00]
    assert int(nx.bf16_ldexp(one, nx.BF16_INF)) == 0x7F80  # clamps to 300: overflows
    assert int(nx.bf16_ldexp(one, nx.BF16_NEG_INF)) == 0x0000  # clamps to -300: flushed
    assert int(nx.bf16_ldexp(nx.BF16_MAX, bf(-300.0))) == 0 and int(nx.bf16_ldexp(nx.BF16_MAX, bf(-253.0))) == 0x00FF
    assert int(nx.bf16_ldexp(nx.BF16_MIN_NORMAL, nx.BF16_MAX)) == 0x7F80  # b = 3.4e38 clamps to 300
    assert int(nx.bf16_ldexp(nx.BF16_NEG_ZERO, nx.BF16_INF)) == 0x8000
    assert int(nx.bf16_ldexp(nx.BF16_INF, nx.BF16_NEG_INF)) == 0x7F80
    assert int(nx.bf16_ldexp(nx.BF16_ZERO, nx.BF16_NAN)) == 0x7FC0
    assert int(nx.bf16_ldexp(bf(3.0), 0x8001)) == 0x4040  # subnormal b reads as -0: floor 0
    assert int(nx.bf16_ldexp(bf(3.0), bf(-0.25))) == 0x3FC0  # floor(-0.25) = -1


def test_select() -> None:
    a, b = bf(1.0, 2.0, 3.0, 4.0, 5.0, 6.0), bf(-1.0, -2.0, -3.0, -4.0, -5.0, -6.0)
    c = np.array([0x7FC0, 0x8000, 0x0001, 0x3F80, 0xFF80, 0x0000], np.uint16)
    assert nx.bf16_select(a, b, c).tolist() == [int(a[0]), int(b[1]), int(b[2]), int(a[3]), int(a[4]), int(b[5])]
    assert nx.bf16_select(np.array([0x0001, 0xFFC1, 0x8003], np.uint16), 0, 0x3F80).tolist() == [0, 0x7FC0, 0x8000]
