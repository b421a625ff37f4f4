"""Whole-program checks done before anything runs: configuration, FINISH placement, fields, flags, modes."""

from __future__ import annotations

from tataa.config import HwConfig
from tataa.errors import SimError
from tataa.isa.spec import Instruction, Mode, Opcode, Unit
from tataa.program import Program
from tataa.sim.describe import fail

# Dependency flags naming a neighbour the unit does not have.
ILLEGAL_FLAGS: dict[Unit, tuple[str, ...]] = {
    Unit.LOAD: ("pop_prev", "push_prev"),
    Unit.COMPUTE: (),
    Unit.STORE: ("pop_next", "push_next"),
}


def check_config(program: Program, cfg: HwConfig) -> None:
    """Raise SimError unless `program` was compiled for exactly the configuration `cfg`."""
    if program.config_hash != cfg.hash:
        raise SimError(
            f"program was compiled for hardware config {program.config_name!r} (hash {program.config_hash}) "
            f"but the simulator is configured as {cfg.name!r} (hash {cfg.hash})"
        )


def check_finish(program: Program) -> None:
    """Raise SimError unless FINISH appears exactly once, as the last instruction."""
    finishes = [i for i, insn in enumerate(program.instructions) if insn.opcode is Opcode.FINISH]
    n = len(program.instructions)
    if not finishes:
        raise SimError(f"program has no FINISH instruction ({n} instructions); FINISH must be the last one")
    if len(finishes) > 1:
        first, second = finishes[0], finishes[1]
        raise fail(second, program.instructions[second], f"FINISH repeated (first FINISH is instruction #{first})")
    if finishes[0] != n - 1:
        at = finishes[0]
        raise fail(
            at + 1,
            program.instructions[at + 1],
            f"instruction after FINISH (FINISH is #{at}, the program has {n - at - 1} more); FINISH must be last",
        )


def insn_unit(index: int, insn: Instruction) -> Unit:
    """The unit executing `insn`; SimError for a NOP naming no unit."""
    try:
        return insn.unit
    except ValueError:
        raise fail(index, insn, f"NOP unit field {insn['unit']} names no unit (0=LOAD, 1=COMPUTE, 2=STORE)") from None


def check_fields(index: int, insn: Instruction) -> None:
    """Raise SimError if a field is missing, unknown, out of its bit range or not a member of its enum."""
    fmt = insn.defn.fmt
    expected = [f for f in fmt.all_fields if f.name != "opcode"]
    names = [name for name, _ in insn.fields]
    if names != [f.name for f in expected]:
        raise fail(index, insn, f"fields {names} do not match the {fmt.name} format {[f.name for f in expected]}")
    for f, (_, value) in zip(expected, insn.fields, strict=True):
        if not 0 <= value <= f.max:
            raise fail(index, insn, f"field {f.name}={value} outside 0..{f.max} ({f.width} bits)")
        if f.enum is not None and value not in f.enum._value2member_map_:
            allowed = ", ".join(f"{e.value}={e.name}" for e in f.enum)
            raise fail(index, insn, f"field {f.name}={value} is not a valid {f.enum.__name__} ({allowed})")


def check_instructions(program: Program) -> list[Unit]:
    """Check every instruction's fields, dependency flags and PE-array mode; return each one's unit."""
    units: list[Unit] = []
    mode = Mode.SYSTOLIC
    for index, insn in enumerate(program.instructions):
        check_fields(index, insn)
        unit = insn_unit(index, insn)
        for flag in ILLEGAL_FLAGS[unit]:
            if insn[flag]:
                raise fail(index, insn, f"dependency flag {flag} is illegal for the {unit.name} unit (no neighbour)")
        if insn.opcode is Opcode.MODE:
            mode = Mode(insn["mode"])
        need = insn.defn.mode
        if need is not None and need is not mode:
            raise fail(index, insn, f"{insn.opcode.name} needs {need.name} mode; the PE array is in {mode.name} mode")
        units.append(unit)
    return units
