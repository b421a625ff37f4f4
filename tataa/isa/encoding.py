"""Binary encoding of instructions: 128-bit words laid out as :mod:`tataa.isa.spec` declares.

Field positions, widths, enums and the reserved bits all come from the spec; the tables below are
precomputed once per opcode so that decoding a program is a few shifts and masks per field.
A program image is the words of its instructions, 16 bytes each, little-endian.
"""

from __future__ import annotations

import gc
import operator
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum

from tataa.errors import EncodingError
from tataa.isa.spec import (
    DEP_FLAGS,
    HEADER,
    INSN_BITS,
    INSN_BYTES,
    OPCODES,
    Field,
    Instruction,
    Opcode,
    OpcodeDef,
    Unit,
)

_WORD_LIMIT = 1 << INSN_BITS


@dataclass(frozen=True)
class _Slot:
    """One field of one opcode: where it lives and which values it may hold."""

    field: Field
    lsb: int
    mask: int
    allowed: frozenset[int] | None  # enum values, or None for a plain integer field


@dataclass(frozen=True)
class _OpTable:
    """Everything needed to encode, decode and check one opcode."""

    defn: OpcodeDef
    slots: tuple[_Slot, ...]  # every field except the opcode, in format order
    names: tuple[str, ...]
    by_name: dict[str, _Slot]
    shift_mask: tuple[tuple[int, int], ...]
    enum_slots: tuple[tuple[int, _Slot], ...]  # (position in `slots`, slot) of enum fields
    flag_pos: tuple[tuple[str, int], ...]  # (flag name, position in `slots`)
    unit_pos: int | None  # position of the `unit` field when the instruction chooses its unit
    used_bits: int
    extract: Callable[[int], tuple[tuple[str, int], ...]]  # word -> Instruction.fields, unchecked


def _opcode_slot() -> tuple[int, int]:
    """(lsb, mask) of the opcode field, which every format shares through the header."""
    lsb = 0
    for f in HEADER:
        if f.name == "opcode":
            return lsb, f.max
        lsb += f.width
    raise AssertionError("the header has no opcode field")  # pragma: no cover - spec invariant


_OPCODE_LSB, _OPCODE_MASK = _opcode_slot()


def _compile_extractor(slots: tuple[_Slot, ...]) -> Callable[[int], tuple[tuple[str, int], ...]]:
    """A function computing ((name, (word >> lsb) & mask), ...) for `slots`.

    It is compiled from the slot table (as dataclasses and namedtuple do) because one expression
    building the whole tuple is several times faster than a loop over the table.
    """
    items = "".join(f"({s.field.name!r}, (w >> {s.lsb}) & {s.mask}), " for s in slots)
    return eval(f"lambda w: ({items})", {})  # the source holds only field names and integers from the spec


def _build_table(d: OpcodeDef) -> _OpTable:
    slots = tuple(
        _Slot(f, lsb, f.max, frozenset(int(e) for e in f.enum) if f.enum else None)
        for f, lsb in d.fmt.layout
        if f.name != "opcode"
    )
    names = tuple(s.field.name for s in slots)
    return _OpTable(
        defn=d,
        slots=slots,
        names=names,
        by_name={s.field.name: s for s in slots},
        shift_mask=tuple((s.lsb, s.mask) for s in slots),
        enum_slots=tuple((k, s) for k, s in enumerate(slots) if s.allowed is not None),
        flag_pos=tuple((n, names.index(n)) for n in DEP_FLAGS),
        unit_pos=names.index("unit") if d.unit is None else None,
        used_bits=d.fmt.used_bits,
        extract=_compile_extractor(slots),
    )


_TABLES: dict[int, _OpTable] = {int(d.opcode): _build_table(d) for d in OPCODES}

# A unit has a previous (next) neighbour unless it is the first (last) unit of the pipeline.
_FIRST_UNIT, _LAST_UNIT = min(Unit), max(Unit)


def illegal_flags(unit: Unit) -> tuple[str, ...]:
    """Dependency flags that name a neighbour `unit` does not have."""
    out: list[str] = []
    if unit == _FIRST_UNIT:
        out += ["pop_prev", "push_prev"]
    if unit == _LAST_UNIT:
        out += ["pop_next", "push_next"]
    return tuple(out)


_ILLEGAL_FLAGS: dict[int, tuple[str, ...]] = {int(u): illegal_flags(u) for u in Unit}


def _describe_enum(enum: type[IntEnum]) -> str:
    return ", ".join(f"{e.name}={e.value}" for e in enum)


def _table_for(opcode: object) -> _OpTable:
    if isinstance(opcode, int) and not isinstance(opcode, bool):
        t = _TABLES.get(int(opcode))
        if t is not None:
            return t
    raise EncodingError(f"unknown opcode {opcode!r}; opcodes are {_describe_enum(Opcode)}")


def check_field(opcode: Opcode, name: str, value: object) -> int:
    """Return `value` as an int if field `name` of `opcode` can hold it; raise EncodingError otherwise."""
    t = _table_for(opcode)
    slot = t.by_name.get(name)
    if slot is None:
        raise EncodingError(f"{t.defn.opcode.name} has no field {name!r}; fields are {', '.join(t.names)}")
    return _check_value(t, slot, value)


def _check_value(t: _OpTable, slot: _Slot, value: object) -> int:
    op = t.defn.opcode.name
    f = slot.field
    try:
        v = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise EncodingError(f"{op}: field {f.name} must be an integer, got {value!r}") from None
    if not 0 <= v <= slot.mask:
        raise EncodingError(f"{op}: field {f.name}={v} out of range 0..{slot.mask} ({f.width} bits)")
    if slot.allowed is not None and v not in slot.allowed:
        assert f.enum is not None
        raise EncodingError(f"{op}: field {f.name}={v} is not a {f.enum.__name__}; allowed: {_describe_enum(f.enum)}")
    return v


def _check_flags(t: _OpTable, fields: tuple[tuple[str, int], ...]) -> None:
    unit = t.defn.unit
    unit_value = int(unit) if t.unit_pos is None else fields[t.unit_pos][1]  # type: ignore[arg-type]
    bad = _ILLEGAL_FLAGS.get(unit_value, ())
    for name, pos in t.flag_pos:
        if fields[pos][1] and name in bad:
            uname = Unit(unit_value).name
            raise EncodingError(
                f"{t.defn.opcode.name}: dependency flag {name} is illegal for unit {uname} "
                f"(illegal there: {', '.join(bad)})"
            )


def _checked_values(instr: Instruction) -> tuple[_OpTable, list[int]]:
    if not isinstance(instr, Instruction):
        raise EncodingError(f"not an Instruction: {instr!r}")
    t = _table_for(instr.opcode)
    try:
        names = tuple(k for k, _ in instr.fields)
    except (TypeError, ValueError):
        raise EncodingError(f"{t.defn.opcode.name}: malformed field list {instr.fields!r}") from None
    if names != t.names:
        raise EncodingError(
            f"{t.defn.opcode.name}: fields {list(names)} do not match format {t.defn.fmt.name!r} fields {list(t.names)}"
        )
    values = []
    for slot, (_, v) in zip(t.slots, instr.fields, strict=True):
        if type(v) is not int or not 0 <= v <= slot.mask or (slot.allowed is not None and v not in slot.allowed):
            v = _check_value(t, slot, v)  # raises, or converts an int-like value (IntEnum, numpy integer)
        values.append(v)
    _check_flags(t, tuple(zip(names, values, strict=True)) if t.unit_pos is not None else instr.fields)
    return t, values


def validate(instr: Instruction) -> None:
    """Raise EncodingError if `instr` cannot be encoded (field range, enum value, dependency flags)."""
    _checked_values(instr)


def encode(instr: Instruction) -> int:
    """The INSN_BITS-wide instruction word of `instr` (raises EncodingError if it is invalid)."""
    t, values = _checked_values(instr)
    word = int(t.defn.opcode) << _OPCODE_LSB
    for (lsb, _), v in zip(t.shift_mask, values, strict=True):
        word |= v << lsb
    return word


def decode(word: int) -> Instruction:
    """The instruction held in `word` (raises EncodingError for reserved bits, unknown opcode or enum value)."""
    if not isinstance(word, int) or isinstance(word, bool) or not 0 <= word < _WORD_LIMIT:
        raise EncodingError(f"instruction word {word!r} is not an unsigned {INSN_BITS}-bit integer")
    t = _TABLES.get((word >> _OPCODE_LSB) & _OPCODE_MASK)
    if t is None:
        op = (word >> _OPCODE_LSB) & _OPCODE_MASK
        raise EncodingError(f"word 0x{word:032x}: unknown opcode {op}; opcodes are {_describe_enum(Opcode)}")
    if word >> t.used_bits:
        raise EncodingError(
            f"word 0x{word:032x}: {t.defn.opcode.name} reserved bits {INSN_BITS - 1}:{t.used_bits} must be zero, "
            f"got 0x{word >> t.used_bits:x}"
        )
    fields = t.extract(word)
    for pos, slot in t.enum_slots:
        if fields[pos][1] not in slot.allowed:  # type: ignore[operator]
            _check_value(t, slot, fields[pos][1])
    _check_flags(t, fields)
    return Instruction(t.defn.opcode, fields)


def encode_program(instrs: Iterable[Instruction]) -> bytes:
    """The program image of `instrs`: INSN_BYTES bytes per instruction, little-endian."""
    out = bytearray()
    for k, instr in enumerate(instrs):
        try:
            out += encode(instr).to_bytes(INSN_BYTES, "little")
        except EncodingError as e:
            raise EncodingError(f"instruction #{k}: {e}") from None
    return bytes(out)


def decode_program(data: bytes) -> tuple[Instruction, ...]:
    """The instructions of a program image (raises EncodingError naming the first bad instruction)."""
    view = memoryview(data).cast("B")
    n, rest = divmod(len(view), INSN_BYTES)
    if rest:
        raise EncodingError(f"program image of {len(view)} bytes is not a multiple of {INSN_BYTES} bytes")
    out = []
    from_bytes = int.from_bytes
    with gc_paused():
        for k in range(n):
            try:
                out.append(decode(from_bytes(view[k * INSN_BYTES : (k + 1) * INSN_BYTES], "little")))
            except EncodingError as e:
                where = f"instruction #{k} (bytes {k * INSN_BYTES}..{(k + 1) * INSN_BYTES - 1})"
                raise EncodingError(f"{where}: {e}") from None
    return tuple(out)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Suspend the cyclic garbage collector while building many small acyclic objects.

    Decoding creates ~16 tuples per instruction (and parsing assembly a tree); with the collector
    running, its repeated full passes over the growing heap cost more than the work itself.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
