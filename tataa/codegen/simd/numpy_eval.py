"""NumpySimd: evaluates SIMD recipes on uint16 bf16 arrays with the primitives of tataa.numerics.

This is the bit-exact reference of every nonlinear kernel: values are laid out lane for lane as in the VEC
buffer (a row of `cols` elements padded with zeros to `words` words of N lanes), so reductions see the same
lanes, in the same order, as the hardware.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tataa import numerics
from tataa.codegen.simd.ops import Const, Kind, SimdOps, result_kind
from tataa.isa.spec import VFUNCT_DEFS, VFunct, VKind


@dataclass(frozen=True)
class NVal:
    """A value of the numpy evaluator: uint16 bits shaped [rows or 1, words*N or N] by kind."""

    kind: Kind
    bits: np.ndarray


class NumpySimd(SimdOps[NVal]):
    """SimdOps on numpy arrays for a block of `rows` rows of `words` words of `n` lanes."""

    def __init__(self, n: int, rows: int, words: int) -> None:
        self.n, self.rows, self.words = n, rows, words

    # ---- data in and out ------------------------------------------------------------------------
    def shape(self, kind: Kind) -> tuple[int, int]:
        """Array shape of a value of `kind`."""
        return (self.rows if kind.per_row else 1, self.words * self.n if kind.wide else self.n)

    def value(self, kind: Kind, bits: np.ndarray) -> NVal:
        """Wrap `bits` (rows x cols for per-row kinds, cols for shared ones) zero-padded as LOAD pads rows."""
        arr = np.asarray(bits, dtype=np.uint16)
        if arr.ndim == 1:
            arr = arr[None, :]
        r, c = self.shape(kind)
        if arr.shape[0] != r or arr.shape[1] > c:
            raise ValueError(f"{kind.value} value of shape {arr.shape} does not fit a block of shape {(r, c)}")
        out = np.zeros((r, c), dtype=np.uint16)
        out[:, : arr.shape[1]] = arr
        return NVal(kind, out)

    def kind(self, v: NVal) -> Kind:
        """The kind of `v`."""
        return v.kind

    def _expand(self, v: NVal, kind: Kind) -> np.ndarray:
        """Broadcast `v` to the array shape of `kind`."""
        bits = v.bits
        if kind.wide and not v.kind.wide:
            bits = np.tile(bits, (1, self.words))
        return np.broadcast_to(bits, self.shape(kind))

    # ---- SimdOps ------------------------------------------------------------------------------
    def vop(
        self,
        funct: VFunct,
        a: NVal,
        b: NVal | Const | None = None,
        *,
        c: Const | None = None,
        acc: NVal | None = None,
    ) -> NVal:
        """Apply `funct` with the numerics primitive named in the ISA spec."""
        d = VFUNCT_DEFS[funct]
        fn = getattr(numerics, d.impl)
        kinds = [a.kind] + [x.kind for x in (b, acc) if isinstance(x, NVal)]
        kind = result_kind(funct, kinds)
        if d.kind is VKind.REDUCE:
            if a.kind is not Kind.FULL:
                raise ValueError(f"{funct.name} reduces a FULL value, not {a.kind.value}")
            red = np.asarray(fn(a.bits.reshape(self.rows, self.words, self.n)), dtype=np.uint16)
            return NVal(kind, np.repeat(red.reshape(self.rows, 1), self.n, axis=1))
        av = self._expand(a, kind)
        bv = None
        if isinstance(b, Const):
            bv = np.uint16(b.bits)
        elif b is not None:
            bv = self._expand(b, kind)
        if d.kind is VKind.UNARY:
            out = fn(av)
        elif d.kind is VKind.BINARY:
            out = fn(av, bv)
        elif d.kind is VKind.TERNARY_CONST:
            if c is None:
                raise ValueError(f"{funct.name} needs the constant c")
            out = fn(av, bv, np.uint16(c.bits))
        elif d.kind is VKind.TERNARY_DST:
            if acc is None:
                raise ValueError(f"{funct.name} needs its destination operand")
            dv = self._expand(acc, kind)
            out = fn(av, bv, dv)  # bf16_fma(a, b, dst) and bf16_select(a, b, dst)
        else:
            raise ValueError(f"{funct.name} is not a bf16 SIMD function recipes can use")
        return NVal(kind, np.ascontiguousarray(np.broadcast_to(np.asarray(out, dtype=np.uint16), self.shape(kind))))

    def splat(self, value: Const) -> NVal:
        """A WORD value with `value` in every lane."""
        return NVal(Kind.WORD, np.full((1, self.n), value.bits, dtype=np.uint16))

    def tail(self, funct: VFunct, v: NVal, m: NVal) -> NVal:
        """`v` with funct(last word, m) in the last word of each row."""
        if v.kind is not Kind.FULL or m.kind is not Kind.WORD:
            raise ValueError("tail() takes a FULL value and a WORD mask")
        fn = getattr(numerics, VFUNCT_DEFS[funct].impl)
        out = v.bits.copy()
        last = slice((self.words - 1) * self.n, self.words * self.n)
        out[:, last] = np.asarray(fn(out[:, last], np.broadcast_to(m.bits, (self.rows, self.n))), dtype=np.uint16)
        return NVal(Kind.FULL, out)
