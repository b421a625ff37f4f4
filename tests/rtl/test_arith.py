"""The combinational arithmetic RTL (hw/rtl/tataa_bf16_*, tataa_fp32_*, tataa_simd_lane, tataa_lane_reduce,
tataa_requant) against tataa.numerics, bit for bit, through two Verilator benches (hw/tb/tb_arith.sv for the
elementwise units, hw/tb/tb_lane_reduce.sv for the reductions).

Stimulus is generated with numpy (exhaustive where the input space is 2**16, random and special-value cross
products otherwise), each unit is simulated once with all its vectors in one file, and every result bit is
compared with the reference.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tataa import numerics as nx
from tataa.hdl import verilator as hdl
from tataa.isa.spec import VFUNCTS, VFunct, VKind
from tataa.numerics.reduce import ftz_f32

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(hdl.tool_path("verilator") is None, reason="verilator is not installed"),
]

# RTL modules of this block, leaves first; each is linted on its own with the modules it instantiates.
MODULES: dict[str, tuple[str, ...]] = {
    "tataa_clz_norm": (),
    "tataa_bf16_fma_pre": (),
    "tataa_bf16_fma_post": ("tataa_clz_norm",),
    "tataa_bf16_fma": ("tataa_clz_norm", "tataa_bf16_fma_pre", "tataa_bf16_fma_post"),
    "tataa_bf16_minmax": (),
    "tataa_fp32_add": ("tataa_clz_norm",),
    "tataa_fp32_to_bf16": (),
    "tataa_bf16_sqr_fp32": (),
    "tataa_simd_lane": ("tataa_clz_norm", "tataa_bf16_fma_pre", "tataa_bf16_fma_post", "tataa_bf16_minmax"),
    "tataa_lane_reduce": ("tataa_clz_norm", "tataa_fp32_add", "tataa_bf16_minmax", "tataa_fp32_to_bf16"),
    "tataa_requant": ("tataa_clz_norm",),
}
BENCH_MODULES = list(dict.fromkeys(m for top, deps in MODULES.items() for m in (*deps, top)))

N_RANDOM = 200_000  # random operand triples per binary / ternary funct
SEED = 20240611

# ~45 special bf16 patterns: zeros, subnormals, range ends, infinities, NaNs, ties and midpoints.
SPECIALS = np.array(
    [
        0x0000, 0x8000,  # signed zeros
        0x0001, 0x807F, 0x0040,  # subnormals (read as zeros)
        0x0080, 0x8080, 0x0081, 0x00FF, 0x0092,  # smallest normals (0x0092: the FTZ rounding example)
        0x7F7F, 0xFF7F, 0x7F7E, 0x7F00,  # the top of the range
        0x7F80, 0xFF80,  # infinities
        0x7FC0, 0xFFC0, 0x7F81, 0xFFFF,  # NaNs: quiet, negative, signalling, payload
        0x3F80, 0xBF80, 0x3F81, 0xBF81, 0x3F7F,  # around one
        0x3F88,  # 1 + 2**-4: its square 1 + 2**-3 + 2**-8 is a bf16 midpoint (FMA double-rounding case)
        0x3B80, 0xBB80, 0x3B00,  # 2**-8 (1 + 2**-8 is a tie), -2**-8, 2**-9
        0x0D80, 0x8D80,  # +-2**-100: decides the FMA midpoint
        0x4000, 0x3F00, 0xBF00, 0x3FC0, 0xBFC0, 0x3F60, 0x3F5F,  # 2, +-0.5, +-1.5, 0.875, 0.87109375
        0x4040, 0xC0B0, 0x42FE, 0x42FF, 0xC301,  # 3, -5.5, 127, 127.5, -129
        0x5F80, 0x1F80, 0x4B80, 0x4390,  # 2**64, 2**-64, 2**24, 288
    ],
    dtype=np.uint16,
)  # fmt: skip


# ---- vector files -------------------------------------------------------------------------------------------

_HEX_PAIRS = np.array([ord(f"{i:02x}"[0]) | ord(f"{i:02x}"[1]) << 8 for i in range(256)], dtype="<u2")
_UNHEX = np.full(256, 255, dtype=np.uint8)
_UNHEX[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_UNHEX[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_UNHEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


def write_vectors(path: Path, words: np.ndarray, digits: int) -> None:
    """Write unsigned words (< 2**64) as `$readmemh` lines of an even number of hex digits (vectorised)."""
    assert digits % 2 == 0 and 2 <= digits <= 16
    v = np.asarray(words, dtype=np.uint64).ravel()
    byts = v.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - digits // 2 :]  # most significant first
    lines = np.empty((v.size, digits + 1), dtype=np.uint8)
    lines[:, :digits] = _HEX_PAIRS[byts].view(np.uint8).reshape(v.size, digits)
    lines[:, digits] = ord("\n")
    path.write_bytes(lines.tobytes())


def read_results(path: Path, digits: int, count: int) -> np.ndarray:
    """Read `count` fixed-width "%h" lines back as uint64 (an x/z digit or a short file is an error)."""
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    if raw.size != count * (digits + 1):
        raise AssertionError(f"{path.name}: {raw.size} bytes, expected {count} lines of {digits} hex digits")
    lines = raw.reshape(count, digits + 1)
    nib = _UNHEX[lines[:, :digits]]
    if (lines[:, digits] != ord("\n")).any() or (nib == 255).any():
        bad = int(np.argmax((nib == 255).any(axis=1) | (lines[:, digits] != ord("\n"))))
        raise AssertionError(f"{path.name}: line {bad} is {lines[bad].tobytes()!r}")
    out = np.zeros(count, dtype=np.uint64)
    for d in range(digits):
        out = (out << np.uint64(4)) | nib[:, d].astype(np.uint64)
    return out


@dataclass(frozen=True)
class Bench:
    """The built tb_arith and a scratch directory for its runs."""

    build: hdl.VerilatorBuild
    tmp: Path

    def run(
        self, unit: str, words: np.ndarray, in_digits: int, out_digits: int, count: int | None = None
    ) -> np.ndarray:
        """Simulate `unit` on the stimulus words; return its result words."""
        vec, out = self.tmp / f"{unit}.vec", self.tmp / f"{unit}.out"
        write_vectors(vec, words, in_digits)
        hdl.run(self.build, {"unit": unit, "vec": vec, "out": out, "n": len(words)}, cwd=self.tmp)
        return read_results(out, out_digits, len(words) if count is None else count)


ELEMENTWISE = [m for m in BENCH_MODULES if m != "tataa_lane_reduce"]
REDUCTION = [*MODULES["tataa_lane_reduce"], "tataa_bf16_sqr_fp32", "tataa_lane_reduce"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    """hw/tb/tb_arith.sv: the elementwise units."""
    srcs = [*hdl.rtl_sources("tiny", ELEMENTWISE), hdl.TB_DIR / "tb_arith.sv"]
    return Bench(hdl.build("tb_arith", srcs), tmp_path_factory.mktemp("tb_arith"))


@pytest.fixture(scope="module")
def reduce_bench(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    """hw/tb/tb_lane_reduce.sv: running per-lane sums and maxima, then the lane tree."""
    srcs = [*hdl.rtl_sources("tiny", REDUCTION), hdl.TB_DIR / "tb_lane_reduce.sv"]
    return Bench(hdl.build("tb_lane_reduce", srcs), tmp_path_factory.mktemp("tb_lane_reduce"))


def mismatch(what: str, inputs: dict[str, np.ndarray], got: np.ndarray, want: np.ndarray, width: int) -> str:
    """A failure message naming the count and the first few mismatching vectors."""
    bad = np.flatnonzero(got != want)
    rows = []
    for i in bad[:8]:
        ins = ", ".join(f"{k}={int(v[i]):#0{width // 4 + 2}x}" for k, v in inputs.items())
        rows.append(f"  {ins}: rtl {int(got[i]):#0{width // 4 + 2}x}, numerics {int(want[i]):#0{width // 4 + 2}x}")
    return f"{what}: {bad.size} of {got.size} vectors differ\n" + "\n".join(rows)


# ---- bf16 operand generation --------------------------------------------------------------------------------


def _pattern(sign: np.ndarray, exp: np.ndarray, frac: np.ndarray) -> np.ndarray:
    return ((sign.astype(np.uint32) << 15) | (np.clip(exp, 0, 255).astype(np.uint32) << 7) | frac).astype(np.uint16)


def _rand(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    """Random bf16 patterns with random signs and fractions, biased exponents in [lo, hi]."""
    return _pattern(rng.integers(0, 2, n), rng.integers(lo, hi + 1, n), rng.integers(0, 128, n))


def _nudge(rng: np.random.Generator, x: np.ndarray, ulps: int) -> np.ndarray:
    """x moved by up to +-ulps units in the last place (on the bit pattern)."""
    return ((x.astype(np.int64) + rng.integers(-ulps, ulps + 1, x.size)) & 0xFFFF).astype(np.uint16)


def _midpoint_pairs() -> tuple[np.ndarray, np.ndarray]:
    """Fraction pairs whose significand product is exactly halfway between two bf16 significands."""
    sig = np.arange(128, 256, dtype=np.int64)
    p = sig[:, None] * sig[None, :]  # 15 or 16 bits
    low = np.where(p >= 1 << 15, p & 0xFF, (p << 1) & 0xFF)  # the 8 bits below the kept 8
    fa, fb = np.nonzero(low == 0x80)
    return fa.astype(np.int64), fb.astype(np.int64)


def random_operands(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n random (a, b, c) bf16 triples from a mix of groups that reach every path of the datapath:
    uniform patterns, exponents near one, b ~ +-a (cancellation in add/sub), c ~ -(a*b) (cancellation in
    the FMA), exact-midpoint products with a tiny c (fused vs double rounding), products and sums near
    2**-126 and near the overflow threshold, products of integer size (F2I8), small b (LDEXP, shifts)."""
    g = 9
    m = -(-n // g)
    a_parts, b_parts, c_parts = [], [], []

    def add(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
        a_parts.append(a)
        b_parts.append(b)
        c_parts.append(c)

    u16 = lambda: rng.integers(0, 1 << 16, m).astype(np.uint16)  # noqa: E731
    add(u16(), u16(), u16())
    add(_rand(rng, m, 112, 142), _rand(rng, m, 112, 142), _rand(rng, m, 100, 154))
    a = _rand(rng, m, 1, 254)
    add(a, _nudge(rng, a ^ np.uint16(0x8000) * rng.integers(0, 2, m).astype(np.uint16), 3), u16())
    a, b = _rand(rng, m, 100, 154), _rand(rng, m, 100, 154)
    add(a, b, _nudge(rng, nx.bf16_mul(a, b) ^ np.uint16(0x8000), 3))
    fa, fb = _midpoint_pairs()
    k = rng.integers(0, fa.size, m)
    a = _pattern(rng.integers(0, 2, m), rng.integers(110, 145, m), fa[k])
    b = _pattern(rng.integers(0, 2, m), rng.integers(110, 145, m), fb[k])
    pe = (a.astype(np.int64) >> 7 & 0xFF) + (b.astype(np.int64) >> 7 & 0xFF) - 127
    tiny = _pattern(rng.integers(0, 2, m), pe - rng.integers(9, 80, m), rng.integers(0, 128, m))
    c = np.where(rng.random(m) < 0.1, rng.integers(0, 2, m).astype(np.uint16) << 15, tiny)  # some c = +-0
    add(a, b, c.astype(np.uint16))
    ea = rng.integers(1, 255, m)  # products near 2**-126, addends near it
    a = _pattern(rng.integers(0, 2, m), ea, rng.integers(0, 128, m))
    b = _pattern(rng.integers(0, 2, m), 128 - ea + rng.integers(-2, 3, m), rng.integers(0, 128, m))
    add(a, b, _rand(rng, m, 0, 3))
    ea = rng.integers(127, 255, m)  # products near the overflow threshold, addends near MAX
    a = _pattern(rng.integers(0, 2, m), ea, rng.integers(0, 128, m))
    b = _pattern(rng.integers(0, 2, m), 381 - ea + rng.integers(-2, 3, m), rng.integers(0, 128, m))
    add(a, b, _rand(rng, m, 251, 254))
    ea = rng.integers(115, 140, m)  # |a*b| in about [2**-10, 2**9]
    a = _pattern(rng.integers(0, 2, m), ea, rng.integers(0, 128, m))
    b = _pattern(rng.integers(0, 2, m), 254 - ea + rng.integers(-10, 10, m), rng.integers(0, 128, m))
    add(a, b, u16())
    b = nx.f64_to_bf16(np.where(rng.random(m) < 0.5, np.round(rng.uniform(-330, 330, m)), rng.uniform(-330, 330, m)))
    add(_rand(rng, m, 1, 254), b, u16())
    return (np.concatenate(a_parts)[:n], np.concatenate(b_parts)[:n], np.concatenate(c_parts)[:n])


# ---- the SIMD lane ------------------------------------------------------------------------------------------

LANE_FUNCTS = [d for d in VFUNCTS if d.kind is not VKind.REDUCE]
F2I8_SCALES = np.array([0x3F80, 0xBFC0, 0x3C40, 0x42C0], dtype=np.uint16)  # 1.0, -1.5, 2**-7 * 1.5, 96.0


@dataclass(frozen=True)
class LaneRun:
    """The lane's vectors and its results, for slicing by funct."""

    funct: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    got: np.ndarray  # {i8, res} as 24-bit words


def lane_stimulus(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(funct, a, b, c): every unary funct over all 65,536 patterns, F2I8 over all a for a few scales, and
    N_RANDOM random triples plus the special-value cross product for every other funct."""
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    pa, pb = (g.ravel() for g in np.meshgrid(SPECIALS, SPECIALS, indexing="ij"))
    ta, tb, tc = (g.ravel() for g in np.meshgrid(SPECIALS, SPECIALS, SPECIALS, indexing="ij"))
    for d in LANE_FUNCTS:
        f = int(d.funct)
        if d.kind is VKind.UNARY:
            junk = rng.integers(0, 1 << 16, (2, every.size)).astype(np.uint16)  # b and c must not matter
            parts.append((f, every, junk[0], junk[1]))
            continue
        a, b, c = random_operands(rng, N_RANDOM)
        parts.append((f, a, b, c))
        if d.kind in (VKind.TERNARY_CONST, VKind.TERNARY_DST):
            parts.append((f, ta, tb, tc))
        else:
            parts.append((f, pa, pb, rng.integers(0, 1 << 16, pa.size).astype(np.uint16)))
        if d.kind is VKind.TO_INT8:
            for s in F2I8_SCALES:
                parts.append((f, every, np.full(every.size, s, np.uint16), np.zeros(every.size, np.uint16)))
    funct = np.concatenate([np.full(p[1].size, p[0], np.uint64) for p in parts])
    a, b, c = (np.concatenate([p[i] for p in parts]) for i in (1, 2, 3))
    return funct, a, b, c


def lane_reference(funct: int, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """{i8, res} words that tataa.numerics gives (dispatched by VFunctDef.impl like the simulator)."""
    d = next(x for x in VFUNCTS if int(x.funct) == funct)
    fn: Callable[..., np.ndarray] = getattr(nx, d.impl)
    if d.kind is VKind.UNARY:
        return fn(a).astype(np.uint64)
    if d.kind is VKind.TO_INT8:
        return (fn(a, b).astype(np.int64) & 0xFF).astype(np.uint64) << np.uint64(16)
    if d.kind in (VKind.TERNARY_CONST, VKind.TERNARY_DST):
        return fn(a, b, c).astype(np.uint64)
    return fn(a, b).astype(np.uint64)


@pytest.fixture(scope="module")
def lane(bench: Bench) -> LaneRun:
    funct, a, b, c = lane_stimulus(np.random.default_rng(SEED))
    words = (funct << np.uint64(48)) | (a.astype(np.uint64) << np.uint64(32)) | (b.astype(np.uint64) << np.uint64(16))
    words |= c.astype(np.uint64)
    return LaneRun(funct, a, b, c, bench.run("lane", words, 14, 6))


@pytest.mark.parametrize("funct", [d.funct for d in LANE_FUNCTS], ids=[d.funct.name for d in LANE_FUNCTS])
def test_lane_matches_numerics(lane: LaneRun, funct: VFunct) -> None:
    sel = lane.funct == int(funct)
    a, b, c = lane.a[sel], lane.b[sel], lane.c[sel]
    kind = next(d.kind for d in VFUNCTS if d.funct is funct)
    if kind is VKind.UNARY:
        assert np.array_equal(np.sort(a), np.arange(1 << 16)), "unary functs must be covered exhaustively"
    else:
        assert a.size >= N_RANDOM + SPECIALS.size**2
    want = lane_reference(int(funct), a, b, c)
    got = lane.got[sel]
    assert np.array_equal(got, want), mismatch(funct.name, {"a": a, "b": b, "c": c}, got, want, 24)


def test_lane_documented_examples(lane: LaneRun) -> None:
    """The worked examples of docs/numerics.md are among the vectors and come out as documented there."""
    examples = [  # (funct, a, b, c, documented result)
        (VFunct.FMA, 0x3F88, 0x3F88, 0x0000, 0x3F90),
        (VFunct.FMA, 0x3F88, 0x3F88, 0x0D80, 0x3F91),  # fused: the tiny c breaks the tie
        (VFunct.MAC, 0x3F88, 0x3F88, 0x0D80, 0x3F91),
        (VFunct.FMA, 0x7F7F, 0x3FC0, 0xFF7F, 0x7EFF),  # the intermediate exceeds the range
        (VFunct.MUL, 0x0092, 0x3F60, None, 0x0080),  # rounds up to 2**-126 before the flush check
        (VFunct.MUL, 0x0092, 0x3F5F, None, 0x0000),
        (VFunct.ADD, 0x8000, 0x8000, None, 0x8000),
        (VFunct.SUB, 0x3F81, 0x3F81, None, 0x0000),
        (VFunct.ADD, 0x3F80, 0x3B80, None, 0x3F80),  # 1 + 2**-8: a tie, to even
        (VFunct.GETEXP, 0x0080, None, None, 0xC2FC),
        (VFunct.GETMANT, 0xC0B0, None, None, 0xBFB0),
    ]
    for f, a, b, c, want in examples:
        sel = (lane.funct == int(f)) & (lane.a == a)
        if b is not None:
            sel &= lane.b == b
        if c is not None:
            sel &= lane.c == c
        assert sel.any(), f"example {f.name}({a:#06x}, {b}, {c}) is not among the vectors"
        assert np.all(lane.got[sel] & np.uint64(0xFFFF) == want), f"{f.name}({a:#06x}, {b}, {c}) != {want:#06x}"


def test_lane_f2i8_saturates_and_rounds_half_even(lane: LaneRun) -> None:
    """F2I8 with scale 1.0 over every a reaches both saturation limits, zero from NaN and exact ties."""
    sel = (lane.funct == int(VFunct.F2I8)) & (lane.b == 0x3F80)
    i8 = ((lane.got[sel] >> np.uint64(16)).astype(np.int64) + 128) % 256 - 128
    a = lane.a[sel]
    assert set(i8[a == 0x7F80]) == {127} and set(i8[a == 0xFF80]) == {-128} and set(i8[a == 0x7FC0]) == {0}
    assert i8[a == 0x4020] == 2 and i8[a == 0xC060] == -4  # 2.5 -> 2, -3.5 -> -4 (docs/numerics.md)


# ---- the standalone FMA -------------------------------------------------------------------------------------


def test_fma_module_matches_numerics(bench: Bench) -> None:
    rng = np.random.default_rng(SEED + 1)
    a, b, c = random_operands(rng, N_RANDOM)
    ta, tb, tc = (g.ravel() for g in np.meshgrid(SPECIALS, SPECIALS, SPECIALS, indexing="ij"))
    a, b, c = np.concatenate([a, ta]), np.concatenate([b, tb]), np.concatenate([c, tc])
    words = (a.astype(np.uint64) << np.uint64(32)) | (b.astype(np.uint64) << np.uint64(16)) | c.astype(np.uint64)
    got = bench.run("fma", words, 12, 4)
    want = nx.bf16_fma(a, b, c).astype(np.uint64)
    assert np.array_equal(got, want), mismatch("tataa_bf16_fma", {"a": a, "b": b, "c": c}, got, want, 16)


# ---- fp32 addition, fp32 -> bf16, the REDSUMSQ square -----------------------------------------------------

F32_SPECIALS = np.array(
    [
        0x0000_0000, 0x8000_0000, 0x0000_0001, 0x807F_FFFF, 0x0040_0000, 0x0080_0000, 0x8080_0000, 0x0080_0001,
        0x7F7F_FFFF, 0xFF7F_FFFF, 0x7F00_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_0001, 0x7F80_0001,
        0x3F80_0000, 0xBF80_0000, 0x3F80_0001, 0x3F7F_FFFF, 0x3300_0000, 0x3380_0000, 0x4B80_0000, 0x0100_0000,
    ],
    dtype=np.uint32,
)  # fmt: skip


def _rand_f32(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    return (
        (rng.integers(0, 2, n).astype(np.uint32) << 31)
        | (rng.integers(lo, hi + 1, n).astype(np.uint32) << 23)
        | rng.integers(0, 1 << 23, n).astype(np.uint32)
    )


def f32_operands(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random fp32 pairs: uniform patterns, close exponents, near-cancellation, exponent gaps around the
    window width, the subnormal range and near overflow; plus the special cross product."""
    m = n // 6
    u32 = lambda: rng.integers(0, 1 << 32, m, dtype=np.uint64).astype(np.uint32)  # noqa: E731
    a1, b1 = u32(), u32()
    a2 = _rand_f32(rng, m, 100, 150)
    b2 = _rand_f32(rng, m, 100, 150)
    a3 = _rand_f32(rng, m, 1, 254)
    flip = rng.integers(0, 2, m).astype(np.uint32) << 31
    b3 = ((a3.astype(np.int64) ^ flip) + rng.integers(-4, 5, m)).astype(np.uint32)
    a4 = _rand_f32(rng, m, 30, 220)
    b4 = (
        (rng.integers(0, 2, m).astype(np.uint32) << 31)
        | (np.clip((a4 >> 23 & 0xFF).astype(np.int64) - rng.integers(0, 40, m), 0, 255).astype(np.uint32) << 23)
        | rng.integers(0, 1 << 23, m).astype(np.uint32)
    )
    a5, b5 = _rand_f32(rng, m, 0, 3), _rand_f32(rng, m, 0, 3)
    a6, b6 = _rand_f32(rng, m, 250, 254), _rand_f32(rng, m, 250, 254)
    sa, sb = (g.ravel() for g in np.meshgrid(F32_SPECIALS, F32_SPECIALS, indexing="ij"))
    return np.concatenate([a1, a2, a3, a4, a5, a6, sa]), np.concatenate([b1, b2, b3, b4, b5, b6, sb])


def _f32_match(got: np.ndarray, want32: np.ndarray) -> np.ndarray:
    """Bits equal, or both NaN with the RTL giving the quiet NaN 0x7FC00000."""
    nan = (want32 & 0x7FFF_FFFF) > 0x7F80_0000
    return np.where(nan, got == 0x7FC0_0000, got == want32)


def test_fp32_add_matches_numpy_with_ftz(bench: Bench) -> None:
    a, b = f32_operands(np.random.default_rng(SEED + 2), 300_000)
    got = bench.run("fp32add", (a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64), 16, 8)
    with np.errstate(all="ignore"):
        want = ftz_f32(a.view(np.float32) + b.view(np.float32)).view(np.uint32).astype(np.uint64)
    ok = _f32_match(got, want)
    assert ok.all(), mismatch("tataa_fp32_add", {"a": a, "b": b}, np.where(ok, want, got), want, 32)


def test_fp32_to_bf16_matches_numerics(bench: Bench) -> None:
    rng = np.random.default_rng(SEED + 3)
    x = np.concatenate(
        [
            rng.integers(0, 1 << 32, 200_000, dtype=np.uint64).astype(np.uint32),
            _rand_f32(rng, 50_000, 0, 2),
            _rand_f32(rng, 50_000, 252, 255),
            (rng.integers(0, 1 << 16, 50_000).astype(np.uint32) << 16) | 0x8000,  # ties
            F32_SPECIALS,
            np.array([0x007F_C000, 0x007F_BFFF, 0x807F_C000, 0x7F7F_8000, 0x7F7F_7FFF], dtype=np.uint32),
        ]
    )
    got = bench.run("f32cvt", x, 8, 4)
    want = nx.f32_to_bf16(x.view(np.float32)).astype(np.uint64)
    assert np.array_equal(got, want), mismatch("tataa_fp32_to_bf16", {"x": x}, got, want, 16)


def test_bf16_square_is_the_fp32_product_exhaustively(bench: Bench) -> None:
    x = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    got = bench.run("sqr", x, 4, 8)
    f = nx.bf16_to_f32(nx.daz(x))
    with np.errstate(all="ignore"):
        want = ftz_f32(f * f).view(np.uint32).astype(np.uint64)
    ok = _f32_match(got, want)
    assert ok.all(), mismatch("tataa_bf16_sqr_fp32", {"x": x}, np.where(ok, want, got), want, 32)


# ---- reductions ---------------------------------------------------------------------------------------------


def reduce_cases(rng: np.random.Generator, lanes: int, cases: int, max_w: int) -> list[np.ndarray]:
    """Random (W, lanes) blocks of several styles (cancellation near one, wide range, fp32 underflow,
    fp32 overflow, squares around 2**+-64, specials), plus the documented examples."""
    out = []
    for _ in range(cases):
        w = int(rng.integers(0, max_w + 1))
        n = w * lanes
        style = int(rng.integers(0, 7))
        if style == 0:
            x = _rand(rng, n, 118, 136)
        elif style == 1:
            x = _rand(rng, n, 1, 254)
        elif style == 2:
            x = _rand(rng, n, 0, 4)
        elif style == 3:
            x = _rand(rng, n, 248, 254)
        elif style == 4:
            x = _rand(rng, n, 60, 68) if rng.random() < 0.5 else _rand(rng, n, 188, 194)
        elif style == 5:
            x = SPECIALS[rng.integers(0, SPECIALS.size, n)]
        else:
            x = np.where(rng.random(n) < 0.3, SPECIALS[rng.integers(0, 8, n)], _rand(rng, n, 120, 134))
        out.append(x.astype(np.uint16).reshape(w, lanes))
    one_lane = np.zeros((3, lanes), np.uint16)
    one_lane[:, 0] = [0x3F80, 0x3B80, 0x3080]  # words [1, 2**-8, 2**-30] in lane 0 (docs/numerics.md)
    flush = np.zeros((3, lanes), np.uint16)
    flush[:, 0] = [0x00C0, 0x8080, 0x0080]  # the running sum 2**-127 flushes to +0
    tree = np.zeros((1, lanes), np.uint16)
    tree[0, [0, lanes // 4, lanes // 2, 3 * lanes // 4]] = [0x3F80, 0x3B80, 0x3380, 0x3380]  # halving-tree order
    out += [one_lane, flush, tree, np.full((4, lanes), 0x8000, np.uint16), np.zeros((0, lanes), np.uint16)]
    return out


@pytest.mark.parametrize("lanes", [8, 4])
def test_lane_reduce_matches_numerics(reduce_bench: Bench, lanes: int) -> None:
    rng = np.random.default_rng(SEED + lanes)
    blocks = reduce_cases(rng, lanes, 3000, 10)
    stream = np.concatenate([np.concatenate([[b.shape[0]], b.ravel()]) for b in blocks]).astype(np.uint64)
    got = reduce_bench.run(f"reduce{lanes}", stream, 4, 12, count=len(blocks))
    got_sum, got_sq, got_max = ((got >> np.uint64(s)) & np.uint64(0xFFFF) for s in (32, 16, 0))
    widths = np.array([b.shape[0] for b in blocks])
    for w in np.unique(widths):  # one vectorised reference call per word count W
        idx = np.flatnonzero(widths == w)
        stack = np.stack([blocks[i] for i in idx])
        checks = [("sum", got_sum, nx.reduce_sum), ("sumsq", got_sq, nx.reduce_sumsq)]
        if w:
            checks.append(("max", got_max, nx.reduce_max))  # the maximum of no words is undefined
        for name, have, fn in checks:
            want = fn(stack).astype(np.uint64)
            bad = np.flatnonzero(have[idx] != want)
            assert bad.size == 0, (
                f"{name}: {bad.size} of {idx.size} cases with W={w} differ; first: case {idx[bad[0]]}, "
                f"rtl {int(have[idx[bad[0]]]):#06x}, numerics {int(want[bad[0]]):#06x}\n{stack[bad[0]]}"
            )
    # the documented examples (after the random cases)
    doc = [int(s) for s in got_sum[-5:]]
    assert doc == [0x3F80, 0x0080, 0x3F80, 0x0000, 0x0000]


# ---- requantization -----------------------------------------------------------------------------------------


def requant_operands(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(acc, scale word) pairs: random words (bits 31:22 random too: they must be ignored), realistic
    scales, exact ties, saturation boundaries and the edges s = 0, s = 63, m = 0, INT32_MIN/MAX."""
    m4 = n // 4
    acc1 = rng.integers(-(1 << 31), 1 << 31, m4)
    w1 = rng.integers(0, 1 << 32, m4)
    acc2 = np.where(rng.random(m4) < 0.5, rng.integers(-(1 << 20), 1 << 20, m4), rng.integers(-3000, 3000, m4))
    w2 = rng.integers(1 << 15, 1 << 16, m4) | (rng.integers(10, 40, m4) << 16)
    s3 = rng.integers(1, 31, m4)  # ties: acc * m = (2k + 1) * 2**(s - 1)
    k3 = rng.integers(-300, 300, m4)
    acc3 = ((2 * k3 + 1) << (s3 - 1)).clip(-(1 << 31), (1 << 31) - 1)
    w3 = 1 | (s3 << 16)
    q4 = rng.choice([126.5, 127.5, 128.5, -127.5, -128.5, -129.5], m4) + rng.choice([-(2.0**-12), 0.0, 2.0**-12], m4)
    s4 = rng.integers(13, 40, m4)
    m4v = rng.integers(1 << 15, 1 << 16, m4)
    acc4 = np.round(np.ldexp(q4, s4) / m4v).astype(np.int64).clip(-(1 << 31), (1 << 31) - 1)
    w4 = m4v | (s4 << 16)
    edge_acc = np.array([0, 1, -1, 5, -7, 255, 1000, (1 << 31) - 1, -(1 << 31), 12345678, -12345678])
    edge_w = np.array(
        [0, 1, 0xFFFF, 0x1_0001, 0x3F_FFFF, 0x3F_0001, 0x30_FFFF, 0x2F_FFFF, 0x2F_0001, 0x16_C986, 0xFFC0_0000, 0x10000]
    )
    ea, ew = (g.ravel() for g in np.meshgrid(edge_acc, edge_w, indexing="ij"))
    acc = np.concatenate([acc1, acc2, acc3, acc4, ea]).astype(np.int64)
    return acc, np.concatenate([w1, w2, w3, w4, ew]).astype(np.int64)


def test_requant_matches_numerics(bench: Bench) -> None:
    acc, w = requant_operands(np.random.default_rng(SEED + 4), 200_000)
    assert acc.size >= 200_000
    words = ((acc & 0xFFFF_FFFF).astype(np.uint64) << np.uint64(32)) | w.astype(np.uint64)
    got = bench.run("requant", words, 16, 6)
    want = (nx.requant_int8(acc, w).astype(np.int64) & 0xFF) << 16 | nx.requant_bf16(acc, w).astype(np.int64)
    want = want.astype(np.uint64)
    assert np.array_equal(got, want), mismatch("tataa_requant", {"acc": acc & 0xFFFF_FFFF, "w": w}, got, want, 24)
    i8 = (got >> np.uint64(16)).astype(np.int64)
    assert {0x7F, 0x80} <= set(i8.tolist()), "saturation was not exercised"


# ---- lint and synthesis front ends --------------------------------------------------------------------------


def _sources(top: str) -> list[str]:
    return [str(p) for p in hdl.rtl_sources("tiny", [*MODULES[top], top])]


@pytest.mark.parametrize("top", list(MODULES))
def test_lint_yosys_iverilog_accept(top: str, tmp_path: Path) -> None:
    srcs = _sources(top)
    res = subprocess.run(
        ["verilator", "--lint-only", "-Wall", "--top-module", top, *srcs], capture_output=True, text=True, cwd=tmp_path
    )
    assert res.returncode == 0 and "%Warning" not in res.stderr, res.stderr
    if hdl.tool_path("yosys"):
        script = f"read_verilog -sv {' '.join(srcs)}; hierarchy -check -top {top}; proc; opt"
        res = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True, cwd=tmp_path)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    if hdl.tool_path("iverilog"):
        res = subprocess.run(["iverilog", "-g2012", "-o", "/dev/null", *srcs], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("lanes", [1, 2, 4, 16, 32])
def test_lane_reduce_lints_for_other_sizes(lanes: int, tmp_path: Path) -> None:
    srcs = _sources("tataa_lane_reduce")
    cmd = ["verilator", "--lint-only", "-Wall", f"-GLanes={lanes}", "--top-module", "tataa_lane_reduce", *srcs]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0 and "%Warning" not in res.stderr, res.stderr
