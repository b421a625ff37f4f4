"""The on-disk program container (``.tprog``): a versioned, checksummed file holding one :class:`Program`.

Layout, byte by byte, in docs/program-file.md: a fixed 96-byte header (magic, format version, ISA hash,
hardware configuration), sections (instructions, HBM regions, tensor descriptors, metadata) and a
trailing CRC32. Loading checks everything and raises :class:`ProgramFileError` naming the problem.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from tataa.errors import EncodingError, ProgramFileError
from tataa.isa import spec
from tataa.program import DType, Program, Region, Role, TensorDesc

MAGIC = b"TATAAPRG"
FORMAT_VERSION = 1
HEADER_LEN = 96
SECTION_HEADER_LEN = 16
CRC_LEN = 4
CONFIG_NAME_LEN = 32
HASH_LEN = 16

# magic, version, header length, ISA hash, config name, config hash, section count, file length, reserved
_HEADER = struct.Struct("<8sHH16s32s16sIQ8s")
_SECTION = struct.Struct("<IIQ")  # type id, flags (reserved, zero), payload length
assert _HEADER.size == HEADER_LEN and _SECTION.size == SECTION_HEADER_LEN

_U64_MAX = (1 << 64) - 1
_U32_MAX = (1 << 32) - 1


class SectionType(IntEnum):
    """Section type ids; each appears exactly once, in this order."""

    INSTRUCTIONS = 1
    REGIONS = 2
    TENSORS = 3
    METADATA = 4


_ROLE_CODES: dict[Role, int] = {Role.INPUT: 0, Role.OUTPUT: 1, Role.CONST: 2}
_DTYPE_CODES: dict[DType, int] = {DType.INT8: 0, DType.INT32: 1, DType.BF16: 2}
_ROLES = {v: k for k, v in _ROLE_CODES.items()}
_DTYPES = {v: k for k, v in _DTYPE_CODES.items()}


@dataclass(frozen=True)
class SectionInfo:
    """Where one section lies in a program file."""

    type: SectionType
    offset: int  # byte offset of the section header
    length: int  # payload bytes


@dataclass(frozen=True)
class FileInfo:
    """The container-level facts of a program file (what `tataa info` shows besides the program)."""

    version: int
    isa_hash: str
    config_name: str
    config_hash: str
    file_length: int
    crc32: int
    sections: tuple[SectionInfo, ...]


# ---------------------------------------------------------------------------------------------- writing


def _check_uint(what: str, value: object, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ProgramFileError(f"cannot store {what} = {value!r}: must be an integer in 0..{maximum}")
    return value


def _fixed_text(what: str, text: object, width: int, *, ascii_only: bool) -> bytes:
    if not isinstance(text, str):
        raise ProgramFileError(f"cannot store {what} {text!r}: not a string")
    try:
        raw = text.encode("ascii" if ascii_only else "utf-8")
    except UnicodeEncodeError:
        kind = "ASCII" if ascii_only else "UTF-8"
        raise ProgramFileError(f"cannot store {what} {text!r}: not encodable as {kind}") from None
    if len(raw) > width or b"\0" in raw:
        raise ProgramFileError(f"cannot store {what} {text!r}: at most {width} bytes and no NUL characters")
    return raw.ljust(width, b"\0")


def _pack_str(what: str, text: object) -> bytes:
    if not isinstance(text, str):
        raise ProgramFileError(f"cannot store {what} {text!r}: not a string")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProgramFileError(f"cannot store {what} {text!r}: not encodable as UTF-8") from None
    return struct.pack("<I", _check_uint(f"length of {what}", len(raw), _U32_MAX)) + raw


def _instructions_payload(program: Program) -> bytes:
    from tataa.isa.encoding import encode_program  # the ISA encoder; imported late to keep this module light

    return encode_program(program.instructions)


def _regions_payload(regions: tuple[Region, ...]) -> bytes:
    out = [struct.pack("<I", _check_uint("region count", len(regions), _U32_MAX))]
    for r in regions:
        what = f"region {r.name!r}"
        init = bytes(r.init)
        out.append(
            struct.pack(
                "<IQ",
                _check_uint(f"{what} index", r.index, spec.NUM_DRAM_REGS - 1),
                _check_uint(f"{what} size", r.size, _U64_MAX),
            )
        )
        out.append(_pack_str("region name", r.name))
        out.append(struct.pack("<Q", len(init)))
        out.append(init)
    return b"".join(out)


def _tensors_payload(tensors: tuple[TensorDesc, ...]) -> bytes:
    out = [struct.pack("<I", _check_uint("tensor count", len(tensors), _U32_MAX))]
    for t in tensors:
        what = f"tensor {t.name!r}"
        try:
            role, dtype = Role(t.role), DType(t.dtype)
        except ValueError:
            raise ProgramFileError(f"cannot store {what}: unknown role {t.role!r} or dtype {t.dtype!r}") from None
        shape = tuple(t.shape)
        _check_uint(f"{what} rank", len(shape), 255)
        scale = t.scale
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float)):
            raise ProgramFileError(f"cannot store {what} scale {scale!r}: not a number")
        out.append(_pack_str("tensor name", t.name))
        out.append(
            struct.pack(
                "<BBBBIQQ",
                _ROLE_CODES[role],
                _DTYPE_CODES[dtype],
                0 if scale is None else 1,
                len(shape),
                _check_uint(f"{what} region", t.region, _U32_MAX),
                _check_uint(f"{what} offset", t.offset, _U64_MAX),
                _check_uint(f"{what} row_stride", t.row_stride, _U64_MAX),
            )
        )
        out.extend(struct.pack("<Q", _check_uint(f"{what} shape[{i}]", d, _U64_MAX)) for i, d in enumerate(shape))
        out.append(struct.pack("<d", 0.0 if scale is None else float(scale)))
    return b"".join(out)


def _metadata_payload(metadata: tuple[tuple[str, str], ...]) -> bytes:
    out = [struct.pack("<I", _check_uint("metadata count", len(metadata), _U32_MAX))]
    for entry in metadata:
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise ProgramFileError(f"cannot store metadata entry {entry!r}: not a (key, value) pair")
        out.append(_pack_str("metadata key", entry[0]))
        out.append(_pack_str(f"metadata value of {entry[0]!r}", entry[1]))
    return b"".join(out)


def to_bytes(program: Program) -> bytes:
    """The program file image of `program` (raises EncodingError for an unencodable instruction)."""
    payloads = (
        (SectionType.INSTRUCTIONS, _instructions_payload(program)),
        (SectionType.REGIONS, _regions_payload(program.regions)),
        (SectionType.TENSORS, _tensors_payload(program.tensors)),
        (SectionType.METADATA, _metadata_payload(program.metadata)),
    )
    body = b"".join(_SECTION.pack(t, 0, len(p)) + p for t, p in payloads)
    file_length = HEADER_LEN + len(body) + CRC_LEN
    header = _HEADER.pack(
        MAGIC,
        FORMAT_VERSION,
        HEADER_LEN,
        spec.isa_hash().encode("ascii"),
        _fixed_text("config name", program.config_name, CONFIG_NAME_LEN, ascii_only=False),
        _fixed_text("config hash", program.config_hash, HASH_LEN, ascii_only=True),
        len(payloads),
        file_length,
        bytes(8),
    )
    image = header + body
    return image + struct.pack("<I", zlib.crc32(image))


def save(program: Program, path: str | os.PathLike[str]) -> None:
    """Write `program` to `path` (atomically: a reader never sees a half-written file)."""
    data = to_bytes(program)
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or Path("."))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise ProgramFileError(f"cannot write program file {str(target)!r}: {e.strerror or e}") from None


# ---------------------------------------------------------------------------------------------- reading


class _Cursor:
    """Sequential little-endian reader over one section payload; running short is a malformed payload."""

    def __init__(self, data: bytes, section: SectionType) -> None:
        self.data = data
        self.pos = 0
        self.section = section

    def fail(self, message: str) -> ProgramFileError:
        return ProgramFileError(f"malformed {self.section.name} section: {message} (at payload byte {self.pos})")

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise self.fail(f"{what} needs {n} bytes, only {len(self.data) - self.pos} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> tuple:
        s = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self.take(s, what))

    def text(self, what: str) -> str:
        (n,) = self.unpack("I", f"length of {what}")
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not valid UTF-8") from None

    def end(self) -> None:
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} unexpected trailing bytes")


def _fixed_field(raw: bytes, what: str, *, ascii_only: bool) -> str:
    text, _, pad = raw.partition(b"\0")
    if pad.strip(b"\0"):
        raise ProgramFileError(f"malformed header: {what} has bytes after its NUL padding")
    try:
        return text.decode("ascii" if ascii_only else "utf-8")
    except UnicodeDecodeError:
        raise ProgramFileError(f"malformed header: {what} is not valid {'ASCII' if ascii_only else 'UTF-8'}") from None


def _decode_instructions(payload: bytes) -> tuple[spec.Instruction, ...]:
    from tataa.isa.encoding import decode

    n, rest = divmod(len(payload), spec.INSN_BYTES)
    if rest:
        raise ProgramFileError(
            f"malformed INSTRUCTIONS section: {len(payload)} bytes is not a multiple of {spec.INSN_BYTES}"
        )
    out = []
    for i in range(n):
        word = int.from_bytes(payload[i * spec.INSN_BYTES : (i + 1) * spec.INSN_BYTES], "little")
        try:
            out.append(decode(word))
        except EncodingError as e:
            raise ProgramFileError(f"instruction #{i} does not decode: {e}") from e
    return tuple(out)


def _decode_regions(payload: bytes) -> tuple[Region, ...]:
    c = _Cursor(payload, SectionType.REGIONS)
    (count,) = c.unpack("I", "region count")
    out = []
    for k in range(count):
        index, size = c.unpack("IQ", f"region #{k} index and size")
        name = c.text(f"region #{k} name")
        (n_init,) = c.unpack("Q", f"region #{k} init length")
        init = c.take(n_init, f"region #{k} init image")
        try:
            out.append(Region(index=index, name=name, size=size, init=init))
        except ValueError as e:
            raise c.fail(str(e)) from None
    c.end()
    return tuple(out)


def _decode_tensors(payload: bytes) -> tuple[TensorDesc, ...]:
    c = _Cursor(payload, SectionType.TENSORS)
    (count,) = c.unpack("I", "tensor count")
    out = []
    for k in range(count):
        name = c.text(f"tensor #{k} name")
        role, dtype, has_scale, ndim, region, offset, row_stride = c.unpack("BBBBIQQ", f"tensor {name!r} fields")
        if role not in _ROLES:
            raise c.fail(f"tensor {name!r} has role code {role}, expected one of {sorted(_ROLES)}")
        if dtype not in _DTYPES:
            raise c.fail(f"tensor {name!r} has dtype code {dtype}, expected one of {sorted(_DTYPES)}")
        if has_scale not in (0, 1):
            raise c.fail(f"tensor {name!r} has scale flag {has_scale}, expected 0 or 1")
        shape = c.unpack(f"{ndim}Q", f"tensor {name!r} shape")
        raw_scale = c.take(8, f"tensor {name!r} scale")
        if not has_scale and raw_scale != bytes(8):
            raise c.fail(f"tensor {name!r} has no scale but a non-zero scale field")
        (scale,) = struct.unpack("<d", raw_scale)
        out.append(
            TensorDesc(
                name=name,
                role=_ROLES[role],
                region=region,
                offset=offset,
                shape=tuple(shape),
                dtype=_DTYPES[dtype],
                row_stride=row_stride,
                scale=scale if has_scale else None,
            )
        )
    c.end()
    return tuple(out)


def _decode_metadata(payload: bytes) -> tuple[tuple[str, str], ...]:
    c = _Cursor(payload, SectionType.METADATA)
    (count,) = c.unpack("I", "metadata count")
    out = []
    for k in range(count):
        key = c.text(f"metadata key #{k}")
        out.append((key, c.text(f"metadata value of {key!r}")))
    c.end()
    return tuple(out)


def _check_container(data: bytes) -> tuple:
    """Validate magic, version, lengths, CRC and ISA hash; return the unpacked header."""
    if len(data) < len(MAGIC):
        if MAGIC.startswith(data) and data:
            raise ProgramFileError(f"truncated program file: {len(data)} bytes, expected at least {HEADER_LEN}")
        raise ProgramFileError("not a tataa program file (bad magic)" + (" (empty file)" if not data else ""))
    if data[: len(MAGIC)] != MAGIC:
        raise ProgramFileError(f"not a tataa program file (bad magic {data[: len(MAGIC)]!r})")
    if len(data) < len(MAGIC) + 2:
        raise ProgramFileError(f"truncated program file: {len(data)} bytes, expected at least {HEADER_LEN}")
    (version,) = struct.unpack_from("<H", data, len(MAGIC))
    if version != FORMAT_VERSION:
        age = "newer" if version > FORMAT_VERSION else "older"
        raise ProgramFileError(
            f"program file format version {version} is {age} than the version this tataa reads "
            f"({FORMAT_VERSION}); rebuild the program with this tataa"
        )
    if len(data) < HEADER_LEN:
        raise ProgramFileError(f"truncated program file: {len(data)} bytes, expected at least {HEADER_LEN}")
    header = _HEADER.unpack_from(data)
    _, _, header_len, isa, _, _, _, file_length, reserved = header
    if header_len != HEADER_LEN:
        raise ProgramFileError(f"malformed header: header length {header_len}, expected {HEADER_LEN}")
    if len(data) < file_length:
        raise ProgramFileError(f"truncated program file: expected {file_length} bytes, got {len(data)}")
    if len(data) > file_length:
        raise ProgramFileError(
            f"corrupt program file: header says {file_length} bytes but the file has {len(data)} "
            f"({len(data) - file_length} trailing bytes)"
        )
    if file_length < HEADER_LEN + CRC_LEN:
        raise ProgramFileError(f"malformed header: file length {file_length} is shorter than header and CRC")
    (stored_crc,) = struct.unpack_from("<I", data, file_length - CRC_LEN)
    actual_crc = zlib.crc32(memoryview(data)[: file_length - CRC_LEN])
    if stored_crc != actual_crc:
        raise ProgramFileError(
            f"corrupt program file: CRC32 mismatch (stored {stored_crc:#010x}, computed {actual_crc:#010x})"
        )
    ours = spec.isa_hash()
    if isa != ours.encode("ascii"):
        theirs = isa.decode("ascii", errors="replace").rstrip("\0")
        raise ProgramFileError(f"program built for ISA {theirs}, this tataa has {ours} — recompile")
    if reserved != bytes(len(reserved)):
        raise ProgramFileError("malformed header: reserved bytes are not zero")
    return header


def parse(data: bytes) -> tuple[Program, FileInfo]:
    """Decode a program file image into the program and its container facts (raises ProgramFileError)."""
    data = bytes(data)
    _, version, _, isa, name_raw, hash_raw, n_sections, file_length, _ = _check_container(data)
    config_name = _fixed_field(name_raw, "config name", ascii_only=False)
    config_hash = _fixed_field(hash_raw, "config hash", ascii_only=True)

    end = file_length - CRC_LEN
    pos = HEADER_LEN
    payloads: dict[SectionType, bytes] = {}
    infos = []
    for k in range(n_sections):
        if end - pos < SECTION_HEADER_LEN:
            raise ProgramFileError(f"malformed file: section #{k} header at byte {pos} runs past the end of the data")
        type_id, flags, length = _SECTION.unpack_from(data, pos)
        try:
            stype = SectionType(type_id)
        except ValueError:
            raise ProgramFileError(f"unknown section type {type_id} (section #{k} at byte {pos})") from None
        if flags:
            raise ProgramFileError(f"malformed {stype.name} section: flags {flags:#x}, expected 0")
        if stype in payloads:
            raise ProgramFileError(f"malformed file: {stype.name} section appears twice")
        start = pos + SECTION_HEADER_LEN
        if length > end - start:
            raise ProgramFileError(
                f"malformed {stype.name} section: payload of {length} bytes at byte {start} runs past "
                f"the end of the data ({end - start} bytes left)"
            )
        payloads[stype] = data[start : start + length]
        infos.append(SectionInfo(stype, pos, length))
        pos = start + length
    if pos != end:
        raise ProgramFileError(f"malformed file: {end - pos} bytes after the last section")
    missing = [t.name for t in SectionType if t not in payloads]
    if missing:
        raise ProgramFileError(f"malformed file: missing section(s) {', '.join(missing)}")

    program = Program(
        config_name=config_name,
        config_hash=config_hash,
        instructions=_decode_instructions(payloads[SectionType.INSTRUCTIONS]),
        regions=_decode_regions(payloads[SectionType.REGIONS]),
        tensors=_decode_tensors(payloads[SectionType.TENSORS]),
        metadata=_decode_metadata(payloads[SectionType.METADATA]),
    )
    (crc,) = struct.unpack_from("<I", data, end)
    info = FileInfo(
        version=version,
        isa_hash=isa.decode("ascii"),
        config_name=config_name,
        config_hash=config_hash,
        file_length=file_length,
        crc32=crc,
        sections=tuple(infos),
    )
    return program, info


def from_bytes(data: bytes) -> Program:
    """Decode a program file image (raises ProgramFileError naming what is wrong)."""
    return parse(data)[0]


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ProgramFileError(f"cannot read program file {str(path)!r}: {e.strerror or e}") from None


def load(path: str | os.PathLike[str]) -> Program:
    """Read the program file at `path` (raises ProgramFileError naming what is wrong)."""
    return from_bytes(_read(path))


def load_with_info(path: str | os.PathLike[str]) -> tuple[Program, FileInfo]:
    """Read the program file at `path` together with its container facts."""
    return parse(_read(path))


__all__ = [
    "FORMAT_VERSION",
    "HEADER_LEN",
    "MAGIC",
    "FileInfo",
    "SectionInfo",
    "SectionType",
    "from_bytes",
    "load",
    "load_with_info",
    "parse",
    "save",
    "to_bytes",
]
