"""Measure the SIMD recipes and nonlinear kernels against float64 and write the tables of docs/kernels-nonlinear.md.

Five generated sections, each between `<!-- BEGIN name -->` and `<!-- END name -->` markers:

* approx-error-table: every recipe on every finite bf16 input (numpy evaluator), max and mean ULP error;
* kernel-error-table: every kernel case of tataa.codegen.simd.accuracy (random and adversarial rows), the
  measured metric (worst over array sizes 8 and 32) and the bound tests/test_nonlinear_kernels.py asserts;
* kernel-cost-table: VOPs and constants per block, and simulated cycles of a 256x768 tensor on u280;
* paper-error-table: the published design's approximations (tataa.quant.paper_approx) against ours, max and mean
  ULP error over every finite bf16 input of each domain;
* paper-softmax-table: the two softmaxes on the softmax kernel cases (array size 32).

Usage: ``python scripts/approx_error_table.py`` rewrites the doc; ``--check`` exits 1 if it is stale.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from tataa import config, numerics
from tataa.codegen import nonlinear as nl
from tataa.codegen import simd_recipes as rc
from tataa.codegen.simd import accuracy as acc
from tataa.codegen.simd.rowwise import trace_plan
from tataa.isa.spec import VFUNCT_DEFS, VKind
from tataa.quant import bf16_ops as bo
from tataa.quant import paper_approx as pa
from tataa.runtime.backends import run

DOC = Path(__file__).resolve().parent.parent / "docs" / "kernels-nonlinear.md"


def _g(v: float) -> str:
    return "0" if v == 0 else f"{v:.3g}"


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|")


def approx_table() -> str:
    """Markdown table of the exhaustive ULP errors of the recipes."""
    lines = [
        "| function | inputs | count | max ULP | mean ULP | inputs > 1 ULP | worst input | asserted max ULP |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for u in acc.UNARY:
        s = acc.exhaustive(u)
        lines.append(
            f"| {s.name} | {_cell(s.domain)} | {s.count} | {_g(s.max_ulp)} | {s.mean_ulp:.4f} | {s.over1} | "
            f"{s.worst_x:.4g} | {_g(u.bound)} |"
        )
    return "\n".join(lines)


def kernel_table() -> str:
    """Markdown table of the measured kernel errors with their asserted bounds."""
    lines = ["| kernel | case | metric | measured | asserted bound |", "|---|---|---|---:|---:|"]
    for c in acc.all_cases():
        per_n = [acc.case_metrics(c, acc.reference_output(c, n)) for n in (8, 32)]
        for metric, bound in c.bounds.items():
            worst = max(m[metric] for m in per_n)
            lines.append(f"| {c.kernel} | {_cell(c.case)} | {_cell(metric)} | {_g(worst)} | {_g(bound)} |")
    return "\n".join(lines)


def cost_table() -> str:
    """Markdown table of the per-block operation counts and of simulated u280 cycles for 256x768."""
    cfg = config.load("u280")
    n, rows, cols = cfg.array_size, 256, 768
    x = numerics.f64_to_bf16(np.random.default_rng(0).normal(0, 1, (rows, cols)))
    kernels = [
        ("softmax", nl.softmax_kernel(cols, n), nl.softmax_program(cfg, rows, cols)),
        ("layernorm", nl.layernorm_kernel(cols, n, np.ones(cols), np.zeros(cols)), None),
        ("rmsnorm", nl.rmsnorm_kernel(cols, n, np.ones(cols)), None),
        ("gelu (tanh)", nl.gelu_kernel(cols, n, "tanh"), nl.gelu_program(cfg, rows, cols, "tanh")),
        ("gelu (erf)", nl.gelu_kernel(cols, n, "none"), nl.gelu_program(cfg, rows, cols, "none")),
        ("silu", nl.silu_kernel(cols, n), nl.silu_program(cfg, rows, cols)),
    ]
    lines = [
        "| kernel | VOPs / block | full-width passes | row / tail VOPs | constants | temporaries (rows) "
        "| u280 cycles, 256x768 | elements / cycle |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, k, prog in kernels:
        p = trace_plan(k)
        full = sum(
            1 for op in p.ops if not op.tail and (op.dst.kind.wide or VFUNCT_DEFS[op.funct].kind is VKind.REDUCE)
        )
        consts = len({c.bits for op in p.ops for c in op.consts})
        if prog is None:
            prog = (
                nl.layernorm_program(cfg, rows, cols, np.ones(cols), np.zeros(cols))
                if name == "layernorm"
                else nl.rmsnorm_program(cfg, rows, cols, np.ones(cols))
            )
        cycles = run(prog, {"x": x}).cycles
        lines.append(
            f"| {name} | {len(p.ops)} | {full} | {len(p.ops) - full} | {consts} | {p.full_slots} full + "
            f"{p.row_slots} row | {cycles} | {rows * cols / cycles:.2f} |"
        )
    return "\n".join(lines)


def _ulp(v: float) -> str:
    return "inf" if not np.isfinite(v) else _g(v)


def _everywhere(x: np.ndarray) -> np.ndarray:
    return np.ones(x.shape, dtype=bool)


def _erf64(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[float])(x)


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1.0 / (1.0 + np.exp(-x)), np.exp(x) / (1.0 + np.exp(x)))


# (function, domain, inside, float64 reference, our recipe, the published design's recipe, its formula)
PAPER_ROWS = (
    ("exp", "all finite", _everywhere, np.exp, rc.exp, pa.exp2_floor, "2^floor(x/ln 2)"),
    ("reciprocal", "2**-125 <= |x| <= 2**125", lambda x: (np.abs(x) >= 2.0**-125) & (np.abs(x) <= 2.0**125),
     lambda x: 1.0 / x, rc.reciprocal, pa.reciprocal_rsqrt2, "rsqrt(|x|)^2, one Newton step"),
    ("rsqrt", "x > 0", lambda x: x > 0, lambda x: 1.0 / np.sqrt(x), rc.rsqrt, pa.rsqrt_newton1, "one Newton step"),
    ("sqrt", "x > 0", lambda x: x > 0, np.sqrt, bo.UNARY["sqrt"], pa.sqrt_newton1, "x * rsqrt(x) (*)"),
    ("tanh", "all finite", _everywhere, np.tanh, rc.tanh, pa.pade_tanh, "Pade x(27+x^2)/(27+9x^2)"),
    ("erf", "all finite", _everywhere, _erf64, rc.erf, pa.erf_pade, "Pade tanh form (*)"),
    ("sigmoid", "all finite", _everywhere, _sigmoid64, rc.sigmoid, pa.sigmoid_pade, "0.5 + 0.5 tanh(x/2) (*)"),
    ("silu", "all finite", _everywhere, acc.silu64, rc.silu, pa.silu_pade, "x * sigmoid(x) (*)"),
    ("gelu (erf)", "all finite", _everywhere, acc.gelu_erf64, rc.gelu_erf, pa.gelu_pade, "tanh formula, Pade tanh"),
    ("gelu (tanh)", "|x| <= 2", lambda x: np.abs(x) <= 2, acc.gelu_tanh64, rc.gelu_tanh, pa.gelu_pade,
     "tanh formula, Pade tanh"),
    ("gelu (tanh)", "all finite", _everywhere, acc.gelu_tanh64, rc.gelu_tanh, pa.gelu_pade, "tanh formula, Pade tanh"),
)


def _errors(recipe: object, ref: object, inside: object) -> tuple[int, float, float, int]:
    """(count, max, mean over the finite errors, how many are infinite) of a recipe's ULP errors on its domain."""
    xb = acc.finite_bf16()
    x = numerics.bf16_to_f64(xb)
    sel = inside(x)  # type: ignore[operator]
    with np.errstate(all="ignore"):
        err = acc.ulp_error(acc.eval_unary(recipe, xb[sel]), ref(x[sel]))  # type: ignore[arg-type, operator]
    fin = np.isfinite(err)
    return int(sel.sum()), float(err.max()), float(err[fin].mean()), int((~fin).sum())


def paper_table() -> str:
    """Markdown table of the exhaustive ULP errors of ours and of the published design's approximations."""
    lines = [
        "| function | inputs | count | ours: max ULP | ours: mean ULP | published design | its max ULP "
        "| its mean ULP (finite) | its inf / NaN results |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for name, domain, inside, ref, ours, theirs, formula in PAPER_ROWS:
        count, o_max, o_mean, o_bad = _errors(ours, ref, inside)
        _, p_max, p_mean, p_bad = _errors(theirs, ref, inside)
        if o_bad:
            raise SystemExit(f"{name}: our recipe gives {o_bad} wrong inf / NaN results")
        lines.append(
            f"| {name} | {_cell(domain)} | {count} | {_ulp(o_max)} | {o_mean:.4f} | {_cell(formula)} | "
            f"{_ulp(p_max)} | {p_mean:.4g} | {p_bad} |"
        )
    return "\n".join(lines)


def paper_softmax_table() -> str:
    """Markdown table of both softmaxes on the softmax kernel cases (array size 32)."""
    lines = ["| case | ours: max abs err | ours: max ULP | published: max abs err | published: max ULP |",
             "|---|---:|---:|---:|---:|"]
    for c in acc.softmax_cases(np.random.default_rng(1234)):
        x, mask = c.inputs["x"], c.inputs.get("mask")
        cells = []
        for fn in (bo.softmax_rows, pa.softmax_rows):
            with np.errstate(all="ignore"):
                y = fn(x, 32, mask)
                cells += [_ulp(float(acc.abs_error(y, c.ref).max())), _ulp(float(acc.ulp_error(y, c.ref).max()))]
        lines.append(f"| {_cell(c.case)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(text: str) -> str:
    """`text` with every generated section replaced by freshly measured tables."""
    for name, make in (
        ("approx-error-table", approx_table),
        ("kernel-error-table", kernel_table),
        ("kernel-cost-table", cost_table),
        ("paper-error-table", paper_table),
        ("paper-softmax-table", paper_softmax_table),
    ):
        begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
        if begin not in text or end not in text:
            raise SystemExit(f"{DOC}: markers {begin} / {end} not found")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{make()}\n{end}{tail}"
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite the doc (or, with --check, report whether it is up to date); returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the doc's tables are stale")
    args = ap.parse_args(argv)
    old = DOC.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print(f"{DOC} is stale: run python scripts/approx_error_table.py")
            return 1
        return 0
    DOC.write_text(new)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
