"""The assembler and disassembler: exact round trips, the accepted syntax, and errors that name line and column."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from isa_strategies import instructions, programs

from tataa.config import load as load_config
from tataa.errors import AsmError
from tataa.isa.asm import (
    DATA_BYTES_PER_LINE,
    assemble,
    assemble_instructions,
    disassemble,
    format_instruction,
    parse_instruction,
)
from tataa.isa.spec import OPCODE_DEFS, Buffer, Instruction, Opcode, OutType, Unit, VFunct, make
from tataa.program import DType, Program, Region, Role, TensorDesc

# ---- round trips ------------------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", list(Opcode), ids=lambda o: o.name)
@settings(max_examples=60)
@given(data=st.data())
def test_instruction_text_round_trip(opcode: Opcode, data: st.DataObject) -> None:
    instr = data.draw(instructions((opcode,)))
    text = format_instruction(instr)
    assert parse_instruction(text) == instr
    assert format_instruction(parse_instruction(text)) == text


@settings(max_examples=150, deadline=None)
@given(programs())
def test_program_round_trip(program: Program) -> None:
    text = disassemble(program)
    assert assemble(text) == program
    assert disassemble(assemble(text)) == text


@settings(max_examples=30, deadline=None)
@given(programs())
def test_program_without_data_keeps_everything_but_the_images(program: Program) -> None:
    back = assemble(disassemble(program, with_data=False))
    assert back.instructions == program.instructions and back.tensors == program.tensors
    assert [(r.index, r.name, r.size, b"") for r in program.regions] == [
        (r.index, r.name, r.size, r.init) for r in back.regions
    ]


@settings(max_examples=30)
@given(st.lists(instructions(), max_size=10))
def test_numbered_listing_assembles_to_the_same_instructions(instrs: list[Instruction]) -> None:
    program = Program("tiny", "h", tuple(instrs), (), ())
    text = disassemble(program, numbered=True)
    for k in range(len(instrs)):
        assert f"; #{k}" in text
    assert assemble(text) == program


def test_data_is_printed_in_64_byte_lines_and_zero_runs_are_implied() -> None:
    image = bytes(range(1, 201)) + bytes(1000) + b"\x07"
    program = Program("tiny", "h", (), (Region(2, "w", 4096, image),), ())
    text = disassemble(program)
    data_lines = [ln for ln in text.splitlines() if ln.startswith(".data")]
    assert all(len(bytes.fromhex("".join(ln.split()[3:]))) <= DATA_BYTES_PER_LINE for ln in data_lines)
    assert len(data_lines) == 4 + 1  # 200 bytes in 4 lines, then only the chunk holding the last byte
    assert assemble(text).regions[0].init == image


# ---- the syntax -------------------------------------------------------------------------------------


def test_fields_in_any_order_hex_comments_and_omitted_zeros() -> None:
    text = "load  rows=0x10 buf=acc   push_next cols=3 dram_offset=0X1F  ; a comment\n"
    assert parse_instruction(text) == make(Opcode.LOAD, buf=Buffer.ACC, rows=16, cols=3, dram_offset=31, push_next=1)
    assert parse_instruction("store pop_prev rows=0 # comment") == make(Opcode.STORE, pop_prev=1)


def test_enum_fields_by_name_or_number() -> None:
    assert parse_instruction("requant out_type=bf16") == make(Opcode.REQUANT, out_type=OutType.BF16)
    assert parse_instruction("requant out_type=1") == make(Opcode.REQUANT, out_type=OutType.BF16)
    assert parse_instruction("nop unit=store pop_prev") == make(Opcode.NOP, unit=Unit.STORE, pop_prev=1)
    assert parse_instruction("mode mode=SIMD") == make(Opcode.MODE, mode=1)


@pytest.mark.parametrize("funct", list(VFunct), ids=lambda f: f.name)
def test_every_vop_funct_has_a_mnemonic(funct: VFunct) -> None:
    instr = make(Opcode.VOP, funct=funct, outer=2, inner=3, dst_base=7, b_const=1)
    text = format_instruction(instr)
    assert text.startswith(f"vop.{funct.name.lower()} ")
    assert parse_instruction(text) == instr
    assert parse_instruction(f"vop funct={funct.name.lower()} outer=2 inner=3 dst_base=7 b_const=1") == instr


def test_canonical_text_is_stable() -> None:
    instr = make(Opcode.LOAD, buf=Buffer.WGT, rows=8, cols=8, dram_stride=8, push_next=1)
    assert format_instruction(instr) == "load buf=wgt rows=8 cols=8 dram_stride=8 push_next"
    assert format_instruction(make(Opcode.SETC, idx=1, value=0x3F80)) == "setc idx=1 value=0x3f80"
    assert format_instruction(make(Opcode.FINISH)) == "finish"


def test_assemble_program_with_every_directive() -> None:
    text = """
    ; a program
    .config tiny
    .meta compiler "tataa \\"test\\""
    .region 0 weights 256
    .region 3 "act map" 64
    .tensor x role=input region=3 offset=0 shape=4x8 dtype=int8 scale=0.125
    .tensor "y/out" role=output region=3 offset=32 shape=() dtype=bf16 row_stride=16
    load buf=wgt rows=8 cols=8 dram_stride=8 push_next
    finish
    .data 0 0 0001020304050607 08
    .data 0 16 ff
    """
    p = assemble(text)
    assert p.config_name == "tiny" and p.config_hash == load_config("tiny").hash
    assert p.metadata == (("compiler", 'tataa "test"'),)
    assert p.regions == (Region(0, "weights", 256, bytes(range(9)) + bytes(7) + b"\xff"), Region(3, "act map", 64))
    assert p.tensors == (
        TensorDesc("x", Role.INPUT, 3, 0, (4, 8), DType.INT8, scale=0.125),
        TensorDesc("y/out", Role.OUTPUT, 3, 32, (), DType.BF16, row_stride=16),
    )
    assert [i.opcode for i in p.instructions] == [Opcode.LOAD, Opcode.FINISH]


def test_explicit_config_hash_is_kept_verbatim() -> None:
    assert assemble(".config tiny 0000aaaa\n").config_hash == "0000aaaa"
    assert assemble('.config "no such config" ""\n').config_hash == ""


def test_windows_line_endings_and_no_final_newline() -> None:
    assert assemble(".config tiny\r\nfinish\r\nfinish").instructions == (make(Opcode.FINISH),) * 2


def test_assemble_instructions_accepts_only_instructions() -> None:
    assert assemble_instructions("finish\n\n; x\nnop unit=compute\n") == (
        make(Opcode.FINISH),
        make(Opcode.NOP, unit=Unit.COMPUTE),
    )
    with pytest.raises(AsmError, match=r"line 2, column 1: directive \.config is not allowed"):
        assemble_instructions("finish\n.config tiny\n")


def test_parse_instruction_wants_exactly_one() -> None:
    with pytest.raises(AsmError):
        parse_instruction("finish\nfinish")
    with pytest.raises(AsmError):
        parse_instruction("; nothing")


# ---- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "at", "needles"),
    [
        ("lod rows=1", "lod", ["unknown mnemonic 'lod'", "did you mean 'load'", "vop.<add|"]),
        ("load rowz=3", "rowz", ["LOAD has no field 'rowz'", "did you mean 'rows'", "sram_base"]),
        ("vop.add funct=mul", "funct", ["duplicate field 'funct'", "mnemonic"]),
        ("load rows=1 cols=2 rows=2", "rows=2", ["duplicate field 'rows'", "column 6"]),
        ("load rows=4096", "4096", ["LOAD: field rows=4096 out of range 0..4095"]),
        ("vop funct=31", "31", ["funct=31 is not a VFunct"]),
        ("load buf=foo", "foo", ["takes one of inp, wgt, acc, vec"]),
        ("load rows=abc", "abc", ["takes an integer"]),
        ("load rows", "rows", ["needs a value"]),
        ("load rows=-1", "-1", ["field rows takes an integer", "'-1'"]),
        ("load rows=12abc", "12abc", ["field rows takes an integer", "'12abc'"]),
        ("load rows= cols=1", " cols", ["field rows has no value"]),
        ("load rows = 5", "= 5", ["unexpected", "field=value"]),
        ("load =", "=", ["unexpected '='", "a field name"]),
        ("load pop_prev", "pop_prev", ["dependency flag pop_prev is illegal for unit LOAD"]),
        ("nop unit=store push_next", "push_next", ["push_next is illegal for unit STORE"]),
        (".tensor t role=inp region=0 offset=0 shape=1 dtype=int8", "inp", ["role must be one of input"]),
        (".tensor t role=input region=0 shape=1 dtype=int8", "t ", ["lacks offset"]),
        (".tensor t role=input region=0 offset=0 shape=1x dtype=int8", "1x", ["shape must look like"]),
        (".tensor t role=input region=0 offset=0 shape=1 dtype=int8 scale=x", "x", ["scale must be a float"]),
        (".tensor t role=input region=0 offset=0 shape=1 dtype=i8", "i8", ["dtype must be one of int8"]),
        (".tensor t role=input region=0 offset=0 shape=1 dtype=int8 colour=1", "colour", ["unknown tensor attr"]),
        (".tensor t role=input region=0 offset=0 offset=1 shape=1 dtype=int8", "offset=1", ["duplicate tensor"]),
        (".region 8 big 10", "8", ["index 8 outside 0..7"]),
        (".region 1 a 10\n.region 1 b 10", "1", ["duplicate region index 1"]),
        (
            ".tensor a role=const region=1 offset=0 shape=1 dtype=int8\n"
            ".tensor a role=input region=1 offset=0 shape=1 dtype=int8",
            ".tensor",
            ["duplicate tensor 'a'"],
        ),
        (".data 5 0 00", "5", ["no .region declares"]),
        (".region 0 a 4\n.data 0 2 001122", "0", ["beyond size 4"]),
        (".region 0 a 8\n.data 0 0 0011\n.data 0 1 22", "0", ["overlaps"]),
        (".region 0 a 8\n.data 0 0 001", "001", ["even number of digits"]),
        (".config tiny", ".config", ["duplicate .config"]),
        ('.meta key "bad \\q escape"', '"', ["malformed string"]),
        (".configx", ".configx", ["unexpected '.configx'", ".config"]),
    ],
)
def test_errors_name_line_column_and_problem(text: str, at: str, needles: list[str]) -> None:
    source = ".config tiny\n" + text + "\nfinish\n"
    with pytest.raises(AsmError) as e:
        assemble(source)
    msg = str(e.value)
    line = source.count("\n", 0, source.rindex(text)) + text.count("\n") + 1  # the last line of the snippet
    src_line = source.splitlines()[line - 1]
    column = src_line.index(at) + 1
    assert msg.startswith(f"line {line}, column {column}: "), msg
    for needle in needles:
        assert needle in msg, msg
    # the message quotes the offending line under a caret pointing at the column
    quoted, caret = msg.splitlines()[1:3]
    assert quoted == "    " + src_line
    assert caret == " " * (4 + column - 1) + "^"


def test_missing_and_unknown_config() -> None:
    with pytest.raises(AsmError, match=r"missing \.config"):
        assemble("finish\n")
    with pytest.raises(AsmError, match=r"line 1, column 9: unknown hardware config 'nonexistent'"):
        assemble(".config nonexistent\n")


@settings(max_examples=60)
@given(instructions(), st.data())
def test_out_of_range_errors_match_the_encoder(instr: Instruction, data: st.DataObject) -> None:
    fields = [f for f in OPCODE_DEFS[instr.opcode].fmt.fields if f.enum is None]
    if not fields:
        return
    field = data.draw(st.sampled_from(fields))
    value = data.draw(st.integers(field.max + 1, 1 << 64))
    mnemonic, *operands = format_instruction(instr).split()
    operands = [op for op in operands if not op.startswith(f"{field.name}=")]
    text = " ".join([mnemonic, *operands, f"{field.name}={value:#x}" if value % 2 else f"{field.name}={value}"])
    with pytest.raises(AsmError) as e:
        parse_instruction(text)
    assert f"field {field.name}={value} out of range 0..{field.max}" in str(e.value)
    assert str(e.value).startswith("line 1, column ")


# ---- the disassembler never fails ------------------------------------------------------------------


def test_disassembler_prints_odd_programs_that_then_fail_to_assemble() -> None:
    odd = (
        make(Opcode.LOAD, rows=99999),  # out of range
        make(Opcode.VOP, funct=31),  # not a VFunct
        make(Opcode.LOAD, pop_prev=1),  # illegal flag
        Instruction(Opcode.SETC, (("idx", 1), ("colour", 3))),  # unknown field
        Instruction(11, (("x", 1),)),  # type: ignore[arg-type]  # unknown opcode
        Instruction(Opcode.MODE, (("mode", "simd"),)),  # not an integer
    )
    program = Program("tiny", "h", odd, (), (TensorDesc("t", "weird", 0, 0, (1,), DType.INT8),))  # type: ignore[arg-type]
    text = disassemble(program)
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith((".", ";"))]
    assert len(lines) == len(odd)
    assert "rows=99999" in lines[0] and lines[1].startswith("vop ") and "funct=31" in lines[1]
    assert "pop_prev" in lines[2] and "colour=3" in lines[3] and lines[4].startswith("op11")
    for line in lines:
        with pytest.raises(AsmError):
            assemble(".config tiny 0\n" + line)


def test_disassembler_works_without_finish() -> None:
    program = Program("u280", "", (make(Opcode.NOP, unit=Unit.COMPUTE),), (), ())
    text = disassemble(program)
    assert "nop unit=compute" in text and assemble(text) == program


_PIECES = [*'abcxyz019_.=;#"\\ \n\t-:()/', ".config", ".region", ".data", ".tensor", ".meta", "load", "vop.add"]
_PIECES += ["rows=", "0x", "buf=", "pop_prev", "shape=", "role=input", "\r"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_garbage_raises_asm_error_and_nothing_else(text: str) -> None:
    try:
        assemble(".config tiny 0\n" + text)
    except AsmError as e:
        assert str(e).startswith("line ")
