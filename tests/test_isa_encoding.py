"""Binary encoding of instructions: round trips, field placement, and every way a word or field can be bad."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from isa_strategies import instructions

from tataa.errors import EncodingError
from tataa.isa.encoding import decode, decode_program, encode, encode_program, illegal_flags, validate
from tataa.isa.spec import (
    DEP_FLAGS,
    INSN_BITS,
    INSN_BYTES,
    OPCODE_DEFS,
    OPCODES,
    Buffer,
    Field,
    Instruction,
    Opcode,
    Unit,
    make,
)

COMPUTE_OPCODES = tuple(d.opcode for d in OPCODES if d.unit is Unit.COMPUTE)


@pytest.mark.parametrize("opcode", list(Opcode), ids=lambda o: o.name)
@given(data=st.data())
def test_decode_inverts_encode(opcode: Opcode, data: st.DataObject) -> None:
    instr = data.draw(instructions((opcode,)))
    word = encode(instr)
    assert 0 <= word < 1 << INSN_BITS
    assert word >> instr.defn.fmt.used_bits == 0
    assert decode(word) == instr


@given(instructions())
def test_word_is_the_sum_of_fields_at_their_layout_positions(instr: Instruction) -> None:
    # An independent re-derivation from Format.layout: each field's value shifted to its lsb.
    values = {"opcode": int(instr.opcode), **instr.as_dict()}
    expected = sum(values[f.name] << lsb for f, lsb in instr.defn.fmt.layout)
    assert encode(instr) == expected


@pytest.mark.parametrize("opcode", list(Opcode), ids=lambda o: o.name)
def test_each_field_occupies_exactly_its_bits(opcode: Opcode) -> None:
    fixed = {"unit": int(Unit.COMPUTE)} if OPCODE_DEFS[opcode].unit is None else {}  # a NOP with every flag legal
    base = encode(make(opcode, **fixed))
    assert base & 0xF == int(opcode)
    for f, lsb in OPCODE_DEFS[opcode].fmt.layout:
        if f.name == "opcode" or f.name in fixed:
            continue
        top = max(int(e) for e in f.enum) if f.enum else f.max
        unit = OPCODE_DEFS[opcode].unit
        if f.name in illegal_flags(Unit.COMPUTE if unit is None else unit):
            continue
        assert encode(make(opcode, **{**fixed, f.name: top})) ^ base == top << lsb, f"{opcode.name}.{f.name}"


@given(st.lists(instructions(), max_size=40))
def test_program_image_round_trip(instrs: list[Instruction]) -> None:
    data = encode_program(instrs)
    assert len(data) == INSN_BYTES * len(instrs)
    for k, instr in enumerate(instrs):
        assert data[k * INSN_BYTES : (k + 1) * INSN_BYTES] == encode(instr).to_bytes(INSN_BYTES, "little")
    assert decode_program(data) == tuple(instrs)
    assert decode_program(bytearray(data)) == tuple(instrs)


@given(instructions(), st.data())
def test_out_of_range_value_names_opcode_field_value_and_range(instr: Instruction, data: st.DataObject) -> None:
    fields = [f for f in instr.defn.fmt.fields] + [f for f in instr.defn.fmt.all_fields if f.name in DEP_FLAGS]
    field = data.draw(st.sampled_from(fields))
    value = data.draw(st.integers(field.max + 1, field.max + (1 << 40)) | st.integers(-(1 << 20), -1))
    bad = make(instr.opcode, **{**instr.as_dict(), field.name: value})
    with pytest.raises(EncodingError) as e:
        encode(bad)
    msg = str(e.value)
    assert instr.opcode.name in msg and field.name in msg and str(value) in msg
    assert f"0..{field.max}" in msg
    with pytest.raises(EncodingError):
        validate(bad)


ENUM_FIELDS_WITH_GAPS = [
    (d.opcode, f) for d in OPCODES for f in d.fmt.all_fields if f.enum is not None and len(f.enum) < 1 << f.width
]


@pytest.mark.parametrize(("opcode", "field"), ENUM_FIELDS_WITH_GAPS, ids=lambda x: getattr(x, "name", str(x)))
def test_values_outside_an_enum_are_rejected(opcode: Opcode, field: Field) -> None:
    assert field.enum is not None
    members = {int(e) for e in field.enum}
    for v in (v for v in range(field.max + 1) if v not in members):
        if field.name == "opcode":
            with pytest.raises(EncodingError, match="unknown opcode"):
                encode(Instruction(v, make(opcode).fields))  # type: ignore[arg-type]
            continue
        with pytest.raises(EncodingError, match=rf"{opcode.name}: field {field.name}={v} is not a"):
            encode(make(opcode, **{field.name: v}))


def test_enum_fields_with_gaps_cover_funct_unit_and_opcode() -> None:
    names = {f.name for _, f in ENUM_FIELDS_WITH_GAPS}
    assert {"funct", "unit", "opcode"} <= names


def test_vop_funct_31_is_rejected_in_both_directions() -> None:
    with pytest.raises(EncodingError, match="funct=31"):
        encode(make(Opcode.VOP, funct=31))
    word = encode(make(Opcode.VOP)) | (
        31 << dict((f.name, lsb) for f, lsb in OPCODE_DEFS[Opcode.VOP].fmt.layout)["funct"]
    )
    with pytest.raises(EncodingError, match="funct=31"):
        decode(word)


@pytest.mark.parametrize(
    ("opcode", "unit", "flag"),
    [(Opcode.LOAD, None, "pop_prev"), (Opcode.LOAD, None, "push_prev"), (Opcode.STORE, None, "pop_next"),
     (Opcode.STORE, None, "push_next"), (Opcode.NOP, Unit.LOAD, "pop_prev"), (Opcode.NOP, Unit.LOAD, "push_prev"),
     (Opcode.NOP, Unit.STORE, "pop_next"), (Opcode.NOP, Unit.STORE, "push_next")],
)  # fmt: skip
def test_flags_naming_a_missing_neighbour_are_rejected(opcode: Opcode, unit: Unit | None, flag: str) -> None:
    extra = {} if unit is None else {"unit": unit}
    instr = make(opcode, **extra, **{flag: 1})
    with pytest.raises(EncodingError, match=flag):
        encode(instr)
    # the same word, built by hand, must not decode either
    layout = {f.name: lsb for f, lsb in OPCODE_DEFS[opcode].fmt.layout}
    word = int(opcode) | (1 << layout[flag]) | (int(unit or 0) << layout.get("unit", 0))
    with pytest.raises(EncodingError, match=flag):
        decode(word)


@pytest.mark.parametrize("opcode", [*COMPUTE_OPCODES, Opcode.NOP], ids=lambda o: o.name)
def test_compute_unit_may_set_every_flag(opcode: Opcode) -> None:
    extra = {"unit": Unit.COMPUTE} if opcode is Opcode.NOP else {}
    instr = make(opcode, **extra, **dict.fromkeys(DEP_FLAGS, 1))
    assert decode(encode(instr)) == instr


def test_load_and_store_keep_their_legal_flags() -> None:
    for opcode, legal in ((Opcode.LOAD, ("pop_next", "push_next")), (Opcode.STORE, ("pop_prev", "push_prev"))):
        instr = make(opcode, **dict.fromkeys(legal, 1))
        assert decode(encode(instr)) == instr


@given(instructions(), st.data())
def test_reserved_bits_set_are_rejected(instr: Instruction, data: st.DataObject) -> None:
    used = instr.defn.fmt.used_bits
    if used == INSN_BITS:
        return  # VOP uses every bit
    bit = data.draw(st.integers(used, INSN_BITS - 1))
    with pytest.raises(EncodingError, match="reserved bits"):
        decode(encode(instr) | (1 << bit))


@given(st.integers(0, (1 << INSN_BITS) - 1).filter(lambda w: (w & 0xF) > max(Opcode)))
def test_unknown_opcodes_are_rejected(word: int) -> None:
    with pytest.raises(EncodingError, match="unknown opcode"):
        decode(word)


@settings(max_examples=400)
@given(st.integers(0, (1 << INSN_BITS) - 1) | st.integers(0, (1 << 28) - 1))
def test_any_word_decodes_to_its_own_encoding_or_raises_encoding_error(word: int) -> None:
    try:
        instr = decode(word)
    except EncodingError:
        return
    assert encode(instr) == word


@pytest.mark.parametrize("word", [-1, 1 << INSN_BITS, 1.0, "0", None])
def test_decode_rejects_non_words(word: object) -> None:
    with pytest.raises(EncodingError):
        decode(word)  # type: ignore[arg-type]


def test_malformed_instructions_are_encoding_errors() -> None:
    good = make(Opcode.SETC, idx=1, value=2)
    cases = [
        Instruction(Opcode.SETC, good.fields[:-1]),  # a field missing
        Instruction(Opcode.SETC, (*good.fields, ("extra", 0))),  # a field too many
        Instruction(Opcode.SETC, tuple(reversed(good.fields))),  # wrong order
        Instruction(Opcode.SETC, (*good.fields[:-1], ("value", 1.5))),  # not an integer
        Instruction(Opcode.SETC, (*good.fields[:-1], ("value", "7"))),
        Instruction(12, good.fields),  # type: ignore[arg-type]  # unknown opcode
        Instruction(Opcode.SETC, 5),  # type: ignore[arg-type]
    ]
    for instr in cases:
        with pytest.raises(EncodingError):
            encode(instr)


def test_numpy_and_intenum_values_are_accepted() -> None:
    plain = make(Opcode.LOAD, buf=int(Buffer.VEC), rows=3)
    odd = Instruction(Opcode.LOAD, tuple((k, Buffer.VEC if k == "buf" else np.int64(v)) for k, v in plain.fields))
    assert encode(odd) == encode(plain)


def test_program_errors_name_the_instruction() -> None:
    instrs = [make(Opcode.FINISH), make(Opcode.LOAD, rows=1 << 12)]
    with pytest.raises(EncodingError, match=r"instruction #1: LOAD: field rows=4096"):
        encode_program(instrs)
    data = encode_program([make(Opcode.FINISH)] * 3)
    corrupt = data[:32] + bytes([0x0F]) + data[33:]
    with pytest.raises(EncodingError, match=r"instruction #2 \(bytes 32\.\.47\).*unknown opcode 15"):
        decode_program(corrupt)
    with pytest.raises(EncodingError, match="not a multiple of 16"):
        decode_program(data[:-1])


def test_decoding_100k_instructions() -> None:
    """Bulk decode is exact on a large random stream (its speed is measured in benchmarks/isa_bench.py)."""
    rng = random.Random(1)
    words = []
    for _ in range(100_000):
        d = OPCODES[rng.randrange(len(OPCODES))]
        values = {f.name: (rng.choice(list(f.enum)) if f.enum else rng.randrange(f.max + 1)) for f in d.fmt.fields}
        words.append(encode(make(d.opcode, **values)))
    data = b"".join(w.to_bytes(INSN_BYTES, "little") for w in words)
    out = decode_program(data)
    assert len(out) == 100_000
    assert [encode(i) for i in out] == words
