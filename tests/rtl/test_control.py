"""Control path RTL (dispatch, instruction queues, token FIFOs, issue) against the simulator's schedule.

The bench `hw/tb/tb_control.sv` feeds a program to `tataa_control` one instruction per cycle and runs each unit's
engine as a countdown timer of `tataa.sim.duration` cycles. Every instruction's dispatch, start and end cycle,
the cycle count and the stall, busy and token counters must equal the simulator's; a program the simulator
reports as deadlocked must hang the RTL in the state the deadlock report describes.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tataa import config
from tataa.codegen.gemm import gemm_program
from tataa.codegen.nonlinear import softmax_program
from tataa.config import HwConfig
from tataa.errors import DeadlockError, EncodingError
from tataa.hdl.verilator import TB_DIR, VerilatorBuild, build, rtl_sources, run, tool_path
from tataa.isa.encoding import decode, encode, illegal_flags
from tataa.isa.spec import (
    DEP_FLAGS,
    OPCODE_DEFS,
    VFUNCT_DEFS,
    Buffer,
    Instruction,
    Opcode,
    Unit,
    VFunct,
    VKind,
    make,
)
from tataa.program import Program, Region
from tataa.sim import FIFOS, Simulator, duration
from tataa.sim.timing import fetch_prologue

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(tool_path("verilator") is None, reason="verilator is not installed"),
]

TINY = config.load("tiny")
MODULES = ("tataa_token_fifo", "tataa_insn_queue", "tataa_dispatch", "tataa_unit_issue", "tataa_control")
MAX_PER_UNIT = 1 << 16  # tb_control's engine table stride
SMALL_QUEUE = 2
ENGINE_OPS = {op for op in Opcode if op not in (Opcode.NOP, Opcode.FINISH)}  # what the engines execute
# Which unit pops / pushes each FIFO through which flag, in the simulator's FIFO order.
POPPER = ((Unit.COMPUTE, "pop_prev"), (Unit.LOAD, "pop_next"), (Unit.STORE, "pop_prev"), (Unit.COMPUTE, "pop_next"))
PUSHER = ((Unit.LOAD, "push_next"), (Unit.COMPUTE, "push_prev"), (Unit.COMPUTE, "push_next"), (Unit.STORE, "push_prev"))


def _bench(args: Sequence[str] = ()) -> VerilatorBuild:
    return build("tb_control", [*rtl_sources("tiny", MODULES), TB_DIR / "tb_control.sv"], args)


@pytest.fixture(scope="module")
def bench() -> VerilatorBuild:
    """The bench with the tiny configuration's queue depth."""
    return _bench()


@pytest.fixture(scope="module")
def bench_small() -> VerilatorBuild:
    """The bench with SMALL_QUEUE-entry instruction queues."""
    return _bench([f"-GQueueDepth={SMALL_QUEUE}"])


def small_cfg() -> HwConfig:
    """The tiny configuration with SMALL_QUEUE-entry queues (its own hash, so programs must be made for it)."""
    return dataclasses.replace(TINY, insn_queue_depth=SMALL_QUEUE)


# ---- running the bench -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Counters:
    """The bench's counters when done_o rose (or at the timeout)."""

    cycle: int
    dispatched: int
    issued: tuple[int, ...]
    retired: tuple[int, ...]
    busy: tuple[int, ...]
    token_wait: tuple[int, ...]
    fetch_stall: int
    tokens: tuple[int, ...]


@dataclass(frozen=True)
class BenchRun:
    """One run: events in the order the bench saw them, and how it ended."""

    dispatch: list[int]  # cycle of each dispatch, in program order
    start: list[list[int]]  # per unit: start cycles, in the unit's order
    end: list[list[int]]  # per unit: end cycles (exclusive)
    refused: list[int]  # program indices refused by dispatch
    counters: Counters
    hung: bool


def _counters(fields: list[str]) -> Counters:
    v = [int(x) for x in fields]
    return Counters(v[0], v[1], tuple(v[2:5]), tuple(v[5:8]), tuple(v[8:11]), tuple(v[11:14]), v[14], tuple(v[15:19]))


def run_bench(
    bld: VerilatorBuild, words: Sequence[int], engine: Sequence[Sequence[tuple[int, int]]], cwd: Path,
    timeout: int, runs: int = 1,
) -> list[BenchRun]:  # fmt: skip
    """Run the bench on instruction `words` with, per unit, the (duration, word) each engine start must see."""
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / "prog.hex").write_text("".join(f"{w:032x}\n" for w in words) or "0\n")
    lines = []
    for u, jobs in enumerate(engine):
        lines.append(f"@{2 * u * MAX_PER_UNIT:x}\n")
        lines += [f"{d:032x}\n{w:032x}\n" for d, w in jobs]
    (cwd / "eng.hex").write_text("".join(lines))
    run(bld, {"n": len(words), "timeout": timeout, "runs": runs}, cwd=cwd, timeout=60)
    out: list[BenchRun] = []
    dispatch: list[int] = []
    start: list[list[int]] = [[], [], []]
    end: list[list[int]] = [[], [], []]
    refused: list[int] = []
    for line in (cwd / "trace.txt").read_text().splitlines():
        tag, *f = line.split()
        if tag == "D":
            dispatch.append(int(f[0]))
        elif tag == "S":
            start[int(f[0])].append(int(f[1]))
        elif tag == "E":
            end[int(f[0])].append(int(f[1]))
        elif tag == "R":
            refused.append(int(f[1]))
        else:
            assert tag in ("F", "T"), line
            out.append(BenchRun(dispatch, start, end, refused, _counters(f), tag == "T"))
            dispatch, start, end, refused = [], [[], [], []], [[], [], []], []
    assert len(out) == runs or out[-1].hung, f"bench wrote {len(out)} of {runs} runs"
    return out


def engine_jobs(insns: Sequence[Instruction], cfg: HwConfig) -> list[list[tuple[int, int]]]:
    """Per unit, in order: (duration, word) of every instruction its engine runs (all but NOP and FINISH)."""
    jobs: list[list[tuple[int, int]]] = [[], [], []]
    for insn in insns:
        if insn.opcode in ENGINE_OPS:
            jobs[insn.unit].append((duration(insn, cfg), encode(insn)))
    return jobs


def timeout_for(insns: Sequence[Instruction], cfg: HwConfig) -> int:
    """More cycles than any program of these instructions can take without deadlock."""
    return sum(duration(i, cfg) for i in insns) + 2 * len(insns) + 64


def run_program(bld: VerilatorBuild, prog: Program, cfg: HwConfig, cwd: Path, runs: int = 1) -> list[BenchRun]:
    """Run `prog` on the bench."""
    insns = prog.instructions
    return run_bench(bld, [encode(i) for i in insns], engine_jobs(insns, cfg), cwd, timeout_for(insns, cfg), runs)


def per_program_order(insns: Sequence[Instruction], per_unit: list[list[int]]) -> list[int]:
    """Per-unit event lists put back into program order."""
    it = [iter(x) for x in per_unit]
    return [next(it[i.unit]) for i in insns]


def check_against_sim(prog: Program, cfg: HwConfig, res: BenchRun) -> None:
    """Every event and counter of a finished run equals the simulator's.

    The bench offers instructions from cycle 0, while the simulator also models instruction fetch from HBM,
    which delays every event by the same fetch prologue.
    """
    sim = Simulator(prog, cfg, trace=True)
    ev, st = sim.trace_events(), sim.stats
    f0 = fetch_prologue(cfg)
    insns = prog.instructions
    assert not res.hung, f"RTL hung; simulator finishes at {sim.cycles}"
    assert not res.refused
    assert res.dispatch == [e.dispatch - f0 for e in ev]
    assert [len(x) for x in res.start] == [sum(i.unit == u for i in insns) for u in Unit]
    assert per_program_order(insns, res.start) == [e.start - f0 for e in ev]
    assert per_program_order(insns, res.end) == [e.end - f0 for e in ev]
    c = res.counters
    assert c.cycle == sim.cycles - f0
    assert c.busy == tuple(st.busy_cycles[u.name] for u in Unit)
    assert c.token_wait == tuple(st.stall_cycles[u.name] for u in Unit)
    assert c.fetch_stall == st.fetch_stall_cycles
    assert c.tokens == tuple(st.tokens_left[f] for f in FIFOS)


def check_hang(prog: Program, cfg: HwConfig, res: BenchRun) -> str:
    """The RTL hung where the simulator's deadlock report says each unit and fetch are stuck; returns the report."""
    with pytest.raises(DeadlockError) as e:
        Simulator(prog, cfg)
    msg = str(e.value)
    insns = prog.instructions
    assert res.hung, f"RTL finished at cycle {res.counters.cycle} but the simulator deadlocks:\n{msg}"
    seq = [[k for k, i in enumerate(insns) if i.unit == u] for u in Unit]
    finish_pops = [0, 0, 0, 0]
    issued, retired = [0, 0, 0], [0, 0, 0]
    for u in Unit:
        m = re.search(rf"^  {u.name}: (.*)$", msg, re.M)
        assert m, msg
        what = m.group(1)
        if what == "done":
            issued[u] = retired[u] = len(seq[u])
            continue
        nxt = int(re.match(r"(?:next instruction )?#(\d+) ", what).group(1))  # type: ignore[union-attr]
        issued[u] = retired[u] = seq[u].index(nxt)
        if "to drain" in what:  # FINISH has its tokens: the RTL issued it and waits in it
            issued[u] += 1
            finish_pops = [int(insns[nxt][flag]) if unit == u else 0 for unit, flag in POPPER]
    m = re.search(r"fetch: stalled at #(\d+)", msg)
    dispatched = int(m.group(1)) if m else len(insns)
    avail = [int(re.search(rf"{re.escape(f)}: (\d+) available", msg).group(1)) for f in FIFOS]  # type: ignore[union-attr]
    c = res.counters
    assert (c.dispatched, c.issued, c.retired) == (dispatched, tuple(issued), tuple(retired)), msg
    assert c.tokens == tuple(a - p for a, p in zip(avail, finish_pops, strict=True)), msg
    return msg


# ---- random programs ---------------------------------------------------------------------------------------------
EB = {Buffer.INP: 1, Buffer.WGT: 1, Buffer.ACC: 4, Buffer.VEC: 2}
VOP_FUNCTS = (VFunct.ADD, VFunct.MUL, VFunct.MOV, VFunct.MAC, VFunct.FMA, VFunct.REDSUM, VFunct.REDMAX)


def _dma(rng: np.random.Generator, op: Opcode) -> Instruction:
    buf = Buffer(int(rng.integers(4)))
    rows, cols = int(rng.integers(0, 7)), int(rng.integers(1, 25))
    return make(
        op, buf=buf, sram_base=0, sram_ystride=-(-cols // TINY.array_size), sram_wstride=1, rows=rows, cols=cols,
        dram_reg=0, dram_offset=0, dram_stride=cols * EB[buf],
    )  # fmt: skip


def _compute(rng: np.random.Generator, mode: list[int]) -> Instruction:
    """A random COMPUTE instruction; a MODE switch when the drawn one needs the other mode."""
    kind = int(rng.integers(6))
    if kind == 0:
        if mode[0] != 0:
            mode[0] = 0
            return make(Opcode.MODE, mode=0)
        return make(
            Opcode.GEMM, clear=1, rows=int(rng.integers(1, 13)), ktiles=int(rng.integers(1, 3)),
            ntiles=int(rng.integers(1, 3)), inp_base=0, inp_kstride=16, wgt_base=0, acc_base=0, acc_nstride=16,
        )  # fmt: skip
    if kind == 1:
        if mode[0] != 1:
            mode[0] = 1
            return make(Opcode.MODE, mode=1)
        funct = VOP_FUNCTS[int(rng.integers(len(VOP_FUNCTS)))]
        outer, inner = int(rng.integers(1, 5)), int(rng.integers(1, 6))
        red = VFUNCT_DEFS[funct].kind is VKind.REDUCE
        return make(
            Opcode.VOP, funct=funct, outer=outer, inner=inner, dst_base=1200, dst_ostride=1 if red else inner,
            dst_istride=0 if red else 1, a_base=0, a_ostride=inner, a_istride=1, b_base=600, b_ostride=inner,
            b_istride=1, c_idx=int(rng.integers(8)),
        )  # fmt: skip
    if kind == 2:
        return make(
            Opcode.REQUANT, out_type=int(rng.integers(2)), tiles=int(rng.integers(1, 3)), rows=int(rng.integers(1, 9)),
            acc_base=0, acc_tstride=16, scale_base=100, scale_tstride=1, dst_base=200, dst_tstride=16, dst_mstride=1,
        )  # fmt: skip
    if kind == 3:
        return make(Opcode.SETC, idx=int(rng.integers(8)), value=int(rng.integers(1 << 16)))
    if kind == 4:
        mode[0] = int(rng.integers(2))
        return make(Opcode.MODE, mode=mode[0])
    return make(Opcode.NOP, unit=Unit.COMPUTE)


def random_program(
    rng: np.random.Generator, cfg: HwConfig, length: int, p_pop: float, p_push: float, safe: bool
) -> Program:
    """Random LOAD/COMPUTE/STORE/NOP stream with random dependency flags and FINISH last.

    Units come in bursts (to fill queues). With `safe`, a flag pops only a token pushed earlier in program order,
    which rules deadlock out; otherwise any legal flag may be set.
    """
    insns: list[Instruction] = []
    mode = [0]
    avail = [0, 0, 0, 0]
    unit = Unit(int(rng.integers(3)))
    for k in range(length + 1):
        last = k == length
        if last:
            insn = make(Opcode.FINISH)
        else:
            if rng.random() < 0.3:
                unit = Unit(int(rng.integers(3)))
            if rng.random() < 0.15:
                insn = make(Opcode.NOP, unit=unit)
            elif unit is Unit.COMPUTE:
                insn = _compute(rng, mode)
            else:
                insn = _dma(rng, Opcode.LOAD if unit is Unit.LOAD else Opcode.STORE)
        u = insn.unit
        flags = {}
        for f, (pu, flag) in enumerate(POPPER):
            if pu == u and rng.random() < p_pop and (not safe or avail[f] > 0):
                flags[flag] = 1
                avail[f] -= 1
        for f, (pu, flag) in enumerate(PUSHER):
            if pu == u and rng.random() < p_push:
                flags[flag] = 1
                avail[f] += 1
        insns.append(make(insn.opcode, **{**insn.as_dict(), **flags}))
    return Program(cfg.name, cfg.hash, tuple(insns), (Region(0, "r0", 4096),), ())


def _deadlocks(prog: Program, cfg: HwConfig) -> bool:
    try:
        Simulator(prog, cfg)
    except DeadlockError:
        return True
    return False


def _check_random(bld: VerilatorBuild, cfg: HwConfig, seed: int, count: int, tmp_path: Path) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    seen = {"finished": 0, "fetch_stall": 0, "token_wait": 0, "finish_waits": 0, "hung": 0, "queue_full_hang": 0,
            "token_hang": 0, "drain_hang": 0}  # fmt: skip
    for k in range(count):
        safe = k % 2 == 0
        length = int(rng.integers(5, 90))
        prog = random_program(rng, cfg, length, float(rng.uniform(0.2, 0.9)), float(rng.uniform(0.2, 0.9)), safe)
        (res,) = run_program(bld, prog, cfg, tmp_path / f"p{k}")
        if _deadlocks(prog, cfg):
            assert not safe
            msg = check_hang(prog, cfg, res)
            seen["hung"] += 1
            seen["queue_full_hang"] += "queue is full" in msg
            seen["token_hang"] += "waits for a token" in msg
            seen["drain_hang"] += "to drain" in msg
        else:
            check_against_sim(prog, cfg, res)
            seen["finished"] += 1
            seen["fetch_stall"] += res.counters.fetch_stall > 0
            seen["token_wait"] += sum(res.counters.token_wait) > 0
            ev = Simulator(prog, cfg, trace=True).trace_events()
            seen["finish_waits"] += ev[-1].end > ev[-1].start + 1
    return seen


def test_random_programs_match_the_simulator_or_hang_where_it_deadlocks(bench: VerilatorBuild, tmp_path: Path) -> None:
    seen = _check_random(bench, TINY, 1, 150, tmp_path)
    # the corpus exercised every situation (so a pass means something)
    assert seen["finished"] >= 60 and seen["hung"] >= 40, seen
    assert min(seen[k] for k in ("fetch_stall", "token_wait", "finish_waits", "token_hang", "drain_hang")) > 0, seen


def test_random_programs_with_small_queues(bench_small: VerilatorBuild, tmp_path: Path) -> None:
    seen = _check_random(bench_small, small_cfg(), 2, 150, tmp_path)
    assert seen["finished"] >= 60 and seen["fetch_stall"] >= 50 and seen["queue_full_hang"] > 0, seen


# ---- kernels, hand-made cases, restart ---------------------------------------------------------------------------
def _kernels(cfg: HwConfig) -> dict[str, Program]:
    w = np.random.default_rng(5).integers(-128, 128, (40, 24), dtype=np.int8)
    return {
        "gemm": gemm_program(cfg, w, 20),
        "gemm_serial": gemm_program(cfg, w, 20, serial=True),
        "gemm_bf16": gemm_program(cfg, w[:16, :8], 9, out_dtype="bf16"),
        "softmax": softmax_program(cfg, 12, 24),
        "softmax_mask": softmax_program(cfg, 5, 40, mask=True),
    }


@pytest.mark.parametrize("name", ["gemm", "gemm_serial", "gemm_bf16", "softmax", "softmax_mask"])
def test_kernels_match_the_simulator(bench: VerilatorBuild, tmp_path: Path, name: str) -> None:
    prog = _kernels(TINY)[name]
    (res,) = run_program(bench, prog, TINY, tmp_path)
    check_against_sim(prog, TINY, res)


def test_kernels_match_the_simulator_with_small_queues(bench_small: VerilatorBuild, tmp_path: Path) -> None:
    cfg = small_cfg()
    for name, prog in _kernels(cfg).items():
        (res,) = run_program(bench_small, prog, cfg, tmp_path / name)
        check_against_sim(prog, cfg, res)
        assert res.counters.fetch_stall > 0


def _prog(insns: Sequence[Instruction], cfg: HwConfig = TINY) -> Program:
    return Program(cfg.name, cfg.hash, (*insns, make(Opcode.FINISH)), (Region(0, "r0", 4096),), ())


def _load(**flags: int) -> Instruction:
    return make(Opcode.LOAD, buf=0, sram_ystride=1, rows=2, cols=8, dram_reg=0, dram_stride=8, **flags)


def test_worked_example_of_docs_timing(bench: VerilatorBuild, tmp_path: Path) -> None:
    dma = dict(buf=0, sram_ystride=1, sram_wstride=4, rows=4, cols=16, dram_reg=0, dram_stride=16)
    prog = _prog(
        [
            make(Opcode.LOAD, **dma, push_next=1),
            make(Opcode.GEMM, rows=4, ktiles=2, ntiles=1, inp_kstride=4, pop_prev=1, push_next=1),
            make(Opcode.STORE, buf=2, sram_ystride=1, rows=4, cols=8, dram_reg=0, dram_stride=32, pop_prev=1),
        ]
    )
    (res,) = run_program(bench, prog, TINY, tmp_path)
    check_against_sim(prog, TINY, res)
    assert res.counters.cycle + fetch_prologue(TINY) == 121  # docs/timing.md (the bench has no fetch prologue)


def test_queue_capacity_deadlock_hangs_and_one_entry_less_finishes(bench: VerilatorBuild, tmp_path: Path) -> None:
    q = TINY.insn_queue_depth
    wait, release = _load(pop_next=1), make(Opcode.NOP, unit=Unit.COMPUTE, push_prev=1)
    hang = _prog([wait, *[_load() for _ in range(q)], release])
    (res,) = run_program(bench, hang, TINY, tmp_path / "hang")
    assert "the LOAD queue is full" in check_hang(hang, TINY, res)
    assert res.counters.dispatched == q and res.counters.issued == (0, 0, 0)
    ok = _prog([wait, *[_load() for _ in range(q - 1)], release])
    (res,) = run_program(bench, ok, TINY, tmp_path / "ok")
    check_against_sim(ok, TINY, res)


def test_token_pushed_by_finish_hangs(bench: VerilatorBuild, tmp_path: Path) -> None:
    store = make(Opcode.STORE, buf=0, sram_ystride=1, rows=1, cols=1, dram_reg=0, dram_stride=1, pop_prev=1)
    prog = Program(TINY.name, TINY.hash, (store, make(Opcode.FINISH, push_next=1)), (Region(0, "r0", 64),), ())
    (res,) = run_program(bench, prog, TINY, tmp_path)
    assert "waits for STORE to drain" in check_hang(prog, TINY, res)
    assert res.counters.issued == (0, 1, 0) and res.counters.retired == (0, 0, 0)


def test_a_second_run_after_clear_repeats_the_first(bench: VerilatorBuild, tmp_path: Path) -> None:
    # leaves tokens in two FIFOs: later runs only match the simulator if clear_i empties them
    prog = _prog(
        [
            make(Opcode.NOP, unit=Unit.LOAD, push_next=1),
            make(Opcode.NOP, unit=Unit.LOAD, push_next=1),
            make(Opcode.NOP, unit=Unit.COMPUTE, pop_prev=1, push_next=1),
            _load(push_next=1),
            make(Opcode.NOP, unit=Unit.COMPUTE, pop_prev=1),
        ]
    )
    assert Simulator(prog).stats.tokens_left == {"LOAD->COMPUTE": 1, "COMPUTE->LOAD": 0, "COMPUTE->STORE": 1,
                                                 "STORE->COMPUTE": 0}  # fmt: skip
    runs = run_program(bench, prog, TINY, tmp_path, runs=3)
    assert len(runs) == 3
    for res in runs:
        check_against_sim(prog, TINY, res)


# ---- dispatch refuses exactly the words the decoder rejects ------------------------------------------------------
def _random_word(rng: np.random.Generator) -> int:
    """A random word: mostly a valid instruction with random fields, often with one corruption."""
    op = Opcode(int(rng.choice([o for o in Opcode if o is not Opcode.FINISH])))
    d = OPCODE_DEFS[op]
    values = {}
    for f in d.fmt.all_fields:
        if f.name == "opcode":
            continue
        allowed = [e.value for e in f.enum] if f.enum else None
        values[f.name] = int(rng.choice(allowed)) if allowed else int(rng.integers(0, f.max + 1, dtype=np.uint64))
    insn = make(op, **values)
    values.update({flag: 0 for flag in illegal_flags(insn.unit)})
    word = encode(make(op, **values))
    kind = int(rng.integers(6))
    if kind == 1:  # flip any bit above the opcode (reserved bit, enum value, flag, field)
        word ^= 1 << int(rng.integers(4, 128))
    elif kind == 2:  # unknown opcode
        word = (word & ~0xF) | int(rng.integers(9, 16))
    elif kind == 3:  # an illegal flag
        word |= 1 << (4 + DEP_FLAGS.index(str(rng.choice(["pop_prev", "push_prev", "pop_next", "push_next"]))))
    elif kind == 4 and op is Opcode.NOP:
        word |= 3 << 8  # NOP unit 3
    elif kind == 4 and op is Opcode.VOP:
        word = (word & ~(0x1F << 8)) | (int(rng.integers(24, 32)) << 8)  # funct past the last VFunct
    return word


def test_dispatch_refuses_exactly_what_decode_rejects(bench: VerilatorBuild, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    words = []
    for _ in range(400):
        word = _random_word(rng)
        if not _refused(word):
            word &= ~(0b11 << 4)  # accepted words pop nothing, so the program cannot hang
        words.append(word)
    words.append(encode(make(Opcode.FINISH)))
    refused = [k for k, w in enumerate(words) if _refused(w)]
    assert 50 < len(refused) < len(words) - 50
    accepted = [decode(w) for k, w in enumerate(words) if k not in set(refused)]
    jobs: list[list[tuple[int, int]]] = [[], [], []]
    for insn in accepted:
        if insn.opcode in ENGINE_OPS:
            jobs[insn.unit].append((int(rng.integers(1, 4)), encode(insn)))
    (res,) = run_bench(bench, words, jobs, tmp_path, timeout=10 * len(words))
    assert not res.hung and res.refused == refused
    assert res.counters.dispatched == len(accepted)
    assert res.counters.issued == tuple(sum(i.unit == u for i in accepted) for u in Unit)


def _refused(word: int) -> bool:
    try:
        decode(word)
    except EncodingError:
        return True
    return False


# ---- lint and tool acceptance ------------------------------------------------------------------------------------
def _sources() -> list[str]:
    return [str(p) for p in rtl_sources("tiny", MODULES)]


@pytest.mark.parametrize("top", MODULES)
def test_verilator_lint_is_clean(top: str) -> None:
    res = subprocess.run(
        ["verilator", "--lint-only", "-Wall", "--top-module", top, *_sources()], capture_output=True, text=True
    )
    assert res.returncode == 0 and "%Warning" not in res.stderr, res.stderr


@pytest.mark.skipif(tool_path("yosys") is None, reason="yosys is not installed")
def test_yosys_reads_the_control_path() -> None:
    script = f"read_verilog -sv {' '.join(_sources())}; hierarchy -top tataa_control; proc; opt"
    res = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


@pytest.mark.skipif(tool_path("iverilog") is None, reason="iverilog is not installed")
def test_icarus_compiles_the_control_path() -> None:
    res = subprocess.run(["iverilog", "-g2012", "-o", "/dev/null", *_sources()], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
