"""In-memory form of a compiled program: instructions, HBM regions and tensor descriptors.

The on-disk container is :mod:`tataa.progfile`. HBM is seen by a program as up to eight regions, one per
DRAM base-address register (`dram_reg` of LOAD/STORE); the host places each region anywhere in HBM
and writes its base address into the kernel's control registers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from tataa.isa.spec import NUM_DRAM_REGS, Instruction, Opcode


class DType(StrEnum):
    """Element types of tensors in HBM."""

    INT8 = "int8"
    INT32 = "int32"
    BF16 = "bf16"  # stored as uint16 bit patterns

    @property
    def nbytes(self) -> int:
        """Bytes per element."""
        return {"int8": 1, "int32": 4, "bf16": 2}[self.value]

    @property
    def numpy(self) -> np.dtype:
        """numpy dtype of the raw storage (bf16 is stored as uint16)."""
        return np.dtype({"int8": np.int8, "int32": np.int32, "bf16": np.uint16}[self.value])


class Role(StrEnum):
    """What a tensor is to the host."""

    INPUT = "input"  # written by the host before the run
    OUTPUT = "output"  # read by the host after the run
    CONST = "const"  # part of a region's initial image (weights, biases, scales, masks)


@dataclass(frozen=True)
class Region:
    """One HBM region, addressed by LOAD/STORE through base register `index`."""

    index: int
    name: str
    size: int  # bytes
    init: bytes = b""  # initial image (prefix of the region); the rest starts as zero

    def __post_init__(self) -> None:
        if not 0 <= self.index < NUM_DRAM_REGS:
            raise ValueError(f"region {self.name!r}: index {self.index} outside 0..{NUM_DRAM_REGS - 1}")
        if self.size < 0 or len(self.init) > self.size:
            raise ValueError(f"region {self.name!r}: init image ({len(self.init)} B) exceeds size {self.size} B")


@dataclass(frozen=True)
class TensorDesc:
    """A named tensor in an HBM region: row-major with a byte stride between rows of the last dimension."""

    name: str
    role: Role
    region: int
    offset: int  # bytes from the region's base
    shape: tuple[int, ...]
    dtype: DType
    row_stride: int = 0  # bytes between consecutive rows (last dimension); 0 means densely packed
    scale: float | None = None  # real value = stored integer * scale (int8 / int32 tensors)

    @property
    def row_bytes(self) -> int:
        """Bytes of one row (the last dimension)."""
        return (self.shape[-1] if self.shape else 1) * self.dtype.nbytes

    @property
    def stride(self) -> int:
        """Effective byte stride between rows."""
        return self.row_stride or self.row_bytes

    @property
    def nrows(self) -> int:
        """Number of rows (product of all but the last dimension)."""
        return int(np.prod(self.shape[:-1])) if len(self.shape) > 1 else 1

    @property
    def extent(self) -> int:
        """Bytes spanned from the first to one past the last element."""
        return 0 if 0 in self.shape else (self.nrows - 1) * self.stride + self.row_bytes


@dataclass(frozen=True)
class Program:
    """A compiled program for one hardware configuration."""

    config_name: str
    config_hash: str
    instructions: tuple[Instruction, ...]
    regions: tuple[Region, ...]
    tensors: tuple[TensorDesc, ...]
    metadata: tuple[tuple[str, str], ...] = field(default=())  # free-form (key, value) notes

    def tensor(self, name: str) -> TensorDesc:
        """The tensor called `name`."""
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(f"program has no tensor {name!r}; tensors: {[t.name for t in self.tensors]}")

    def region(self, index: int) -> Region:
        """The region bound to base register `index`."""
        for r in self.regions:
            if r.index == index:
                return r
        raise KeyError(f"program has no region {index}")

    @property
    def inputs(self) -> tuple[TensorDesc, ...]:
        """Tensors the host must provide."""
        return tuple(t for t in self.tensors if t.role is Role.INPUT)

    @property
    def outputs(self) -> tuple[TensorDesc, ...]:
        """Tensors the host reads back."""
        return tuple(t for t in self.tensors if t.role is Role.OUTPUT)

    def count(self, opcode: Opcode) -> int:
        """Number of instructions with `opcode`."""
        return sum(1 for i in self.instructions if i.opcode is opcode)
