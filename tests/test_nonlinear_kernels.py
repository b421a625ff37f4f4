"""Nonlinear kernels on the simulator: bit-exact against the numpy evaluator, error against float64 within the
bounds of docs/kernels-nonlinear.md on random and adversarial rows, semantics, program interface, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tataa import config, numerics
from tataa.codegen import nonlinear as nl
from tataa.codegen.builder import CodegenError
from tataa.codegen.simd.accuracy import all_cases, case_metrics, reference_output
from tataa.isa.spec import Mode, Opcode, Unit
from tataa.program import Program
from tataa.runtime.backends import run

CONFIGS = {name: config.load(name) for name in ("tiny", "u280")}
CASES = all_cases()
ROOT = Path(__file__).resolve().parent.parent
F = numerics.f64_to_bf16


def program_for(cfg, c) -> Program:
    rows, cols = c.inputs["x"].shape
    p = c.params
    if c.kernel == "softmax":
        return nl.softmax_program(cfg, rows, cols, mask=bool(p["mask"]))
    if c.kernel == "layernorm":
        return nl.layernorm_program(cfg, rows, cols, p["gamma"], p["beta"], p["eps"])
    if c.kernel == "rmsnorm":
        return nl.rmsnorm_program(cfg, rows, cols, p["gamma"], p["eps"])
    if c.kernel == "silu":
        return nl.silu_program(cfg, rows, cols)
    return nl.gelu_program(cfg, rows, cols, "tanh" if c.kernel == "gelu_tanh" else "none")


def run_bits(prog: Program, inputs: dict[str, np.ndarray]):
    res = run(prog, inputs)
    return numerics.f32_to_bf16(res.outputs["y"]), res


@pytest.mark.parametrize("cfg_name", sorted(CONFIGS))
@pytest.mark.parametrize("case", CASES, ids=[f"{c.kernel}: {c.case}" for c in CASES])
def test_kernel_case_is_bit_exact_and_within_bounds(case, cfg_name: str) -> None:
    cfg = CONFIGS[cfg_name]
    got, res = run_bits(program_for(cfg, case), case.inputs)
    np.testing.assert_array_equal(got, reference_output(case, cfg.array_size))
    assert all(v == 0 for v in res.stats.tokens_left.values())
    for metric, value in case_metrics(case, got).items():
        assert value <= case.bounds[metric], f"{metric} = {value:.4g} exceeds the bound {case.bounds[metric]}"


# ---- semantics ----------------------------------------------------------------------------------------
def test_softmax_masked_rows_are_zero_and_rows_sum_to_one() -> None:
    cfg = CONFIGS["tiny"]
    rng = np.random.default_rng(5)
    x = F(rng.normal(0, 4, (6, 19)))
    mask = np.zeros((6, 19), np.uint16)
    mask[1] = numerics.BF16_NEG_INF  # fully masked
    mask[3, 1:] = numerics.BF16_NEG_INF  # one survivor
    mask[4, ::2] = numerics.BF16_NEG_INF
    y, _ = run_bits(nl.softmax_program(cfg, 6, 19, mask=True), {"x": x, "mask": mask})
    v = numerics.bf16_to_f64(y)
    assert not np.isnan(v).any()
    assert (y[1] == 0).all()
    assert v[3, 0] == 1.0 and (v[3, 1:] == 0).all()
    assert (v[4, ::2] == 0).all()
    live = [0, 2, 3, 4, 5]
    np.testing.assert_allclose(v[live].sum(axis=1), 1.0, atol=2e-2)


def test_softmax_uniform_and_single_column() -> None:
    cfg = CONFIGS["u280"]
    x = F(np.tile(np.array([[2.5], [-100.0], [0.0]]), (1, 45)))
    y, _ = run_bits(nl.softmax_program(cfg, 3, 45), {"x": x})
    assert (y == y[:, :1]).all()
    assert abs(numerics.bf16_to_f64(y[0, 0]) * 45 - 1) < 2**-8
    y1, _ = run_bits(nl.softmax_program(cfg, 4, 1), {"x": F(np.array([[3.0], [-1e4], [0.0], [1e-30]]))})
    assert (y1 == numerics.BF16_ONE).all()


def test_layernorm_is_invariant_to_a_large_offset() -> None:
    """Mean-centred variance: rows x and x + 4096 (exact in bf16 for these x) normalise alike."""
    cfg = CONFIGS["tiny"]
    rng = np.random.default_rng(9)
    x = 32.0 * np.clip(np.round(rng.normal(0, 6, (5, 37))), -60, 60)  # x + 4096 is exact in bf16
    xb, shifted = F(x), F(x + 4096.0)
    assert np.array_equal(numerics.bf16_to_f64(shifted) - 4096.0, numerics.bf16_to_f64(xb))
    y0, _ = run_bits(nl.layernorm_program(cfg, 5, 37), {"x": xb})
    y1, _ = run_bits(nl.layernorm_program(cfg, 5, 37), {"x": shifted})
    d = np.abs(numerics.bf16_to_f64(y0) - numerics.bf16_to_f64(y1))
    assert d.max() <= 2**-5


def test_layernorm_constant_row_gives_beta_exactly() -> None:
    cfg = CONFIGS["u280"]
    beta = F(np.linspace(-1, 1, 40))
    gamma = F(np.full(40, 2.0))
    y, _ = run_bits(nl.layernorm_program(cfg, 2, 40, gamma, beta), {"x": F(np.full((2, 40), 7.25))})
    assert (y == beta).all()


def test_float_inputs_and_the_demo_contract() -> None:
    cfg = CONFIGS["u280"]
    rng = np.random.default_rng(0)
    x = numerics.bf16_to_f64(F(rng.normal(0, 3, (64, 197))))
    res = run(nl.softmax_program(cfg, 64, 197), {"x": x})
    e = np.exp(x - x.max(axis=1, keepdims=True))
    assert np.max(np.abs(res.outputs["y"] - e / e.sum(axis=1, keepdims=True))) < 1e-2


# ---- program structure ------------------------------------------------------------------------------
def test_program_interface_and_structure() -> None:
    cfg = CONFIGS["tiny"]
    prog = nl.softmax_program(cfg, 50, 30, mask=True)
    assert [t.name for t in prog.inputs] == ["x", "mask"]
    assert [t.name for t in prog.outputs] == ["y"]
    meta = dict(prog.metadata)
    assert meta["kernel"] == "softmax" and meta["rows"] == "50" and meta["mask"] == "True"
    first = prog.instructions[0]
    assert first.opcode is Opcode.MODE and first["mode"] == Mode.SIMD
    assert prog.count(Opcode.STORE) == -(-50 // int(meta["rows_per_block"]))
    nops = [i for i in prog.instructions if i.opcode is Opcode.NOP]
    assert [Unit(i["unit"]) for i in nops] == [Unit.COMPUTE, Unit.LOAD]  # the closing fence


def test_compute_bound_kernels_keep_the_simd_lanes_busy() -> None:
    """Double buffering hides every LOAD and STORE but the first block's LOAD and the last block's STORE."""
    cfg = CONFIGS["u280"]
    x = F(np.random.default_rng(2).normal(0, 1, (256, 768)))
    for prog in (nl.gelu_program(cfg, 256, 768, "none"), nl.layernorm_program(cfg, 256, 768)):
        res = run(prog, {"x": x})
        busy = res.stats.busy_cycles
        blocks = prog.count(Opcode.STORE)
        assert blocks >= 4
        exposed = res.cycles - busy["COMPUTE"]
        assert exposed <= 1.05 * (busy["LOAD"] + busy["STORE"]) / blocks


def test_rows_wider_than_one_dma_are_split_into_column_chunks() -> None:
    cfg = CONFIGS["u280"]
    x = F(np.random.default_rng(4).normal(0, 3, (5, 5000)))  # 5000 > 4095, the DMA cols field
    prog = nl.softmax_program(cfg, 5, 5000)
    got, _ = run_bits(prog, {"x": x})
    np.testing.assert_array_equal(got, nl.softmax_reference(x, cfg.array_size))
    assert all(i["cols"] <= 4095 for i in prog.instructions if i.opcode in (Opcode.LOAD, Opcode.STORE))
    assert prog.count(Opcode.STORE) == 2 * -(-5 // int(dict(prog.metadata)["rows_per_block"]))


def test_zero_rows_is_a_valid_program() -> None:
    cfg = CONFIGS["tiny"]
    res = run(nl.silu_program(cfg, 0, 12), {"x": np.zeros((0, 12), np.uint16)})
    assert res.outputs["y"].shape == (0, 12)
    assert nl.silu_reference(np.zeros((0, 12), np.uint16), 8).shape == (0, 12)


# ---- errors --------------------------------------------------------------------------------------------
def test_user_errors_name_the_problem() -> None:
    cfg = CONFIGS["tiny"]
    with pytest.raises(CodegenError, match="cols must be >= 1"):
        nl.softmax_program(cfg, 4, 0)
    with pytest.raises(CodegenError, match="rows must be >= 0"):
        nl.silu_program(cfg, -1, 4)
    with pytest.raises(CodegenError, match="approximate must be one of"):
        nl.gelu_program(cfg, 4, 4, approximate="erf")
    with pytest.raises(CodegenError, match=r"gamma must have shape \(8,\)"):
        nl.layernorm_program(cfg, 4, 8, gamma=np.ones(7))
    with pytest.raises(CodegenError, match="uint16 bf16 bit patterns"):
        nl.softmax_reference(np.ones((2, 3)), 8)
    with pytest.raises(CodegenError, match="VEC words"):
        nl.softmax_program(cfg, 4, 8 * 1000)


def test_doc_tables_are_up_to_date() -> None:
    script = ROOT / "scripts" / "approx_error_table.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
