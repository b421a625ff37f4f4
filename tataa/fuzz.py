"""Random legal, race-free programs for differential testing (RTL against the simulator), and their analysis.

* :func:`footprint` — the buffer words and HBM bytes an instruction reads and writes (conservatively).
* :func:`happens_before` / :func:`races` — the order that program order and dependency tokens impose
  between units, and the cross-unit conflicts it leaves unordered (whose outcome would depend on timing).
* :func:`random_case` / :func:`random_program` — a random program drawn from the ISA spec, with random
  region images; every cross-unit conflict it creates is ordered by tokens, and every pop has an earlier
  matching push, so it cannot deadlock. The simulator accepts every program it returns.
* :func:`shrink` — drop instructions from a failing program while a predicate still holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tataa import config
from tataa.config import HwConfig
from tataa.errors import DeadlockError, SimError
from tataa.isa.spec import (
    NUM_CONST_REGS,
    VFUNCT_DEFS,
    Buffer,
    Instruction,
    Mode,
    Opcode,
    OutType,
    Unit,
    VFunct,
    VKind,
    make,
)
from tataa.program import DType, Program, Region, Role, TensorDesc
from tataa.sim.execute import compile_insn
from tataa.sim.simulator import Simulator
from tataa.sim.state import ELEM_BYTES, buffer_depth
from tataa.sim.timing import FIFOS, POP_FIFO, PUSH_FIFO

# ---- footprints ---------------------------------------------------------------------------------------------

_SPACE_SHIFT = 40  # key = space << 40 | address
_HBM_SPACE = 8  # HBM region r is space 8 + r; buffers are spaces 0..3 (Buffer values)


def _key(space: int, addr: np.ndarray) -> np.ndarray:
    return (np.int64(space) << _SPACE_SHIFT) | np.asarray(addr, np.int64)


def describe_key(key: int) -> str:
    """Human-readable name of a footprint key: `VEC word 12` or `HBM region 1 byte 37`."""
    space, addr = key >> _SPACE_SHIFT, key & ((1 << _SPACE_SHIFT) - 1)
    if space >= _HBM_SPACE:
        return f"HBM region {space - _HBM_SPACE} byte {addr}"
    return f"{Buffer(space).name} word {addr}"


@dataclass(frozen=True)
class Footprint:
    """Sorted, unique footprint keys an instruction reads and writes (see :func:`describe_key`)."""

    reads: np.ndarray
    writes: np.ndarray

    def conflict(self, other: Footprint) -> int | None:
        """A key one of the two writes and the other reads or writes, or None if they commute."""
        for w, rw in ((self.writes, (other.reads, other.writes)), (other.writes, (self.reads,))):
            for r in rw:
                common = np.intersect1d(w, r, assume_unique=True)
                if common.size:
                    return int(common[0])
        return None


def _grid(base: int, *terms: tuple[int, int]) -> np.ndarray:
    out = np.full((), base, np.int64)
    for count, stride in terms:
        out = out[..., None] + np.arange(count, dtype=np.int64) * stride
    return out.ravel()


def _words(buf: Buffer, base: int, *terms: tuple[int, int]) -> np.ndarray:
    return _key(int(buf), _grid(base, *terms))


def _hbm_bytes(f: Mapping[str, int], eb: int) -> np.ndarray:
    return _key(_HBM_SPACE + f["dram_reg"], _grid(f["dram_offset"], (f["rows"], f["dram_stride"]), (f["cols"] * eb, 1)))


def _fp(reads: Sequence[np.ndarray], writes: Sequence[np.ndarray]) -> Footprint:
    def norm(parts: Sequence[np.ndarray]) -> np.ndarray:
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    return Footprint(norm(reads), norm(writes))


def footprint(insn: Instruction, cfg: HwConfig) -> Footprint:
    """Buffer words and HBM bytes `insn` may read and writes, per docs/semantics.md (a superset, never less)."""
    f, op, n = insn.as_dict(), insn.opcode, cfg.array_size
    if op in (Opcode.LOAD, Opcode.STORE):
        if f["rows"] == 0 or f["cols"] == 0:
            return _fp([], [])
        buf = Buffer(f["buf"])
        words = _words(buf, f["sram_base"], (f["rows"], f["sram_ystride"]), (-(-f["cols"] // n), f["sram_wstride"]))
        hbm = _hbm_bytes(f, ELEM_BYTES[buf])
        return _fp([hbm], [words]) if op is Opcode.LOAD else _fp([words], [hbm])
    if op is Opcode.GEMM:
        rows, kt, nt = f["rows"], f["ktiles"], f["ntiles"]
        if rows == 0 or nt == 0:
            return _fp([], [])
        acc = _words(Buffer.ACC, f["acc_base"], (nt, f["acc_nstride"]), (rows, 1))
        reads = [acc] if not f["clear"] or kt == 0 else []
        if kt:
            reads.append(_words(Buffer.INP, f["inp_base"], (kt, f["inp_kstride"]), (rows, 1)))
            reads.append(_words(Buffer.WGT, f["wgt_base"], (nt * kt * n, 1)))
        return _fp(reads, [acc])
    if op is Opcode.REQUANT:
        tiles, rows = f["tiles"], f["rows"]
        if tiles == 0 or rows == 0:
            return _fp([], [])
        dbuf = Buffer.INP if f["out_type"] == OutType.INT8 else Buffer.VEC
        src = _words(Buffer.ACC, f["acc_base"], (tiles, f["acc_tstride"]), (rows, 1))
        scale = _words(Buffer.ACC, f["scale_base"], (tiles, f["scale_tstride"]))
        dst = _words(dbuf, f["dst_base"], (tiles, f["dst_tstride"]), (rows, f["dst_mstride"]))
        return _fp([src, scale], [dst])
    if op is Opcode.VOP:
        outer, inner = f["outer"], f["inner"]
        if outer == 0 or inner == 0:
            return _fp([], [])
        kind = VFUNCT_DEFS[VFunct(f["funct"])].kind

        def operand(x: str, buf: Buffer = Buffer.VEC) -> np.ndarray:
            return _words(buf, f[f"{x}_base"], (outer, f[f"{x}_ostride"]), (inner, f[f"{x}_istride"]))

        reads = [operand("a")]
        if kind in (VKind.BINARY, VKind.TERNARY_CONST, VKind.TERNARY_DST, VKind.TO_INT8) and not f["b_const"]:
            reads.append(operand("b"))
        if kind is VKind.REDUCE:
            dst = _words(Buffer.VEC, f["dst_base"], (outer, f["dst_ostride"]))
        else:
            dst = operand("dst", Buffer.INP if kind is VKind.TO_INT8 else Buffer.VEC)
        if kind is VKind.TERNARY_DST:
            reads.append(dst)
        return _fp(reads, [dst])
    return _fp([], [])  # SETC, MODE, NOP, FINISH: unit-internal state only


# ---- happens-before and races --------------------------------------------------------------------------------


def _unit(insn: Instruction) -> Unit:
    try:
        return insn.unit
    except ValueError:
        raise SimError(f"NOP unit field {insn['unit']} names no unit", None) from None


def happens_before(program: Program) -> list[tuple[int, int, int]]:
    """Vector clocks: entry u of instruction i is the last position in unit u's sequence that happens before
    (or is) i, -1 if none. Edges: program order within a unit, and k-th push -> k-th pop of each token FIFO.

    Raises DeadlockError if some pop has no matching push or the token waits form a cycle.
    """
    insns = program.instructions
    units = [_unit(i) for i in insns]
    seq: list[list[int]] = [[], [], []]
    pos = [0] * len(insns)
    for i, u in enumerate(units):
        pos[i] = len(seq[u])
        seq[u].append(i)
    pushers: list[list[int]] = [[], [], [], []]
    pops: list[list[int]] = []
    for i, (insn, u) in enumerate(zip(insns, units, strict=True)):
        for fl in ("push_prev", "push_next"):
            if insn[fl] and (u, fl) in PUSH_FIFO:
                pushers[PUSH_FIFO[u, fl]].append(i)
        pops.append([POP_FIFO[u, fl] for fl in ("pop_prev", "pop_next") if insn[fl] and (u, fl) in POP_FIFO])
    vc: list[tuple[int, int, int] | None] = [None] * len(insns)
    popped = [0, 0, 0, 0]
    head = [0, 0, 0]
    done = 0
    while done < len(insns):
        progress = False
        for u in range(3):
            while head[u] < len(seq[u]):
                i = seq[u][head[u]]
                sources = []
                for fi in pops[i]:
                    k = popped[fi]
                    if k >= len(pushers[fi]) or vc[pushers[fi][k]] is None:
                        break
                    sources.append(pushers[fi][k])
                else:
                    clock = [-1, -1, -1] if head[u] == 0 else list(vc[seq[u][head[u] - 1]])  # type: ignore[arg-type]
                    for s in sources:
                        clock = [max(a, b) for a, b in zip(clock, vc[s], strict=True)]  # type: ignore[arg-type]
                    clock[u] = pos[i]
                    vc[i] = (clock[0], clock[1], clock[2])
                    for fi in pops[i]:
                        popped[fi] += 1
                    head[u] += 1
                    done += 1
                    progress = True
                    continue
                break
        if not progress:
            stuck = [f"{Unit(u).name} at #{seq[u][head[u]]}" for u in range(3) if head[u] < len(seq[u])]
            raise DeadlockError(f"token order cannot be satisfied: {', '.join(stuck)} wait for tokens never pushed")
    return [c for c in vc if c is not None]


@dataclass(frozen=True)
class Race:
    """Two instructions of different units that touch `resource` (one writing it) in no fixed order."""

    first: int
    second: int
    resource: str


def races(program: Program, cfg: HwConfig | None = None) -> list[Race]:
    """Every pair of instructions on different units whose footprints conflict and that neither program order
    nor dependency tokens order; an empty list means the program's result does not depend on timing.

    `cfg` defaults to the program's configuration. Raises DeadlockError if the tokens cannot be matched.
    """
    cfg = cfg if cfg is not None else config.load(program.config_name)
    vc = happens_before(program)
    insns = program.instructions
    units = [int(_unit(i)) for i in insns]
    fps = [footprint(i, cfg) for i in insns]
    active = [i for i, fp in enumerate(fps) if fp.reads.size or fp.writes.size]
    out = []
    for a_pos, i in enumerate(active):
        for j in active[a_pos + 1 :]:
            ui, uj = units[i], units[j]
            if ui == uj or vc[j][ui] >= vc[i][ui] or vc[i][uj] >= vc[j][uj]:
                continue
            key = fps[i].conflict(fps[j])
            if key is not None:
                out.append(Race(i, j, describe_key(key)))
    return out


# ---- random data --------------------------------------------------------------------------------------------

# bf16 patterns the datapath must get right, by class: zeros (signed, and subnormals read as zeros), infinities,
# NaNs (canonical, negative, signalling), range extremes, and exact / rounding / conversion boundaries.
BF16_CLASSES: tuple[tuple[int, ...], ...] = (
    (0x0000, 0x8000, 0x0001, 0x807F, 0x0040, 0x8001),
    (0x7F80, 0xFF80),
    (0x7FC0, 0xFFC0, 0x7F81, 0xFFFF),
    (0x7F7F, 0xFF7F, 0x7F00, 0x0080, 0x8080, 0x0081),
    (0x3F80, 0xBF80, 0x3F00, 0xBF00, 0x3FC0, 0x4020, 0xC020, 0x3EC0),
    (0x4B00, 0x4AFF, 0x3EFF, 0x42FE, 0x4300, 0xC300, 0xC302, 0x42FF),
    (0x5F80, 0xDF80, 0x1F80, 0x2000, 0x1FFF, 0x6000),
)
BF16_SPECIALS: tuple[int, ...] = tuple(v for cls in BF16_CLASSES for v in cls)
_CHUNK = 64  # bytes of one flavoured chunk of a region image


def _bf16_mix(rng: np.random.Generator, count: int) -> np.ndarray:
    """bf16 patterns: moderate normals, specials, small integers and raw random bits."""
    sign = rng.integers(0, 2, count, dtype=np.uint16) << 15
    normal = sign | (rng.integers(118, 137, count, dtype=np.uint16) << 7) | rng.integers(0, 128, count, np.uint16)
    special = np.asarray(BF16_SPECIALS, np.uint16)[rng.integers(0, len(BF16_SPECIALS), count)]
    ints = np.asarray(rng.integers(-300, 300, count), np.float32).view(np.uint32) >> 16
    raw = rng.integers(0, 1 << 16, count, dtype=np.uint16)
    pick = rng.choice(4, count, p=[0.45, 0.2, 0.15, 0.2])
    return np.choose(pick, [normal, special, ints.astype(np.uint16), raw]).astype(np.uint16)


def _scale_words(rng: np.random.Generator, count: int) -> np.ndarray:
    """Packed requantization scales: multiplier in bits 15:0 (random, small, a power of two or an odd number
    times one), shift in 21:16 (mostly moderate; small shifts make rounding ties common), junk elsewhere.
    Half the time every word has the same kind of multiplier and of shift."""
    odd = rng.integers(0, 1 << 8, count) | 1
    ms = [rng.integers(0, 1 << 16, count), rng.integers(0, 17, count), 1 << rng.integers(0, 16, count),
          (odd << rng.integers(0, 8, count)) & 0xFFFF]  # fmt: skip
    ss = [
        rng.integers(6, 28, count),
        rng.integers(0, 6, count),
        rng.integers(28, 48, count),
        rng.integers(48, 64, count),
    ]
    coherent = rng.random() < 0.5
    m_kind = np.full(count, rng.integers(0, 4)) if coherent else rng.choice(4, count, p=[0.4, 0.2, 0.2, 0.2])
    s_kind = np.full(count, rng.integers(0, 4)) if coherent else rng.choice(4, count, p=[0.5, 0.2, 0.2, 0.1])
    m = np.choose(m_kind, ms).astype(np.uint32)
    s = np.choose(s_kind, ss).astype(np.uint32)
    junk = rng.integers(0, 1 << 10, count, dtype=np.uint32) << 22
    return m | (s << 16) | junk


def random_image(
    rng: np.random.Generator, size: int, requant_first: bool = False, specials: float = 0.25
) -> np.ndarray:
    """A region image of 64-byte chunks, each bf16 (mixed, or with probability `specials` from two special
    classes only, so that specials meet specials in one lane), raw bytes, small int32 or scale words.
    `requant_first`: chunk 0 holds scale words and chunks 1, 2 small int32 (see REQUANT_SCALES, REQUANT_ACC)."""
    chunks = []
    rest = np.array([0.35, 0.1, 0.15, 0.15])
    p = [*(rest / rest.sum() * (1 - specials)), specials]
    for c in range(-(-size // _CHUNK)):
        kind = int(rng.choice(5, p=p))
        if requant_first and c < 3:
            kind = 3 if c == 0 else 2
        if kind == 4:  # a few special classes only, so that specials meet specials in one lane
            classes = rng.choice(len(BF16_CLASSES), 2, replace=False)
            alphabet = np.asarray([v for k in classes for v in BF16_CLASSES[k]], np.uint16)
            chunk = alphabet[rng.integers(0, alphabet.size, _CHUNK // 2)].view(np.uint8)
        elif kind == 0:
            chunk = _bf16_mix(rng, _CHUNK // 2).view(np.uint8)
        elif kind == 1:
            chunk = rng.integers(0, 256, _CHUNK, dtype=np.uint8)
        elif kind == 2:
            bound = 1 << int(rng.choice([3, 7]) if requant_first and c < 3 else rng.choice([3, 7, 12, 20, 31]))
            chunk = rng.integers(-bound, bound, _CHUNK // 4).astype("<i4").view(np.uint8)
        else:
            chunk = _scale_words(rng, _CHUNK // 4).astype("<u4").view(np.uint8)
        chunks.append(chunk)
    return np.concatenate(chunks)[:size].copy()


# ---- the generator ------------------------------------------------------------------------------------------

L2C, C2L, C2S, S2C = range(4)
# FIFO from unit a to unit b, with the push flag on a and the pop flag on b.
_LINK: dict[tuple[Unit, Unit], tuple[int, str, str]] = {
    (Unit.LOAD, Unit.COMPUTE): (L2C, "push_next", "pop_prev"),
    (Unit.COMPUTE, Unit.LOAD): (C2L, "push_prev", "pop_next"),
    (Unit.COMPUTE, Unit.STORE): (C2S, "push_next", "pop_prev"),
    (Unit.STORE, Unit.COMPUTE): (S2C, "push_prev", "pop_next"),
}
_FIFO_POPPER = {fi: (b, pop) for (a, b), (fi, _, pop) in _LINK.items()}
LOW_WINDOW = 64  # most buffer addresses fall in words [0, 64) ...
HIGH_WINDOW = 16  # ... or in the last 16 words of the buffer (exercising the high address bits)
REQUANT_SCALES = 2  # ACC words of scales loaded by the prologue (chunk 0 of the first region)
REQUANT_ACC = 4  # ACC words of small accumulators loaded by the prologue (chunks 1 and 2)
DUMP_REGION = 7  # region receiving the final dump of both windows of every buffer
_MIX = {
    Opcode.LOAD: 0.19, Opcode.STORE: 0.13, Opcode.GEMM: 0.13, Opcode.REQUANT: 0.11, Opcode.VOP: 0.27,
    Opcode.SETC: 0.06, Opcode.MODE: 0.04, Opcode.NOP: 0.07,
}  # fmt: skip


@dataclass(frozen=True)
class FuzzCase:
    """A generated program (region images are its regions' init bytes) and how many drafts were redrawn."""

    program: Program
    redraws: int  # instruction drafts the simulator's checks refused (address, hazard) and drew again

    @property
    def images(self) -> dict[int, np.ndarray]:
        """The initial image of every region."""
        return {r.index: np.frombuffer(r.init, np.uint8).copy() for r in self.program.regions}


@dataclass
class _Builder:
    rng: np.random.Generator
    cfg: HwConfig
    regions: dict[int, Region]
    insns: list[Instruction] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    fps: list[Footprint] = field(default_factory=list)
    vc: list[tuple[int, int, int]] = field(default_factory=list)
    seq: list[list[int]] = field(default_factory=lambda: [[], [], []])
    pushers: list[list[int]] = field(default_factory=lambda: [[], [], [], []])
    popped: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    mode: Mode = Mode.SYSTOLIC
    redraws: int = 0
    recent: dict[Buffer, list[int]] = field(default_factory=lambda: {b: [] for b in Buffer})
    scale_base: int = 0
    acc_base: int = 0

    # -- token bookkeeping
    def _last(self, u: Unit) -> int | None:
        return self.seq[u][-1] if self.seq[u] else None

    def _set_flag(self, i: int, name: str) -> None:
        d = self.insns[i].as_dict()
        d[name] = 1
        self.insns[i] = make(self.insns[i].opcode, **d)

    def _push_from_last(self, src: Unit, dst: Unit) -> int:
        """Make the last instruction of `src` (or a NOP after it) push towards `dst`; returns that push's index."""
        fi, push, _ = _LINK[src, dst]
        last = self._last(src)
        assert last is not None
        fresh = self.pushers[fi] and self.pushers[fi][-1] == last and self.popped[fi] < len(self.pushers[fi])
        if not fresh:
            if self.insns[last][push]:  # its token was taken already: a NOP pushes a new one
                self.append(make(Opcode.NOP, unit=int(src), **{push: 1}))
            else:
                self._set_flag(last, push)
                self.pushers[fi].append(last)
        return len(self.pushers[fi]) - 1

    def _sync(self, src: Unit, dst: Unit, flags: dict[str, int]) -> None:
        """Order the last instruction of `src` before the instruction about to be appended to `dst`."""
        fi, _, pop = _LINK[src, dst]
        k = self._push_from_last(src, dst)
        while self.popped[fi] < k:  # older tokens on the FIFO: NOPs on `dst` consume them first
            self.append(make(Opcode.NOP, unit=int(dst), **{pop: 1}))
        flags[pop] = 1

    def _ordered(self, vc: Sequence[int], u: Unit, fp: Footprint) -> bool:
        """Whether every instruction of unit `u` conflicting with `fp` happens before a clock `vc`."""
        for i in reversed(self.seq[u]):
            if self.vc[i][u] <= vc[u]:
                return True
            if self.fps[i].conflict(fp) is not None:
                return False
        return True

    def _clock(self, u: Unit, flags: Mapping[str, int]) -> list[int]:
        last = self._last(u)
        clock = [-1, -1, -1] if last is None else list(self.vc[last])
        for fl in ("pop_prev", "pop_next"):
            if flags.get(fl) and (u, fl) in POP_FIFO:
                fi = POP_FIFO[u, fl]
                src = self.vc[self.pushers[fi][self.popped[fi]]]
                clock = [max(a, b) for a, b in zip(clock, src, strict=True)]
        return clock

    def append(self, insn: Instruction) -> None:
        """Append `insn` as it is (its pops must have matching pushes); update clocks and token counts."""
        u = insn.unit
        flags = insn.as_dict()
        clock = self._clock(u, flags)
        for fl in ("pop_prev", "pop_next"):
            if flags.get(fl) and (u, fl) in POP_FIFO:
                self.popped[POP_FIFO[u, fl]] += 1
        i = len(self.insns)
        clock[u] = len(self.seq[u])
        self.insns.append(insn)
        self.units.append(u)
        self.fps.append(footprint(insn, self.cfg))
        self.vc.append((clock[0], clock[1], clock[2]))
        self.seq[u].append(i)
        for fl in ("push_prev", "push_next"):
            if flags.get(fl) and (u, fl) in PUSH_FIFO:
                self.pushers[PUSH_FIFO[u, fl]].append(i)

    def emit(self, opcode: Opcode, fields: dict[str, int]) -> None:
        """Append an instruction after the tokens that order it after every conflicting one of other units,
        with random extra pops of outstanding tokens and random pushes."""
        draft = make(opcode, **fields)
        u = draft.unit
        fp = footprint(draft, self.cfg)
        flags: dict[str, int] = {}
        base = self._clock(u, flags)
        need = {v: not self._ordered(base, v, fp) for v in Unit if v != u}
        if u is Unit.COMPUTE:
            for v in (Unit.LOAD, Unit.STORE):
                if need[v]:
                    self._sync(v, u, flags)
        else:
            far = Unit.STORE if u is Unit.LOAD else Unit.LOAD
            if need[far]:  # relay through a COMPUTE NOP
                relay: dict[str, int] = {}
                self._sync(far, Unit.COMPUTE, relay)
                self.append(make(Opcode.NOP, unit=int(Unit.COMPUTE), **relay))
                need[Unit.COMPUTE] = True
            if need[Unit.COMPUTE]:
                self._sync(Unit.COMPUTE, u, flags)
        for fi, (popper, pop) in _FIFO_POPPER.items():  # random pops of tokens pushed earlier
            outstanding = self.popped[fi] < len(self.pushers[fi])
            if popper is u and not flags.get(pop) and outstanding and self.rng.random() < 0.25:
                flags[pop] = 1
        for (src, _), (_, push, _) in _LINK.items():  # random pushes, popped later or left over
            if src is u and opcode is not Opcode.FINISH and self.rng.random() < 0.12:
                flags[push] = 1
        self.append(make(opcode, **{**fields, **flags}))

    # -- field drawing
    def _r(self, lo: int, hi: int) -> int:
        """Uniform integer in [lo, hi]."""
        return int(self.rng.integers(lo, hi + 1))

    def _choice(self, options: Sequence[int]) -> int:
        return int(options[int(self.rng.integers(0, len(options)))])

    def _base(self, buf: Buffer, span: int) -> int | None:
        """A first word such that words base..base+span lie in the buffer, mostly in one of its two windows."""
        depth = buffer_depth(self.cfg, buf)
        if span >= depth:
            return None
        roll = self.rng.random()
        recent = self.recent[buf]
        if roll < 0.35 and recent:
            b = self._choice(recent[-6:]) + self._r(-2, 2)
            if 0 <= b <= depth - 1 - span:
                return b
        if roll < 0.85 and span < LOW_WINDOW:
            return self._r(0, LOW_WINDOW - 1 - span)
        if roll < 0.97 and span < HIGH_WINDOW:
            return self._r(depth - HIGH_WINDOW, depth - 1 - span)
        return self._r(0, depth - 1 - span)

    def _checked(self, opcode: Opcode, fields: dict[str, int]) -> bool:
        """Whether the simulator's per-instruction checks (ranges, hazards) accept the draft."""
        try:
            compile_insn(len(self.insns), make(opcode, **fields), self.cfg, self.regions)
        except SimError:
            self.redraws += 1
            return False
        return True

    def _dma(self, opcode: Opcode, buf: Buffer | None = None) -> dict[str, int] | None:
        n = self.cfg.array_size
        buf = Buffer(self._r(0, 3)) if buf is None else buf
        eb = ELEM_BYTES[buf]
        degenerate, big = self.rng.random() < 0.03, self.rng.random() < 0.05
        cols = 0 if degenerate and self.rng.random() < 0.5 else self._r(n if big else 1, (4 if big else 3) * n)
        rows = 0 if degenerate and cols else self._r(8, 40) if big else self._r(1, 6)
        nwords = max(1, -(-cols // n))
        ws = 1 if big else self._choice([1, 1, 1, 1, 2, 3, 0, self._r(1, 12)])
        wide = self._r(17, 300)
        ys = self._choice([nwords * max(ws, 1), nwords * max(ws, 1), 1, 0, self._r(1, 16), nwords * ws + self._r(1, 4),
                           wide])  # fmt: skip
        if big:
            ys = nwords
        span = max(rows - 1, 0) * ys + (nwords - 1) * ws
        base = self._base(buf, span)
        if base is None:
            return None
        region = self.regions[self._choice(sorted(i for i in self.regions if i != DUMP_REGION))]
        row_bytes = cols * eb
        stride = self._choice([row_bytes, row_bytes, row_bytes + self._r(1, 24), self._r(0, max(row_bytes, 1)), 0,
                               -(-row_bytes // 8) * 8])  # fmt: skip
        if big:
            stride = row_bytes
        need = max(rows - 1, 0) * stride + row_bytes
        if need > region.size:
            return None
        offset = self._r(0, region.size - need)
        if self.rng.random() < 0.3:
            offset -= offset % self._choice([2, 4, 8])
        f = dict(buf=int(buf), sram_base=base, sram_ystride=ys, sram_wstride=ws, rows=rows, cols=cols,
                 dram_reg=region.index, dram_offset=offset, dram_stride=stride)  # fmt: skip
        if opcode is Opcode.LOAD and rows and cols:
            self.recent[buf].append(base)
        return f

    def _gemm(self) -> dict[str, int] | None:
        n = self.cfg.array_size
        rows = 0 if self.rng.random() < 0.02 else self._r(1, self._choice([10, 10, 24]))
        kt = 0 if self.rng.random() < 0.08 else self._r(1, 3)
        nt = 0 if self.rng.random() < 0.03 else self._r(1, 3)
        iks = self._choice([rows, rows, 0, self._r(1, 20)])
        ans = self._choice([rows, rows, 0, self._r(1, rows + 8)])
        ib = self._base(Buffer.INP, max(rows - 1, 0) + max(kt - 1, 0) * iks)
        wb = self._base(Buffer.WGT, max(nt * kt * n - 1, 0))
        ab = self._base(Buffer.ACC, max(rows - 1, 0) + max(nt - 1, 0) * ans)
        if ib is None or wb is None or ab is None:
            return None
        if rows and nt:
            self.recent[Buffer.ACC].append(ab)
        return dict(clear=self._r(0, 1), rows=rows, ktiles=kt, ntiles=nt, inp_base=ib, inp_kstride=iks,
                    wgt_base=wb, acc_base=ab, acc_nstride=ans)  # fmt: skip

    def _requant(self) -> dict[str, int] | None:
        out = OutType(self._r(0, 1))
        dbuf = Buffer.INP if out is OutType.INT8 else Buffer.VEC
        tiles, rows = self._r(1, 3), self._r(1, 8)
        ats = self._choice([rows, rows, 0, self._r(1, 12)])
        sts = self._r(0, 1)
        dts = self._choice([rows, rows, 0, 1, self._r(1, 16)])
        dms = self._choice([1, 1, 1, 0, 2, self._r(1, 8)])
        span = rows - 1 + (tiles - 1) * ats
        if self.rng.random() < 0.4 and span < REQUANT_ACC:
            ab: int | None = self.acc_base + self._r(0, REQUANT_ACC - 1 - span)
        else:
            ab = self._base(Buffer.ACC, span)
        if self.rng.random() < 0.7 and sts * (tiles - 1) < REQUANT_SCALES:
            sb: int | None = self.scale_base + self._r(0, REQUANT_SCALES - 1 - sts * (tiles - 1))
        else:
            sb = self._base(Buffer.ACC, sts * (tiles - 1))
        db = self._base(dbuf, (tiles - 1) * dts + (rows - 1) * dms)
        if ab is None or sb is None or db is None:
            return None
        self.recent[dbuf].append(db)
        return dict(out_type=int(out), tiles=tiles, rows=rows, acc_base=ab, acc_tstride=ats, scale_base=sb,
                    scale_tstride=sts, dst_base=db, dst_tstride=dts, dst_mstride=dms)  # fmt: skip

    def _vop(self, funct: VFunct) -> dict[str, int] | None:
        kind = VFUNCT_DEFS[funct].kind
        outer, inner = self._r(1, 4), self._r(1, 6)
        if self.rng.random() < 0.02:
            outer, inner = self._choice([0, outer]), 0
        f: dict[str, int] = dict(funct=int(funct), outer=outer, inner=inner, c_idx=self._r(0, NUM_CONST_REGS - 1))
        for x in ("a", "b", "dst"):
            ist = self._choice([1, 1, 0]) if inner > 1 else self._r(0, 1)
            ost = self._choice([inner * ist, inner * ist, inner * ist + self._r(1, 4), 0, self._r(0, 24)])
            f[f"{x}_istride"], f[f"{x}_ostride"] = ist, ost
        if kind is VKind.REDUCE:
            f["dst_ostride"] = self._choice([1, 1, self._r(1, 8)])
        else:
            f["dst_istride"] = 1 if inner > 1 else f["dst_istride"]
            f["dst_ostride"] = self._choice([inner, inner, inner + self._r(1, 4), self._r(0, 24)])
        for x in ("a", "b", "dst"):
            buf = Buffer.INP if x == "dst" and kind is VKind.TO_INT8 else Buffer.VEC
            span = max(outer - 1, 0) * f[f"{x}_ostride"] + max(inner - 1, 0) * f[f"{x}_istride"]
            if x == "dst" and kind is VKind.REDUCE:
                span = max(outer - 1, 0) * f["dst_ostride"]
            b = self._base(buf, span)
            if b is None:
                return None
            f[f"{x}_base"] = b
        if self.rng.random() < 0.4:  # b next to a: both loaded from one image chunk, so their specials meet
            b = f["a_base"] + self._r(-3, 3)
            last = b + max(outer - 1, 0) * f["b_ostride"] + max(inner - 1, 0) * f["b_istride"]
            if b >= 0 and last < buffer_depth(self.cfg, Buffer.VEC):
                f["b_base"] = b
        uses_b = kind in (VKind.BINARY, VKind.TERNARY_CONST, VKind.TERNARY_DST, VKind.TO_INT8)
        f["b_const"] = int(self.rng.random() < (0.3 if uses_b else 0.1))
        if f["b_const"]:
            f["b_base"] = self._r(0, NUM_CONST_REGS - 1)
        if kind not in (VKind.REDUCE, VKind.TO_INT8) and self.rng.random() < 0.2:  # in place
            for s in ("base", "ostride", "istride"):
                f[f"dst_{s}"] = f[f"a_{s}"]
        if outer and inner:
            self.recent[Buffer.INP if kind is VKind.TO_INT8 else Buffer.VEC].append(f["dst_base"])
        return f

    def draw(self, opcode: Opcode) -> None:
        """Draw fields for one instruction of `opcode` until the simulator accepts them; append it."""
        if opcode is Opcode.GEMM and self.mode is not Mode.SYSTOLIC:
            self.set_mode(Mode.SYSTOLIC)
        if opcode is Opcode.VOP and self.mode is not Mode.SIMD:
            self.set_mode(Mode.SIMD)
        funct = VFunct(self._r(0, len(VFunct) - 1))
        for _ in range(50):
            if opcode in (Opcode.LOAD, Opcode.STORE):
                f = self._dma(opcode)
            elif opcode is Opcode.GEMM:
                f = self._gemm()
            elif opcode is Opcode.REQUANT:
                f = self._requant()
            elif opcode is Opcode.VOP:
                f = self._vop(funct)
            elif opcode is Opcode.SETC:
                value = self._choice(BF16_SPECIALS) if self.rng.random() < 0.5 else int(_bf16_mix(self.rng, 1)[0])
                f = dict(idx=self._r(0, NUM_CONST_REGS - 1), value=value)
            elif opcode is Opcode.NOP:
                f = dict(unit=self._r(0, 2))
            else:
                raise ValueError(f"draw() does not draw {opcode.name}")
            if f is not None and self._checked(opcode, f):
                self.emit(opcode, f)
                return
            if f is None:
                self.redraws += 1
        raise SimError(f"no legal {opcode.name} found in 50 drafts")

    def burst(self) -> None:
        """A run of cheap instructions for one unit (NOPs, or SETCs on COMPUTE), long enough to fill its queue."""
        unit = Unit(self._r(0, 2))
        for _ in range(self._r(8, 3 * self.cfg.insn_queue_depth // 2)):
            if unit is Unit.COMPUTE and self.rng.random() < 0.5:
                self.draw(Opcode.SETC)
            else:
                self.emit(Opcode.NOP, dict(unit=int(unit)))

    def set_mode(self, mode: Mode) -> None:
        """Append a MODE instruction."""
        self.emit(Opcode.MODE, dict(mode=int(mode)))
        self.mode = mode

    def fill(self) -> None:
        """LOAD both address windows of every buffer from random places of the data regions."""
        n = self.cfg.array_size
        data = sorted(i for i in self.regions if i != DUMP_REGION)
        for buf in Buffer:
            row_bytes, depth = n * ELEM_BYTES[buf], buffer_depth(self.cfg, buf)
            for base, rows in ((0, LOW_WINDOW), (depth - HIGH_WINDOW, HIGH_WINDOW)):
                region = self.regions[self._choice(data)]
                stride = min(row_bytes, (region.size - row_bytes) // (rows - 1))
                offset = self._r(0, region.size - row_bytes - (rows - 1) * stride)
                f = dict(buf=int(buf), sram_base=base, sram_ystride=1, sram_wstride=1, rows=rows, cols=n,
                         dram_reg=region.index, dram_offset=offset, dram_stride=stride)  # fmt: skip
                self.emit(Opcode.LOAD, f)

    def dump(self) -> None:
        """STORE both address windows of every buffer into the dump region, so all buffer state is visible."""
        n, off = self.cfg.array_size, 0
        for buf in Buffer:
            eb, depth = ELEM_BYTES[buf], buffer_depth(self.cfg, buf)
            for base, rows in ((0, LOW_WINDOW), (depth - HIGH_WINDOW, HIGH_WINDOW)):
                f = dict(buf=int(buf), sram_base=base, sram_ystride=1, sram_wstride=1, rows=rows, cols=n,
                         dram_reg=DUMP_REGION, dram_offset=off, dram_stride=n * eb)  # fmt: skip
                self.emit(Opcode.STORE, f)
                off += rows * n * eb


def dump_bytes(cfg: HwConfig) -> int:
    """Size of the dump region: both windows of every buffer."""
    return (LOW_WINDOW + HIGH_WINDOW) * cfg.array_size * sum(ELEM_BYTES[b] for b in Buffer)


def _regions(rng: np.random.Generator, cfg: HwConfig) -> list[Region]:
    count = int(rng.integers(2, 4))
    indices = sorted(int(i) for i in rng.choice(DUMP_REGION, count, replace=False))
    specials = 0.7 if rng.random() < 0.3 else 0.25  # some streams are mostly special values
    out = []
    for k, idx in enumerate(indices):
        size = int(rng.integers(256, 1537) if rng.random() < 0.8 else rng.integers(4000, 9000))
        image = random_image(rng, size, requant_first=k == 0, specials=specials)
        out.append(Region(idx, f"data{idx}", size, image.tobytes()))
    dump = dump_bytes(cfg)
    out.append(Region(DUMP_REGION, "dump", dump, random_image(rng, dump).tobytes()))
    return out


def _tensors(cfg: HwConfig, regions: Sequence[Region]) -> tuple[TensorDesc, ...]:
    """Names for mismatch reports: each data region as bytes, the dump region as one tensor per window."""
    out = []
    for r in regions:
        if r.index != DUMP_REGION:
            out.append(TensorDesc(f"{r.name}_bytes", Role.OUTPUT, r.index, 0, (r.size,), DType.INT8))
    n, off = cfg.array_size, 0
    dtypes = {Buffer.INP: DType.INT8, Buffer.WGT: DType.INT8, Buffer.ACC: DType.INT32, Buffer.VEC: DType.BF16}
    for buf in Buffer:
        for label, rows in (("low", LOW_WINDOW), ("high", HIGH_WINDOW)):
            dt = dtypes[buf]
            out.append(TensorDesc(f"dump_{buf.name.lower()}_{label}", Role.OUTPUT, DUMP_REGION, off, (rows, n), dt))
            off += rows * n * dt.nbytes
    return tuple(out)


def random_case(rng: np.random.Generator, cfg: HwConfig, n_insns: int = 20) -> FuzzCase:
    """A random legal, race-free program of about `n_insns` drawn instructions (plus the tokens, MODE switches,
    prologue loads and final dump that keep it legal and observable), and its region images."""
    for _ in range(20):
        regions = _regions(rng, cfg)
        b = _Builder(rng, cfg, {r.index: r for r in regions})
        first = min(r.index for r in regions)
        n = cfg.array_size
        b.fill()
        # REQUANT's favourite operands: scale words and small accumulators (rounding ties, no saturation).
        b.scale_base = b._base(Buffer.ACC, REQUANT_SCALES - 1) or 0
        b.acc_base = b._base(Buffer.ACC, REQUANT_ACC - 1) or 0
        for base, rows, offset in ((b.scale_base, REQUANT_SCALES, 0), (b.acc_base, REQUANT_ACC, _CHUNK)):
            b.emit(Opcode.LOAD, dict(buf=int(Buffer.ACC), sram_base=base, sram_ystride=1, sram_wstride=1, rows=rows,
                                     cols=n, dram_reg=first, dram_offset=offset, dram_stride=4 * n))  # fmt: skip
        ops, weights = list(_MIX), np.array(list(_MIX.values()))
        for op in rng.choice(len(ops), n_insns, p=weights / weights.sum()):
            opcode = ops[int(op)]
            if rng.random() < 0.03:
                b.burst()
            if opcode is Opcode.MODE:
                b.set_mode(Mode(int(rng.integers(0, 2))))
            else:
                b.draw(opcode)
        b.dump()
        b.emit(Opcode.FINISH, {})
        program = Program(cfg.name, cfg.hash, tuple(b.insns), tuple(regions), _tensors(cfg, regions),
                          (("generator", "tataa.fuzz"),))  # fmt: skip
        try:
            Simulator(program, cfg)
        except SimError:
            b.redraws += 1
            continue
        return FuzzCase(program, b.redraws)
    raise SimError("random_case: 20 programs in a row were refused by the simulator")


def random_program(rng: np.random.Generator, cfg: HwConfig, n_insns: int = 20) -> Program:
    """A random legal, race-free program; its regions' init bytes are random images (see :func:`random_case`)."""
    return random_case(rng, cfg, n_insns).program


def stream_case(seed: int, stream: int, cfg: HwConfig, n_insns: int = 20) -> FuzzCase:
    """The case of stream number `stream` of a fuzzing run seeded with `seed` (reproducible on its own)."""
    return random_case(np.random.default_rng((seed, stream)), cfg, n_insns)


def features(program: Program, cfg: HwConfig) -> set[str]:
    """Labels of what `program` exercises: `op:GEMM`, `vfunct:ADD`, `load:VEC`, `requant:BF16`, `nop:STORE`,
    `mode:SIMD`, `b_const`, `gemm:clear`, `gemm:ktiles0`, `dma:unaligned`, `dma:partial_word`, `push:L2C`, ..."""
    n = cfg.array_size
    out: set[str] = set()
    fifo_names = ("L2C", "C2L", "C2S", "S2C")
    for insn in program.instructions:
        op, f = insn.opcode, insn.as_dict()
        out.add(f"op:{op.name}")
        u = insn.unit
        for fl in ("push_prev", "push_next"):
            if f.get(fl) and (u, fl) in PUSH_FIFO:
                out.add(f"push:{fifo_names[PUSH_FIFO[u, fl]]}")
        for fl in ("pop_prev", "pop_next"):
            if f.get(fl) and (u, fl) in POP_FIFO:
                out.add(f"pop:{fifo_names[POP_FIFO[u, fl]]}")
        if op in (Opcode.LOAD, Opcode.STORE):
            buf = Buffer(f["buf"])
            out.add(f"{op.name.lower()}:{buf.name}")
            if f["dram_offset"] % max(ELEM_BYTES[buf], 2) or f["dram_offset"] % cfg.dma_bytes_per_cycle:
                out.add("dma:unaligned")
            if f["cols"] % n:
                out.add("dma:partial_word")
            if f["rows"] > 1 and f["dram_stride"] < f["cols"] * ELEM_BYTES[buf]:
                out.add(f"{op.name.lower()}:overlapping_rows")
        elif op is Opcode.GEMM:
            out.add("gemm:clear" if f["clear"] else "gemm:accumulate")
            if f["ktiles"] == 0:
                out.add("gemm:ktiles0")
        elif op is Opcode.REQUANT:
            out.add(f"requant:{OutType(f['out_type']).name}")
        elif op is Opcode.VOP:
            out.add(f"vfunct:{VFunct(f['funct']).name}")
            if f["b_const"]:
                out.add("b_const")
        elif op is Opcode.NOP:
            out.add(f"nop:{u.name}")
        elif op is Opcode.MODE:
            out.add(f"mode:{Mode(f['mode']).name}")
    return out


# ---- shrinking ----------------------------------------------------------------------------------------------


def _without(program: Program, drop: int, keep_tokens: bool) -> Program:
    insns = list(program.instructions)
    if keep_tokens:
        old = insns[drop]
        flags = {fl: old[fl] for fl in ("pop_prev", "pop_next", "push_prev", "push_next")}
        insns[drop] = make(Opcode.NOP, unit=int(old.unit), **flags)
    else:
        del insns[drop]
    return Program(program.config_name, program.config_hash, tuple(insns), program.regions, program.tensors,
                   program.metadata)  # fmt: skip


def legal_and_race_free(program: Program, cfg: HwConfig) -> bool:
    """Whether the simulator accepts `program` and :func:`races` finds nothing."""
    try:
        Simulator(program, cfg)
        return not races(program, cfg)
    except SimError:
        return False


def _token_pairs(program: Program) -> list[list[tuple[int, str]]]:
    """Flags that make up one token each: [(pusher, push flag), (popper, pop flag)] for matched tokens, and
    [(pusher, push flag)] alone for tokens never popped."""
    pushes: list[list[tuple[int, str]]] = [[], [], [], []]
    pops: list[list[tuple[int, str]]] = [[], [], [], []]
    for i, insn in enumerate(program.instructions):
        u = _unit(insn)
        for fl in ("push_prev", "push_next"):
            if insn[fl] and (u, fl) in PUSH_FIFO:
                pushes[PUSH_FIFO[u, fl]].append((i, fl))
        for fl in ("pop_prev", "pop_next"):
            if insn[fl] and (u, fl) in POP_FIFO:
                pops[POP_FIFO[u, fl]].append((i, fl))
    out = []
    for fi in range(4):
        for k, push in enumerate(pushes[fi]):
            out.append([push, pops[fi][k]] if k < len(pops[fi]) else [push])
    return out


def _without_flags(program: Program, flags: Sequence[tuple[int, str]]) -> Program:
    insns = list(program.instructions)
    for i, fl in flags:
        insns[i] = make(insns[i].opcode, **{**insns[i].as_dict(), fl: 0})
    return Program(program.config_name, program.config_hash, tuple(insns), program.regions, program.tensors,
                   program.metadata)  # fmt: skip


def shrink(program: Program, cfg: HwConfig, fails: Callable[[Program], bool], budget: int = 400) -> Program:
    """A smaller program on which `fails` still holds: instructions are dropped (or turned into NOPs carrying
    their tokens) and tokens removed (push and pop together), one at a time, while the program stays legal and
    race-free; `fails` is called at most `budget` times."""
    trials = 0

    def attempt(cand: Program) -> bool:
        nonlocal trials
        if trials >= budget or not legal_and_race_free(cand, cfg):
            return False
        trials += 1
        return fails(cand)

    changed = True
    while changed and trials < budget:
        changed = False
        for i in range(len(program.instructions) - 2, -1, -1):  # never FINISH
            old = program.instructions[i]
            as_nop = old.opcode not in (Opcode.NOP, Opcode.MODE)
            for cand in [_without(program, i, False)] + ([_without(program, i, True)] if as_nop else []):
                if attempt(cand):
                    program, changed = cand, True
                    break
        for token in reversed(_token_pairs(program)):
            cand = _without_flags(program, token)
            if attempt(cand):
                program, changed = cand, True
    return program


__all__ = [
    "BF16_CLASSES",
    "BF16_SPECIALS",
    "FIFOS",
    "Footprint",
    "FuzzCase",
    "Race",
    "describe_key",
    "dump_bytes",
    "features",
    "footprint",
    "happens_before",
    "legal_and_race_free",
    "races",
    "random_case",
    "random_image",
    "random_program",
    "shrink",
    "stream_case",
]
