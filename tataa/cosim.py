"""Co-simulation: run one program on the simulator and on the RTL, compare the final HBM images bit for bit.

:func:`compare` names the first differing byte (region, address, the tensor it lies in), the STORE that last
wrote it (or the initial image) and both values; :func:`run_both` runs both backends and compares.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tataa import config
from tataa.errors import TataaError
from tataa.isa.asm import format_instruction
from tataa.isa.spec import Buffer, Opcode
from tataa.program import Program, TensorDesc
from tataa.sim.simulator import SimResult, Simulator
from tataa.sim.state import ELEM_BYTES


class CosimError(TataaError, ValueError):
    """Two image sets cannot be compared: a region is missing or has the wrong size."""


@dataclass(frozen=True)
class Mismatch:
    """The first byte (lowest region index, then lowest address) where two runs' images differ."""

    region: int
    region_name: str
    address: int  # byte offset within the region
    expected: int  # byte value in the first image set (the simulator's)
    actual: int  # byte value in the second image set (the RTL's)
    tensor: str | None  # tensor the byte lies in, if any
    element: tuple[int, ...] | None  # index of the element within that tensor
    element_expected: int | None  # the whole element (little-endian, unsigned) in both images
    element_actual: int | None
    writer: int | None  # index of the last STORE (in program order) writing the byte; None: initial image
    writer_text: str  # its assembly text, or "initial image"
    differing_bytes: int  # bytes that differ over all regions

    def report(self) -> str:
        """A multi-line human-readable description."""
        where = f"region {self.region} ({self.region_name!r}) byte 0x{self.address:x} ({self.address})"
        lines = [f"first mismatch at {where}: expected 0x{self.expected:02x}, got 0x{self.actual:02x}"]
        if self.tensor is not None:
            elem = list(self.element or ())
            lines.append(
                f"  in tensor {self.tensor!r} element {elem}: expected 0x{self.element_expected:x}, "
                f"got 0x{self.element_actual:x}"
            )
        who = "initial image (no STORE writes it)" if self.writer is None else f"#{self.writer} {self.writer_text}"
        lines.append(f"  last written by: {who}")
        lines.append(f"  {self.differing_bytes} differing byte(s) in all")
        return "\n".join(lines)


def store_bytes(program: Program, index: int) -> tuple[int, np.ndarray]:
    """(region, byte offsets) that STORE instruction `index` writes, per docs/semantics.md."""
    insn = program.instructions[index]
    f = insn.as_dict()
    eb = ELEM_BYTES[Buffer(f["buf"])]
    rows, row_bytes = f["rows"], f["cols"] * eb
    at = f["dram_offset"] + np.arange(rows, dtype=np.int64)[:, None] * f["dram_stride"] + np.arange(row_bytes)
    return f["dram_reg"], at.ravel()


def last_writer(program: Program, region: int, address: int) -> int | None:
    """Index of the last STORE in program order whose HBM footprint covers the byte, or None."""
    for i in range(len(program.instructions) - 1, -1, -1):
        if program.instructions[i].opcode is not Opcode.STORE:
            continue
        reg, at = store_bytes(program, i)
        if reg == region and bool(np.any(at == address)):
            return i
    return None


def _tensor_at(program: Program, region: int, address: int) -> tuple[TensorDesc, tuple[int, ...], int] | None:
    """(tensor, element index, element byte offset) of the first tensor holding the byte."""
    for t in program.tensors:
        if t.region != region or address < t.offset or address >= t.offset + t.extent:
            continue
        rel = address - t.offset
        row, col_byte = divmod(rel, t.stride)
        if col_byte >= t.row_bytes:
            continue  # in the padding between rows
        col = col_byte // t.dtype.nbytes
        shape = t.shape or (1,)
        lead = np.unravel_index(row, shape[:-1]) if len(shape) > 1 else ()
        elem = (*(int(x) for x in lead), col)
        return t, elem, t.offset + row * t.stride + col * t.dtype.nbytes
    return None


def compare(
    program: Program, images_a: Mapping[int, np.ndarray], images_b: Mapping[int, np.ndarray]
) -> Mismatch | None:
    """The first byte where `images_b` differs from `images_a` (expected), over every region; None if equal."""
    first: tuple[int, int] | None = None
    total = 0
    for r in sorted(program.regions, key=lambda r: r.index):
        missing = [which for which, imgs in (("first", images_a), ("second", images_b)) if r.index not in imgs]
        if missing:
            raise CosimError(f"region {r.index} ({r.name!r}) has no image in the {' and '.join(missing)} set")
        a = np.asarray(images_a[r.index], np.uint8).ravel()
        b = np.asarray(images_b[r.index], np.uint8).ravel()
        if a.size != r.size or b.size != r.size:
            raise CosimError(f"region {r.index} ({r.name!r}) is {r.size} B; the images have {a.size} and {b.size} B")
        diff = np.flatnonzero(a != b)
        total += diff.size
        if diff.size and first is None:
            first = (r.index, int(diff[0]))
    if first is None:
        return None
    reg, addr = first
    a, b = np.asarray(images_a[reg], np.uint8), np.asarray(images_b[reg], np.uint8)
    writer = last_writer(program, reg, addr)
    text = "initial image" if writer is None else format_instruction(program.instructions[writer])
    tensor = element = ea = eb = None
    hit = _tensor_at(program, reg, addr)
    if hit is not None:
        t, element, off = hit
        tensor = t.name
        width = t.dtype.nbytes
        ea = int.from_bytes(a[off : off + width].tobytes(), "little")
        eb = int.from_bytes(b[off : off + width].tobytes(), "little")
    return Mismatch(
        reg, program.region(reg).name, addr, int(a[addr]), int(b[addr]), tensor, element, ea, eb, writer, text, total
    )


@dataclass(frozen=True)
class CosimResult:
    """Both runs of one program, the first mismatch (None: bit-identical) and the cycle counts."""

    sim: SimResult
    rtl: SimResult
    mismatch: Mismatch | None
    sim_seconds: float
    rtl_seconds: float

    @property
    def sim_cycles(self) -> int:
        """Cycles the simulator's timing model predicts."""
        return self.sim.cycles

    @property
    def rtl_cycles(self) -> int:
        """Cycles the RTL took."""
        return self.rtl.cycles

    @property
    def cycle_ratio(self) -> float:
        """RTL cycles over simulator cycles."""
        return self.rtl.cycles / max(self.sim.cycles, 1)


HANG_FACTOR = 20  # the RTL may take this many times the simulator's cycles (plus HANG_SLACK) before it hangs
HANG_SLACK = 100_000


def run_both(program: Program, images: Mapping[int, np.ndarray]) -> CosimResult:
    """Run `program` over `images` on the simulator and on the RTL (Verilator) and compare the final images.

    An RTL run longer than HANG_FACTOR times the simulator's cycle count (plus HANG_SLACK) raises RtlError.
    """
    from tataa.runtime.rtl import run_rtl  # imported lazily: it pulls in the Verilator tooling

    t0 = time.perf_counter()
    sim = Simulator(program, config.load(program.config_name)).run(images)
    t1 = time.perf_counter()
    rtl = run_rtl(program, dict(images), timeout_cycles=HANG_FACTOR * sim.cycles + HANG_SLACK)
    t2 = time.perf_counter()
    return CosimResult(sim, rtl, compare(program, sim.images, rtl.images), t1 - t0, t2 - t1)
