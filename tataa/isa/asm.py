"""Text assembly for tataa programs: the assembler and the disassembler.

The grammar (asm.lark) only fixes the shape of a line; mnemonics, fields, enum names and ranges all
come from :mod:`tataa.isa.spec`, and range checks from :mod:`tataa.isa.encoding`.

    .config tiny                              ; config_hash filled from hw/config/tiny.json
    .region 0 weights 4096                    ; INDEX NAME SIZE
    .tensor x role=input region=1 offset=0 shape=4x8 dtype=int8 scale=0.125
    .meta compiler "tataa 0.1.0"
    load buf=wgt rows=8 cols=8 dram_stride=8 push_next
    vop.add outer=4 inner=3 dst_base=0 a_base=16 b_base=32 pop_prev push_next
    finish
    .data 0 0 00112233445566778899aabbccddeeff   ; INDEX OFFSET HEXBYTES...: a region's initial image

Mnemonics are lower-case opcode names; VOP is written ``vop.<funct>``. Fields are ``name=value`` in any
order (integers decimal or 0x hex, enum fields by name); fields equal to zero may be left out; the
dependency flags are bare words. Names that are not plain identifiers are written as JSON strings.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from tataa.config import ConfigError
from tataa.config import load as load_config
from tataa.errors import AsmError, EncodingError
from tataa.isa.encoding import check_field, gc_paused, illegal_flags, validate
from tataa.isa.spec import DEP_FLAGS, OPCODES, Field, Instruction, Opcode
from tataa.program import DType, Program, Region, Role, TensorDesc

SUB_MNEMONIC_FIELD = "funct"  # an enum field with this name is written as a mnemonic suffix: vop.add
HEX_FIELDS = frozenset({(Opcode.SETC, "value")})  # bit patterns read best in hex
DATA_BYTES_PER_LINE = 64
DATA_BYTES_PER_GROUP = 8
_T = TypeVar("_T")

# ---- the ISA as the assembler sees it ----------------------------------------------------------


@dataclass(frozen=True)
class _Mnemonic:
    opcode: Opcode
    implied: tuple[tuple[str, int], ...]  # fields fixed by the mnemonic itself (vop.add: funct=ADD)


def _build_mnemonics() -> dict[str, _Mnemonic]:
    out: dict[str, _Mnemonic] = {}
    for d in OPCODES:
        base = d.opcode.name.lower()
        out[base] = _Mnemonic(d.opcode, ())
        for f in d.fmt.fields:
            if f.name == SUB_MNEMONIC_FIELD and f.enum is not None:
                for e in f.enum:
                    out[f"{base}.{e.name.lower()}"] = _Mnemonic(d.opcode, ((f.name, int(e)),))
    return out


MNEMONICS: dict[str, _Mnemonic] = _build_mnemonics()


def _mnemonic_summary() -> str:
    parts = []
    for d in OPCODES:
        base = d.opcode.name.lower()
        subs = [f.enum for f in d.fmt.fields if f.name == SUB_MNEMONIC_FIELD and f.enum is not None]
        parts.append(f"{base}.<{'|'.join(e.name.lower() for e in subs[0])}>" if subs else base)
    return "mnemonics are " + ", ".join(parts)


_MNEMONIC_LIST = _mnemonic_summary()
_FIELDS: dict[Opcode, dict[str, Field]] = {
    d.opcode: {f.name: f for f in d.fmt.all_fields if f.name != "opcode"} for d in OPCODES
}

# ---- parsing --------------------------------------------------------------------------------------

_TERMINALS = {
    "MNEMONIC": "a mnemonic",
    "IDENT": "a field name",
    "ASSIGN": "field=value",
    "INT": "an integer (decimal or 0x hex)",
    "EQUAL": "'='",
    "_NL": "end of line",
    "BARE": "a name",
    "STRING": 'a "string"',
    "HASH": "a config hash",
    "HEXBYTES": "hex bytes",
    "ATTR_VALUE": "a value",
    "CONFIG": ".config",
    "REGION": ".region",
    "DATA": ".data",
    "TENSOR": ".tensor",
    "META": ".meta",
    "$END": "end of input",
}
_BARE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\/:+-]*")
_HASH_RE = re.compile(r"[0-9A-Za-z_]+")


@functools.cache
def _parser() -> Lark:
    grammar = (Path(__file__).with_name("asm.lark")).read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=True)


class _Source:
    """The text being assembled, for error messages that quote the offending line."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")

    def error(self, line: int, column: int, message: str) -> AsmError:
        src = self.lines[line - 1].rstrip("\r") if 0 < line <= len(self.lines) else ""
        caret = " " * (max(column, 1) - 1) + "^"
        return AsmError(f"line {line}, column {column}: {message}\n    {src}\n    {caret}")

    def at(self, tok: Token, message: str) -> AsmError:
        return self.error(tok.line or 0, tok.column or 0, message)


def _expected(names: set[str] | frozenset[str] | None) -> str:
    if not names:
        return "something else"
    return ", ".join(sorted({_TERMINALS.get(n, n) for n in names}))


def _parse(text: str) -> tuple[_Source, Tree]:
    src = _Source(text)
    try:
        return src, _parser().parse(text if text.endswith("\n") else text + "\n")
    except UnexpectedCharacters as e:
        raise src.error(e.line, e.column, f"unexpected character {e.char!r}; expected {_expected(e.allowed)}") from None
    except UnexpectedToken as e:
        tok = e.token
        what = "end of line" if tok.type in ("_NL", "$END") else repr(str(tok))
        raise src.at(tok, f"unexpected {what}; expected {_expected(e.expected)}") from None
    except UnexpectedEOF as e:
        raise src.error(len(src.lines), 1, f"unexpected end of input; expected {_expected(set(e.expected))}") from None
    except UnexpectedInput as e:  # pragma: no cover - lark raises one of the subclasses above
        raise src.error(getattr(e, "line", 0), getattr(e, "column", 0), str(e)) from None


def _int(src: _Source, tok: Token) -> int:
    s = str(tok)
    try:
        return int(s, 16) if s[:2] in ("0x", "0X") else int(s, 10)
    except ValueError:
        raise src.at(tok, f"expected an integer (decimal or 0x hex), got {s!r}") from None


def _string(src: _Source, tok: Token) -> str:
    try:
        value = json.loads(str(tok))
    except json.JSONDecodeError as e:
        raise src.at(tok, f"malformed string {str(tok)!r}: {e.msg}") from None
    assert isinstance(value, str)
    return value


def _name(src: _Source, tok: Token) -> str:
    return _string(src, tok) if tok.type == "STRING" else str(tok)


def _instruction(src: _Source, tree: Tree) -> Instruction:
    mtok = tree.children[0]
    assert isinstance(mtok, Token)
    mn = MNEMONICS.get(str(mtok))
    if mn is None:
        raise src.at(
            mtok, f"unknown mnemonic {str(mtok)!r}{_did_you_mean(str(mtok).lower(), MNEMONICS)}; {_MNEMONIC_LIST}"
        )
    fields = _FIELDS[mn.opcode]
    values: dict[str, int] = dict(mn.implied)
    where: dict[str, Token] = {name: mtok for name in values}
    op = mn.opcode.name
    for operand in tree.children[1:]:
        assert isinstance(operand, Tree)
        otok = operand.children[0]
        assert isinstance(otok, Token)
        name, _, raw = str(otok).partition("=")
        ntok = Token("IDENT", name, line=otok.line, column=otok.column)
        field = fields.get(name)
        if field is None:
            hint = _did_you_mean(name, fields)
            raise src.at(ntok, f"{op} has no field {name!r}{hint}; fields are {', '.join(fields)}")
        if name in where:
            first = where[name]
            given = "by the mnemonic" if first is mtok else f"at column {first.column}"
            raise src.at(ntok, f"duplicate field {name!r} (already given {given})")
        if operand.data == "flag":
            if name not in DEP_FLAGS:
                raise src.at(ntok, f"field {name!r} needs a value: {name}=...")
            value = 1
            vtok = ntok
        else:
            vtok = Token("VALUE", raw, line=otok.line, column=(otok.column or 0) + len(name) + 1)
            value = _field_value(src, mn.opcode, field, vtok)
        try:
            values[name] = check_field(mn.opcode, name, value)
        except EncodingError as e:
            raise src.at(vtok, str(e)) from None
        where[name] = ntok
    instr = Instruction(mn.opcode, tuple((n, values.get(n, 0)) for n in fields))
    try:
        validate(instr)
    except EncodingError as e:  # an illegal dependency flag: point at it
        tok = next((where[n] for n in illegal_flags(instr.unit) if values.get(n) and n in where), mtok)
        raise src.at(tok, str(e)) from None
    return instr


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_INT_RE = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+")


def _field_value(src: _Source, opcode: Opcode, field: Field, tok: Token) -> int:
    if _INT_RE.fullmatch(tok):
        return _int(src, tok)
    if not tok:
        raise src.at(tok, f"{opcode.name}: field {field.name} has no value after '='")
    if field.enum is None:
        raise src.at(tok, f"{opcode.name}: field {field.name} takes an integer (decimal or 0x hex), got {str(tok)!r}")
    member = field.enum.__members__.get(str(tok).upper())
    if member is None:
        names = ", ".join(e.name.lower() for e in field.enum)
        raise src.at(tok, f"{opcode.name}: field {field.name} takes one of {names} (or an integer), got {str(tok)!r}")
    return int(member)


def _statements(text: str) -> tuple[_Source, Iterator[Tree]]:
    src, tree = _parse(text)
    return src, (t for t in tree.children if isinstance(t, Tree))


def _only_instructions(text: str) -> tuple[Instruction, ...]:
    with gc_paused():
        src, statements = _statements(text)
        out = []
        for st in statements:
            if st.data != "instruction":
                raise src.at(_head(st), f"directive .{st.data} is not allowed here (instructions only)")
            out.append(_instruction(src, st))
        return tuple(out)


def _head(statement: Tree) -> Token:
    """The first token of a statement: its mnemonic or directive keyword."""
    tok = statement.children[0]
    assert isinstance(tok, Token)
    return tok


def parse_instruction(line: str) -> Instruction:
    """The instruction written on `line` (raises AsmError for anything else)."""
    instrs = _only_instructions(line)
    if len(instrs) != 1:
        raise AsmError(f"expected exactly one instruction, got {len(instrs)} in {line!r}")
    return instrs[0]


def assemble_instructions(text: str) -> tuple[Instruction, ...]:
    """The instructions written in `text`, which may hold only instructions, comments and blank lines."""
    return _only_instructions(text)


# ---- whole programs ---------------------------------------------------------------------------------

_TENSOR_REQUIRED = ("role", "region", "offset", "shape", "dtype")
_TENSOR_OPTIONAL = ("row_stride", "scale")


def _tensor(src: _Source, tree: Tree) -> TensorDesc:
    _, name_tok, *attrs = tree.children
    assert isinstance(name_tok, Token)
    name = _name(src, name_tok)
    values: dict[str, object] = {}
    for attr in attrs:
        assert isinstance(attr, Tree)
        ktok, vtok = attr.children
        assert isinstance(ktok, Token) and isinstance(vtok, Token)
        key = str(ktok)
        if key not in _TENSOR_REQUIRED + _TENSOR_OPTIONAL:
            raise src.at(
                ktok,
                f"unknown tensor attribute {key!r}; attributes are {', '.join(_TENSOR_REQUIRED + _TENSOR_OPTIONAL)}",
            )
        if key in values:
            raise src.at(ktok, f"duplicate tensor attribute {key!r}")
        values[key] = _tensor_attr(src, key, vtok)
    missing = [k for k in _TENSOR_REQUIRED if k not in values]
    if missing:
        raise src.at(name_tok, f"tensor {name!r} lacks {', '.join(missing)}")
    return TensorDesc(name=name, **values)  # type: ignore[arg-type]


def _tensor_attr(src: _Source, key: str, tok: Token) -> object:
    s = str(tok)
    if key == "role":
        return _enum_value(src, Role, tok)
    if key == "dtype":
        return _enum_value(src, DType, tok)
    if key == "shape":
        if s == "()":
            return ()
        if not re.fullmatch(r"[0-9]+(x[0-9]+)*", s):
            raise src.at(tok, f"shape must look like 4x8 (or () for a scalar), got {s!r}")
        return tuple(int(d) for d in s.split("x"))
    if key == "scale":
        if s == "None":
            return None
        try:
            return float(s)
        except ValueError:
            raise src.at(tok, f"scale must be a float (or None), got {s!r}") from None
    if not re.fullmatch(r"0[xX][0-9a-fA-F]+|[0-9]+", s):
        raise src.at(tok, f"{key} must be a non-negative integer, got {s!r}")
    return _int(src, tok)


def _enum_value(src: _Source, enum: type[Role] | type[DType], tok: Token) -> object:
    try:
        return enum(str(tok))
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise src.at(tok, f"{enum.__name__.lower()} must be one of {allowed}, got {str(tok)!r}") from None


@dataclass(frozen=True)
class _Chunk:
    """Bytes of a region's initial image given by one .data line."""

    offset: int
    data: bytes
    tok: Token


class _ProgramBuilder:
    """Collects the statements of a program text, one method per statement kind, then builds the Program."""

    def __init__(self, src: _Source) -> None:
        self.src = src
        self.config: tuple[str, str] | None = None
        self.instrs: list[Instruction] = []
        self.regions: dict[int, tuple[str, int, Token]] = {}
        self.chunks: dict[int, list[_Chunk]] = {}
        self.tensors: dict[str, TensorDesc] = {}
        self.meta: list[tuple[str, str]] = []

    def add(self, st: Tree) -> None:
        getattr(self, f"_{st.data}")(st)

    def _instruction(self, st: Tree) -> None:
        self.instrs.append(_instruction(self.src, st))

    def _config(self, st: Tree) -> None:
        head, name_tok, hash_tok = st.children
        assert isinstance(head, Token) and isinstance(name_tok, Token)
        if self.config is not None:
            raise self.src.at(head, "duplicate .config directive")
        name = _name(self.src, name_tok)
        if isinstance(hash_tok, Token):
            self.config = (name, _name(self.src, hash_tok))
            return
        try:
            self.config = (name, load_config(name).hash)
        except ConfigError as e:
            raise self.src.at(name_tok, f"{e} (or give the hash: .config NAME HASH)") from None

    def _region(self, st: Tree) -> None:
        _, itok, name_tok, stok = st.children
        assert isinstance(itok, Token) and isinstance(name_tok, Token) and isinstance(stok, Token)
        index = _int(self.src, itok)
        if index in self.regions:
            raise self.src.at(itok, f"duplicate region index {index}")
        self.regions[index] = (_name(self.src, name_tok), _int(self.src, stok), itok)

    def _data(self, st: Tree) -> None:
        _, itok, otok, *hex_toks = st.children
        assert isinstance(itok, Token) and isinstance(otok, Token)
        for h in hex_toks:
            if len(h) % 2:
                raise self.src.at(h, f"hex bytes need an even number of digits, got {len(h)}")  # type: ignore[arg-type]
        data = bytes.fromhex("".join(str(h) for h in hex_toks))
        if data:
            self.chunks.setdefault(_int(self.src, itok), []).append(_Chunk(_int(self.src, otok), data, itok))

    def _tensor(self, st: Tree) -> None:
        t = _tensor(self.src, st)
        if t.name in self.tensors:
            raise self.src.at(_head(st), f"duplicate tensor {t.name!r}")
        self.tensors[t.name] = t

    def _meta(self, st: Tree) -> None:
        _, ktok, vtok = st.children
        assert isinstance(ktok, Token) and isinstance(vtok, Token)
        self.meta.append((_name(self.src, ktok), _string(self.src, vtok)))

    def build(self) -> Program:
        if self.config is None:
            raise AsmError("line 1, column 1: missing .config directive (e.g. `.config tiny`)")
        return Program(
            config_name=self.config[0],
            config_hash=self.config[1],
            instructions=tuple(self.instrs),
            regions=self._build_regions(),
            tensors=tuple(self.tensors.values()),
            metadata=tuple(self.meta),
        )

    def _build_regions(self) -> tuple[Region, ...]:
        for index, cs in self.chunks.items():
            if index not in self.regions:
                raise self.src.at(cs[0].tok, f".data for region {index}, which no .region declares")
        out = []
        for index, (name, size, itok) in self.regions.items():
            image = bytearray()
            for c in sorted(self.chunks.get(index, []), key=lambda c: c.offset):
                if c.offset < len(image):
                    raise self.src.at(
                        c.tok, f"region {index}: .data at offset {c.offset} overlaps bytes before {len(image)}"
                    )
                if c.offset + len(c.data) > size:
                    end = c.offset + len(c.data)
                    raise self.src.at(c.tok, f"region {index}: .data ends at byte {end} beyond size {size}")
                image += bytes(c.offset - len(image)) + c.data
            try:
                out.append(Region(index, name, size, bytes(image)))
            except ValueError as e:
                raise self.src.at(itok, str(e)) from None
        return tuple(out)


def assemble(text: str) -> Program:
    """The Program written in `text` (raises AsmError naming the line and column of the first problem)."""
    with gc_paused():
        src, statements = _statements(text)
        builder = _ProgramBuilder(src)
        for st in statements:
            builder.add(st)
        return builder.build()


# ---- formatting -------------------------------------------------------------------------------------


def _enum_name(field: Field | None, value: object) -> str | None:
    if field is None or field.enum is None or not isinstance(value, int):
        return None
    try:
        return field.enum(value).name.lower()
    except ValueError:
        return None


def format_instruction(instr: Instruction) -> str:
    """Canonical text of `instr`; never raises, so that invalid instructions can be inspected too."""
    opcode = instr.opcode
    if isinstance(opcode, Opcode):
        mnemonic, fields = opcode.name.lower(), _FIELDS[opcode]
    else:
        mnemonic, fields = f"op{opcode!r}", {}
    parts: list[str] = []
    flags: list[str] = []  # written last: what the instruction does first, how it synchronises after
    for name, value in _field_items(instr):
        field = fields.get(name)
        if field is not None and name == SUB_MNEMONIC_FIELD and (sub := _enum_name(field, value)) is not None:
            mnemonic = f"{mnemonic}.{sub}"
        elif name in DEP_FLAGS and field is not None and value == 1 and isinstance(value, int):
            flags.append(str(name))
        elif (enum_name := _enum_name(field, value)) is not None:
            parts.append(f"{name}={enum_name}")
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            if value or field is None:
                parts.append(f"{name}=0x{value:x}" if (opcode, name) in HEX_FIELDS else f"{name}={value}")
        else:
            parts.append(f"{name}={value!r}")
    return " ".join([mnemonic, *parts, *flags])


def _field_items(instr: Instruction) -> list[tuple[object, object]]:
    try:
        return [(k, v) for k, v in instr.fields]
    except (TypeError, ValueError):
        return [("fields", instr.fields)]


def _quote(s: str, pattern: re.Pattern[str] = _BARE_RE) -> str:
    return s if isinstance(s, str) and pattern.fullmatch(s) else json.dumps(s if isinstance(s, str) else repr(s))


def _format_tensor(t: TensorDesc) -> str:
    shape = "x".join(str(d) for d in t.shape) if len(t.shape) else "()"
    parts = [
        f".tensor {_quote(t.name)}",
        f"role={getattr(t.role, 'value', t.role)}",
        f"region={t.region}",
        f"offset={t.offset}",
        f"shape={shape}",
        f"dtype={getattr(t.dtype, 'value', t.dtype)}",
    ]
    if t.row_stride:
        parts.append(f"row_stride={t.row_stride}")
    if t.scale is not None:
        parts.append(f"scale={float(t.scale)!r}")
    return " ".join(parts)


def _format_data(r: Region) -> Iterator[str]:
    init = bytes(r.init)
    for off in range(0, len(init), DATA_BYTES_PER_LINE):
        chunk = init[off : off + DATA_BYTES_PER_LINE]
        if not any(chunk) and off + DATA_BYTES_PER_LINE < len(init):
            continue  # zero-filled gaps are implied; the last chunk always prints so the length survives
        groups = [chunk[g : g + DATA_BYTES_PER_GROUP].hex() for g in range(0, len(chunk), DATA_BYTES_PER_GROUP)]
        yield f".data {r.index} {off} {' '.join(groups)}"


def _safe(render: Callable[[_T], str | Iterable[str]], item: _T) -> list[str]:
    """Lines of `render(item)`; a debugging printer must not fail on a malformed item, so it prints its repr."""
    try:
        out = render(item)
        return [out] if isinstance(out, str) else list(out)
    except Exception as e:  # anything odd is shown, not raised
        return [f"; cannot print {item!r}: {type(e).__name__}: {e}"]


def disassemble(program: Program, with_data: bool = True, numbered: bool = False) -> str:
    """Assembly text of `program` (`assemble` turns it back into an equal Program).

    `with_data=False` leaves out the regions' initial images; `numbered=True` ends every instruction
    line with a comment giving its index. Malformed parts are printed as comments, never raised.
    """
    p = program
    lines = [
        f"; tataa program: {len(p.instructions)} instructions, {len(p.regions)} regions, {len(p.tensors)} tensors",
        f".config {_quote(p.config_name)} {_quote(p.config_hash, _HASH_RE)}",
    ]
    for item in p.metadata:
        lines += _safe(lambda kv: f".meta {_quote(kv[0])} {json.dumps(kv[1])}", item)
    for r in p.regions:
        lines += _safe(lambda r: f".region {r.index} {_quote(r.name)} {r.size}", r)
    for t in p.tensors:
        lines += _safe(_format_tensor, t)
    lines.append("")
    for k, instr in enumerate(p.instructions):
        for text in _safe(format_instruction, instr):
            lines.append(f"{text:<60} ; #{k}" if numbered else text)
    if p.regions:
        lines.append("")
        for r in p.regions:
            if with_data:
                lines += _safe(_format_data, r)
            else:
                lines += _safe(lambda r: f"; region {r.index}: {len(r.init)} bytes of initial data not shown", r)
    return "\n".join(lines) + "\n"
