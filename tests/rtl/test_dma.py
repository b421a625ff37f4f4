"""tataa_dma against the simulator: random LOAD/STORE sequences between AXI memory and the four buffers.

A batch of random DMA instructions runs on `tb_dma` (tataa_dma + the behavioural AXI memory tataa_axi_mem +
a buffer model), one after the other, from random buffer contents and a random memory image. The same
instructions run in `tataa.sim.Simulator` as one Program: four LOADs preload the buffers from an extra
region, the test instructions follow in order (dependency tokens through COMPUTE NOPs serialise LOAD and
STORE), and four STOREs dump the buffers back into the extra region. Every byte of every test region, of
the memory around them, and of the four buffers must agree; the cycle counts are checked against the
RTL's own cycle formula and compared with `tataa.sim.duration` (docs/timing.md).
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tataa import config
from tataa.config import HwConfig
from tataa.hdl.verilator import TB_DIR, VerilatorBuild, build, rtl_sources, run, tool_path
from tataa.isa.encoding import encode
from tataa.isa.spec import Buffer, Instruction, Opcode, Unit, make
from tataa.program import Program, Region
from tataa.sim import Simulator, duration

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(tool_path("verilator") is None, reason="verilator is not installed"),
]

TINY = config.load("tiny")
TOP = "tb_dma"
MEM_BYTES = 65536  # tb_dma MemBytes
MEM_BASE = 0xFFFF_8000  # the bench memory straddles the 4 GiB boundary
SLOT = MEM_BYTES // 8  # region r lives in [r*SLOT, (r+1)*SLOT) of the bench memory
SKEW = 64  # region bases are skewed by up to this many bytes (unaligned bases)
REGION_SIZE = SLOT - SKEW
EB = {Buffer.INP: 1, Buffer.WGT: 1, Buffer.ACC: 4, Buffer.VEC: 2}
ATTR = {Buffer.INP: "inp", Buffer.WGT: "wgt", Buffer.ACC: "acc", Buffer.VEC: "vec"}


@dataclass(frozen=True)
class Variant:
    """A DMA geometry: array size N, bus bytes B and latency L, on the tiny configuration's buffer depths."""

    name: str
    array_size: int
    bus_bytes: int
    latency: int
    opt: str  # C++ optimisation of the model: the compile dominates for narrow buses, the run for wide ones

    @property
    def cfg(self) -> HwConfig:
        """The configuration the simulator runs for this geometry."""
        if (self.array_size, self.bus_bytes, self.latency) == (TINY.array_size, TINY.dma_bytes_per_cycle,
                                                                 TINY.dma_latency):  # fmt: skip
            return TINY
        ports = 1 if self.bus_bytes <= 32 else 4
        return dataclasses.replace(TINY, name=f"tiny_{self.name}", array_size=self.array_size,
                                   simd_lanes=self.array_size, hbm_ports=ports,
                                   hbm_port_bits=self.bus_bytes * 8 // ports, dma_latency=self.latency)  # fmt: skip

    @property
    def args(self) -> list[str]:
        """Verilator arguments that give tb_dma this geometry."""
        sizes = [f"-GArraySize={self.array_size}", f"-GBusBytes={self.bus_bytes}", f"-GLatency={self.latency}"]
        return [*sizes, "-MAKEFLAGS", f"OPT_FAST={self.opt} OPT_GLOBAL=-O0"]


VARIANTS = (
    Variant("tiny", 8, 8, 16, "-O0"),  # words of B (INP/WGT) or more bytes (VEC, ACC): beats gather into words
    Variant("u280", 32, 128, 64, "-O1"),  # the u280 core (its 4 HBM ports as one bus): words of B/4, B/2 or B
)
VARIANT_IDS = [v.name for v in VARIANTS]


@pytest.fixture(scope="module")
def benches() -> dict[str, VerilatorBuild]:
    """tb_dma built once per variant."""
    srcs = [*rtl_sources("tiny", ["tataa_dma"]), TB_DIR / "tataa_axi_mem.sv", TB_DIR / "tb_dma.sv"]
    return {v.name: build(TOP, srcs, v.args) for v in VARIANTS}


# ---- random instructions ---------------------------------------------------------------------------------


def _depth(cfg: HwConfig, buf: Buffer) -> int:
    return cfg.depth(ATTR[buf])


def random_dma(rng: np.random.Generator, cfg: HwConfig, regs: list[int], op: Opcode | None = None,
               buf: Buffer | None = None, **fixed: int) -> Instruction:  # fmt: skip
    """A random LOAD or STORE whose buffer words and region bytes are in range; `fixed` pins fields."""
    n = cfg.array_size
    for _ in range(1000):
        o = op if op is not None else (Opcode.LOAD if rng.random() < 0.5 else Opcode.STORE)
        b = buf if buf is not None else Buffer(int(rng.integers(4)))
        eb = EB[b]
        cols = int(rng.choice([1, n, 2 * n, rng.integers(1, 4 * n), rng.integers(1, 12 * n)]))
        rows = int(rng.choice([1, rng.integers(1, 6), rng.integers(1, 24)]))
        cols, rows = fixed.get("cols", cols), fixed.get("rows", rows)
        nw = -(-cols // n)
        wstride = int(rng.choice([0, 1, 1, rng.integers(0, 5)]))
        ystride = int(rng.choice([0, nw * max(wstride, 1), rng.integers(0, 3 * nw + 2)]))
        wstride, ystride = fixed.get("sram_wstride", wstride), fixed.get("sram_ystride", ystride)
        span = (rows - 1) * ystride + (nw - 1) * wstride
        if span >= _depth(cfg, b):
            continue
        row_bytes = cols * eb
        stride = int(rng.choice([0, row_bytes, row_bytes + rng.integers(1, 40), rng.integers(1, row_bytes + 1),
                                 rng.integers(0, 3 * row_bytes + 64)]))  # fmt: skip
        stride = fixed.get("dram_stride", stride)
        extent = (rows - 1) * stride + row_bytes
        if extent > REGION_SIZE:
            continue
        f = {
            "buf": int(b),
            "sram_base": int(rng.integers(0, _depth(cfg, b) - span)),
            "sram_ystride": ystride,
            "sram_wstride": wstride,
            "rows": rows,
            "cols": cols,
            "dram_reg": int(rng.choice(regs)),
            "dram_offset": int(rng.integers(0, REGION_SIZE - extent + 1)),
            "dram_stride": stride,
        }
        f.update(fixed)
        if f["dram_offset"] + extent > REGION_SIZE:
            continue
        return make(o, **f)
    raise AssertionError("no random DMA instruction fits")


def edge_cases(cfg: HwConfig, rng: np.random.Generator, regs: list[int]) -> list[Instruction]:
    """Instructions every batch contains: tiny shapes, stride 0, long rows, 4 KiB crossings, every buffer."""
    n, out = cfg.array_size, []
    for b in Buffer:
        for op in (Opcode.LOAD, Opcode.STORE):
            out.append(random_dma(rng, cfg, regs, op, b, rows=1, cols=1))
            out.append(random_dma(rng, cfg, regs, op, b, rows=1))
            out.append(random_dma(rng, cfg, regs, op, b, cols=1, rows=5))
            out.append(random_dma(rng, cfg, regs, op, b, rows=4, dram_stride=0))  # same bytes every row
            out.append(random_dma(rng, cfg, regs, op, b, rows=6, sram_ystride=0))  # same words every row
            out.append(random_dma(rng, cfg, regs, op, b, cols=3 * n + 1, sram_wstride=0))
    long_cols = 300 * cfg.dma_bytes_per_cycle // 4 + 3  # rows longer than 256 beats: split bursts
    long_fits = long_cols * 4 + 1001 <= REGION_SIZE and long_cols <= 4095 and -(-long_cols // n) <= cfg.acc_depth
    for op in (Opcode.LOAD, Opcode.STORE):
        if long_fits:
            out.append(random_dma(rng, cfg, regs, op, Buffer.ACC, rows=2, cols=long_cols, sram_ystride=0,
                                  sram_wstride=1, dram_stride=1001, dram_offset=5))  # fmt: skip
        # rows crossing the 4 KiB page boundary near region offset 4096
        out.append(random_dma(rng, cfg, regs, op, Buffer.VEC, rows=3, cols=5 * n, dram_stride=333,
                              dram_offset=4096 - 200))  # fmt: skip
    rng.shuffle(out)  # type: ignore[arg-type]
    return out


# ---- the reference program -------------------------------------------------------------------------------


def chain(insns: list[Instruction]) -> list[Instruction]:
    """The DMA instructions in strict program order: a COMPUTE NOP relays a token at every LOAD/STORE change."""
    out: list[Instruction] = []
    for insn in insns:
        unit = insn.unit
        if out and out[-1].unit is not unit:
            prev = out[-1]
            d = prev.as_dict()
            d["push_next" if prev.unit is Unit.LOAD else "push_prev"] = 1
            out[-1] = make(prev.opcode, **d)
            out.append(make(Opcode.NOP, unit=int(Unit.COMPUTE),
                            pop_prev=int(prev.unit is Unit.LOAD), pop_next=int(prev.unit is Unit.STORE),
                            push_prev=int(unit is Unit.LOAD), push_next=int(unit is Unit.STORE)))  # fmt: skip
            d = insn.as_dict()
            d["pop_next" if unit is Unit.LOAD else "pop_prev"] = 1
            insn = make(insn.opcode, **d)
        out.append(insn)
    return out


@dataclass(frozen=True)
class Batch:
    """A bench run: instructions, region placement, initial memory and buffers."""

    cfg: HwConfig
    insns: list[Instruction]
    regs: list[int]  # regions the instructions use
    spare: int  # the region the reference program preloads and dumps the buffers through
    skew: dict[int, int]  # region -> base skew within its slot
    mem: np.ndarray  # uint8[MEM_BYTES] initial bench memory
    bufs: dict[Buffer, np.ndarray]  # uint8[depth, word bytes] initial buffer contents


def make_batch(cfg: HwConfig, seed: int, count: int, spare: int) -> Batch:
    """`count` random instructions plus the edge cases, over random memory and buffers."""
    rng = np.random.default_rng(seed)
    regs = [r for r in range(8) if r != spare]
    insns = edge_cases(cfg, rng, regs) + [random_dma(rng, cfg, regs) for _ in range(count)]
    skew = {r: int(rng.choice([0, rng.integers(0, SKEW)])) for r in regs}
    mem = rng.integers(0, 256, MEM_BYTES, dtype=np.uint8)
    n = cfg.array_size
    bufs = {b: rng.integers(0, 256, (_depth(cfg, b), n * EB[b]), dtype=np.uint8) for b in Buffer}
    return Batch(cfg, insns, regs, spare, skew, mem, bufs)


def region_view(batch: Batch, mem: np.ndarray, r: int) -> np.ndarray:
    """The bytes of region r inside a bench memory image."""
    at = r * SLOT + batch.skew[r]
    return mem[at : at + REGION_SIZE]


def reference(batch: Batch) -> tuple[dict[int, np.ndarray], dict[Buffer, np.ndarray]]:
    """Final region images and buffers from the simulator."""
    cfg, n = batch.cfg, batch.cfg.array_size
    offsets, blob, off = {}, [], 0
    for b in Buffer:
        offsets[b] = off
        blob.append(batch.bufs[b].ravel())
        off += batch.bufs[b].size
    spare = Region(batch.spare, "buffers", off, np.concatenate(blob).tobytes())
    regions = [Region(r, f"r{r}", REGION_SIZE, region_view(batch, batch.mem, r).tobytes()) for r in batch.regs]

    def whole(op: Opcode, b: Buffer) -> Instruction:
        return make(op, buf=int(b), rows=_depth(cfg, b), cols=n, sram_ystride=1, dram_reg=batch.spare,
                    dram_offset=offsets[b], dram_stride=n * EB[b])  # fmt: skip

    body = [whole(Opcode.LOAD, b) for b in Buffer] + batch.insns + [whole(Opcode.STORE, b) for b in Buffer]
    prog = Program(cfg.name, cfg.hash, (*chain(body), make(Opcode.FINISH)), (*regions, spare), ())
    images = Simulator(prog, cfg).run().images
    bufs = {b: images[batch.spare][offsets[b] : offsets[b] + batch.bufs[b].size].reshape(batch.bufs[b].shape)
            for b in Buffer}  # fmt: skip
    return {r: images[r] for r in batch.regs}, bufs


# ---- running the bench -----------------------------------------------------------------------------------


def rows_hex(rows: np.ndarray) -> str:
    """`$readmemh` lines of little-endian words given as [words, bytes] uint8."""
    text = np.ascontiguousarray(rows[:, ::-1]).tobytes().hex()
    width = 2 * rows.shape[1]
    return "".join(text[i : i + width] + "\n" for i in range(0, len(text), width))


def read_rows(path: Path, nbytes: int) -> np.ndarray:
    """Inverse of rows_hex for `$writememh` output (x/z digits fail)."""
    lines = [ln for ln in path.read_text().split() if not ln.startswith(("//", "@"))]
    bad = [ln for ln in lines if any(c in "xXzZ" for c in ln)]
    assert not bad, f"{path.name}: undefined bits in simulation output, e.g. {bad[0]!r}"
    raw = np.frombuffer(bytes.fromhex("".join(ln.zfill(2 * nbytes) for ln in lines)), np.uint8)
    return raw.reshape(len(lines), nbytes)[:, ::-1]


@dataclass(frozen=True)
class BenchResult:
    """Final bench memory and buffers, and per instruction its start-to-done cycles and error flag."""

    mem: np.ndarray
    bufs: dict[Buffer, np.ndarray]
    cycles: list[int]
    errs: list[int]


def run_bench(bench: VerilatorBuild, batch: Batch, work: Path, stall: int = 0, seed: int = 1,
              bases: list[int] | None = None) -> BenchResult:  # fmt: skip
    """Run `batch` on the bench in `work` (region bases as placed by the batch unless `bases` is given)."""
    work.mkdir(parents=True, exist_ok=True)
    bus = batch.cfg.dma_bytes_per_cycle
    (work / "insns.hex").write_text("".join(f"{encode(i):032x}\n" for i in batch.insns))
    if bases is None:
        bases = [MEM_BASE + r * SLOT + batch.skew.get(r, 0) for r in range(8)]
    (work / "bases.hex").write_text("".join(f"{b:016x}\n" for b in bases))
    for b in Buffer:
        (work / f"{ATTR[b]}.hex").write_text(rows_hex(batch.bufs[b]))
    (work / "mem.hex").write_text(rows_hex(batch.mem.reshape(-1, bus)))
    plus = {"n": len(batch.insns), "mem_base": f"{MEM_BASE:x}", "stall": stall, "seed": seed}
    run(bench, plus, cwd=work, timeout=120)
    res = [tuple(map(int, ln.split())) for ln in (work / "result.txt").read_text().splitlines()]
    bufs = {b: read_rows(work / f"{ATTR[b]}_out.hex", batch.bufs[b].shape[1]) for b in Buffer}
    mem = read_rows(work / "mem_out.hex", bus).ravel()
    return BenchResult(mem, bufs, [c for c, _ in res], [e for _, e in res])


def check_against_reference(batch: Batch, got: BenchResult) -> None:
    """Every byte of the regions, of the memory around them and of the buffers equals the simulator's."""
    want_regions, want_bufs = reference(batch)
    for r in batch.regs:
        np.testing.assert_array_equal(region_view(batch, got.mem, r), want_regions[r], err_msg=f"region {r}")
    outside = np.ones(MEM_BYTES, bool)
    for r in batch.regs:
        at = r * SLOT + batch.skew[r]
        outside[at : at + REGION_SIZE] = False
    np.testing.assert_array_equal(got.mem[outside], batch.mem[outside], err_msg="memory outside the regions")
    for b in Buffer:
        np.testing.assert_array_equal(got.bufs[b], want_bufs[b], err_msg=f"buffer {b.name}")
    assert got.errs == [0] * len(batch.insns)


# ---- the RTL's cycle formula -----------------------------------------------------------------------------

LOAD_OVERHEAD = 2  # start-to-done cycles beyond the slave latency and the data cycles (tataa_dma.sv header)
STORE_OVERHEAD = 4


def row_addresses(batch: Batch, insn: Instruction) -> list[int]:
    """Byte address of each row of `insn` on the bench."""
    base = MEM_BASE + insn["dram_reg"] * SLOT + batch.skew[insn["dram_reg"]]
    return [base + insn["dram_offset"] + y * insn["dram_stride"] for y in range(insn["rows"])]


def rtl_cycle_bounds(batch: Batch, insn: Instruction) -> tuple[int, int]:
    """Least and most start-to-done cycles of tataa_dma on tataa_axi_mem without stalls.

    Each row costs max(beats_y, words) with beats_y = ceil((a_y mod B + row_bytes) / B). A LOAD row whose
    last chunk lies in its last beat leaves that chunk pending for one cycle, which the next row hides only
    when its own first beat is misaligned. Exact (least = most) when buffer words gather whole beats (W >= B);
    when words scatter from beats, pending chunks may be hidden and one cycle of pipeline fill may show.
    """
    cfg = batch.cfg
    bus, n, lat = cfg.dma_bytes_per_cycle, cfg.array_size, cfg.dma_latency
    eb = EB[Buffer(insn["buf"])]
    row_bytes, words = insn["cols"] * eb, -(-insn["cols"] // n)
    chunks = -(-row_bytes // bus)
    load = insn.opcode is Opcode.LOAD
    base = lat + (LOAD_OVERHEAD if load else STORE_OVERHEAD)
    data = extra = 0
    pend = False  # the previous row left its last chunk pending
    for a in row_addresses(batch, insn):
        s = a % bus
        beats = -(-(s + row_bytes) // bus)
        data += max(beats, words)
        if load:
            extra += 1 if pend and s == 0 else 0
            pend = s != 0 and beats == chunks
    extra += 1 if pend else 0
    if n * eb >= bus:
        return base + data + extra, base + data + extra
    return base + data, base + data + extra + 1


# ---- tests -------------------------------------------------------------------------------------------------


def check_cycles(batch: Batch, cycles: list[int], stalled: bool = False) -> None:
    """Every instruction's cycles lie within rtl_cycle_bounds (only the least bound when the slave stalls)."""
    bad = []
    for k, (insn, got) in enumerate(zip(batch.insns, cycles, strict=True)):
        lo, hi = rtl_cycle_bounds(batch, insn)
        if got < lo or (got > hi and not stalled):
            bad.append((k, insn.opcode.name, insn.as_dict(), got, (lo, hi)))
    assert not bad, f"{len(bad)} cycle counts outside the formula (index, op, fields, rtl, bounds): {bad[:3]}"


@pytest.mark.parametrize("var", VARIANTS, ids=VARIANT_IDS)
def test_dma_matches_simulator_bit_for_bit(benches, tmp_path, var: Variant) -> None:
    batch = make_batch(var.cfg, seed=100 + var.bus_bytes, count=300, spare=7)
    got = run_bench(benches[var.name], batch, tmp_path)
    check_against_reference(batch, got)
    check_cycles(batch, got.cycles)


@pytest.mark.parametrize("var", VARIANTS, ids=VARIANT_IDS)
def test_dma_under_random_backpressure(benches, tmp_path, var: Variant) -> None:
    batch = make_batch(var.cfg, seed=200 + var.bus_bytes, count=150, spare=0)
    got = run_bench(benches[var.name], batch, tmp_path, stall=30, seed=var.bus_bytes)
    check_against_reference(batch, got)
    check_cycles(batch, got.cycles, stalled=True)
    assert sum(got.cycles) > sum(rtl_cycle_bounds(batch, i)[1] for i in batch.insns)  # the stalls did happen


@pytest.mark.parametrize("var", VARIANTS, ids=VARIANT_IDS)
def test_aligned_rows_cost_the_timing_model_plus_a_constant(benches, tmp_path, var: Variant) -> None:
    """With beat-aligned rows the RTL takes the timing model's LOAD/STORE duration plus a constant per opcode."""
    cfg, bus = var.cfg, var.bus_bytes
    rng = np.random.default_rng(300 + bus)
    batch = make_batch(cfg, seed=300 + bus, count=0, spare=7)
    insns = []
    while len(insns) < 100:
        insn = random_dma(rng, cfg, batch.regs)
        f = insn.as_dict()
        f["dram_offset"] -= f["dram_offset"] % bus
        f["dram_stride"] -= f["dram_stride"] % bus
        insns.append(make(insn.opcode, **f))
    batch = dataclasses.replace(batch, insns=insns, skew=dict.fromkeys(batch.regs, 0))
    got = run_bench(benches[var.name], batch, tmp_path)
    check_against_reference(batch, got)
    for op in (Opcode.LOAD, Opcode.STORE):
        over = {g - duration(i, cfg) for i, g in zip(insns, got.cycles, strict=True) if i.opcode is op}
        # beats gather into words: a constant; words scatter from beats: at most one cycle of pipeline fill too
        assert len(over) == 1 or (bus > cfg.array_size and max(over) - min(over) == 1), (op.name, sorted(over))
        assert min(over) >= 0


def test_empty_and_faulting_instructions(benches, tmp_path) -> None:
    """rows = 0 or cols = 0 move nothing and finish at once; an AXI error response raises err_o for its instruction."""
    var = VARIANTS[0]
    cfg = var.cfg
    rng = np.random.default_rng(400)
    batch = make_batch(cfg, seed=400, count=0, spare=7)
    good = random_dma(rng, cfg, [1], Opcode.LOAD, Buffer.VEC, rows=3)
    bad_load = random_dma(rng, cfg, [2], Opcode.LOAD, Buffer.ACC, rows=2)
    bad_store = random_dma(rng, cfg, [2], Opcode.STORE, Buffer.INP, rows=2)
    empty = [
        make(Opcode.LOAD, buf=int(Buffer.ACC), rows=0, cols=5, dram_reg=1, dram_offset=3, dram_stride=7),
        make(Opcode.STORE, buf=int(Buffer.VEC), rows=4, cols=0, dram_reg=1, dram_offset=3, dram_stride=7),
    ]
    batch = dataclasses.replace(batch, insns=[*empty, bad_load, good, bad_store, good])
    bases = [MEM_BASE + r * SLOT + batch.skew[r] for r in range(7)] + [0]
    bases[2] = MEM_BASE - 0x1_0000  # region 2 lies below the bench memory: every beat gets SLVERR
    got = run_bench(benches[var.name], batch, tmp_path, bases=bases)
    assert got.errs == [0, 0, 1, 0, 1, 0]
    assert got.cycles[:2] == [2, 2]
    np.testing.assert_array_equal(got.mem, batch.mem)  # nothing was stored
    _, want_bufs = reference(dataclasses.replace(batch, insns=[good]))
    np.testing.assert_array_equal(got.bufs[Buffer.VEC], want_bufs[Buffer.VEC])


def test_tools_accept_dma(tmp_path) -> None:
    """verilator --lint-only -Wall (both configurations, several bus widths), Yosys and iverilog accept tataa_dma."""
    problems = []
    for cfg_name, lint_args in (("tiny", ()), ("tiny", ("-GBusBytes=16",)), ("tiny", ("-GBusBytes=128",)),
                                ("u280", ())):  # fmt: skip
        srcs = [str(p) for p in rtl_sources(cfg_name, ["tataa_dma"])]
        problems += tool_checks("tataa_dma", srcs, tmp_path, lint_args, only_lint=bool(lint_args))
    assert not problems, "\n".join(problems)


def tool_checks(top: str, sources: list[str], work: Path, lint_args: tuple[str, ...] = (),
                only_lint: bool = False) -> list[str]:  # fmt: skip
    """Complaints of verilator -Wall, yosys and iverilog about `top` (a missing tool is a complaint too)."""
    cmds = {
        "verilator": ["verilator", "--lint-only", "-Wall", *lint_args, "--top-module", top, *sources],
        "yosys": ["yosys", "-q", "-p", f"read_verilog -sv {' '.join(sources)}; hierarchy -check -top {top}; proc; opt"],
        "iverilog": ["iverilog", "-g2012", "-s", top, "-o", str(work / f"{top}.vvp"), *sources],
    }
    problems = []
    for tool, cmd in cmds.items():
        if only_lint and tool != "verilator":
            continue
        if tool_path(tool) is None:
            problems.append(f"{tool}: not installed")
            continue
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=work, timeout=300)
        out = (res.stdout + res.stderr).strip()
        if res.returncode != 0 or out:
            problems.append(f"{tool} {' '.join(lint_args)} (exit {res.returncode}):\n{out[-3000:]}")
    return problems
