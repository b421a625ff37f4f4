"""Architectural state of one core: on-chip buffers, constant registers, PE-array mode and HBM regions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tataa.config import ACC_ELEM_BITS, INP_ELEM_BITS, VEC_ELEM_BITS, WGT_ELEM_BITS, HwConfig
from tataa.isa.spec import NUM_CONST_REGS, Buffer, Mode

# numpy dtype of one element of each buffer, and the little-endian dtype of the same element in HBM.
BUFFER_DTYPE: dict[Buffer, np.dtype] = {
    Buffer.INP: np.dtype(np.int8),
    Buffer.WGT: np.dtype(np.int8),
    Buffer.ACC: np.dtype(np.int32),
    Buffer.VEC: np.dtype(np.uint16),
}
HBM_DTYPE: dict[Buffer, np.dtype] = {
    Buffer.INP: np.dtype("<i1"),
    Buffer.WGT: np.dtype("<i1"),
    Buffer.ACC: np.dtype("<i4"),
    Buffer.VEC: np.dtype("<u2"),
}
ELEM_BYTES: dict[Buffer, int] = {
    Buffer.INP: INP_ELEM_BITS // 8,
    Buffer.WGT: WGT_ELEM_BITS // 8,
    Buffer.ACC: ACC_ELEM_BITS // 8,
    Buffer.VEC: VEC_ELEM_BITS // 8,
}
BUFFER_ATTR: dict[Buffer, str] = {Buffer.INP: "inp", Buffer.WGT: "wgt", Buffer.ACC: "acc", Buffer.VEC: "vec"}
_DEPTH_ATTR: dict[Buffer, str] = {b: f"{attr}_depth" for b, attr in BUFFER_ATTR.items()}


def buffer_depth(cfg: HwConfig, buf: Buffer) -> int:
    """Depth in words of buffer `buf` under `cfg`."""
    return getattr(cfg, _DEPTH_ATTR[buf])


@dataclass
class MachineState:
    """Mutable machine state while a program runs (buffers are [depth, N] arrays of their element type)."""

    inp: np.ndarray
    wgt: np.ndarray
    acc: np.ndarray
    vec: np.ndarray
    const: np.ndarray  # uint16[NUM_CONST_REGS] bf16 bit patterns
    mode: Mode
    hbm: dict[int, np.ndarray]  # region index -> uint8 image

    @classmethod
    def reset(cls, cfg: HwConfig, hbm: dict[int, np.ndarray]) -> MachineState:
        """State after reset (buffers and constants zero, SYSTOLIC mode) over the given HBM images."""
        n = cfg.array_size
        bufs = {attr: np.zeros((buffer_depth(cfg, b), n), BUFFER_DTYPE[b]) for b, attr in BUFFER_ATTR.items()}
        return cls(**bufs, const=np.zeros(NUM_CONST_REGS, np.uint16), mode=Mode.SYSTOLIC, hbm=hbm)

    def buffer(self, buf: Buffer) -> np.ndarray:
        """The array backing buffer `buf`."""
        return getattr(self, BUFFER_ATTR[buf])
