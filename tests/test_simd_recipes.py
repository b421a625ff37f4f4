"""SIMD recipes: numpy evaluator semantics, exhaustive accuracy, emitted programs equal to the evaluator bit
for bit, storage planning, constant-register scheduling and token discipline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tataa import config, numerics
from tataa.codegen import nonlinear as nl
from tataa.codegen import simd_recipes as rc
from tataa.codegen.builder import CodegenError, ProgramBuilder
from tataa.codegen.simd import ConstRegs, Kind, NumpySimd, RowKernel, SimdTrace, emit_rowwise, evaluate, plan
from tataa.codegen.simd.accuracy import UNARY, eval_unary, exhaustive, finite_bf16
from tataa.codegen.simd.ops import Const
from tataa.codegen.simd.rowwise import trace_plan
from tataa.isa.spec import Buffer, Opcode, VFunct
from tataa.program import DType, Role
from tataa.runtime.backends import run

TINY = config.load("tiny")
U280 = config.load("u280")
F = numerics.f64_to_bf16
ALL_PATTERNS = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)


def bf(*values: float) -> np.ndarray:
    return F(np.array(values, dtype=np.float64))


def run_kernel(cfg, kernel: RowKernel, inputs: dict[str, np.ndarray], **kw: Any):
    """Emit `kernel` as a stand-alone program over uint16 inputs and run it; returns (bits, RunResult, info)."""
    rows = next(iter(inputs.values())).shape[0]
    b = ProgramBuilder(cfg)
    ins = {k: b.tensor(k, Role.INPUT, (rows, kernel.cols), DType.BF16) for k in kernel.row_inputs}
    y = b.tensor("y", Role.OUTPUT, (rows, kernel.cols), DType.BF16)
    info = emit_rowwise(b, kernel, ins, y, **kw)
    res = run(b.build(), inputs, trace=True)
    return numerics.f32_to_bf16(res.outputs["y"]), res, info


def unary_kernel(name: str, fn: Callable[..., Any], cols: int) -> RowKernel:
    return RowKernel(name, cols, ("x",), {}, lambda o, v: fn(o, v["x"]))


# ---- the numpy evaluator --------------------------------------------------------------------------
def test_numpy_evaluator_broadcasts_kinds_like_the_datapath() -> None:
    rng = np.random.default_rng(0)
    o = NumpySimd(8, 3, 2)
    x = o.value(Kind.FULL, F(rng.normal(size=(3, 13))))
    g = o.value(Kind.VEC, F(rng.normal(size=13)))
    w = o.splat(Const.of(1.5))
    r = o.redsum(x)
    assert r.kind is Kind.ROW and r.bits.shape == (3, 8)
    # ROW: the reduction is in every lane; FULL op ROW repeats the row's word over every word of the row
    assert (r.bits == r.bits[:, :1]).all()
    np.testing.assert_array_equal(o.add(x, r).bits, numerics.bf16_add(x.bits, np.tile(r.bits, (1, 2))))
    np.testing.assert_array_equal(o.mul(x, g).bits, numerics.bf16_mul(x.bits, g.bits))
    np.testing.assert_array_equal(o.sub(x, w).bits, numerics.bf16_sub(x.bits, np.uint16(0x3FC0)))
    np.testing.assert_array_equal(o.fma(x, 2.0, 1.0).bits, numerics.bf16_fma(x.bits, bf(2.0), bf(1.0)))
    np.testing.assert_array_equal(o.mac(x, x, g).bits, numerics.bf16_fma(x.bits, g.bits, x.bits))
    cond = o.cmplt(x, 0.0)
    np.testing.assert_array_equal(o.sel(cond, x, 7.0).bits, np.where(cond.bits != 0, x.bits, bf(7.0)))
    # the padding lanes of the last word are zero, as LOAD leaves them
    assert (x.bits[:, 13:] == 0).all()
    expect = numerics.reduce_sum(x.bits.reshape(3, 2, 8))
    np.testing.assert_array_equal(r.bits[:, 0], expect)


def test_tail_op_only_touches_the_last_word() -> None:
    o = NumpySimd(8, 2, 3)
    x = o.value(Kind.FULL, F(np.arange(1, 21, dtype=float).reshape(2, 10)))
    mask = np.zeros(8, np.uint16)
    mask[2:] = numerics.BF16_NEG_INF
    out = o.tail(VFunct.ADD, x, o.value(Kind.WORD, mask))
    np.testing.assert_array_equal(out.bits[:, :16], x.bits[:, :16])
    np.testing.assert_array_equal(out.bits[:, 16:18], x.bits[:, 16:18])
    assert (out.bits[:, 18:] == numerics.BF16_NEG_INF).all()


# ---- accuracy --------------------------------------------------------------------------------------
@pytest.mark.parametrize("u", UNARY, ids=[f"{u.name}[{u.domain}]" for u in UNARY])
def test_exhaustive_ulp_error_within_bound(u) -> None:
    s = exhaustive(u)
    assert s.count > 30000
    assert s.max_ulp <= u.bound, f"{u.name}: max {s.max_ulp:.3f} ULP at x = {s.worst_x:g} exceeds {u.bound}"


def test_special_values() -> None:
    def ev(fn: Callable[..., Any], *xs: float) -> np.ndarray:
        return numerics.bf16_to_f64(eval_unary(fn, bf(*xs)))

    inf, nan = np.inf, np.nan
    np.testing.assert_array_equal(ev(rc.exp, 0.0, -0.0, -inf, inf, -1e30, 1e30, 89.0), [1, 1, 0, inf, 0, inf, inf])
    assert np.isnan(ev(rc.exp, nan)).all()
    np.testing.assert_array_equal(ev(rc.reciprocal, 1.0, 2.0, -4.0, 0.125, 3.0), [1, 0.5, -0.25, 8, 0.333984375])
    np.testing.assert_array_equal(ev(rc.rsqrt, 1.0, 4.0, 0.25, 2.0**-100), [1, 0.5, 2, 2.0**50])
    np.testing.assert_array_equal(ev(rc.sigmoid, 0.0, 200.0, -200.0, 1e30, -1e30), [0.5, 1, 0, 1, 0])
    tiny = numerics.bf16_to_f64(bf(1e-30))[0]
    np.testing.assert_array_equal(ev(rc.tanh, 0.0, tiny, 50.0, -50.0, 3e38), [0, tiny, 1, -1, 1])
    np.testing.assert_array_equal(ev(rc.erf, 0.0, 10.0, -10.0, -3e38), [0, 1, -1, -1])
    for g in (rc.gelu_erf, rc.gelu_tanh, rc.silu):
        y = ev(g, 0.0, 1e4, -1e4, 3e38, -3e38, 2.0**-100)
        np.testing.assert_array_equal(y[:5], [0, *numerics.bf16_to_f64(bf(1e4)), 0, *numerics.bf16_to_f64(bf(3e38)), 0])
        assert abs(y[5] / 2.0**-100 - 0.5) < 2**-7  # x * sigmoid(~0) = x/2 for tiny x


@pytest.mark.parametrize("fn", [rc.tanh, rc.erf, rc.gelu_erf, rc.sigmoid], ids=lambda f: f.__name__)
def test_symmetries_hold_bit_for_bit(fn) -> None:
    xb = bf(*np.linspace(-12, 12, 2001))
    neg = xb ^ np.uint16(0x8000)
    y, yn = eval_unary(fn, xb), eval_unary(fn, neg)
    x = numerics.bf16_to_f64(xb)
    if fn in (rc.tanh, rc.erf):  # odd
        np.testing.assert_array_equal(yn, y ^ np.uint16(0x8000))
    elif fn is rc.gelu_erf:  # gelu(x) - gelu(-x) = x
        d = numerics.bf16_to_f64(y) - numerics.bf16_to_f64(yn)
        assert np.max(np.abs(d - x) / np.maximum(np.abs(x), 1e-3)) < 2**-6
    else:  # sigmoid(x) + sigmoid(-x) = 1
        s = numerics.bf16_to_f64(y) + numerics.bf16_to_f64(yn)
        assert np.max(np.abs(s - 1)) < 2**-7


# ---- emitted programs equal the evaluator bit for bit -------------------------------------------
RECIPES = [rc.exp, rc.reciprocal, rc.rsqrt, rc.tanh, rc.erf, rc.sigmoid, rc.silu, rc.gelu_erf, rc.gelu_tanh]


@pytest.mark.parametrize("fn", RECIPES, ids=lambda f: f.__name__)
def test_emitted_recipe_equals_numpy_on_every_bit_pattern(fn) -> None:
    cols = 250  # not a multiple of N: the last word of every row is partly padding
    x = np.concatenate([ALL_PATTERNS, np.zeros(-len(ALL_PATTERNS) % cols, np.uint16)]).reshape(-1, cols)
    k = unary_kernel(fn.__name__, fn, cols)
    got, res, _ = run_kernel(TINY, k, {"x": x})
    np.testing.assert_array_equal(got, evaluate(k, TINY.array_size, {"x": x}))
    assert res.stats.insn_counts["VOP"] > 0


# ---- storage planning ------------------------------------------------------------------------------
def test_in_place_chain_needs_no_temporaries() -> None:
    t = SimdTrace()
    x = t.input("x", Kind.FULL)
    p = plan(t, t.abs(t.floor(t.mul(x, 3.0))))
    assert p.full_slots == 0 and p.row_slots == 0
    assert [op.dst.slot.space for op in p.ops] == ["in", "in", "out"]


def test_copy_inserted_when_the_accumulator_is_still_needed() -> None:
    def body(o, v):
        x = v["x"]
        y = o.mac(x, x, 2.0)  # x*2 + x, but x is needed again below
        return o.sub(y, x)

    k = RowKernel("maccopy", 12, ("x",), {}, body)
    p = trace_plan(k)
    copies = [op for op in p.ops if op.funct is VFunct.IADD and op.b == Const(0)]
    assert len(copies) == 1
    x = F(np.random.default_rng(1).normal(0, 10, (5, 12)))
    got, _, _ = run_kernel(TINY, k, {"x": x})
    np.testing.assert_array_equal(got, evaluate(k, 8, {"x": x}))
    xv = numerics.bf16_to_f64(x)
    np.testing.assert_array_equal(got, numerics.bf16_sub(F(3 * xv), x))


def test_plan_rejects_malformed_recipes() -> None:
    t = SimdTrace()
    x = t.input("x", Kind.FULL)
    with pytest.raises(CodegenError, match="FULL value"):
        plan(t, t.redsum(x))
    with pytest.raises(CodegenError, match="INP"):
        t.vop(VFunct.F2I8, x, Const.of(1.0))
    with pytest.raises(CodegenError, match="constant c missing"):
        t.vop(VFunct.FMA, x, Const.of(1.0))
    with pytest.raises(CodegenError, match="declared twice"):
        t.input("x", Kind.FULL)


# ---- constant registers ------------------------------------------------------------------------
def _setcs(prog) -> list[tuple[int, int]]:
    return [(i["idx"], i["value"]) for i in prog.instructions if i.opcode is Opcode.SETC]


@pytest.mark.parametrize("kernel", ["rmsnorm", "softmax"])
def test_setcs_only_reload_what_does_not_fit_eight_registers(kernel: str) -> None:
    b = ProgramBuilder(TINY)
    x = b.tensor("x", Role.INPUT, (40, 64), DType.BF16)
    y = b.tensor("y", Role.OUTPUT, (40, 64), DType.BF16)
    emit = nl.emit_rmsnorm if kernel == "rmsnorm" else nl.emit_softmax
    info = emit(b, x, y)
    k = nl.rmsnorm_kernel(64, 8) if kernel == "rmsnorm" else nl.softmax_kernel(64, 8)
    p = trace_plan(k)
    consts = {c.bits for op in p.ops for c in op.consts} | {c.bits for c in p.splats}
    setcs = _setcs(b.build())
    assert info.blocks > 2
    assert {v for _, v in setcs} == consts
    if len(consts) <= 8:  # RMSNorm: every constant is set exactly once for all blocks
        assert len(setcs) == len(consts)
    else:  # softmax needs ten: later blocks reload at most the excess, twice
        assert len(setcs) <= len(consts) + (info.blocks - 1) * 2 * (len(consts) - 8)


def test_registers_hold_the_right_constant_at_every_vop() -> None:
    """Replay the register file over the emitted stream: every b_const / c_idx reads what the plan needs."""
    k = nl.gelu_kernel(40, 8, "none")  # 17 distinct constants: reloads are unavoidable
    p = trace_plan(k)
    slots = {loc.slot for op in p.ops for loc in (op.dst, op.a, op.b) if hasattr(loc, "slot")}
    addr = {s: 100 * i for i, s in enumerate(sorted(slots))}
    drafts = [d for _ in range(3) for d in p.vops(4, 5, addr)]
    regs = ConstRegs()
    out = regs.assign(drafts)
    file: list[int | None] = [None] * 8
    for d, (setcs, fields) in zip(drafts, out, strict=True):
        for r, bits_ in setcs:
            assert file[r] != bits_, "redundant SETC"
            file[r] = bits_
        if d.b is not None:
            assert fields["b_const"] == 1 and file[fields["b_base"]] == d.b.bits
        if d.c is not None:
            assert file[fields["c_idx"]] == d.c.bits
    n_setc = sum(len(s) for s, _ in out)
    n_uses = sum((d.b is not None) + (d.c is not None) for d in drafts)
    assert 17 <= n_setc < n_uses


def test_known_register_contents_are_reused_across_kernels() -> None:
    b = ProgramBuilder(TINY)
    x = b.tensor("x", Role.INPUT, (4, 16), DType.BF16)
    t = b.tensor("t", Role.OUTPUT, (4, 16), DType.BF16)
    y = b.tensor("y", Role.OUTPUT, (4, 16), DType.BF16)
    regs = ConstRegs()
    nl.emit_rmsnorm(b, x, t, regs=regs)
    before = len(_setcs(b.build()))
    nl.emit_rmsnorm(b, t, y, regs=regs, set_mode=False)
    assert len(_setcs(b.build())) == before  # the second RMSNorm finds all its constants loaded


def test_const_regs_validates_size() -> None:
    with pytest.raises(CodegenError, match="8 entries"):
        ConstRegs([None] * 3)


# ---- tokens and double buffering -------------------------------------------------------------------
@pytest.mark.parametrize("rows_per_block", [1, 2, 3, 7])
def test_blocks_overlap_and_tokens_balance(rows_per_block: int) -> None:
    k = nl.softmax_kernel(21, 8, mask=True)
    rng = np.random.default_rng(rows_per_block)
    x = F(rng.normal(0, 3, (13, 21)))
    m = np.where(rng.random((13, 21)) < 0.3, numerics.BF16_NEG_INF, np.uint16(0)).astype(np.uint16)
    got, res, info = run_kernel(TINY, k, {"x": x, "mask": m}, rows_per_block=rows_per_block)
    np.testing.assert_array_equal(got, evaluate(k, 8, {"x": x, "mask": m}))
    assert info.blocks == -(-13 // rows_per_block)
    assert all(v == 0 for v in res.stats.tokens_left.values())
    loads = [e for e in res.trace if e.opcode == "LOAD"]
    vops = [e for e in res.trace if e.opcode == "VOP"]
    # the LOAD of block 1 runs while block 0 computes
    first_compute_end = vops[info.vops_per_block - 1].end
    assert loads[2].start < first_compute_end


def test_fenced_kernels_compose_through_hbm() -> None:
    """softmax -> HBM -> GELU in one program: the second kernel's LOADs wait for the first one's STOREs."""
    rng = np.random.default_rng(3)
    x = F(rng.normal(0, 2, (37, 45)))
    b = ProgramBuilder(TINY)
    tx = b.tensor("x", Role.INPUT, (37, 45), DType.BF16)
    tt = b.scratch((37, 45), DType.BF16)
    ty = b.tensor("y", Role.OUTPUT, (37, 45), DType.BF16)
    regs = ConstRegs()
    nl.emit_softmax(b, tx, tt, regs=regs)
    nl.emit_gelu(b, tt, ty, approximate="none", regs=regs, set_mode=False)
    res = run(b.build(), {"x": x})
    expect = nl.gelu_reference(nl.softmax_reference(x, 8), 8, "none")
    np.testing.assert_array_equal(numerics.f32_to_bf16(res.outputs["y"]), expect)
    assert b.sram[Buffer.VEC].top == 0  # every VEC word was given back


def test_row_that_does_not_fit_the_vec_buffer_is_refused() -> None:
    with pytest.raises(CodegenError, match="VEC words"):
        nl.gelu_program(TINY, 2, 8 * 400, "none")


@pytest.mark.parametrize("scale", [1.0, -1.0, 2.0, -0.5])
def test_cody_waite_first_step_is_exact(scale: float) -> None:
    """x - k*C1/s rounds to itself for every clamped bf16 x: only the C2 step of the reduction rounds."""
    xb = finite_bf16()
    x = numerics.bf16_to_f64(xb)
    lo, hi = sorted((rc.EXP_ARG_MIN / scale, rc.EXP_ARG_MAX / scale))
    xb = xb[(x >= lo) & (x <= hi)]
    k = numerics.bf16_floor(numerics.bf16_fma(xb, Const.of(rc.LOG2E * scale).bits, Const.of(0.5).bits))
    c1 = Const.of(-rc.EXP_C1 / scale)
    r1 = numerics.bf16_fma(k, np.uint16(c1.bits), xb)
    exact = numerics.bf16_to_f64(xb) + numerics.bf16_to_f64(k) * c1.value
    np.testing.assert_array_equal(numerics.bf16_to_f64(r1), exact)
    assert np.abs(exact * scale).max() < 0.75
