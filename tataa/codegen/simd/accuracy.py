"""Accuracy of the SIMD recipes and nonlinear kernels against float64: metrics, references, test cases, bounds.

Used by tests/test_nonlinear_kernels.py (which asserts :data:`KERNEL_BOUNDS`) and by
scripts/approx_error_table.py (which writes the tables of docs/kernels-nonlinear.md).

ULP error: |y - ref| divided by the spacing of bf16 numbers at the float64 reference value,
2**(floor(log2 |ref|) - 7); below the smallest normal 2**-126, where results flush to zero, the unit is
2**-126, so a flushed tail costs at most one unit. An infinite or NaN result counts as 0 if it equals the
correctly rounded reference and as inf otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tataa import numerics
from tataa.codegen import nonlinear as nl
from tataa.codegen import simd_recipes as rc
from tataa.codegen.simd.numpy_eval import NumpySimd
from tataa.codegen.simd.ops import Kind

_erf = np.vectorize(math.erf, otypes=[float])
_erfc = np.vectorize(math.erfc, otypes=[float])


# ---- metrics ------------------------------------------------------------------------------------------
def ulp_error(y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-element error of bf16 results `y` (uint16) against float64 `ref`, in bf16 ULPs (see module doc)."""
    yv = numerics.bf16_to_f64(np.asarray(y, dtype=np.uint16))
    ref = np.asarray(ref, dtype=np.float64)
    rounded = numerics.f64_to_bf16(ref)
    with np.errstate(all="ignore"):
        a = np.abs(ref)
        e = np.floor(np.log2(np.where(a > 0, a, 1.0)))
        unit = np.where(a >= 2.0**-126, np.exp2(e - 7), 2.0**-126)
        err = np.abs(yv - ref) / unit
    special = ~np.isfinite(yv) | ~np.isfinite(ref) | ~np.isfinite(numerics.bf16_to_f64(rounded))
    same = (np.asarray(y) == rounded) | (np.isnan(yv) & np.isnan(ref))
    return np.where(special, np.where(same, 0.0, np.inf), err)


def abs_error(y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|y - ref| for bf16 results `y` (uint16); NaN/inf mismatches give inf, matching specials give 0."""
    yv = numerics.bf16_to_f64(np.asarray(y, dtype=np.uint16))
    with np.errstate(all="ignore"):
        err = np.abs(yv - ref)
    same = (yv == ref) | (np.isnan(yv) & np.isnan(ref))
    return np.where(same, 0.0, np.where(np.isfinite(err), err, np.inf))


# ---- float64 references ------------------------------------------------------------------------------
def _sigmoid64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1.0 / (1.0 + np.exp(-x)), np.exp(x) / (1.0 + np.exp(x)))


def gelu_tanh64(x: np.ndarray) -> np.ndarray:
    """0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x**3))), evaluated as x*sigmoid(2u) (no cancellation)."""
    with np.errstate(over="ignore", invalid="ignore"):
        u = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
        return x * _sigmoid64(2.0 * u)


def gelu_erf64(x: np.ndarray) -> np.ndarray:
    """x * Phi(x) = x * erfc(-x/sqrt(2)) / 2."""
    return x * 0.5 * _erfc(-x / math.sqrt(2.0))


def silu64(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(x)."""
    return x * _sigmoid64(x)


def softmax64(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Row softmax of x + mask; rows that are entirely -inf give zeros."""
    z = x if mask is None else x + mask
    m = np.max(z, axis=1, keepdims=True)
    dead = ~np.isfinite(m) & (m < 0)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(z - np.where(dead, 0.0, m))
        out = e / np.sum(e, axis=1, keepdims=True)
    return np.where(dead, 0.0, out)


def layernorm64(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) * gamma + beta, in float64."""
    xc = x - x.mean(axis=1, keepdims=True)
    return xc / np.sqrt((xc * xc).mean(axis=1, keepdims=True) + eps) * gamma + beta


def rmsnorm64(x: np.ndarray, gamma: np.ndarray, eps: float) -> np.ndarray:
    """x / sqrt(mean(x*x) + eps) * gamma, in float64."""
    return x / np.sqrt((x * x).mean(axis=1, keepdims=True) + eps) * gamma


@dataclass(frozen=True)
class Unary:
    """A unary recipe, its float64 reference and the inputs its contract covers."""

    name: str
    recipe: Callable[..., object]
    ref: Callable[[np.ndarray], np.ndarray]
    domain: str
    inside: Callable[[np.ndarray], np.ndarray]
    bound: float  # asserted maximum ULP error over the domain


def _all(x: np.ndarray) -> np.ndarray:
    return np.ones(x.shape, dtype=bool)


UNARY: tuple[Unary, ...] = (
    Unary("exp", rc.exp, np.exp, "all finite", _all, 1.1),
    Unary(
        "reciprocal",
        rc.reciprocal,
        lambda x: 1.0 / x,
        "2**-125 <= |x| <= 2**125",
        lambda x: (np.abs(x) >= 2.0**-125) & (np.abs(x) <= 2.0**125),
        0.75,
    ),
    Unary("rsqrt", rc.rsqrt, lambda x: 1.0 / np.sqrt(x), "x > 0", lambda x: x > 0, 1.25),
    Unary("tanh", rc.tanh, np.tanh, "all finite", _all, 1.5),
    Unary("erf", rc.erf, _erf, "all finite", _all, 1.6),
    Unary("sigmoid", rc.sigmoid, _sigmoid64, "all finite", _all, 2.5),
    Unary("silu", rc.silu, silu64, "all finite", _all, 3.0),
    Unary("gelu (erf)", rc.gelu_erf, gelu_erf64, "all finite", _all, 3.5),
    Unary("gelu (tanh)", rc.gelu_tanh, gelu_tanh64, "|x| <= 2", lambda x: np.abs(x) <= 2, 4.0),
    Unary("gelu (tanh)", rc.gelu_tanh, gelu_tanh64, "all finite", _all, 160.0),
)


def finite_bf16() -> np.ndarray:
    """Every finite, non-subnormal bf16 pattern (subnormals read as zero; +-0 included)."""
    b = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    e = (b >> 7) & 0xFF
    return b[(e != 0xFF) & ((e != 0) | ((b & 0x7F) == 0))]


def eval_unary(recipe: Callable[..., object], xb: np.ndarray, n: int = 8) -> np.ndarray:
    """Recipe applied to the uint16 inputs `xb` (1-D) with the numpy evaluator."""
    words = max(1, -(-len(xb) // n))
    o = NumpySimd(n, 1, words)
    out = recipe(o, o.value(Kind.FULL, xb[None, :]))
    return out.bits[0, : len(xb)]  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Stats:
    """Error statistics of one table row."""

    name: str
    domain: str
    count: int
    max_ulp: float
    mean_ulp: float
    over1: int  # inputs with error > 1 ULP
    worst_x: float


def exhaustive(u: Unary) -> Stats:
    """ULP error of recipe `u` over every finite bf16 input of its domain."""
    xb = finite_bf16()
    x = numerics.bf16_to_f64(xb)
    sel = u.inside(x)
    xb, x = xb[sel], x[sel]
    with np.errstate(all="ignore"):
        err = ulp_error(eval_unary(u.recipe, xb), u.ref(x))
    i = int(np.argmax(err))
    return Stats(u.name, u.domain, len(xb), float(err.max()), float(err.mean()), int((err > 1).sum()), float(x[i]))


# ---- kernel cases ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """A kernel test case: bf16 inputs, the float64 reference of the output and the asserted error bounds."""

    kernel: str  # softmax, layernorm, rmsnorm, gelu_tanh, gelu_erf, silu
    case: str
    inputs: dict[str, np.ndarray]  # uint16 [rows, cols]
    ref: np.ndarray
    params: dict[str, object]
    bounds: dict[str, float]  # metric name -> asserted maximum (see case_metrics)


def _bf(x: np.ndarray) -> np.ndarray:
    return numerics.f64_to_bf16(np.asarray(x, dtype=np.float64))


def _v(b: np.ndarray) -> np.ndarray:
    return numerics.bf16_to_f64(b)


ABS, ULP, SCALED = "max abs err", "max ulp", "max err/max(|ref|,1)"


def softmax_cases(rng: np.random.Generator) -> list[Case]:
    """Random rows and the adversarial ones (large, near bf16 max, equal, masked, tiny, odd widths)."""
    out = []

    def add(case: str, x: np.ndarray, bounds: dict[str, float], mask: np.ndarray | None = None) -> None:
        xb = _bf(x)
        ins = {"x": xb}
        mref = None
        if mask is not None:
            ins["mask"] = _bf(mask)
            mref = _v(ins["mask"])
        out.append(Case("softmax", case, ins, softmax64(_v(xb), mref), {"mask": mask is not None}, bounds))

    add("random N(0,3), 24x197", rng.normal(0, 3, (24, 197)), {ABS: 4.5e-3, ULP: 20})
    add("random N(0,1), 16x64", rng.normal(0, 1, (16, 64)), {ABS: 8e-4, ULP: 5})
    add("large |x| <= 1e4, 8x50", rng.uniform(-1e4, 1e4, (8, 50)), {ABS: 1e-3, ULP: 1})
    add("near bf16 max, 4x33", rng.uniform(-3.3e38, 3.3e38, (4, 33)), {ABS: 0, ULP: 0})
    eq = np.stack([np.full(37, v) for v in (5.0, -1e4, 3.3e38, -3.3e38, 1e-30)])
    add("all-equal rows (5, -1e4, +-3.3e38, 1e-30), 5x37", eq, {ABS: 1e-4, ULP: 1})
    add("tiny values ~1e-30, 4x20", rng.normal(0, 1e-30, (4, 20)), {ABS: 1e-4, ULP: 0.5})
    x = rng.normal(0, 3, (12, 29))
    m = np.where(rng.random((12, 29)) < 0.5, -np.inf, 0.0)
    m[0, :] = -np.inf
    m[5, :] = -np.inf
    m[7, :-1] = -np.inf
    add("-inf mask: random, full rows, all-but-one, 12x29", x, {ABS: 6e-3, ULP: 11}, m)
    add("cols = 1, 5x1", rng.normal(0, 3, (5, 1)), {ABS: 0, ULP: 0})
    return out


def layernorm_cases(rng: np.random.Generator) -> list[Case]:
    """Random rows, large offsets and magnitudes, constant rows, tiny values, odd widths."""
    out = []

    def add(case: str, x: np.ndarray, bounds: dict[str, float], affine: bool = True, eps: float = 1e-5) -> None:
        cols = x.shape[1]
        xb = _bf(x)
        g = _bf(rng.normal(1, 0.25, cols)) if affine else None
        b = _bf(rng.normal(0, 0.25, cols)) if affine else None
        gv = _v(g) if g is not None else np.ones(cols)
        bv = _v(b) if b is not None else np.zeros(cols)
        params = {"gamma": g, "beta": b, "eps": eps}
        out.append(Case("layernorm", case, {"x": xb}, layernorm64(_v(xb), gv, bv, eps), params, bounds))

    add("random N(0,1), 16x768", rng.normal(0, 1, (16, 768)), {ABS: 0.05, SCALED: 0.02})
    add("random N(0,1), no gamma/beta, 8x100", rng.normal(0, 1, (8, 100)), {ABS: 0.04, SCALED: 0.014}, False)
    add("offset 1000 + N(0,20), 8x96", 1000 + rng.normal(0, 20, (8, 96)), {ABS: 0.05, SCALED: 0.02})
    add("offset -1e4 + N(0,100), 8x70", -1e4 + rng.normal(0, 100, (8, 70)), {ABS: 0.05, SCALED: 0.02})
    add("large |x| ~ 1e4, 8x64", rng.normal(0, 1e4, (8, 64)), {ABS: 0.03, SCALED: 0.013})
    add("large |x| ~ 1e15, 4x64", rng.normal(0, 1e15, (4, 64)), {ABS: 0.03, SCALED: 0.013})
    eq = np.stack([np.full(40, v) for v in (3.0, -7e3, 0.0, 1e30)])
    add("all-equal rows (3, -7e3, 0, 1e30), 4x40", eq, {ABS: 0, SCALED: 0})
    add("tiny values ~1e-30, 4x24", rng.normal(0, 1e-30, (4, 24)), {ABS: 1e-6, SCALED: 1e-6})
    add("cols = 1, 4x1", rng.normal(0, 3, (4, 1)), {ABS: 0, SCALED: 0})
    return out


def rmsnorm_cases(rng: np.random.Generator) -> list[Case]:
    """Random rows, large magnitudes, constant and zero rows, tiny values, odd widths."""
    out = []

    def add(case: str, x: np.ndarray, bounds: dict[str, float], eps: float = 1e-6) -> None:
        cols = x.shape[1]
        xb = _bf(x)
        g = _bf(rng.normal(1, 0.25, cols))
        ref = rmsnorm64(_v(xb), _v(g), eps)
        out.append(Case("rmsnorm", case, {"x": xb}, ref, {"gamma": g, "eps": eps}, bounds))

    add("random N(0,1), 16x768", rng.normal(0, 1, (16, 768)), {ABS: 0.055, ULP: 4})
    add("random N(3,1), 8x100", rng.normal(3, 1, (8, 100)), {ABS: 0.025, ULP: 4})
    add("large |x| ~ 1e4, 8x64", rng.normal(0, 1e4, (8, 64)), {ABS: 0.03, ULP: 4})
    add("large |x| ~ 1e15, 4x64", rng.normal(0, 1e15, (4, 64)), {ABS: 0.03, ULP: 4})
    eq = np.stack([np.full(40, v) for v in (3.0, -7e3, 0.0)])
    add("all-equal and zero rows, 3x40", eq, {ABS: 1e-6, ULP: 1})
    add("tiny values ~1e-30 (eps dominates), 4x24", rng.normal(0, 1e-30, (4, 24)), {ABS: 1e-28, ULP: 4})
    add("cols = 1, 4x1", rng.normal(0, 3, (4, 1)), {ABS: 0.01, ULP: 2})
    return out


def elementwise_cases(rng: np.random.Generator) -> list[Case]:
    """GELU (both forms) and SiLU on every finite bf16 value and on random activations."""
    out = []
    every = finite_bf16()
    cols = 254
    grid = np.concatenate([every, np.zeros(-len(every) % cols, np.uint16)]).reshape(-1, cols)
    act = _bf(rng.normal(0, 2, (16, 300)))
    bounds = {
        "gelu_tanh": ({ABS: 0.014, ULP: 160}, {ABS: 0.014, ULP: 40}),
        "gelu_erf": ({ABS: 0.01, ULP: 3.5}, {ABS: 0.01, ULP: 3.5}),
        "silu": ({ABS: 0.028, ULP: 3}, {ABS: 0.028, ULP: 3}),
    }
    for kernel, ref in (("gelu_tanh", gelu_tanh64), ("gelu_erf", gelu_erf64), ("silu", silu64)):
        cases = (("every finite bf16, 257x254", grid), ("random N(0,2), 16x300", act))
        for (case, xb), bnd in zip(cases, bounds[kernel], strict=True):
            with np.errstate(all="ignore"):
                out.append(Case(kernel, case, {"x": xb}, ref(_v(xb)), {}, bnd))
    return out


def all_cases(seed: int = 1234) -> list[Case]:
    """Every kernel case, from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [*softmax_cases(rng), *layernorm_cases(rng), *rmsnorm_cases(rng), *elementwise_cases(rng)]


def reference_output(c: Case, n: int) -> np.ndarray:
    """The bit-exact kernel output for case `c` at array size `n` (numpy evaluator)."""
    x = c.inputs["x"]
    p = c.params
    if c.kernel == "softmax":
        return nl.softmax_reference(x, n, c.inputs.get("mask"))
    if c.kernel == "layernorm":
        return nl.layernorm_reference(x, n, p["gamma"], p["beta"], float(p["eps"]))  # type: ignore[arg-type]
    if c.kernel == "rmsnorm":
        return nl.rmsnorm_reference(x, n, p["gamma"], float(p["eps"]))  # type: ignore[arg-type]
    if c.kernel == "silu":
        return nl.silu_reference(x, n)
    return nl.gelu_reference(x, n, "tanh" if c.kernel == "gelu_tanh" else "none")


def case_metrics(c: Case, y: np.ndarray) -> dict[str, float]:
    """The metrics of case `c` (the keys of its bounds) for the kernel output `y` (uint16)."""
    err = abs_error(y, c.ref)
    values = {
        ABS: lambda: float(err.max()),
        ULP: lambda: float(ulp_error(y, c.ref).max()),
        SCALED: lambda: float((err / np.maximum(np.abs(c.ref), 1.0)).max()),
    }
    return {k: values[k]() for k in c.bounds}
