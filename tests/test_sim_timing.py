"""Cycle model (docs/timing.md): hand-computed cycle counts, overlap through tokens, deadlocks, the trace."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_programs import TINY, N, flags, load, program, region, store
from sim_reference import reference_run

from tataa.errors import DeadlockError
from tataa.isa.spec import Buffer, Mode, Opcode, OutType, Unit, VFunct, make
from tataa.sim import Simulator, duration
from tataa.sim.timing import DMA_LOAD_OVERHEAD, DMA_STORE_OVERHEAD, fetch_prologue

FINISH = make(Opcode.FINISH)

# tiny: N = 8, dma_latency 16, 8 DMA bytes per cycle, SIMD pipeline 4, 1 SIMD word per cycle, queues of 16,
# mode switch 8.
assert (N, TINY.dma_latency, TINY.dma_bytes_per_cycle, TINY.simd_pipeline_depth) == (8, 16, 8, 4)
assert (TINY.simd_words_per_cycle, TINY.insn_queue_depth, TINY.mode_switch_cycles) == (1, 16, 8)
# The first instruction is dispatched after the fetch prologue (dma_latency + 2); DMA instructions pay a fixed
# overhead on top of the latency: 2 cycles (LOAD) and 4 (STORE).
F = 18
assert (fetch_prologue(TINY), DMA_LOAD_OVERHEAD, DMA_STORE_OVERHEAD) == (F, 2, 4)


def events(prog):
    res = Simulator(prog, trace=True).run()
    return res, {e.index: e for e in res.trace}


def test_finish_alone_takes_two_cycles() -> None:
    res, ev = events(program([]))
    assert (ev[0].dispatch, ev[0].start, ev[0].end, res.cycles) == (F, F + 1, F + 2, F + 2)


def test_load_gemm_store_chain() -> None:
    prog = program(
        [
            load(Buffer.INP, sram_ystride=1, sram_wstride=4, rows=4, cols=16, dram_reg=0, dram_stride=16, push_next=1),
            make(Opcode.GEMM, clear=1, rows=4, ktiles=2, ntiles=1, inp_kstride=4, pop_prev=1, push_next=1),
            store(Buffer.ACC, sram_ystride=1, rows=4, cols=8, dram_reg=1, dram_stride=32, pop_prev=1),
        ],
        [region(0, 64), region(1, 128)],
    )
    res, ev = events(prog)
    # LOAD: 16 + 2 + 4 rows * max(ceil(16 B / 8), 2 words) = 26, from cycle F + 1 (dispatched at F)
    assert (ev[0].start, ev[0].end) == (F + 1, F + 27)
    # GEMM: 8 + 2*1*max(4, 8) + 2*8 = 40, waits for the LOAD token
    assert (ev[1].dispatch, ev[1].start, ev[1].end) == (F + 1, F + 27, F + 67)
    # STORE: 16 + 4 + 4 rows * max(ceil(32 B / 8), 1 word) = 36, waits for the GEMM token
    assert (ev[2].start, ev[2].end) == (F + 67, F + 103)
    # FINISH starts when COMPUTE is free and ends when the STORE unit has drained
    assert (ev[3].start, ev[3].end, res.cycles) == (F + 67, F + 103, F + 103)
    s = res.stats
    assert s.busy_cycles == {"LOAD": 26, "COMPUTE": 41, "STORE": 36}
    assert s.stall_cycles == {"LOAD": 0, "COMPUTE": (F + 27) - (F + 2), "STORE": (F + 67) - (F + 3)}
    assert (s.fetch_stall_cycles, s.dma_bytes_loaded, s.dma_bytes_stored, s.array_macs) == (0, 64, 128, 4 * 64 * 2)
    assert s.insn_counts["GEMM"] == 1 and s.insn_counts["VOP"] == 0 and sum(s.insn_counts.values()) == 4


def test_compute_durations() -> None:
    prog = program(
        [
            make(Opcode.MODE, mode=Mode.SIMD),  # 8
            make(Opcode.SETC, idx=1, value=0x3F80),  # 1
            make(
                Opcode.VOP,
                funct=VFunct.ADD,
                outer=2,
                inner=3,
                a_base=0,
                b_base=0,
                dst_base=20,
                dst_ostride=3,
                dst_istride=1,
            ),  # 4 + 6
            make(
                Opcode.VOP, funct=VFunct.REDSUM, outer=2, inner=3, a_ostride=3, a_istride=1, dst_base=30, dst_ostride=1
            ),  # 4 + 6 + log2(8)
            make(
                Opcode.REQUANT,
                out_type=OutType.BF16,
                tiles=2,
                rows=3,
                acc_tstride=3,
                dst_tstride=3,
                dst_mstride=1,
                dst_base=40,
            ),  # 4 + 6
            make(Opcode.NOP, unit=Unit.COMPUTE),  # 1
        ]
    )
    res, ev = events(prog)
    expect = [(1, 9), (9, 10), (10, 20), (20, 33), (33, 43), (43, 44), (44, 45)]
    assert [(ev[i].start, ev[i].end) for i in range(7)] == [(F + a, F + b) for a, b in expect]
    assert res.cycles == F + 45


def test_units_run_in_parallel_without_tokens() -> None:
    prog = program(
        [
            load(Buffer.INP, rows=4, cols=16, dram_reg=0, dram_stride=16),
            store(Buffer.VEC, rows=2, cols=8, dram_reg=0, dram_stride=16),
        ],
        [region(0, 64)],
    )
    res, ev = events(prog)
    # LOAD: 16 + 2 + 4 * 2 = 26; STORE: 16 + 4 + 2 * 2 = 24
    assert (ev[0].start, ev[0].end, ev[1].start, ev[1].end) == (F + 1, F + 27, F + 2, F + 26)
    assert res.cycles == F + 27


def test_full_queue_stalls_fetch() -> None:
    loads = [load(Buffer.INP, sram_base=i, rows=1, cols=8, dram_reg=0) for i in range(20)]  # 19 cycles each
    res, ev = events(program([*loads, make(Opcode.NOP, unit=Unit.COMPUTE)], [region(0, 8)]))
    # LOAD k starts at F + 1 + 19k; the 17th..20th LOAD enter the queue only when the one 16 places ahead starts
    assert [ev[k].start for k in range(20)] == [F + 1 + 19 * k for k in range(20)]
    assert [ev[k].dispatch for k in range(16, 20)] == [F + 16, F + 1 + 19, F + 1 + 38, F + 1 + 57]
    assert (ev[20].dispatch, ev[20].start) == (F + 59, F + 60)  # fetch is in order: the NOP waited too
    assert res.stats.fetch_stall_cycles == 3 + 18 + 18
    assert res.cycles == F + 1 + 19 * 20


def _tiles(double_buffer: bool) -> list:
    """4 tiles: LOAD 8 rows -> GEMM; serialized (each LOAD waits for the previous GEMM) or double-buffered."""
    insns = []
    for i in range(4):
        slot = i % 2 if double_buffer else 0
        wait = i >= 2 if double_buffer else i >= 1
        insns.append(
            load(
                Buffer.INP,
                sram_base=8 * slot,
                sram_ystride=1,
                rows=8,
                cols=8,
                dram_reg=0,
                dram_offset=64 * i,
                dram_stride=8,
                pop_next=int(wait),
                push_next=1,
            )
        )
        insns.append(
            make(
                Opcode.GEMM,
                clear=1,
                rows=8,
                ktiles=1,
                ntiles=1,
                inp_base=8 * slot,
                acc_base=8 * i,
                pop_prev=1,
                push_prev=1,
            )
        )
    insns[-1] = flags(insns[-1], push_next=1)
    insns.append(store(Buffer.ACC, sram_ystride=1, rows=32, cols=8, dram_reg=1, dram_stride=32, pop_prev=1))
    return insns


def test_overlapping_load_with_compute_shortens_the_run() -> None:
    regions = [region(0, 256), region(1, 32 * 32)]
    src = np.random.default_rng(0).integers(0, 256, 256, dtype=np.uint8)
    w = np.random.default_rng(1).integers(0, 256, N * N, dtype=np.uint8)
    pre = [load(Buffer.WGT, sram_ystride=1, rows=N, cols=N, dram_reg=2, dram_stride=N)]
    runs = {}
    for db in (False, True):
        prog = program(pre + _tiles(db), [*regions, region(2, N * N)])
        runs[db] = Simulator(prog).run({0: src, 2: w})
        np.testing.assert_array_equal(runs[db].images[1], reference_run(prog, TINY, {0: src, 2: w})[1])
    # LOAD 16 + 2 + 8 = 26, GEMM 8 + 8 + 16 = 32, STORE 16 + 4 + 32 * 4 = 148 cycles; the WGT load takes 26 first.
    # serialized: LOAD/GEMM alternate, 26 + 4 * (26 + 32) + 148 after the first cycle
    assert runs[False].cycles == F + 1 + 26 + 4 * 58 + 148
    # double-buffered: only LOAD 0 is exposed; LOADs 1-3 hide under GEMMs, which run back to back
    assert runs[True].cycles == F + 1 + 26 + 26 + 4 * 32 + 148
    assert runs[True].cycles < runs[False].cycles - 50
    assert runs[True].stats.tokens_left["COMPUTE->LOAD"] == 2 and runs[False].stats.tokens_left["COMPUTE->LOAD"] == 1


def deadlock(prog) -> str:
    with pytest.raises(DeadlockError) as e:
        Simulator(prog)
    return str(e.value)


def test_deadlock_on_a_token_never_pushed() -> None:
    msg = deadlock(program([store(Buffer.INP, rows=1, cols=1, dram_reg=0, pop_prev=1)], [region(0, 8)]))
    assert "STORE: #0 (STORE pop_prev" in msg and "waits for a token on FIFO COMPUTE->STORE" in msg
    assert "COMPUTE: #1 (FINISH) waits for STORE to drain" in msg and "LOAD: done" in msg
    assert "COMPUTE->STORE: 0 available (program pushes 0, pops 1)" in msg


def test_deadlock_on_a_token_cycle() -> None:
    msg = deadlock(
        program(
            [
                load(Buffer.INP, rows=1, cols=1, dram_reg=0, pop_next=1, push_next=1),
                make(Opcode.NOP, unit=Unit.COMPUTE, pop_prev=1, push_prev=1),
            ],
            [region(0, 8)],
        )
    )
    assert "LOAD: #0 (LOAD pop_next push_next" in msg and "FIFO COMPUTE->LOAD" in msg
    assert "COMPUTE: #1 (NOP pop_prev push_prev unit=COMPUTE) waits for a token on FIFO LOAD->COMPUTE" in msg
    assert "LOAD->COMPUTE: 0 available (program pushes 1, pops 1)" in msg


def test_deadlock_on_a_token_pushed_by_finish() -> None:
    msg = deadlock(
        program(
            [store(Buffer.INP, rows=1, cols=1, dram_reg=0, pop_prev=1), flags(FINISH, push_next=1)],
            [region(0, 8)],
            finish=False,
        )
    )
    assert "waits for STORE to drain" in msg and "COMPUTE->STORE: 0 available (program pushes 1, pops 1)" in msg


def test_deadlock_on_queue_capacity() -> None:
    wait = load(Buffer.INP, rows=1, cols=1, dram_reg=0, pop_next=1)
    more = [load(Buffer.INP, rows=1, cols=1, dram_reg=0) for _ in range(16)]
    release = make(Opcode.NOP, unit=Unit.COMPUTE, push_prev=1)
    msg = deadlock(program([wait, *more, release], [region(0, 8)]))
    assert "fetch: stalled at #16 (LOAD" in msg and "the LOAD queue is full (16 entries)" in msg
    assert "LOAD: #0 (LOAD pop_next" in msg and "waits for a token on FIFO COMPUTE->LOAD" in msg
    assert "COMPUTE: next instruction #17 (NOP push_prev unit=COMPUTE) not dispatched yet" in msg
    # one LOAD fewer fits the queue, and the same tokens work
    Simulator(program([wait, *more[:-1], release], [region(0, 8)])).run()
    Simulator(program([release, wait, *more], [region(0, 8)])).run()


def test_tokens_left_over_at_finish_are_reported() -> None:
    prog = program(
        [
            make(Opcode.NOP, unit=Unit.LOAD, push_next=1),
            make(Opcode.NOP, unit=Unit.LOAD, push_next=1),
            make(Opcode.NOP, unit=Unit.COMPUTE, pop_prev=1, push_next=1),
        ]
    )
    res = Simulator(prog).run()
    assert res.stats.tokens_left == {"LOAD->COMPUTE": 1, "COMPUTE->LOAD": 0, "COMPUTE->STORE": 1, "STORE->COMPUTE": 0}


def check_trace(prog, res) -> None:
    """Trace events against the timing rules of docs/timing.md."""
    ev = res.trace
    insns = prog.instructions
    assert [e.index for e in ev] == list(range(len(insns)))
    assert ev[-1].opcode == "FINISH" and ev[-1].end == res.cycles == max(e.end for e in ev)
    for prev, e in itertools.pairwise(ev):
        assert e.dispatch >= prev.dispatch + 1
    last_end = {u.name: 0 for u in Unit}
    busy = {u.name: 0 for u in Unit}
    for e, insn in zip(ev, insns, strict=True):
        assert e.unit == insn.unit.name and e.opcode == insn.opcode.name
        assert e.start >= max(e.dispatch + 1, last_end[e.unit])
        if insn.opcode is not Opcode.FINISH:
            assert e.end - e.start == duration(insn, TINY)
        last_end[e.unit] = e.end
        busy[e.unit] += duration(insn, TINY)
    assert busy == res.stats.busy_cycles
    # the k-th pop of a FIFO starts no earlier than the end of its k-th push
    fifo = {
        (Unit.LOAD, "push_next"): "LC",
        (Unit.COMPUTE, "pop_prev"): "LC",
        (Unit.COMPUTE, "push_prev"): "CL",
        (Unit.LOAD, "pop_next"): "CL",
        (Unit.COMPUTE, "push_next"): "CS",
        (Unit.STORE, "pop_prev"): "CS",
        (Unit.STORE, "push_prev"): "SC",
        (Unit.COMPUTE, "pop_next"): "SC",
    }
    pushes: dict[str, list[int]] = {k: [] for k in ("LC", "CL", "CS", "SC")}
    pops: dict[str, list[int]] = {k: [] for k in pushes}
    for e, insn in zip(ev, insns, strict=True):
        for fl in ("pop_prev", "pop_next", "push_prev", "push_next"):
            if insn[fl]:
                (pops if fl.startswith("pop") else pushes)[fifo[insn.unit, fl]].append(
                    e.start if fl.startswith("pop") else e.end
                )
    for k in pops:
        assert all(start >= end for start, end in zip(pops[k], pushes[k], strict=False))


@st.composite
def tiled_gemm_programs(draw):
    """LOAD -> GEMM -> STORE per tile with `depth`-deep buffering and correct token pairs.

    Every pop's matching push comes earlier in program order, which rules deadlock out (docs/timing.md).
    """
    tiles, depth = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    rows, kt, nt = draw(st.integers(1, 10)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    split_loads = draw(st.booleans())
    prefetch = depth >= 2 and draw(st.booleans())  # emit tile i+1's LOADs before tile i's GEMM and STORE
    k_len, inp_words, acc_words = kt * N, rows * kt, rows * nt
    insns, pending = [], []
    for i in range(tiles):
        s = i % depth
        inp_base, wgt_base, acc_base = 64 * s, 48 * s, 64 * s
        loads = [
            load(
                Buffer.INP,
                sram_base=inp_base,
                sram_ystride=1,
                sram_wstride=rows,
                rows=rows,
                cols=k_len,
                dram_reg=0,
                dram_offset=i * rows * k_len,
                dram_stride=k_len,
            )
        ]
        wl = dict(sram_base=wgt_base, sram_ystride=1, cols=N, dram_reg=1, dram_stride=N)
        if split_loads:
            loads += [
                load(
                    Buffer.WGT,
                    rows=kt * N,
                    dram_offset=(i * nt + n) * kt * N * N,
                    **{**wl, "sram_base": wgt_base + n * kt * N},
                )
                for n in range(nt)
            ]
        else:
            loads.append(load(Buffer.WGT, rows=nt * kt * N, dram_offset=i * nt * kt * N * N, **wl))
        loads[0] = flags(loads[0], pop_next=int(i >= depth))
        loads[-1] = flags(loads[-1], push_next=1)
        gemm = make(
            Opcode.GEMM,
            clear=1,
            rows=rows,
            ktiles=kt,
            ntiles=nt,
            inp_base=inp_base,
            inp_kstride=rows,
            wgt_base=wgt_base,
            acc_base=acc_base,
            acc_nstride=rows,
            pop_prev=1,
            pop_next=int(i >= depth),
            push_prev=1,
            push_next=1,
        )
        st_ = store(
            Buffer.ACC,
            sram_base=acc_base,
            sram_ystride=1,
            sram_wstride=rows,
            rows=rows,
            cols=nt * N,
            dram_reg=2,
            dram_offset=i * rows * nt * N * 4,
            dram_stride=nt * N * 4,
            pop_prev=1,
            push_prev=1,
        )
        if prefetch:
            insns += [*loads, *pending]
            pending = [gemm, st_]
        else:
            insns += [*loads, gemm, st_]
    insns += pending
    assert inp_words <= 64 and acc_words <= 64
    regions = [
        region(0, tiles * rows * k_len),
        region(1, tiles * nt * kt * N * N),
        region(2, tiles * rows * nt * N * 4),
    ]
    return program(insns, regions), tiles, depth, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=100, deadline=None)
@given(tiled_gemm_programs())
def test_random_tiled_programs_finish_and_compute_correctly(case) -> None:
    prog, tiles, depth, seed = case
    rng = np.random.default_rng(seed)
    imgs = {r.index: rng.integers(0, 256, r.size, dtype=np.uint8) for r in prog.regions[:2]}
    res = Simulator(prog, trace=True).run(imgs)
    np.testing.assert_array_equal(res.images[2], reference_run(prog, TINY, imgs)[2])
    check_trace(prog, res)
    left = min(tiles, depth)
    assert res.stats.tokens_left == {
        "LOAD->COMPUTE": 0,
        "COMPUTE->LOAD": left,
        "COMPUTE->STORE": 0,
        "STORE->COMPUTE": left,
    }
    assert res.cycles >= max(res.stats.busy_cycles.values())
