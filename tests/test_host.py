"""Host binding (inputs into region images, outputs back out) and the backend registry."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from sim_programs import TINY, N, load, pipeline, program, region, store, tensor

from tataa import numerics
from tataa.errors import BindingError, TataaError
from tataa.isa.spec import Buffer, Opcode, OutType, make
from tataa.program import DType, Role
from tataa.runtime import available_backends, bind_inputs, read_outputs, run

INIT = bytes(range(1, 201))


def io_program():
    """Inputs of every dtype at offsets and row strides in region 1 (which has an init image), outputs in 2."""
    tensors = [
        tensor("x", Role.INPUT, 1, 4, (2, 3), DType.BF16, row_stride=10),
        tensor("q", Role.INPUT, 1, 40, (3, 2), DType.INT8, row_stride=5, scale=0.5),
        tensor("i", Role.INPUT, 1, 64, (2, 2), DType.INT32),
        tensor("s", Role.INPUT, 1, 90, (), DType.INT8),
        tensor("w", Role.CONST, 0, 0, (4,), DType.INT8),
        tensor("y", Role.OUTPUT, 2, 2, (2, 3), DType.BF16, row_stride=8),
        tensor("z", Role.OUTPUT, 2, 20, (3,), DType.INT8),
        tensor("a", Role.OUTPUT, 2, 24, (2, 2), DType.INT32, row_stride=12),
    ]
    return program([], [region(0, 4, init=b"\x01\x02\x03\x04"), region(1, 200, init=INIT), region(2, 64)], tensors)


def test_bind_inputs_places_every_dtype_and_keeps_the_init_image() -> None:
    prog = io_program()
    x = np.array([[1.0, -2.5, 1 + 2**-9], [3.0e38, 1e-40, np.nan]], np.float32)
    q = np.array([[0.25, 0.75], [-64.0, 100.0], [1.0, -1.25]])
    i = np.array([[1, -(2**31)], [2**31 - 1, 7]])
    imgs = bind_inputs(prog, {"x": x, "q": q, "i": i, "s": np.int8(-3)})
    assert sorted(imgs) == [0, 1, 2]
    np.testing.assert_array_equal(imgs[0], [1, 2, 3, 4])
    img = imgs[1]
    expect = np.frombuffer(INIT, np.uint8).copy()
    xb = numerics.f32_to_bf16(x).astype("<u2")
    for r in range(2):
        expect[4 + 10 * r : 4 + 10 * r + 6] = xb[r].view(np.uint8)
    qb = numerics.quantize_int8(q, 0.5)
    assert qb.tolist() == [[0, 2], [-128, 127], [2, -2]]  # ties to even, saturation
    for r in range(3):
        expect[40 + 5 * r : 42 + 5 * r] = qb[r].view(np.uint8)
    expect[64:80] = i.astype("<i4").view(np.uint8).ravel()
    expect[90] = 253
    np.testing.assert_array_equal(img, expect)
    np.testing.assert_array_equal(imgs[2], 0)


def test_bf16_inputs_accept_float64_raw_patterns_and_ml_dtypes() -> None:
    prog = io_program()
    base = {"q": np.zeros((3, 2), np.int8), "i": np.zeros((2, 2), np.int32), "s": np.int8(0)}
    x64 = np.array([[1 + 2**-8 + 2**-30, 0.1, -0.0], [1e300, -1e-300, 65504.0]])  # float64 rounds once
    raw = numerics.f64_to_bf16(x64)
    assert raw[0, 0] == 0x3F81  # a float32 detour would round 1 + 2**-8 + 2**-30 to a tie, then down
    for value in (x64, raw, raw.view(ml_dtypes.bfloat16)):
        img = bind_inputs(prog, {**base, "x": value})[1]
        got = np.ndarray((2, 3), "<u2", buffer=img, offset=4, strides=(10, 2))
        np.testing.assert_array_equal(got, raw)


def test_read_outputs_converts_each_dtype() -> None:
    prog = io_program()
    img = np.random.default_rng(0).integers(0, 256, 64, dtype=np.uint8)
    out = read_outputs(prog, {2: img})
    assert sorted(out) == ["a", "y", "z"]
    y_raw = np.ndarray((2, 3), "<u2", buffer=img, offset=2, strides=(8, 2))
    assert out["y"].dtype == np.float32 and out["y"].shape == (2, 3)
    np.testing.assert_array_equal(out["y"].view(np.uint32) >> 16, y_raw)  # bf16 -> f32 is exact: low bits zero
    assert (out["y"].view(np.uint32) & 0xFFFF == 0).all()
    assert out["z"].dtype == np.int8 and out["z"].tolist() == img[20:23].view(np.int8).tolist()
    a = np.concatenate([img[24:32], img[36:44]]).view("<i4").reshape(2, 2)
    assert out["a"].dtype == np.int32 and out["a"].tolist() == a.tolist()
    before = out["y"].copy()
    img[:] = 0
    np.testing.assert_array_equal(out["y"], before)  # outputs are copies, not views of the image


def good_inputs():
    return {"x": np.zeros((2, 3)), "q": np.zeros((3, 2), np.int8), "i": np.zeros((2, 2), np.int64), "s": 1}


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"x": None}, r"missing input\(s\): input 'x' \(bf16\[2, 3\]\)"),
        (
            {"nope": np.zeros(3)},
            r"unknown input 'nope': it is not a tensor; the program's inputs are \['i', 'q', 's', 'x'\]",
        ),
        ({"y": np.zeros((2, 3))}, r"unknown input 'y': it is a output tensor, not an input"),
        ({"x": np.zeros((3, 2))}, r"input 'x' \(bf16\[2, 3\]\): got shape \[3, 2\], expected \[2, 3\]"),
        ({"i": np.zeros(4, np.int32)}, r"input 'i' .*got shape \[4\], expected \[2, 2\]"),
        ({"x": np.zeros((2, 3), np.int64)}, r"input 'x' .*cannot take dtype int64; give floats"),
        ({"x": np.zeros((2, 3), bool)}, r"input 'x' .*cannot take dtype bool"),
        ({"s": 1.5}, r"input 's' \(int8\[\]\): float data needs a quantization scale"),
        ({"q": np.full((3, 2), 200)}, r"input 'q' .*value 200 does not fit int8 \(-128..127\)"),
        ({"i": np.full((2, 2), 2**31)}, r"input 'i' .*value 2147483648 does not fit int32"),
        ({"i": np.zeros((2, 2))}, r"input 'i' \(int32\[2, 2\]\): cannot take dtype float64; give integers"),
        (
            {"q": np.zeros((3, 2), np.complex64)},
            r"input 'q' .*cannot take dtype complex64; give int8 integers, or floats",
        ),
    ],
)
def test_binding_errors_name_the_tensor(change, pattern: str) -> None:
    inputs = good_inputs()
    for k, v in change.items():
        if v is None:
            del inputs[k]
        else:
            inputs[k] = v
    with pytest.raises(BindingError, match=pattern):
        bind_inputs(io_program(), inputs)


def test_descriptor_outside_its_region_is_a_binding_error() -> None:
    prog = program([], [region(1, 16)], [tensor("x", Role.INPUT, 1, 10, (2, 4), DType.INT8)])
    with pytest.raises(BindingError, match=r"input 'x' \(int8\[2, 4\]\) spans bytes 10..17, outside region 1 'r1'"):
        bind_inputs(prog, {"x": np.zeros((2, 4), np.int8)})
    prog = program([], [region(1, 16)], [tensor("x", Role.OUTPUT, 3, 0, (2,), DType.INT8)])
    with pytest.raises(BindingError, match=r"output 'x' .*region 3, which the program does not define"):
        read_outputs(prog, {1: np.zeros(16, np.uint8)})


def linear_program():
    """y = bf16(requant(x @ w)): x int8 [rows, K] input, w constant in region 0's init image, y bf16 output."""
    rows, kt = 5, 2
    w = np.random.default_rng(1).integers(-128, 128, (kt * N, N), dtype=np.int8)
    scale = numerics.pack_scale(np.arange(1, N + 1) * 1000, 16)
    init = w.tobytes() + np.asarray(scale, "<i4").tobytes()
    insns = pipeline(
        [
            load(Buffer.INP, sram_ystride=1, sram_wstride=rows, rows=rows, cols=kt * N, dram_reg=1, dram_stride=kt * N),
            load(Buffer.WGT, sram_ystride=1, rows=kt * N, cols=N, dram_reg=0, dram_stride=N),
            load(Buffer.ACC, sram_base=100, rows=1, cols=N, dram_reg=0, dram_offset=kt * N * N),
        ],
        [
            make(Opcode.GEMM, clear=1, rows=rows, ktiles=kt, ntiles=1, inp_kstride=rows),
            make(Opcode.REQUANT, out_type=OutType.BF16, tiles=1, rows=rows, scale_base=100, dst_mstride=1),
        ],
        [store(Buffer.VEC, sram_ystride=1, rows=rows, cols=N, dram_reg=2, dram_stride=2 * N)],
    )
    tensors = [
        tensor("x", Role.INPUT, 1, 0, (rows, kt * N), DType.INT8, scale=0.25),
        tensor("y", Role.OUTPUT, 2, 0, (rows, N), DType.BF16),
    ]
    regions = [region(0, len(init), init=init), region(1, rows * kt * N), region(2, rows * N * 2)]
    return program(insns, regions, tensors), w, scale


def test_run_on_the_simulator_backend() -> None:
    prog, w, scale = linear_program()
    x = np.random.default_rng(2).normal(0, 8, (5, 2 * N))
    res = run(prog, {"x": x}, trace=True)
    xq = numerics.quantize_int8(x, 0.25)
    acc = xq.astype(np.int64) @ w.astype(np.int64)
    expect = numerics.bf16_to_f32(numerics.requant_bf16(acc, np.broadcast_to(scale, acc.shape)))
    assert list(res.outputs) == ["y"]
    np.testing.assert_array_equal(res.outputs["y"], expect)
    assert res.cycles == res.trace[-1].end > 0 and len(res.trace) == len(prog.instructions)
    assert res.stats.array_macs == 5 * N * N * 2
    again = run(prog, {"x": -x})  # a second run of the same program gives fresh results
    assert again.trace == () and not np.array_equal(again.outputs["y"], res.outputs["y"])
    assert again.cycles == res.cycles


def test_backend_registry() -> None:
    assert available_backends() == ["rtl", "sim"]
    prog, _, _ = linear_program()
    x = np.zeros((5, 2 * N), np.int8)
    with pytest.raises(
        TataaError, match=r"backend 'xrt' is not available: .*not implemented yet; available: rtl, sim"
    ):
        run(prog, {"x": x}, backend="xrt")
    with pytest.raises(TataaError, match=r"unknown backend 'gpu'; registered: rtl, sim, xrt; available: rtl, sim"):
        run(prog, {"x": x}, backend="gpu")
    with pytest.raises(BindingError, match="missing input"):
        run(prog, {})
    assert TINY.name == prog.config_name
