"""Reductions against a per-element Fraction model of the documented order, plus crafted cases where the
order, the fp32 accumulator and its FTZ visibly change the bf16 result."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numerics_reference as ref

from tataa import numerics as nx

ZERO = ref.Val("num", False, Fraction(0))


def model_sum(block: np.ndarray, square: bool = False) -> int:
    """Lane j sums words 0..W-1 in order (from +0) in binary32, then lanes i and i + n/2 are added for
    n = N, N/2, ..., 2; the binary32 total is rounded once to bf16."""
    w_count, n = block.shape
    lanes = [ZERO] * n
    for w in range(w_count):
        for j in range(n):
            t = ref.decode(int(block[w, j]))
            if square:
                t = ref.round_f32(ref.mul(t, t))
            lanes[j] = ref.round_f32(ref.add(lanes[j], t))
    while n > 1:
        n //= 2
        lanes = [ref.round_f32(ref.add(lanes[i], lanes[i + n])) for i in range(n)]
    return ref.round_bf16(lanes[0])


def model_max(block: np.ndarray) -> int:
    vals = [ref.decode(int(b)) for b in block.ravel()]
    if any(v.kind == "nan" for v in vals):
        return ref.NAN_BITS
    best = vals[0]
    for v in vals[1:]:
        if ref.total_less(best, v):
            best = v
    return ref.round_bf16(best)


def random_blocks(rng: np.random.Generator, b: int, w: int, n: int) -> np.ndarray:
    """Mixed blocks: wide random finite patterns, close-magnitude values with cancellation, some specials."""
    kind = rng.integers(0, 4, (b, 1, 1))
    wide = rng.integers(0, 0x7F80, (b, w, n)) | (rng.integers(0, 2, (b, w, n)) << 15)
    close = nx.f64_to_bf16(rng.standard_normal((b, w, n)) * 2.0 ** rng.integers(-3, 4, (b, w, n)))
    tiny = nx.f64_to_bf16(rng.standard_normal((b, w, n)) * 2.0**-125)  # around the flush threshold
    special = rng.choice(np.array(ref.SPECIALS), (b, w, n))
    sprinkle = np.where(rng.integers(0, 30, (b, w, n)) == 0, special, close)
    out = np.select([kind == 0, kind == 1, kind == 2], [wide, close, tiny], sprinkle)
    return out.astype(np.uint16)


@pytest.mark.parametrize(("w", "n"), [(1, 1), (5, 1), (1, 8), (3, 2), (7, 16), (16, 4)])
def test_reductions_against_model(w: int, n: int) -> None:
    rng = np.random.default_rng(100 * w + n)
    x = random_blocks(rng, 40, w, n)
    for fn, model in (
        (nx.reduce_sum, model_sum),
        (nx.reduce_sumsq, lambda blk: model_sum(blk, square=True)),
        (nx.reduce_max, model_max),
    ):
        got = fn(x)
        assert got.dtype == np.uint16 and got.shape == (40,)
        assert got.tolist() == [model(blk) for blk in x], fn.__name__


def test_leading_dims() -> None:
    rng = np.random.default_rng(7)
    x = random_blocks(rng, 6, 3, 4).reshape(2, 3, 3, 4)
    for fn in (nx.reduce_sum, nx.reduce_sumsq, nx.reduce_max):
        got = fn(x)
        assert got.shape == (2, 3)
        assert np.array_equal(got.ravel(), fn(x.reshape(6, 3, 4)))


def bf(*xs: float) -> np.ndarray:
    out = nx.f64_to_bf16(np.array(xs, dtype=np.float64))
    assert np.array_equal(nx.bf16_to_f64(out), np.array(xs))
    return out


def test_fp32_accumulation_differs_from_float64() -> None:
    """1 + 2**-8 + 2**-30 exactly is above a bf16 tie (-> 0x3F81), but the fp32 accumulator drops 2**-30
    and the final rounding meets the tie (-> 1.0). The documented fp32 result wins."""
    x = bf(1.0, 2.0**-8, 2.0**-30).reshape(3, 1)
    assert int(nx.reduce_sum(x)) == 0x3F80
    assert int(nx.f64_to_bf16(nx.bf16_to_f64(x).sum())) == 0x3F81


def test_halving_tree_pairs_i_with_i_plus_half() -> None:
    """Lanes [1, 2**-8, 2**-24, 2**-24]. Halving tree: (1 + 2**-24) -> 1 (tie to even), (2**-8 + 2**-24)
    exact, then 1 + 2**-8 + 2**-24 -> 1 + 2**-8 (tie to even) -> bf16 tie -> 1.0. Pairing neighbours
    instead gives (1 + 2**-8) + 2**-23 exactly -> 0x3F81, and so does float64."""
    x = bf(1.0, 2.0**-8, 2.0**-24, 2.0**-24).reshape(1, 4)
    assert int(nx.reduce_sum(x)) == 0x3F80
    assert int(nx.f64_to_bf16(nx.bf16_to_f64(x).sum())) == 0x3F81
    # the same lanes as 4 words of one lane: 1 + 2**-8, + 2**-24 (tie, stays), + 2**-24 (stays) -> 1.0
    assert int(nx.reduce_sum(x.reshape(4, 1))) == 0x3F80
    # reordered words in one lane: 2**-24 + 2**-24 = 2**-23 first, then + 1 + 2**-8 exactly -> 0x3F81
    assert int(nx.reduce_sum(x[:, ::-1].reshape(4, 1))) == 0x3F81


def test_accumulator_ftz_and_start_value() -> None:
    # 1.5 * 2**-126 - 2**-126 = 2**-127 is an fp32 subnormal: flushed to +0, then + 2**-126 -> 0x0080
    x = bf(1.5 * 2.0**-126, -(2.0**-126), 2.0**-126).reshape(3, 1)
    assert int(nx.reduce_sum(x)) == 0x0080  # 0x00C0 without the flush
    y = bf(-1.5 * 2.0**-126, 2.0**-126).reshape(2, 1)
    assert int(nx.reduce_sum(y)) == 0x8000  # -2**-127 flushes to -0
    assert int(nx.reduce_sum(bf(-0.0, -0.0, -0.0, -0.0).reshape(2, 2))) == 0x0000  # accumulators start at +0
    assert int(nx.reduce_sum(np.array([[0x8001, 0x0005]], np.uint16))) == 0x0000  # DAZ inputs
    assert int(nx.reduce_sum(np.zeros((0, 4), np.uint16))) == 0x0000  # W = 0: the empty sum


def test_sum_specials() -> None:
    m = nx.BF16_MAX
    assert int(nx.reduce_sum(np.array([[m, m]], np.uint16))) == 0x7F80  # fp32 holds 2 MAX, bf16 overflows
    big = np.array([[m, m], [0xFF7F, 0xFF7F]], np.uint16)  # lane sums: 0 and 0 (exact cancellation in fp32)
    assert int(nx.reduce_sum(big)) == 0x0000
    assert int(nx.reduce_sum(np.array([[0x7F80, 0xFF80]], np.uint16))) == 0x7FC0
    assert int(nx.reduce_sum(np.array([[0x3F80, 0xFFC5]], np.uint16))) == 0x7FC0


def test_sumsq_cases() -> None:
    assert int(nx.reduce_sumsq(bf(3.0, 4.0).reshape(1, 2))) == int(bf(25.0)[0])
    assert int(nx.reduce_sumsq(bf(2.0**64).reshape(1, 1))) == 0x7F80  # 2**128 overflows fp32
    assert int(nx.reduce_sumsq(bf(2.0**63).reshape(1, 1))) == 0x7E80  # 2**126 fits
    assert int(nx.reduce_sumsq(bf(-(2.0**-64)).reshape(1, 1))) == 0x0000  # 2**-128 flushed to +0
    assert int(nx.reduce_sumsq(bf(-(2.0**-63)).reshape(1, 1))) == 0x0080  # 2**-126 kept
    assert int(nx.reduce_sumsq(np.array([[0x8000, 0x8000]], np.uint16))) == 0x0000
    assert int(nx.reduce_sumsq(np.array([[0xFF80, 0x3F80]], np.uint16))) == 0x7F80
    assert int(nx.reduce_sumsq(np.array([[0xFFC0, 0x3F80]], np.uint16))) == 0x7FC0


def test_max_cases() -> None:
    assert int(nx.reduce_max(np.array([[0x8000, 0x0000]], np.uint16))) == 0x0000
    assert int(nx.reduce_max(np.array([[0x0000], [0x8000]], np.uint16))) == 0x0000
    assert int(nx.reduce_max(np.array([[0x8000, 0x8000]], np.uint16))) == 0x8000
    assert int(nx.reduce_max(np.array([[0x0001, 0xBF80]], np.uint16))) == 0x0000  # subnormal read (and kept) as 0
    assert int(nx.reduce_max(np.array([[0xFF80, 0xFF7F]], np.uint16))) == 0xFF7F
    assert int(nx.reduce_max(np.array([[0x7F80, 0x7F81]], np.uint16))) == 0x7FC0
    assert int(nx.reduce_max(np.array([[0x3F80, 0x4000], [0xFFC0, 0x0000]], np.uint16))) == 0x7FC0


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="power of two"):
        nx.reduce_sum(np.zeros((2, 3), np.uint16))
    with pytest.raises(ValueError, match=r"\(\.\.\., W, N\)"):
        nx.reduce_max(np.zeros(4, np.uint16))
    with pytest.raises(ValueError, match="W = 0"):
        nx.reduce_max(np.zeros((3, 0, 4), np.uint16))
