"""Schedule of one GEMM plan: the instructions of each unit, their dependencies, and the dependency tokens.

:func:`build_ops` walks the GEMM steps of a plan in order and creates, per unit, the LOAD / GEMM / REQUANT /
STORE operations with the data dependencies between them (RAW and WAR on buffer slots). Pieces of A and W
are cached in buffer slots with Belady's replacement (the future is known). :func:`resolve_tokens` turns
the cross-unit dependencies into the minimal set of token pushes and pops; :func:`stream_order` interleaves
the three units into one instruction stream by estimated start time, so every pop's push comes earlier.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable
from dataclasses import dataclass, field

from tataa.codegen.gemm_plan import (
    MAX_COLS,
    MAX_ROWS,
    OUT_ELEM_BYTES,
    GemmPlan,
    gemm_cycles,
    requant_cycles,
)
from tataa.config import HwConfig
from tataa.isa.spec import Buffer, Opcode, OutType, Unit
from tataa.program import TensorDesc
from tataa.sim.timing import dma_duration

# (producer unit, consumer unit) -> (producer's push flag, consumer's pop flag)
_TOKEN_FLAGS: dict[tuple[Unit, Unit], tuple[str, str]] = {
    (Unit.LOAD, Unit.COMPUTE): ("push_next", "pop_prev"),
    (Unit.COMPUTE, Unit.LOAD): ("push_prev", "pop_next"),
    (Unit.COMPUTE, Unit.STORE): ("push_next", "pop_prev"),
    (Unit.STORE, Unit.COMPUTE): ("push_prev", "pop_next"),
}
_UNIT_OF = {Opcode.LOAD: Unit.LOAD, Opcode.STORE: Unit.STORE}


@dataclass(eq=False)
class Op:
    """One instruction to be: its unit, opcode, fields, estimated cycles and the ops it must wait for."""

    unit: Unit
    opcode: Opcode
    fields: dict[str, int]
    cost: int
    deps: list[Op]
    seq: int = 0  # creation order (a topological order)
    start: int = 0  # estimated
    end: int = 0
    flags: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SramBases:
    """First word of every slot region of the plan in each buffer."""

    a: int  # INP: a_slots A-piece slots
    w: int  # WGT: w_slots W-piece slots
    acc: int  # ACC: acc_slots accumulator blocks
    scale: int  # ACC: packed scale words
    out: int  # INP (int8) or VEC (bf16): out_slots output blocks


@dataclass(frozen=True)
class GemmTensors:
    """HBM tensors of one GEMM: activations, packed weights, output, and optional bias and scales."""

    a: TensorDesc  # int8 [M, K] (any row stride)
    w: TensorDesc  # int8 [words, N_arr]: packed W-pieces (see gemm.pack_weights)
    out: TensorDesc  # [M, N] of the output dtype
    bias: TensorDesc | None  # int32 [nt * N_arr]
    scales: TensorDesc | None  # int32 [scale words, N_arr]


class _SlotCache:
    """Cache of pieces in equal slots, replaced by furthest next use (the future is known in advance)."""

    def __init__(self, nslots: int, uses: list[Hashable]) -> None:
        self.piece: list[Hashable | None] = [None] * nslots
        self.reader: list[Op | None] = [None] * nslots  # last op that read the slot's piece
        self.last_use = [-1] * nslots
        self.loaded: dict[Hashable, list[tuple[int, int, Op]]] = {}  # resident piece -> loaded (k0, k1, LOAD)
        self._steps: dict[Hashable, list[int]] = {}
        for j, p in enumerate(uses):
            self._steps.setdefault(p, []).append(j)

    def _next_use(self, p: Hashable, j: int) -> int:
        steps = self._steps[p]
        i = bisect.bisect_left(steps, j)
        return steps[i] if i < len(steps) else 1 << 60

    def lookup(self, p: Hashable, j: int) -> tuple[int, Op | None]:
        """(slot, op a first load must wait for) for piece `p` needed at step `j`; places `p` if absent."""
        if p in self.piece:
            return self.piece.index(p), None
        # Belady (furthest next use), but never the slot the previous step reads while another exists:
        # overwriting it would make the load wait for that step instead of overlapping with it
        best, key = 0, None
        for s, q in enumerate(self.piece):
            k = (1 << 61, -s) if q is None else (self._next_use(q, j), -self.last_use[s])
            if len(self.piece) > 1 and q is not None and self.last_use[s] == j - 1:
                k = (-1, -s)
            if key is None or k > key:
                best, key = s, k
        old = self.piece[best]
        if old is not None:
            self.loaded.pop(old, None)
        self.piece[best] = p
        self.loaded[p] = []
        return best, self.reader[best]

    def used(self, slot: int, j: int, reader: Op) -> None:
        """Record that step `j`'s `reader` reads `slot`."""
        self.reader[slot], self.last_use[slot] = reader, j


def _missing(have: list[tuple[int, int, Op]], k0: int, k1: int) -> list[tuple[int, int]]:
    """Sub-ranges of [k0, k1) not covered by the loaded ranges `have`."""
    out, at = [], k0
    for a, b, _ in sorted(have, key=lambda x: x[0]):
        if b <= at or a >= k1:
            continue
        if a > at:
            out.append((at, a))
        at = max(at, b)
    if at < k1:
        out.append((at, k1))
    return out


class _Builder:
    """Creates ops in a topological order and keeps the estimated timing up to date."""

    def __init__(self, cfg: HwConfig, serial: bool) -> None:
        self.cfg = cfg
        self.serial = serial
        self.ops: list[Op] = []
        self._free = {u: 0 for u in Unit}

    def add(self, unit: Unit, opcode: Opcode, fields: dict[str, int], cost: int, deps: list[Op | None]) -> Op:
        real = [d for d in deps if d is not None]
        if self.serial and self.ops:
            last = self.ops[-1]
            if {last.unit, unit} == {Unit.LOAD, Unit.STORE}:
                last = self.add(Unit.COMPUTE, Opcode.NOP, {"unit": int(Unit.COMPUTE)}, 1, [])
            real.append(last)
        op = Op(unit, opcode, fields, cost, real, seq=len(self.ops))
        op.start = max([self._free[unit], *(d.end for d in real)])
        op.end = self._free[unit] = op.start + cost
        self.ops.append(op)
        return op

    def nop(self, deps: list[Op | None]) -> Op:
        """A COMPUTE NOP relaying tokens between STORE and LOAD."""
        return self.add(Unit.COMPUTE, Opcode.NOP, {"unit": int(Unit.COMPUTE)}, 1, deps)


def _dma_op(b: _Builder, opcode: Opcode, buf: Buffer, elem_bytes: int, deps: list[Op | None], **f: int) -> Op:
    fields = {"buf": int(buf), "sram_ystride": 1, "sram_wstride": 1, **f}
    cost = dma_duration({"dram_offset": 0, "dram_stride": 0, **fields}, b.cfg, store=opcode is Opcode.STORE)
    return b.add(_UNIT_OF[opcode], opcode, fields, cost, deps)


def build_ops(cfg: HwConfig, plan: GemmPlan, t: GemmTensors, sram: SramBases) -> list[Op]:
    """Every op of the GEMM, in a topological creation order, with dependencies and estimated times."""
    spec, arr, mb = plan.spec, plan.arr, plan.mb
    b = _Builder(cfg, plan.serial)
    n_m, n_n = plan.n_mblocks, plan.n_nblocks
    if plan.order == "mnk":
        blocks = [(mi, ni) for mi in range(n_m) for ni in range(n_n)]
    else:
        blocks = [(mi, ni) for ni in range(n_n) for mi in range(n_m)]
    krest_start = [sum(plan.krest[:i]) for i in range(len(plan.krest))]
    steps = []  # (block, mi, ni, ki, k0, k1, A-group, group k0)
    for bi, (mi, ni) in enumerate(blocks):
        k0 = 0
        for ki, kb in enumerate(plan.kparts(ni)):
            if plan.a_resident:
                group, g0 = (mi,), 0
            else:
                group, g0 = (mi, ki), krest_start[ki]
            steps.append((bi, mi, ni, ki, k0, k0 + kb, group, g0))
            k0 += kb
    a_cache = _SlotCache(plan.a_slots, [st[6] for st in steps])
    w_cache = _SlotCache(plan.w_slots, [(st[2], st[3]) for st in steps])
    int32_out = spec.out_dtype == "int32"
    out_eb = OUT_ELEM_BYTES[spec.out_dtype]
    acc_release: list[Op | None] = [None] * plan.acc_slots  # last reader of each ACC slot's previous block
    out_release: list[Op | None] = [None] * max(plan.out_slots, 1)
    relays: dict[int, Op] = {}  # block -> COMPUTE NOP after which its bias may be loaded (int32 + bias)
    block_stores: dict[int, Op] = {}
    scale_load: Op | None = None
    max_row_tiles = MAX_COLS // arr

    def load_a(mi: int, k0: int, k1: int, slot_base: int, g0: int, wait: Op | None) -> Op:
        c0, c1 = k0 * arr, min(spec.k, k1 * arr)
        op: Op | None = None
        step = max_row_tiles * arr
        for col in range(c0, c1, step):
            op = _dma_op(
                b,
                Opcode.LOAD,
                Buffer.INP,
                1,
                [wait],
                sram_base=slot_base + (col // arr - g0) * mb,
                sram_wstride=mb,
                rows=plan.mrows(mi),
                cols=min(step, c1 - col),
                dram_reg=t.a.region,
                dram_offset=t.a.offset + mi * mb * t.a.stride + col,
                dram_stride=t.a.stride,
            )
            wait = None
        assert op is not None
        return op

    def load_w(ni: int, ki: int, slot_base: int, wait: Op | None) -> Op:
        words = plan.ntiles(ni) * plan.kparts(ni)[ki] * arr
        src_word = plan.w_piece_offset(ni, ki)
        per_row = min(arr, _pow2_floor(MAX_COLS // arr))  # words per DMA row (one tile when it fits)
        rows_total = words // per_row
        op: Op | None = None
        for r0 in range(0, rows_total, MAX_ROWS):
            op = _dma_op(
                b,
                Opcode.LOAD,
                Buffer.WGT,
                1,
                [wait],
                sram_base=slot_base + r0 * per_row,
                sram_ystride=per_row,
                rows=min(MAX_ROWS, rows_total - r0),
                cols=per_row * arr,
                dram_reg=t.w.region,
                dram_offset=t.w.offset + (src_word + r0 * per_row) * arr,
                dram_stride=per_row * arr,
            )
            wait = None
        assert op is not None
        return op

    def load_bias(mi: int, ni: int, acc_base: int, wait: Op | None) -> Op:
        assert t.bias is not None
        op: Op | None = None
        ntiles = plan.ntiles(ni)
        for t0 in range(0, ntiles, max_row_tiles):
            op = _dma_op(
                b,
                Opcode.LOAD,
                Buffer.ACC,
                4,
                [wait],
                sram_base=acc_base + t0 * mb,
                sram_wstride=mb,
                rows=plan.mrows(mi),
                cols=min(max_row_tiles, ntiles - t0) * arr,
                dram_reg=t.bias.region,
                dram_offset=t.bias.offset + (ni * plan.nb + t0) * arr * 4,
                dram_stride=0,
            )
            wait = None
        assert op is not None
        return op

    def load_scales() -> Op:
        assert t.scales is not None
        words = plan.scale_words
        op: Op | None = None
        for r0 in range(0, words, MAX_ROWS):
            op = _dma_op(
                b,
                Opcode.LOAD,
                Buffer.ACC,
                4,
                [],
                sram_base=sram.scale + r0,
                rows=min(MAX_ROWS, words - r0),
                cols=arr,
                dram_reg=t.scales.region,
                dram_offset=t.scales.offset + r0 * arr * 4,
                dram_stride=arr * 4,
            )
        assert op is not None
        return op

    for j, (bi, mi, ni, ki, k0, k1, group, g0) in enumerate(steps):
        first_k, last_k = ki == 0, ki == len(plan.kparts(ni)) - 1
        acc_slot = bi % plan.acc_slots
        acc_base = sram.acc + acc_slot * plan.block_words
        # A: make [k0, k1) of the group resident, loading what is missing
        a_slot, wait = a_cache.lookup(group, j)
        a_base = sram.a + a_slot * plan.a_slot_words
        have = a_cache.loaded[group]
        for s0, s1 in _missing(have, k0, k1):
            have.append((s0, s1, load_a(mi, s0, s1, a_base, g0, wait)))
            wait = None
        deps: list[Op | None] = [op for s0, s1, op in have if s0 < k1 and s1 > k0]
        # W: the piece (ni, ki)
        w_slot, wait = w_cache.lookup((ni, ki), j)
        w_base = sram.w + w_slot * plan.w_slot_words
        if not w_cache.loaded[(ni, ki)]:
            w_cache.loaded[(ni, ki)].append((k0, k1, load_w(ni, ki, w_base, wait)))
        deps.append(w_cache.loaded[(ni, ki)][0][2])
        if first_k:
            if spec.bias:
                wait = relays.get(bi) if int32_out else acc_release[acc_slot]
                deps.append(load_bias(mi, ni, acc_base, wait))
            elif int32_out:
                deps.append(acc_release[acc_slot])
        if scale_load is None and t.scales is not None and not int32_out:
            scale_load = load_scales()
        rows, ntiles = plan.mrows(mi), plan.ntiles(ni)
        gemm = b.add(
            Unit.COMPUTE,
            Opcode.GEMM,
            {
                "clear": int(first_k and not spec.bias),
                "rows": rows,
                "ktiles": k1 - k0,
                "ntiles": ntiles,
                "inp_base": a_base + (k0 - g0) * mb,
                "inp_kstride": mb,
                "wgt_base": w_base,
                "acc_base": acc_base,
                "acc_nstride": mb,
            },
            gemm_cycles(cfg, rows, k1 - k0, ntiles),
            deps,
        )
        a_cache.used(a_slot, j, gemm)
        w_cache.used(w_slot, j, gemm)
        if not last_k:
            continue
        # drain the finished accumulator block in chunks of drain_tiles n-tiles
        out_slot = bi % max(plan.out_slots, 1)
        out_base = sram.out + out_slot * plan.block_words
        last_drain: Op | None = None
        wait = out_release[out_slot]
        for t0 in range(0, ntiles, plan.drain_tiles):
            tiles = min(plan.drain_tiles, ntiles - t0)
            ch0 = (ni * plan.nb + t0) * arr
            store_f = {
                "sram_wstride": mb,
                "rows": rows,
                "cols": min(spec.n - ch0, tiles * arr),
                "dram_reg": t.out.region,
                "dram_offset": t.out.offset + mi * mb * t.out.stride + ch0 * out_eb,
                "dram_stride": t.out.stride,
            }
            if int32_out:
                st = _dma_op(b, Opcode.STORE, Buffer.ACC, 4, [gemm], sram_base=acc_base + t0 * mb, **store_f)
            else:
                gt = ni * plan.nb + t0
                last_drain = b.add(
                    Unit.COMPUTE,
                    Opcode.REQUANT,
                    {
                        "out_type": int(OutType.INT8 if spec.out_dtype == "int8" else OutType.BF16),
                        "tiles": tiles,
                        "rows": rows,
                        "acc_base": acc_base + t0 * mb,
                        "acc_tstride": mb,
                        "scale_base": sram.scale + (gt if spec.per_channel else 0),
                        "scale_tstride": int(spec.per_channel),
                        "dst_base": out_base + t0 * mb,
                        "dst_tstride": mb,
                        "dst_mstride": 1,
                    },
                    requant_cycles(cfg, tiles, rows),
                    [scale_load, wait],
                )
                wait = None
                buf = Buffer.INP if spec.out_dtype == "int8" else Buffer.VEC
                st = _dma_op(b, Opcode.STORE, buf, out_eb, [last_drain], sram_base=out_base + t0 * mb, **store_f)
            block_stores[bi] = st
        out_release[out_slot] = block_stores[bi]
        acc_release[acc_slot] = block_stores[bi] if int32_out else last_drain
        if int32_out and spec.bias:
            # the bias of block `target` overwrites the ACC slot of block target - acc_slots, which STORE reads:
            # relay STORE -> COMPUTE -> LOAD through a NOP placed after this block's compute
            target = bi + max(plan.acc_slots - 1, 1)
            prev = target - plan.acc_slots
            if target < len(blocks) and prev >= 0:
                relays[target] = b.nop([block_stores[prev]])
    return b.ops


def _pow2_floor(x: int) -> int:
    return 1 << (x.bit_length() - 1)


def resolve_tokens(ops: list[Op]) -> None:
    """Set the push/pop flags so that every cross-unit dependency is honoured with the fewest tokens."""
    pos: dict[int, int] = {}
    per_unit: dict[Unit, list[Op]] = {u: [] for u in Unit}
    for op in ops:
        pos[id(op)] = len(per_unit[op.unit])
        per_unit[op.unit].append(op)
        op.flags = {}
    for (src, dst), (push, pop) in _TOKEN_FLAGS.items():
        paired = -1
        for y in per_unit[dst]:
            need = max((pos[id(d)] for d in y.deps if d.unit is src), default=-1)
            if need > paired:
                per_unit[src][need].flags[push] = 1
                y.flags[pop] = 1
                paired = need
    for op in ops:
        for d in op.deps:
            if {d.unit, op.unit} == {Unit.LOAD, Unit.STORE}:
                raise AssertionError("LOAD <-> STORE dependency without a COMPUTE relay")


def stream_order(ops: list[Op]) -> list[Op]:
    """The ops interleaved into one stream by estimated start time (pushes precede their pops)."""
    return sorted(ops, key=lambda o: (o.start, o.seq))


def estimated_cycles(ops: list[Op]) -> int:
    """Estimated end of the last op."""
    return max((o.end for o in ops), default=0)
