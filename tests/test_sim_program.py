"""Whole-program checks of the simulator: FINISH, dependency flags, fields, configuration, region images."""

from __future__ import annotations

import numpy as np
import pytest
from sim_programs import TINY, N, flags, load, program, region, store

from tataa import config
from tataa.errors import SimError
from tataa.isa.spec import Buffer, Opcode, Unit, make
from tataa.program import Program
from tataa.sim import Simulator

NOP_C = make(Opcode.NOP, unit=Unit.COMPUTE)
FINISH = make(Opcode.FINISH)


def error(prog: Program) -> SimError:
    with pytest.raises(SimError) as e:
        Simulator(prog)
    return e.value


def test_finish_missing_repeated_or_not_last() -> None:
    assert "program has no FINISH" in str(error(program([NOP_C], finish=False)))
    assert "program has no FINISH" in str(error(program([], finish=False)))
    e = error(program([FINISH, NOP_C, FINISH], finish=False))
    assert e.index == 2 and "instruction #2 (FINISH): FINISH repeated (first FINISH is instruction #0)" in str(e)
    e = error(program([NOP_C, FINISH, make(Opcode.NOP, unit=Unit.LOAD)], finish=False))
    assert e.index == 2 and "instruction #2 (NOP unit=LOAD): instruction after FINISH (FINISH is #1" in str(e)


@pytest.mark.parametrize(
    ("insn", "flag", "unit"),
    [
        (load(Buffer.INP, dram_reg=0), "pop_prev", "LOAD"),
        (load(Buffer.INP, dram_reg=0), "push_prev", "LOAD"),
        (store(Buffer.INP, dram_reg=0), "pop_next", "STORE"),
        (store(Buffer.INP, dram_reg=0), "push_next", "STORE"),
        (make(Opcode.NOP, unit=Unit.LOAD), "pop_prev", "LOAD"),
        (make(Opcode.NOP, unit=Unit.STORE), "push_next", "STORE"),
    ],
)
def test_illegal_dependency_flags(insn, flag: str, unit: str) -> None:
    e = error(program([NOP_C, flags(insn, **{flag: 1})], [region(0, 64)]))
    assert e.index == 1 and f"dependency flag {flag} is illegal for the {unit} unit" in str(e)
    assert f" {flag} " in str(e)  # the instruction text shows the flag


def test_field_out_of_range_or_not_an_enum_member() -> None:
    e = error(program([load(Buffer.INP, rows=5000, cols=1, dram_reg=0)], [region(0, 64)]))
    assert "instruction #0" in str(e) and "field rows=5000 outside 0..4095 (12 bits)" in str(e)
    e = error(program([make(Opcode.VOP, funct=30, outer=1, inner=1)]))
    assert "field funct=30 is not a valid VFunct" in str(e)
    e = error(program([make(Opcode.NOP, unit=3)]))
    assert "field unit=3 is not a valid Unit" in str(e)


def test_config_hash_mismatch() -> None:
    prog = Program(TINY.name, "0123456789abcdef", (FINISH,), (), ())
    with pytest.raises(SimError, match=r"compiled for hardware config 'tiny' \(hash 0123456789abcdef\)"):
        Simulator(prog)
    u280 = config.load("u280")
    with pytest.raises(SimError, match=rf"configured as 'u280' \(hash {u280.hash}\)"):
        Simulator(program([]), cfg=u280)
    assert Simulator(Program(u280.name, u280.hash, (FINISH,), (), ())).cfg == u280  # default: the program's config


def test_region_images_given_missing_or_wrong() -> None:
    prog = program(
        [
            load(Buffer.INP, sram_ystride=1, rows=2, cols=N, dram_reg=0, dram_stride=N, push_next=1),
            make(Opcode.NOP, unit=Unit.COMPUTE, pop_prev=1, push_next=1),
            store(Buffer.INP, sram_ystride=1, rows=2, cols=N, dram_reg=1, dram_stride=N, pop_prev=1),
        ],
        [region(0, 2 * N, init=bytes(range(5))), region(1, 2 * N)],
    )
    sim = Simulator(prog)
    out = sim.run()  # region 0 from its init image + zeros
    np.testing.assert_array_equal(out.images[1], list(range(5)) + [0] * (2 * N - 5))
    given = np.full(2 * N, 9, np.uint8)
    out = sim.run({0: given})
    np.testing.assert_array_equal(out.images[1], 9)
    given[:] = 1  # the result does not alias the caller's array, nor did the run write into it
    assert (out.images[0] == 9).all()
    with pytest.raises(SimError, match=r"region 4, which the program does not have; regions: 0 \('r0'\), 1"):
        sim.run({4: given})
    with pytest.raises(SimError, match=r"region 0 'r0' must be a uint8 array of shape \(16,\), got uint8 \(15,\)"):
        sim.run({0: given[:15]})
    with pytest.raises(SimError, match=r"got int32 \(16,\)"):
        sim.run({0: given.astype(np.int32)})
