"""Row reductions of the SIMD datapath (REDMAX, REDSUM, REDSUMSQ) over x of shape (..., W, N).

W words of N lanes are reduced to one bf16 per leading index. Sums accumulate in IEEE binary32 with RNE
and FTZ: lane j keeps a running sum over the W words in order (starting at +0), then a halving tree adds
lanes i and i + n/2 for n = N, N/2, ..., 2, and the final binary32 value is rounded once to bf16.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tataa.numerics.bf16 import (
    BF16_NAN,
    U16,
    ArrayLike,
    bits,
    daz,
    decode_daz_f32,
    f64_to_bf16,
    from_order_key,
    is_nan,
    order_key,
)

F32 = npt.NDArray[np.float32]
_F32_EXP = np.uint32(0x7F80_0000)
_F32_SIGN = np.uint32(0x8000_0000)


def ftz_f32(v: F32) -> F32:
    """Flush float32 subnormals to the zero of the same sign (NaN, inf and normals unchanged)."""
    u = np.asarray(v, dtype=np.float32).view(np.uint32)
    return np.where((u & _F32_EXP) == 0, u & _F32_SIGN, u).view(np.float32)


def _rows(x: ArrayLike, what: str) -> U16:
    """Check the (..., W, N) shape of a reduction operand (N a power of two) and return its patterns."""
    arr = bits(x, what)
    if arr.ndim < 2:
        raise ValueError(f"{what}: expected shape (..., W, N), got {arr.shape}")
    n = arr.shape[-1]
    if n < 1 or n & (n - 1):
        raise ValueError(f"{what}: lane count N = {n} must be a power of two")
    return arr


def _sum_f32(terms: F32) -> U16:
    """Lane-wise in-order fp32 sums over axis -2, the halving lane tree, then one rounding to bf16."""
    acc = np.zeros(terms.shape[:-2] + terms.shape[-1:], dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for w in range(terms.shape[-2]):
            acc = ftz_f32(acc + terms[..., w, :])
        n = acc.shape[-1]
        while n > 1:
            n //= 2
            acc = ftz_f32(acc[..., :n] + acc[..., n : 2 * n])
    return f64_to_bf16(acc[..., 0].astype(np.float64))


def reduce_sum(x: ArrayLike) -> U16:
    """Sum of every element of each (W, N) row block, accumulated in fp32 (RNE, FTZ) in the documented order."""
    return _sum_f32(decode_daz_f32(_rows(x, "reduce_sum operand"), "x"))


def reduce_sumsq(x: ArrayLike) -> U16:
    """Sum of squares of each (W, N) row block; each x*x is an fp32 product (exact unless it overflows to
    inf or falls below 2**-126 and flushes to +0), accumulated like :func:`reduce_sum`."""
    f = decode_daz_f32(_rows(x, "reduce_sumsq operand"), "x")
    with np.errstate(over="ignore", invalid="ignore"):
        return _sum_f32(ftz_f32(f * f))


def reduce_max(x: ArrayLike) -> U16:
    """Maximum over each (W, N) row block; NaN if any element is NaN; -0 orders below +0; W must be >= 1."""
    arr = daz(_rows(x, "reduce_max operand"))
    if arr.shape[-2] == 0:
        raise ValueError("reduce_max operand: W = 0 words; the maximum of nothing is undefined")
    top = from_order_key(order_key(arr).max(axis=(-2, -1)))
    return np.where(is_nan(arr).any(axis=(-2, -1)), BF16_NAN, top)
