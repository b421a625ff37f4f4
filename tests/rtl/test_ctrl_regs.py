"""tataa_ctrl_regs: the AXI4-Lite register map of docs/rtl.md, the ap_ctrl handshake and the interrupts.

`tb_ctrl_regs` plays a script of AXI4-Lite writes and reads (every write order and response delay), done
pulses (some in the same cycle as a read of AP_CTRL or a write) and output snapshots. `CtrlModel` states the
register map of docs/rtl.md in Python; every read and snapshot of the bench must equal the model's.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from tataa import config
from tataa.hdl.verilator import TB_DIR, VerilatorBuild, build, rtl_sources, run, tool_path

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(tool_path("verilator") is None, reason="verilator is not installed"),
]

TINY = config.load("tiny")
TOP = "tb_ctrl_regs"
WRITE, READ, DONE, WAIT, CHECK, READ_DONE, WRITE_DONE = range(7)
AP_CTRL, GIER, IP_IER, IP_ISR, INSN_LO, INSN_HI, INSN_COUNT = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18
REGION = 0x20  # region r: 0x20 + 8r (low word), + 4 (high word)
CYCLES_LO, CYCLES_HI, STATUS, HASH_LO, HASH_HI = 0x60, 0x64, 0x68, 0x6C, 0x70
RW_WORDS = (INSN_LO, INSN_HI, INSN_COUNT, *range(REGION, REGION + 64, 4))


@dataclass
class CtrlModel:
    """The register map of docs/rtl.md (XRT user-managed kernel, Vitis HLS ap_ctrl_hs semantics)."""

    config_hash: int
    ap_start: bool = False
    running: bool = False
    ap_done: bool = False
    ap_ready: bool = False
    gie: bool = False
    ier: bool = False
    isr: bool = False
    words: dict[int, int] = field(default_factory=lambda: dict.fromkeys(RW_WORDS, 0))  # R/W registers
    cycles: int = 0
    status: int = 0
    starts: int = 0

    def _try_start(self) -> None:
        if self.ap_start and not self.running:
            self.starts += 1
            self.running, self.ap_start = True, False

    def write(self, addr: int, data: int, strb: int, done: tuple[int, int] | None = None) -> None:
        """An AXI write; `done` = (cycles, status) of a done pulse in the cycle the write takes effect."""
        a = addr & ~3
        set_isr = done is not None and self.ier  # a done pulse sets ISR with the enable before this write
        if a == AP_CTRL and strb & 1 and data & 1:
            self.ap_start = True
        elif a == GIER and strb & 1:
            self.gie = bool(data & 1)
        elif a == IP_IER and strb & 1:
            self.ier = bool(data & 1)
        elif a == IP_ISR and strb & 1 and data & 1:
            self.isr = not self.isr
        elif a in self.words:
            mask = sum(0xFF << (8 * b) for b in range(4) if strb >> b & 1)
            self.words[a] = (self.words[a] & ~mask) | (data & mask)
        if done is not None:
            self._done(*done)
        if set_isr:
            self.isr = True
        self._try_start()

    def _done(self, cycles: int, status: int) -> None:
        assert self.running, "script error: done pulse without a run"
        self.running, self.ap_done, self.ap_ready = False, True, True
        self.cycles, self.status = cycles, status

    def done(self, cycles: int, status: int) -> None:
        """The kernel's done pulse with the run's cycle count and status word."""
        set_isr = self.ier
        self._done(cycles, status)
        if set_isr:
            self.isr = True
        self._try_start()

    def read(self, addr: int, done: tuple[int, int] | None = None) -> int:
        """An AXI read; `done` = a done pulse in the cycle of the AR handshake (it wins over clear-on-read)."""
        a = addr & ~3
        value = 0
        if a == AP_CTRL:
            value = self.ap_start | self.ap_done << 1 | (not self.running) << 2 | self.ap_ready << 3
            self.ap_done = self.ap_ready = False
        elif a in (GIER, IP_IER, IP_ISR):
            value = int({GIER: self.gie, IP_IER: self.ier, IP_ISR: self.isr}[a])
        elif a in self.words:
            value = self.words[a]
        elif a in (CYCLES_LO, CYCLES_HI):
            value = self.cycles >> (32 if a == CYCLES_HI else 0) & 0xFFFF_FFFF
        elif a == STATUS:
            value = self.status
        elif a in (HASH_LO, HASH_HI):
            value = self.config_hash >> (32 if a == HASH_HI else 0) & 0xFFFF_FFFF
        if done is not None:
            self.done(*done)
        return value

    def snapshot(self) -> str:
        """The bench's check line: starts, interrupt, instruction address and count, region bases."""
        insn_addr = self.words[INSN_HI] << 32 | self.words[INSN_LO]
        bases = 0
        for k in range(16):
            bases |= self.words[REGION + 4 * k] << (32 * k)
        irq = int(self.gie and self.isr)
        return f"C {self.starts:08x} {irq} {insn_addr:016x} {self.words[INSN_COUNT]:08x} {bases:0128x}"


def op(kind: int, addr: int = 0, data: int = 0, strb: int = 0, order: int = 0, delay: int = 0, cycles: int = 0) -> int:
    """One 128-bit bench operation (layout in tb_ctrl_regs.sv)."""
    return kind | addr << 4 | data << 16 | strb << 48 | order << 52 | delay << 54 | cycles << 64


class Script:
    """Operations for the bench and the lines the model expects back."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.model = CtrlModel(int(TINY.hash, 16))
        self.ops: list[int] = []
        self.expect: list[str] = []

    def _rand(self, bits: int = 32) -> int:
        return int(self.rng.integers(0, 1 << bits, dtype=np.uint64))

    def write(self, addr: int, data: int, strb: int = 0xF, with_done: bool = False) -> None:
        order, delay = int(self.rng.integers(3)), int(self.rng.integers(3))
        # a done pulse with a write or read brings new cycles; the status input keeps its value
        done = (self._rand(64), self.model.status) if with_done else None
        self.ops.append(op(WRITE_DONE if done else WRITE, addr, data, strb, order, delay, done[0] if done else 0))
        self.model.write(addr, data, strb, done)

    def read(self, addr: int, with_done: bool = False) -> None:
        delay = int(self.rng.integers(3))
        done = (self._rand(64), self.model.status) if with_done else None
        self.ops.append(op(READ_DONE if with_done else READ, addr, delay=delay, cycles=done[0] if done else 0))
        self.expect.append(f"R {self.model.read(addr, done):08x}")

    def done(self) -> None:
        cycles, status = self._rand(64), self._rand()
        self.ops.append(op(DONE, data=status, cycles=cycles))
        self.model.done(cycles, status)

    def wait(self, n: int) -> None:
        self.ops.append(op(WAIT, data=n))

    def check(self) -> None:
        self.ops.append(op(CHECK))
        self.expect.append(self.model.snapshot())


@pytest.fixture(scope="module")
def bench() -> VerilatorBuild:
    """tb_ctrl_regs, built once."""
    srcs = [*rtl_sources("tiny", ["tataa_ctrl_regs"]), TB_DIR / "tb_ctrl_regs.sv"]
    return build(TOP, srcs, ["-MAKEFLAGS", "OPT_FAST=-O0 OPT_GLOBAL=-O0"])  # the C++ compile dominates


def play(bench: VerilatorBuild, script: Script, work: Path) -> None:
    """Run the script on the bench and compare every logged line with the model's."""
    (work / "ops.hex").write_text("".join(f"{o:032x}\n" for o in script.ops))
    run(bench, {"n": len(script.ops)}, cwd=work, timeout=120)
    got = (work / "result.txt").read_text().splitlines()
    assert len(got) == len(script.expect)
    for k, (g, w) in enumerate(zip(got, script.expect, strict=True)):
        assert g == w, f"line {k}: bench {g!r}, model {w!r}"


def test_every_register_reads_back_what_the_map_says(bench, tmp_path) -> None:
    s = Script(np.random.default_rng(1))
    s.check()  # reset values
    for a in range(0, 0x80, 4):
        s.read(a)
    for a in RW_WORDS:  # full and partial writes of every R/W register
        s.write(a, s._rand())
        s.read(a)
        s.write(a, s._rand(), strb=int(s.rng.integers(16)))
        s.read(a)
    for a in (CYCLES_LO, CYCLES_HI, STATUS, HASH_LO, HASH_HI, 0x1C, 0x74, 0x100, 0xFFC):  # read-only, unmapped
        s.write(a, s._rand())
        s.read(a)
    s.read(0x10 | 3)  # address bits 1:0 are ignored
    for a in range(0, 0x80, 4):
        s.read(a)
    s.check()
    play(bench, s, tmp_path)


def test_start_done_handshake_and_clear_on_read(bench, tmp_path) -> None:
    s = Script(np.random.default_rng(2))
    s.write(AP_CTRL, 0)  # writing 0 starts nothing
    s.check()
    s.write(AP_CTRL, 1)  # start: ap_start clears, ap_idle falls
    s.check()
    s.read(AP_CTRL)
    s.write(AP_CTRL, 1)  # ap_start during a run waits for the run to end
    s.read(AP_CTRL)
    s.check()
    s.wait(5)
    s.done()  # ends run 1, starts run 2 at once
    s.check()
    s.read(AP_CTRL)  # done and ready set, then cleared by this read
    s.read(AP_CTRL)
    s.read(CYCLES_LO)
    s.read(CYCLES_HI)
    s.read(STATUS)
    s.done()
    s.read(AP_CTRL, with_done=False)
    s.write(AP_CTRL, 1)
    s.read(AP_CTRL, with_done=True)  # done in the cycle of the read: done stays set
    s.read(AP_CTRL)
    s.read(AP_CTRL)
    s.write(AP_CTRL, 1)
    s.write(AP_CTRL, 1, with_done=True)  # ap_start written as the run ends: the next run starts
    s.check()
    s.read(AP_CTRL)
    s.done()
    s.read(AP_CTRL)
    s.check()
    play(bench, s, tmp_path)


def test_interrupts(bench, tmp_path) -> None:
    s = Script(np.random.default_rng(3))
    s.write(AP_CTRL, 1)
    s.done()  # IER clear: ISR stays clear
    s.read(IP_ISR)
    s.write(IP_IER, 1)
    s.write(AP_CTRL, 1)
    s.done()  # ISR set, GIER clear: no interrupt
    s.read(IP_ISR)
    s.check()
    s.write(GIER, 1)  # now the interrupt line rises
    s.check()
    s.write(IP_ISR, 1)  # toggle on write clears it
    s.check()
    s.write(IP_ISR, 1)  # ... and sets it
    s.check()
    s.write(IP_ISR, 0)  # writing 0 changes nothing
    s.write(IP_ISR, 1, strb=0xE)  # nor does a write without byte 0
    s.check()
    s.write(AP_CTRL, 1)
    s.write(IP_ISR, 1, with_done=True)  # ISR is set; a done pulse as a toggle clears it: the set wins
    s.check()
    s.write(IP_ISR, 1)
    s.write(AP_CTRL, 1)
    s.write(IP_IER, 0, with_done=True)  # done in the cycle IER is cleared: the old enable counts
    s.read(IP_ISR)
    s.check()
    play(bench, s, tmp_path)


def test_random_register_traffic(bench, tmp_path) -> None:
    s = Script(np.random.default_rng(4))
    addrs = [*range(0, 0x80, 4), 0x200, 0xFFC]
    for _ in range(600):
        r = s.rng.random()
        a = int(s.rng.choice(addrs))
        with_done = s.model.running and s.rng.random() < 0.2
        if r < 0.1:
            s.write(AP_CTRL, s._rand() | 1, with_done=with_done)
        elif r < 0.35:
            s.write(a, s._rand(), strb=int(s.rng.choice([0xF, s.rng.integers(16)])), with_done=with_done)
        elif r < 0.75:
            s.read(a, with_done=s.model.running and a == AP_CTRL and s.rng.random() < 0.3)
        elif r < 0.85 and s.model.running:
            s.done()
        elif r < 0.9:
            s.wait(int(s.rng.integers(1, 4)))
        else:
            s.check()
    s.check()
    assert s.model.starts > 20
    play(bench, s, tmp_path)


def test_tools_accept_ctrl_regs(tmp_path) -> None:
    """verilator --lint-only -Wall, Yosys (proc; opt) and iverilog -g2012 accept the module without a word."""
    problems = tool_checks("tataa_ctrl_regs", [str(p) for p in rtl_sources("tiny", ["tataa_ctrl_regs"])], tmp_path)
    assert not problems, "\n".join(problems)


def tool_checks(top: str, sources: list[str], work: Path, lint_args: tuple[str, ...] = ()) -> list[str]:
    """Complaints of verilator -Wall, yosys and iverilog about `top` (a missing tool is a complaint too)."""
    cmds = {
        "verilator": ["verilator", "--lint-only", "-Wall", *lint_args, "--top-module", top, *sources],
        "yosys": ["yosys", "-q", "-p", f"read_verilog -sv {' '.join(sources)}; hierarchy -check -top {top}; proc; opt"],
        "iverilog": ["iverilog", "-g2012", "-s", top, "-o", str(work / f"{top}.vvp"), *sources],
    }
    problems = []
    for tool, cmd in cmds.items():
        if tool_path(tool) is None:
            problems.append(f"{tool}: not installed")
            continue
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=work, timeout=300)
        out = (res.stdout + res.stderr).strip()
        if res.returncode != 0 or out:
            problems.append(f"{tool} {' '.join(lint_args)} (exit {res.returncode}):\n{out[-3000:]}")
    return problems
