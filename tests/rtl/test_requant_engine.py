"""tataa_requant_engine against the simulator: random REQUANTs (both out types) on random ACC contents.

Each case runs one REQUANT on the bench's behavioural scratchpads and on `tataa.sim`'s kernel for the
same instruction and initial state; every bit of the first WORDS words of INP and VEC, and the cycle
count (`tataa.sim.duration`), must agree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from simd_requant_util import hex_rows, hex_words, read_rows, tool_checks

from tataa import config, numerics
from tataa.config import HwConfig
from tataa.errors import SimError
from tataa.hdl.verilator import RTL_DIR, TB_DIR, VerilatorBuild, build, rtl_sources, run, tool_path
from tataa.isa.encoding import encode
from tataa.isa.spec import Instruction, Opcode, OutType, make
from tataa.sim import MachineState, duration
from tataa.sim.execute import compile_insn

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(tool_path("verilator") is None, reason="verilator is not installed"),
]

CFG = config.load("tiny")
WORDS = 256  # words of ACC, INP and VEC a case uses (tb_requant_engine Words)
MAX_CASES = 256  # cases per bench run (tb_requant_engine MaxTests)
TOP = "tb_requant_engine"
MODULES = ("tataa_requant_engine", "tataa_requant", "tataa_clz_norm")


@dataclass(frozen=True)
class Case:
    """One REQUANT and the first WORDS words of ACC, INP and VEC it starts from."""

    insn: Instruction
    acc: np.ndarray  # int32 [WORDS, N]
    inp: np.ndarray  # int8 [WORDS, N]
    vec: np.ndarray  # uint16 [WORDS, N]


@dataclass(frozen=True)
class Bench:
    """tb_requant_engine built for one hardware configuration."""

    cfg: HwConfig
    build: VerilatorBuild


@dataclass(frozen=True)
class BenchResult:
    """Final INP and VEC words, start-to-done cycles of every case, and the whole run's span."""

    inp: np.ndarray  # int8 [cases, WORDS, N] ([1, WORDS, N] for a chain)
    vec: np.ndarray  # uint16 [cases, WORDS, N]
    cycles: list[int]
    span: int  # cycles from the first start to the last done


# ---- stimulus -------------------------------------------------------------------------------------


def _legal(insn: Instruction) -> bool:
    """Whether the simulator accepts the REQUANT (address ranges; WORDS fits every configuration)."""
    try:
        compile_insn(0, insn, CFG, {})
    except SimError:
        return False
    return True


def _last_words(f: dict[str, int]) -> tuple[int, int, int]:
    """Largest accumulator, scale and destination word the REQUANT touches."""
    t, r = f["tiles"] - 1, f["rows"] - 1
    return (
        f["acc_base"] + t * f["acc_tstride"] + r,
        f["scale_base"] + t * f["scale_tstride"],
        f["dst_base"] + t * f["dst_tstride"] + r * f["dst_mstride"],
    )


def random_requant(rng: np.random.Generator, tiles: int | None = None, rows: int | None = None) -> Instruction:
    """A random legal REQUANT inside WORDS words (loop counts drawn unless given)."""
    for _ in range(1000):
        t = tiles if tiles is not None else int(rng.choice([1, 1, 2, 3, 4, 7]))
        r = rows if rows is not None else int(rng.choice([1, 2, 3, 5, 8, 16]))
        f = dict(tiles=t, rows=r, out_type=int(rng.integers(0, 2)), scale_tstride=int(rng.integers(0, 2)))
        for flag in ("pop_prev", "pop_next", "push_prev", "push_next"):
            f[flag] = int(rng.integers(0, 2))
        f["acc_tstride"] = int(rng.choice([r, r, r + int(rng.integers(1, 5)), 0, int(rng.integers(0, 40))]))
        f["dst_mstride"] = int(rng.choice([1, 1, 2, 3, 0]))
        dense = r * f["dst_mstride"] if f["dst_mstride"] else 1
        f["dst_tstride"] = int(rng.choice([dense, dense + int(rng.integers(1, 4)), 0, int(rng.integers(0, 30))]))
        f["acc_base"] = f["scale_base"] = f["dst_base"] = 0
        acc_last, scale_last, dst_last = _last_words(f)
        if max(acc_last, scale_last, dst_last) >= WORDS:
            continue
        f["acc_base"] = int(rng.integers(0, WORDS - acc_last))
        f["scale_base"] = int(rng.integers(0, WORDS - scale_last))
        f["dst_base"] = int(rng.integers(0, WORDS - dst_last))
        insn = make(Opcode.REQUANT, **f)
        if _legal(insn):
            return insn
    raise AssertionError(f"no legal random REQUANT with tiles={tiles} rows={rows}")


def _scale_words(insn: Instruction) -> np.ndarray:
    """ACC words holding the scales of each tile."""
    return insn["scale_base"] + np.arange(insn["tiles"]) * insn["scale_tstride"]


def random_case(rng: np.random.Generator, insn: Instruction, n: int) -> Case:
    """`insn` over random accumulators (log-uniform magnitudes and extremes) and packed scale words."""
    mag = np.floor(2.0 ** rng.uniform(0, 31, (WORDS, n)))
    acc = (mag * rng.choice([-1, 1], (WORDS, n))).astype(np.int64)
    extremes = rng.random((WORDS, n)) < 0.05
    acc[extremes] = rng.choice([-(2**31), 2**31 - 1, 0, 1, -1, 5, -7, 255], int(extremes.sum()))
    # Scale words: m in bits 15:0, s in bits 21:16, junk above (ignored). Shifts around 16..40 bring
    # typical products into the int8 range; the rest saturate or underflow.
    scale_words = _scale_words(insn)
    m = rng.integers(0, 1 << 16, (len(scale_words), n))
    m[rng.random(m.shape) < 0.05] = 0
    s = np.where(rng.random(m.shape) < 0.7, rng.integers(16, 41, m.shape), rng.integers(0, 64, m.shape))
    junk = rng.integers(0, 1 << 10, m.shape)
    acc[scale_words] = m | (s << 16) | (junk << 22)
    inp = rng.integers(-128, 128, (WORDS, n), dtype=np.int8)
    vec = rng.integers(0, 1 << 16, (WORDS, n), dtype=np.uint16)
    return Case(insn, numerics.wrap_int32(acc).astype(np.int32), inp, vec)


# ---- reference and bench --------------------------------------------------------------------------


def reference(case: Case, cfg: HwConfig) -> tuple[np.ndarray, np.ndarray]:
    """Final first WORDS words of INP and VEC after the simulator executes the case's REQUANT."""
    st = MachineState.reset(cfg, {})
    st.acc[:WORDS], st.inp[:WORDS], st.vec[:WORDS] = case.acc, case.inp, case.vec
    kernel = compile_insn(0, case.insn, cfg, {})
    if kernel is not None:
        kernel(st)
    assert not st.inp[WORDS:].any() and not st.vec[WORDS:].any()
    return st.inp[:WORDS].copy(), st.vec[:WORDS].copy()


def reference_chain(cases: list[Case], cfg: HwConfig) -> tuple[np.ndarray, np.ndarray]:
    """Final first WORDS words of INP and VEC after the simulator runs every case's REQUANT in order on the
    first case's initial state."""
    st = MachineState.reset(cfg, {})
    st.acc[:WORDS], st.inp[:WORDS], st.vec[:WORDS] = cases[0].acc, cases[0].inp, cases[0].vec
    for case in cases:
        kernel = compile_insn(0, case.insn, cfg, {})
        if kernel is not None:
            kernel(st)
    return st.inp[:WORDS].copy(), st.vec[:WORDS].copy()


def run_bench(bench: Bench, cases: list[Case], workdir: Path, chain: bool = False) -> BenchResult:
    """Run the cases on tb_requant_engine in `workdir`: each on its own initial state, or as one
    back-to-back chain on the first case's state (`chain`; the result then holds one final state)."""
    n = bench.cfg.array_size
    assert 0 < len(cases) <= MAX_CASES
    init = cases[:1] if chain else cases
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "insn.hex").write_text(hex_words([encode(c.insn) for c in cases], 128))
    (workdir / "acc_init.hex").write_text(hex_rows(np.concatenate([c.acc for c in init]), 32))
    (workdir / "inp_init.hex").write_text(hex_rows(np.concatenate([c.inp for c in init]), 8))
    (workdir / "vec_init.hex").write_text(hex_rows(np.concatenate([c.vec for c in init]), 16))
    run(bench.build, {"ntests": len(cases), "chain": int(chain)}, cwd=workdir, timeout=300)
    inp = read_rows(workdir / "inp_out.hex", n, 8).view(np.int8).reshape(len(init), WORDS, n)
    vec = read_rows(workdir / "vec_out.hex", n, 16).reshape(len(init), WORDS, n)
    *lines, span = (workdir / "cycles.txt").read_text().splitlines()
    assert span.startswith("span ")
    return BenchResult(inp, vec, [int(x) for x in lines], int(span.split()[1]))


def check(cases: list[Case], got: BenchResult, cfg: HwConfig) -> list[float]:
    """Compare every case with the simulator (bits and cycles); return the cycle ratios RTL / model."""
    assert len(got.cycles) == len(cases)
    ratios = []
    for k, case in enumerate(cases):
        exp_inp, exp_vec = reference(case, cfg)
        what = f"case {k}: {case.insn.as_dict()}"
        for buf, exp, act in (("INP", exp_inp, got.inp[k]), ("VEC", exp_vec, got.vec[k])):
            bad = np.argwhere(exp != act)
            if bad.size:
                w, j = (int(x) for x in bad[0])
                raise AssertionError(
                    f"{what}: {len(bad)} {buf} lanes differ; first word {w} lane {j}: RTL {int(act[w, j]):#x}, "
                    f"simulator {int(exp[w, j]):#x}"
                )
        model = duration(case.insn, cfg)
        assert got.cycles[k] == model, f"{what}: RTL took {got.cycles[k]} cycles, docs/timing.md says {model}"
        ratios.append(got.cycles[k] / model)
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
    """Hand-picked shapes: one word, long tiles, every tile on one scale word, overlapping destinations, empty."""
    i8, bf = int(OutType.INT8), int(OutType.BF16)
    out = [
        random_requant(rng, 1, 1),
        random_requant(rng, 1, 60),
        random_requant(rng, 30, 1),
        # all tiles share scale word 3 and write the same 4 INP words: the last tile wins
        make(
            Opcode.REQUANT,
            out_type=i8,
            tiles=5,
            rows=4,
            acc_base=10,
            acc_tstride=4,
            scale_base=3,
            dst_base=100,
            dst_mstride=1,
        ),
        # rows write one VEC word (dst_mstride 0): the last row of each tile wins; per-tile scales
        make(
            Opcode.REQUANT,
            out_type=bf,
            tiles=3,
            rows=5,
            acc_base=40,
            acc_tstride=7,
            scale_base=0,
            scale_tstride=1,
            dst_base=200,
            dst_tstride=2,
            dst_mstride=0,
        ),
        make(Opcode.REQUANT, out_type=bf, tiles=0, rows=5, acc_base=1, dst_base=2),
        make(Opcode.REQUANT, out_type=i8, tiles=3, rows=0, acc_base=1, dst_base=2),
    ]
    assert all(_legal(i) and max(_last_words(i.as_dict())) < WORDS for i in out)
    return out


def _features(insn: Instruction) -> set[str]:
    """Shape features of a REQUANT that the random tests must cover."""
    f = insn.as_dict()
    dst = f["dst_base"] + np.arange(f["tiles"])[:, None] * f["dst_tstride"] + np.arange(f["rows"]) * f["dst_mstride"]
    out = {OutType(f["out_type"]).name, f"scale_tstride={f['scale_tstride']}"}
    if f["tiles"] == 1:
        out.add("tiles=1")
    if f["rows"] == 1:
        out.add("rows=1")
    if len(np.unique(dst)) < dst.size:
        out.add("rewrites a word")  # the later write wins
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_requants_match_simulator(bench: Bench, tmp_path: Path, seed: int) -> None:
    """Random REQUANTs of both out types (plus the edge shapes), bit-exact and cycle-exact."""
    rng = np.random.default_rng(20240602 + seed)
    insns = _edge_insns(rng) if seed == 0 else []
    insns += [random_requant(rng) for _ in range(MAX_CASES - len(insns))]
    cases = [random_case(rng, i, bench.cfg.array_size) for i in insns]
    t0 = time.perf_counter()
    got = run_bench(bench, cases, tmp_path)
    elapsed = time.perf_counter() - t0
    ratios = check(cases, got, bench.cfg)
    wanted = {"INT8", "BF16", "scale_tstride=0", "scale_tstride=1", "tiles=1", "rows=1", "rewrites a word"}
    covered = set().union(*(_features(i) for i in insns))
    assert covered >= wanted, f"shape features not covered: {sorted(wanted - covered)}"
    print(f"{len(cases)} REQUANTs, bench {elapsed:.2f} s, cycle ratio RTL/model min {min(ratios)} max {max(ratios)}")


def test_back_to_back_chain(bench: Bench, tmp_path: Path) -> None:
    """REQUANTs started in the cycle after the previous done, overwriting each other's results."""
    rng = np.random.default_rng(98)
    insns = [random_requant(rng) for _ in range(150)]
    first = random_case(rng, insns[0], bench.cfg.array_size)
    acc = first.acc.copy()
    for insn in insns[1:]:  # every REQUANT's scale words hold scales
        acc[_scale_words(insn)] = random_case(rng, insn, bench.cfg.array_size).acc[_scale_words(insn)]
    cases = [Case(i, acc, first.inp, first.vec) for i in insns]
    got = run_bench(bench, cases, tmp_path, chain=True)
    exp_inp, exp_vec = reference_chain(cases, bench.cfg)
    np.testing.assert_array_equal(got.inp[0], exp_inp)
    np.testing.assert_array_equal(got.vec[0], exp_vec)
    assert got.cycles == [duration(i, bench.cfg) for i in insns]
    assert got.span == sum(got.cycles)  # no idle cycle between instructions


def test_int8_results_cover_rounding_and_saturation(bench: Bench, tmp_path: Path) -> None:
    """Scales chosen so that p / 2^s lands on ties, near ±127.5 and beyond: RNE and saturation in the RTL."""
    rng = np.random.default_rng(11)
    insn = make(
        Opcode.REQUANT,
        out_type=int(OutType.INT8),
        tiles=1,
        rows=32,
        acc_base=0,
        scale_base=40,
        dst_base=0,
        dst_mstride=1,
    )
    cases = []
    for s in (1, 2, 7):
        base = random_case(rng, insn, bench.cfg.array_size)
        acc = base.acc.copy()
        # p = acc * m with m = 1: p / 2^s = k + 1/2 (ties) around the saturation bounds and zero
        k = rng.choice([-130, -129, -128, -127, -2, -1, 0, 1, 2, 126, 127, 128], (32, bench.cfg.array_size))
        acc[:32] = (2 * k + 1) * (1 << (s - 1))
        acc[40] = 1 | (s << 16)
        cases.append(Case(insn, acc, base.inp, base.vec))
    check(cases, run_bench(bench, cases, tmp_path), bench.cfg)


def test_tools_accept_engine(tmp_path: Path) -> None:
    """Verilator -Wall lint, Yosys and Icarus accept the engine and the arithmetic it instantiates."""
    sources = rtl_sources(CFG.name, MODULES)
    problems = tool_checks("tataa_requant_engine", sources, [RTL_DIR / "tataa_requant_engine.sv"], tmp_path)
    assert not problems, "\n\n".join(problems)


@pytest.mark.slow
def test_u280_configuration(tmp_path: Path) -> None:
    """The engine built for u280 (N = 32, P = 6, wider addresses): bit-exact and cycle-exact."""
    bench = build_bench("u280")
    rng = np.random.default_rng(280)
    cases = [random_case(rng, random_requant(rng), bench.cfg.array_size) for _ in range(64)]
    check(cases, run_bench(bench, cases, tmp_path), bench.cfg)
