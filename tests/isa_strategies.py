"""Hypothesis strategies derived from tataa.isa.spec: valid instructions of every opcode, and whole Programs."""

from __future__ import annotations

from hypothesis import strategies as st

from tataa.isa.encoding import illegal_flags
from tataa.isa.spec import DEP_FLAGS, NUM_DRAM_REGS, OPCODE_DEFS, Field, Instruction, Opcode, Unit, make
from tataa.program import DType, Program, Region, Role, TensorDesc


def field_value(field: Field) -> st.SearchStrategy[int]:
    """A legal value of `field`: a member of its enum, or any integer that fits its width (edges favoured)."""
    if field.enum is not None:
        return st.sampled_from([int(e) for e in field.enum])
    return st.one_of(st.integers(0, field.max), st.sampled_from([0, 1, field.max]))


@st.composite
def instructions(draw: st.DrawFn, opcodes: tuple[Opcode, ...] = tuple(Opcode)) -> Instruction:
    """A valid instruction: every field within its range or enum, dependency flags legal for its unit."""
    opcode = draw(st.sampled_from(opcodes))
    d = OPCODE_DEFS[opcode]
    values = {f.name: draw(field_value(f)) for f in d.fmt.fields}
    unit = d.unit if d.unit is not None else Unit(values["unit"])
    bad = illegal_flags(unit)
    for flag in DEP_FLAGS:
        values[flag] = 0 if flag in bad else draw(st.integers(0, 1))
    return make(opcode, **values)


@st.composite
def regions(draw: st.DrawFn) -> tuple[Region, ...]:
    """Regions with distinct indices, any names, and initial images (some with long zero runs)."""
    indices = draw(st.lists(st.integers(0, NUM_DRAM_REGS - 1), unique=True, max_size=4))
    out = []
    for index in indices:
        size = draw(st.integers(0, 1 << 20))
        image = draw(
            st.one_of(
                st.binary(max_size=min(size, 300)),
                st.builds(lambda n, tail: bytes(n) + tail, st.integers(0, 400), st.binary(max_size=80)),
            )
        )
        out.append(Region(index, draw(st.text(max_size=12)), size, image[:size]))
    return tuple(out)


tensor_descs = st.builds(
    TensorDesc,
    name=st.text(max_size=12),
    role=st.sampled_from(list(Role)),
    region=st.integers(0, NUM_DRAM_REGS - 1),
    offset=st.integers(0, 1 << 40),
    shape=st.lists(st.integers(0, 4096), max_size=4).map(tuple),
    dtype=st.sampled_from(list(DType)),
    row_stride=st.integers(0, 1 << 20),
    scale=st.none() | st.floats(allow_nan=False),
)


@st.composite
def programs(draw: st.DrawFn, max_instructions: int = 12) -> Program:
    """A Program with arbitrary text for names, hashes and notes (no FINISH required)."""
    return Program(
        config_name=draw(st.text(max_size=12)),
        config_hash=draw(st.text(max_size=20)),
        instructions=tuple(draw(st.lists(instructions(), max_size=max_instructions))),
        regions=draw(regions()),
        tensors=tuple(draw(st.lists(tensor_descs, max_size=4, unique_by=lambda t: t.name))),
        metadata=tuple(draw(st.lists(st.tuples(st.text(max_size=10), st.text(max_size=30)), max_size=3))),
    )
