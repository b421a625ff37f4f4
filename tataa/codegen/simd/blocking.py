"""How many rows a block of a row-wise kernel gets: the VEC budget and a cycle estimate (docs/timing.md)."""

from __future__ import annotations

from tataa.codegen.simd.emitter import Plan
from tataa.config import HwConfig
from tataa.isa.spec import VFUNCT_DEFS, VKind

MAX_ROWS = 4095  # 12-bit DMA rows and VOP outer fields
MAX_DMA_COLS = 4095  # 12-bit DMA cols field


def words_per_row(cols: int, n: int) -> int:
    """VEC words one row of `cols` elements occupies."""
    return max(1, -(-cols // n))


def dma_chunk_cols(n: int) -> int:
    """Most columns one LOAD/STORE moves, rounded down to whole words so chunks start on word boundaries."""
    return (MAX_DMA_COLS // n) * n


def vec_words_per_row(p: Plan, words: int, row_inputs: int) -> int:
    """VEC words a block needs per row: two buffers per input and for the output, plus the temporaries."""
    return 2 * words * (row_inputs + 1) + p.full_slots * words + p.row_slots


def vop_cycles(p: Plan, cfg: HwConfig, rows: int, words: int) -> int:
    """Compute cycles of one block of `rows` rows."""
    total = 0
    for op in p.ops:
        red = VFUNCT_DEFS[op.funct].kind is VKind.REDUCE
        k = op.a.kind if red else op.dst.kind
        per_row = 1 if op.tail or not k.wide else words
        iterations = rows * per_row if op.tail or k.per_row else per_row
        total += cfg.simd_pipeline_depth + -(-iterations // cfg.simd_words_per_cycle)
        if red:
            total += cfg.array_size.bit_length() - 1
    return total


def dma_cycles(cfg: HwConfig, rows: int, cols: int) -> int:
    """Cycles of the LOADs (or STOREs) of `rows` rows of `cols` bf16, one per column chunk."""
    chunks = -(-cols // dma_chunk_cols(cfg.array_size))
    per_row = max(-(-cols * 2 // cfg.dma_bytes_per_cycle), -(-cols // cfg.array_size))
    return chunks * cfg.dma_latency + rows * per_row


def choose_rows(p: Plan, cfg: HwConfig, rows: int, cols: int, row_inputs: int, max_rows: int) -> int:
    """Rows per block (<= max_rows) minimising load + store + blocks * max(load, compute, store)."""
    if rows <= 0:
        return 1
    words = words_per_row(cols, cfg.array_size)
    best: tuple[int, int] = (-1, 1)
    for r in sorted({min(max_rows, -(-rows // k)) for k in range(1, min(rows, 64) + 1)}):
        ld = row_inputs * dma_cycles(cfg, r, cols)
        st = dma_cycles(cfg, r, cols)
        est = ld + st + -(-rows // r) * max(vop_cycles(p, cfg, r, words), ld, st)
        if best[0] < 0 or est < best[0]:
            best = (est, r)
    return best[1]
