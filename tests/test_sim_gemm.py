"""GEMM (clear / accumulate, k- and n-tiles, int32 wrap) and REQUANT (int8 / bf16, per channel)."""

from __future__ import annotations

import numpy as np
import pytest
from sim_programs import TINY, N, load, pipeline, program, region, store
from sim_reference import reference_run

from tataa import numerics
from tataa.errors import SimError
from tataa.isa.spec import Buffer, Mode, Opcode, OutType, VFunct, make
from tataa.sim import Simulator

I32 = (-(1 << 31), (1 << 31) - 1)


def wrap(x: np.ndarray) -> np.ndarray:
    return (((x.astype(np.int64) + (1 << 31)) % (1 << 32)) - (1 << 31)).astype(np.int32)


def tiled_weights(w: np.ndarray, kt: int, nt: int) -> np.ndarray:
    """[K, nt*N] weights laid out as WGT words: tile (n, k) row j = w[k*N + j, n*N : (n+1)*N]."""
    return w.reshape(kt, N, nt, N).transpose(2, 0, 1, 3).reshape(nt * kt * N, N)


def gemm_program(
    rows, kt, nt, *, inp_base=3, kstride=None, wgt_base=8, acc_base=5, nstride=None, acc0=False, gemms=((1,),)
):
    """LOAD A (and optionally ACC), the GEMMs (each given as (clear,)), STORE ACC."""
    kstride = rows + 2 if kstride is None else kstride
    nstride = rows + 1 if nstride is None else nstride
    k_len = kt * N
    loads = [
        load(
            Buffer.INP,
            sram_base=inp_base,
            sram_ystride=1,
            sram_wstride=kstride,
            rows=rows,
            cols=k_len,
            dram_reg=0,
            dram_stride=k_len,
        ),
        load(Buffer.WGT, sram_base=wgt_base, sram_ystride=1, rows=nt * kt * N, cols=N, dram_reg=1, dram_stride=N),
    ]
    if acc0:
        loads.append(
            load(
                Buffer.ACC,
                sram_base=acc_base,
                sram_ystride=1,
                sram_wstride=nstride,
                rows=rows,
                cols=nt * N,
                dram_reg=2,
                dram_stride=nt * N * 4,
            )
        )
    computes = [
        make(
            Opcode.GEMM,
            clear=c,
            rows=rows,
            ktiles=kt,
            ntiles=nt,
            inp_base=inp_base,
            inp_kstride=kstride,
            wgt_base=wgt_base,
            acc_base=acc_base,
            acc_nstride=nstride,
        )
        for (c,) in gemms
    ]
    stores = [
        store(
            Buffer.ACC,
            sram_base=acc_base,
            sram_ystride=1,
            sram_wstride=nstride,
            rows=rows,
            cols=nt * N,
            dram_reg=3,
            dram_stride=nt * N * 4,
        )
    ]
    regions = [
        region(0, rows * k_len),
        region(1, nt * kt * N * N),
        region(2, rows * nt * N * 4),
        region(3, rows * nt * N * 4),
    ]
    return program(pipeline(loads, computes, stores), regions)


def images(a, w, kt, nt, acc0=None):
    out = {0: a.view(np.uint8).ravel(), 1: tiled_weights(w, kt, nt).view(np.uint8).ravel()}
    if acc0 is not None:
        out[2] = acc0.astype("<i4").view(np.uint8).ravel()
    return out


@pytest.mark.parametrize(("rows", "kt", "nt"), [(1, 1, 1), (5, 3, 2), (12, 2, 3)])
def test_gemm_clear_then_accumulate(rows: int, kt: int, nt: int) -> None:
    rng = np.random.default_rng(rows)
    a = rng.integers(-128, 128, (rows, kt * N), dtype=np.int8)
    w = rng.integers(-128, 128, (kt * N, nt * N), dtype=np.int8)
    ref = a.astype(np.int64) @ w.astype(np.int64)
    res = Simulator(gemm_program(rows, kt, nt)).run(images(a, w, kt, nt))
    np.testing.assert_array_equal(res.images[3].view("<i4").reshape(rows, nt * N), ref)
    assert res.stats.array_macs == rows * N * N * kt * nt
    twice = Simulator(gemm_program(rows, kt, nt, gemms=((1,), (0,)))).run(images(a, w, kt, nt))
    np.testing.assert_array_equal(twice.images[3].view("<i4").reshape(rows, nt * N), 2 * ref)


def test_clear_overwrites_and_accumulate_wraps_int32() -> None:
    rows, kt, nt = 4, 2, 2
    rng = np.random.default_rng(11)
    a = rng.integers(100, 128, (rows, kt * N), dtype=np.int8)  # large positive products
    w = rng.integers(100, 128, (kt * N, nt * N), dtype=np.int8)
    acc0 = np.full((rows, nt * N), I32[1] - 1000, np.int64)
    acc0[0] = I32[0]  # row 0 starts at the most negative value and stays in range
    ref = a.astype(np.int64) @ w.astype(np.int64)
    imgs = images(a, w, kt, nt, acc0)
    acc_out = Simulator(gemm_program(rows, kt, nt, acc0=True, gemms=((0,),))).run(imgs).images[3]
    got = acc_out.view("<i4").reshape(rows, nt * N)
    np.testing.assert_array_equal(got, wrap(acc0 + ref))
    assert (got[1:] < 0).all() and (got[0] > I32[0]).all()  # rows 1.. wrapped past INT32_MAX
    cleared = Simulator(gemm_program(rows, kt, nt, acc0=True, gemms=((1,),))).run(imgs).images[3]
    np.testing.assert_array_equal(cleared.view("<i4").reshape(rows, nt * N), ref)


def test_gemm_with_overlapping_n_tiles_applies_tiles_in_order() -> None:
    rows, kt, nt = 6, 2, 3
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (rows, kt * N), dtype=np.int8)
    w = rng.integers(-128, 128, (kt * N, nt * N), dtype=np.int8)
    for nstride, gemms in ((2, ((1,),)), (0, ((0,),)), (3, ((1,), (0,)))):
        prog = gemm_program(rows, kt, nt, nstride=nstride, kstride=1, acc0=True, gemms=gemms)
        acc0 = rng.integers(-1000, 1000, (rows, nt * N))
        imgs = images(a, w, kt, nt, acc0)
        out = Simulator(prog).run(imgs).images
        np.testing.assert_array_equal(out[3], reference_run(prog, TINY, imgs)[3], err_msg=f"nstride {nstride}")


def test_gemm_ranges_are_checked() -> None:
    big = TINY.wgt_depth // N
    with pytest.raises(SimError, match=rf"WGT word {(big + 1) * N - 1} out of range"):
        Simulator(program([make(Opcode.GEMM, rows=1, ktiles=big + 1, ntiles=1)]))
    with pytest.raises(SimError, match=rf"#0 .*ACC word {TINY.acc_depth} out of range"):
        Simulator(program([make(Opcode.GEMM, rows=4, ktiles=1, ntiles=1, acc_base=TINY.acc_depth - 3)]))
    with pytest.raises(SimError, match=r"INP word 1025 out of range"):
        Simulator(program([make(Opcode.GEMM, rows=2, ktiles=2, ntiles=1, inp_kstride=1024)]))


def test_gemm_needs_systolic_mode_and_vop_needs_simd() -> None:
    with pytest.raises(SimError, match=r"instruction #1 \(GEMM.*GEMM needs SYSTOLIC mode; the PE array is in SIMD"):
        Simulator(program([make(Opcode.MODE, mode=Mode.SIMD), make(Opcode.GEMM, rows=1, ktiles=1, ntiles=1)]))
    with pytest.raises(SimError, match=r"instruction #0 \(VOP.*VOP needs SIMD mode; the PE array is in SYSTOLIC"):
        Simulator(program([make(Opcode.VOP, funct=VFunct.ADD, outer=1, inner=1, b_base=1, dst_base=2)]))
    # and back: SIMD then SYSTOLIC again is fine
    Simulator(
        program(
            [
                make(Opcode.MODE, mode=Mode.SIMD),
                make(Opcode.MODE, mode=Mode.SYSTOLIC),
                make(Opcode.GEMM, rows=1, ktiles=1, ntiles=1),
            ]
        )
    )


def _requant_case(out_type: OutType, scale_tstride: int, mode: Mode):
    tiles, rows = 3, 4
    rng = np.random.default_rng(int(out_type) * 2 + scale_tstride)
    acc = rng.integers(-(1 << 31), 1 << 31, (tiles, rows, N), dtype=np.int64).astype(np.int32)
    acc[0, 0, :4] = [0, 1, -1, I32[0]]
    m = rng.integers(0, 1 << 16, (tiles, N))
    s = rng.integers(0, 64, (tiles, N))
    s[:, :2] = [20, 31]  # shifts giving int8 in range for typical values, and ties
    scales = numerics.pack_scale(m, s) | (rng.integers(0, 1 << 10, (tiles, N), dtype=np.int32) << 22)  # junk bits
    # ACC words: tile t row m at 2 + 7t + m; scale words at 40 + t
    acc_img = np.zeros((64, N), np.int32)
    for t in range(tiles):
        acc_img[2 + 7 * t : 2 + 7 * t + rows] = acc[t]
    acc_img[40 : 40 + tiles] = scales
    dbuf = Buffer.INP if out_type is OutType.INT8 else Buffer.VEC
    eb = 1 if out_type is OutType.INT8 else 2
    loads = [load(Buffer.ACC, sram_ystride=1, rows=64, cols=N, dram_reg=0, dram_stride=4 * N)]
    computes = [make(Opcode.MODE, mode=mode)] if mode is Mode.SIMD else []
    computes.append(
        make(
            Opcode.REQUANT,
            out_type=out_type,
            tiles=tiles,
            rows=rows,
            acc_base=2,
            acc_tstride=7,
            scale_base=40,
            scale_tstride=scale_tstride,
            dst_base=1,
            dst_tstride=1,
            dst_mstride=tiles,
        )
    )
    stores = [store(dbuf, sram_base=1, sram_ystride=1, rows=tiles * rows, cols=N, dram_reg=1, dram_stride=N * eb)]
    prog = program(pipeline(loads, computes, stores), [region(0, acc_img.nbytes), region(1, tiles * rows * N * eb)])
    out = Simulator(prog).run({0: acc_img.view(np.uint8).ravel()}).images[1]
    used = scales[:, None, :] if scale_tstride else np.broadcast_to(scales[0], (tiles, 1, N))
    fn = numerics.requant_int8 if out_type is OutType.INT8 else numerics.requant_bf16
    expect = fn(acc, np.broadcast_to(used, acc.shape))  # [t, m, N]
    got = out.view(np.int8 if eb == 1 else "<u2").reshape(rows, tiles, N).transpose(1, 0, 2)  # dst word 1 + t + m*tiles
    return got, expect


@pytest.mark.parametrize("out_type", list(OutType))
@pytest.mark.parametrize("scale_tstride", [0, 1])
def test_requant_per_channel(out_type: OutType, scale_tstride: int) -> None:
    got, expect = _requant_case(out_type, scale_tstride, Mode.SYSTOLIC)
    np.testing.assert_array_equal(got, expect)
    assert len(np.unique(expect)) > 10  # the case is not degenerate


def test_requant_is_legal_in_simd_mode() -> None:
    got, expect = _requant_case(OutType.BF16, 1, Mode.SIMD)
    np.testing.assert_array_equal(got, expect)


def test_requant_duplicate_destinations_keep_the_last_row() -> None:
    prog = program(
        pipeline(
            [load(Buffer.ACC, sram_ystride=1, rows=6, cols=N, dram_reg=0, dram_stride=4 * N)],
            [
                make(
                    Opcode.REQUANT,
                    out_type=OutType.INT8,
                    tiles=2,
                    rows=2,
                    acc_base=0,
                    acc_tstride=2,
                    scale_base=5,
                    dst_base=3,
                    dst_tstride=0,
                    dst_mstride=0,
                )
            ],
            [store(Buffer.INP, sram_base=3, rows=1, cols=N, dram_reg=1)],
        ),
        [region(0, 6 * 4 * N), region(1, N)],
    )
    acc = np.arange(6 * N, dtype=np.int32).reshape(6, N)
    acc[5] = numerics.pack_scale(1, 0)
    img = acc.view(np.uint8).ravel()
    out = Simulator(prog).run({0: img}).images
    np.testing.assert_array_equal(out[1].view(np.int8), numerics.saturate_int8(acc[3]))  # tile 1, row 1 last
    np.testing.assert_array_equal(out[1], reference_run(prog, TINY, {0: img})[1])
