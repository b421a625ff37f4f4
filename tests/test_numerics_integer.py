"""The integer side: wrapping, saturation, RNE, the int8 GEMM, requantization, scale packing, quantization."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numerics_reference as ref

from tataa import numerics as nx


def py_wrap32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def py_requant_int8(acc: int, m: int, s: int) -> int:
    return max(-128, min(127, round(Fraction(acc * m, 2**s))))  # round() of a Fraction ties to even


def py_requant_bf16(acc: int, m: int, s: int) -> int:
    return ref.round_bf16(ref.num(Fraction(acc * m, 2**s)))


# ---- wrap / saturate / round ---------------------------------------------------------------------------------


def test_wrap_int32() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.integers(-(2**62), 2**62, 10000), [2**31, -(2**31) - 1, 2**32, -(2**32), 2**31 - 1, 0]])
    got = nx.wrap_int32(x)
    assert got.dtype == np.int32
    assert got.tolist() == [py_wrap32(int(v)) for v in x]
    assert int(nx.wrap_int32(2**31)) == -(2**31) and int(nx.wrap_int32(-(2**31) - 1)) == 2**31 - 1


def test_saturate_int8() -> None:
    x = np.array([-(2**40), -129, -128, -1, 0, 127, 128, 2**40])
    got = nx.saturate_int8(x)
    assert got.dtype == np.int8 and got.tolist() == [-128, -128, -128, -1, 0, 127, 127, 127]


def test_round_half_even() -> None:
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 2.0**52 + 1, -(2.0**62), 3.7, -3.7])
    got = nx.round_half_even(x)
    assert got.dtype == np.int64
    assert got.tolist() == [round(Fraction(v)) for v in x]
    rng = np.random.default_rng(2)
    r = np.concatenate([rng.standard_normal(5000) * 1e6, np.round(rng.standard_normal(5000) * 100) + 0.5])
    assert nx.round_half_even(r).tolist() == [round(Fraction(v)) for v in r]
    for bad in (np.nan, np.inf, -np.inf, 2.0**63):
        with pytest.raises(ValueError, match="round_half_even"):
            nx.round_half_even(np.array([1.0, bad]))


# ---- GEMM ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "k", "n"), [(1, 1, 1), (7, 33, 5), (16, 512, 24), (4, 8192, 8)])
def test_gemm_random(m: int, k: int, n: int) -> None:
    rng = np.random.default_rng(k)
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    got = nx.gemm_int32(a, b)
    assert got.dtype == np.int32 and got.shape == (m, n)
    assert np.array_equal(got, a.astype(np.int64) @ b.astype(np.int64))


def test_gemm_extremes_and_wrapping() -> None:
    a = np.full((3, 8192), -128, np.int8)
    assert np.all(nx.gemm_int32(a, np.full((8192, 2), -128, np.int8)) == 8192 * 16384)
    assert np.all(nx.gemm_int32(a, np.full((8192, 2), 127, np.int8)) == -8192 * 128 * 127)
    k = 2**17 + 3  # k * 2**14 = 2**31 + 49152: one past int32 by a lot, wraps negative
    got = nx.gemm_int32(np.full((2, k), -128, np.int8), np.full((k, 3), -128, np.int8))
    assert np.all(got == py_wrap32(k * 2**14)) and int(got[0, 0]) == -(2**31) + 49152
    rng = np.random.default_rng(3)
    a = rng.choice(np.array([-128, 127], np.int8), (2, k))
    b = rng.choice(np.array([-128, 127], np.int8), (k, 2))
    exact = a.astype(np.int64) @ b.astype(np.int64)
    assert nx.gemm_int32(a, b).tolist() == [[py_wrap32(int(v)) for v in row] for row in exact]


def test_gemm_errors() -> None:
    with pytest.raises(ValueError, match="int8"):
        nx.gemm_int32(np.zeros((2, 2), np.int16), np.zeros((2, 2), np.int8))
    with pytest.raises(ValueError, match="2-D"):
        nx.gemm_int32(np.zeros((2, 2, 2), np.int8), np.zeros((2, 2), np.int8))
    with pytest.raises(ValueError, match="inner dimensions"):
        nx.gemm_int32(np.zeros((2, 3), np.int8), np.zeros((2, 2), np.int8))
    huge = 2**38  # views without memory: the check happens before any arithmetic
    with pytest.raises(ValueError, match="2\\*\\*38"):
        nx.gemm_int32(np.broadcast_to(np.int8(1), (1, huge)), np.broadcast_to(np.int8(1), (huge, 1)))


# ---- requantization -------------------------------------------------------------------------------------------


def requant_cases() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    n = 20000
    acc = rng.integers(-(2**31), 2**31, n)
    acc[: n // 4] = rng.integers(-5000, 5000, n // 4)  # small accumulators: results inside int8
    m = rng.integers(0, 2**16, n)
    s = rng.integers(0, 64, n)
    s[: n // 2] = rng.integers(10, 30, n // 2)
    edges = [
        (5, 1, 1), (-5, 1, 1), (7, 1, 1), (-7, 1, 1), (3, 1, 1), (-3, 1, 1),  # ties at .5 and -.5
        (1, 1, 1), (-1, 1, 1), (255, 1, 1), (-255, 1, 1), (257, 1, 1), (-257, 1, 1),  # 127.5, 128.5
        (3 * 2**20, 2**15, 36), (-(3 * 2**20), 2**15, 36),  # 1.5 and -1.5 through big shifts
        (127, 1, 0), (128, 1, 0), (-128, 1, 0), (-129, 1, 0), (12345, 1, 0),  # s = 0: plain saturation
        (2**31 - 1, 2**16 - 1, 0), (-(2**31), 2**16 - 1, 0), (2**31 - 1, 2**16 - 1, 63), (-(2**31), 2**16 - 1, 63),
        (2**31 - 1, 2**16 - 1, 47), (-(2**31), 2**16 - 1, 47), (-(2**31), 2**16 - 1, 48), (-(2**31), 2**16, 0),
        (2**31 - 1, 0, 5), (-(2**31), 0, 63), (0, 65535, 0),  # m = 0, acc = 0
    ]  # fmt: skip
    e_acc, e_m, e_s = (np.array(c) for c in zip(*edges, strict=True))
    e_m = e_m % 2**16  # the last but three: m = 65536 is not representable; 0 after masking is still a case
    return np.concatenate([e_acc, acc]), np.concatenate([e_m, m]), np.concatenate([e_s, s])


def test_requant_int8_exact() -> None:
    acc, m, s = requant_cases()
    got = nx.requant_int8(acc.astype(np.int32), nx.pack_scale(m, s))
    assert got.dtype == np.int8
    assert got.tolist() == [py_requant_int8(int(a), int(mm), int(ss)) for a, mm, ss in zip(acc, m, s, strict=True)]
    # the hand-derived ties: 2.5 -> 2, -2.5 -> -2, 3.5 -> 4, -3.5 -> -4, 1.5 -> 2, 127.5 -> 127 (saturated)
    assert got[:14].tolist() == [2, -2, 4, -4, 2, -2, 0, 0, 127, -128, 127, -128, 2, -2]


def test_requant_bf16_exact() -> None:
    acc, m, s = requant_cases()
    got = nx.requant_bf16(acc.astype(np.int32), nx.pack_scale(m, s))
    assert got.dtype == np.uint16
    assert got.tolist() == [py_requant_bf16(int(a), int(mm), int(ss)) for a, mm, ss in zip(acc, m, s, strict=True)]
    assert int(nx.requant_bf16(-5, nx.pack_scale(0, 3))) == 0x0000  # an integer zero product is +0
    # 2**31 * 65535 * 2**-63 ~ 1.5e-5 stays normal; 257 * 2**-8 rounds to even (1.0)
    assert int(nx.requant_bf16(257, nx.pack_scale(1, 8))) == 0x3F80
    assert int(nx.requant_bf16(259, nx.pack_scale(1, 8))) == 0x3F82


def test_requant_ignores_other_scale_bits_and_broadcasts() -> None:
    rng = np.random.default_rng(5)
    acc = rng.integers(-(2**20), 2**20, (3, 4, 8)).astype(np.int32)
    m, s = rng.integers(0, 2**16, 8), rng.integers(0, 64, 8)
    w = nx.pack_scale(m, s)
    noisy = (w.astype(np.int64) | (rng.integers(0, 2**10, 8) << 22)).astype(np.uint32).view(np.int32)
    assert np.any(noisy < 0)
    for fn in (nx.requant_int8, nx.requant_bf16):
        assert np.array_equal(fn(acc, w), fn(acc, noisy))
        assert fn(acc, w).shape == (3, 4, 8)
    want = [
        [[py_requant_int8(int(acc[i, j, k]), int(m[k]), int(s[k])) for k in range(8)] for j in range(4)]
        for i in range(3)
    ]
    assert nx.requant_int8(acc, w).tolist() == want


def test_requant_rejects_non_int32() -> None:
    with pytest.raises(ValueError, match="2147483648"):
        nx.requant_int8(np.array([2**31]), nx.pack_scale(1, 0))
    with pytest.raises(TypeError, match="float"):
        nx.requant_bf16(np.array([1.5]), nx.pack_scale(1, 0))


# ---- scales ---------------------------------------------------------------------------------------------------


def test_pack_unpack() -> None:
    rng = np.random.default_rng(6)
    m, s = rng.integers(0, 2**16, 1000), rng.integers(0, 64, 1000)
    w = nx.pack_scale(m, s)
    assert w.dtype == np.int32
    assert w.tolist() == [int(a) | int(b) << 16 for a, b in zip(m, s, strict=True)]
    um, us = nx.unpack_scale(w)
    assert np.array_equal(um, m) and np.array_equal(us, s)
    assert [int(v) for v in nx.unpack_scale(np.int32(-1))] == [0xFFFF, 0x3F]  # bits above 21 ignored
    assert int(nx.pack_scale(65535, 63)) == 0x003FFFFF
    for bad_m, bad_s, word in ((65536, 0, "65536"), (-1, 0, "-1"), (1, 64, "64"), (1, -2, "-2")):
        with pytest.raises(ValueError, match=word):
            nx.pack_scale(bad_m, bad_s)


def test_scale_to_multiplier_accuracy_across_magnitudes() -> None:
    rng = np.random.default_rng(7)
    x = np.exp(rng.uniform(np.log(2.0**-48), np.log(65535.0), 20000))
    x = np.concatenate([x, 2.0 ** np.arange(-48, 16), [2.0**-48, 65535.0, 65535.49, 1.0 - 2.0**-53, 1.0 - 2.0**-17]])
    m, s = nx.scale_to_multiplier(x)
    assert np.all((m >= 2**15) & (m < 2**16)) and np.all((s >= 0) & (s <= 63))
    for xi, mi, si in zip(
        x[:3000].tolist() + x[-70:].tolist(),
        m[:3000].tolist() + m[-70:].tolist(),
        s[:3000].tolist() + s[-70:].tolist(),
        strict=True,
    ):
        exact = Fraction(xi)
        approx = Fraction(mi, 2**si)
        assert abs(approx - exact) <= exact * Fraction(1, 2**16)
        # nearest among representable neighbours with the same shift
        assert abs(approx - exact) <= abs(Fraction(mi + 1, 2**si) - exact)
        assert abs(approx - exact) <= abs(Fraction(mi - 1, 2**si) - exact)
    rel = np.abs(m * np.ldexp(1.0, -s) - x) / x
    assert rel.max() <= 2.0**-16
    assert nx.scale_to_multiplier(1.0) == (2**15, 15)
    assert nx.scale_to_multiplier(1.0 - 2.0**-53) == (2**15, 15)  # rounds up across the binade: m = 2**16 -> 2**15
    assert nx.scale_to_multiplier((2**15 + 0.5) * 2.0**-20) == (2**15, 20)  # a tie: even m
    assert nx.scale_to_multiplier((2**15 + 1.5) * 2.0**-20) == (2**15 + 2, 20)


def test_scale_to_multiplier_small_zero_and_errors() -> None:
    assert nx.scale_to_multiplier(0.0) == (0, 0)
    assert nx.scale_to_multiplier(2.0**-60) == (8, 63)
    assert nx.scale_to_multiplier(3 * 2.0**-64) == (2, 63)  # 1.5 ties to even
    assert nx.scale_to_multiplier(0.75 * 2.0**-63) == (1, 63)
    m, s = nx.scale_to_multiplier(np.array([0.0, 1.0, 2.0**-50]))
    assert m.tolist() == [0, 2**15, 2**13] and s.tolist() == [0, 15, 63]
    assert isinstance(nx.scale_to_multiplier(0.5)[0], int)
    for bad in (-1.0, np.nan, np.inf, 65535.5, 1e6, 2.0**-64, 1e-30):
        with pytest.raises(ValueError, match="scale"):
            nx.scale_to_multiplier(bad)
    with pytest.raises(ValueError, match="1000000"):
        nx.scale_to_multiplier(np.array([1.0, 1e6]))


def test_scale_to_multiplier_then_requant_approximates_real_scaling() -> None:
    rng = np.random.default_rng(8)
    for x in (0.0123, 3.7e-5, 0.5, 1.0, 9.99):
        w = nx.pack_scale(*nx.scale_to_multiplier(x))
        acc = rng.integers(-(2**20), 2**20, 1000).astype(np.int32)
        got = nx.requant_int8(acc, w).astype(np.int64)
        real = np.clip(np.rint(acc * x), -128, 127)
        assert np.max(np.abs(got - real)) <= 1


# ---- host-side quantization ----------------------------------------------------------------------------------


def py_quantize(x: float, scale: float) -> int:
    if np.isnan(x):
        return 0
    if np.isinf(x):
        return 127 if x > 0 else -128
    return max(-128, min(127, round(Fraction(x) / Fraction(scale))))


def test_quantize_int8_exact_near_ties() -> None:
    rng = np.random.default_rng(9)
    scales = np.exp(rng.uniform(-12, 3, 4000))
    halves = rng.integers(-130, 130, 4000) + 0.5
    x = halves * scales  # float64: lands within an ulp of the exact tie, on either side or on it
    got = nx.quantize_int8(x, scales)
    want = [py_quantize(a, b) for a, b in zip(x, scales, strict=True)]
    assert got.dtype == np.int8 and got.tolist() == want
    naive = np.clip(np.rint(x / scales), -128, 127)
    assert np.count_nonzero(naive != np.array(want)) > 50  # x / scale rounded first is wrong on many of them
    assert int(nx.quantize_int8(0.35, 0.1)) == 3 and int(nx.quantize_int8(0.25, 0.1)) == 2
    # the float64 quotients are exactly 2.5, 1.5, 3.5; the exact ones are just above / below / below
    assert 0.75 / 0.3 == 2.5 and 0.015 / 0.01 == 1.5 and 3.15 / 0.9 == 3.5
    assert nx.quantize_int8([0.75, 0.015, 3.15], [0.3, 0.01, 0.9]).tolist() == [3, 1, 3]


def test_quantize_int8_random_and_specials() -> None:
    rng = np.random.default_rng(10)
    x = rng.standard_normal(20000) * 3
    scale = 0.02
    assert nx.quantize_int8(x, scale).tolist() == [py_quantize(v, scale) for v in x]
    x32 = x.astype(np.float32)
    assert nx.quantize_int8(x32, scale).tolist() == [py_quantize(float(v), scale) for v in x32]
    sp = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300, -1e300, 127.5, -128.5, 126.5, -127.5, 2.5, -2.5])
    assert nx.quantize_int8(sp, 1.0).tolist() == [0, 127, -128, 0, 0, 127, -128, 127, -128, 126, -128, 2, -2]


def test_quantize_int8_per_channel_and_errors() -> None:
    x = np.array([[1.0, 1.0, 1.0], [-3.0, 0.15, 0.25]])
    scale = np.array([0.5, 0.1, 0.01])
    # 0.15 / 0.1 is 1.4999999999999998... exactly in float64 (0.15 is stored low, 0.1 high): 1, not 2
    assert nx.quantize_int8(x, scale).tolist() == [[2, 10, 100], [-6, 1, 25]]
    col, per_channel = np.array([[0.75], [-0.75]]), np.array([0.5, 0.25, 1.5])
    assert nx.quantize_int8(col, per_channel).tolist() == [[2, 3, 0], [-2, -3, 0]]  # 1.5 -> 2, 3, 0.5 -> 0
    for bad in (0.0, -0.1, np.nan, np.inf, 2.0**901):
        with pytest.raises(ValueError, match="scale"):
            nx.quantize_int8(x, bad)
