"""bf16 execution of the IR ops that run on the SIMD lanes, exactly as the overlay computes them.

Every function takes and returns bf16 bit patterns (``uint16`` arrays, see ``tataa.numerics``) and works on whole
tensors. The arithmetic is the SIMD primitives of ``tataa.numerics`` and the recipes of
``tataa.codegen.simd_recipes`` (the project's approximations, ``Approximations.TATAA``):

* binary elementwise ops (add, sub, mul, maximum, minimum, comparisons, select) call the primitive of their VFunct;
* unary functions (exp, reciprocal, rsqrt, sqrt, tanh, erf, sigmoid, SiLU, both GELUs) are recipes without any
  cross-lane operation, so their result depends on the input pattern alone: each recipe is evaluated once with
  ``NumpySimd`` over all 65 536 patterns (:func:`tabulate`) and then applied by table lookup -- identical by
  construction, and tested against direct evaluation;
* reductions reduce along any axes with ``tataa.numerics.reduce_*``, in their fixed lane order, on rows laid out as
  LOAD lays them out (words of ``n`` lanes, the last one zero-padded);
* softmax follows ``simd_recipes.softmax`` step for step (tail mask, REDMAX, exp, REDSUM, reciprocal) with the
  elementwise parts tabulated; LayerNorm and RMSNorm run their kernels (``tataa.codegen.nonlinear``) through the
  numpy evaluator;
* a linear/matmul kept in bf16 multiplies in bf16 (MUL, one rounding per product) and accumulates with REDSUM
  (fp32, lane order), as the SIMD lanes would run it.

``n`` is the array size N (lanes per VEC word): it fixes the order of the fp32 reductions, nothing else.
``tataa.quant.paper_approx`` has the published design's variants of the approximating functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tataa import numerics as nm
from tataa.codegen import nonlinear as nl
from tataa.codegen import simd_recipes as rc
from tataa.codegen.simd.numpy_eval import NumpySimd
from tataa.codegen.simd.ops import Kind, SimdOps
from tataa.codegen.simd.rowwise import evaluate

U16 = npt.NDArray[np.uint16]
UnaryRecipe = Callable[[SimdOps[Any], Any], Any]

ONE = np.uint16(0x3F80)
NEG_ONE = np.uint16(0xBF80)
ZERO = np.uint16(0x0000)
NEG_INF = np.uint16(0xFF80)
NEG_MAX = np.uint16(0xFF7F)  # -3.39e38, the softmax recipe's floor for the row maximum
_ROWS_PER_CHUNK_ELEMS = 1 << 21  # elements of bf16 products per step of a bf16 dot product


# ---------------------------------------------------------------------------------------------------- tables


_TABLES: dict[str, U16] = {}


def tabulate(recipe: UnaryRecipe) -> U16:
    """The recipe's result for each of the 65 536 bf16 patterns (index = input pattern), with NumpySimd."""
    o = NumpySimd(256, 256, 1)
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).reshape(256, 256)
    out = recipe(o, o.value(Kind.FULL, every))
    if out.kind is not Kind.FULL:
        raise ValueError(f"recipe result is a {out.kind.value} value, not an elementwise (full) one")
    table = np.ascontiguousarray(out.bits.reshape(-1), dtype=np.uint16)
    table.setflags(write=False)
    return table


def table(name: str, recipe: UnaryRecipe) -> U16:
    """The cached table of a unary recipe (built on first use under `name`)."""
    t = _TABLES.get(name)
    if t is None:
        t = _TABLES[name] = tabulate(recipe)
    return t


def lookup(name: str, recipe: UnaryRecipe, x: U16) -> U16:
    """A unary recipe applied elementwise to bf16 patterns `x`, by its table."""
    return table(name, recipe)[np.asarray(x, dtype=np.uint16)]


def _softmax_exp(o: SimdOps[Any], x: Any) -> Any:
    return rc.exp(o, x, arg_max=None)


def _sqrt(o: SimdOps[Any], x: Any) -> Any:
    return o.mul(x, rc.rsqrt(o, x))


UNARY: dict[str, UnaryRecipe] = {
    "exp": rc.exp,
    "softmax_exp": _softmax_exp,  # exp(x - max) inside softmax: never above 0, so no upper clamp
    "reciprocal": rc.reciprocal,
    "rsqrt": rc.rsqrt,
    "sqrt": _sqrt,
    "tanh": rc.tanh,
    "erf": rc.erf,
    "sigmoid": rc.sigmoid,
    "silu": rc.silu,
    "gelu_none": rc.gelu_erf,
    "gelu_tanh": rc.gelu_tanh,
}
"""The unary recipes of the project (names are table keys)."""


def _u(name: str, x: U16) -> U16:
    return lookup("tataa/" + name, UNARY[name], x)


def exp(x: U16) -> U16:
    """e**x (``simd_recipes.exp``, arguments clamped to [-100, 100])."""
    return _u("exp", x)


def reciprocal(x: U16) -> U16:
    """1/x (seed and two Newton steps; accurate for normal 2**-125 <= |x| <= 2**125)."""
    return _u("reciprocal", x)


def rsqrt(x: U16) -> U16:
    """1/sqrt(x) (seed and two Newton steps; accurate for positive normal x)."""
    return _u("rsqrt", x)


def sqrt(x: U16) -> U16:
    """sqrt(x) as x * rsqrt(x) (0 gives 0)."""
    return _u("sqrt", x)


def tanh(x: U16) -> U16:
    """tanh(x)."""
    return _u("tanh", x)


def erf(x: U16) -> U16:
    """erf(x)."""
    return _u("erf", x)


def sigmoid(x: U16) -> U16:
    """1 / (1 + e**-x)."""
    return _u("sigmoid", x)


def silu(x: U16) -> U16:
    """x * sigmoid(x)."""
    return _u("silu", x)


def gelu(x: U16, approximate: str = "none") -> U16:
    """GELU: the erf form (approximate="none") or the tanh formula (approximate="tanh")."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu approximate must be 'none' or 'tanh', got {approximate!r}")
    return _u("gelu_" + approximate, x)


# ---------------------------------------------------------------------------------------------------- elementwise


def add(a: U16, b: U16) -> U16:
    """a + b (ADD)."""
    return nm.bf16_add(a, b)


def sub(a: U16, b: U16) -> U16:
    """a - b (SUB)."""
    return nm.bf16_sub(a, b)


def mul(a: U16, b: U16) -> U16:
    """a * b (MUL)."""
    return nm.bf16_mul(a, b)


def maximum(a: U16, b: U16) -> U16:
    """max(a, b) (MAX; NaN if either is NaN)."""
    return nm.bf16_max(a, b)


def minimum(a: U16, b: U16) -> U16:
    """min(a, b) (MIN; NaN if either is NaN)."""
    return nm.bf16_min(a, b)


def neg(x: U16) -> U16:
    """-x, as MUL by -1 (exact)."""
    return nm.bf16_mul(x, NEG_ONE)


def absolute(x: U16) -> U16:
    """|x| (ABS)."""
    return nm.bf16_abs(x)


def relu(x: U16) -> U16:
    """max(x, 0) (MAX with +0)."""
    return nm.bf16_max(x, ZERO)


def div(a: U16, b: U16) -> U16:
    """a / b as a * reciprocal(b)."""
    return nm.bf16_mul(a, reciprocal(b))


def int_power(x: U16, k: int) -> U16:
    """x**k for an integer 0 <= k by repeated MULs, left to right (((x*x)*x)...); x**0 is 1."""
    if k < 0:
        raise ValueError(f"int_power exponent {k} is negative")
    if k == 0:
        return np.full(np.shape(x), ONE, dtype=np.uint16)
    y = nm.bf16_mov(x)
    for _ in range(k - 1):
        y = nm.bf16_mul(y, x)
    return y


POWER_MAX = 8  # pow exponents the overlay runs: integers with |k| <= POWER_MAX, and +-0.5


def power(x: U16, k: float, *, recip: Callable[[U16], U16] = reciprocal, rsq: Callable[[U16], U16] = rsqrt,
          sq: Callable[[U16], U16] = sqrt) -> U16:
    """x**k for a small integer k (|k| <= 8: MULs, then a reciprocal if k < 0) or k = +-0.5 (sqrt, rsqrt)."""
    if k == 0.5:
        return sq(x)
    if k == -0.5:
        return rsq(x)
    if k != int(k) or abs(k) > POWER_MAX:
        raise ValueError(f"pow exponent {k} is not supported on the SIMD lanes (integers |k| <= {POWER_MAX} "
                         "and +-0.5 are)")
    y = int_power(x, abs(int(k)))
    return recip(y) if k < 0 else y


COMPARES = ("equal", "less", "less_equal", "greater", "greater_equal")


def compare(op: str, a: U16, b: U16) -> npt.NDArray[np.bool_]:
    """A comparison of bf16 values by CMPLT / CMPEQ (false with NaN; +0 == -0) as a bool array."""
    if op not in COMPARES:
        raise ValueError(f"unknown comparison {op!r}; known: {', '.join(COMPARES)}")
    if op == "equal":
        return nm.bf16_cmpeq(a, b) != 0
    lt = (nm.bf16_cmplt(a, b) if op.startswith("less") else nm.bf16_cmplt(b, a)) != 0
    return lt | (nm.bf16_cmpeq(a, b) != 0) if op.endswith("_equal") else lt


def where(cond: npt.NDArray[np.bool_], a: U16, b: U16) -> U16:
    """a where cond else b (SEL with a 1.0 / 0.0 condition)."""
    return nm.bf16_select(a, b, np.where(cond, ONE, ZERO))


def rotate_operands(x: U16, sin: U16, interleaved: bool) -> tuple[U16, U16]:
    """(x_rot, sin_rot) of ``simd_recipes.rotary``: each element's partner, and sin negated where rotate_half
    negates (the first half, or the even elements when interleaved). `sin` must already have x's shape."""
    x_rot = np.empty_like(x)
    sin_rot = np.array(sin, dtype=np.uint16, copy=True)
    if interleaved:
        x_rot[..., 0::2], x_rot[..., 1::2] = x[..., 1::2], x[..., 0::2]
        sin_rot[..., 0::2] = neg(sin_rot[..., 0::2])
    else:
        h = x.shape[-1] // 2
        x_rot[..., :h], x_rot[..., h:] = x[..., h:], x[..., :h]
        sin_rot[..., :h] = neg(sin_rot[..., :h])
    return x_rot, sin_rot


def rotary(x: U16, cos: U16, sin: U16, interleaved: bool = False) -> U16:
    """x*cos + rotate_half(x)*sin by ``simd_recipes.rotary``: MUL, then MAC with the partner and signed sin."""
    c = np.broadcast_to(cos, x.shape)
    x_rot, sin_rot = rotate_operands(x, np.broadcast_to(sin, x.shape), interleaved)
    return nm.bf16_fma(x_rot, sin_rot, nm.bf16_mul(x, c))


# ---------------------------------------------------------------------------------------------------- row layout


def rows_along(x: np.ndarray, axes: Sequence[int]) -> tuple[np.ndarray, tuple[int, ...]]:
    """x with `axes` moved to the end and flattened: ([rows, L], shape of the other axes in order)."""
    nd = x.ndim
    ax = sorted({a % nd for a in axes}) if nd else []
    rest = [i for i in range(nd) if i not in ax]
    xt = np.transpose(x, rest + ax)
    length = math.prod(x.shape[a] for a in ax)
    kept = tuple(x.shape[i] for i in rest)
    return xt.reshape(math.prod(kept), length), kept


def unrows(y: np.ndarray, shape: tuple[int, ...], axes: Sequence[int]) -> np.ndarray:
    """Inverse of :func:`rows_along` for a result of the same row length: back to `shape`."""
    nd = len(shape)
    ax = sorted({a % nd for a in axes}) if nd else []
    rest = [i for i in range(nd) if i not in ax]
    perm = rest + ax
    yt = y.reshape([shape[i] for i in perm])
    return np.transpose(yt, np.argsort(perm))


def words(n: int, cols: int) -> int:
    """VEC words one row of `cols` elements occupies (at least one)."""
    return max(1, -(-cols // n))


def pad_rows(x: np.ndarray, n: int, fill: int = 0) -> U16:
    """[rows, cols] bits padded with `fill` to whole words: [rows, W*n] (LOAD fills with zeros)."""
    rows, cols = x.shape
    w = words(n, cols)
    if cols == w * n:
        return np.ascontiguousarray(x, dtype=np.uint16)
    out = np.full((rows, w * n), fill, dtype=np.uint16)
    out[:, :cols] = x
    return out


def tail_word(cols: int, n: int, inside: int, outside: int) -> U16 | None:
    """A word with `inside` in the lanes of a row's last word that hold data, `outside` past the row's end;
    None when rows fill whole words."""
    used = cols % n
    if used == 0:
        return None
    w = np.full(n, outside, dtype=np.uint16)
    w[:used] = inside
    return w


def apply_tail(z: U16, cols: int, n: int, fn: Callable[[U16, U16], U16], word: U16 | None) -> U16:
    """z ([rows, W*n]) with fn(last word, word) in the last word of each row, as ``SimdOps.tail`` does."""
    if word is None:
        return z
    out = z.copy()
    last = slice(out.shape[1] - n, out.shape[1])
    out[:, last] = fn(out[:, last], np.broadcast_to(word, (out.shape[0], n)))
    return out


# ---------------------------------------------------------------------------------------------------- reductions


def _reduce_rows(kind: str, x2: U16, n: int) -> U16:
    """One bf16 per row of [rows, L] by REDSUM / REDMAX over zero-padded (REDMAX: -inf padded) words."""
    rows, cols = x2.shape
    if kind == "max":
        if cols == 0:
            raise ValueError("reduce_max over an empty axis")
        return nm.reduce_max(pad_rows(x2, n, int(NEG_INF)).reshape(rows, -1, n))
    w = -(-cols // n)
    padded = np.zeros((rows, w * n), dtype=np.uint16)
    padded[:, :cols] = x2
    return nm.reduce_sum(padded.reshape(rows, w, n))


def _mean_recipe(count: int) -> UnaryRecipe:
    def recipe(o: SimdOps[Any], s: Any) -> Any:
        return rc.scale_add(o, s, 1.0 / count)

    return recipe


REDUCTIONS = ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min")


def reduce(op: str, x: U16, axes: Sequence[int], keepdims: bool, n: int) -> U16:
    """reduce_sum / reduce_mean / reduce_max / reduce_min over `axes`: REDSUM (fp32, lane order) or REDMAX;
    the mean scales the sum by 1/L as ``simd_recipes.scale_add`` does; min is -max(-x)."""
    if op not in REDUCTIONS:
        raise ValueError(f"unknown reduction {op!r}; known: {', '.join(REDUCTIONS)}")
    x2, rest = rows_along(x, axes)
    count = x2.shape[1]
    if op == "reduce_min":
        r = neg(_reduce_rows("max", neg(x2), n))
    elif op == "reduce_max":
        r = _reduce_rows("max", x2, n)
    else:
        r = _reduce_rows("sum", x2, n)
        if op == "reduce_mean":
            if count == 0:
                raise ValueError("reduce_mean over an empty axis")
            r = lookup(f"tataa/mean/{count}", _mean_recipe(count), r)
    r = r.reshape(rest)
    if keepdims:
        nd = x.ndim
        ax = {a % nd for a in axes} if nd else set()
        r = r.reshape([1 if i in ax else x.shape[i] for i in range(nd)])
    return r


# ---------------------------------------------------------------------------------------------------- row kernels


def softmax_parts_rows(x: U16, n: int, mask: U16 | None = None) -> tuple[U16, U16]:
    """The two halves of :func:`softmax_rows`: e = exp(z - max) on the padded words [rows, w * n] and the
    per-row reciprocal of REDSUM(e) floored at 1 [rows]."""
    rows, cols = x.shape
    z = pad_rows(x, n)
    if mask is not None:
        z = nm.bf16_add(z, pad_rows(mask, n))
    z = apply_tail(z, cols, n, nm.bf16_add, tail_word(cols, n, 0x0000, int(NEG_INF)))
    w = z.shape[1] // n
    m = nm.bf16_max(nm.reduce_max(z.reshape(rows, w, n)), NEG_MAX)
    e = lookup("tataa/softmax_exp", _softmax_exp, nm.bf16_sub(z, m[:, None]))
    s = nm.bf16_max(nm.reduce_sum(e.reshape(rows, w, n)), ONE)
    return e, reciprocal(s)


def softmax_rows(x: U16, n: int, mask: U16 | None = None) -> U16:
    """``simd_recipes.softmax`` on [rows, cols] bits (with an optional additive 0 / -inf mask of the same shape):
    REDMAX (floored at -bf16max), exp(z - max), REDSUM (floored at 1), times its reciprocal. Fully masked rows
    give zeros."""
    e, r = softmax_parts_rows(x, n, mask)
    return nm.bf16_mul(e, r[:, None])[:, : x.shape[1]]


def softmax_parts(x: U16, n: int, mask: U16 | None = None) -> tuple[U16, U16]:
    """Softmax along the last axis split in two, for a normalisation deferred past P.V: the unnormalised
    e = exp(z - max) (the largest of a row is 1; fully masked rows are 0) and each row's 1 / REDSUM(e), [..., 1]."""
    cols = x.shape[-1]
    m = None if mask is None else np.broadcast_to(mask, x.shape).reshape(-1, cols)
    e, r = softmax_parts_rows(x.reshape(-1, cols), n, m)
    return e[:, :cols].reshape(x.shape), r.reshape(*x.shape[:-1], 1)


def along_last(fn: Callable[..., U16], x: U16, axis: int, *extra: U16 | None) -> U16:
    """fn applied to the rows of x along `axis` (extra same-shape operands, or None, are laid out alike)."""
    ax = axis % x.ndim
    x2, _ = rows_along(x, [ax])
    ops = [None if e is None else rows_along(np.broadcast_to(e, x.shape), [ax])[0] for e in extra]
    return unrows(fn(x2, *ops), x.shape, [ax])


def softmax(x: U16, axis: int, n: int, mask: U16 | None = None) -> U16:
    """Softmax along `axis` (see :func:`softmax_rows`); `mask` (additive bits) broadcasts to x."""
    return along_last(lambda a, m: softmax_rows(a, n, m), x, axis, mask)


def norm_rows(x: U16, axis: int) -> tuple[U16, int]:
    """x as [rows, cols] rows over the normalised axes axis.. (and cols)."""
    ax = axis % x.ndim
    cols = math.prod(x.shape[ax:])
    return x.reshape(math.prod(x.shape[:ax]), cols), cols


def as_vec(p: U16 | None, cols: int) -> U16 | None:
    """A per-column parameter (gamma, beta) flattened to [cols] bits, or None."""
    return None if p is None else np.ascontiguousarray(np.asarray(p, dtype=np.uint16).reshape(cols))


def layer_norm(x: U16, axis: int, eps: float, weight: U16 | None, bias: U16 | None, n: int) -> U16:
    """LayerNorm over axes axis.. (the ``nonlinear.layernorm_kernel`` through the numpy evaluator)."""
    x2, cols = norm_rows(x, axis)
    k = nl.layernorm_kernel(cols, n, as_vec(weight, cols), as_vec(bias, cols), eps)
    return evaluate(k, n, {"x": x2}).reshape(x.shape)


def rms_norm(x: U16, axis: int, eps: float, weight: U16 | None, n: int) -> U16:
    """RMSNorm over axes axis.. (the ``nonlinear.rmsnorm_kernel`` through the numpy evaluator)."""
    x2, cols = norm_rows(x, axis)
    return evaluate(nl.rmsnorm_kernel(cols, n, as_vec(weight, cols), eps), n, {"x": x2}).reshape(x.shape)


# ---------------------------------------------------------------------------------------------------- bf16 GEMM


def matmul_bf16(a: U16, b: U16, n: int) -> U16:
    """Batched a[..., M, K] @ b[..., K, N] as the SIMD lanes run a layer kept in bf16: every product rounded to
    bf16 (MUL), each output's K products summed by REDSUM (fp32 lanes over zero-padded words, then the lane tree,
    one rounding to bf16). Batch dimensions broadcast."""
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul_bf16: shapes {list(a.shape)} and {list(b.shape)} do not multiply")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    m, k, cols = a.shape[-2], a.shape[-1], b.shape[-1]
    aa = np.broadcast_to(a, (*batch, m, k)).reshape(-1, m, k)
    bt = np.swapaxes(np.broadcast_to(b, (*batch, k, cols)).reshape(-1, k, cols), -1, -2)  # [B, N, K]
    w = -(-k // n)
    out = np.empty((aa.shape[0], m, cols), dtype=np.uint16)
    step = max(1, _ROWS_PER_CHUNK_ELEMS // max(1, cols * w * n))
    for i in range(aa.shape[0]):
        for r0 in range(0, m, step):
            prod = nm.bf16_mul(aa[i, r0:r0 + step, None, :], bt[i, None, :, :])  # [rows, N, K]
            padded = np.zeros((*prod.shape[:2], w * n), dtype=np.uint16)
            padded[..., :k] = prod
            out[i, r0:r0 + step] = nm.reduce_sum(padded.reshape(*prod.shape[:2], w, n))
    return out.reshape(*batch, m, cols)
