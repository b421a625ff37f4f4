"""tataa_simd_engine against the simulator: random VOPs of every funct on random VEC/INP contents.

Each case runs one VOP on the bench's behavioural scratchpads and on `tataa.sim`'s kernel for the same
instruction and initial state; every bit of the first WORDS words of VEC and INP must agree, and the
cycle count must equal `tataa.sim.duration` (config tiny; for u280, whose model assumes 4 words per
cycle, the engine's one-word-per-cycle count).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from simd_requant_util import hex_rows, hex_words, read_rows, tool_checks

from tataa import config, numerics
from tataa.config import HwConfig
from tataa.errors import SimError
from tataa.hdl.verilator import RTL_DIR, TB_DIR, VerilatorBuild, build, rtl_sources, run, tool_path
from tataa.isa.encoding import encode
from tataa.isa.spec import NUM_CONST_REGS, VFUNCT_DEFS, Instruction, Opcode, VFunct, VKind, make
from tataa.sim import MachineState, duration
from tataa.sim.execute import compile_insn

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(tool_path("verilator") is None, reason="verilator is not installed"),
]

CFG = config.load("tiny")
WORDS = 256  # words of VEC and INP a case uses and the bench dumps (tb_simd_engine Words)
MAX_CASES = 256  # cases per bench run (tb_simd_engine MaxTests)
TOP = "tb_simd_engine"
MODULES = (
    "tataa_simd_engine",
    "tataa_simd_lane",
    "tataa_bf16_fma_pre",
    "tataa_bf16_fma_post",
    "tataa_fp32_add",
    "tataa_lane_reduce",
    "tataa_bf16_minmax",
    "tataa_bf16_sqr_fp32",
    "tataa_fp32_to_bf16",
    "tataa_clz_norm",
)


@dataclass(frozen=True)
class Case:
    """One VOP and the machine state it starts from (first WORDS words of VEC and INP, constants)."""

    insn: Instruction
    vec: np.ndarray  # uint16 [WORDS, N]
    inp: np.ndarray  # int8 [WORDS, N]
    const: np.ndarray  # uint16 [NUM_CONST_REGS]


@dataclass(frozen=True)
class Bench:
    """tb_simd_engine built for one hardware configuration."""

    cfg: HwConfig
    build: VerilatorBuild


@dataclass(frozen=True)
class BenchResult:
    """Final VEC and INP words, start-to-done cycles of every case, and the whole run's span."""

    vec: np.ndarray  # uint16 [cases, WORDS, N] ([1, WORDS, N] for a chain)
    inp: np.ndarray  # int8 [cases, WORDS, N]
    cycles: list[int]
    span: int  # cycles from the first start to the last done


# ---- stimulus -------------------------------------------------------------------------------------


def random_bf16(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """bf16 patterns: mostly ordinary values of varied magnitude, some raw patterns and special values."""
    scale = rng.choice([1.0, 4.0, 100.0, 1e-3])
    v = numerics.f32_to_bf16(rng.normal(0, scale, shape).astype(np.float32))
    raw = rng.random(shape) < 0.15
    v[raw] = rng.integers(0, 1 << 16, int(raw.sum()), dtype=np.uint16)
    special = rng.random(shape) < 0.04
    v[special] = rng.choice(
        np.array([0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x0001, 0x807F], np.uint16), int(special.sum())
    )
    return v


def _span(outer: int, inner: int, ost: int, ist: int) -> int:
    return (outer - 1) * ost + (inner - 1) * ist + 1


def _operand(rng: np.random.Generator, outer: int, inner: int, write: bool) -> tuple[int, int, int]:
    """(base, ostride, istride) of an operand grid inside WORDS words; write grids are usually distinct."""
    ist = 1 if write and inner > 1 and rng.random() < 0.9 else int(rng.integers(0, 2))
    dense = inner * ist if inner * ist else 1
    choices = [dense, dense, dense + int(rng.integers(1, 4)), int(rng.integers(0, 6))]
    if not write:
        choices.append(0)  # the same words in every outer step
    ost = int(rng.choice(choices))
    span = _span(max(outer, 1), max(inner, 1), ost, ist)
    if span > WORDS:
        ost, ist = 1, 0
        span = _span(max(outer, 1), max(inner, 1), ost, ist)
    return int(rng.integers(0, WORDS - span + 1)), ost, ist


def _fits(f: dict[str, int], kind: VKind) -> bool:
    """Whether every word the VOP touches lies below WORDS."""
    outer, inner = f["outer"], f["inner"]
    if outer == 0 or inner == 0:
        return True
    names = ["a"]
    if kind in (VKind.BINARY, VKind.TERNARY_CONST, VKind.TERNARY_DST, VKind.TO_INT8) and not f["b_const"]:
        names.append("b")
    last = [f[f"{x}_base"] + (outer - 1) * f[f"{x}_ostride"] + (inner - 1) * f[f"{x}_istride"] for x in names]
    if kind is VKind.REDUCE:
        last.append(f["dst_base"] + (outer - 1) * f["dst_ostride"])
    else:
        last.append(f["dst_base"] + (outer - 1) * f["dst_ostride"] + (inner - 1) * f["dst_istride"])
    return max(last) < WORDS


def _legal(insn: Instruction) -> bool:
    """Whether the simulator accepts the VOP (ranges and the hazard rule; WORDS fits every configuration)."""
    try:
        compile_insn(0, insn, CFG, {})
    except SimError:
        return False
    return True


def random_vop(
    rng: np.random.Generator,
    funct: VFunct,
    outer: int | None = None,
    inner: int | None = None,
    a_grid: tuple[int, int, int] | None = None,
) -> Instruction:
    """A random legal VOP of `funct` inside WORDS words (loop counts and the a grid drawn unless given)."""
    kind = VFUNCT_DEFS[funct].kind
    for _ in range(1000):
        o = outer if outer is not None else int(rng.choice([1, 1, 2, 3, 4, 5, 8]))
        i = (
            inner
            if inner is not None
            else int(rng.choice([1, 1, 2, 3, 4, 7, 16] if kind is VKind.REDUCE else [1, 1, 2, 3, 4, 6]))
        )
        f: dict[str, int] = dict(funct=int(funct), outer=o, inner=i)
        for flag in ("pop_prev", "pop_next", "push_prev", "push_next"):
            f[flag] = int(rng.integers(0, 2))  # dependency flags are the controller's business
        for x in ("a", "b", "dst"):
            f[f"{x}_base"], f[f"{x}_ostride"], f[f"{x}_istride"] = _operand(rng, o, i, x == "dst")
        if a_grid is not None:
            f["a_base"], f["a_ostride"], f["a_istride"] = a_grid
        elif kind not in (VKind.REDUCE, VKind.TO_INT8) and rng.random() < 0.25:  # in place: a is dst
            f["a_base"], f["a_ostride"], f["a_istride"] = f["dst_base"], f["dst_ostride"], f["dst_istride"]
        f["b_const"] = int(rng.random() < 0.3)
        if f["b_const"]:
            f["b_base"] = int(rng.integers(0, NUM_CONST_REGS))
        f["c_idx"] = int(rng.integers(0, NUM_CONST_REGS))
        insn = make(Opcode.VOP, **f)
        if _fits(f, kind) and _legal(insn):
            return insn
    raise AssertionError(f"no legal random VOP of {funct.name} with outer={outer} inner={inner} a={a_grid}")


def written_vec(insn: Instruction) -> tuple[int, int, tuple[int, int, int]] | None:
    """(outer, inner, (base, ostride, istride)) of the VEC words a VOP writes, in its loop order (None: INP)."""
    f, kind = insn.as_dict(), VFUNCT_DEFS[VFunct(insn["funct"])].kind
    if kind is VKind.TO_INT8:
        return None
    if kind is VKind.REDUCE:
        return f["outer"], 1, (f["dst_base"], f["dst_ostride"], 0)
    return f["outer"], f["inner"], (f["dst_base"], f["dst_ostride"], f["dst_istride"])


def chained_vops(rng: np.random.Generator, count: int) -> list[Instruction]:
    """Random VOPs where most read, as operand a, exactly the words the previous one wrote."""
    insns = [random_vop(rng, VFunct.ADD)]
    while len(insns) < count:
        funct = VFunct(int(rng.integers(0, len(VFunct))))
        prev = written_vec(insns[-1])
        if prev is not None and rng.random() < 0.7:
            outer, inner, grid = prev
            try:
                insns.append(random_vop(rng, funct, outer, inner, grid))
                continue
            except AssertionError:
                pass  # e.g. a reduction whose destination would overlap the words it reads
        insns.append(random_vop(rng, funct))
    return insns


def random_case(rng: np.random.Generator, insn: Instruction, n: int) -> Case:
    """`insn` on random VEC/INP contents (n lanes) and constant registers."""
    const = random_bf16(rng, (NUM_CONST_REGS,))
    if rng.random() < 0.5:
        const[:4] = numerics.f32_to_bf16(np.array([1.0, -0.5, 3.0, 0.25], np.float32))
    inp = rng.integers(-128, 128, (WORDS, n), dtype=np.int8)
    return Case(insn, random_bf16(rng, (WORDS, n)), inp, const)


# ---- reference and bench --------------------------------------------------------------------------


def reference(case: Case, cfg: HwConfig) -> tuple[np.ndarray, np.ndarray]:
    """Final first WORDS words of VEC and INP after the simulator executes the case's VOP."""
    st = MachineState.reset(cfg, {})
    st.vec[:WORDS], st.inp[:WORDS], st.const[:] = case.vec, case.inp, case.const
    kernel = compile_insn(0, case.insn, cfg, {})
    if kernel is not None:
        kernel(st)
    assert not st.vec[WORDS:].any() and not st.inp[WORDS:].any()
    return st.vec[:WORDS].copy(), st.inp[:WORDS].copy()


def reference_chain(cases: list[Case], cfg: HwConfig) -> tuple[np.ndarray, np.ndarray]:
    """Final first WORDS words of VEC and INP after the simulator runs every case's VOP in order on the
    first case's initial state (each with its own constant registers, as SETCs between them would)."""
    st = MachineState.reset(cfg, {})
    st.vec[:WORDS], st.inp[:WORDS] = cases[0].vec, cases[0].inp
    for case in cases:
        st.const[:] = case.const
        kernel = compile_insn(0, case.insn, cfg, {})
        if kernel is not None:
            kernel(st)
    return st.vec[:WORDS].copy(), st.inp[:WORDS].copy()


def run_bench(bench: Bench, cases: list[Case], workdir: Path, chain: bool = False) -> BenchResult:
    """Run the cases on tb_simd_engine in `workdir`: each on its own initial state, or as one back-to-back
    chain on the first case's state (`chain`; the result then holds one final state)."""
    n = bench.cfg.array_size
    assert 0 < len(cases) <= MAX_CASES
    init = cases[:1] if chain else cases
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "insn.hex").write_text(hex_words([encode(c.insn) for c in cases], 128))
    consts = [sum(int(v) << (16 * r) for r, v in enumerate(c.const)) for c in cases]
    (workdir / "const.hex").write_text(hex_words(consts, 16 * NUM_CONST_REGS))
    (workdir / "vec_init.hex").write_text(hex_rows(np.concatenate([c.vec for c in init]), 16))
    (workdir / "inp_init.hex").write_text(hex_rows(np.concatenate([c.inp for c in init]), 8))
    run(bench.build, {"ntests": len(cases), "chain": int(chain)}, cwd=workdir, timeout=300)
    vec = read_rows(workdir / "vec_out.hex", n, 16).reshape(len(init), WORDS, n)
    inp = read_rows(workdir / "inp_out.hex", n, 8).view(np.int8).reshape(len(init), WORDS, n)
    *lines, span = (workdir / "cycles.txt").read_text().splitlines()
    assert span.startswith("span ")
    return BenchResult(vec, inp, [int(x) for x in lines], int(span.split()[1]))


def engine_cycles(insn: Instruction, cfg: HwConfig) -> int:
    """Start-to-done cycles of the engine, one word per cycle: P + outer*inner (+ log2 N for reductions)."""
    reduce = VFUNCT_DEFS[VFunct(insn["funct"])].kind is VKind.REDUCE
    return cfg.simd_pipeline_depth + insn["outer"] * insn["inner"] + (cfg.array_size.bit_length() - 1) * reduce


def check(cases: list[Case], got: BenchResult, cfg: HwConfig) -> list[float]:
    """Compare every case with the simulator's bits and the engine's cycle formula; return RTL / model cycles.

    The formula equals docs/timing.md's duration when simd_words_per_cycle is 1 (the tests check that).
    """
    assert len(got.cycles) == len(cases)
    ratios = []
    for k, case in enumerate(cases):
        exp_vec, exp_inp = reference(case, cfg)
        what = f"case {k}: {VFunct(case.insn['funct']).name} {case.insn.as_dict()}"
        for buf, exp, act in (("VEC", exp_vec, got.vec[k]), ("INP", exp_inp, got.inp[k])):
            bad = np.argwhere(exp != act)
            if bad.size:
                w, j = (int(x) for x in bad[0])
                raise AssertionError(
                    f"{what}: {len(bad)} {buf} lanes differ; first word {w} lane {j}: RTL {int(act[w, j]):#x}, "
                    f"simulator {int(exp[w, j]):#x} (a/b/dst initial {case.vec[w].tolist()})"
                )
        expect = engine_cycles(case.insn, cfg)
        assert got.cycles[k] == expect, f"{what}: RTL took {got.cycles[k]} cycles, expected {expect}"
        ratios.append(got.cycles[k] / duration(case.insn, cfg))
    return ratios


def build_bench(name: str) -> Bench:
    """The bench for hardware configuration `name` (cached across runs by source hash)."""
    cfg = config.load(name)
    return Bench(cfg, build(TOP, [*rtl_sources(name, MODULES), TB_DIR / f"{TOP}.sv"]))


@pytest.fixture(scope="module")
def bench() -> Bench:
    """The bench for the tiny configuration, built once per module."""
    return build_bench("tiny")


# ---- tests ----------------------------------------------------------------------------------------


def _edge_insns(rng: np.random.Generator) -> list[Instruction]:
    """Hand-picked shapes: single words, long reductions, broadcasts, in place, empty loops."""
    v = VFunct
    out = [
        random_vop(rng, v.ADD, 1, 1),
        random_vop(rng, v.REDSUM, 1, 1),
        random_vop(rng, v.REDMAX, 1, 1),
        random_vop(rng, v.REDSUMSQ, 1, 40),
        random_vop(rng, v.REDSUM, 6, 1),
        random_vop(rng, v.REDSUM, 3, 17),
        random_vop(rng, v.REDMAX, 9, 5),
        random_vop(rng, v.F2I8, 1, 30),
        random_vop(rng, v.MAC, 20, 1),
        # a broadcast from word 5 in every iteration, b constant register 3, FMA with const 6
        make(
            Opcode.VOP,
            funct=v.FMA,
            outer=4,
            inner=5,
            a_base=5,
            b_const=1,
            b_base=3,
            c_idx=6,
            dst_base=100,
            dst_ostride=5,
            dst_istride=1,
        ),
        # row-broadcast b (b_ostride 0 over a 6-word row), in place a == dst
        make(
            Opcode.VOP,
            funct=v.MUL,
            outer=5,
            inner=6,
            a_base=20,
            a_ostride=6,
            a_istride=1,
            b_base=200,
            b_istride=1,
            dst_base=20,
            dst_ostride=6,
            dst_istride=1,
        ),
        # column broadcast (b_istride 0) with SEL on strided dst
        make(
            Opcode.VOP,
            funct=v.SEL,
            outer=3,
            inner=4,
            a_base=0,
            a_ostride=4,
            a_istride=1,
            b_base=50,
            b_ostride=1,
            dst_base=60,
            dst_ostride=9,
            dst_istride=1,
        ),
        make(Opcode.VOP, funct=v.ADD, outer=0, inner=5, a_base=3, dst_base=7, dst_istride=1),
        make(Opcode.VOP, funct=v.REDSUM, outer=4, inner=0, a_base=3, dst_base=7, dst_ostride=1),
        make(Opcode.VOP, funct=v.REDMAX, outer=0, inner=0),
    ]
    assert all(_legal(i) and _fits(i.as_dict(), VFUNCT_DEFS[VFunct(i["funct"])].kind) for i in out)
    return out


_FEATURE_NAMES = {
    "outer=1",
    "inner=1",
    "reduce outer>1 inner>1",
    "b_const",
    "a broadcast over i",
    "a broadcast over o",
    "b broadcast over i",
    "b broadcast over o",
    "in place",
}


def _features(insn: Instruction) -> set[str]:
    """Shape features of a VOP that the random tests must cover."""
    f, kind = insn.as_dict(), VFUNCT_DEFS[VFunct(insn["funct"])].kind
    uses_b = kind in (VKind.BINARY, VKind.TERNARY_CONST, VKind.TERNARY_DST, VKind.TO_INT8)
    out = {kind.name}
    checks = {
        "outer=1": f["outer"] == 1,
        "inner=1": f["inner"] == 1,
        "reduce outer>1 inner>1": kind is VKind.REDUCE and f["outer"] > 1 and f["inner"] > 1,
        "b_const": uses_b and bool(f["b_const"]),
        "a broadcast over i": f["inner"] > 1 and f["a_istride"] == 0,
        "a broadcast over o": f["outer"] > 1 and f["a_ostride"] == 0,
        "b broadcast over i": uses_b and not f["b_const"] and f["inner"] > 1 and f["b_istride"] == 0,
        "b broadcast over o": uses_b and not f["b_const"] and f["outer"] > 1 and f["b_ostride"] == 0,
        "in place": kind not in (VKind.REDUCE, VKind.TO_INT8)
        and all(f[f"a_{x}"] == f[f"dst_{x}"] for x in ("base", "ostride", "istride")),
    }
    assert checks.keys() == _FEATURE_NAMES
    return out | {name for name, hit in checks.items() if hit}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vops_match_simulator(bench: Bench, tmp_path: Path, seed: int) -> None:
    """Every funct in random shapes (plus the hand-picked edge shapes), bit-exact and cycle-exact."""
    rng = np.random.default_rng(20240601 + seed)
    insns = _edge_insns(rng) if seed == 0 else []
    per_funct = (MAX_CASES - len(insns)) // len(VFunct)
    insns += [random_vop(rng, f) for _ in range(per_funct) for f in VFunct]
    cases = [random_case(rng, i, bench.cfg.array_size) for i in insns]
    t0 = time.perf_counter()
    got = run_bench(bench, cases, tmp_path)
    elapsed = time.perf_counter() - t0
    ratios = check(cases, got, bench.cfg)
    assert ratios == [1.0] * len(cases)  # docs/timing.md exactly
    wanted = {k.name for k in VKind} | _FEATURE_NAMES
    covered = set().union(*(_features(i) for i in insns))
    assert covered >= wanted, f"shape features not covered: {sorted(wanted - covered)}"
    print(f"{len(cases)} VOPs, bench {elapsed:.2f} s, cycle ratio RTL/model min {min(ratios)} max {max(ratios)}")


def test_back_to_back_chain(bench: Bench, tmp_path: Path) -> None:
    """VOPs started in the cycle after the previous done, most reading the words the previous one just wrote."""
    rng = np.random.default_rng(99)
    insns = chained_vops(rng, 200)
    cases = [random_case(rng, i, bench.cfg.array_size) for i in insns]
    got = run_bench(bench, cases, tmp_path, chain=True)
    exp_vec, exp_inp = reference_chain(cases, bench.cfg)
    np.testing.assert_array_equal(got.vec[0], exp_vec)
    np.testing.assert_array_equal(got.inp[0], exp_inp)
    assert got.cycles == [duration(i, bench.cfg) for i in insns]
    assert got.span == sum(got.cycles)  # no idle cycle between instructions
    reads_previous = sum(
        (w := written_vec(p)) is not None
        and (q["outer"], q["inner"]) == w[:2]
        and (q["a_base"], q["a_ostride"], q["a_istride"]) == w[2]
        for p, q in pairwise(insns)
    )
    assert reads_previous > len(insns) // 3


def test_nan_and_signed_zero_reductions(bench: Bench, tmp_path: Path) -> None:
    """Reductions over words full of specials: NaN anywhere, all -0 (sum starts at +0), inf - inf."""
    rng = np.random.default_rng(7)
    cases = []
    for funct in (VFunct.REDMAX, VFunct.REDSUM, VFunct.REDSUMSQ):
        for fill in (0x8000, 0x7FC0, 0xFF80, 0x0001):
            insn = make(
                Opcode.VOP,
                funct=funct,
                outer=2,
                inner=3,
                a_base=0,
                a_ostride=3,
                a_istride=1,
                dst_base=10,
                dst_ostride=1,
            )
            case = random_case(rng, insn, bench.cfg.array_size)
            vec = case.vec.copy()
            vec[:6] = 0x8000
            vec[int(rng.integers(0, 6)), int(rng.integers(0, bench.cfg.array_size))] = fill
            if fill == 0xFF80:
                vec[4, 2] = 0x7F80  # +inf and -inf in step 1
            cases.append(Case(insn, vec, case.inp, case.const))
    check(cases, run_bench(bench, cases, tmp_path), bench.cfg)


def test_tools_accept_engine(tmp_path: Path) -> None:
    """Verilator -Wall lint, Yosys and Icarus accept the engine and the arithmetic it instantiates."""
    sources = rtl_sources(CFG.name, MODULES)
    problems = tool_checks("tataa_simd_engine", sources, [RTL_DIR / "tataa_simd_engine.sv"], tmp_path)
    assert not problems, "\n\n".join(problems)


@pytest.mark.slow
def test_u280_configuration(tmp_path: Path) -> None:
    """The engine built for u280 (N = 32, P = 6, wider addresses) is bit-exact too.

    Its cycles follow the one-word-per-cycle formula; docs/timing.md assumes simd_words_per_cycle = 4 there,
    so long VOPs take up to 4x the modelled cycles (see the report printed with -s).
    """
    bench = build_bench("u280")
    assert bench.cfg.simd_words_per_cycle > 1 and bench.cfg.simd_pipeline_depth != CFG.simd_pipeline_depth
    rng = np.random.default_rng(280)
    insns = [random_vop(rng, f) for _ in range(3) for f in VFunct]
    cases = [random_case(rng, i, bench.cfg.array_size) for i in insns]
    ratios = check(cases, run_bench(bench, cases, tmp_path), bench.cfg)
    print(f"u280: {len(cases)} VOPs bit-exact, cycle ratio RTL/model min {min(ratios):.2f} max {max(ratios):.2f}")
