"""ProgramBuilder: the one place kernels and the compiler turn decisions into a Program.

It owns HBM layout (regions, tensor placement, the constant image) and the instruction list; on-chip
buffer planning is done with :class:`SramArena`. Kernels manage dependency tokens themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tataa.config import HwConfig
from tataa.errors import TataaError
from tataa.isa.spec import Buffer, Instruction, Opcode, make
from tataa.program import DType, Program, Region, Role, TensorDesc

# Conventional region indices (DRAM base registers) used by the code generators.
REGION_CONST = 0
REGION_INPUT = 1
REGION_OUTPUT = 2
REGION_SCRATCH = 3
_DEFAULT_REGION = {Role.CONST: REGION_CONST, Role.INPUT: REGION_INPUT, Role.OUTPUT: REGION_OUTPUT}
_REGION_NAMES = {REGION_CONST: "const", REGION_INPUT: "input", REGION_OUTPUT: "output", REGION_SCRATCH: "scratch"}

BUFFER_ELEM_BYTES = {Buffer.INP: 1, Buffer.WGT: 1, Buffer.ACC: 4, Buffer.VEC: 2}


class CodegenError(TataaError):
    """A kernel or model does not fit the hardware configuration, or a codegen request is malformed."""


@dataclass
class SramArena:
    """Bump allocator over one on-chip buffer; `mark`/`release` give stack-like reuse."""

    buffer: Buffer
    depth: int
    top: int = 0
    high_water: int = 0

    def alloc(self, words: int, what: str = "") -> int:
        """Reserve `words` consecutive words and return the first address."""
        if words < 0 or self.top + words > self.depth:
            raise CodegenError(
                f"{self.buffer.name} buffer overflow allocating {words} words for {what or 'data'}: "
                f"{self.top} of {self.depth} words already in use"
            )
        base = self.top
        self.top += words
        self.high_water = max(self.high_water, self.top)
        return base

    def mark(self) -> int:
        """Current top, to be passed back to `release`."""
        return self.top

    def release(self, mark: int) -> None:
        """Free everything allocated after `mark`."""
        self.top = mark


@dataclass
class _RegionState:
    name: str
    size: int = 0
    image: bytearray = field(default_factory=bytearray)


class ProgramBuilder:
    """Accumulates regions, tensors and instructions, then builds an immutable Program."""

    def __init__(self, cfg: HwConfig) -> None:
        self.cfg = cfg
        self.n = cfg.array_size
        self._regions: dict[int, _RegionState] = {}
        self._tensors: list[TensorDesc] = []
        self._insns: list[Instruction] = []
        self.sram = {b: SramArena(b, cfg.depth(b.name.lower())) for b in Buffer}

    # ---- HBM layout -----------------------------------------------------------------------
    def region(self, index: int, name: str | None = None) -> None:
        """Declare region `index` (idempotent); its size grows with allocations."""
        if index not in self._regions:
            self._regions[index] = _RegionState(name or _REGION_NAMES.get(index, f"r{index}"))

    def alloc(self, region: int, nbytes: int, align: int = 64) -> int:
        """Reserve `nbytes` in `region` and return the byte offset."""
        self.region(region)
        r = self._regions[region]
        off = -(-r.size // align) * align
        r.size = off + nbytes
        return off

    def tensor(
        self,
        name: str,
        role: Role,
        shape: tuple[int, ...],
        dtype: DType,
        *,
        data: np.ndarray | None = None,
        scale: float | None = None,
        region: int | None = None,
        row_stride: int = 0,
        align: int = 64,
    ) -> TensorDesc:
        """Place a tensor in HBM; CONST tensors need `data` (raw dtype storage) and go into the initial image."""
        if any(t.name == name for t in self._tensors):
            raise CodegenError(f"tensor {name!r} declared twice")
        shape = tuple(int(s) for s in shape)
        region = _DEFAULT_REGION.get(role, REGION_SCRATCH) if region is None else region
        row_bytes = (shape[-1] if shape else 1) * dtype.nbytes
        stride = row_stride or row_bytes
        nrows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        extent = 0 if 0 in shape else (nrows - 1) * stride + row_bytes
        offset = self.alloc(region, extent, align)
        desc = TensorDesc(name, role, region, offset, shape, dtype, row_stride, scale)
        if role is Role.CONST:
            if data is None:
                raise CodegenError(f"constant tensor {name!r} needs data")
            self._write_image(desc, data)
        self._tensors.append(desc)
        return desc

    def scratch(self, shape: tuple[int, ...], dtype: DType, region: int = REGION_SCRATCH) -> TensorDesc:
        """HBM space for an intermediate tensor that the host never sees (not listed in the program)."""
        shape = tuple(int(s) for s in shape)
        row_bytes = (shape[-1] if shape else 1) * dtype.nbytes
        nrows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        offset = self.alloc(region, nrows * row_bytes)
        return TensorDesc(f"_scratch@{region}:{offset}", Role.OUTPUT, region, offset, shape, dtype)

    def _write_image(self, desc: TensorDesc, data: np.ndarray) -> None:
        arr = np.ascontiguousarray(np.asarray(data), dtype=desc.dtype.numpy)
        if arr.shape != desc.shape:
            raise CodegenError(f"constant {desc.name!r}: data shape {arr.shape} != declared {desc.shape}")
        img = self._regions[desc.region].image
        rows = arr.reshape(desc.nrows, -1) if desc.shape else arr.reshape(1, 1)
        end = desc.offset + desc.extent
        if len(img) < end:
            img.extend(b"\0" * (end - len(img)))
        raw = rows.astype(rows.dtype.newbyteorder("<"), copy=False)
        for y in range(desc.nrows):
            start = desc.offset + y * desc.stride
            img[start : start + desc.row_bytes] = raw[y].tobytes()

    # ---- instructions ---------------------------------------------------------------------
    def emit(self, opcode: Opcode, **fields: int) -> int:
        """Append one instruction (fields not given are zero) and return its index."""
        self._insns.append(make(opcode, **fields))
        return len(self._insns) - 1

    def dma(
        self,
        opcode: Opcode,
        buf: Buffer,
        sram_base: int,
        tensor: TensorDesc,
        rows: int,
        cols: int,
        *,
        row0: int = 0,
        col0: int = 0,
        sram_ystride: int = 1,
        sram_wstride: int = 1,
        **deps: int,
    ) -> int:
        """LOAD or STORE a rows x cols window of `tensor` starting at (row0, col0) of its 2-D row view."""
        if opcode not in (Opcode.LOAD, Opcode.STORE):
            raise CodegenError(f"dma() takes LOAD or STORE, not {opcode.name}")
        eb = BUFFER_ELEM_BYTES[buf]
        if eb != tensor.dtype.nbytes:
            raise CodegenError(f"{buf.name} holds {eb}-byte elements but {tensor.name!r} is {tensor.dtype.value}")
        if row0 + rows > tensor.nrows or col0 + cols > (tensor.shape[-1] if tensor.shape else 1):
            raise CodegenError(f"window rows {row0}+{rows}, cols {col0}+{cols} exceeds tensor {tensor.name!r}")
        return self.emit(
            opcode,
            buf=int(buf),
            sram_base=sram_base,
            sram_ystride=sram_ystride,
            sram_wstride=sram_wstride,
            rows=rows,
            cols=cols,
            dram_reg=tensor.region,
            dram_offset=tensor.offset + row0 * tensor.stride + col0 * eb,
            dram_stride=tensor.stride,
            **deps,
        )

    @property
    def instructions(self) -> tuple[Instruction, ...]:
        """Instructions emitted so far."""
        return tuple(self._insns)

    def build(self, metadata: dict[str, str] | None = None) -> Program:
        """Append FINISH and return the Program."""
        insns = [*self._insns, make(Opcode.FINISH)]
        regions = tuple(
            Region(i, r.name, max(r.size, len(r.image)), bytes(r.image)) for i, r in sorted(self._regions.items())
        )
        meta = tuple(sorted((metadata or {}).items()))
        return Program(self.cfg.name, self.cfg.hash, tuple(insns), regions, tuple(self._tensors), meta)
