"""Per-instruction kernels: each instruction is checked once and turned into a closure over precomputed indices.

A kernel is a callable taking the :class:`MachineState` and executing the instruction exactly as
docs/semantics.md says. Everything that does not depend on data (address ranges, hazards, index arrays,
write-order resolution) is done here, once, so that running a kernel costs a few numpy calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from tataa import numerics
from tataa.config import HwConfig
from tataa.isa.spec import NUM_CONST_REGS, VFUNCT_DEFS, Buffer, Instruction, Mode, Opcode, OutType, VFunct, VKind
from tataa.program import Region
from tataa.sim.describe import fail
from tataa.sim.grid import Grid, Index, affine, keep_last
from tataa.sim.state import BUFFER_ATTR, BUFFER_DTYPE, ELEM_BYTES, HBM_DTYPE, MachineState, buffer_depth

Kernel = Callable[[MachineState], None]


class _Checker:
    """Range checks for one instruction, raising SimError with its index and text."""

    def __init__(self, index: int, insn: Instruction, cfg: HwConfig) -> None:
        self.index, self.insn, self.cfg = index, insn, cfg

    def error(self, message: str) -> Exception:
        return fail(self.index, self.insn, message)

    def words(self, buf: Buffer, grid: Grid, what: str) -> Grid:
        """Every word of `grid` must exist in `buf`; returns the grid."""
        depth = buffer_depth(self.cfg, buf)
        first, last = grid.base, grid.last
        if last >= depth:
            raise self.error(
                f"{what}: {buf.name} word {last} out of range (words {first}..{last} used, "
                f"{buf.name} has {depth} words: 0..{depth - 1})"
            )
        return grid


# ---- DMA ----------------------------------------------------------------------------------------------------


def _region(chk: _Checker, regions: Mapping[int, Region], reg: int) -> Region:
    region = regions.get(reg)
    if region is None:
        known = ", ".join(f"{r.index} ({r.name!r})" for r in regions.values()) or "none"
        raise chk.error(f"dram_reg {reg} names no region of the program; regions: {known}")
    return region


def _dma(chk: _Checker, f: dict[str, int], regions: Mapping[int, Region], load: bool) -> Kernel | None:
    n = chk.cfg.array_size
    buf = Buffer(f["buf"])
    region = _region(chk, regions, f["dram_reg"])
    rows, cols = f["rows"], f["cols"]
    if rows == 0 or cols == 0:
        return None
    eb = ELEM_BYTES[buf]
    nwords = -(-cols // n)
    grid = Grid.of(f["sram_base"], (rows, f["sram_ystride"]), (nwords, f["sram_wstride"]))
    chk.words(buf, grid, "destination" if load else "source")
    off, stride, row_bytes = f["dram_offset"], f["dram_stride"], cols * eb
    last = off + (rows - 1) * stride + row_bytes - 1
    if last >= region.size:
        raise chk.error(
            f"HBM bytes {off}..{last} outside region {region.index} {region.name!r} "
            f"(offset {off}, {rows} rows of {row_bytes} B every {stride} B; region size {region.size} B)"
        )
    reg, attr, dt = region.index, BUFFER_ATTR[buf], HBM_DTYPE[buf]
    shape, strides = (rows, cols), (stride, eb)
    if load:
        keep = grid.keep_last()
        dst: Index = grid.index() if keep is None else grid.words[keep]
        bdt, width = BUFFER_DTYPE[buf], nwords * n

        def load_kernel(st: MachineState) -> None:
            src = np.ndarray(shape, dt, buffer=st.hbm[reg], offset=off, strides=strides)
            if width != cols:
                tmp = np.zeros((rows, width), bdt)
                tmp[:, :cols] = src
                src = tmp
            data = src.reshape(rows * nwords, n)
            getattr(st, attr)[dst] = data if keep is None else data[keep]

        return load_kernel

    src_ix = grid.index()
    if rows > 1 and stride < row_bytes:  # rows overlap in HBM: the later row wins, byte by byte
        bytes_at = affine(off, (rows, stride), (row_bytes, 1)).ravel()
        bkeep = keep_last(bytes_at)
        assert bkeep is not None
        hbm_at = bytes_at[bkeep]

        def store_overlapping(st: MachineState) -> None:
            data = getattr(st, attr)[src_ix].reshape(rows, nwords * n)[:, :cols]
            raw = np.ascontiguousarray(data, dtype=dt).view(np.uint8).ravel()
            st.hbm[reg][hbm_at] = raw[bkeep]

        return store_overlapping

    def store_kernel(st: MachineState) -> None:
        data = getattr(st, attr)[src_ix].reshape(rows, nwords * n)[:, :cols]
        np.ndarray(shape, dt, buffer=st.hbm[reg], offset=off, strides=strides)[...] = data

    return store_kernel


# ---- GEMM and REQUANT ---------------------------------------------------------------------------------------


def _gemm(chk: _Checker, f: dict[str, int]) -> Kernel | None:
    n = chk.cfg.array_size
    rows, kt, nt, clear = f["rows"], f["ktiles"], f["ntiles"], bool(f["clear"])
    if rows == 0 or nt == 0:
        return None
    ib, iks, wb, ab, ans = f["inp_base"], f["inp_kstride"], f["wgt_base"], f["acc_base"], f["acc_nstride"]
    acc = chk.words(Buffer.ACC, Grid.of(ab, (nt, ans), (rows, 1)), "accumulators")  # [nt, rows]
    sequential = not acc.distinct()  # n-tiles overlap in ACC: apply them one after the other
    acc_ix = acc.words if sequential else acc.index()
    if kt == 0:  # empty sum over k: R_n = 0

        def gemm_empty(st: MachineState) -> None:
            if clear:
                st.acc[acc_ix] = 0

        return gemm_empty
    inp_ix = chk.words(Buffer.INP, Grid.of(ib, (rows, 1), (kt, iks)), "inputs").index()  # [rows, kt]
    w_end = wb + nt * kt * n
    chk.words(Buffer.WGT, Grid.of(wb, (nt * kt * n, 1)), "weights")
    k_len = kt * n
    gemm_int32 = numerics.gemm_int32

    def gemm_kernel(st: MachineState) -> None:
        a = st.inp[inp_ix].reshape(rows, k_len)
        w = st.wgt[wb:w_end].reshape(nt, k_len, n).transpose(1, 0, 2).reshape(k_len, nt * n)
        r = np.asarray(gemm_int32(a, w), np.int32).reshape(rows, nt, n).transpose(1, 0, 2)  # [nt, rows, N]
        acc = st.acc
        if not sequential:
            r = r.reshape(nt * rows, n)
            if clear:
                acc[acc_ix] = r
            else:
                acc[acc_ix] += r
            return
        for t in range(nt):
            ix = acc_ix[t * rows : (t + 1) * rows]
            if clear:
                acc[ix] = r[t]
            else:
                acc[ix] += r[t]

    return gemm_kernel


def _requant(chk: _Checker, f: dict[str, int]) -> Kernel | None:
    n = chk.cfg.array_size
    tiles, rows = f["tiles"], f["rows"]
    if tiles == 0 or rows == 0:
        return None
    out = OutType(f["out_type"])
    dbuf = Buffer.INP if out is OutType.INT8 else Buffer.VEC
    ab, ats, sb, sts = f["acc_base"], f["acc_tstride"], f["scale_base"], f["scale_tstride"]
    db, dts, dms = f["dst_base"], f["dst_tstride"], f["dst_mstride"]
    src_ix = chk.words(Buffer.ACC, Grid.of(ab, (tiles, ats), (rows, 1)), "accumulators").index()
    scale_ix = chk.words(Buffer.ACC, Grid.of(sb, (tiles, sts)), "scales").words
    dst = chk.words(dbuf, Grid.of(db, (tiles, dts), (rows, dms)), "destination")
    keep = dst.keep_last()
    dst_ix: Index = dst.index() if keep is None else dst.words[keep]
    fn = numerics.requant_int8 if out is OutType.INT8 else numerics.requant_bf16
    attr = BUFFER_ATTR[dbuf]

    def requant_kernel(st: MachineState) -> None:
        acc = st.acc[src_ix].reshape(tiles, rows, n)
        scale = np.broadcast_to(st.acc[scale_ix][:, None, :], acc.shape)
        res = np.asarray(fn(acc, scale)).reshape(tiles * rows, n)
        getattr(st, attr)[dst_ix] = res if keep is None else res[keep]

    return requant_kernel


# ---- VOP ----------------------------------------------------------------------------------------------------


def _first_duplicate(words: np.ndarray) -> tuple[int, int] | None:
    """(earlier, later) positions of the first repeated value of 1-D `words`, or None."""
    order = np.argsort(words, kind="stable")
    same = np.flatnonzero(words[order][1:] == words[order][:-1])
    if same.size == 0:
        return None
    pairs = np.stack([order[same], order[same + 1]], axis=1)
    later = int(np.argmin(pairs[:, 1]))
    return int(pairs[later, 0]), int(pairs[later, 1])


def _vop_hazards(chk: _Checker, kind: VKind, inner: int, dst: Grid, reads: dict[str, Grid]) -> None:
    """Apply the VOP hazard rule of docs/semantics.md to the per-iteration word grids."""
    dbuf = "INP" if kind is VKind.TO_INT8 else "VEC"

    def it(p: int) -> str:
        return f"(o={p})" if kind is VKind.REDUCE else f"(o={p // inner}, i={p % inner})"

    if not dst.distinct():
        dup = _first_duplicate(dst.words)
        assert dup is not None
        p, q = dup
        raise chk.error(f"VOP hazard: iterations {it(p)} and {it(q)} both write {dbuf} word {int(dst.words[p])}")
    if kind is VKind.TO_INT8:
        return
    lo, hi = dst.base, dst.last
    writer: np.ndarray | None = None
    for name, grid in reads.items():
        if grid.last < lo or grid.base > hi:
            continue  # disjoint word ranges
        if writer is None:
            writer = np.full(hi - lo + 1, -1, np.int64)
            writer[dst.words - lo] = np.arange(dst.size)
        words = grid.words
        inside = (words >= lo) & (words <= hi)
        w = np.where(inside, writer[np.clip(words - lo, 0, hi - lo)], -1)
        if kind is VKind.REDUCE:
            bad = np.flatnonzero(w >= 0)
            if bad.size:
                p = int(bad[0])
                raise chk.error(
                    f"VOP hazard: reduction step {it(int(w[p]))} writes VEC word {int(words[p])}, "
                    f"which is also an operand {name} word (step o={p // inner}); the destination must not "
                    "overlap the reduced words"
                )
            continue
        bad = np.flatnonzero((w >= 0) & (w != np.arange(words.size)))
        if bad.size:
            p = int(bad[0])
            raise chk.error(
                f"VOP hazard: iteration {it(int(w[p]))} writes VEC word {int(words[p])}, which iteration {it(p)} "
                f"reads as operand {name}"
            )


def _vop(chk: _Checker, f: dict[str, int]) -> Kernel | None:
    n = chk.cfg.array_size
    defn = VFUNCT_DEFS[VFunct(f["funct"])]
    kind = defn.kind
    outer, inner = f["outer"], f["inner"]
    if outer == 0 or inner == 0:
        return None
    fn = getattr(numerics, defn.impl)
    dbuf = Buffer.INP if kind is VKind.TO_INT8 else Buffer.VEC

    def operand(x: str, buf: Buffer) -> Grid:
        grid = Grid.of(f[f"{x}_base"], (outer, f[f"{x}_ostride"]), (inner, f[f"{x}_istride"]))
        return chk.words(buf, grid, f"operand {x}")

    a = operand("a", Buffer.VEC)
    uses_b = kind in (VKind.BINARY, VKind.TERNARY_CONST, VKind.TERNARY_DST, VKind.TO_INT8)
    b_const = uses_b and bool(f["b_const"])
    if b_const and f["b_base"] >= NUM_CONST_REGS:
        raise chk.error(f"b_const: b_base {f['b_base']} is not a constant register (0..{NUM_CONST_REGS - 1})")
    b = operand("b", Buffer.VEC) if uses_b and not b_const else None
    if kind is VKind.REDUCE:
        dst = chk.words(dbuf, Grid.of(f["dst_base"], (outer, f["dst_ostride"])), "destination")
    else:
        dst = operand("dst", dbuf)
    reads = {"a": a} if b is None else {"a": a, "b": b}
    _vop_hazards(chk, kind, inner, dst, reads)

    a_ix, d_ix = a.index(), dst.index()
    b_ix = None if b is None else b.index()
    shape = (outer * inner, n)
    attr = BUFFER_ATTR[dbuf]
    b_reg, c_reg = f["b_base"], f["c_idx"]

    def read(st: MachineState, ix: Index) -> np.ndarray:
        v = st.vec[ix]
        v.flags.writeable = False  # slices are views of the state: numerics must not write its operands
        return v

    def operand_b(st: MachineState) -> np.ndarray:
        if b_ix is None:
            return np.broadcast_to(st.const[b_reg], shape)
        return read(st, b_ix)

    if kind is VKind.REDUCE:

        def reduce_kernel(st: MachineState) -> None:
            res = np.asarray(fn(read(st, a_ix).reshape(outer, inner, n)), np.uint16)
            st.vec[d_ix] = res.reshape(outer, 1)

        return reduce_kernel
    if kind is VKind.UNARY:

        def unary_kernel(st: MachineState) -> None:
            st.vec[d_ix] = fn(read(st, a_ix))

        return unary_kernel
    if kind is VKind.TERNARY_CONST:

        def const_kernel(st: MachineState) -> None:
            st.vec[d_ix] = fn(read(st, a_ix), operand_b(st), np.broadcast_to(st.const[c_reg], shape))

        return const_kernel
    if kind is VKind.TERNARY_DST:

        def dst_kernel(st: MachineState) -> None:
            st.vec[d_ix] = fn(read(st, a_ix), operand_b(st), read(st, d_ix))

        return dst_kernel

    def binary_kernel(st: MachineState) -> None:  # BINARY, TO_INT8
        getattr(st, attr)[d_ix] = fn(read(st, a_ix), operand_b(st))

    return binary_kernel


# ---- the rest -----------------------------------------------------------------------------------------------


def _setc(f: dict[str, int]) -> Kernel:
    idx, value = f["idx"], np.uint16(f["value"])

    def setc_kernel(st: MachineState) -> None:
        st.const[idx] = value

    return setc_kernel


def _mode(f: dict[str, int]) -> Kernel:
    mode = Mode(f["mode"])

    def mode_kernel(st: MachineState) -> None:
        st.mode = mode

    return mode_kernel


def compile_insn(index: int, insn: Instruction, cfg: HwConfig, regions: Mapping[int, Region]) -> Kernel | None:
    """Check `insn` (addresses, regions, hazards) and return its kernel, or None when it changes nothing.

    Fields, flags and modes are assumed checked already (:mod:`tataa.sim.validate`).
    """
    chk, f, op = _Checker(index, insn, cfg), insn.as_dict(), insn.opcode
    if op is Opcode.LOAD or op is Opcode.STORE:
        return _dma(chk, f, regions, load=op is Opcode.LOAD)
    if op is Opcode.GEMM:
        return _gemm(chk, f)
    if op is Opcode.REQUANT:
        return _requant(chk, f)
    if op is Opcode.VOP:
        return _vop(chk, f)
    if op is Opcode.SETC:
        return _setc(f)
    if op is Opcode.MODE:
        return _mode(f)
    return None  # NOP, FINISH
