"""The `rtl` backend: runs a program on the Verilator model of hw/ (bench hw/tb/tb_top.sv).

HBM layout of a run: the instructions at address 0, then each region at the next 4 KiB boundary, in
region-index order; the bench gets the base address of every region as a plusarg, exactly what the host
writes into the REGION_BASE registers on the FPGA.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tataa import config
from tataa.errors import TataaError
from tataa.hdl.verilator import TB_DIR, VerilatorBuild, build, read_hex, rtl_sources, run, tool_path, write_hex
from tataa.isa.encoding import encode_program
from tataa.isa.spec import INSN_BYTES
from tataa.program import Program
from tataa.sim.simulator import SimResult

PAGE = 4096
MIN_MEM_BYTES = 1 << 16


class RtlError(TataaError):
    """The RTL run timed out or ended with an error status."""


@dataclass(frozen=True)
class HbmLayout:
    """Where the instructions and each region sit in the simulated HBM."""

    insn_bytes: int
    bases: dict[int, int]  # region index -> byte address
    mem_bytes: int  # power of two covering everything


def layout(program: Program) -> HbmLayout:
    """Place the instructions at 0 and every region at the next 4 KiB boundary."""
    top = len(program.instructions) * INSN_BYTES
    bases = {}
    for r in sorted(program.regions, key=lambda r: r.index):
        top = -(-top // PAGE) * PAGE
        bases[r.index] = top
        top += r.size
    mem = MIN_MEM_BYTES
    while mem < top + PAGE:
        mem *= 2
    return HbmLayout(len(program.instructions) * INSN_BYTES, bases, mem)


def bench(config_name: str, mem_bytes: int) -> VerilatorBuild:
    """The (cached) Verilator build of tb_top for a configuration and memory size."""
    sources = [*rtl_sources(config_name), TB_DIR / "tataa_axi_mem.sv", TB_DIR / "tb_top.sv"]
    return build("tb_top", sources, args=[f"-GMemBytes={mem_bytes}", "-Wno-lint", "-Wno-style"])


def _words(image: np.ndarray, width: int) -> list[int]:
    """Little-endian words of `width` bytes."""
    pad = (-len(image)) % width
    data = np.concatenate([image, np.zeros(pad, np.uint8)]) if pad else image
    raw = data.tobytes()
    return [int.from_bytes(raw[i : i + width], "little") for i in range(0, len(raw), width)]


def run_rtl(program: Program, images: dict[int, np.ndarray], trace: bool = False,
            timeout_cycles: int = 20_000_000) -> SimResult:  # fmt: skip
    """Run `program` with region `images` on the RTL; returns final images and the cycle counter."""
    if tool_path("verilator") is None:
        raise RtlError("the rtl backend needs verilator (bash scripts/setup.sh installs it)")
    cfg = config.load(program.config_name)
    lay = layout(program)
    bus = cfg.dma_bytes_per_cycle
    mem = np.zeros(lay.mem_bytes, np.uint8)
    insn = np.frombuffer(encode_program(program.instructions), np.uint8)
    mem[: len(insn)] = insn
    for index, base in lay.bases.items():
        img = images[index]
        mem[base : base + len(img)] = img
    bld = bench(cfg.name, lay.mem_bytes)
    with tempfile.TemporaryDirectory(prefix="tataa-rtl-") as tmp:
        d = Path(tmp)
        write_hex(d / "imem.hex", _words(mem, 16), 128)
        write_hex(d / "dmem.hex", _words(mem, bus), bus * 8)
        plus: dict[str, object] = {
            "dmem": d / "dmem.hex", "imem": d / "imem.hex", "out": d / "out.hex", "result": d / "result.txt",
            "insn_count": len(program.instructions), "timeout": timeout_cycles,
        }  # fmt: skip
        for index, base in lay.bases.items():
            plus[f"base{index}"] = f"{base:x}"
        run(bld, plus, cwd=d)
        state, cycles_hex, status_hex = (d / "result.txt").read_text().split()
        cycles, status = int(cycles_hex, 16), int(status_hex, 16)
        if state != "done":
            raise RtlError(f"RTL run did not finish within {timeout_cycles} cycles (status 0x{status:08x})")
        if status & 0xFFFF:
            what = [n for b, n in ((0, "decode error"), (1, "illegal mode"), (2, "address error")) if status >> b & 1]
            raise RtlError(f"RTL run failed: {', '.join(what)} at instruction #{status >> 16}")
        words = read_hex(d / "out.hex", bus * 8)
    raw = b"".join(w.to_bytes(bus, "little") for w in words)
    out_mem = np.frombuffer(raw, np.uint8)
    out_images = {}
    for r in program.regions:
        base = lay.bases[r.index]
        out_images[r.index] = out_mem[base : base + r.size].copy()
    return SimResult(images=out_images, cycles=cycles, stats=None, trace=())
