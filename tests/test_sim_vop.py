"""VOP: every SIMD function through its VKind, broadcasts, constants, F2I8, reductions and the hazard rule."""

from __future__ import annotations

import numpy as np
import pytest
from sim_programs import TINY, N, load, pipeline, program, region, store
from sim_reference import reference_run

from tataa import numerics
from tataa.errors import SimError
from tataa.isa.spec import VFUNCTS, Buffer, Mode, Opcode, VFunct, VKind, make
from tataa.sim import Simulator

WORDS = 64
F = numerics.f32_to_bf16


def bf(*values: float) -> np.ndarray:
    return F(np.array(values, np.float32))


def vec_data(seed: int) -> np.ndarray:
    """[WORDS, N] bf16 patterns: ordinary values, random bit patterns and specials."""
    rng = np.random.default_rng(seed)
    v = F(rng.normal(0, 4, (WORDS, N)).astype(np.float32))
    v[::3] = rng.integers(0, 1 << 16, (len(v[::3]), N), dtype=np.uint16)
    v[1, :6] = [0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x0001]  # +-0, +-inf, NaN, subnormal
    return v


def run_vop(vop, vec: np.ndarray, consts=(), out: Buffer = Buffer.VEC, prologue=()):
    """LOAD vec into VEC 0.., run SETCs + VOP in SIMD mode, STORE all of VEC (or INP) 0..WORDS-1."""
    eb = 2 if out is Buffer.VEC else 1
    computes = [make(Opcode.MODE, mode=Mode.SIMD)]
    computes += [make(Opcode.SETC, idx=i, value=int(v)) for i, v in consts]
    computes += [*prologue, vop]
    prog = program(
        pipeline(
            [load(Buffer.VEC, sram_ystride=1, rows=WORDS, cols=N, dram_reg=0, dram_stride=2 * N)],
            computes,
            [store(out, sram_ystride=1, rows=WORDS, cols=N, dram_reg=1, dram_stride=eb * N)],
        ),
        [region(0, vec.nbytes), region(1, WORDS * N * eb)],
    )
    img = {0: vec.astype("<u2").view(np.uint8).ravel()}
    got = Simulator(prog).run(img).images[1]
    ref = reference_run(prog, TINY, img)[1]
    np.testing.assert_array_equal(got, ref)  # the naive per-iteration reading agrees
    return got.view("<u2" if eb == 2 else np.int8).reshape(WORDS, N)


def words(base: int, ostride: int, istride: int, outer: int, inner: int) -> np.ndarray:
    return (base + np.arange(outer)[:, None] * ostride + np.arange(inner)[None, :] * istride).ravel()


@pytest.mark.parametrize("d", VFUNCTS, ids=[d.funct.name for d in VFUNCTS])
def test_every_simd_function(d) -> None:
    outer, inner = 2, 3
    v = vec_data(int(d.funct))
    fn = getattr(numerics, d.impl)
    c = bf(0.75)[0]
    f = dict(
        funct=d.funct,
        outer=outer,
        inner=inner,
        a_base=0,
        a_ostride=3,
        a_istride=1,
        b_base=8,
        b_ostride=4,
        b_istride=1,
        dst_base=20,
        dst_ostride=3,
        dst_istride=1,
        c_idx=5,
    )
    a, b, dst = words(0, 3, 1, outer, inner), words(8, 4, 1, outer, inner), words(20, 3, 1, outer, inner)
    expect = v.copy()
    out = Buffer.VEC
    if d.kind is VKind.UNARY:
        expect[dst] = fn(v[a])
    elif d.kind is VKind.BINARY:
        expect[dst] = fn(v[a], v[b])
    elif d.kind is VKind.TERNARY_CONST:
        expect[dst] = fn(v[a], v[b], np.full((len(a), N), c))
    elif d.kind is VKind.TERNARY_DST:
        expect[dst] = fn(v[a], v[b], v[dst])
    elif d.kind is VKind.TO_INT8:
        out = Buffer.INP
        expect = np.zeros((WORDS, N), np.int8)
        expect[dst] = fn(v[a], v[b])
    else:
        f.update(dst_base=30, dst_ostride=2, dst_istride=0)
        expect[[30, 32]] = fn(v[a].reshape(outer, inner, N))[:, None]
    got = run_vop(make(Opcode.VOP, **f), v, consts=[(5, c)], out=out)
    np.testing.assert_array_equal(got, expect)


def test_operand_order_and_constants_by_value() -> None:
    v = np.zeros((WORDS, N), np.uint16)
    v[0], v[1], v[2], v[3] = bf(5.0), bf(3.0), bf(10.0), bf(0.0)
    v[3, : N // 2] = bf(1.0)

    def one(funct: VFunct, **f: int) -> np.ndarray:
        vop = make(Opcode.VOP, **{"funct": funct, "outer": 1, "inner": 1, "b_base": 1, "dst_base": 2, **f})
        return numerics.bf16_to_f32(run_vop(vop, v, consts=[(2, bf(0.5)[0]), (7, bf(-2.0)[0])])[2])

    assert (one(VFunct.SUB) == 2.0).all()
    assert (one(VFunct.FMA, c_idx=2) == 15.5).all()  # 5 * 3 + const[2]
    assert (one(VFunct.MAC) == 25.0).all()  # 5 * 3 + dst
    assert (one(VFunct.MUL, b_base=7, b_const=1) == -10.0).all()  # b is const[7]
    sel = make(Opcode.VOP, funct=VFunct.SEL, outer=1, inner=1, a_base=0, b_base=1, dst_base=3)
    got = numerics.bf16_to_f32(run_vop(sel, v)[3])
    np.testing.assert_array_equal(got, [5.0] * (N // 2) + [3.0] * (N // 2))  # a where dst != 0, else b


def test_stride_zero_broadcasts_and_in_place() -> None:
    v = vec_data(50)
    # b is one word for every (o, i); a repeats along inner; dst is a itself (in place, legal)
    vop = make(
        Opcode.VOP, funct=VFunct.MUL, outer=3, inner=1, a_base=4, a_ostride=1, b_base=40, dst_base=4, dst_ostride=1
    )
    expect = v.copy()
    expect[4:7] = numerics.bf16_mul(v[4:7], v[40][None, :])
    np.testing.assert_array_equal(run_vop(vop, v), expect)
    vop = make(
        Opcode.VOP,
        funct=VFunct.ADD,
        outer=2,
        inner=4,
        a_base=0,
        a_ostride=1,
        a_istride=0,
        b_base=10,
        b_ostride=4,
        b_istride=1,
        dst_base=30,
        dst_ostride=4,
        dst_istride=1,
    )
    expect = v.copy()
    expect[30:38] = numerics.bf16_add(np.repeat(v[0:2], 4, axis=0), v[10:18])
    np.testing.assert_array_equal(run_vop(vop, v), expect)


def test_f2i8_writes_the_input_buffer() -> None:
    v = np.zeros((WORDS, N), np.uint16)
    v[0] = bf(2.6, -2.5, 0.5, 1.5, 100.0, -100.0, np.inf, np.nan)[:N]
    v[1] = bf(10.0)
    vop = make(Opcode.VOP, funct=VFunct.F2I8, outer=1, inner=1, a_base=0, b_base=1, dst_base=6)
    got = run_vop(vop, v, out=Buffer.INP)
    np.testing.assert_array_equal(got[6], [26, -25, 5, 15, 127, -128, 127, 0][:N])
    assert not got[np.arange(WORDS) != 6].any()
    const_b = make(Opcode.VOP, funct=VFunct.F2I8, outer=1, inner=1, a_base=0, b_base=4, b_const=1, dst_base=7)
    got = run_vop(const_b, v, consts=[(4, bf(-1.0)[0])], out=Buffer.INP)
    np.testing.assert_array_equal(got[7], [-3, 2, 0, -2, -100, 100, -128, 0][:N])


def test_reductions_broadcast_to_every_lane() -> None:
    v = np.zeros((WORDS, N), np.uint16)
    v[0:6] = bf(1.0)
    v[2, 0] = bf(7.0)[0]
    v[4, 3] = bf(-9.0)[0]
    f = dict(outer=2, inner=3, a_base=0, a_ostride=3, a_istride=1, dst_base=10, dst_ostride=5)
    total = numerics.bf16_to_f32(run_vop(make(Opcode.VOP, funct=VFunct.REDSUM, **f), v))
    np.testing.assert_array_equal(total[10], 3 * N - 1 + 7)
    np.testing.assert_array_equal(total[15], 3 * N - 1 - 9)
    top = numerics.bf16_to_f32(run_vop(make(Opcode.VOP, funct=VFunct.REDMAX, **f), v))
    assert (top[10] == 7.0).all() and (top[15] == 1.0).all()
    sq = numerics.bf16_to_f32(run_vop(make(Opcode.VOP, funct=VFunct.REDSUMSQ, **f), v))
    assert (sq[15] == 3 * N - 1 + 81).all()


def test_random_strided_vops_match_the_reference() -> None:
    rng = np.random.default_rng(99)
    functs = list(VFunct)
    for trial in range(30):
        funct = functs[trial % len(functs)]
        kind = {d.funct: d.kind for d in VFUNCTS}[funct]
        outer, inner = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        f = dict(
            funct=funct,
            outer=outer,
            inner=inner,
            a_base=int(rng.integers(0, 8)),
            a_ostride=int(rng.integers(0, 4)),
            a_istride=int(rng.integers(0, 2)),
            b_base=int(rng.integers(0, 8)),
            b_ostride=int(rng.integers(0, 4)),
            b_istride=int(rng.integers(0, 2)),
            b_const=int(rng.integers(0, 2)),
            c_idx=int(rng.integers(0, 8)),
            dst_base=int(rng.integers(40, 44)),
            dst_ostride=inner,
            dst_istride=1,
        )
        if f["b_const"]:
            f["b_base"] %= 8
        consts = [(i, int(x)) for i, x in enumerate(rng.integers(0, 1 << 16, 8))]
        run_vop(
            make(Opcode.VOP, **f),
            vec_data(trial),
            consts=consts,
            out=Buffer.INP if kind is VKind.TO_INT8 else Buffer.VEC,
        )


def vop_error(**f: int) -> str:
    prog = program([make(Opcode.MODE, mode=Mode.SIMD), make(Opcode.VOP, **f)])
    with pytest.raises(SimError) as e:
        Simulator(prog)
    assert e.value.index == 1 and "instruction #1 (VOP" in str(e.value)
    return str(e.value)


def test_hazard_two_iterations_write_one_word() -> None:
    msg = vop_error(funct=VFunct.ADD, outer=1, inner=2, a_base=0, a_istride=1, b_base=4, dst_base=9)
    assert "iterations (o=0, i=0) and (o=0, i=1) both write VEC word 9" in msg
    msg = vop_error(funct=VFunct.F2I8, outer=3, inner=1, a_base=0, b_base=4, dst_base=2, dst_ostride=0)
    assert "both write INP word 2" in msg
    msg = vop_error(funct=VFunct.REDSUM, outer=2, inner=2, a_base=0, a_ostride=2, a_istride=1, dst_base=9)
    assert "iterations (o=0) and (o=1) both write VEC word 9" in msg


def test_hazard_write_read_by_another_iteration() -> None:
    # dst = a shifted by one word: iteration i writes what iteration i + 1 reads
    msg = vop_error(funct=VFunct.MOV, outer=1, inner=4, a_base=0, a_istride=1, dst_base=1, dst_istride=1)
    assert "iteration (o=0, i=0) writes VEC word 1, which iteration (o=0, i=1) reads as operand a" in msg
    msg = vop_error(funct=VFunct.MUL, outer=2, inner=1, a_base=0, a_ostride=1, b_base=10, dst_base=10, dst_ostride=1)
    assert "iteration (o=0, i=0) writes VEC word 10, which iteration (o=1, i=0) reads as operand b" in msg


def test_hazard_reduction_destination_overlaps_its_input() -> None:
    msg = vop_error(
        funct=VFunct.REDMAX, outer=2, inner=4, a_base=0, a_ostride=4, a_istride=1, dst_base=6, dst_ostride=1
    )
    assert "reduction step (o=0) writes VEC word 6" in msg and "operand a word (step o=1)" in msg
    msg = vop_error(funct=VFunct.REDSUM, outer=1, inner=4, a_base=0, a_istride=1, dst_base=3)
    assert "writes VEC word 3" in msg  # even within its own step


def test_legal_in_place_and_shared_reads_do_not_raise() -> None:
    prog = program(
        [
            make(Opcode.MODE, mode=Mode.SIMD),
            make(
                Opcode.VOP,
                funct=VFunct.MAC,
                outer=4,
                inner=2,
                a_base=0,
                a_ostride=2,
                a_istride=1,
                b_base=0,
                b_ostride=2,
                b_istride=1,
                dst_base=0,
                dst_ostride=2,
                dst_istride=1,
            ),
            make(
                Opcode.VOP,
                funct=VFunct.REDSUM,
                outer=3,
                inner=5,
                a_base=0,
                a_ostride=0,
                a_istride=1,
                dst_base=5,
                dst_ostride=1,
            ),
        ]
    )
    Simulator(prog).run()


def test_operand_range_and_constant_register_errors() -> None:
    depth = TINY.vec_depth
    msg = vop_error(funct=VFunct.ADD, outer=2, inner=1, a_base=depth - 1, a_ostride=1, b_base=0, dst_base=5)
    assert f"operand a: VEC word {depth} out of range" in msg
    msg = vop_error(funct=VFunct.F2I8, outer=1, inner=1, a_base=0, b_base=1, dst_base=TINY.inp_depth)
    assert f"INP word {TINY.inp_depth} out of range" in msg
    msg = vop_error(funct=VFunct.ADD, outer=1, inner=1, a_base=0, b_base=8, b_const=1, dst_base=5)
    assert "b_base 8 is not a constant register (0..7)" in msg
    # b of a unary function is not read: its (out of range) base is ignored
    Simulator(
        program(
            [
                make(Opcode.MODE, mode=Mode.SIMD),
                make(Opcode.VOP, funct=VFunct.ABS, outer=1, inner=1, b_base=0xFFFF, dst_base=3),
            ]
        )
    )
