"""The IR's text form: print a graph as readable text and parse it back into an equal graph.

    graph tiny(%x: f32[batch, 4]) -> (%y) {
      const %w: f32[4, 8] = blob "4e1cbbb4bd3ea2a5"     # more than inline_limit elements: a digest
      const %eps: f32[] = dense 1e-05                    # the exact values (decimal, or 0x bits)
      %h: f32[batch, 8] = linear(%x, %w)
      %y: f32[batch, 8] = layer_norm(%h) {axis = -1, eps = 1e-05}
    }

The grammar is ``ir.lark`` (LALR); ops, attributes and element types are checked against ``tataa.ir.ops``. Large
constants are stored outside the text (``save_graph`` writes them to ``<path>.npz``) and named by their digest.
"""

from __future__ import annotations

import difflib
import functools
import gc
import json
import os
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from tataa.errors import IRError
from tataa.ir.dims import Dim, canonical_dim, format_dim, shapes_equal
from tataa.ir.graph import NAME_RE, Constant, Graph, Node, Value, make_graph
from tataa.ir.ops import OPS, AttrKind, AttrValue, infer_type, normalize_attrs
from tataa.ir.types import DType, TensorType

DEFAULT_INLINE_LIMIT = 16
"""Constants with at most this many elements are written inline by default; larger ones become blobs."""

_INT_RE = re.compile(r"[+-]?[0-9]+")
_BITS: dict[int, np.dtype] = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16), 4: np.dtype(np.uint32),
                              8: np.dtype(np.uint64)}

# ---------------------------------------------------------------------------------------------------- printing


def print_graph(g: Graph, inline_limit: int = DEFAULT_INLINE_LIMIT) -> str:
    """The text form of a graph; constants with more than ``inline_limit`` elements are written as digests."""
    params = [f"%{v.name}: {v.type}" for v in g.inputs]
    outs = ", ".join(f"%{o}" for o in g.outputs)
    head = f"graph {_name_text(g.name)}({', '.join(params)}) -> ({outs}) {{"
    if len(head) > 120 and params:
        head = f"graph {_name_text(g.name)}(\n" + ",\n".join(f"    {p}" for p in params) + f"\n) -> ({outs}) {{"
    lines = [head]
    lines += [f"  {_constant_text(c, inline_limit)}" for c in g.constants]
    lines += [f"  {_node_text(n)}" for n in g.nodes]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _name_text(name: str) -> str:
    return name if NAME_RE.fullmatch(name) else json.dumps(name)


def _constant_text(c: Constant, inline_limit: int) -> str:
    head = f"const %{c.name}: {c.type} = "
    if c.value.size > inline_limit:
        return head + f'blob "{c.digest}"'
    if c.value.ndim == 0:
        return head + "dense " + _elements_text(c.value)[0]
    return head + "dense [" + ", ".join(_elements_text(c.value)) + "]"


def _node_text(n: Node) -> str:
    text = f"%{n.name}: {n.type} = {n.op}({', '.join(f'%{i}' for i in n.inputs)})"
    if n.attrs:
        spec = OPS.get(n.op)
        kinds = {k: a.kind for k, a in spec.attrs.items()} if spec else {}
        text += " {" + ", ".join(f"{k} = {_attr_text(kinds.get(k), v)}" for k, v in n.attrs) + "}"
    return text


def _attr_text(kind: AttrKind | None, v: Any) -> str:
    if isinstance(v, DType):
        return v.value
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return format_dim(v) if kind in (AttrKind.DIM, AttrKind.DIMS) else json.dumps(v)
    if isinstance(v, tuple | list):
        return "[" + ", ".join(_attr_text(kind, x) for x in v) + "]"
    return json.dumps(str(v))  # not an attribute value the IR knows; printed so that parsing reports it


def _elements_text(arr: np.ndarray) -> list[str]:
    flat = arr.reshape(-1)
    dt = DType.from_numpy(arr.dtype)
    if dt is DType.BOOL:
        return ["true" if x else "false" for x in flat.tolist()]
    if dt.is_int:
        return [str(x) for x in flat.tolist()]
    return [_float_text(flat[i : i + 1]) for i in range(flat.size)]


def _float_text(one: np.ndarray) -> str:
    """The shortest decimal that reads back to exactly this element, else its bits in hex (NaN payloads)."""
    bits = one.view(_BITS[one.dtype.itemsize])
    x = float(one[0])
    if np.isnan(x):
        return "nan" if _read_float("nan", one.dtype).view(bits.dtype)[0] == bits[0] else _hex_text(bits)
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = repr(x)  # the element's shortest f64 decimal: always reads back, but narrower types have shorter ones
    if one.dtype.itemsize < 8:
        for digits in range(1, 17):
            short = f"{x:.{digits}g}"
            if _read_float(short, one.dtype).view(bits.dtype)[0] == bits[0]:
                text = short
                break
    return text + ".0" if _INT_RE.fullmatch(text) else text


def _hex_text(bits: np.ndarray) -> str:
    return f"0x{int(bits[0]):0{bits.dtype.itemsize * 2}x}"


def _read_float(text: str, dtype: np.dtype) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.array([float(text)], dtype=np.float64).astype(dtype)


# ---------------------------------------------------------------------------------------------------- parsing: text


@dataclass(frozen=True)
class _TypeText:
    dtype: Token
    dims: tuple[Token, ...]


@dataclass(frozen=True)
class _ConstText:
    name: Token
    type: _TypeText
    kind: Token  # BLOB or DENSE
    payload: tuple[Token, ...]  # the digest string, or the elements
    scalar: bool  # dense written without brackets


AttrText = Token | list[Any]


@dataclass(frozen=True)
class _NodeText:
    name: Token
    type: _TypeText
    op: Token
    inputs: tuple[Token, ...]
    attrs: tuple[tuple[Token, AttrText], ...]


@dataclass(frozen=True)
class _GraphText:
    keyword: Token
    name: Token
    params: tuple[tuple[Token, _TypeText], ...]
    outputs: tuple[Token, ...]
    body: tuple[_ConstText | _NodeText, ...]


def _present(items: Sequence[Any]) -> list[Any]:
    return [x for x in items if x is not None]


class _ToRecords(Transformer):  # type: ignore[type-arg]
    """Turns parse-tree nodes into the records above as the LALR parser reduces them."""

    def start(self, c: list[Any]) -> _GraphText:
        return _GraphText(c[0], c[1], tuple(c[2]), tuple(c[4]), tuple(c[5]))

    def graph_name(self, c: list[Token]) -> Token:
        return c[0]

    def params(self, c: list[Any]) -> list[Any]:
        return _present(c)

    def param(self, c: list[Any]) -> tuple[Token, _TypeText]:
        return c[0], c[1]

    def refs(self, c: list[Any]) -> list[Token]:
        return _present(c)

    def body(self, c: list[Any]) -> list[Any]:
        return c

    def tensor_type(self, c: list[Any]) -> _TypeText:
        return _TypeText(c[0], tuple(c[1]))

    def dims(self, c: list[Any]) -> list[Token]:
        return _present(c)

    def const(self, c: list[Any]) -> _ConstText:
        kind, payload, scalar = c[3]
        return _ConstText(c[1], c[2], kind, payload, scalar)

    def blob(self, c: list[Token]) -> tuple[Token, tuple[Token, ...], bool]:
        return c[0], (c[1],), True

    def dense(self, c: list[Any]) -> tuple[Token, tuple[Token, ...], bool]:
        if isinstance(c[1], list):
            return c[0], tuple(c[1]), False
        return c[0], (c[1],), True

    def elems(self, c: list[Any]) -> list[Token]:
        return _present(c)

    def node(self, c: list[Any]) -> _NodeText:
        attrs = c[4] if len(c) > 4 and c[4] is not None else []
        return _NodeText(c[0], c[1], c[2], tuple(c[3]), tuple(attrs))

    def attrs(self, c: list[Any]) -> list[Any]:
        return _present(c)

    def attr(self, c: list[Any]) -> tuple[Token, AttrText]:
        return c[0], c[1]

    def attr_list(self, c: list[Any]) -> list[Any]:
        return _present(c)


_GRAMMAR = Path(__file__).with_name("ir.lark")


@functools.cache
def _parser() -> Lark:
    return Lark(_GRAMMAR.read_text(encoding="utf-8"), parser="lalr", lexer="contextual", maybe_placeholders=True,
                transformer=_ToRecords())


_TERMINALS = {
    "VALUE": "a %value",
    "NAME": "a name",
    "NUMBER": "a number",
    "SIGNED_SPECIAL": "-inf/-nan",
    "HEX": "0x bits",
    "STRING": 'a "string"',
    "GRAPH": "'graph'",
    "CONST": "'const'",
    "BLOB": "'blob'",
    "DENSE": "'dense'",
    "ARROW": "'->'",
    "$END": "end of input",
}


def _expected(names: Any) -> str:
    if not names:
        return "something else"
    parser = _parser()
    shown = set()
    for n in names:
        if n in _TERMINALS:
            shown.add(_TERMINALS[n])
            continue
        try:
            pattern = parser.get_terminal(n).pattern
        except KeyError:
            shown.add(n)
            continue
        shown.add(repr(pattern.value) if pattern.type == "str" else n)
    return ", ".join(sorted(shown))


class _Source:
    """The text being parsed, for error messages that quote the offending line."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")

    def error(self, line: int, column: int, message: str) -> IRError:
        src = self.lines[line - 1].rstrip("\r") if 0 < line <= len(self.lines) else ""
        caret = " " * (max(column, 1) - 1) + "^"
        return IRError(f"line {line}, column {column}: {message}\n    {src}\n    {caret}")

    def at(self, tok: Token, message: str) -> IRError:
        return self.error(tok.line or 0, tok.column or 0, message)


def _syntax(text: str) -> tuple[_Source, _GraphText]:
    src = _Source(text)
    try:
        return src, _parser().parse(text)
    except UnexpectedCharacters as e:
        raise src.error(e.line, e.column, f"unexpected character {e.char!r}; expected {_expected(e.allowed)}") from None
    except UnexpectedToken as e:
        tok = e.token
        what = "end of input" if tok.type == "$END" else repr(str(tok))
        if tok.type == "$END":
            raise src.error(len(src.lines), len(src.lines[-1]) + 1,
                            f"unexpected end of input; expected {_expected(e.expected)}") from None
        raise src.at(tok, f"unexpected {what}; expected {_expected(e.expected)}") from None
    except UnexpectedEOF as e:  # pragma: no cover - the LALR parser reports end of input as an UnexpectedToken
        raise src.error(len(src.lines), 1, f"unexpected end of input; expected {_expected(e.expected)}") from None
    except UnexpectedInput as e:  # pragma: no cover - lark raises one of the subclasses above
        raise src.error(getattr(e, "line", 0), getattr(e, "column", 0), str(e)) from None


# ---------------------------------------------------------------------------------------------------- parsing: meaning


class _Builder:
    """Turns the parsed records into a graph, checking each statement and reporting problems at their position."""

    def __init__(self, src: _Source, weights: Mapping[str, Any] | None, bf16_bits: bool, missing: str) -> None:
        self.src = src
        self.weights = weights
        self.missing = missing  # why there are no weights, when there are none
        self.bf16_bits = bf16_bits  # weights stored as uint16 bit patterns stand for bf16 (the .npz of save_graph)
        self.types: dict[str, TensorType] = {}
        self.where: dict[str, Token] = {}
        self.type_cache: dict[tuple[str, tuple[str, ...]], TensorType] = {}

    # --- pieces

    def string(self, tok: Token) -> str:
        try:
            value = json.loads(str(tok))
        except json.JSONDecodeError as e:
            raise self.src.at(tok, f"malformed string {tok!s}: {e.msg}") from None
        assert isinstance(value, str)
        return value

    def dim(self, tok: Token) -> Dim:
        text = str(tok)
        try:
            if tok.type == "NUMBER":
                if not _INT_RE.fullmatch(text):
                    raise IRError(f"dimension {text} is not an integer")
                return canonical_dim(int(text))
            if tok.type == "STRING":
                text = self.string(tok)
            elif tok.type != "NAME":
                raise IRError(f"expected a dimension (an int, a name or a \"quoted\" expression), got {text}")
            return canonical_dim(text)
        except IRError as e:
            raise self.src.at(tok, str(e)) from None

    def tensor_type(self, t: _TypeText) -> TensorType:
        key = (str(t.dtype), tuple(str(d) for d in t.dims))
        cached = self.type_cache.get(key)
        if cached is None:
            try:
                dtype = DType.parse(str(t.dtype))
            except IRError as e:
                raise self.src.at(t.dtype, str(e)) from None
            cached = self.type_cache[key] = TensorType(dtype, tuple(self.dim(d) for d in t.dims))
        return cached

    def define(self, tok: Token, t: TensorType) -> str:
        name = str(tok)[1:]
        first = self.where.get(name)
        if first is not None:
            raise self.src.at(tok, f"%{name} is already defined (line {first.line})")
        self.where[name] = tok
        self.types[name] = t
        return name

    def use(self, tok: Token) -> str:
        name = str(tok)[1:]
        if name not in self.types:
            raise self.src.at(tok, f"%{name} is not defined before this use")
        return name

    # --- constants

    def constant(self, c: _ConstText) -> Constant:
        t = self.tensor_type(c.type)
        name = str(c.name)[1:]
        if not t.is_static:
            raise self.src.at(c.type.dtype, f"constant %{name} has a symbolic shape {t}; constants are static")
        value = self.blob(name, t, c) if c.kind.type == "BLOB" else self.dense(name, t, c)
        const = Constant(name, value)
        if c.kind.type == "BLOB":
            digest = self.string(c.payload[0])
            if const.digest != digest:
                raise self.src.at(c.payload[0], f"constant %{name}: the weight's digest is {const.digest}, the text "
                                                f"says {digest} (a different tensor)")
        self.define(c.name, t)
        return const

    def blob(self, name: str, t: TensorType, c: _ConstText) -> np.ndarray:
        if self.weights is None or name not in self.weights:
            why = self.missing if self.weights is None else "the weights have no entry of that name"
            raise self.src.at(c.name, f"constant %{name} is stored outside the text (blob) but {why}")
        arr = np.asarray(self.weights[name])
        if self.bf16_bits and t.dtype is DType.BF16 and arr.dtype == np.uint16:
            arr = arr.view(DType.BF16.numpy)
        shape = tuple(int(d) for d in t.shape)
        if arr.dtype != t.dtype.numpy or arr.shape != shape:
            try:
                have = str(TensorType(DType.from_numpy(arr.dtype), arr.shape))
            except IRError:
                have = f"{arr.dtype}{list(arr.shape)}"
            raise self.src.at(c.name, f"constant %{name}: the weight is {have}, the text declares {t}")
        return arr

    def dense(self, name: str, t: TensorType, c: _ConstText) -> np.ndarray:
        shape = tuple(int(d) for d in t.shape)
        n = int(np.prod(shape, dtype=np.int64))
        if len(c.payload) != n and not (c.scalar and n == 1):
            raise self.src.at(c.kind, f"constant %{name}: {t} has {n} element(s), the text gives {len(c.payload)}")
        dt = t.dtype
        if dt is DType.BOOL:
            return np.array([self.bool_elem(name, tok) for tok in c.payload], dtype=np.bool_).reshape(shape)
        if dt.is_int:
            info = np.iinfo(dt.numpy)
            values = []
            for tok in c.payload:
                v = self.int_elem(name, tok)
                if not info.min <= v <= info.max:
                    raise self.src.at(tok, f"constant %{name}: {v} is outside the range of {dt.value} "
                                           f"[{info.min}, {info.max}]")
                values.append(v)
            return np.array(values, dtype=dt.numpy).reshape(shape)
        return self.float_elems(name, dt, c.payload).reshape(shape)

    def bool_elem(self, name: str, tok: Token) -> bool:
        if tok.type == "NAME" and str(tok) in ("true", "false"):
            return str(tok) == "true"
        raise self.src.at(tok, f"constant %{name}: expected true or false, got {tok!s}")

    def int_elem(self, name: str, tok: Token) -> int:
        if tok.type == "NUMBER" and _INT_RE.fullmatch(str(tok)):
            return int(str(tok))
        raise self.src.at(tok, f"constant %{name}: expected an integer, got {tok!s}")

    def float_elems(self, name: str, dt: DType, toks: Sequence[Token]) -> np.ndarray:
        decimals = np.zeros(len(toks), dtype=np.float64)
        hexes: list[tuple[int, int]] = []
        for i, tok in enumerate(toks):
            if tok.type == "HEX":
                hexes.append((i, self.bits_elem(name, dt, tok)))
            else:
                decimals[i] = self.float_value(tok, f"constant %{name}")
        with np.errstate(over="ignore"):
            out = decimals.astype(dt.numpy)
        overflow = np.flatnonzero(np.isinf(out) & np.isfinite(decimals))
        if overflow.size:
            tok = toks[int(overflow[0])]
            raise self.src.at(tok, f"constant %{name}: {tok!s} is too large for {dt.value}")
        bits = out.view(_BITS[out.dtype.itemsize])
        for i, b in hexes:
            bits[i] = b
        return out

    def bits_elem(self, name: str, dt: DType, tok: Token) -> int:
        v = int(str(tok), 16)
        width = dt.numpy.itemsize * 8
        if v >= 1 << width:
            raise self.src.at(tok, f"constant %{name}: bit pattern {tok!s} does not fit {width}-bit {dt.value}")
        return v

    def float_value(self, tok: Token, where: str) -> float:
        text = str(tok)
        if tok.type in ("NUMBER", "SIGNED_SPECIAL") or (tok.type == "NAME" and text in ("inf", "nan")):
            return float(text)
        raise self.src.at(tok, f"{where}: expected a number (or inf, -inf, nan), got {text}")

    # --- nodes

    def attr(self, op: str, key: Token, kind: AttrKind, value: AttrText) -> AttrValue:
        where = f"op {op}: attribute {key}"
        if kind is AttrKind.INTS or kind is AttrKind.DIMS:
            if not isinstance(value, list):
                raise self.src.at(key, f"{where} takes a list [..], got {value!s}")
            item = AttrKind.INT if kind is AttrKind.INTS else AttrKind.DIM
            return tuple(self.attr(op, key, item, v) for v in value)  # type: ignore[misc]
        if isinstance(value, list):
            raise self.src.at(key, f"{where} takes a single {kind.value}, not a list")
        text = str(value)
        if kind is AttrKind.INT:
            if value.type == "NUMBER" and _INT_RE.fullmatch(text):
                return int(text)
        elif kind is AttrKind.FLOAT:
            return self.float_value(value, where)
        elif kind is AttrKind.BOOL:
            if value.type == "NAME" and text in ("true", "false"):
                return text == "true"
        elif kind is AttrKind.STR:
            if value.type == "STRING":
                return self.string(value)
        elif kind is AttrKind.DIM:
            return self.dim(value)
        elif kind is AttrKind.DTYPE and value.type == "NAME":
            try:
                return DType.parse(text)
            except IRError as e:
                raise self.src.at(value, f"{where}: {e}") from None
        raise self.src.at(value, f"{where} takes {_KIND_TEXT[kind]}, got {text}")

    def node(self, n: _NodeText) -> Node:
        op = str(n.op)
        spec = OPS.get(op)
        if spec is None:
            close = difflib.get_close_matches(op, list(OPS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.src.at(n.op, f"unknown op {op!r}{hint}")
        inputs = tuple(self.use(tok) for tok in n.inputs)
        raw: dict[str, AttrValue] = {}
        for key, value in n.attrs:
            k = str(key)
            aspec = spec.attrs.get(k)
            if aspec is None:
                known = ", ".join(spec.attrs) or "none"
                raise self.src.at(key, f"op {op} has no attribute {k!r}; its attributes: {known}")
            if k in raw:
                raise self.src.at(key, f"op {op}: attribute {k} is given twice")
            raw[k] = self.attr(op, key, aspec.kind, value)
        try:
            attrs = normalize_attrs(op, raw)
            inferred = infer_type(op, [self.types[i] for i in inputs], dict(attrs))
        except IRError as e:
            raise self.src.at(n.op, str(e)) from None
        declared = self.tensor_type(n.type)
        if inferred.dtype is not declared.dtype or not shapes_equal(inferred.shape, declared.shape):
            raise self.src.at(n.type.dtype, f"%{str(n.name)[1:]} is declared {declared} but {op} of its inputs gives "
                                            f"{inferred}")
        return Node(self.define(n.name, declared), op, inputs, attrs, declared)

    # --- the graph

    def graph(self, doc: _GraphText) -> Graph:
        name = self.string(doc.name) if doc.name.type == "STRING" else str(doc.name)
        inputs = [Value(self.define(tok, self.tensor_type(t)), self.types[str(tok)[1:]]) for tok, t in doc.params]
        constants: list[Constant] = []
        nodes: list[Node] = []
        for st in doc.body:
            if isinstance(st, _ConstText):
                constants.append(self.constant(st))
            else:
                nodes.append(self.node(st))
        if not doc.outputs:
            raise self.src.at(doc.keyword, f"graph {name} has no outputs")
        outputs = [self.use(tok) for tok in doc.outputs]
        try:
            return make_graph(name, inputs, constants, nodes, outputs, validate=True)
        except IRError as e:
            raise self.src.at(doc.keyword, str(e)) from None


_KIND_TEXT = {
    AttrKind.INT: "an integer",
    AttrKind.FLOAT: "a number (or inf, -inf, nan)",
    AttrKind.BOOL: "true or false",
    AttrKind.STR: 'a "string"',
    AttrKind.DTYPE: f"an element type ({', '.join(d.value for d in DType)})",
}


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_graph(text: str, weights: Mapping[str, Any] | None = None) -> Graph:
    """The graph a text form describes, validated; blob constants are taken from ``weights`` by name."""
    return _parse(text, weights, bf16_bits=False, missing="no weights were given")


def _parse(text: str, weights: Mapping[str, Any] | None, bf16_bits: bool, missing: str) -> Graph:
    with _gc_paused():
        src, doc = _syntax(text)
        return _Builder(src, weights, bf16_bits, missing).graph(doc)


# ---------------------------------------------------------------------------------------------------- files


def weights_path(path: str | os.PathLike[str]) -> str:
    """Where ``save_graph`` keeps the large constants of the graph saved at ``path``."""
    return os.fspath(path) + ".npz"


def save_graph(g: Graph, path: str | os.PathLike[str], inline_limit: int = DEFAULT_INLINE_LIMIT) -> None:
    """Write the text form to ``path`` and its large constants to ``path + ".npz"``."""
    text = print_graph(g, inline_limit)
    blobs = {c.name: _storable(c.value) for c in g.constants if c.value.size > inline_limit}
    try:
        Path(path).write_text(text, encoding="utf-8")
        _write_npz(weights_path(path), blobs)
    except OSError as e:
        raise IRError(f"cannot write graph {os.fspath(path)!r}: {e.strerror or e}") from None


def _write_npz(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """An .npz that ``np.load`` reads, written entry by entry (``np.savez`` reserves names such as ``file``)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)


def _storable(arr: np.ndarray) -> np.ndarray:
    return arr.view(np.uint16) if arr.dtype == DType.BF16.numpy else arr  # .npy has no bf16: keep the bits


def load_graph(path: str | os.PathLike[str]) -> Graph:
    """The graph ``save_graph`` wrote to ``path`` (text plus ``path + ".npz"``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise IRError(f"cannot read graph {os.fspath(path)!r}: {getattr(e, 'strerror', None) or e}") from None
    weights: dict[str, np.ndarray] | None = None
    wpath = weights_path(path)
    if os.path.exists(wpath):
        try:
            with np.load(wpath, allow_pickle=False) as archive:
                weights = {k: archive[k] for k in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, AttributeError) as e:
            raise IRError(f"cannot read weights {wpath!r}: {getattr(e, 'strerror', None) or e}") from None
    try:
        return _parse(text, weights, bf16_bits=True, missing=f"there is no {wpath}")
    except IRError as e:
        raise IRError(f"{os.fspath(path)}: {e}") from None


__all__ = ["DEFAULT_INLINE_LIMIT", "load_graph", "parse_graph", "print_graph", "save_graph", "weights_path"]
