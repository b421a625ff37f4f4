"""tataa_gemm_engine (with tataa_systolic_array, tataa_pe, tataa_spad) against the simulator.

Each case loads random INP/WGT/ACC images into the bench's scratchpads and runs a few random GEMM
instructions back to back; the final ACC image must equal what `tataa.sim`'s GEMM kernels produce from
the same state, bit for bit, and every instruction's start-to-done cycle count must equal
`tataa.sim.duration` (docs/timing.md). Two array sizes show that the RTL is parameterised.
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tataa import config
from tataa.config import HwConfig
from tataa.errors import SimError
from tataa.hdl.verilator import (
    TB_DIR,
    VerilatorBuild,
    build,
    pack_lanes,
    read_hex,
    rtl_sources,
    run,
    tool_path,
    unpack_lanes,
    write_hex,
)
from tataa.isa.encoding import encode
from tataa.isa.spec import Instruction, Opcode, make
from tataa.sim import MachineState, duration
from tataa.sim.execute import compile_insn

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(tool_path("verilator") is None, reason="verilator is not installed"),
]

TOP = "tb_gemm_engine"
MODULES = ("tataa_gemm_engine", "tataa_systolic_array", "tataa_pe", "tataa_spad")
TINY = config.load("tiny")
# A second, smaller array (and smaller buffers) to show the RTL is parameterised.
SMALL = dataclasses.replace(TINY, name="small4", array_size=4, inp_depth=256, wgt_depth=256, acc_depth=256)
I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


@dataclass(frozen=True)
class Case:
    """Initial buffer images and the GEMM instructions run back to back on them."""

    insns: tuple[Instruction, ...]
    inp: np.ndarray  # int8 [inp_depth, N]
    wgt: np.ndarray  # int8 [wgt_depth, N]
    acc: np.ndarray  # int32 [acc_depth, N]


# ---- stimulus -----------------------------------------------------------------------------------------------


def _int8(rng: np.random.Generator, shape: tuple[int, ...], style: str) -> np.ndarray:
    if style == "extreme":
        return rng.choice(np.array([-128, 127, -1, 0, 1], np.int8), shape)
    if style == "min":
        return np.full(shape, -128, np.int8)
    return rng.integers(-128, 128, shape, dtype=np.int8)


def _int32(rng: np.random.Generator, shape: tuple[int, ...], style: str) -> np.ndarray:
    if style in ("extreme", "min"):  # next to the wrap-around points
        edge = rng.choice(np.array([I32_MAX, I32_MIN], np.int64), shape)
        return (edge - np.sign(edge) * rng.integers(0, 1 << 16, shape)).astype(np.int32)
    return rng.integers(I32_MIN, I32_MAX + 1, shape, dtype=np.int64).astype(np.int32)


def _rows(rng: np.random.Generator, n: int) -> int:
    kind = int(rng.integers(0, 5))
    return (1, int(rng.integers(2, n)), n, int(rng.integers(n + 1, 3 * n + 1)), int(rng.integers(1, 3 * n)))[kind]


def _stride(rng: np.random.Generator, rows: int) -> int:
    """Mostly disjoint tiles (stride >= rows); sometimes overlapping or repeated ones (stride < rows, 0)."""
    kind = int(rng.integers(0, 6))
    if kind == 0:
        return 0
    if kind == 1:
        return int(rng.integers(0, rows + 1))
    return rows + int(rng.integers(0, 4))


def random_gemm(rng: np.random.Generator, cfg: HwConfig, shape: tuple[int, int, int] | None = None) -> Instruction:
    """A GEMM whose every word lies inside the buffers of `cfg` (checked by the simulator's kernel builder)."""
    n = cfg.array_size
    while True:
        if shape is None:
            rows, kt, nt = _rows(rng, n), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        else:
            rows, kt, nt = shape
        kst, nst = _stride(rng, rows), _stride(rng, rows)
        inp_span = max(kt - 1, 0) * kst + rows
        acc_span = max(nt - 1, 0) * nst + rows
        wgt_span = nt * kt * n
        if max(inp_span, 1) > cfg.inp_depth or max(acc_span, 1) > cfg.acc_depth or wgt_span > cfg.wgt_depth:
            continue
        insn = make(
            Opcode.GEMM,
            clear=int(rng.integers(0, 2)),
            rows=rows,
            ktiles=kt,
            ntiles=nt,
            inp_base=int(rng.integers(0, cfg.inp_depth - inp_span + 1)),
            inp_kstride=kst,
            wgt_base=int(rng.integers(0, cfg.wgt_depth - wgt_span + 1)),
            acc_base=int(rng.integers(0, cfg.acc_depth - acc_span + 1)),
            acc_nstride=nst,
        )
        try:
            compile_insn(0, insn, cfg, {})
        except SimError:
            continue
        return insn


def random_case(rng: np.random.Generator, cfg: HwConfig, insns: list[Instruction], style: str = "random") -> Case:
    """Random buffer images (value style 'random', 'extreme' or 'min') under the given instructions."""
    n = cfg.array_size
    return Case(
        tuple(insns),
        _int8(rng, (cfg.inp_depth, n), style),
        _int8(rng, (cfg.wgt_depth, n), style),
        _int32(rng, (cfg.acc_depth, n), style),
    )


# ---- reference and bench ------------------------------------------------------------------------------------


def reference(case: Case, cfg: HwConfig) -> np.ndarray:
    """ACC after the simulator's kernels of the case's instructions, applied in order."""
    st = MachineState.reset(cfg, {})
    st.inp[...] = case.inp
    st.wgt[...] = case.wgt
    st.acc[...] = case.acc
    for i, insn in enumerate(case.insns):
        kernel = compile_insn(i, insn, cfg, {})
        if kernel is not None:
            kernel(st)
    return st.acc.copy()


def build_bench(cfg: HwConfig) -> VerilatorBuild:
    """The bench for array size / buffer depths of `cfg` (tiny's package; sizes given as parameters)."""
    args = [
        f"-GN={cfg.array_size}",
        f"-GInpDepth={cfg.inp_depth}",
        f"-GWgtDepth={cfg.wgt_depth}",
        f"-GAccDepth={cfg.acc_depth}",
    ]
    return build(TOP, [*rtl_sources("tiny", MODULES), TB_DIR / f"{TOP}.sv"], args)


def _words(words: list[int]) -> np.ndarray:
    """Python ints as an object array: np.asarray would turn a list of 64-bit words >= 2**63 into float64."""
    out = np.empty(len(words), dtype=object)
    out[:] = words
    return out


def run_case(bld: VerilatorBuild, case: Case, cfg: HwConfig, workdir: Path) -> tuple[np.ndarray, list[int]]:
    """Final ACC image and per-instruction cycle counts from the bench."""
    n = cfg.array_size
    workdir.mkdir(parents=True, exist_ok=True)
    write_hex(workdir / "inp.hex", _words(pack_lanes(case.inp, 8)), n * 8)
    write_hex(workdir / "wgt.hex", _words(pack_lanes(case.wgt, 8)), n * 8)
    write_hex(workdir / "acc.hex", _words(pack_lanes(case.acc, 32)), n * 32)
    write_hex(workdir / "insn.hex", _words([encode(i) for i in case.insns]), 128)
    run(
        bld,
        {
            "inp": "inp.hex",
            "wgt": "wgt.hex",
            "acc": "acc.hex",
            "insn": "insn.hex",
            "ninsn": len(case.insns),
            "out": "out.hex",
            "cycles": "cycles.txt",
        },
        cwd=workdir,
    )
    acc = unpack_lanes(read_hex(workdir / "out.hex", n * 32), n, 32, signed=True).astype(np.int32)
    cycles = [int(x) for x in (workdir / "cycles.txt").read_text().split()]
    return acc, cycles


def expected_cycles(insn: Instruction, cfg: HwConfig) -> int:
    """docs/timing.md's GEMM duration, except the degenerate ktiles = 0 clear (one ACC write per cycle)."""
    n, f = cfg.array_size, insn.as_dict()
    if f["ktiles"] == 0 and f["clear"] and f["ntiles"] and f["rows"]:
        return 3 * n + f["ntiles"] * f["rows"]
    return duration(insn, cfg)


def check_case(bld: VerilatorBuild, case: Case, cfg: HwConfig, workdir: Path) -> list[float]:
    """Run a case, assert ACC and cycles; return the measured/modelled cycle ratios."""
    acc, cycles = run_case(bld, case, cfg, workdir)
    ref = reference(case, cfg)
    if not np.array_equal(acc, ref):
        bad = np.argwhere(acc != ref)
        w, lane = (int(x) for x in bad[0])
        pytest.fail(
            f"{len(bad)} ACC lanes differ, first word {w} lane {lane}: rtl {acc[w, lane]} sim {ref[w, lane]}; "
            f"instructions {[i.as_dict() for i in case.insns]}"
        )
    assert len(cycles) == len(case.insns)
    for insn, got in zip(case.insns, cycles, strict=True):
        assert got == expected_cycles(insn, cfg), f"cycles {got} != {expected_cycles(insn, cfg)} for {insn.as_dict()}"
    return [got / duration(insn, cfg) for insn, got in zip(case.insns, cycles, strict=True)]


# ---- tests --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bench_tiny() -> VerilatorBuild:
    return build_bench(TINY)


@pytest.fixture(scope="module")
def bench_small() -> VerilatorBuild:
    return build_bench(SMALL)


def test_single_shapes_tiny(bench_tiny: VerilatorBuild, tmp_path: Path) -> None:
    """One GEMM per run over the corner shapes: rows 1, < N, = N, > N; k/n tiles 1..3; clear and accumulate."""
    rng = np.random.default_rng(1)
    n = TINY.array_size
    shapes = [(1, 1, 1), (3, 1, 1), (n, 1, 1), (n + 3, 1, 1), (1, 3, 2), (n - 1, 2, 3), (n, 3, 3), (2 * n + 1, 2, 2)]
    for i, shape in enumerate(shapes):
        for clear in (0, 1):
            insn = random_gemm(rng, TINY, shape)
            insn = make(Opcode.GEMM, **{**insn.as_dict(), "clear": clear})
            check_case(bench_tiny, random_case(rng, TINY, [insn]), TINY, tmp_path / f"s{i}_{clear}")


def test_back_to_back_random_tiny(bench_tiny: VerilatorBuild, tmp_path: Path) -> None:
    """Random sequences of 1-4 GEMMs back to back (each starts the cycle after the previous done_o)."""
    rng = np.random.default_rng(2)
    for c in range(40):
        insns = [random_gemm(rng, TINY) for _ in range(int(rng.integers(1, 5)))]
        check_case(bench_tiny, random_case(rng, TINY, insns), TINY, tmp_path / f"c{c}")


def test_extreme_values_tiny(bench_tiny: VerilatorBuild, tmp_path: Path) -> None:
    """-128 everywhere (largest products) and accumulators next to ±2^31, so int32 sums wrap."""
    rng = np.random.default_rng(3)
    for c, style in enumerate(("min", "extreme", "min", "extreme")):
        insns = [random_gemm(rng, TINY) for _ in range(3)]
        insns = [make(Opcode.GEMM, **{**i.as_dict(), "clear": 0}) for i in insns]  # accumulate onto the edges
        case = random_case(rng, TINY, insns, style)
        ref = reference(case, TINY)
        wide = case.acc.astype(np.int64)
        assert (ref.astype(np.int64) != wide).any()  # the case does change ACC
        check_case(bench_tiny, case, TINY, tmp_path / f"e{c}")


def test_overlapping_tiles_tiny(bench_tiny: VerilatorBuild, tmp_path: Path) -> None:
    """n-tiles sharing ACC words (acc_nstride < rows, 0) and k-tiles re-reading INP words (inp_kstride < rows)."""
    rng = np.random.default_rng(4)
    n = TINY.array_size
    for c, (rows, nst, kst) in enumerate([(n, n - 1, 1), (n + 2, 1, 0), (3, 2, 2), (2 * n, 0, n), (n, 1, n - 1)]):
        for clear in (0, 1):
            insn = make(
                Opcode.GEMM, clear=clear, rows=rows, ktiles=2, ntiles=3, inp_base=5, inp_kstride=kst,
                wgt_base=17, acc_base=9, acc_nstride=nst,
            )  # fmt: skip
            check_case(bench_tiny, random_case(rng, TINY, [insn, insn]), TINY, tmp_path / f"o{c}_{clear}")


def test_degenerate_fields_tiny(bench_tiny: VerilatorBuild, tmp_path: Path) -> None:
    """rows = 0, ktiles = 0 (clear: zero the accumulators; accumulate: no change), ntiles = 0."""
    rng = np.random.default_rng(5)
    base = {"inp_base": 2, "inp_kstride": 3, "wgt_base": 4, "acc_base": 6, "acc_nstride": 5}
    insns = [
        make(Opcode.GEMM, clear=1, rows=0, ktiles=2, ntiles=2, **base),
        make(Opcode.GEMM, clear=1, rows=5, ktiles=0, ntiles=3, **base),
        make(Opcode.GEMM, clear=0, rows=5, ktiles=0, ntiles=3, **{**base, "acc_base": 40}),
        make(Opcode.GEMM, clear=1, rows=5, ktiles=2, ntiles=0, **{**base, "acc_base": 60}),
        make(Opcode.GEMM, clear=1, rows=3, ktiles=0, ntiles=1, **{**base, "acc_base": 80}),
    ]
    case = random_case(rng, TINY, insns)
    ref = reference(case, TINY)
    assert (ref[6:21] == 0).all() and (ref[40:80] == case.acc[40:80]).all() and (ref[80:83] == 0).all()
    check_case(bench_tiny, case, TINY, tmp_path / "d")


def test_random_small_array(bench_small: VerilatorBuild, tmp_path: Path) -> None:
    """N = 4 with 256-word buffers: the same checks on another instance of the parameters."""
    rng = np.random.default_rng(6)
    n = SMALL.array_size
    for c in range(24):
        insns = [random_gemm(rng, SMALL) for _ in range(int(rng.integers(1, 4)))]
        style = ("random", "extreme", "min")[c % 3]
        check_case(bench_small, random_case(rng, SMALL, insns, style), SMALL, tmp_path / f"c{c}")
    insn = make(Opcode.GEMM, clear=0, rows=1, ktiles=3, ntiles=2, inp_base=1, inp_kstride=n, wgt_base=0,
                acc_base=3, acc_nstride=1)  # fmt: skip
    check_case(bench_small, random_case(rng, SMALL, [insn]), SMALL, tmp_path / "rows1")


def test_cycle_ratio_matches_timing_model(bench_tiny: VerilatorBuild, tmp_path: Path) -> None:
    """Start-to-done cycles over a grid of shapes equal docs/timing.md's GEMM duration (ratio 1.0)."""
    rng = np.random.default_rng(7)
    n = TINY.array_size
    fixed = {"clear": 1, "wgt_base": 0, "acc_base": 0}
    insns = [
        make(Opcode.GEMM, rows=rows, ktiles=kt, ntiles=nt, acc_nstride=rows, inp_kstride=rows, **fixed)
        for rows in (1, n // 2, n, 3 * n)
        for kt in (1, 2)
        for nt in (1, 3)
    ]
    ratios = check_case(bench_tiny, random_case(rng, TINY, insns), TINY, tmp_path / "grid")
    assert ratios == [1.0] * len(insns)


# ---- tool acceptance ----------------------------------------------------------------------------------------


def _tool_cmds(top: str) -> list[list[str]]:
    srcs = [str(p) for p in rtl_sources("tiny", MODULES)]
    return [
        ["verilator", "--lint-only", "-Wall", "--top-module", top, *srcs],
        ["iverilog", "-g2012", "-o", "/dev/null", *srcs],
        ["yosys", "-q", "-p", f"read_verilog -sv {' '.join(srcs)}; hierarchy -top {top}; proc; opt"],
    ]


@pytest.mark.parametrize("top", ["tataa_gemm_engine", "tataa_systolic_array", "tataa_pe", "tataa_spad"])
def test_tools_accept(top: str) -> None:
    """Verilator -Wall lint is clean, and Icarus 11 and Yosys read the modules."""
    for cmd in _tool_cmds(top):
        if tool_path(cmd[0]) is None:
            pytest.skip(f"{cmd[0]} is not installed")
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, f"{' '.join(cmd[:4])} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
