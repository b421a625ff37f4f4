"""Every unary SIMD primitive, exhaustively over all 65,536 bf16 patterns, against Fraction references."""

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

EVERY = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
VALUES = [ref.decode(b) for b in range(1 << 16)]  # as the datapath reads them (DAZ)


def exhaustive(fn: Callable[[np.ndarray], np.ndarray], model: Callable[[ref.Val], int]) -> None:
    got = fn(EVERY)
    assert got.dtype == np.uint16 and got.shape == EVERY.shape
    want = np.array([model(v) for v in VALUES], dtype=np.uint16)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (
        f"{bad.size} mismatches, first {bad[0]:#06x}: got {got[bad[0]]:#06x}, want {want[bad[0]]:#06x}"
    )


def test_mov_exhaustive() -> None:
    exhaustive(nx.bf16_mov, ref.round_bf16)


def test_abs_exhaustive() -> None:
    exhaustive(nx.bf16_abs, lambda v: ref.round_bf16(ref.NAN if v.kind == "nan" else ref.Val(v.kind, False, v.q)))
    # and directly with ml_dtypes on the normal, non-NaN patterns
    normal = (EVERY & 0x7F80 != 0) & (EVERY & 0x7FFF <= 0x7F80)
    lib = np.abs(EVERY[normal].view(ml_dtypes.bfloat16)).view(np.uint16)
    assert np.array_equal(nx.bf16_abs(EVERY[normal]), lib)


def test_floor_exhaustive() -> None:
    exhaustive(nx.bf16_floor, lambda v: ref.round_bf16(ref.vfloor(v)))
    assert nx.bf16_floor([0xBF00, 0x3F00, 0x8000, 0x8001, 0xC0B0]).tolist() == [0xBF80, 0x0000, 0x8000, 0x8000, 0xC0C0]


def getexp_model(v: ref.Val) -> int:
    if v.kind == "nan":
        return ref.NAN_BITS
    if v.kind == "inf":
        return ref.POS_INF_BITS
    if v.q == 0:
        return ref.NEG_INF_BITS
    e = math.frexp(float(v.q))[1] - 1  # v.q = f * 2**(e+1), f in [0.5, 1)
    return ref.round_bf16(ref.num(Fraction(e)))


def test_getexp_exhaustive() -> None:
    exhaustive(nx.bf16_getexp, getexp_model)
    assert nx.bf16_getexp([0x3F80, 0x4040, 0x0080, 0x7F7F, 0x8001]).tolist() == [0x0000, 0x3F80, 0xC2FC, 0x42FE, 0xFF80]


def getmant_model(v: ref.Val) -> int:
    if v.kind != "num" or v.q == 0:
        return ref.round_bf16(v)
    m = Fraction(math.frexp(float(v.q))[0] * 2)  # float(v.q) is exact for a bf16 value
    assert 1 <= m < 2
    return ref.round_bf16(ref.Val("num", v.neg, m))


def test_getmant_exhaustive() -> None:
    exhaustive(nx.bf16_getmant, getmant_model)
    assert nx.bf16_getmant([0x4040, 0xC0B0, 0x8000, 0xFF80, 0x0001]).tolist() == [
        0x3FC0,
        0xBFB0,
        0x8000,
        0xFF80,
        0x0000,
    ]


def test_getexp_getmant_ldexp_reconstruct() -> None:
    """For every finite normal x: ldexp(getmant(x), getexp(x)) == x."""
    normal = (EVERY & 0x7F80 != 0) & ((EVERY & 0x7F80) != 0x7F80)
    x = EVERY[normal]
    assert np.array_equal(nx.bf16_ldexp(nx.bf16_getmant(x), nx.bf16_getexp(x)), x)


def to_int8_model(a: ref.Val, b: ref.Val) -> int:
    v = ref.mul(a, b)
    if v.kind == "nan":
        return 0
    if v.kind == "inf":
        return -128 if v.neg else 127
    return max(-128, min(127, round(v.signed)))  # round() of a Fraction ties to even


@pytest.mark.parametrize("scale", [0x3F80, 0x3F00, 0xC000, 0x4040, 0x3A80, 0x4B80, 0x7F80, 0x7FC0, 0x8000, 0x0001])
def test_bf16_to_int8_exhaustive(scale: int) -> None:
    got = nx.bf16_to_int8(EVERY, np.uint16(scale))
    assert got.dtype == np.int8
    s = ref.decode(scale)
    want = np.array([to_int8_model(v, s) for v in VALUES], dtype=np.int8)
    assert np.array_equal(got, want)


def test_bf16_to_int8_ties_and_saturation() -> None:
    a = nx.f64_to_bf16([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 127.5, -127.5, -128.5, 300.0, -1e30])
    assert nx.bf16_to_int8(a, nx.BF16_ONE).tolist() == [0, 2, 2, 0, -2, -2, 126, 127, -128, -128, 127, -128]
    assert nx.bf16_to_int8([0x7F80, 0xFF80, 0x7FC0, 0xFFC0, 0x007F], nx.BF16_MAX).tolist() == [127, -128, 0, 0, 0]
