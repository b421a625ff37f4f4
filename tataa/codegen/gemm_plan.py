"""GEMM tiling plans: block sizes and on-chip slot counts of one int8 GEMM, and the search that picks them.

A plan cuts ``C[M, N] = A[M, K] @ W[K, N]`` into M-blocks of ``mb`` rows and N-blocks of ``nb`` array-wide
output tiles; each (M-block, N-block) accumulator block is computed by GEMM instructions ("steps") over
a partition of the K tiles: ``kfirst`` for the first N-block, ``krest`` for the others (a short first
K-range lets the first GEMM start early). A step multiplies an A-range (INP) by a W-piece (WGT) into the
accumulator block (ACC). A is cached per A-group: the whole M-block (``a_resident``) or one K-block of
``krest``; W-pieces are (N-block, K-range). Every buffer is cut into equal slots managed as caches by
:mod:`tataa.codegen.gemm_sched`. Cycle costs follow docs/timing.md.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace

from tataa.codegen.builder import CodegenError
from tataa.config import HwConfig
from tataa.sim.timing import aligned_dma_cycles, gemm_duration, requant_duration

OUT_DTYPES = ("int8", "bf16", "int32")
OUT_ELEM_BYTES = {"int8": 1, "bf16": 2, "int32": 4}
MAX_ROWS = 4095  # 12-bit `rows` of GEMM, LOAD/STORE and REQUANT; also the 12-bit sram strides
MAX_COLS = 4095  # 12-bit `cols` of LOAD/STORE
MAX_TILES = 1023  # 10-bit ktiles / ntiles / tiles
MAX_DRAM_STRIDE = (1 << 17) - 1  # 17-bit dram_stride
MAX_DRAM_OFFSET = (1 << 32) - 1  # 32-bit dram_offset
ORDERS = ("mnk", "nmk")
_STAGE1_KEEP = 8  # plans refined with short first K-ranges
_HEAD_STARTS = (1, 2, 4, 8, 16)
_HEAD_RATIOS = (2, 3)
_DEFAULT_HEAD = (2, 2)  # (head, ratio) tried for every resident candidate in the first stage


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for positive b."""
    return -(-a // b)


# ---- cycle costs (docs/timing.md) ----------------------------------------------------------------
def dma_cycles(cfg: HwConfig, rows: int, cols: int, elem_bytes: int, store: bool = False) -> int:
    """Cycles of one beat-aligned LOAD/STORE of `rows` rows of `cols` elements (an estimate for planning)."""
    return aligned_dma_cycles(cfg, rows, cols, elem_bytes, store)


def gemm_cycles(cfg: HwConfig, rows: int, ktiles: int, ntiles: int) -> int:
    """Cycles of one GEMM instruction."""
    return gemm_duration(cfg, rows, ktiles, ntiles)


def requant_cycles(cfg: HwConfig, tiles: int, rows: int) -> int:
    """Cycles of one REQUANT instruction."""
    return requant_duration(cfg, tiles, rows)


@dataclass(frozen=True)
class GemmSpec:
    """What is computed: y[M, N] = requant(A[M, K] @ W[K, N] + bias) in `out_dtype`."""

    m: int
    k: int
    n: int
    out_dtype: str = "int8"  # "int8" | "bf16" | "int32" (int32: no requantization)
    bias: bool = False
    per_channel: bool = True  # one scale per output channel (else one scale word shared by all tiles)

    def __post_init__(self) -> None:
        for name in ("m", "k", "n"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise CodegenError(f"GEMM dimension {name.upper()} must be an integer >= 1, got {v!r}")
        if self.out_dtype not in OUT_DTYPES:
            raise CodegenError(f"GEMM out_dtype must be one of {OUT_DTYPES}, got {self.out_dtype!r}")

    def check_strides(self) -> None:
        """Raise CodegenError if a dense row of A or y is longer than the 17-bit dram_stride allows."""
        name = f"GEMM {self.m}x{self.k}x{self.n}"
        if self.k > MAX_DRAM_STRIDE:
            raise CodegenError(f"{name}: activation rows of {self.k} B exceed the 17-bit dram_stride")
        if self.n * OUT_ELEM_BYTES[self.out_dtype] > MAX_DRAM_STRIDE:
            raise CodegenError(f"{name}: output rows exceed the 17-bit dram_stride")


@dataclass(frozen=True)
class GemmPlan:
    """Tiling and buffer plan of one GEMM (see the module docstring)."""

    spec: GemmSpec
    arr: int  # array size N of the hardware configuration
    order: str  # "mnk": M-blocks outermost (weights stream); "nmk": N-blocks outermost (activations stream)
    mb: int  # rows per M-block (the last block may be shorter)
    nb: int  # n-tiles per N-block (the last block may be narrower)
    kfirst: tuple[int, ...]  # K partition (tiles) of the first N-block's steps
    krest: tuple[int, ...]  # K partition of the other N-blocks (and the A-groups unless a_resident)
    a_resident: bool  # an A-group is a whole M-block (else one K-block of krest; then kfirst == krest)
    a_slots: int  # INP slots for A-groups
    w_slots: int  # WGT slots for W-pieces
    acc_slots: int  # ACC slots for accumulator blocks (ring)
    out_slots: int  # INP (int8) or VEC (bf16) slots for requantized blocks (ring); 0 for int32
    drain_tiles: int  # n-tiles per REQUANT / STORE chunk
    serial: bool = False  # every instruction waits for the previous one (no overlap; for comparison)

    # ---- derived sizes ------------------------------------------------------------------------
    @property
    def kt(self) -> int:
        """k-tiles of K (zero-padded to whole tiles)."""
        return ceil_div(self.spec.k, self.arr)

    @property
    def nt(self) -> int:
        """n-tiles of N (zero-padded to whole tiles)."""
        return ceil_div(self.spec.n, self.arr)

    @property
    def n_mblocks(self) -> int:
        """Number of M-blocks."""
        return ceil_div(self.spec.m, self.mb)

    @property
    def n_nblocks(self) -> int:
        """Number of N-blocks."""
        return ceil_div(self.nt, self.nb)

    @property
    def n_steps(self) -> int:
        """GEMM instructions of the plan."""
        return self.n_mblocks * (len(self.kfirst) + (self.n_nblocks - 1) * len(self.krest))

    def kparts(self, ni: int) -> tuple[int, ...]:
        """K partition (tiles) of the steps of N-block `ni`."""
        return self.kfirst if ni == 0 else self.krest

    def ntiles(self, ni: int) -> int:
        """n-tiles of N-block `ni`."""
        return min(self.nb, self.nt - ni * self.nb)

    def mrows(self, mi: int) -> int:
        """Rows of M-block `mi`."""
        return min(self.mb, self.spec.m - mi * self.mb)

    @property
    def kmax(self) -> int:
        """Largest K-range of one step, in tiles."""
        return max(*self.kfirst, *self.krest)

    @property
    def a_group_tiles(self) -> int:
        """k-tiles of one A-group."""
        return self.kt if self.a_resident else max(self.krest)

    @property
    def a_slot_words(self) -> int:
        """INP words of one A-group slot (k-chunk-major: word = slot + kchunk * mb + row)."""
        return self.mb * self.a_group_tiles

    @property
    def w_slot_words(self) -> int:
        """WGT words of one W-piece slot."""
        return self.nb * self.kmax * self.arr

    @property
    def block_words(self) -> int:
        """Words of one accumulator or output block (tile-major: word = slot + tile * mb + row)."""
        return self.mb * self.nb

    @property
    def scale_words(self) -> int:
        """ACC words of packed requantization scales (0 for int32 output)."""
        if self.spec.out_dtype == "int32":
            return 0
        return self.nt if self.spec.per_channel else 1

    def w_piece_offset(self, ni: int, ki: int) -> int:
        """First word of W-piece (N-block `ni`, K-range `ki`) in the packed weight image.

        Pieces are stored N-block-major, then K-range; inside a piece, tile (n, k) is at (n * kb + k) * N
        words. With one K-range per N-block this is tile (n, k) at (n * kt + k) * N.
        """
        return (ni * self.nb * self.kt + self.ntiles(ni) * sum(self.kparts(ni)[:ki])) * self.arr

    def footprint(self) -> dict[str, int]:
        """Words used in each on-chip buffer ('inp', 'wgt', 'acc', 'vec')."""
        out = self.out_slots * self.block_words
        return {
            "inp": self.a_slots * self.a_slot_words + (out if self.spec.out_dtype == "int8" else 0),
            "wgt": self.w_slots * self.w_slot_words,
            "acc": self.scale_words + self.acc_slots * self.block_words,
            "vec": out if self.spec.out_dtype == "bf16" else 0,
        }

    def check(self, cfg: HwConfig) -> None:
        """Raise CodegenError naming the buffer or instruction field this plan does not fit."""
        s = self.spec
        name = f"GEMM {s.m}x{s.k}x{s.n}"
        if cfg.array_size != self.arr:
            raise CodegenError(f"plan is for array size {self.arr}, config {cfg.name!r} has {cfg.array_size}")
        for what, parts in (("kfirst", self.kfirst), ("krest", self.krest)):
            if sum(parts) != self.kt or min(parts) < 1:
                raise CodegenError(f"{name}: {what} {parts} does not partition the {self.kt} k-tiles")
        if not self.a_resident and self.kfirst != self.krest:
            raise CodegenError(f"{name}: without resident A-blocks every N-block must use the same K partition")
        if self.order not in ORDERS:
            raise CodegenError(f"{name}: loop order {self.order!r} is not one of {ORDERS}")
        limits = (
            ("M-block rows (12-bit rows field)", self.mb, MAX_ROWS),
            ("K-range tiles (10-bit ktiles field)", self.kmax, MAX_TILES),
            ("N-block tiles (10-bit ntiles field)", self.nb, MAX_TILES),
            ("drain chunk tiles (10-bit tiles field)", self.drain_tiles, MAX_TILES),
            ("drain chunk columns (12-bit cols field)", self.drain_tiles * self.arr, MAX_COLS),
        )
        for what, v, hi in limits:
            if not 1 <= v <= hi:
                raise CodegenError(f"{name}: {what} = {v} outside 1..{hi}")
        if min(self.a_slots, self.w_slots, self.acc_slots) < 1 or (s.out_dtype != "int32" and self.out_slots < 1):
            raise CodegenError(f"{name}: every buffer needs at least one slot")
        for buf, used in self.footprint().items():
            depth = cfg.depth(buf)
            if used > depth:
                raise CodegenError(
                    f"{name} ({s.out_dtype}) does not fit the {buf.upper()} buffer of config {cfg.name!r}: needs "
                    f"{used} words, has {depth} (M-block {self.mb} rows, N-block {self.nb} tiles, K-range "
                    f"{self.kmax} tiles)"
                )
        s.check_strides()


# ---- candidate generation ---------------------------------------------------------------------
def partition(total: int, parts: int) -> tuple[int, ...]:
    """`total` split into `parts` near-equal positive sizes, smaller ones first."""
    q, r = divmod(total, parts)
    return (q,) * (parts - r) + (q + 1,) * r


def _counts(total: int) -> list[int]:
    """Block counts worth trying for a dimension of `total` units: 1, 2, 3, 4, 6, 8, 12, 16, ... total."""
    out, c = [], 1
    while c < total:
        out.append(c)
        c = c + 1 if c < 4 else (c * 3 // 2 if c & (c - 1) == 0 else c * 4 // 3)
    out.append(total)
    return out


def _sizes(total: int, lo: int, hi: int) -> list[int]:
    """Distinct block sizes ceil(total / c) within [lo, hi] (largest first); the smallest above hi if none."""
    out = []
    for c in _counts(total):
        size = ceil_div(total, c)
        if lo <= size <= hi and size not in out:
            out.append(size)
    return out


def _grow(kt: int, head: int, ratio: int) -> tuple[int, ...]:
    """A K partition starting with `head` tiles and growing geometrically by `ratio` (pieces <= MAX_TILES)."""
    parts, size = [], head
    while sum(parts) + size < kt:
        parts.append(size)
        size = min(size * ratio, MAX_TILES)
    last = kt - sum(parts)
    while last > MAX_TILES:
        parts.append(MAX_TILES)
        last -= MAX_TILES
    parts.append(last)
    return tuple(parts)


def _heads(kt: int) -> list[tuple[int, ...]]:
    """Growing K partitions (a short first step, then geometric growth) for the first N-block."""
    return list(dict.fromkeys(_grow(kt, h, r) for h in _HEAD_STARTS for r in _HEAD_RATIOS if h < kt))


def _with_slots(cfg: HwConfig, base: GemmPlan) -> GemmPlan | None:
    """`base` with the most useful slot counts that fit (None if one slot of each does not fit)."""
    s = base.spec
    if base.serial:
        plan = base
    else:
        nmb, nnb = base.n_mblocks, base.n_nblocks
        blocks = nmb * nnb
        want_acc = 3 if (s.out_dtype == "int32" and s.bias) else 2
        acc_slots = max(1, min(blocks, want_acc, (cfg.acc_depth - base.scale_words) // base.block_words))
        out_slots = 0 if s.out_dtype == "int32" else max(1, min(blocks, 2))
        if s.out_dtype == "bf16":
            out_slots = max(1, min(out_slots, cfg.vec_depth // base.block_words))
        inp_out = out_slots * base.block_words if s.out_dtype == "int8" else 0
        if s.out_dtype == "int8" and out_slots > 1 and cfg.inp_depth - inp_out < base.a_slot_words:
            out_slots, inp_out = 1, base.block_words
        groups = nmb * (1 if base.a_resident else len(base.krest))
        a_slots = max(1, min(groups, (cfg.inp_depth - inp_out) // base.a_slot_words))
        pieces = len(base.kfirst) + (nnb - 1) * len(base.krest)
        w_slots = max(1, min(pieces, cfg.wgt_depth // base.w_slot_words))
        plan = replace(base, a_slots=a_slots, w_slots=w_slots, acc_slots=acc_slots, out_slots=out_slots)
    try:
        plan.check(cfg)
    except CodegenError:
        return None
    return plan


def _base(
    spec: GemmSpec,
    cfg: HwConfig,
    order: str,
    mb: int,
    nb: int,
    kfirst: tuple[int, ...],
    krest: tuple[int, ...],
    a_resident: bool,
    serial: bool,
) -> GemmPlan:
    arr = cfg.array_size
    drain = max(1, min(nb, ceil_div(4 * cfg.dma_latency, mb), MAX_COLS // arr))
    out_slots = 0 if spec.out_dtype == "int32" else 1
    return GemmPlan(spec, arr, order, mb, nb, kfirst, krest, a_resident, 1, 1, 1, out_slots, drain, serial)


def estimate(plan: GemmPlan, cfg: HwConfig) -> int:
    """Quick closed-form cycle estimate of a plan (ranks candidates before they are scheduled in full)."""
    s, arr, lat = plan.spec, plan.arr, cfg.dma_latency
    nmb, nnb, nt, kt = plan.n_mblocks, plan.n_nblocks, plan.nt, plan.kt
    mrem, nrem = s.m - (nmb - 1) * plan.mb, nt - (nnb - 1) * plan.nb
    eff_m = (nmb - 1) * max(plan.mb, arr) + max(mrem, arr)  # rows the array spends cycles on
    steps = nmb * (len(plan.kfirst) + (nnb - 1) * len(plan.krest))
    gemm = eff_m * kt * nt + 3 * arr * steps
    chunks = nmb * ((nnb - 1) * ceil_div(plan.nb, plan.drain_tiles) + ceil_div(nrem, plan.drain_tiles))
    requant = 0 if s.out_dtype == "int32" else s.m * nt + chunks * cfg.simd_pipeline_depth
    # loads: 1 word per cycle plus latency per instruction (approximate: wide rows are word-limited)
    groups = nmb * (1 if plan.a_resident else len(plan.krest))
    a_once = s.m * kt + lat * (nmb * len(plan.kfirst) if plan.a_resident else groups)
    w_once = kt * nt * arr + lat * (len(plan.kfirst) + (nnb - 1) * len(plan.krest))
    if plan.order == "mnk":
        a_load = a_once * (1 if plan.a_slots >= (1 if plan.a_resident else len(plan.krest)) + (nmb > 1) else nnb)
        w_load = w_once * (1 if plan.w_slots >= len(plan.kfirst) + (nnb - 1) * len(plan.krest) else nmb)
    else:
        a_load = a_once * (1 if plan.a_slots >= groups else nnb)
        w_load = w_once * (1 if plan.w_slots > len(plan.krest) else nmb)
    acc_word = ceil_div(4 * arr, cfg.dma_bytes_per_cycle)
    bias = (s.m * nt * acc_word + lat * nmb * nnb) if s.bias else 0
    load = a_load + w_load + bias
    eb = OUT_ELEM_BYTES[s.out_dtype]
    out_word = max(1, ceil_div(eb * arr, cfg.dma_bytes_per_cycle))
    store = chunks * lat + s.m * nt * out_word
    # the first block, step by step: each step waits for its loads
    mb0, nb0 = plan.mrows(0), plan.ntiles(0)
    t_load = dma_cycles(cfg, mb0, nb0 * arr, 4) if s.bias else 0
    t_comp = first_compute = 0
    for kb in plan.kfirst:
        t_load += dma_cycles(cfg, mb0, kb * arr, 1) + lat + nb0 * kb * arr
        g = gemm_cycles(cfg, mb0, kb, nb0)
        t_comp = max(t_comp, t_load) + g
        first_compute += g
    delay = t_comp - first_compute
    last_store = dma_cycles(cfg, plan.mrows(nmb - 1), min(plan.drain_tiles, nrem) * arr, eb, store=True)
    if s.out_dtype == "int32":
        last_store = plan.mrows(nmb - 1) * nrem * out_word + lat * ceil_div(nrem, plan.drain_tiles)
    compute = gemm + requant
    if plan.serial:
        return load + compute + store
    # a single slot cannot overlap its loads with the compute that reads it
    pieces = len(plan.kfirst) + (nnb - 1) * len(plan.krest)
    compute += (a_load if plan.a_slots < 2 and groups > 1 else 0) + (w_load if plan.w_slots < 2 and pieces > 1 else 0)
    compute += bias if plan.acc_slots < 2 and nmb * nnb > 1 else 0
    return max(delay + compute + last_store, load + t_comp - t_load + last_store, delay + first_compute + store)


def candidates(cfg: HwConfig, spec: GemmSpec, serial: bool = False) -> list[GemmPlan]:
    """Candidate plans that fit `cfg` with kfirst == krest, in a fixed order."""
    arr = cfg.array_size
    kt, nt = ceil_div(spec.k, arr), ceil_div(spec.n, arr)
    out = []
    mbs = _sizes(spec.m, min(spec.m, arr), MAX_ROWS) or _sizes(spec.m, 1, MAX_ROWS)
    for order in ORDERS:
        for mb in mbs:
            for nb in _sizes(nt, 1, MAX_TILES):
                for parts in dict.fromkeys(partition(kt, c) for c in _counts(kt)):
                    if max(parts) > MAX_TILES:
                        continue
                    for resident in (True, False) if len(parts) > 1 else (True,):
                        plan = _with_slots(cfg, _base(spec, cfg, order, mb, nb, parts, parts, resident, serial))
                        if plan is not None:
                            out.append(plan)
                            if resident and not serial and kt > _DEFAULT_HEAD[0]:
                                head = _with_slots(cfg, replace(plan, kfirst=_grow(kt, *_DEFAULT_HEAD)))
                                if head is not None:
                                    out.append(head)
    return out


def smallest_plan(cfg: HwConfig, spec: GemmSpec) -> GemmPlan:
    """The plan with the smallest blocks: if it does not fit, no plan does (its check names the buffer)."""
    kt = ceil_div(spec.k, cfg.array_size)
    return replace(_base(spec, cfg, "mnk", 1, 1, (1,) * kt, (1,) * kt, False, False), drain_tiles=1)


def best_plans(cfg: HwConfig, spec: GemmSpec, count: int, serial: bool = False) -> list[GemmPlan]:
    """The `count` plans with the lowest closed-form estimate; CodegenError naming the buffer if none fits."""
    spec.check_strides()
    cands = candidates(cfg, spec, serial)
    if not cands:
        smallest_plan(cfg, spec).check(cfg)  # raises, naming the buffer or field
        raise CodegenError(f"GEMM {spec.m}x{spec.k}x{spec.n}: no tiling fits config {cfg.name!r}")
    ranked = heapq.nsmallest(_STAGE1_KEEP, enumerate(cands), key=lambda ic: (estimate(ic[1], cfg), ic[0]))
    refined: list[GemmPlan] = [p for _, p in ranked]
    if not serial:
        for _, p in ranked:
            if p.a_resident and p.n_nblocks > 0:
                for head in _heads(p.kt):
                    q = _with_slots(cfg, replace(p, kfirst=head))
                    if q is not None:
                        refined.append(q)
    refined = list(dict.fromkeys(refined))
    best = heapq.nsmallest(count, enumerate(refined), key=lambda ip: (estimate(ip[1], cfg), ip[0]))
    return [p for _, p in best]
