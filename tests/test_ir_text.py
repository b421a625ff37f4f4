"""The IR text form: exact round trips over random and edge-case graphs, positioned errors, files, speed, docs."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ir_graphs import (
    ALL_DTYPES,
    RECIPES,
    SPECIAL_FLOATS,
    decoder_graph,
    graph_key,
    graphs,
    has_nan_attr,
    large_constants,
)

from tataa.errors import IRError
from tataa.ir import OPS, DType, Graph, GraphBuilder, TensorType
from tataa.ir.text import load_graph, parse_graph, print_graph, save_graph, weights_path

REPO = Path(__file__).resolve().parent.parent
F32 = DType.F32


def assert_round_trip(g: Graph, inline_limit: int = 16) -> Graph:
    """print -> parse gives the same graph (bit-exact), and printing that graph gives the same text."""
    text = print_graph(g, inline_limit)
    back = parse_graph(text, large_constants(g, inline_limit))
    assert graph_key(back) == graph_key(g), text
    if not has_nan_attr(g):
        assert back == g
    assert print_graph(back, inline_limit) == text
    return back


# ------------------------------------------------------------------------------------------------ round trips


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs(), st.integers(0, 24))
def test_random_graphs_round_trip(g: Graph, inline_limit: int) -> None:
    assert_round_trip(g, inline_limit)


def test_recipes_cover_every_op() -> None:
    assert {op for produces in RECIPES.values() for op in produces} == set(OPS)


@pytest.mark.parametrize("op", sorted(OPS))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_each_op_round_trips(op: str, data: st.DataObject) -> None:
    g = data.draw(graphs(max_nodes=3, ops=(op,)))
    assert set(g.op_histogram()) == {op}
    assert_round_trip(g, data.draw(st.integers(0, 24)))


def test_keywords_and_expressions_as_dims() -> None:
    b = GraphBuilder("graph")
    dims = ("graph", "const", "dense", "blob", "nan", "inf", "true", "f32", "batch*seq+3", "floor(n/2)")
    x = b.input("const", TensorType(F32, dims))
    y = b.add("reshape", [x], name="nan", shape=["graph*const", "dense*blob*nan", "inf*true*f32", "floor(n/2)",
                                                 "batch*seq+3"])
    z = b.add("slice", [y], name="true", axes=[4], starts=[1], ends=["batch*seq+3"], steps=[2])
    b.output(z)
    g = b.build()
    text = print_graph(g)
    assert '"batch*seq+3"' in text and "graph graph(%const: f32[graph, const, dense, blob, nan, inf, " in text
    assert_round_trip(g)


def test_scalars_zero_sizes_and_empty_constants() -> None:
    b = GraphBuilder("edges")
    s = b.input("s", TensorType(DType.BF16, ()))
    z = b.input("z", TensorType(F32, (0, 3)))
    e = b.constant(np.zeros((0, 3), np.float32), "empty")
    big_empty = b.constant(np.zeros((5, 0), np.int8), "big_empty")
    one = b.constant(np.ones((1, 1, 1), DType.BF16.numpy), "one")
    b.output(b.add("add", [z, e]), b.add("mul", [s, one]), big_empty, b.add("reduce_sum", [z], axes=[0, 1]))
    g = b.build()
    for limit in (0, 1, 16):
        assert_round_trip(g, limit)
    assert "dense []" in print_graph(g, 0)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda d: d.value)
def test_every_dtype_inline_is_exact(dtype: DType) -> None:
    rng = np.random.default_rng(7)
    if dtype is DType.BOOL:
        arr = np.array([True, False, True])
    elif dtype.is_int:
        info = np.iinfo(dtype.numpy)
        arr = np.concatenate([np.array([info.min, info.max, 0, -1 if info.min else 1], dtype.numpy),
                              rng.integers(info.min, info.max, 200, dtype.numpy, endpoint=True)])
    else:
        width = dtype.numpy.itemsize
        bits = rng.integers(0, 1 << 62, 3000, dtype=np.int64).astype(np.uint64).view(np.uint8)
        arr = np.frombuffer(bits.tobytes()[: 3000 * width], dtype.numpy)
        with np.errstate(over="ignore"):
            nice = np.array((*SPECIAL_FLOATS, 0.1, 1 / 3, 65504.0, 1e-8, -1e-45), np.float64).astype(dtype.numpy)
        arr = np.concatenate([nice, arr])
    b = GraphBuilder("values")
    b.output(b.constant(arr, "c"))
    back = assert_round_trip(b.build(), inline_limit=arr.size)
    assert back.constants[0].value.tobytes() == arr.tobytes()


@pytest.mark.parametrize("dtype", [DType.F16, DType.BF16], ids=lambda d: d.value)
def test_every_16_bit_float_pattern_round_trips(dtype: DType) -> None:
    arr = np.arange(1 << 16, dtype=np.uint16).view(dtype.numpy)
    b = GraphBuilder("all_bits")
    b.output(b.constant(arr, "c"))
    g = b.build()
    back = parse_graph(print_graph(g, inline_limit=arr.size))
    assert back.constants[0].value.view(np.uint16).tolist() == list(range(1 << 16))


def _inline(value: np.ndarray) -> str:
    b = GraphBuilder("g")
    b.output(b.constant(value, "c"))
    line = print_graph(b.build()).splitlines()[1]
    return line.split(" = dense ", 1)[1]


def test_float_spellings_are_short_and_exact() -> None:
    assert _inline(np.float32(0.1)) == "0.1"
    assert _inline(np.float32(2.0)) == "2.0"
    assert _inline(np.float32(-0.0)) == "-0.0"
    assert _inline(np.float32(np.nan)) == "nan"
    assert _inline(np.array([np.inf, -np.inf], np.float64)) == "[inf, -inf]"
    assert _inline(np.array(0.1, DType.BF16.numpy)) == "0.1"
    assert _inline(np.uint16(0x7FC1).view(DType.BF16.numpy)) == "0x7fc1"
    assert _inline(np.uint32(0xFFC00000).view(np.float32)) == "0xffc00000"  # a negative NaN: its bits
    assert _inline(np.uint64(1).view(np.float64)) == "5e-324"


@pytest.mark.parametrize("value", [*SPECIAL_FLOATS, 0.1, 1e-300, -7.25e22], ids=repr)
def test_float_attributes_are_exact(value: float) -> None:
    b = GraphBuilder("attrs")
    q = b.input("q", TensorType(F32, (2, 3)))
    b.output(b.add("full", [], shape=[2], value=value, dtype=F32), b.add("attention", [q, q, q], scale=value),
             b.add("layer_norm", [q], eps=value))
    g = b.build()
    back = assert_round_trip(g)
    for n in back.nodes:
        got = n.attr({"full": "value", "attention": "scale", "layer_norm": "eps"}[n.op])
        assert (math.isnan(got) and math.isnan(value)) or (got == value and math.copysign(1, got) == math.copysign(1,
                                                                                                             value))


def test_variadic_concat_and_zero_input_ops() -> None:
    b = GraphBuilder("v")
    a = b.add("arange", [], stop="seq", dtype=DType.I32)
    f = b.add("full", [], shape=["seq"], value=-1.0, dtype=DType.I32)
    one = b.add("concat", [a], axis=0)
    five = b.add("concat", [a, f, one, a, f], axis=-1)
    b.output(five)
    g = b.build()
    assert g.inputs == ()
    assert g.type_of(five).shape == ("5*seq",)
    text = print_graph(g)
    assert text.startswith("graph v() -> (%concat_1) {")
    assert_round_trip(g)


@pytest.mark.parametrize("name", ["", "my model", 'quote"d', "ünïcødé\n", "graph", "1st"])
def test_any_graph_name_round_trips(name: str) -> None:
    b = GraphBuilder(name)
    b.output(b.add("arange", [], stop=3, dtype=DType.I64))
    assert assert_round_trip(b.build()).name == name


def test_outputs_may_repeat_and_name_inputs_or_constants() -> None:
    b = GraphBuilder("outs")
    x = b.input("x", TensorType(F32, (2,)))
    c = b.constant(np.float32(3), "c")
    y = b.add("mul", [x, c])
    b.output(y, x, c, y)
    assert assert_round_trip(b.build()).outputs == ("mul", "x", "c", "mul")


def test_hand_written_text_with_comments_defaults_and_free_layout() -> None:
    text = """
    # a comment before the graph
    graph "hand written" (   # comment inside the header
        %x: f32[batch, seq, 4],
        %mask: bool[seq, seq]
    ) -> (%out) {
      %n: f32[batch, seq, 4] = layer_norm(%x)          # axis and eps take their defaults
      const %w: f32[4, 2] = dense [1, 2, 3, 4,
                                   5, 6, 7, 8]          # constants may follow nodes
      %p: f32[batch, seq, 2] = linear(%n, %w) {}
      %out: f32[batch, seq, 2] =
          attention(%p, %p, %p, %mask) {scale = 0.5}
    }"""
    b = GraphBuilder("hand written")
    x = b.input("x", TensorType(F32, ("batch", "seq", 4)))
    mask = b.input("mask", TensorType(DType.BOOL, ("seq", "seq")))
    n = b.add("layer_norm", [x], name="n")
    w = b.constant(np.arange(1, 9, dtype=np.float32).reshape(4, 2), "w")
    p = b.add("linear", [n, w], name="p")
    b.output(b.add("attention", [p, p, p, mask], name="out", scale=0.5))
    assert parse_graph(text) == b.build()


# ------------------------------------------------------------------------------------------------ errors

BASE = """graph t(%x: f32[batch, 4]) -> (%y) {
  const %w: f32[4, 8] = blob "DIGEST"
  const %eps: f32[] = dense 1e-05
  %h: f32[batch, 8] = linear(%x, %w)
  %y: f32[batch, 8] = layer_norm(%h) {axis = -1, eps = 1e-05}
}
"""
W = np.arange(32, dtype=np.float32).reshape(4, 8)


def _base_graph() -> Graph:
    b = GraphBuilder("t")
    x = b.input("x", TensorType(F32, ("batch", 4)))
    w = b.constant(W, "w")
    b.constant(np.float32(1e-5), "eps")
    b.output(b.add("layer_norm", [b.add("linear", [x, w], name="h")], name="y", eps=1e-5))
    return b.build()


def _base(**replace: str) -> str:
    text = BASE.replace("DIGEST", _base_graph().constants[0].digest)
    for old, new in replace.items():
        old = old.replace("_SP_", " ")
        assert old in text
        text = text.replace(old, new)
    return text


def _error_at(text: str, needle: str, weights: object = "default", nth: int = 0) -> str:
    """Parse, expect an IRError positioned at the ``nth`` occurrence of ``needle``; returns the message."""
    with pytest.raises(IRError) as info:
        parse_graph(text, {"w": W} if weights == "default" else weights)  # type: ignore[arg-type]
    msg = str(info.value)
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    assert msg.startswith(f"line {line}, column {column}: "), msg
    assert text.split("\n")[line - 1] in msg  # the line is quoted
    return msg


def test_base_text_parses() -> None:
    assert parse_graph(_base(), {"w": W}) == _base_graph()
    assert print_graph(_base_graph()) == _base()


def test_syntax_error_names_position_and_expectation() -> None:
    text = _base(**{"linear(%x, %w)": "linear(%x, %w"})
    msg = _error_at(text, "%y:")
    assert "unexpected '%y'" in msg and "')'" in msg and "','" in msg


def test_unexpected_character_and_end_of_input() -> None:
    msg = _error_at(_base(**{"= linear": "= $linear"}), "$")
    assert "unexpected character '$'" in msg and "a name" in msg
    truncated = _base().rstrip().rstrip("}")
    with pytest.raises(IRError, match=r"line 6, column \d+: unexpected end of input; expected .*'}'"):
        parse_graph(truncated, {"w": W})


def test_unknown_op_suggests_the_closest() -> None:
    msg = _error_at(_base(**{"linear(": "lienar("}), "lienar")
    assert "unknown op 'lienar' (did you mean 'linear'?)" in msg


def test_bad_attributes() -> None:
    msg = _error_at(_base(**{"eps = 1e-05}": "epsilon = 1e-05}"}), "epsilon")
    assert "no attribute 'epsilon'" in msg and "axis, eps" in msg
    assert "takes an integer, got 1.5" in _error_at(_base(**{"axis = -1": "axis = 1.5"}), "1.5")
    assert "attribute eps: expected a number" in _error_at(_base(**{"eps = 1e-05}": "eps = true}"}), "true}")
    assert "given twice" in _error_at(_base(**{"axis = -1": "axis = -1, axis = 0"}), "axis", nth=1)
    assert "single int, not a list" in _error_at(_base(**{"axis = -1": "axis = [1]"}), "axis")
    text = _base(**{"layer_norm(%h) {axis = -1, eps = 1e-05}": 'gelu(%h) {approximate = "fast"}'})
    assert "allowed: none, tanh" in _error_at(text, "gelu")
    text = _base(**{"layer_norm(%h) {axis = -1, eps = 1e-05}": "transpose(%h)"})
    assert "attribute perm is required" in _error_at(text, "transpose")
    text = _base(**{"layer_norm(%h) {axis = -1, eps = 1e-05}": "cast(%h) {dtype = f33}"})
    assert "unknown element type 'f33'" in _error_at(text, "f33")


def test_type_mismatch_is_reported_at_the_declared_type() -> None:
    msg = _error_at(_base(**{"%h: f32[batch, 8]": "%h: f32[batch, 5]"}), "f32[batch, 5]")
    assert "%h is declared f32[batch, 5] but linear of its inputs gives f32[batch, 8]" in msg
    msg = _error_at(_base(**{"%h: f32[batch, 8]": "%h: f16[batch, 8]"}), "f16")
    assert "declared f16[batch, 8]" in msg
    msg = _error_at(_base(**{"linear(%x, %w)": "linear(%w, %x)"}), "linear")
    assert "op linear" in msg


def test_undefined_duplicate_and_late_values() -> None:
    assert "%z is not defined" in _error_at(_base(**{"linear(%x, %w)": "linear(%z, %w)"}), "%z")
    late = _base(**{"linear(%x, %w)": "linear(%x, %y)", "layer_norm(%h) {axis = -1, eps = 1e-05}": "relu(%x)"})
    assert "%y is not defined before this use" in _error_at(late, "%y)", nth=1)
    dup = _base(**{"%y: f32[batch, 8] = layer_norm": "%h: f32[batch, 8] = layer_norm", "-> (%y)": "-> (%h)"})
    assert "%h is already defined (line 4)" in _error_at(dup, "%h:", nth=1)
    assert "%q is not defined" in _error_at(_base(**{"-> (%y)": "-> (%y, %q)"}), "%q")
    assert "no outputs" in _error_at(_base(**{"-> (%y)": "-> ()"}), "graph")


def test_blob_weights_are_checked() -> None:
    text = _base()
    assert "%w is stored outside the text (blob) but no weights were given" in _error_at(text, "%w", weights=None)
    assert "no entry of that name" in _error_at(text, "%w", weights={"v": W})
    assert "weight is f32[4, 2], the text declares f32[4, 8]" in _error_at(text, "%w", weights={"w": W[:, :2]})
    assert "weight is i64[4, 8]" in _error_at(text, "%w", weights={"w": W.astype(np.int64)})
    other = W.copy()
    other[3, 3] = -0.0 if other[3, 3] == 0 else 0.0
    msg = _error_at(text, '"' + _base_graph().constants[0].digest, weights={"w": other})
    assert "constant %w: the weight's digest is" in msg and "a different tensor" in msg


def test_bad_dense_constants() -> None:
    def const(decl: str) -> str:
        return _base(**{"const %eps: f32[] = dense 1e-05": f"const %eps: {decl}"})

    assert "f32[3] has 3 element(s), the text gives 2" in _error_at(const("f32[3] = dense [1, 2]"), "dense")
    assert "300 is outside the range of i8 [-128, 127]" in _error_at(const("i8[2] = dense [1, 300]"), "300")
    assert "expected true or false, got 1" in _error_at(const("bool[] = dense 1"), "1\n")
    assert "expected an integer, got 1.5" in _error_at(const("i32[] = dense 1.5"), "1.5")
    assert "does not fit 16-bit f16" in _error_at(const("f16[] = dense 0x10000"), "0x10000")
    assert "1e6 is too large for f16" in _error_at(const("f16[2] = dense [1, 1e6]"), "1e6")
    assert "expected a number" in _error_at(const("f32[] = dense true"), "true")
    assert "symbolic shape" in _error_at(const("f32[seq] = dense []"), "f32[seq]")


def test_bad_types_and_dims() -> None:
    assert "dimension 2.5 is not an integer" in _error_at(_base(**{"f32[batch, 4])": "f32[batch, 2.5])"}), "2.5")
    assert "negative" in _error_at(_base(**{"f32[batch, 4])": "f32[batch, -4])"}), "-4")
    assert "only names" in _error_at(_base(**{"f32[batch, 4])": 'f32[batch, "seq;4"])'}), '"seq;4"')
    msg = _error_at(_base(**{"f32[batch, 4])": "f31[batch, 4])"}), "f31")
    assert "unknown element type 'f31'; known: f64, f32" in msg
    assert "malformed string" in _error_at(_base(**{"graph t(": 'graph "\\q"('}), '"\\q"')


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(BASE) - 1), st.integers(0, 3), st.sampled_from(list("%:=(){}[],\"#x0-.\n ")))
def test_edited_text_gives_a_graph_or_an_ir_error(at: int, cut: int, insert: str) -> None:
    text = _base()
    edited = text[:at] + insert + text[at + cut:]
    try:
        parse_graph(edited, {"w": W})
    except IRError as e:
        assert str(e).startswith("line ")


# ------------------------------------------------------------------------------------------------ files


def test_save_and_load_keep_bf16_and_every_dtype(tmp_path: Path) -> None:
    b = GraphBuilder("saved")
    outs = []
    for i, dt in enumerate(ALL_DTYPES):
        raw = np.arange(40 * dt.numpy.itemsize, dtype=np.uint8).tobytes()
        arr = np.frombuffer(raw, np.uint8).astype(np.bool_) if dt is DType.BOOL else np.frombuffer(raw, dt.numpy)
        outs.append(b.constant(arr.reshape(4, 10), f"c{i}.{dt.value}"))
    outs.append(b.constant(np.float32(1.5), "small"))
    outs += [b.constant(np.ones(20, np.float32), name) for name in ("file", "allow_pickle", "args", "a.npy")]
    b.output(*outs)
    g = b.build()
    path = tmp_path / "model.tir"
    save_graph(g, path)
    assert Path(weights_path(path)).is_file()
    with np.load(weights_path(path)) as z:
        assert sorted(z.files) == sorted(c.name for c in g.constants if c.value.size > 16)
    assert graph_key(load_graph(path)) == graph_key(g)
    assert load_graph(str(path)) == g


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs(max_nodes=6))
def test_random_graphs_save_and_load(g: Graph) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "g.tir"
        save_graph(g, path, inline_limit=4)
        assert graph_key(load_graph(path)) == graph_key(g)


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(IRError, match=r"cannot read graph .*nothing\.tir"):
        load_graph(tmp_path / "nothing.tir")
    path = tmp_path / "m.tir"
    save_graph(_base_graph(), path)
    Path(weights_path(path)).unlink()
    with pytest.raises(IRError, match=r"m\.tir: line 2, column 9: constant %w is stored outside .* no .*m\.tir\.npz"):
        load_graph(path)
    Path(weights_path(path)).write_bytes(b"not a zip")
    with pytest.raises(IRError, match="cannot read weights"):
        load_graph(path)


# ------------------------------------------------------------------------------------------------ speed


def test_a_3000_node_model_round_trips() -> None:
    g = decoder_graph(layers=61)
    assert len(g.nodes) >= 3000
    assert parse_graph(print_graph(g), large_constants(g, 16)) == g


# ------------------------------------------------------------------------------------------------ docs


def _docs_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_ir_docs", REPO / "scripts" / "gen_ir_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_are_up_to_date() -> None:
    docs = _docs_module()
    assert (REPO / "docs" / "ir.md").read_text(encoding="utf-8") == docs.render(), \
        "docs/ir.md is stale: run python scripts/gen_ir_docs.py"


def test_docs_cover_every_op_and_the_grammar() -> None:
    text = _docs_module().render()
    for name, spec in OPS.items():
        assert f"| `{name}` |" in text
        for key in spec.attrs:
            assert f"`{key}: {spec.attrs[key].kind.value}" in text
    assert (REPO / "tataa" / "ir" / "ir.lark").read_text(encoding="utf-8").strip() in text
    example = text.split("```\ngraph example", 1)[1].split("```", 1)[0]
    assert parse_graph("graph example" + example, {"proj.weight": (np.arange(256, dtype=np.float32).reshape(16, 16)
                                                                   - 128) / 64}).name == "example"


def test_docs_check_mode(tmp_path: Path) -> None:
    script = REPO / "scripts" / "gen_ir_docs.py"
    out = tmp_path / "ir.md"
    run = [sys.executable, str(script), "--output", str(out)]
    assert subprocess.run([*run, "--check"], capture_output=True).returncode == 1  # missing
    assert subprocess.run(run, capture_output=True).returncode == 0
    assert subprocess.run([*run, "--check"], capture_output=True).returncode == 0
    out.write_text(out.read_text() + "edited\n")
    result = subprocess.run([*run, "--check"], capture_output=True, text=True)
    assert result.returncode == 1 and "stale" in result.stderr
