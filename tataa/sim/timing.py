"""Cycle model: instruction durations, in-order fetch into per-unit queues, token-synchronised units.

The formulas are documented in docs/timing.md. Timing depends only on the instruction stream, never on
data, so the whole schedule (and any deadlock) is computed before the program runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tataa.config import HwConfig
from tataa.errors import DeadlockError
from tataa.isa.spec import VFUNCT_DEFS, Buffer, Instruction, Opcode, Unit, VFunct, VKind
from tataa.sim.describe import insn_text
from tataa.sim.state import ELEM_BYTES

# Token FIFOs, by index.
FIFOS: tuple[str, ...] = ("LOAD->COMPUTE", "COMPUTE->LOAD", "COMPUTE->STORE", "STORE->COMPUTE")
L2C, C2L, C2S, S2C = range(4)
# (unit, flag) -> FIFO the flag pops from or pushes to.
POP_FIFO: dict[tuple[Unit, str], int] = {
    (Unit.LOAD, "pop_next"): C2L,
    (Unit.COMPUTE, "pop_prev"): L2C,
    (Unit.COMPUTE, "pop_next"): S2C,
    (Unit.STORE, "pop_prev"): C2S,
}
PUSH_FIFO: dict[tuple[Unit, str], int] = {
    (Unit.LOAD, "push_next"): L2C,
    (Unit.COMPUTE, "push_prev"): C2L,
    (Unit.COMPUTE, "push_next"): C2S,
    (Unit.STORE, "push_prev"): S2C,
}


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# Fixed cycles of a DMA instruction besides the HBM latency: issue and drain of the data path (LOAD),
# plus the write-response handshake (STORE).
DMA_LOAD_OVERHEAD = 2
DMA_STORE_OVERHEAD = 4


def aligned_dma_cycles(cfg: HwConfig, rows: int, cols: int, elem_bytes: int, store: bool) -> int:
    """Cycles of a LOAD/STORE whose rows all start on a bus beat (what planners assume for estimates)."""
    per_row = max(_ceil_div(cols * elem_bytes, cfg.dma_bytes_per_cycle), _ceil_div(cols, cfg.array_size))
    return cfg.dma_latency + (DMA_STORE_OVERHEAD if store else DMA_LOAD_OVERHEAD) + rows * per_row


def dma_duration(f: dict[str, int], cfg: HwConfig, store: bool) -> int:
    """Cycles of a LOAD/STORE: latency + overhead + per row the larger of its HBM beats and buffer words.

    A row's beats are those of the bus-aligned span covering its bytes (regions start 4 KiB-aligned, so the
    alignment is that of dram_offset + y * dram_stride). A LOAD spends one more cycle on a misaligned row
    that needs no extra beat when it is the last row or the next row is aligned (the realignment buffer
    drains), which is visible when a buffer word is at least as wide as the bus.
    """
    bus = cfg.dma_bytes_per_cycle
    eb = ELEM_BYTES[Buffer(f["buf"])]
    row_bytes = f["cols"] * eb
    words = _ceil_div(f["cols"], cfg.array_size)
    rows = f["rows"]
    fixed = cfg.dma_latency + (DMA_STORE_OVERHEAD if store else DMA_LOAD_OVERHEAD)
    if rows == 0 or row_bytes == 0:
        return fixed
    if f["dram_stride"] % bus == 0 and f["dram_offset"] % bus == 0:  # every row beat-aligned
        return aligned_dma_cycles(cfg, rows, f["cols"], eb, store)
    misaligned = [(f["dram_offset"] + y * f["dram_stride"]) % bus for y in range(rows)]
    total = fixed
    pend_visible = not store and cfg.array_size * eb >= bus
    for y, mis in enumerate(misaligned):
        beats = _ceil_div(mis + row_bytes, bus)
        total += max(beats, words)
        if pend_visible and mis and beats == _ceil_div(row_bytes, bus) and (y == rows - 1 or not misaligned[y + 1]):
            total += 1
    return total


def gemm_duration(cfg: HwConfig, rows: int, ktiles: int, ntiles: int, clear: bool = False) -> int:
    """Cycles of a GEMM: first weight tile, one max(rows, N) per tile, fill and drain."""
    n = cfg.array_size
    cycles = n + ktiles * ntiles * max(rows, n) + 2 * n
    if ktiles == 0 and clear:
        cycles += ntiles * rows  # clearing without a product writes one ACC word per cycle
    return cycles


def requant_duration(cfg: HwConfig, tiles: int, rows: int) -> int:
    """Cycles of a REQUANT: the pipeline, then one accumulator word per cycle."""
    return cfg.simd_pipeline_depth + tiles * rows


def duration(insn: Instruction, cfg: HwConfig) -> int:
    """Cycles `insn` occupies its unit (FINISH: 1, before waiting for the other units to drain)."""
    op = insn.opcode
    f = insn.as_dict()
    if op is Opcode.LOAD or op is Opcode.STORE:
        return dma_duration(f, cfg, store=op is Opcode.STORE)
    if op is Opcode.GEMM:
        return gemm_duration(cfg, f["rows"], f["ktiles"], f["ntiles"], bool(f["clear"]))
    if op is Opcode.REQUANT:
        return requant_duration(cfg, f["tiles"], f["rows"])
    if op is Opcode.VOP:
        cycles = cfg.simd_pipeline_depth + _ceil_div(f["outer"] * f["inner"], cfg.simd_words_per_cycle)
        if VFUNCT_DEFS[VFunct(f["funct"])].kind is VKind.REDUCE:
            cycles += cfg.array_size.bit_length() - 1
        return cycles
    if op is Opcode.MODE:
        return cfg.mode_switch_cycles
    return 1  # SETC, NOP, FINISH


@dataclass(frozen=True)
class Schedule:
    """When every instruction was dispatched, started and ended, plus the stall and token accounting."""

    dispatch: tuple[int, ...]
    start: tuple[int, ...]
    end: tuple[int, ...]
    cycles: int  # end of FINISH
    busy: tuple[int, int, int]  # per unit (LOAD, COMPUTE, STORE): cycles spent executing
    token_stall: tuple[int, int, int]  # per unit: cycles an instruction was ready but waited for a token
    fetch_stall: int  # cycles fetch waited for room in a full queue
    tokens_left: tuple[int, int, int, int]  # per FIFO: tokens never consumed


def fetch_prologue(cfg: HwConfig) -> int:
    """Cycles from the start of a run until the first instruction can be dispatched.

    Instruction fetch reads 128-bit words over its own AXI port: the first burst is requested in the
    cycle after start, its first beat arrives dma_latency cycles later and is dispatched the cycle after.
    """
    return cfg.dma_latency + 2


def schedule(
    insns: Sequence[Instruction],
    units: Sequence[Unit],
    durations: Sequence[int],
    queue_depth: int,
    prologue: int = 0,
) -> Schedule:
    """Time every instruction of a program whose last instruction is FINISH; DeadlockError if it cannot finish.

    `prologue` is the dispatch cycle of the first instruction (see fetch_prologue).

    Each quantity is a max-plus function of earlier events, evaluated in dependency order (no cycle loop).
    """
    n = len(insns)
    unit = [int(u) for u in units]
    pops: list[tuple[int, ...]] = []
    pushes: list[tuple[int, ...]] = []
    for insn, u in zip(insns, units, strict=True):
        pops.append(tuple(POP_FIFO[u, fl] for fl in ("pop_prev", "pop_next") if insn[fl]))
        pushes.append(tuple(PUSH_FIFO[u, fl] for fl in ("push_prev", "push_next") if insn[fl]))
    seq: list[list[int]] = [[], [], []]
    pos = [0] * n
    for i, u in enumerate(unit):
        pos[i] = len(seq[u])
        seq[u].append(i)
    finish = n - 1
    dis, start, end = [0] * n, [0] * n, [0] * n
    head, free = [0, 0, 0], [0, 0, 0]
    busy, stall = [0, 0, 0], [0, 0, 0]
    push_at: list[list[int]] = [[], [], [], []]  # end cycles of the pushes to each FIFO, in order
    popped = [0, 0, 0, 0]
    fetched, last_dispatch, fetch_stall = 0, prologue - 1, 0
    while True:
        progress = False
        while fetched < n:  # fetch: one per cycle, in order, into the target unit's queue
            i = fetched
            u, p = unit[i], pos[i]
            t = last_dispatch + 1
            if p >= queue_depth:
                if head[u] <= p - queue_depth:
                    break  # the queue is full until that earlier instruction starts
                t = max(t, start[seq[u][p - queue_depth]])
            fetch_stall += t - (last_dispatch + 1)
            dis[i] = last_dispatch = t
            fetched += 1
            progress = True
        for u in range(3):
            sq = seq[u]
            while head[u] < len(sq):
                i = sq[head[u]]
                if i >= fetched:
                    break
                ready = max(dis[i] + 1, free[u])
                t = ready
                blocked = False
                for fi in pops[i]:
                    if popped[fi] >= len(push_at[fi]):
                        blocked = True
                        break
                    t = max(t, push_at[fi][popped[fi]])
                if blocked:
                    break
                if i == finish:
                    if any(head[v] < len(seq[v]) for v in range(3) if v != u):
                        break
                    e = max(t + durations[i], *free)
                else:
                    e = t + durations[i]
                for fi in pops[i]:
                    popped[fi] += 1
                for fi in pushes[i]:
                    push_at[fi].append(e)
                start[i], end[i], free[u] = t, e, e
                busy[u] += durations[i]
                stall[u] += t - ready
                head[u] += 1
                progress = True
        if head[unit[finish]] == len(seq[unit[finish]]) and fetched == n:
            break
        if not progress:
            raise DeadlockError(
                _deadlock_report(insns, unit, seq, head, fetched, pops, pushes, push_at, popped, queue_depth)
            )
    left = tuple(len(push_at[f]) - popped[f] for f in range(4))
    return Schedule(
        tuple(dis),
        tuple(start),
        tuple(end),
        end[finish],
        (busy[0], busy[1], busy[2]),
        (stall[0], stall[1], stall[2]),
        fetch_stall,
        left,  # type: ignore[arg-type]
    )


def _deadlock_report(
    insns: Sequence[Instruction],
    unit: list[int],
    seq: list[list[int]],
    head: list[int],
    fetched: int,
    pops: list[tuple[int, ...]],
    pushes: list[tuple[int, ...]],
    push_at: list[list[int]],
    popped: list[int],
    queue_depth: int,
) -> str:
    total_pop = [sum(fi in p for p in pops) for fi in range(4)]
    total_push = [sum(fi in p for p in pushes) for fi in range(4)]
    lines = ["deadlock: no unit can make progress"]
    for u in range(3):
        name = Unit(u).name
        if head[u] == len(seq[u]):
            lines.append(f"  {name}: done")
            continue
        i = seq[u][head[u]]
        what = f"#{i} ({insn_text(insns[i])})"
        if i >= fetched:
            lines.append(f"  {name}: next instruction {what} not dispatched yet (fetch is stalled)")
            continue
        waits = [FIFOS[fi] for fi in pops[i] if popped[fi] >= len(push_at[fi])]
        if waits:
            lines.append(f"  {name}: {what} waits for a token on FIFO {', '.join(waits)}")
        else:
            others = [Unit(v).name for v in range(3) if v != u and head[v] < len(seq[v])]
            lines.append(f"  {name}: {what} waits for {', '.join(others)} to drain")
    if fetched < len(insns):
        u = unit[fetched]
        lines.append(
            f"  fetch: stalled at #{fetched} ({insn_text(insns[fetched])}): the {Unit(u).name} queue is full "
            f"({queue_depth} entries)"
        )
    counts = ", ".join(
        f"{FIFOS[fi]}: {len(push_at[fi]) - popped[fi]} available (program pushes {total_push[fi]}, "
        f"pops {total_pop[fi]})"
        for fi in range(4)
    )
    lines.append(f"  token FIFOs: {counts}")
    return "\n".join(lines)
