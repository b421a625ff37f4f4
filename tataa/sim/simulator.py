"""The simulator: a checked, timed program run functionally on numpy state.

Construction does everything that does not depend on data: configuration and program checks, one
kernel per instruction (address ranges, hazards, index arrays) and the cycle schedule (or the deadlock
report). :meth:`Simulator.run` then executes the kernels in simulated start-time order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tataa import config
from tataa.config import HwConfig
from tataa.errors import SimError
from tataa.isa.spec import Buffer, Opcode, Unit
from tataa.program import Program, Region
from tataa.sim import execute, timing, validate
from tataa.sim.state import ELEM_BYTES, MachineState


@dataclass(frozen=True)
class TraceEvent:
    """One executed instruction: program index, opcode and unit names, and its cycles [start, end)."""

    index: int
    opcode: str
    unit: str
    start: int
    end: int
    dispatch: int  # cycle fetch put it into its unit's queue


@dataclass(frozen=True)
class SimStats:
    """Counters of one run (dicts keyed by unit, opcode or FIFO name; treat them as read-only)."""

    busy_cycles: dict[str, int]  # unit -> cycles spent executing instructions
    stall_cycles: dict[str, int]  # unit -> cycles a dispatched, unit-ready instruction waited for tokens
    fetch_stall_cycles: int  # cycles fetch waited because the target queue was full
    insn_counts: dict[str, int]  # opcode -> instructions executed (every opcode listed)
    array_macs: int  # int8 MACs issued by the array: rows * N * N per (k, n) tile
    dma_bytes_loaded: int
    dma_bytes_stored: int
    tokens_left: dict[str, int]  # FIFO -> tokens pushed but never popped by the end of the program


@dataclass(frozen=True)
class SimResult:
    """Final HBM images (region index -> uint8 array), total cycles, counters and (if asked) the trace."""

    images: dict[int, np.ndarray]
    cycles: int
    stats: SimStats | None  # None for backends without these counters (the RTL reports cycles only)
    trace: tuple[TraceEvent, ...] = ()


def initial_images(program: Program) -> dict[int, np.ndarray]:
    """Every region's starting image: its init bytes followed by zeros."""
    out = {}
    for r in program.regions:
        img = np.zeros(r.size, np.uint8)
        img[: len(r.init)] = np.frombuffer(r.init, np.uint8)
        out[r.index] = img
    return out


def _stats(program: Program, cfg: HwConfig, sched: timing.Schedule) -> SimStats:
    n = cfg.array_size
    counts = Counter(i.opcode.name for i in program.instructions)
    macs = loaded = stored = 0
    for insn in program.instructions:
        op = insn.opcode
        if op is Opcode.GEMM:
            macs += insn["rows"] * n * n * insn["ktiles"] * insn["ntiles"]
        elif op is Opcode.LOAD or op is Opcode.STORE:
            nbytes = insn["rows"] * insn["cols"] * ELEM_BYTES[Buffer(insn["buf"])]
            if op is Opcode.LOAD:
                loaded += nbytes
            else:
                stored += nbytes
    return SimStats(
        busy_cycles={u.name: sched.busy[u] for u in Unit},
        stall_cycles={u.name: sched.token_stall[u] for u in Unit},
        fetch_stall_cycles=sched.fetch_stall,
        insn_counts={op.name: counts.get(op.name, 0) for op in Opcode},
        array_macs=macs,
        dma_bytes_loaded=loaded,
        dma_bytes_stored=stored,
        tokens_left=dict(zip(timing.FIFOS, sched.tokens_left, strict=True)),
    )


class Simulator:
    """Bit-accurate, cycle-counting simulator of one core running `program` (see docs/semantics.md)."""

    def __init__(self, program: Program, cfg: HwConfig | None = None, trace: bool = False) -> None:
        self.program = program
        self.cfg = cfg if cfg is not None else config.load(program.config_name)
        self.trace = trace
        validate.check_config(program, self.cfg)
        validate.check_finish(program)
        units = validate.check_instructions(program)
        self._regions: dict[int, Region] = {r.index: r for r in program.regions}
        insns = program.instructions
        kernels = [execute.compile_insn(i, insn, self.cfg, self._regions) for i, insn in enumerate(insns)]
        durations = [timing.duration(insn, self.cfg) for insn in program.instructions]
        self.schedule = timing.schedule(
            program.instructions, units, durations, self.cfg.insn_queue_depth, timing.fetch_prologue(self.cfg)
        )
        start = self.schedule.start
        order = sorted(range(len(kernels)), key=lambda i: (start[i], i))
        self._kernels = [k for i in order if (k := kernels[i]) is not None]
        self.stats = _stats(program, self.cfg, self.schedule)
        self._units = units

    @property
    def cycles(self) -> int:
        """Total cycles of the program (end of FINISH)."""
        return self.schedule.cycles

    def trace_events(self) -> tuple[TraceEvent, ...]:
        """One event per instruction, in program order."""
        s = self.schedule
        return tuple(
            TraceEvent(i, insn.opcode.name, self._units[i].name, s.start[i], s.end[i], s.dispatch[i])
            for i, insn in enumerate(self.program.instructions)
        )

    def _images(self, images: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        out = initial_images(self.program)
        for idx, img in images.items():
            region = self._regions.get(idx)
            if region is None:
                known = ", ".join(f"{r.index} ({r.name!r})" for r in self.program.regions) or "none"
                raise SimError(f"image given for region {idx}, which the program does not have; regions: {known}")
            arr = np.asarray(img)
            if arr.dtype != np.uint8 or arr.shape != (region.size,):
                raise SimError(
                    f"image of region {idx} {region.name!r} must be a uint8 array of shape ({region.size},), "
                    f"got {arr.dtype} {arr.shape}"
                )
            out[idx] = np.array(arr, np.uint8, order="C", copy=True)
        return out

    def run(self, images: Mapping[int, np.ndarray] | None = None) -> SimResult:
        """Run the program from reset over the given region images (missing ones: init image + zeros)."""
        st = MachineState.reset(self.cfg, self._images(images or {}))
        for kernel in self._kernels:
            kernel(st)
        trace = self.trace_events() if self.trace else ()
        return SimResult(st.hbm, self.schedule.cycles, self.stats, trace)
