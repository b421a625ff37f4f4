"""Measure the SIMD recipes and nonlinear kernels against float64 and write the tables of docs/kernels-nonlinear.md.

Three generated sections, each between `<!-- BEGIN name -->` and `<!-- END name -->` markers:

* approx-error-table: every recipe on every finite bf16 input (numpy evaluator), max and mean ULP error;
* kernel-error-table: every kernel case of tataa.codegen.simd.accuracy (random and adversarial rows), the
  measured metric (worst over array sizes 8 and 32) and the bound tests/test_nonlinear_kernels.py asserts;
* kernel-cost-table: VOPs and constants per block, and simulated cycles of a 256x768 tensor on u280.

Usage: ``python scripts/approx_error_table.py`` rewrites the doc; ``--check`` exits 1 if it is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tataa import config, numerics
from tataa.codegen import nonlinear as nl
from tataa.codegen.simd import accuracy as acc
from tataa.codegen.simd.rowwise import trace_plan
from tataa.isa.spec import VFUNCT_DEFS, VKind
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


def render(text: str) -> str:
    """`text` with every generated section replaced by freshly measured tables."""
    for name, make in (
        ("approx-error-table", approx_table),
        ("kernel-error-table", kernel_table),
        ("kernel-cost-table", cost_table),
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
