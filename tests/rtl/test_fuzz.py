"""Differential fuzzing: the RTL (hw/tb/tb_core.sv under Verilator) equals the simulator bit for bit.

200 random legal, race-free programs of the tiny configuration (tataa.fuzz) run on both; every final HBM
image must be identical and, across the streams, every opcode and every SIMD function must have run. A planted
one-bit difference in the RTL's output must be reported at its address, with its writer and both values.
The RTL's cycle counts must stay within 5 % of the timing model (docs/timing.md) on every stream.
"""

from __future__ import annotations

import pytest

from tataa import config
from tataa.cosim import CosimResult, compare, run_both
from tataa.fuzz import FuzzCase, features, stream_case
from tataa.hdl.verilator import tool_path
from tataa.isa.asm import format_instruction
from tataa.isa.spec import Buffer, Opcode, VFunct

pytestmark = [
    pytest.mark.cosim,
    pytest.mark.skipif(tool_path("verilator") is None, reason="verilator is not installed"),
]

TINY = config.load("tiny")
SEED = 2024
STREAMS = 200
INSNS = 16  # drawn instructions per stream (plus tokens, mode switches, prologue loads and the final dump)


@pytest.fixture(scope="module")
def runs() -> list[tuple[FuzzCase, CosimResult]]:
    out = []
    for k in range(STREAMS):
        case = stream_case(SEED, k, TINY, INSNS)
        out.append((case, run_both(case.program, case.images)))
    return out


def test_rtl_equals_simulator_on_random_streams(runs: list[tuple[FuzzCase, CosimResult]]) -> None:
    failures = [
        f"stream {k} (seed {SEED}): {res.mismatch.report()}"
        for k, (_, res) in enumerate(runs)
        if res.mismatch is not None
    ]
    assert not failures, f"{len(failures)} of {STREAMS} streams differ; rerun with scripts/fuzz_rtl.py:\n" + "\n".join(
        failures[:3]
    )


def test_streams_exercise_every_opcode_and_simd_function(runs: list[tuple[FuzzCase, CosimResult]]) -> None:
    seen: set[str] = set()
    for case, _ in runs:
        seen |= features(case.program, TINY)
    wanted = {f"op:{op.name}" for op in Opcode} | {f"vfunct:{v.name}" for v in VFunct}
    assert wanted <= seen, f"never exercised: {sorted(wanted - seen)}"


def test_rtl_cycles_are_within_5_percent_of_the_timing_model(runs: list[tuple[FuzzCase, CosimResult]]) -> None:
    off = [(k, res.rtl_cycles, res.sim_cycles) for k, (_, res) in enumerate(runs) if abs(res.cycle_ratio - 1) > 0.05]
    assert not off, f"streams (index, RTL cycles, model cycles) off by more than 5 %: {off[:5]}"


def test_a_flipped_bit_in_the_rtl_output_is_reported(runs: list[tuple[FuzzCase, CosimResult]]) -> None:
    case, res = runs[0]
    prog = case.program
    t = prog.tensor("dump_vec_low")  # bf16 words the final dump STOREd
    addr = t.offset + 5 * t.stride + 3 * 2 + 1  # high byte of element [5, 3]
    rtl = {k: v.copy() for k, v in res.rtl.images.items()}
    rtl[t.region][addr] ^= 0x04
    m = compare(prog, res.sim.images, rtl)
    assert m is not None
    assert (m.region, m.address, m.tensor, m.element) == (t.region, addr, "dump_vec_low", (5, 3))
    sim_byte = int(res.sim.images[t.region][addr])
    assert (m.expected, m.actual) == (sim_byte, sim_byte ^ 0x04)
    elem = int.from_bytes(res.sim.images[t.region][addr - 1 : addr + 1].tobytes(), "little")
    assert (m.element_expected, m.element_actual) == (elem, elem ^ 0x0400)
    w = m.writer
    assert w is not None
    writer = prog.instructions[w]
    assert writer.opcode is Opcode.STORE and writer["buf"] == Buffer.VEC and writer["sram_base"] == 0
    assert m.writer_text == format_instruction(writer)
    assert m.differing_bytes == 1
    assert f"#{w}" in m.report()
