"""GEMM kernel benchmark: program size, simulated cycles, latency and systolic utilisation per shape.

For each shape it prints the instruction count, the program file size (``tataa.progfile.to_bytes``), the
simulated cycles, the latency at the configuration's clock, the systolic utilisation (useful MACs /
(N*N * cycles)), where the remaining cycles go, and the simulator's wall time as a ratio against numpy's
int64 matmul of the same shape measured in the same run.

    .venv/bin/python benchmarks/gemm_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tataa import config, progfile
from tataa.codegen.gemm import gemm_program
from tataa.isa.spec import Opcode
from tataa.runtime.backends import run
from tataa.sim import timing

# (config, M, K, N, out dtype): BERT-base layers at sequence length 128, a decode step, and tiny shapes
SHAPES = [
    ("u280", 128, 768, 768, "int8"),
    ("u280", 128, 768, 3072, "int8"),
    ("u280", 128, 3072, 768, "int8"),
    ("u280", 128, 768, 768, "bf16"),
    ("u280", 128, 768, 768, "int32"),
    ("u280", 512, 768, 768, "int8"),
    ("u280", 1, 768, 768, "int8"),
    ("tiny", 64, 64, 64, "int8"),
    ("tiny", 128, 512, 96, "int8"),
    ("tiny", 16, 9000, 24, "int8"),
]
QUICK = SHAPES[:1] + SHAPES[7:8]


def _best_time(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench(cfg_name: str, m: int, k: int, n: int, out_dtype: str) -> dict[str, object]:
    """Generate, simulate and time one GEMM; return the row of the report."""
    cfg = config.load(cfg_name)
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    w = rng.integers(-128, 128, (k, n), dtype=np.int8)
    bias = rng.integers(-1000, 1000, n).astype(np.int32)
    scales = None if out_dtype == "int32" else rng.uniform(1e-5, 1e-4, n)
    t0 = time.perf_counter()
    prog = gemm_program(cfg, w, m, bias=bias, scales=scales, out_dtype=out_dtype)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = run(prog, {"a": a})  # cold: checks, kernels and schedule are built, then run
    sim_cold = time.perf_counter() - t0
    sim_warm = _best_time(lambda: run(prog, {"a": a}), 2)
    a64, w64 = a.astype(np.int64), w.astype(np.int64)
    np_s = _best_time(lambda: a64 @ w64, 3)
    gemm = sum(timing.duration(i, cfg) for i in prog.instructions if i.opcode is Opcode.GEMM)
    requant = sum(timing.duration(i, cfg) for i in prog.instructions if i.opcode is Opcode.REQUANT)
    ideal = m * k * n / cfg.macs_per_cycle
    return {
        "shape": f"{cfg_name} {m}x{k}x{n} {out_dtype}",
        "insns": len(prog.instructions),
        "bytes": len(progfile.to_bytes(prog)),
        "cycles": res.cycles,
        "latency_us": res.cycles / cfg.clock_mhz,
        "util": ideal / res.cycles,
        "gemm_over": (gemm - ideal) / res.cycles,  # padding + systolic fill/drain inside GEMMs
        "requant": requant / res.cycles,
        "idle": (res.cycles - gemm - requant) / res.cycles,  # COMPUTE waiting: prologue, epilogue, stalls
        "gen_s": gen_s,
        "sim_cold_x": sim_cold / np_s,
        "sim_warm_x": sim_warm / np_s,
        "np_ms": np_s * 1e3,
        "plan": dict(prog.metadata)["plan"],
    }


def main() -> None:
    """Print the benchmark table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two shapes only")
    args = ap.parse_args()
    head = (
        f"{'shape':<28}{'insns':>7}{'file B':>10}{'cycles':>10}{'lat us':>9}{'util':>7}{'gemm+':>7}{'rq':>6}"
        f"{'idle':>6}{'gen s':>7}{'sim/np':>9}{'warm':>8}{'np ms':>8}"
    )
    print(head)
    print("-" * len(head))
    plans = []
    for shape in QUICK if args.quick else SHAPES:
        r = bench(*shape)
        print(
            f"{r['shape']:<28}{r['insns']:>7}{r['bytes']:>10}{r['cycles']:>10}{r['latency_us']:>9.1f}"
            f"{r['util']:>7.1%}{r['gemm_over']:>7.1%}{r['requant']:>6.1%}{r['idle']:>6.1%}{r['gen_s']:>7.2f}"
            f"{r['sim_cold_x']:>9.1f}{r['sim_warm_x']:>8.1f}{r['np_ms']:>8.2f}"
        )
        plans.append(f"  {r['shape']}: {r['plan']}")
    print("\nutil: useful MACs / (N*N * cycles); gemm+: GEMM cycles beyond the useful MACs (padding, fill/drain);")
    print("rq: REQUANT cycles on the compute unit; idle: compute unit waiting (prologue, epilogue, stalls);")
    print("sim/np: simulator wall time (cold: incl. checks and scheduling; warm: run only) / numpy int64 matmul.")
    print("file B: tataa.progfile.to_bytes size (instructions, constant image: weights, bias, scales).")
    print("\nplans:")
    print("\n".join(plans))


if __name__ == "__main__":
    main()
