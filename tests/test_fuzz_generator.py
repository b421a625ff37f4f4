"""The random program generator (tataa.fuzz) and the mismatch report (tataa.cosim), without Verilator.

Generated programs must be legal for the simulator, cover the ISA, be race-free; the race checker must find
planted races and its verdict must mean something: a race-free program gives the same result under every
execution order that respects program order and tokens. Footprints are checked against what the simulator's
kernels actually read and write.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tataa import config, numerics
from tataa.cosim import CosimError, CosimResult, compare, last_writer
from tataa.errors import DeadlockError
from tataa.fuzz import (
    BF16_SPECIALS,
    FuzzCase,
    describe_key,
    features,
    footprint,
    happens_before,
    races,
    random_image,
    shrink,
    stream_case,
)
from tataa.isa.asm import format_instruction
from tataa.isa.spec import Buffer, Instruction, Mode, Opcode, OutType, Unit, VFunct, make
from tataa.program import Program, Region
from tataa.sim import SimResult, Simulator
from tataa.sim.execute import compile_insn
from tataa.sim.state import MachineState
from tataa.sim.timing import POP_FIFO, PUSH_FIFO

TINY = config.load("tiny")
N = TINY.array_size
STREAMS = 60


@pytest.fixture(scope="module")
def cases() -> list[FuzzCase]:
    return [stream_case(7, k, TINY) for k in range(STREAMS)]


def _program(insns: Sequence[Instruction], regions: Sequence[Region] = ()) -> Program:
    return Program(TINY.name, TINY.hash, (*insns, make(Opcode.FINISH)), tuple(regions), ())


# ---- legality, coverage, determinism --------------------------------------------------------------------------


def test_every_stream_is_legal_runs_and_is_race_free(cases: list[FuzzCase]) -> None:
    for k, case in enumerate(cases):
        sim = Simulator(case.program, TINY)  # raises SimError / DeadlockError on an illegal program
        res = sim.run(case.images)
        assert res.cycles > 0
        assert races(case.program, TINY) == [], f"stream {k}"
        assert case.program.instructions[-1].opcode is Opcode.FINISH


def test_streams_cover_the_isa(cases: list[FuzzCase]) -> None:
    seen: set[str] = set()
    for case in cases:
        seen |= features(case.program, TINY)
    wanted = {f"op:{op.name}" for op in Opcode} | {f"vfunct:{v.name}" for v in VFunct}
    wanted |= {f"load:{b.name}" for b in Buffer} | {f"store:{b.name}" for b in Buffer}
    wanted |= {f"requant:{t.name}" for t in OutType} | {f"nop:{u.name}" for u in Unit}
    wanted |= {f"mode:{m.name}" for m in Mode} | {f"push:{f}" for f in ("L2C", "C2L", "C2S", "S2C")}
    wanted |= {f"pop:{f}" for f in ("L2C", "C2L", "C2S", "S2C")}
    wanted |= {"b_const", "gemm:clear", "gemm:accumulate", "gemm:ktiles0", "dma:unaligned", "dma:partial_word",
               "store:overlapping_rows"}  # fmt: skip
    assert wanted <= seen, f"never exercised: {sorted(wanted - seen)}"


def test_streams_are_reproducible_and_differ() -> None:
    a, b = stream_case(3, 5, TINY), stream_case(3, 5, TINY)
    assert a.program == b.program
    assert stream_case(3, 6, TINY).program != a.program
    assert stream_case(4, 5, TINY).program != a.program


def test_mode_switches_precede_gemm_and_vop(cases: list[FuzzCase]) -> None:
    for case in cases:
        mode = Mode.SYSTOLIC
        for insn in case.program.instructions:
            if insn.opcode is Opcode.MODE:
                mode = Mode(insn["mode"])
            assert insn.opcode is not Opcode.GEMM or mode is Mode.SYSTOLIC
            assert insn.opcode is not Opcode.VOP or mode is Mode.SIMD


def test_images_hold_bf16_specials() -> None:
    img = random_image(np.random.default_rng(1), 1 << 14)
    half = set(img.view("<u2").tolist())
    for name, pattern in (("+0", 0), ("-0", 0x8000), ("+inf", 0x7F80), ("-inf", 0xFF80), ("qNaN", 0x7FC0),
                          ("sNaN", 0x7F81), ("subnormal", 0x0001), ("-subnormal", 0x807F)):  # fmt: skip
        assert pattern in half, name
    assert set(BF16_SPECIALS) <= half


def test_every_pop_has_an_earlier_push(cases: list[FuzzCase]) -> None:
    for case in cases:
        pushed, popped = [0] * 4, [0] * 4
        for insn in case.program.instructions:
            u = insn.unit
            for fl in ("pop_prev", "pop_next"):
                if insn[fl]:
                    fi = POP_FIFO[u, fl]
                    popped[fi] += 1
                    assert popped[fi] <= pushed[fi]
            for fl in ("push_prev", "push_next"):
                if insn[fl]:
                    pushed[PUSH_FIFO[u, fl]] += 1


# ---- footprints against the simulator's kernels ------------------------------------------------------------------


def _random_state(rng: np.random.Generator, program: Program) -> MachineState:
    images = {r.index: rng.integers(0, 256, r.size, dtype=np.uint8) for r in program.regions}
    st = MachineState.reset(TINY, images)
    for buf in Buffer:
        arr = st.buffer(buf)
        arr[...] = rng.integers(np.iinfo(arr.dtype).min, np.iinfo(arr.dtype).max, arr.shape, dtype=arr.dtype)
    st.const[...] = rng.integers(0, 1 << 16, st.const.shape, dtype=np.uint16)
    return st


def _copy(st: MachineState) -> MachineState:
    return MachineState(st.inp.copy(), st.wgt.copy(), st.acc.copy(), st.vec.copy(), st.const.copy(), st.mode,
                        {k: v.copy() for k, v in st.hbm.items()})  # fmt: skip


def _masks(st: MachineState, keys: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks over the state arrays (buffers by word, HBM by byte) of the footprint keys."""
    out = {b.name: np.zeros(st.buffer(b).shape[0], bool) for b in Buffer}
    out |= {f"hbm{r}": np.zeros(img.size, bool) for r, img in st.hbm.items()}
    for k in keys.tolist():
        space, addr = k >> 40, k & ((1 << 40) - 1)
        out[Buffer(space).name if space < 8 else f"hbm{space - 8}"][addr] = True
    return out


def _arrays(st: MachineState) -> dict[str, np.ndarray]:
    return {b.name: st.buffer(b) for b in Buffer} | {f"hbm{r}": img for r, img in st.hbm.items()}


def test_footprints_cover_what_kernels_read_and_write(cases: list[FuzzCase]) -> None:
    rng = np.random.default_rng(11)
    regions_checked = 0
    for case in cases[:20]:
        prog = case.program
        regions = {r.index: r for r in prog.regions}
        for i, insn in enumerate(prog.instructions):
            kernel = compile_insn(i, insn, TINY, regions)
            if kernel is None:
                continue
            fp = footprint(insn, TINY)
            before = _random_state(rng, prog)
            after = _copy(before)
            kernel(after)
            writes = _masks(before, fp.writes)
            for name, arr in _arrays(after).items():
                changed = arr != _arrays(before)[name]
                rows_changed = changed.any(axis=1) if changed.ndim == 2 else changed
                assert not np.any(rows_changed & ~writes[name]), f"#{i} {format_instruction(insn)} writes {name}"
            # Perturb everything the instruction does not read: what it writes must not change.
            reads = _masks(before, fp.reads)
            other = _random_state(rng, prog)
            perturbed = _copy(before)
            for name, arr in _arrays(perturbed).items():
                keep = reads[name]
                arr[~keep] = _arrays(other)[name][~keep]
            kernel(perturbed)
            for name, arr in _arrays(perturbed).items():
                w = writes[name]
                assert np.array_equal(arr[w], _arrays(after)[name][w]), f"#{i} {format_instruction(insn)} reads {name}"
            regions_checked += 1
    assert regions_checked > 200


# ---- happens-before and races ------------------------------------------------------------------------------------


def _dma(op: Opcode, buf: Buffer, base: int, offset: int, reg: int = 0, **flags: int) -> Instruction:
    return make(op, buf=int(buf), sram_base=base, sram_ystride=1, sram_wstride=1, rows=1, cols=N, dram_reg=reg,
                dram_offset=offset, dram_stride=N * 4, **flags)  # fmt: skip


def _gemm(inp_base: int, **flags: int) -> Instruction:
    return make(Opcode.GEMM, clear=1, rows=1, ktiles=1, ntiles=1, inp_base=inp_base, wgt_base=0, acc_base=0, **flags)


REG = [Region(0, "r0", 1024)]


def test_race_between_load_and_gemm_is_found_and_tokens_remove_it() -> None:
    racy = _program([_dma(Opcode.LOAD, Buffer.INP, 5, 0), _gemm(5)], REG)
    assert races(racy, TINY) == [races(racy, TINY)[0]]
    r = races(racy, TINY)[0]
    assert (r.first, r.second, r.resource) == (0, 1, "INP word 5")
    fixed = _program([_dma(Opcode.LOAD, Buffer.INP, 5, 0, push_next=1), _gemm(5, pop_prev=1)], REG)
    assert races(fixed, TINY) == []
    disjoint = _program([_dma(Opcode.LOAD, Buffer.INP, 6, 0), _gemm(5)], REG)
    assert races(disjoint, TINY) == []


def test_token_from_an_earlier_instruction_does_not_order_a_later_writer() -> None:
    # LOAD #0 pushes, LOAD #1 writes INP 5, GEMM pops #0's token: #1 and GEMM still race.
    prog = _program(
        [_dma(Opcode.LOAD, Buffer.INP, 9, 0, push_next=1), _dma(Opcode.LOAD, Buffer.INP, 5, 64), _gemm(5, pop_prev=1)],
        REG,
    )
    assert [(r.first, r.second) for r in races(prog, TINY)] == [(1, 2)]


def test_hbm_race_between_store_and_load_needs_a_relay_through_compute() -> None:
    store = _dma(Opcode.STORE, Buffer.ACC, 0, 100)
    load = _dma(Opcode.LOAD, Buffer.VEC, 0, 110)  # reads bytes 110..125, which the STORE writes
    racy = _program([store, load], REG)
    (r,) = races(racy, TINY)
    assert (r.first, r.second, r.resource) == (0, 1, "HBM region 0 byte 110")
    relayed = _program(
        [
            _dma(Opcode.STORE, Buffer.ACC, 0, 100, push_prev=1),
            make(Opcode.NOP, unit=int(Unit.COMPUTE), pop_next=1, push_prev=1),
            _dma(Opcode.LOAD, Buffer.VEC, 0, 110, pop_next=1),
        ],
        REG,
    )
    assert races(relayed, TINY) == []
    # Two loads of the same bytes only read: no race; same-unit conflicts are ordered by program order.
    assert races(_program([load, _dma(Opcode.LOAD, Buffer.VEC, 4, 110)], REG), TINY) == []
    assert races(_program([store, _dma(Opcode.STORE, Buffer.VEC, 4, 110)], REG), TINY) == []


def test_happens_before_is_transitive_and_rejects_unmatched_pops() -> None:
    prog = _program(
        [
            _dma(Opcode.LOAD, Buffer.INP, 0, 0, push_next=1),
            make(Opcode.NOP, unit=int(Unit.COMPUTE), pop_prev=1, push_next=1),
            make(Opcode.NOP, unit=int(Unit.STORE), pop_prev=1),
        ],
        REG,
    )
    vc = happens_before(prog)
    assert vc[2] == (0, 0, 0)  # the STORE NOP knows the LOAD through the COMPUTE relay
    with pytest.raises(DeadlockError):
        happens_before(_program([make(Opcode.NOP, unit=int(Unit.STORE), pop_prev=1)]))
    assert describe_key((8 + 3) << 40 | 17) == "HBM region 3 byte 17"


def _execute(program: Program, images: dict[int, np.ndarray], rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Run the kernels atomically in a random order that respects program order within units and tokens."""
    insns = program.instructions
    regions = {r.index: r for r in program.regions}
    kernels = [compile_insn(i, insn, TINY, regions) for i, insn in enumerate(insns)]
    seq: list[list[int]] = [[], [], []]
    for i, insn in enumerate(insns):
        seq[insn.unit].append(i)
    tokens, head = [0] * 4, [0, 0, 0]
    st = MachineState.reset(TINY, {k: v.copy() for k, v in images.items()})
    while any(head[u] < len(seq[u]) for u in range(3)):
        ready = []
        for u in range(3):
            if head[u] < len(seq[u]):
                insn = insns[seq[u][head[u]]]
                pops = [POP_FIFO[insn.unit, fl] for fl in ("pop_prev", "pop_next") if insn[fl]]
                if all(tokens[f] > 0 for f in pops):
                    ready.append(u)
        u = ready[int(rng.integers(0, len(ready)))]
        i = seq[u][head[u]]
        head[u] += 1
        for fl in ("pop_prev", "pop_next"):
            if insns[i][fl]:
                tokens[POP_FIFO[insns[i].unit, fl]] -= 1
        if kernels[i] is not None:
            kernels[i](st)
        for fl in ("push_prev", "push_next"):
            if insns[i][fl]:
                tokens[PUSH_FIFO[insns[i].unit, fl]] += 1
    return st.hbm


def test_race_free_streams_give_one_result_under_every_execution_order(cases: list[FuzzCase]) -> None:
    rng = np.random.default_rng(5)
    for case in cases[:25]:
        expected = Simulator(case.program, TINY).run(case.images).images
        for _ in range(3):
            got = _execute(case.program, case.images, rng)
            assert compare(case.program, expected, got) is None


def test_a_planted_race_changes_the_result_with_the_order() -> None:
    prog = _program([_dma(Opcode.LOAD, Buffer.VEC, 0, 0), _dma(Opcode.STORE, Buffer.VEC, 0, 512)], REG)
    assert races(prog, TINY)
    images = {0: np.random.default_rng(2).integers(1, 256, 1024, dtype=np.uint8)}
    results = {bytes(_execute(prog, images, np.random.default_rng(s))[0]) for s in range(20)}
    assert len(results) == 2


# ---- the mismatch report (images from the simulator, one bit flipped) ---------------------------------------------


def test_compare_names_address_tensor_writer_and_values(cases: list[FuzzCase]) -> None:
    case = cases[0]
    prog = case.program
    res = Simulator(prog, TINY).run(case.images).images
    assert compare(prog, res, res) is None
    dump = prog.region(7)
    t = prog.tensor("dump_acc_low")
    addr = t.offset + 3 * t.stride + 2 * 4 + 1  # byte 1 of element [3, 2]
    bad = {k: v.copy() for k, v in res.items()}
    bad[7][addr] ^= 0x10
    m = compare(prog, res, bad)
    assert m is not None
    assert (m.region, m.region_name, m.address) == (7, dump.name, addr)
    assert (m.expected, m.actual) == (int(res[7][addr]), int(res[7][addr]) ^ 0x10)
    assert (m.tensor, m.element) == ("dump_acc_low", (3, 2))
    e = int.from_bytes(res[7][addr - 1 : addr + 3].tobytes(), "little")
    assert (m.element_expected, m.element_actual) == (e, e ^ 0x1000)
    writer = m.writer
    assert writer is not None and prog.instructions[writer].opcode is Opcode.STORE
    assert prog.instructions[writer]["buf"] == Buffer.ACC and prog.instructions[writer]["dram_reg"] == 7
    assert m.writer_text == format_instruction(prog.instructions[writer])
    assert m.differing_bytes == 1
    assert f"#{writer}" in m.report() and "0x" in m.report()


def test_compare_reports_initial_image_and_counts_all_differences() -> None:
    store = _dma(Opcode.STORE, Buffer.INP, 0, 16, reg=2)
    prog = _program([store], [Region(2, "out", 64), Region(5, "other", 32)])
    a = {2: np.zeros(64, np.uint8), 5: np.zeros(32, np.uint8)}
    b = {2: a[2].copy(), 5: a[5].copy()}
    b[2][40] = 1  # not written by the STORE (bytes 16..23)
    b[5][0] = 2
    m = compare(prog, a, b)
    assert m is not None and (m.region, m.address, m.writer, m.writer_text) == (2, 40, None, "initial image")
    assert m.tensor is None and m.differing_bytes == 2
    assert "initial image" in m.report()
    b[2][40] = 0
    b[2][20] = 7
    assert compare(prog, a, b).writer == 0  # type: ignore[union-attr]
    assert last_writer(prog, 2, 23) == 0 and last_writer(prog, 2, 24) is None


def test_shrink_keeps_a_legal_race_free_program_that_still_fails(cases: list[FuzzCase]) -> None:
    case = cases[1]
    body = [i for i in case.program.instructions if i.opcode is Opcode.GEMM][-1].as_dict()
    for fl in ("pop_prev", "pop_next", "push_prev", "push_next"):
        del body[fl]

    def fails(p: Program) -> bool:  # "the bug needs this GEMM", whatever its tokens
        return any(i.opcode is Opcode.GEMM and all(i[k] == v for k, v in body.items()) for i in p.instructions)

    small = shrink(case.program, TINY, fails)
    assert fails(small)
    assert [i.opcode for i in small.instructions] == [Opcode.GEMM, Opcode.FINISH]  # tokens and the rest gone
    Simulator(small, TINY)
    assert races(small, TINY) == []
    vop = next(i for i in case.program.instructions if i.opcode is Opcode.VOP)
    smaller = shrink(case.program, TINY, lambda p: vop in p.instructions)
    assert vop in smaller.instructions and len(smaller.instructions) <= 5  # the VOP, its MODE, its tokens, FINISH
    Simulator(smaller, TINY)
    assert races(smaller, TINY) == []


def test_compare_refuses_missing_or_wrongly_sized_images() -> None:
    prog = _program([], [Region(2, "out", 64)])
    good = {2: np.zeros(64, np.uint8)}
    with pytest.raises(CosimError, match=r"region 2 .* no image in the second set"):
        compare(prog, good, {})
    with pytest.raises(CosimError, match="64 B; the images have 64 and 63 B"):
        compare(prog, good, {2: np.zeros(63, np.uint8)})


# ---- the command line (scripts/fuzz_rtl.py) with a fake RTL that is wrong whenever a program has a VOP ADD ------


def _fuzz_cli() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_rtl.py"
    spec = importlib.util.spec_from_file_location("fuzz_rtl_cli", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake_run_both(program: Program, images: dict[int, np.ndarray]) -> CosimResult:
    sim = Simulator(program, TINY).run(images)
    out = {k: v.copy() for k, v in sim.images.items()}
    if any(i.opcode is Opcode.VOP and i["funct"] == VFunct.ADD for i in program.instructions):
        out[7][0] ^= 1
    rtl = SimResult(out, sim.cycles + 1, None)
    return CosimResult(sim, rtl, compare(program, sim.images, out), 0.0, 0.0)


def test_cli_reports_shrinks_and_keeps_failing_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = _fuzz_cli()
    monkeypatch.setattr(cli, "run_both", _fake_run_both)
    rc = cli.main(["--streams", "12", "--seed", "3", "--insns", "12", "--keep-failing", str(tmp_path)])
    out = capsys.readouterr().out
    failing = [k for k in range(12) if any(
        i.opcode is Opcode.VOP and i["funct"] == VFunct.ADD for i in stream_case(3, k, TINY, 12).program.instructions
    )]  # fmt: skip
    assert failing, "pick a seed whose streams contain a VOP ADD"
    assert rc == 1
    assert f"failing streams:    {min(len(failing), 5)}" in out
    k = failing[0]
    assert f"stream {k} (seed 3) FAILED" in out and "last written by: #" in out
    small = (tmp_path / f"stream-3-{k}-min.tasm").read_text()
    full = (tmp_path / f"stream-3-{k}.tasm").read_text()
    assert "vop.add" in small and "mode mode=simd" in small
    assert small.count("\n") < full.count("\n")
    assert "first mismatch at region 7" in (tmp_path / f"stream-3-{k}.txt").read_text()


def test_cli_passes_when_the_rtl_agrees(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cli = _fuzz_cli()

    def agree(program: Program, images: dict[int, np.ndarray]) -> CosimResult:
        sim = Simulator(program, TINY).run(images)
        return CosimResult(sim, sim, None, 0.0, 0.0)

    monkeypatch.setattr(cli, "run_both", agree)
    assert cli.main(["--streams", "4", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "failing streams:    0" in out and "[4/4]" in out and "time per stream" in out


# ---- sensitivity: plausible datapath bugs, planted in the numerics, change some stream's result ------------------


def _sign_of_zero_lost(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return np.where((a & 0x7F80) == 0, np.uint16(0), a).astype(np.uint16)


def _requant_ties_up(acc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    p = np.asarray(acc, np.int64) * (np.asarray(scale, np.int64) & 0xFFFF)
    s = np.minimum((np.asarray(scale, np.int64) >> 16) & 63, 48)
    q = p >> s
    half = (np.int64(1) << s) >> 1
    return np.clip(q + ((s > 0) & (p - (q << s) >= half)), -128, 127).astype(np.int8)


MUTANTS = {
    "MAX/MIN lose the sign of a zero a": lambda: {
        "bf16_max": lambda a, b, f=numerics.bf16_max: f(_sign_of_zero_lost(a), b),
        "bf16_min": lambda a, b, f=numerics.bf16_min: f(_sign_of_zero_lost(a), b),
    },
    "REQUANT int8 rounds ties up": lambda: {"requant_int8": _requant_ties_up},
    "FMA rounds the product first": lambda: {"bf16_fma": lambda a, b, c: numerics.bf16_add(numerics.bf16_mul(a, b), c)},
    "F2I8 turns NaN into -128": lambda: {
        "bf16_to_int8": lambda a, b, f=numerics.bf16_to_int8: np.where(
            numerics.is_nan(numerics.bf16_mul(a, b)), np.int8(-128), f(a, b)
        ).astype(np.int8)
    },
    "ADD keeps subnormal operands": lambda: {
        "bf16_add": lambda a, b: numerics.f64_to_bf16(numerics.bf16_to_f64(a) + numerics.bf16_to_f64(b))
    },
}


@pytest.fixture(scope="module")
def many() -> list[tuple[FuzzCase, dict[int, np.ndarray]]]:
    out = []
    for k in range(200):
        case = stream_case(8, k, TINY)
        out.append((case, Simulator(case.program, TINY).run(case.images).images))
    return out


@pytest.mark.parametrize("name", list(MUTANTS))
def test_streams_catch_a_planted_datapath_bug(
    name: str, many: list[tuple[FuzzCase, dict[int, np.ndarray]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for attr, fn in MUTANTS[name]().items():
        monkeypatch.setattr(numerics, attr, fn)
    caught = 0
    with np.errstate(all="ignore"):
        for case, good in many:
            caught += compare(case.program, good, Simulator(case.program, TINY).run(case.images).images) is not None
    assert caught >= 1, f"{name}: no stream of {len(many)} noticed"
