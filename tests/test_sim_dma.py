"""LOAD / STORE: strided 2-D copies, zero padding, write order, range errors."""

from __future__ import annotations

import numpy as np
import pytest
from sim_programs import TINY, N, load, pipeline, program, region, rng_bytes, store
from sim_reference import reference_run

from tataa.errors import SimError
from tataa.isa.spec import Buffer
from tataa.sim import Simulator

EB = {Buffer.INP: 1, Buffer.WGT: 1, Buffer.ACC: 4, Buffer.VEC: 2}
LE = {Buffer.INP: "<i1", Buffer.WGT: "<i1", Buffer.ACC: "<i4", Buffer.VEC: "<u2"}


def run(prog, images):
    return Simulator(prog).run(images).images


@pytest.mark.parametrize("buf", list(Buffer))
def test_strided_load_pads_last_word_and_store_reads_it_back(buf: Buffer) -> None:
    eb, rows, cols = EB[buf], 3, N + 3
    stride, off = cols * eb + 7, 5
    src = rng_bytes(1, 512)
    insns = pipeline(
        [
            load(
                buf,
                sram_base=2,
                sram_ystride=5,
                sram_wstride=2,
                rows=rows,
                cols=cols,
                dram_reg=0,
                dram_offset=off,
                dram_stride=stride,
            )
        ],
        [],
        [
            store(
                buf,
                sram_base=2,
                sram_ystride=5,
                sram_wstride=2,
                rows=rows,
                cols=2 * N,
                dram_reg=1,
                dram_offset=0,
                dram_stride=2 * N * eb,
            )
        ],
    )
    prog = program(insns, [region(0, 512), region(1, rows * 2 * N * eb)])
    out = run(prog, {0: src})
    got = out[1].view(LE[buf]).reshape(rows, 2 * N)
    for y in range(rows):
        row = np.frombuffer(src[off + y * stride : off + y * stride + cols * eb].tobytes(), LE[buf])
        np.testing.assert_array_equal(got[y, :cols], row)
        np.testing.assert_array_equal(got[y, cols:], 0)  # lanes past cols of the last word were zeroed
    np.testing.assert_array_equal(out[0], src)  # the source region is untouched


@pytest.mark.parametrize("buf", [Buffer.INP, Buffer.ACC, Buffer.VEC])
def test_store_writes_only_cols_and_leaves_the_gaps(buf: Buffer) -> None:
    eb, rows, cols, stride = EB[buf], 4, 5, 13 * EB[buf]
    src, dst0 = rng_bytes(2, 256), rng_bytes(3, 256)
    insns = pipeline(
        [load(buf, sram_ystride=1, rows=rows, cols=N, dram_reg=0, dram_stride=N * eb)],
        [],
        [store(buf, sram_ystride=1, rows=rows, cols=cols, dram_reg=1, dram_offset=3, dram_stride=stride)],
    )
    prog = program(insns, [region(0, 256), region(1, 256, init=dst0.tobytes())])
    out = run(prog, {0: src})[1]
    expect = dst0.copy()
    for y in range(rows):
        expect[3 + y * stride : 3 + y * stride + cols * eb] = src[y * N * eb : y * N * eb + cols * eb]
    np.testing.assert_array_equal(out, expect)


def test_rows_mapping_to_one_word_keep_the_last_row() -> None:
    src = rng_bytes(4, 64)
    insns = pipeline(
        [
            load(Buffer.INP, sram_base=1, sram_ystride=0, rows=3, cols=N, dram_reg=0, dram_stride=N),
            # two words of one row on the same buffer word: the second (zero-padded) word wins
            load(Buffer.INP, sram_base=2, sram_wstride=0, rows=1, cols=N + 2, dram_reg=0, dram_offset=40),
        ],
        [],
        [store(Buffer.INP, sram_base=1, sram_ystride=1, rows=2, cols=N, dram_reg=1, dram_stride=N)],
    )
    out = run(program(insns, [region(0, 64), region(1, 2 * N)]), {0: src})[1]
    np.testing.assert_array_equal(out[:N], src[2 * N : 3 * N])
    np.testing.assert_array_equal(out[N : N + 2], src[40 + N : 42 + N])
    np.testing.assert_array_equal(out[N + 2 : 2 * N], 0)


def test_store_rows_overlapping_in_hbm_later_row_wins() -> None:
    src = rng_bytes(5, 256)
    insns = pipeline(
        [load(Buffer.VEC, sram_ystride=1, rows=4, cols=N, dram_reg=0, dram_stride=2 * N)],
        [],
        [store(Buffer.VEC, sram_ystride=1, rows=4, cols=N, dram_reg=1, dram_offset=2, dram_stride=3)],
    )
    prog = program(insns, [region(0, 256), region(1, 64)])
    out = run(prog, {0: src})[1]
    np.testing.assert_array_equal(out, reference_run(prog, TINY, {0: src})[1])
    # the last row is intact, the first row only where no later row reached
    np.testing.assert_array_equal(out[2 + 9 : 2 + 9 + 2 * N], src[3 * 2 * N : 4 * 2 * N])
    np.testing.assert_array_equal(out[2:5], src[0:3])


def test_random_dma_programs_match_the_reference() -> None:
    rng = np.random.default_rng(7)
    for trial in range(40):
        buf = Buffer(int(rng.integers(4)))
        eb = EB[buf]
        rows, cols = int(rng.integers(1, 6)), int(rng.integers(1, 3 * N))
        words = -(-cols // N)
        ys, ws = int(rng.integers(0, 2 * words + 1)), int(rng.integers(0, 3))
        lf = dict(
            sram_base=int(rng.integers(0, 8)),
            sram_ystride=ys,
            sram_wstride=ws,
            rows=rows,
            cols=cols,
            dram_reg=0,
            dram_offset=int(rng.integers(0, 16)),
            dram_stride=int(rng.integers(0, 2 * cols * eb)),
        )
        sf = dict(
            lf,
            dram_reg=1,
            dram_offset=int(rng.integers(0, 16)),
            dram_stride=int(rng.integers(0, 2 * cols * eb)),
            cols=int(rng.integers(1, cols + 1)),
        )
        insns = pipeline([load(buf, **lf)], [], [store(buf, **sf)])
        prog = program(insns, [region(0, 1024), region(1, 1024, init=rng_bytes(trial, 1024).tobytes())])
        src = rng_bytes(100 + trial, 1024)
        out = run(prog, {0: src})
        ref = reference_run(prog, TINY, {0: src})
        for k in (0, 1):
            np.testing.assert_array_equal(out[k], ref[k], err_msg=f"trial {trial}: {lf} / {sf}")


def test_buffer_word_out_of_range_names_instruction_and_word() -> None:
    bad = load(Buffer.INP, sram_base=TINY.inp_depth - 4, sram_ystride=2, rows=3, cols=N, dram_reg=0)
    with pytest.raises(SimError) as e:
        Simulator(program([load(Buffer.VEC, rows=1, cols=1, dram_reg=0), bad], [region(0, 256)]))
    msg = str(e.value)
    assert "instruction #1" in msg and "LOAD" in msg and f"INP word {TINY.inp_depth} out of range" in msg
    assert e.value.index == 1


def test_hbm_bytes_outside_region_name_region_offset_and_size() -> None:
    bad = store(Buffer.ACC, rows=2, cols=4, dram_reg=2, dram_offset=40, dram_stride=16)
    with pytest.raises(SimError) as e:
        Simulator(program([bad], [region(2, 64, name="acts")]))
    msg = str(e.value)
    assert "'acts'" in msg and "offset 40" in msg and "size 64" in msg and "40..71" in msg and "#0" in msg


def test_unknown_region_is_an_error() -> None:
    with pytest.raises(SimError, match=r"dram_reg 5 names no region.*0 \('r0'\)"):
        Simulator(program([load(Buffer.INP, rows=1, cols=1, dram_reg=5)], [region(0, 16)]))


def test_empty_transfers_do_nothing_but_still_need_a_region() -> None:
    prog = program(
        [load(Buffer.INP, rows=0, cols=8, dram_reg=0), store(Buffer.INP, rows=3, cols=0, dram_reg=0)],
        [region(0, 8, init=bytes(range(8)))],
    )
    out = Simulator(prog).run({})
    np.testing.assert_array_equal(out.images[0], np.arange(8, dtype=np.uint8))
    assert out.stats.dma_bytes_loaded == 0 and out.stats.dma_bytes_stored == 0
    with pytest.raises(SimError, match="dram_reg 1"):
        Simulator(program([load(Buffer.INP, rows=0, cols=0, dram_reg=1)], [region(0, 8)]))
