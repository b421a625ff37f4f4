"""Every spine kernel on both backends: the simulator and the Verilator model of hw/ must give the bit-exact
reference result, and the RTL's cycle counter must stay within 5 % of the simulator's timing model."""

from __future__ import annotations

import numpy as np
import pytest

from tataa import config, numerics
from tataa.codegen import nonlinear as nl
from tataa.codegen.gemm import gemm_program
from tataa.hdl.verilator import tool_path
from tataa.program import Program
from tataa.runtime.backends import RunResult, run

CFG = config.load("tiny")
N = CFG.array_size
needs_verilator = pytest.mark.skipif(tool_path("verilator") is None, reason="verilator is not installed")
BACKENDS = ["sim", pytest.param("rtl", marks=[pytest.mark.cosim, needs_verilator])]
CYCLE_TOLERANCE = 0.05

# (M, K, N_out): multiples of the array, non-multiples, degenerate and K-split shapes (tiny: N = 8).
GEMM_SHAPES = [
    (1, 1, 1), (8, 8, 8), (16, 16, 16), (3, 5, 7), (9, 17, 10), (12, 20, 10), (1, 64, 24), (40, 64, 24),
    (33, 7, 9), (8, 100, 3), (5, 8, 33), (64, 64, 64), (2, 250, 11), (17, 31, 47), (16, 300, 40), (30, 9, 1),
    (1, 1000, 8), (25, 48, 40), (7, 129, 15), (48, 24, 56), (13, 513, 6), (100, 16, 12),
]  # fmt: skip
OUT_DTYPES = ("int8", "bf16", "int32")


def _run(program: Program, inputs: dict[str, np.ndarray], backend: str) -> RunResult:
    result = run(program, inputs, backend=backend)
    if backend == "rtl":
        sim_cycles = run(program, inputs, backend="sim").cycles
        ratio = result.cycles / sim_cycles
        assert abs(ratio - 1) <= CYCLE_TOLERANCE, f"RTL {result.cycles} cycles vs model {sim_cycles} ({ratio:.3f})"
    return result


def _gemm_reference(a, w, bias, scales, out_dtype):
    acc = numerics.wrap_int32(a.astype(np.int64) @ w.astype(np.int64) + (0 if bias is None else bias))
    if out_dtype == "int32":
        return acc
    words = np.array([numerics.pack_scale(*numerics.scale_to_multiplier(s)) for s in scales], dtype=np.int32)
    words = np.broadcast_to(words, acc.shape)
    if out_dtype == "int8":
        return numerics.requant_int8(acc, words)
    return numerics.bf16_to_f32(numerics.requant_bf16(acc, words))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", GEMM_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gemm(shape: tuple[int, int, int], backend: str) -> None:
    m, k, n = shape
    rng = np.random.default_rng(m * 10007 + k * 101 + n)
    out_dtype = OUT_DTYPES[(m + k + n) % 3]
    w = rng.integers(-128, 128, (k, n), dtype=np.int8)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    bias = rng.integers(-3000, 3000, n, dtype=np.int32) if (m + n) % 2 else None
    scales = None if out_dtype == "int32" else rng.uniform(2e-4, 4e-3, n)
    program = gemm_program(CFG, w, m, bias=bias, scales=scales, out_dtype=out_dtype)
    got = _run(program, {"a": a}, backend).outputs["y"]
    expect = _gemm_reference(a, w, bias, scales, out_dtype)
    assert got.dtype == expect.dtype
    np.testing.assert_array_equal(got.view(np.uint8), np.ascontiguousarray(expect).view(np.uint8))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gemm_extreme_values(backend: str) -> None:
    k, n, m = 96, 12, 10
    w = np.full((k, n), -128, np.int8)
    a = np.full((m, k), -128, np.int8)
    bias = np.full(n, 2**31 - 1000, np.int32)  # the sum wraps past INT32_MAX
    program = gemm_program(CFG, w, m, bias=bias, out_dtype="int32")
    got = _run(program, {"a": a}, backend).outputs["y"]
    np.testing.assert_array_equal(got, _gemm_reference(a, w, bias, None, "int32"))


def _bf16_rows(rng: np.random.Generator, rows: int, cols: int, scale: float = 2.0) -> np.ndarray:
    return numerics.f64_to_bf16(rng.normal(0, scale, (rows, cols)))


ROW_SHAPES = [(1, 1), (3, 8), (6, 37), (5, 20), (9, 64), (2, 130)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", ROW_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kernel", ["softmax", "softmax_mask", "layernorm", "rmsnorm", "gelu_tanh", "gelu_erf", "silu"])
def test_nonlinear(kernel: str, shape: tuple[int, int], backend: str) -> None:
    rows, cols = shape
    rng = np.random.default_rng(rows * 1000 + cols + len(kernel))
    x = _bf16_rows(rng, rows, cols, 3.0)
    inputs = {"x": x}
    if kernel.startswith("softmax"):
        mask = None
        if kernel == "softmax_mask":
            keep = rng.random((rows, cols)) < 0.7
            keep[0] = False  # a fully masked row must give zeros, not NaN
            mask = np.where(keep, numerics.BF16_ZERO, numerics.BF16_NEG_INF).astype(np.uint16)
            inputs["mask"] = mask
        program = nl.softmax_program(CFG, rows, cols, mask=mask is not None)
        expect = nl.softmax_reference(x, N, mask)
    elif kernel == "layernorm":
        gamma, beta = rng.normal(1, 0.2, cols), rng.normal(0, 0.2, cols)
        program = nl.layernorm_program(CFG, rows, cols, gamma, beta, 1e-5)
        expect = nl.layernorm_reference(x, N, gamma, beta, 1e-5)
    elif kernel == "rmsnorm":
        gamma = rng.normal(1, 0.2, cols)
        program = nl.rmsnorm_program(CFG, rows, cols, gamma, 1e-6)
        expect = nl.rmsnorm_reference(x, N, gamma, 1e-6)
    elif kernel.startswith("gelu"):
        approx = "tanh" if kernel == "gelu_tanh" else "none"
        program = nl.gelu_program(CFG, rows, cols, approximate=approx)
        expect = nl.gelu_reference(x, N, approx)
    else:
        program = nl.silu_program(CFG, rows, cols)
        expect = nl.silu_reference(x, N)
    got = _run(program, inputs, backend).outputs["y"]
    np.testing.assert_array_equal(numerics.f32_to_bf16(got), expect)


@pytest.mark.cosim
@needs_verilator
def test_rtl_and_sim_images_identical() -> None:
    """Beyond the outputs: every byte of every HBM region after the run is the same on both backends."""
    from tataa.runtime.host import bind_inputs
    from tataa.runtime.rtl import run_rtl
    from tataa.sim import Simulator

    rng = np.random.default_rng(7)
    w = rng.integers(-128, 128, (40, 20), dtype=np.int8)
    program = gemm_program(CFG, w, 11, bias=rng.integers(-99, 99, 20, dtype=np.int32), scales=1e-3)
    images = bind_inputs(program, {"a": rng.integers(-128, 128, (11, 40), dtype=np.int8)})
    sim = Simulator(program).run({k: v.copy() for k, v in images.items()})
    rtl = run_rtl(program, images)
    for index, img in sim.images.items():
        np.testing.assert_array_equal(rtl.images[index], img, err_msg=f"region {index}")


@pytest.mark.cosim
@needs_verilator
def test_cli_run_on_both_backends(tmp_path) -> None:
    """`tataa run --backend rtl` gives the same outputs file as `--backend sim`."""
    from tataa import progfile
    from tataa.cli import main

    rng = np.random.default_rng(3)
    program = nl.softmax_program(CFG, 4, 21)
    progfile.save(program, tmp_path / "p.tprog")
    np.savez(tmp_path / "in.npz", x=rng.normal(0, 2, (4, 21)).astype(np.float32))
    for backend in ("sim", "rtl"):
        args = ["run", str(tmp_path / "p.tprog"), "--inputs", str(tmp_path / "in.npz")]
        assert main([*args, "--outputs", str(tmp_path / f"{backend}.npz"), "--backend", backend]) == 0
    sim, rtl = np.load(tmp_path / "sim.npz"), np.load(tmp_path / "rtl.npz")
    np.testing.assert_array_equal(sim["y"], rtl["y"])
