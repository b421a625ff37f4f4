"""Program file container: exact round trips, documented byte layout, and refusal of every damaged file."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tataa import config as hwconfig
from tataa import progfile
from tataa.errors import EncodingError, ProgramFileError
from tataa.isa import spec
from tataa.isa.encoding import encode_program, illegal_flags
from tataa.program import DType, Program, Region, Role, TensorDesc

# ------------------------------------------------------------------------------------------ strategies


@st.composite
def instructions(draw: st.DrawFn) -> spec.Instruction:
    """A random valid instruction: every field within its width, enum fields from their enum, legal flags."""
    d = draw(st.sampled_from(spec.OPCODES))
    values: dict[str, int] = {}
    for f in d.fmt.all_fields:
        if f.name == "opcode":
            continue
        if f.enum is not None:
            values[f.name] = int(draw(st.sampled_from(list(f.enum))))
        else:
            values[f.name] = draw(st.integers(0, f.max))
    unit = d.unit if d.unit is not None else spec.Unit(values["unit"])
    for flag in illegal_flags(unit):
        values[flag] = 0
    return spec.make(d.opcode, **values)


_names = st.text(max_size=12)
_u64 = st.integers(0, (1 << 64) - 1)


@st.composite
def regions(draw: st.DrawFn) -> Region:
    init = draw(st.binary(max_size=40))
    size = len(init) + draw(st.integers(0, 1 << 40))
    return Region(index=draw(st.integers(0, spec.NUM_DRAM_REGS - 1)), name=draw(_names), size=size, init=init)


tensors = st.builds(
    TensorDesc,
    name=_names,
    role=st.sampled_from(list(Role)),
    region=st.integers(0, (1 << 32) - 1),
    offset=_u64,
    shape=st.lists(st.integers(0, 1 << 20) | _u64, max_size=5).map(tuple),
    dtype=st.sampled_from(list(DType)),
    row_stride=_u64,
    scale=st.none() | st.floats(allow_nan=False),
)

programs = st.builds(
    Program,
    config_name=st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=8),
    config_hash=st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)
    | st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127), max_size=16),
    instructions=st.lists(instructions(), max_size=12).map(tuple),
    regions=st.lists(regions(), max_size=4).map(tuple),
    tensors=st.lists(tensors, max_size=4).map(tuple),
    metadata=st.lists(st.tuples(_names, st.text(max_size=30)), max_size=4).map(tuple),
)


def small_program() -> Program:
    """A hand-made program touching every section."""
    cfg = hwconfig.load("tiny")
    instrs = (
        spec.make(spec.Opcode.LOAD, buf=spec.Buffer.INP, rows=2, cols=8, dram_stride=8, push_next=1),
        spec.make(spec.Opcode.MODE, mode=spec.Mode.SIMD, pop_prev=1),
        spec.make(spec.Opcode.SETC, idx=3, value=0x3F80),
        spec.make(spec.Opcode.FINISH),
    )
    return Program(
        config_name=cfg.name,
        config_hash=cfg.hash,
        instructions=instrs,
        regions=(Region(0, "act", 64, bytes(range(5))), Region(3, "out", 16)),
        tensors=(
            TensorDesc("x", Role.INPUT, 0, 0, (2, 8), DType.INT8, scale=0.125),
            TensorDesc("y", Role.OUTPUT, 3, 4, (4,), DType.BF16, row_stride=16),
        ),
        metadata=(("source", "test"),),
    )


def recrc(data: bytes) -> bytes:
    """`data` with its trailing CRC32 recomputed."""
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]))


def patch(data: bytes, offset: int, new: bytes) -> bytes:
    """`data` with bytes at `offset` replaced by `new` and a valid CRC."""
    return recrc(data[:offset] + new + data[offset + len(new) :])


# ------------------------------------------------------------------------------------------ round trip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_random_programs_round_trip_exactly(program: Program) -> None:
    data = progfile.to_bytes(program)
    back = progfile.from_bytes(data)
    assert back == program
    assert progfile.to_bytes(back) == data


def test_save_and_load(tmp_path) -> None:
    p = small_program()
    path = tmp_path / "p.tprog"
    progfile.save(p, path)
    assert progfile.load(path) == p
    assert progfile.load(str(path)) == p
    assert path.read_bytes() == progfile.to_bytes(p)
    assert [x.name for x in tmp_path.iterdir()] == ["p.tprog"]  # no temporary file left behind
    prog, info = progfile.load_with_info(path)
    assert prog == p
    assert info.file_length == path.stat().st_size
    assert [s.type for s in info.sections] == list(progfile.SectionType)


def test_empty_program_round_trips() -> None:
    p = Program("", "", (), (), ())
    assert progfile.from_bytes(progfile.to_bytes(p)) == p


# ------------------------------------------------------------------------------------------ documented layout


def test_header_and_sections_follow_the_documented_layout() -> None:
    p = small_program()
    data = progfile.to_bytes(p)
    assert data[0:8] == b"TATAAPRG"
    assert struct.unpack_from("<HH", data, 8) == (1, 96)
    assert data[12:28] == spec.isa_hash().encode()
    assert data[28:60] == p.config_name.encode().ljust(32, b"\0")
    assert data[60:76] == p.config_hash.encode()
    assert struct.unpack_from("<I", data, 76) == (4,)
    assert struct.unpack_from("<Q", data, 80) == (len(data),)
    assert data[88:96] == bytes(8)
    assert struct.unpack_from("<I", data, len(data) - 4) == (zlib.crc32(data[:-4]),)
    # Walk the sections as the document describes them.
    pos, seen = 96, []
    while pos < len(data) - 4:
        type_id, flags, length = struct.unpack_from("<IIQ", data, pos)
        assert flags == 0
        seen.append((type_id, data[pos + 16 : pos + 16 + length]))
        pos += 16 + length
    assert pos == len(data) - 4
    assert [t for t, _ in seen] == [1, 2, 3, 4]
    payload = dict(seen)
    assert payload[1] == encode_program(p.instructions)
    assert len(payload[1]) == 16 * len(p.instructions)
    # REGIONS: count, then index u32, size u64, name str, init blob.
    r = payload[2]
    assert struct.unpack_from("<IIQI", r, 0) == (2, 0, 64, 3)
    assert r[20:23] == b"act"
    assert struct.unpack_from("<Q", r, 23) == (5,)
    assert r[31:36] == bytes(range(5))
    # TENSORS: the first record.
    t = payload[3]
    assert struct.unpack_from("<II", t, 0) == (2, 1)
    assert t[8:9] == b"x"
    role, dtype, has_scale, ndim, region, offset, row_stride = struct.unpack_from("<BBBBIQQ", t, 9)
    assert (role, dtype, has_scale, ndim, region, offset, row_stride) == (0, 0, 1, 2, 0, 0, 0)
    assert struct.unpack_from("<QQd", t, 9 + 24) == (2, 8, 0.125)
    # METADATA: one (key, value) pair of strs.
    assert payload[4] == struct.pack("<I", 1) + struct.pack("<I", 6) + b"source" + struct.pack("<I", 4) + b"test"


# ------------------------------------------------------------------------------------------ damage


def test_every_single_bit_flip_is_rejected() -> None:
    data = progfile.to_bytes(small_program())
    for bit in range(len(data) * 8):
        bad = bytearray(data)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ProgramFileError):
            progfile.from_bytes(bytes(bad))


def test_bit_flips_behind_a_valid_crc_are_refused_or_faithful() -> None:
    """With the CRC recomputed, the structural checks alone must refuse a flip or decode exactly those bytes."""
    data = progfile.to_bytes(small_program())
    refused = 0
    for bit in range((len(data) - 4) * 8):
        bad = bytearray(data)
        bad[bit // 8] ^= 1 << (bit % 8)
        bad = recrc(bytes(bad))
        try:
            program = progfile.from_bytes(bad)
        except ProgramFileError:
            refused += 1
            continue
        assert progfile.to_bytes(program) == bad, f"bit {bit} decoded to a program that is not the file"
    assert refused > (len(data) - 4) * 8 // 4  # most header / length / structure bits are guarded


def test_every_truncation_is_rejected() -> None:
    data = progfile.to_bytes(small_program())
    for n in range(len(data)):
        with pytest.raises(ProgramFileError):
            progfile.from_bytes(data[:n])


def test_truncation_message_gives_both_lengths() -> None:
    data = progfile.to_bytes(small_program())
    with pytest.raises(ProgramFileError, match=rf"expected {len(data)} bytes, got {len(data) - 7}"):
        progfile.from_bytes(data[:-7])
    with pytest.raises(ProgramFileError, match="truncated"):
        progfile.from_bytes(data[:20])


def test_truncated_body_with_consistent_header_is_rejected() -> None:
    """Cutting bytes out of the sections while fixing the length field and CRC still fails cleanly."""
    data = progfile.to_bytes(small_program())
    body_end = len(data) - 4
    for cut in range(96, body_end):
        shorter = data[:cut] + data[body_end:]
        shorter = patch(shorter, 80, struct.pack("<Q", len(shorter)))
        with pytest.raises(ProgramFileError):
            progfile.from_bytes(shorter)


def test_trailing_bytes_are_rejected() -> None:
    data = progfile.to_bytes(small_program())
    with pytest.raises(ProgramFileError, match="trailing"):
        progfile.from_bytes(data + b"\0")


def test_wrong_magic() -> None:
    data = progfile.to_bytes(small_program())
    with pytest.raises(ProgramFileError, match="not a tataa program file"):
        progfile.from_bytes(b"PK\x03\x04" + data[4:])
    with pytest.raises(ProgramFileError, match="not a tataa program file"):
        progfile.from_bytes(b"")
    with pytest.raises(ProgramFileError, match="not a tataa program file"):
        progfile.from_bytes(b"hello world, this is text and not a program file at all" * 3)


def test_crc_mismatch_is_named() -> None:
    data = bytearray(progfile.to_bytes(small_program()))
    data[-10] ^= 0x40
    with pytest.raises(ProgramFileError, match="CRC32 mismatch"):
        progfile.from_bytes(bytes(data))


@pytest.mark.parametrize("version, word", [(2, "newer"), (7, "newer"), (0, "older")])
def test_other_format_versions_are_refused(version: int, word: str) -> None:
    data = patch(progfile.to_bytes(small_program()), 8, struct.pack("<H", version))
    with pytest.raises(ProgramFileError, match=rf"version {version} is {word}"):
        progfile.from_bytes(data)


def test_future_version_with_a_different_layout_is_reported_as_a_version_problem() -> None:
    """A future writer may change everything after the version field; the reader must still say 'version'."""
    future = b"TATAAPRG" + struct.pack("<HH", 2, 12)  # a 12-byte header, no sections, no CRC
    with pytest.raises(ProgramFileError, match="version 2 is newer"):
        progfile.from_bytes(future)


def test_isa_hash_mismatch_asks_to_recompile() -> None:
    data = patch(progfile.to_bytes(small_program()), 12, b"deadbeefdeadbeef")
    with pytest.raises(ProgramFileError, match=rf"built for ISA deadbeefdeadbeef, this tataa has {spec.isa_hash()}"):
        progfile.from_bytes(data)
    with pytest.raises(ProgramFileError, match="recompile"):
        progfile.from_bytes(data)


def test_unknown_section_type() -> None:
    data = patch(progfile.to_bytes(small_program()), 96, struct.pack("<I", 9))
    with pytest.raises(ProgramFileError, match="unknown section type 9"):
        progfile.from_bytes(data)


def test_duplicate_and_missing_sections() -> None:
    data = progfile.to_bytes(small_program())
    _, info = progfile.parse(data)
    regions_at = info.sections[1].offset
    dup = patch(data, regions_at, struct.pack("<I", 1))  # REGIONS header relabelled INSTRUCTIONS
    with pytest.raises(ProgramFileError, match="INSTRUCTIONS section appears twice"):
        progfile.from_bytes(dup)
    # Drop the METADATA section entirely (count 3, shorter file).
    meta = info.sections[3]
    short = data[: meta.offset] + data[-4:]
    short = short[:76] + struct.pack("<IQ", 3, len(short)) + short[88:]
    with pytest.raises(ProgramFileError, match=r"missing section.*METADATA"):
        progfile.from_bytes(recrc(short))


def test_malformed_section_payloads() -> None:
    data = progfile.to_bytes(small_program())
    _, info = progfile.parse(data)
    regions = info.sections[1].offset + 16
    with pytest.raises(ProgramFileError, match="malformed REGIONS section"):
        progfile.from_bytes(patch(data, regions, struct.pack("<I", 1000)))  # region count far too large
    with pytest.raises(ProgramFileError, match=r"malformed REGIONS section.*index 9"):
        progfile.from_bytes(patch(data, regions + 4, struct.pack("<I", 9)))  # base register 9 does not exist
    tensors = info.sections[2].offset + 16
    name_len = 1
    role_at = tensors + 4 + 4 + name_len
    with pytest.raises(ProgramFileError, match=r"malformed TENSORS section.*role code 7"):
        progfile.from_bytes(patch(data, role_at, b"\x07"))
    with pytest.raises(ProgramFileError, match=r"malformed TENSORS section.*dtype code 5"):
        progfile.from_bytes(patch(data, role_at + 1, b"\x05"))
    meta = info.sections[3].offset + 16
    with pytest.raises(ProgramFileError, match=r"malformed METADATA section.*UTF-8"):
        progfile.from_bytes(patch(data, meta + 8, b"\xff"))
    instr = info.sections[0]
    end = instr.offset + 16 + instr.length
    longer = data[:end] + b"\0" + data[end:]  # one stray byte after the last instruction word
    longer = longer[: instr.offset + 8] + struct.pack("<Q", instr.length + 1) + longer[instr.offset + 16 :]
    longer = longer[:80] + struct.pack("<Q", len(longer)) + longer[88:]
    with pytest.raises(ProgramFileError, match="not a multiple of 16"):
        progfile.from_bytes(recrc(longer))


def test_undecodable_instruction_keeps_its_index() -> None:
    p = small_program()
    data = progfile.to_bytes(p)
    word_at = 96 + 16 + 16 * 2  # instruction #2
    with pytest.raises(ProgramFileError, match=r"instruction #2 does not decode") as exc:
        progfile.from_bytes(patch(data, word_at, b"\x0f"))  # opcode 15 does not exist
    assert isinstance(exc.value.__cause__, EncodingError)
    with pytest.raises(ProgramFileError, match=r"instruction #3 does not decode.*reserved"):
        progfile.from_bytes(patch(data, word_at + 16 + 15, b"\x80"))  # a reserved bit of FINISH


def test_missing_file_and_directory(tmp_path) -> None:
    with pytest.raises(ProgramFileError, match="cannot read program file"):
        progfile.load(tmp_path / "nope.tprog")
    with pytest.raises(ProgramFileError, match="cannot read program file"):
        progfile.load(tmp_path)
    with pytest.raises(ProgramFileError, match="cannot write program file"):
        progfile.save(small_program(), tmp_path / "no" / "such" / "dir.tprog")


# ------------------------------------------------------------------------------------------ unrepresentable


def test_values_the_layout_cannot_hold_are_refused_on_save() -> None:
    p = small_program()
    with pytest.raises(ProgramFileError, match="config name"):
        progfile.to_bytes(Program("x" * 33, p.config_hash, (), (), ()))
    with pytest.raises(ProgramFileError, match="config hash"):
        progfile.to_bytes(Program("tiny", "é", (), (), ()))
    with pytest.raises(ProgramFileError, match=r"config name .* not encodable as UTF-8"):
        progfile.to_bytes(Program("\ud800", p.config_hash, (), (), ()))  # a lone surrogate
    with pytest.raises(ProgramFileError, match="offset"):
        progfile.to_bytes(Program("tiny", "", (), (), (TensorDesc("t", Role.CONST, 0, -1, (1,), DType.INT8),)))
    with pytest.raises(ProgramFileError, match="rank"):
        progfile.to_bytes(Program("tiny", "", (), (), (TensorDesc("t", Role.CONST, 0, 0, (1,) * 256, DType.INT8),)))
    bad_insn = spec.make(spec.Opcode.SETC, idx=9)
    with pytest.raises(EncodingError, match="idx"):
        progfile.to_bytes(Program("tiny", "", (bad_insn,), (), ()))
