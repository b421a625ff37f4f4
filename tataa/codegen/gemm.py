"""Tiled int8 GEMM kernel: HBM layout of weights, bias and scales, the reusable emitter, and a whole program.

``y[M, N] = requant(A[M, K] @ W[K, N] + bias)``: A is int8 row-major in HBM; W is pre-tiled into N_arr x N_arr
tiles (zero-padded), grouped into the W-pieces of the plan so each piece loads with one DMA; the bias
(int32) is loaded into the accumulators (every row reads the same bias: ``dram_stride = 0``) and the GEMMs
accumulate on top of it; the result is requantized per output channel into int8 (INP) or bf16 (VEC), or
stored as int32 straight from ACC. Tiling and token protocol: :mod:`gemm_plan`, :mod:`gemm_sched`,
docs/kernels-gemm.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tataa import config, numerics
from tataa.codegen.builder import REGION_CONST, CodegenError, ProgramBuilder
from tataa.codegen.gemm_plan import (
    MAX_DRAM_OFFSET,
    MAX_DRAM_STRIDE,
    GemmPlan,
    GemmSpec,
    best_plans,
)
from tataa.codegen.gemm_sched import (
    GemmTensors,
    SramBases,
    build_ops,
    estimated_cycles,
    resolve_tokens,
    stream_order,
)
from tataa.config import HwConfig
from tataa.isa.spec import Buffer, Opcode, Unit
from tataa.program import DType, Program, Role, TensorDesc

_OUT_DTYPE = {"int8": DType.INT8, "bf16": DType.BF16, "int32": DType.INT32}
_SHORTLIST = 6  # candidates (best by closed-form estimate) scheduled in full before choosing
_SHORTLIST_BIG = 2  # ... when the best candidate has more than _BIG_STEPS GEMM steps
_BIG_STEPS = 1000


@dataclass(frozen=True)
class GemmEmitted:
    """What emit_gemm produced: the plan, the instruction index range and the estimated cycles."""

    plan: GemmPlan
    first_insn: int
    n_insns: int
    est_cycles: int


# ---- planning -----------------------------------------------------------------------------------
def plan_gemm(
    cfg: HwConfig,
    m: int,
    k: int,
    n: int,
    *,
    out_dtype: str = "int8",
    bias: bool = False,
    per_channel: bool = True,
    serial: bool = False,
) -> GemmPlan:
    """The fastest tiling found for this GEMM on `cfg` (deterministic); CodegenError if none fits.

    `serial` makes every instruction wait for the previous one (a reference for measuring the overlap).
    """
    spec = GemmSpec(m, k, n, out_dtype, bias, per_channel)
    best: tuple[int, int, GemmPlan] | None = None
    shortlist = best_plans(cfg, spec, _SHORTLIST, serial)
    if shortlist[0].n_steps > _BIG_STEPS:
        shortlist = shortlist[:_SHORTLIST_BIG]
    for i, plan in enumerate(shortlist):
        est = estimated_cycles(build_ops(cfg, plan, _dummy_tensors(plan), SramBases(0, 0, 0, 0, 0)))
        if best is None or (est, i) < best[:2]:
            best = (est, i, plan)
    assert best is not None
    return best[2]


def _dummy_tensors(plan: GemmPlan) -> GemmTensors:
    s, arr = plan.spec, plan.arr
    a = TensorDesc("a", Role.INPUT, 1, 0, (s.m, s.k), DType.INT8)
    w = TensorDesc("w", Role.CONST, 0, 0, (plan.kt * plan.nt, arr * arr), DType.INT8)
    out = TensorDesc("y", Role.OUTPUT, 2, 0, (s.m, s.n), _OUT_DTYPE[s.out_dtype])
    bias = TensorDesc("bias", Role.CONST, 0, 0, (plan.nt * arr,), DType.INT32) if s.bias else None
    scales = None
    if s.out_dtype != "int32":
        scales = TensorDesc("scales", Role.CONST, 0, 0, (plan.scale_words, arr), DType.INT32)
    return GemmTensors(a, w, out, bias, scales)


# ---- HBM layout ---------------------------------------------------------------------------------
def pack_weights(plan: GemmPlan, weights: np.ndarray) -> np.ndarray:
    """int8 [K, N] weights as the plan's packed tile image: int8 [kt * nt, N_arr * N_arr], one tile per row.

    Tile (n, k) (output channels n*N_arr.., inputs k*N_arr..) has WGT word j = weights[k*N_arr + j,
    n*N_arr : +N_arr]; tiles are zero-padded and grouped into W-pieces, each contiguous so that it loads
    with one DMA (:meth:`GemmPlan.w_piece_offset`). With one K-range per N-block (the usual case), tile
    (n, k) is at word (n * kt + k) * N_arr.
    """
    s, arr = plan.spec, plan.arr
    w = np.asarray(weights)
    if w.shape != (s.k, s.n) or w.dtype != np.int8:
        raise CodegenError(f"weights must be int8 [{s.k}, {s.n}], got {w.dtype} {list(w.shape)}")
    kt, nt = plan.kt, plan.nt
    padded = np.zeros((kt * arr, nt * arr), np.int8)
    padded[: s.k, : s.n] = w
    # tiles[n, k, j, lane] = padded[k*arr + j, n*arr + lane]
    tiles = padded.reshape(kt, arr, nt, arr).transpose(2, 0, 1, 3)
    out = np.empty((kt * nt * arr, arr), np.int8)  # one row per WGT word
    for ni in range(plan.n_nblocks):
        n0, k0 = ni * plan.nb, 0
        for ki, kb in enumerate(plan.kparts(ni)):
            piece = tiles[n0 : n0 + plan.ntiles(ni), k0 : k0 + kb].reshape(-1, arr)
            start = plan.w_piece_offset(ni, ki)
            out[start : start + len(piece)] = piece
            k0 += kb
    return out.reshape(kt * nt, arr * arr)


def pack_bias(plan: GemmPlan, bias: np.ndarray) -> np.ndarray:
    """int32 [N] bias zero-padded to int32 [nt * N_arr]."""
    b = np.asarray(bias)
    if b.shape != (plan.spec.n,) or b.dtype.kind not in "iu":
        raise CodegenError(f"bias must be an integer array of shape [{plan.spec.n}], got {b.dtype} {list(b.shape)}")
    if b.size and (int(b.min()) < -(1 << 31) or int(b.max()) >= 1 << 31):
        raise CodegenError("bias values must fit int32")
    out = np.zeros(plan.nt * plan.arr, np.int32)
    out[: plan.spec.n] = b
    return out


def pack_scales(plan: GemmPlan, scales: np.ndarray | float | None) -> np.ndarray:
    """Packed requantization scale words, int32 [scale_words, N_arr] (lane j of word t: channel t*N_arr + j).

    `scales` are the real multipliers applied to the int32 result: one per output channel when the plan is
    per-channel, else one number (None means 1.0).
    """
    s, arr = plan.spec, plan.arr
    x = np.asarray(1.0 if scales is None else scales, dtype=np.float64)
    want = (s.n,) if s.per_channel else ()
    if x.shape != want:
        raise CodegenError(f"scales must have shape {list(want)} for this plan, got {list(x.shape)}")
    try:
        m, sh = numerics.scale_to_multiplier(x)
        words = numerics.pack_scale(m, sh)
    except ValueError as e:
        raise CodegenError(f"requantization scale not representable: {e}") from None
    out = np.zeros((plan.scale_words, arr), np.int32)
    out.reshape(-1)[: np.size(words)] = np.reshape(words, -1)
    if not s.per_channel:
        out[0, :] = words
    return out


# ---- emission -----------------------------------------------------------------------------------
def _check_tensor(
    t: TensorDesc,
    what: str,
    dtype: DType,
    shape: tuple[int, ...] | None,
    nrows: int | None = None,
    cols: int | None = None,
) -> None:
    if t.dtype is not dtype:
        raise CodegenError(f"GEMM {what} tensor {t.name!r} must be {dtype.value}, is {t.dtype.value}")
    if shape is not None and t.shape != shape:
        raise CodegenError(f"GEMM {what} tensor {t.name!r} must have shape {list(shape)}, has {list(t.shape)}")
    if nrows is not None and (t.nrows != nrows or (t.shape[-1] if t.shape else 1) != cols):
        raise CodegenError(f"GEMM {what} tensor {t.name!r} must be {nrows} x {cols}, is {list(t.shape)}")
    if t.stride > MAX_DRAM_STRIDE:
        raise CodegenError(f"GEMM {what} tensor {t.name!r}: row stride {t.stride} B exceeds the 17-bit dram_stride")
    if t.offset + t.extent - 1 > MAX_DRAM_OFFSET:
        raise CodegenError(f"GEMM {what} tensor {t.name!r} ends beyond the 32-bit dram_offset range")


def emit_gemm(
    builder: ProgramBuilder,
    a: TensorDesc,
    w_tiles: TensorDesc,
    out: TensorDesc,
    plan: GemmPlan,
    *,
    bias: TensorDesc | None = None,
    scales: TensorDesc | None = None,
    fence: bool = True,
) -> GemmEmitted:
    """Append the instructions of one tiled GEMM to `builder` (PE array in SYSTOLIC mode, token FIFOs empty).

    `a`: int8 [M, K] (any row stride); `w_tiles`: :func:`pack_weights` image; `out`: [M, N] of the plan's
    output dtype (any row stride); `bias`: :func:`pack_bias` image (iff the plan has a bias); `scales`:
    :func:`pack_scales` image (iff the output is int8 or bf16). On-chip buffers are borrowed from the
    builder's arenas and released; the token FIFOs are left empty. With `fence` (default) and earlier
    instructions in the builder, a barrier first lets everything before finish (their buffer use and their
    STOREs, e.g. of `a`); without it the caller must order them.
    """
    cfg, s, arr = builder.cfg, plan.spec, plan.arr
    plan.check(cfg)
    _check_tensor(a, "activation", DType.INT8, None, s.m, s.k)
    _check_tensor(w_tiles, "weight", DType.INT8, (plan.kt * plan.nt, arr * arr))
    if w_tiles.stride != arr * arr:
        raise CodegenError(f"GEMM weight tensor {w_tiles.name!r} must be densely packed (row stride {arr * arr} B)")
    _check_tensor(out, "output", _OUT_DTYPE[s.out_dtype], None, s.m, s.n)
    if (bias is not None) != s.bias:
        raise CodegenError(f"GEMM plan {'has' if s.bias else 'has no'} bias but bias tensor is {bias!r}")
    if bias is not None:
        _check_tensor(bias, "bias", DType.INT32, (plan.nt * arr,))
    if s.out_dtype == "int32":
        if scales is not None:
            raise CodegenError("GEMM with int32 output takes no scales")
    elif scales is None:
        raise CodegenError(f"GEMM with {s.out_dtype} output needs a scales tensor")
    else:
        _check_tensor(scales, "scales", DType.INT32, (plan.scale_words, arr))
    arenas = builder.sram
    marks = {buf: arenas[buf].mark() for buf in Buffer}
    fp = plan.footprint()
    out_buf = Buffer.INP if s.out_dtype == "int8" else Buffer.VEC
    try:
        a_base = arenas[Buffer.INP].alloc(plan.a_slots * plan.a_slot_words, "GEMM activation slots")
        out_base = arenas[out_buf].alloc(plan.out_slots * plan.block_words, "GEMM output slots")
        w_base = arenas[Buffer.WGT].alloc(fp["wgt"], "GEMM weight slots")
        scale_base = arenas[Buffer.ACC].alloc(plan.scale_words, "GEMM scales")
        acc_base = arenas[Buffer.ACC].alloc(plan.acc_slots * plan.block_words, "GEMM accumulators")
        ops = build_ops(
            cfg,
            plan,
            GemmTensors(a, w_tiles, out, bias, scales),
            SramBases(a_base, w_base, acc_base, scale_base, out_base),
        )
    finally:
        for buf, mark in marks.items():
            arenas[buf].release(mark)
    resolve_tokens(ops)
    if fence and builder.instructions:
        emit_barrier(builder)
    first = len(builder.instructions)
    for op in stream_order(ops):
        builder.emit(op.opcode, **op.fields, **op.flags)
    return GemmEmitted(plan, first, len(ops), estimated_cycles(ops))


def emit_barrier(builder: ProgramBuilder) -> None:
    """Five NOPs after which every unit's later instructions start only once all earlier ones have completed.

    Uses and consumes one token on each of the four FIFOs, so it leaves them as it found them.
    """
    builder.emit(Opcode.NOP, unit=int(Unit.STORE), push_prev=1)
    builder.emit(Opcode.NOP, unit=int(Unit.LOAD), push_next=1)
    builder.emit(Opcode.NOP, unit=int(Unit.COMPUTE), pop_prev=1, pop_next=1, push_prev=1, push_next=1)
    builder.emit(Opcode.NOP, unit=int(Unit.LOAD), pop_next=1)
    builder.emit(Opcode.NOP, unit=int(Unit.STORE), pop_prev=1)


def gemm_program(
    cfg: HwConfig | str,
    weights: np.ndarray,
    m: int,
    *,
    bias: np.ndarray | None = None,
    scales: np.ndarray | float | None = None,
    out_dtype: str = "int8",
    serial: bool = False,
    plan: GemmPlan | None = None,
) -> Program:
    """A program computing y = requant(a @ weights + bias) with input "a" (int8 [m, K]) and output "y" ([m, N]).

    `scales` are real multipliers applied to the int32 result (one per output channel, or one number; None:
    1.0); `out_dtype` is "int8", "bf16" or "int32" (int32: no scales). `serial` disables all overlap.
    """
    hw = config.load(cfg) if isinstance(cfg, str) else cfg
    w = np.asarray(weights)
    if w.ndim != 2 or w.dtype != np.int8:
        raise CodegenError(f"weights must be a 2-D int8 array [K, N], got {w.ndim}-D {w.dtype}")
    k, n = w.shape
    if out_dtype == "int32" and scales is not None:
        raise CodegenError("int32 output takes no scales (the int32 accumulators are stored as they are)")
    per_channel = scales is not None and np.ndim(scales) > 0
    if plan is None:
        plan = plan_gemm(
            hw, m, k, n, out_dtype=out_dtype, bias=bias is not None, per_channel=per_channel, serial=serial
        )
    elif plan.spec != GemmSpec(m, k, n, out_dtype, bias is not None, per_channel):
        raise CodegenError(f"plan is for {plan.spec}, not this GEMM")
    b = ProgramBuilder(hw)
    a_t = b.tensor("a", Role.INPUT, (m, k), DType.INT8)
    y_t = b.tensor("y", Role.OUTPUT, (m, n), _OUT_DTYPE[out_dtype])
    w_t = b.tensor(
        "w",
        Role.CONST,
        (plan.kt * plan.nt, plan.arr * plan.arr),
        DType.INT8,
        data=pack_weights(plan, w),
        region=REGION_CONST,
    )
    bias_t = None
    if bias is not None:
        bias_t = b.tensor("bias", Role.CONST, (plan.nt * plan.arr,), DType.INT32, data=pack_bias(plan, bias))
    scales_t = None
    if out_dtype != "int32":
        scales_t = b.tensor(
            "scales", Role.CONST, (plan.scale_words, plan.arr), DType.INT32, data=pack_scales(plan, scales)
        )
    em = emit_gemm(b, a_t, w_t, y_t, plan, bias=bias_t, scales=scales_t)
    return b.build({"kernel": "gemm", "plan": describe_plan(plan), "est_cycles": str(em.est_cycles)})


def describe_plan(plan: GemmPlan) -> str:
    """One-line summary of a plan."""
    s = plan.spec

    def parts(p: tuple[int, ...]) -> str:
        runs: list[list[int]] = []
        for x in p:
            if runs and runs[-1][1] == x:
                runs[-1][0] += 1
            else:
                runs.append([1, x])
        return "+".join(f"{c}x{x}" if c > 1 else str(x) for c, x in runs)

    kfirst = "" if plan.kfirst == plan.krest else f" kfirst={parts(plan.kfirst)}"
    return (
        f"{s.m}x{s.k}x{s.n} {s.out_dtype}{' +bias' if s.bias else ''} order={plan.order} mb={plan.mb} "
        f"nb={plan.nb}{kfirst} krest={parts(plan.krest)} {'A-resident' if plan.a_resident else 'A-split'} "
        f"slots a={plan.a_slots} w={plan.w_slots} acc={plan.acc_slots} out={plan.out_slots} "
        f"drain={plan.drain_tiles}{' serial' if plan.serial else ''}"
    )
