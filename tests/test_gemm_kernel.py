"""The tiled int8 GEMM kernel (tataa.codegen.gemm) run on the simulator against a numpy int64 reference.

Every program is also checked for races: two instructions of different units that touch the same buffer
words (one of them writing) must be ordered by the units' program order and the dependency tokens.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from tataa import config, numerics, progfile
from tataa.codegen.builder import CodegenError, ProgramBuilder
from tataa.codegen.gemm import emit_gemm, gemm_program, pack_bias, pack_scales, pack_weights, plan_gemm
from tataa.codegen.gemm_plan import gemm_cycles, requant_cycles
from tataa.isa.spec import Buffer, Opcode, Unit
from tataa.program import DType, Program, Role
from tataa.runtime.backends import run
from tataa.sim import timing
from tataa.sim.simulator import Simulator
from tataa.sim.timing import duration, fetch_prologue

CFG = {name: config.load(name) for name in ("tiny", "u280")}
OUT_DTYPES = ("int8", "bf16", "int32")


# ---- reference ----------------------------------------------------------------------------------
def reference(a: np.ndarray, w: np.ndarray, bias: np.ndarray | None, scales: object, out_dtype: str) -> np.ndarray:
    """int64 matmul + bias, wrapped to int32, then the numerics requantization of each channel."""
    acc = a.astype(np.int64) @ w.astype(np.int64)
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    acc32 = numerics.wrap_int32(acc)
    if out_dtype == "int32":
        return acc32
    x = np.broadcast_to(np.asarray(1.0 if scales is None else scales, np.float64), (w.shape[1],))
    m, s = numerics.scale_to_multiplier(x)
    words = numerics.pack_scale(m, s)[None, :]
    if out_dtype == "int8":
        return numerics.requant_int8(acc32, words)
    return numerics.bf16_to_f32(numerics.requant_bf16(acc32, words))


def same(y: np.ndarray, ref: np.ndarray) -> bool:
    """Bit-exact equality (bf16 results compared as float32 bit patterns, so -0 != +0)."""
    if ref.dtype == np.float32:
        return y.dtype == np.float32 and np.array_equal(y.view(np.uint32), ref.view(np.uint32))
    return y.dtype == ref.dtype and np.array_equal(y, ref)


# ---- race checker -------------------------------------------------------------------------------
def _accesses(insn, n: int) -> list[tuple[int, int, int, bool]]:
    """(buffer, first word, last word, writes) for every buffer range the instruction touches."""
    f = insn.as_dict()
    op = insn.opcode
    if op in (Opcode.LOAD, Opcode.STORE):
        last = f["sram_base"] + (f["rows"] - 1) * f["sram_ystride"] + (-(-f["cols"] // n) - 1) * f["sram_wstride"]
        return [(f["buf"], f["sram_base"], last, op is Opcode.LOAD)]
    if op is Opcode.GEMM:
        kt, nt, rows = f["ktiles"], f["ntiles"], f["rows"]
        return [
            (Buffer.INP, f["inp_base"], f["inp_base"] + (kt - 1) * f["inp_kstride"] + rows - 1, False),
            (Buffer.WGT, f["wgt_base"], f["wgt_base"] + kt * nt * n - 1, False),
            (Buffer.ACC, f["acc_base"], f["acc_base"] + (nt - 1) * f["acc_nstride"] + rows - 1, True),
        ]
    if op is Opcode.REQUANT:
        t, rows = f["tiles"], f["rows"]
        dst = Buffer.INP if f["out_type"] == 0 else Buffer.VEC
        return [
            (Buffer.ACC, f["acc_base"], f["acc_base"] + (t - 1) * f["acc_tstride"] + rows - 1, False),
            (Buffer.ACC, f["scale_base"], f["scale_base"] + (t - 1) * f["scale_tstride"], False),
            (dst, f["dst_base"], f["dst_base"] + (t - 1) * f["dst_tstride"] + (rows - 1) * f["dst_mstride"], True),
        ]
    return []


def assert_race_free(program: Program) -> None:
    """Every two instructions of different units touching the same buffer words (one writing) are ordered.

    Ordering ("happens before") comes only from each unit's program order and the dependency tokens, so the
    check does not depend on timing. Also checks that every pop's push comes earlier in the stream.
    """
    insns = program.instructions
    n = config.load(program.config_name).array_size
    units = [int(i.unit) for i in insns]
    pos = [0] * len(insns)
    count = [0, 0, 0]
    for i, u in enumerate(units):
        pos[i], count[u] = count[u], count[u] + 1
    # vector clocks: vc[i][u] = position in unit u of the last instruction known to complete before i starts
    vc = np.full((len(insns), 3), -1, np.int64)
    last_in_unit: list[int | None] = [None, None, None]
    pushes: list[list[int]] = [[], [], [], []]
    popped = [0, 0, 0, 0]
    for i, insn in enumerate(insns):
        u = Unit(units[i])
        preds = [last_in_unit[u]]
        for flag in ("pop_prev", "pop_next"):
            if insn[flag]:
                fifo = timing.POP_FIFO[u, flag]
                assert popped[fifo] < len(pushes[fifo]), f"#{i} pops {timing.FIFOS[fifo]} before any push is issued"
                preds.append(pushes[fifo][popped[fifo]])
                popped[fifo] += 1
        for p in preds:
            if p is not None:
                vc[i] = np.maximum(vc[i], vc[p])
                vc[i, units[p]] = max(vc[i, units[p]], pos[p])
        for flag in ("push_prev", "push_next"):
            if insn[flag]:
                pushes[timing.PUSH_FIFO[u, flag]].append(i)
        last_in_unit[u] = i
    acc = [(i, *a) for i, insn in enumerate(insns) for a in _accesses(insn, n)]
    if not acc:
        return
    idx, buf, lo, hi, wr = (np.array(col) for col in zip(*acc, strict=True))
    unit_of, pos_of = np.array(units)[idx], np.array(pos)[idx]
    for j in range(len(acc)):
        later = (
            (idx > idx[j]) & (buf == buf[j]) & (lo <= hi[j]) & (hi >= lo[j]) & (unit_of != unit_of[j]) & (wr | wr[j])
        )
        unordered = later & (vc[idx, unit_of[j]] < pos_of[j])
        if unordered.any():
            k = int(np.argmax(unordered))
            a, b = insns[idx[j]], insns[idx[k]]
            raise AssertionError(
                f"race in {Buffer(buf[j]).name} words {max(lo[j], lo[k])}..{min(hi[j], hi[k])}: #{idx[j]} "
                f"({a.opcode.name}) is not ordered before #{idx[k]} ({b.opcode.name})"
            )


# ---- helpers ------------------------------------------------------------------------------------
def make_case(rng: np.random.Generator, m: int, k: int, n: int, out_dtype: str, with_bias: bool, scale_mode: str):
    """Random operands, a bias and scales that spread the int8 results over the whole range."""
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    w = rng.integers(-128, 128, (k, n), dtype=np.int8)
    bias = rng.integers(-(1 << 20), 1 << 20, n).astype(np.int32) if with_bias else None
    spread = 40.0 / (128 * 128 * np.sqrt(k))  # about one int8 step per 1/3 standard deviation
    scales: object = None
    if out_dtype != "int32":
        if scale_mode == "channel":
            scales = spread * 10.0 ** rng.uniform(-1.0, 1.0, n)
        elif scale_mode == "tensor":
            scales = float(spread * 10.0 ** rng.uniform(-1.0, 1.0))
    return a, w, bias, scales


def run_case(cfg_name: str, a, w, bias, scales, out_dtype: str, **kw) -> tuple[Program, Simulator, np.ndarray]:
    """Generate, simulate (checking races) and return the program, the simulator and the output."""
    cfg = CFG[cfg_name]
    prog = gemm_program(cfg, w, a.shape[0], bias=bias, scales=scales, out_dtype=out_dtype, **kw)
    res = run(prog, {"a": a})
    sim = Simulator(prog, cfg)
    assert sim.cycles == res.cycles
    assert not any(res.stats.tokens_left.values()), res.stats.tokens_left
    assert_race_free(prog)
    return prog, sim, res.outputs["y"]


def check(cfg_name: str, m: int, k: int, n: int, out_dtype: str, with_bias: bool, scale_mode: str, seed: int) -> None:
    """One random GEMM of this shape and kind is bit-exact against the reference."""
    rng = np.random.default_rng(seed)
    a, w, bias, scales = make_case(rng, m, k, n, out_dtype, with_bias, scale_mode)
    _, _, y = run_case(cfg_name, a, w, bias, scales, out_dtype)
    ref = reference(a, w, bias, scales, out_dtype)
    assert y.shape == (m, n)
    bad = np.argwhere(~np.isclose(y.astype(np.float64), ref.astype(np.float64), rtol=0, atol=0))
    assert same(y, ref), f"{len(bad)} of {y.size} results differ, first at {bad[:3].tolist()}"


# every combination of (out dtype, bias, scale mode) is cycled through the shapes
_COMBOS = [
    (o, b, s)
    for o, b, s in itertools.product(OUT_DTYPES, (True, False), ("channel", "tensor", "none"))
    if o != "int32" or s == "none"
]

_TINY_SPECIAL = [
    (1, 1, 1),
    (1, 5, 1),
    (7, 1, 9),
    (1, 100, 1),
    (3, 8, 8),
    (8, 8, 8),
    (9, 9, 9),
    (17, 2100, 5),  # K > 2048
    (3, 9000, 10),  # K beyond INP and over 1023 tiles: K-split A, several GEMMs per block
    (64, 64, 64),
    (65, 63, 70),
    (200, 40, 24),
    (30, 20, 300),
    (129, 257, 33),
    (300, 1, 64),
    (301, 3, 70),
    (256, 2, 40),  # store-bound: STORE lags REQUANT, output slots are reused
]
_U280_SPECIAL = [
    (1, 1, 1),
    (1, 768, 1),
    (1, 33, 65),
    (32, 32, 32),
    (33, 31, 97),
    (33, 2500, 70),  # K > 2048
    (5, 8192, 40),  # K = 8192
    (70, 100, 300),
    (128, 768, 768),
    (300, 64, 64),
    (2, 17000, 3),  # K beyond INP for M-blocks of 2 rows
]


def _random_shapes(seed: int, count: int, mmax: int, kmax: int, nmax: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(1, mmax)), int(rng.integers(1, kmax)), int(rng.integers(1, nmax))) for _ in range(count)]


_CASES = [("tiny", *s) for s in _TINY_SPECIAL + _random_shapes(1, 18, 120, 600, 100)] + [
    ("u280", *s) for s in _U280_SPECIAL + _random_shapes(2, 20, 160, 1200, 260)
]


@pytest.mark.parametrize(
    ("index", "case"), list(enumerate(_CASES)), ids=[f"{c[0]}-{c[1]}x{c[2]}x{c[3]}" for c in _CASES]
)
def test_gemm_matches_reference(index: int, case: tuple[str, int, int, int]) -> None:
    cfg_name, m, k, n = case
    out_dtype, with_bias, scale_mode = _COMBOS[index % len(_COMBOS)]
    check(cfg_name, m, k, n, out_dtype, with_bias, scale_mode, seed=index)


@pytest.mark.parametrize("out_dtype", OUT_DTYPES)
@pytest.mark.parametrize("cfg_name", ["tiny", "u280"])
def test_extreme_values(cfg_name: str, out_dtype: str) -> None:
    """-128 everywhere: the largest products; the int32 bias pushes the sum past 2**31 (it wraps)."""
    k = 2100 if cfg_name == "tiny" else 3000
    a = np.full((9, k), -128, np.int8)
    w = np.full((k, 11), -128, np.int8)
    bias = np.full(11, (1 << 31) - 1, np.int32)
    bias[::2] = -(1 << 31)
    scales = None if out_dtype == "int32" else np.linspace(1e-9, 2.0, 11)
    _, _, y = run_case(cfg_name, a, w, bias, scales, out_dtype)
    ref = reference(a, w, bias, scales, out_dtype)
    assert same(y, ref)
    if out_dtype == "int32":
        assert (y[:, 1::2] < 0).all()  # 2**31 - 1 + 16384 * k wrapped around


def test_tiny_forces_k_splitting() -> None:
    """At tiny, K = 9000 cannot be held on chip: the plan splits K and accumulates across GEMMs."""
    plan = plan_gemm(CFG["tiny"], 3, 9000, 10, out_dtype="int8", bias=True)
    assert not plan.a_resident or plan.mb * plan.kt <= CFG["tiny"].inp_depth
    assert len(plan.krest) > 1
    assert plan.kmax <= 1023


def test_shape_that_cannot_fit_raises() -> None:
    # per-channel scales of 8192 channels fill the whole ACC of tiny: no room for one accumulator word
    w = np.zeros((1, 8192), np.int8)
    with pytest.raises(CodegenError, match="ACC"):
        gemm_program("tiny", w, 1, scales=np.ones(8192))
    with pytest.raises(CodegenError, match="dram_stride"):
        gemm_program("tiny", np.zeros((140_000, 1), np.int8), 2, out_dtype="int32")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"out_dtype": "int32", "scales": 0.5}, "no scales"),
        ({"out_dtype": "fp8"}, "out_dtype"),
        ({"scales": -1.0}, "scale"),
        ({"bias": np.zeros(3, np.int32)}, "bias"),
    ],
)
def test_bad_requests_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(CodegenError, match=match):
        gemm_program("tiny", np.zeros((4, 5), np.int8), 2, **kwargs)


def test_bad_weights_and_m_raise() -> None:
    with pytest.raises(CodegenError, match="int8"):
        gemm_program("tiny", np.zeros((4, 5), np.int16), 2)
    with pytest.raises(CodegenError, match="M"):
        gemm_program("tiny", np.zeros((4, 5), np.int8), 0)


def test_program_is_deterministic() -> None:
    rng = np.random.default_rng(7)
    w = rng.integers(-128, 128, (300, 90), dtype=np.int8)
    bias = rng.integers(-1000, 1000, 90).astype(np.int32)
    scales = rng.uniform(1e-4, 1e-3, 90)
    p1 = gemm_program("u280", w, 77, bias=bias, scales=scales)
    p2 = gemm_program("u280", w.copy(), 77, bias=bias.copy(), scales=scales.copy())
    assert progfile.to_bytes(p1) == progfile.to_bytes(p2)


@pytest.mark.parametrize(("cfg_name", "shape"), [("tiny", (64, 200, 48)), ("u280", (128, 768, 768))])
def test_overlap_beats_serial_schedule(cfg_name: str, shape: tuple[int, int, int]) -> None:
    m, k, n = shape
    rng = np.random.default_rng(3)
    a, w, bias, scales = make_case(rng, m, k, n, "int8", True, "channel")
    _, sim_fast, y_fast = run_case(cfg_name, a, w, bias, scales, "int8")
    _, sim_slow, y_slow = run_case(cfg_name, a, w, bias, scales, "int8", serial=True)
    ref = reference(a, w, bias, scales, "int8")
    assert same(y_fast, ref) and same(y_slow, ref)
    assert sim_fast.cycles * 1.3 < sim_slow.cycles


def test_u280_bert_shape_utilisation() -> None:
    """128x768x768 at u280 keeps the array at least 90 % busy with useful MACs."""
    cfg = CFG["u280"]
    rng = np.random.default_rng(5)
    a, w, bias, scales = make_case(rng, 128, 768, 768, "int8", True, "channel")
    _, sim, _ = run_case("u280", a, w, bias, scales, "int8")
    util = 128 * 768 * 768 / (cfg.macs_per_cycle * sim.cycles)
    assert util >= 0.90, f"utilisation {util:.3f}"


def test_estimated_cycles_match_simulator() -> None:
    """The planner's cost model (docs/timing.md) agrees with the simulator on every instruction."""
    cfg = CFG["tiny"]
    rng = np.random.default_rng(11)
    a, w, bias, scales = make_case(rng, 40, 300, 30, "bf16", True, "channel")
    prog, sim, _ = run_case("tiny", a, w, bias, scales, "bf16")
    for i, insn in enumerate(prog.instructions[:-1]):
        f = insn.as_dict()
        if insn.opcode is Opcode.GEMM:
            want = gemm_cycles(cfg, f["rows"], f["ktiles"], f["ntiles"])
        elif insn.opcode is Opcode.REQUANT:
            want = requant_cycles(cfg, f["tiles"], f["rows"])
        elif insn.opcode in (Opcode.LOAD, Opcode.STORE):
            want = duration(insn, cfg)
        else:
            continue
        assert sim.schedule.end[i] - sim.schedule.start[i] == want
    assert fetch_prologue(cfg) + int(dict(prog.metadata)["est_cycles"]) + 1 == sim.cycles


def test_weight_layout_single_k_block() -> None:
    """With one K-range per N-block, tile (n, k) is at word (n * kt + k) * N of the packed weights."""
    from tataa.codegen.gemm_plan import GemmPlan, GemmSpec

    spec = GemmSpec(4, 20, 19, "int8")
    plan = GemmPlan(spec, 8, "mnk", 4, 2, (3,), (3,), True, 1, 1, 1, 1, 1)
    w = np.arange(20 * 19).reshape(20, 19).astype(np.int8)
    packed = pack_weights(plan, w)
    assert packed.shape == (9, 64)
    packed = packed.reshape(-1, 8)
    padded = np.zeros((24, 24), np.int8)
    padded[:20, :19] = w
    for n_t, k_t in itertools.product(range(3), range(3)):
        word = (n_t * 3 + k_t) * 8
        assert np.array_equal(packed[word : word + 8], padded[k_t * 8 : k_t * 8 + 8, n_t * 8 : n_t * 8 + 8])


@pytest.mark.parametrize("fence", [True, False])
def test_emit_gemm_chains_through_strided_views(fence: bool) -> None:
    """Two emit_gemm calls in one program: the first reads a column window of a wider input and writes a
    column window of a wider output, which the second reads. The fence orders the second after the first."""
    cfg = CFG["tiny"]
    rng = np.random.default_rng(9)
    m, k, n1, n2 = 21, 37, 19, 13
    x = rng.integers(-128, 128, (m, k + 6), dtype=np.int8)
    w1 = rng.integers(-128, 128, (k, n1), dtype=np.int8)
    w2 = rng.integers(-128, 128, (n1, n2), dtype=np.int8)
    bias1 = rng.integers(-5000, 5000, n1).astype(np.int32)
    scales1 = rng.uniform(2e-4, 1e-3, n1)
    p1 = plan_gemm(cfg, m, k, n1, out_dtype="int8", bias=True, per_channel=True)
    p2 = plan_gemm(cfg, m, n1, n2, out_dtype="int32")
    b = ProgramBuilder(cfg)
    x_t = b.tensor("x", Role.INPUT, (m, k + 6), DType.INT8)
    h_t = b.tensor("h", Role.OUTPUT, (m, n1 + 4), DType.INT8)
    y_t = b.tensor("y", Role.OUTPUT, (m, n2), DType.INT32)
    w1_t = b.tensor("w1", Role.CONST, (p1.kt * p1.nt, 64), DType.INT8, data=pack_weights(p1, w1))
    w2_t = b.tensor("w2", Role.CONST, (p2.kt * p2.nt, 64), DType.INT8, data=pack_weights(p2, w2))
    b1_t = b.tensor("b1", Role.CONST, (p1.nt * 8,), DType.INT32, data=pack_bias(p1, bias1))
    s1_t = b.tensor("s1", Role.CONST, (p1.scale_words, 8), DType.INT32, data=pack_scales(p1, scales1))
    a_view = replace(x_t, name="x[:, 3:40]", offset=x_t.offset + 3, shape=(m, k), row_stride=k + 6)
    h_view = replace(h_t, name="h[:, 2:21]", offset=h_t.offset + 2, shape=(m, n1), row_stride=n1 + 4)
    emit_gemm(b, a_view, w1_t, h_view, p1, bias=b1_t, scales=s1_t)
    emit_gemm(b, h_view, w2_t, y_t, p2, fence=fence)
    prog = b.build()
    if not fence:
        with pytest.raises(AssertionError, match="race"):
            assert_race_free(prog)
        return
    assert_race_free(prog)
    res = run(prog, {"x": x})
    h_ref = reference(x[:, 3 : 3 + k], w1, bias1, scales1, "int8")
    h = res.outputs["h"]
    assert same(h[:, 2 : 2 + n1], h_ref)
    assert not h[:, :2].any() and not h[:, 2 + n1 :].any()  # the window's neighbours are untouched
    assert same(res.outputs["y"], reference(h_ref, w2, None, None, "int32"))
