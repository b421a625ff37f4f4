"""Helpers for the simulator tests: hand-built programs for the tiny configuration."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from tataa import config
from tataa.isa.spec import Instruction, Opcode, make
from tataa.program import DType, Program, Region, Role, TensorDesc

TINY = config.load("tiny")
N = TINY.array_size


def region(index: int, size: int, init: bytes = b"", name: str | None = None) -> Region:
    """A region called `name` (default r<index>)."""
    return Region(index, name or f"r{index}", size, init)


def program(
    insns: Sequence[Instruction],
    regions: Iterable[Region] = (),
    tensors: Iterable[TensorDesc] = (),
    finish: bool = True,
) -> Program:
    """A Program for the tiny config; FINISH is appended unless `finish` is False."""
    body = tuple(insns) + ((make(Opcode.FINISH),) if finish else ())
    return Program(TINY.name, TINY.hash, body, tuple(regions), tuple(tensors))


def tensor(
    name: str, role: Role, reg: int, offset: int, shape: tuple[int, ...], dtype: DType, **kw: object
) -> TensorDesc:
    """A tensor descriptor."""
    return TensorDesc(name, role, reg, offset, shape, dtype, **kw)  # type: ignore[arg-type]


def load(buf: int, **f: int) -> Instruction:
    """LOAD into buffer `buf`."""
    return make(Opcode.LOAD, buf=buf, **f)


def store(buf: int, **f: int) -> Instruction:
    """STORE from buffer `buf`."""
    return make(Opcode.STORE, buf=buf, **f)


def rng_bytes(seed: int, size: int) -> np.ndarray:
    """Deterministic random uint8 image."""
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)


def flags(insn: Instruction, **kw: int) -> Instruction:
    """`insn` with some fields (typically dependency flags) replaced."""
    d = insn.as_dict()
    d.update(kw)
    return make(insn.opcode, **d)


def pipeline(
    loads: Sequence[Instruction], computes: Sequence[Instruction], stores: Sequence[Instruction]
) -> list[Instruction]:
    """loads, then computes, then stores, with one token LOAD->COMPUTE and one COMPUTE->STORE between them."""
    loads, computes, stores = list(loads), list(computes) or [make(Opcode.NOP, unit=1)], list(stores)
    if loads:
        loads[-1] = flags(loads[-1], push_next=1)
        computes[0] = flags(computes[0], pop_prev=1)
    if stores:
        computes[-1] = flags(computes[-1], push_next=1)
        stores[0] = flags(stores[0], pop_prev=1)
    return loads + computes + stores
