"""Demo of the spine: generate a GEMM and a softmax program, assemble, simulate, check, print cycles.

For each kernel: generate the program, disassemble it to text, assemble the text back (it must give the
same program), save and reload it as a .tprog file, run it on the bit-accurate simulator, and compare
with numpy. Exits non-zero if anything disagrees.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from tataa import config, numerics, progfile
from tataa.codegen.gemm import gemm_program
from tataa.codegen.nonlinear import softmax_program
from tataa.isa.asm import assemble, disassemble
from tataa.program import Program
from tataa.runtime.backends import run


def round_trip(program: Program, workdir: Path, name: str) -> Program:
    """Disassemble, re-assemble, save and reload `program`; fail if any step changes it."""
    text = disassemble(program)
    (workdir / f"{name}.s").write_text(text)
    if assemble(text) != program:
        raise SystemExit(f"{name}: assemble(disassemble(p)) != p")
    path = workdir / f"{name}.tprog"
    progfile.save(program, path)
    loaded = progfile.load(path)
    if loaded != program:
        raise SystemExit(f"{name}: program file round trip changed the program")
    print(f"  {name}: {len(program.instructions)} instructions, {path.stat().st_size} bytes -> {path}")
    return loaded


def demo_gemm(cfg_name: str, m: int, k: int, n: int, workdir: Path, rng: np.random.Generator) -> None:
    """int8 GEMM with bias and per-channel requantization to int8, checked exactly against numpy int64."""
    cfg = config.load(cfg_name)
    w = rng.integers(-128, 128, size=(k, n), dtype=np.int8)
    bias = rng.integers(-5000, 5000, size=n, dtype=np.int32)
    scales = rng.uniform(1e-4, 4e-3, size=n)
    program = round_trip(gemm_program(cfg, w, m, bias=bias, scales=scales, out_dtype="int8"), workdir, "gemm")
    a = rng.integers(-128, 128, size=(m, k), dtype=np.int8)
    result = run(program, {"a": a})
    acc = numerics.wrap_int32(a.astype(np.int64) @ w.astype(np.int64) + bias)
    words = np.array([numerics.pack_scale(*numerics.scale_to_multiplier(s)) for s in scales], dtype=np.int32)
    expect = numerics.requant_int8(acc, np.broadcast_to(words, acc.shape))
    ok = np.array_equal(result.outputs["y"], expect)
    macs = m * k * n
    util = macs / (cfg.macs_per_cycle * result.cycles)
    print(
        f"  GEMM {m}x{k}x{n} at {cfg.name}: {'exact' if ok else 'MISMATCH'}; {result.cycles} cycles "
        f"= {result.cycles / cfg.clock_mhz:.1f} us at {cfg.clock_mhz} MHz; systolic utilisation {util:.1%}"
    )
    if not ok:
        raise SystemExit("GEMM result differs from the numpy reference")


def demo_softmax(cfg_name: str, rows: int, cols: int, workdir: Path, rng: np.random.Generator) -> None:
    """Row-wise bf16 softmax, compared with a float64 softmax of the same bf16 inputs."""
    cfg = config.load(cfg_name)
    program = round_trip(softmax_program(cfg, rows, cols), workdir, "softmax")
    x = numerics.bf16_to_f64(numerics.f64_to_bf16(rng.normal(0, 3, size=(rows, cols))))
    result = run(program, {"x": x})
    e = np.exp(x - x.max(axis=1, keepdims=True))
    ref = e / e.sum(axis=1, keepdims=True)
    err = float(np.max(np.abs(result.outputs["y"].astype(np.float64) - ref)))
    print(
        f"  softmax {rows}x{cols} at {cfg.name}: max abs error {err:.2e} vs float64; "
        f"{result.cycles} cycles = {result.cycles / cfg.clock_mhz:.1f} us"
    )
    if not err < 1e-2:
        raise SystemExit("softmax error too large")


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the process exit code."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default="u280", help="hardware configuration (default u280)")
    ap.add_argument("--out", default=None, help="folder for the .s and .tprog files (default: a temp folder)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.out or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"tataa demo at config {args.config!r}")
        demo_gemm(args.config, 128, 768, 768, workdir, rng)
        demo_softmax(args.config, 64, 197, workdir, rng)
    print("demo passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
