"""Row-wise SIMD kernels: one recipe, evaluated with numpy or emitted as a double-buffered program.

A :class:`RowKernel` names its per-row inputs, its persistent constants (VEC rows such as gamma, WORD
masks) and the recipe body. :func:`evaluate` runs the body with NumpySimd (the bit-exact reference);
:func:`emit_rowwise` records it once, plans storage, tiles the rows into blocks that fit the VEC buffer and
emits LOAD / SETC / VOP / STORE with dependency tokens so that the LOAD of block b+1 and the STORE of
block b-1 overlap the compute of block b (two buffers for every input and for the output).

Token protocol (every pop matches an earlier push in program order, so it cannot deadlock):
LOAD(b) pops COMPUTE->LOAD for b >= 2 (its buffers were freed by COMPUTE(b-2)) and pushes LOAD->COMPUTE;
COMPUTE(b) pops LOAD->COMPUTE, and STORE->COMPUTE for b >= 2 (its output buffer was drained by
STORE(b-2)); it pushes COMPUTE->STORE, and COMPUTE->LOAD when block b+2 exists; STORE(b) pops
COMPUTE->STORE and pushes STORE->COMPUTE when block b+2 exists. Every FIFO is empty at the end.
Persistent constants are loaded before block 0 and covered by its token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tataa.codegen.builder import CodegenError, ProgramBuilder
from tataa.codegen.simd.blocking import MAX_ROWS, choose_rows, dma_chunk_cols, vec_words_per_row, words_per_row
from tataa.codegen.simd.emitter import OUT, ConstRegs, Plan, SimdTrace, Slot, VopDraft, plan
from tataa.codegen.simd.numpy_eval import NumpySimd
from tataa.codegen.simd.ops import Kind, SimdOps
from tataa.isa.spec import Buffer, Mode, Opcode, Unit
from tataa.program import DType, Role, TensorDesc

_MAX_STRIDE_BYTES = (1 << 17) - 1  # 17-bit DMA dram_stride

Body = Callable[[SimdOps[Any], Mapping[str, Any]], Any]


@dataclass(frozen=True)
class RowKernel:
    """A row-wise kernel over rows of `cols` bf16 elements.

    `row_inputs` are FULL inputs (one row per output row), `consts` persistent values by name:
    (Kind.VEC, uint16[cols]) or (Kind.WORD, uint16[N]). `body(ops, values)` returns the FULL result.
    """

    name: str
    cols: int
    row_inputs: tuple[str, ...]
    consts: Mapping[str, tuple[Kind, np.ndarray]]
    body: Body


@dataclass(frozen=True)
class RowKernelInfo:
    """What emit_rowwise decided: block size, block count, VEC words used, VOPs per block."""

    rows_per_block: int
    blocks: int
    vec_words: int
    vops_per_block: int
    setcs: int


def evaluate(kernel: RowKernel, n: int, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """The kernel's output (uint16 [rows, cols]) for uint16 inputs [rows, cols], computed with numpy."""
    missing = [k for k in kernel.row_inputs if k not in inputs]
    if missing:
        raise CodegenError(f"{kernel.name}: missing input(s) {missing}")
    arrs = {k: np.asarray(inputs[k], dtype=np.uint16) for k in kernel.row_inputs}
    shapes = {a.shape for a in arrs.values()}
    if len(shapes) != 1 or any(len(s) != 2 or s[1] != kernel.cols for s in shapes):
        raise CodegenError(f"{kernel.name}: inputs must all be [rows, {kernel.cols}], got {sorted(shapes)}")
    rows = next(iter(shapes))[0]
    o = NumpySimd(n, rows, words_per_row(kernel.cols, n))
    values = {k: o.value(Kind.FULL, a) for k, a in arrs.items()}
    for name, (kind, data) in kernel.consts.items():
        values[name] = o.value(kind, data)
    return kernel.body(o, values).bits[:, : kernel.cols].copy()


def trace_plan(kernel: RowKernel) -> Plan:
    """Record the kernel's recipe and assign storage."""
    t = SimdTrace()
    values = {k: t.input(k, Kind.FULL) for k in kernel.row_inputs}
    for name, (kind, _) in kernel.consts.items():
        values[name] = t.input(name, kind)
    return plan(t, kernel.body(t, values))


@dataclass(frozen=True)
class _Layout:
    """Where a kernel's data lives in VEC: slots of the plan, double buffers, block size, words used."""

    addr: dict[Slot, int]
    bufs: dict[str, list[int]]  # row input name or "_out" -> the two buffers
    rows: int
    words_used: int


def _check_tensors(kernel: RowKernel, inputs: Mapping[str, TensorDesc], output: TensorDesc) -> None:
    nrows, cols = output.nrows, kernel.cols
    for name in kernel.row_inputs:
        t = inputs.get(name)
        if t is None:
            raise CodegenError(f"{kernel.name}: no tensor for input {name!r}")
        if t.dtype is not DType.BF16 or t.nrows != nrows or (t.shape[-1] if t.shape else 1) != cols:
            raise CodegenError(f"{kernel.name}: input {name!r} must be bf16 with {nrows} rows of {cols}")
    if output.dtype is not DType.BF16 or (output.shape[-1] if output.shape else 1) != cols:
        raise CodegenError(f"{kernel.name}: output {output.name!r} must be bf16 with rows of {cols}")
    for t in (*inputs.values(), output):
        if t.stride > _MAX_STRIDE_BYTES:
            raise CodegenError(f"{kernel.name}: tensor {t.name!r} row stride {t.stride} B exceeds {_MAX_STRIDE_BYTES}")


def _allocate(b: ProgramBuilder, kernel: RowKernel, p: Plan, nrows: int, rows_per_block: int | None) -> _Layout:
    """Take the kernel's VEC words from the builder's arena (the caller releases them)."""
    arena = b.sram[Buffer.VEC]
    start = arena.mark()
    words = words_per_row(kernel.cols, b.n)
    addr: dict[Slot, int] = {}
    for name, (kind, _) in kernel.consts.items():
        addr[Slot("fixed", name)] = arena.alloc(words if kind is Kind.VEC else 1, f"{kernel.name} constant {name}")
    for cst in p.splats:
        addr[Slot("splat", cst.bits)] = arena.alloc(1, f"{kernel.name} splat")
    per_row = vec_words_per_row(p, words, len(kernel.row_inputs))
    room = arena.depth - arena.top
    max_rows = min(room // per_row, MAX_ROWS, max(nrows, 1))
    if max_rows < 1:
        raise CodegenError(
            f"{kernel.name}: one row of {kernel.cols} elements needs {per_row} VEC words "
            f"({p.full_slots} temporaries + double buffers) but only {room} of {arena.depth} are free"
        )
    r = rows_per_block or choose_rows(p, b.cfg, nrows, kernel.cols, len(kernel.row_inputs), max_rows)
    if not 1 <= r <= max_rows:
        raise CodegenError(f"{kernel.name}: rows_per_block {r} outside 1..{max_rows}")
    bufs = {
        name: [arena.alloc(r * words, f"{kernel.name} buffer {name}") for _ in range(2)]
        for name in (*kernel.row_inputs, "_out")
    }
    for k in range(p.full_slots):
        addr[Slot("full", k)] = arena.alloc(r * words, f"{kernel.name} temporary")
    for k in range(p.row_slots):
        addr[Slot("row", k)] = arena.alloc(r, f"{kernel.name} row temporary")
    return _Layout(addr, bufs, r, arena.top - start)


def emit_rowwise(
    b: ProgramBuilder,
    kernel: RowKernel,
    inputs: Mapping[str, TensorDesc],
    output: TensorDesc,
    *,
    regs: ConstRegs | None = None,
    set_mode: bool = True,
    rows_per_block: int | None = None,
    fence: bool = True,
) -> RowKernelInfo:
    """Emit `kernel` reading the tensors `inputs` (by row-input name) and writing `output`.

    Constants become CONST tensors named `<output>.<const>`. The VEC words used are taken from
    `b.sram[Buffer.VEC]` and released on return. `regs` carries the constant-register contents across
    kernels (default: unknown, so every constant is set once). With `fence` (the default) the kernel ends
    by synchronising the three units after its last STORE (STORE -> COMPUTE NOP -> LOAD NOP), so that
    whatever is emitted next, on any unit, starts after it; the kernel itself assumes the same of what came
    before it (empty token FIFOs, nothing in flight on the VEC words it allocates).
    """
    _check_tensors(kernel, inputs, output)
    n, cols, nrows = b.n, kernel.cols, output.nrows
    words = words_per_row(cols, n)
    p = trace_plan(kernel)
    arena = b.sram[Buffer.VEC]
    mark = arena.mark()
    lay = _allocate(b, kernel, p, nrows, rows_per_block)
    r, addr = lay.rows, lay.addr
    const_tensors = {
        name: b.tensor(f"{output.name}.{name}", Role.CONST, (cols,) if kind is Kind.VEC else (n,), DType.BF16, data=d)
        for name, (kind, d) in kernel.consts.items()
    }

    # every compute instruction of the kernel, so that the register allocator sees the whole future
    nb = -(-nrows // r) if nrows else 0
    blocks = [(i * r, min(r, nrows - i * r)) for i in range(nb)]
    drafts: list[VopDraft] = list(p.init_vops(addr))
    spans = []
    for i, (_, rows) in enumerate(blocks):
        for name in kernel.row_inputs:
            addr[Slot("in", name)] = lay.bufs[name][i % 2]
        addr[OUT] = lay.bufs["_out"][i % 2]
        start = len(drafts)
        drafts.extend(p.vops(rows, words, addr))
        spans.append((start, len(drafts)))
    assigned = (regs if regs is not None else ConstRegs()).assign(drafts)

    def compute(j: int, **flags: int) -> None:
        """SETCs then VOP number j: pops on the first instruction, pushes on the VOP."""
        setcs, fields = assigned[j]
        pops = {k: v for k, v in flags.items() if k.startswith("pop")}
        for reg, bits_ in setcs:
            b.emit(Opcode.SETC, idx=reg, value=bits_, **pops)
            pops = {}
        b.emit(Opcode.VOP, **fields, **pops, **{k: v for k, v in flags.items() if k.startswith("push")})

    chunk = dma_chunk_cols(n)

    def dma(op: Opcode, base: int, t: TensorDesc, row0: int, rows: int, ccols: int, **flags: int) -> None:
        """One LOAD/STORE per column chunk; pops on the first, pushes on the last."""
        parts = [(c0, min(chunk, ccols - c0)) for c0 in range(0, ccols, chunk)]
        for k, (c0, cc) in enumerate(parts):
            f = {fl: v for fl, v in flags.items() if fl.startswith("pop" if k == 0 else "-")}
            f.update({fl: v for fl, v in flags.items() if fl.startswith("push" if k == len(parts) - 1 else "-")})
            b.dma(op, Buffer.VEC, base + c0 // n, t, rows, cc, row0=row0, col0=c0, sram_ystride=words, **f)

    def load_block(i: int) -> None:
        row0, rows = blocks[i]
        for k, name in enumerate(kernel.row_inputs):
            flags = {"pop_next": int(k == 0 and i >= 2), "push_next": int(k == len(kernel.row_inputs) - 1)}
            dma(Opcode.LOAD, lay.bufs[name][i % 2], inputs[name], row0, rows, cols, **flags)

    if set_mode:
        b.emit(Opcode.MODE, mode=int(Mode.SIMD))
    for name, (kind, _) in kernel.consts.items():
        dma(Opcode.LOAD, addr[Slot("fixed", name)], const_tensors[name], 0, 1, cols if kind is Kind.VEC else n)
    for j in range(spans[0][0] if spans else len(drafts)):
        compute(j)
    if nb:
        load_block(0)
    for i, (row0, rows) in enumerate(blocks):
        if i + 1 < nb:
            load_block(i + 1)  # before COMPUTE(i) in program order, so that fetch reaches it early
        lo, hi = spans[i]
        for j in range(lo, hi):
            first, last = j == lo, j == hi - 1
            compute(
                j,
                pop_prev=int(first),
                pop_next=int(first and i >= 2),
                push_next=int(last),
                push_prev=int(last and i + 2 < nb),
            )
        push = i + 2 < nb or (fence and i == nb - 1)
        dma(Opcode.STORE, lay.bufs["_out"][i % 2], output, row0, rows, cols, pop_prev=1, push_prev=int(push))
    if fence and nb:
        b.emit(Opcode.NOP, unit=int(Unit.COMPUTE), pop_next=1, push_prev=1)
        b.emit(Opcode.NOP, unit=int(Unit.LOAD), pop_next=1)
    arena.release(mark)
    return RowKernelInfo(r, nb, lay.words_used, len(p.ops), sum(len(s) for s, _ in assigned))
