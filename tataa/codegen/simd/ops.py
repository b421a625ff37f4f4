"""The abstract SIMD-ops interface that every nonlinear recipe is written against.

A recipe (see :mod:`tataa.codegen.simd_recipes`) only calls the methods of :class:`SimdOps`, which mirror the
VFunct operations of the ISA one for one. Two implementations exist: :class:`~tataa.codegen.simd.numpy_eval.
NumpySimd` evaluates a recipe on uint16 bf16 arrays with the primitives of :mod:`tataa.numerics` (the bit-exact
reference), and :class:`~tataa.codegen.simd.emitter.SimdTrace` records it so that it can be turned into SETC and
VOP instructions. Both see the data the same way: a block of rows, each row spread over `words` VEC words of N
lanes, exactly as LOAD lays it out (the lanes past the end of a row are zero after the load).

Values have a :class:`Kind` telling how they vary over the block; operations broadcast kinds like numpy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from tataa import numerics
from tataa.isa.spec import VFUNCT_DEFS, VFunct, VKind

V = TypeVar("V")


class Kind(Enum):
    """How a value is laid out over a block of rows."""

    FULL = "full"  # one value per element: every word of every row
    ROW = "row"  # one word per row (a reduction result, the same in every lane)
    VEC = "vec"  # one row's worth of words shared by every row (gamma, beta)
    WORD = "word"  # one word shared by every row (splatted constants, tail masks)

    @property
    def per_row(self) -> bool:
        """True when the value differs from row to row."""
        return self in (Kind.FULL, Kind.ROW)

    @property
    def wide(self) -> bool:
        """True when the value spans every word of a row (else a single word)."""
        return self in (Kind.FULL, Kind.VEC)


def join(*kinds: Kind) -> Kind:
    """The kind of the result of an elementwise operation on operands of `kinds` (numpy-style broadcast)."""
    per_row = any(k.per_row for k in kinds)
    wide = any(k.wide for k in kinds)
    if per_row:
        return Kind.FULL if wide else Kind.ROW
    return Kind.VEC if wide else Kind.WORD


@dataclass(frozen=True)
class Const:
    """A bf16 constant (16-bit pattern) held in one of the eight constant registers."""

    bits: int

    def __post_init__(self) -> None:
        if not 0 <= self.bits <= 0xFFFF:
            raise ValueError(f"constant bit pattern {self.bits:#x} is not 16 bits")

    @staticmethod
    def of(x: float) -> Const:
        """The bf16 nearest to `x` (round to nearest even, as tataa.numerics rounds)."""
        return Const(int(numerics.f64_to_bf16(float(x))))

    @property
    def value(self) -> float:
        """The value as a float (bit patterns of integer ops included)."""
        return float(numerics.bf16_to_f64(self.bits))

    def __repr__(self) -> str:
        return f"Const({self.bits:#06x}={self.value:.6g})"


def as_const(x: Const | float) -> Const:
    """`x` as a Const (floats are rounded to bf16)."""
    return x if isinstance(x, Const) else Const.of(x)


class SimdOps(ABC, Generic[V]):
    """The SIMD datapath as a recipe sees it: one method per VFunct, on values of type V.

    Operand `a` is always a value; `b` may be a value or a constant (a float is rounded to bf16); the addend of
    FMA is always a constant. MAC and SEL read their destination, here the explicit `acc` / `cond` operand.
    """

    # ---- what an implementation provides -----------------------------------------------------
    @abstractmethod
    def vop(
        self,
        funct: VFunct,
        a: V,
        b: V | Const | None = None,
        *,
        c: Const | None = None,
        acc: V | None = None,
    ) -> V:
        """Apply `funct` elementwise (or reduce, for REDUCE functions) and return the new value."""

    @abstractmethod
    def splat(self, value: Const) -> V:
        """A WORD value holding the bit pattern `value` in every lane (to use a constant as operand a)."""

    @abstractmethod
    def tail(self, funct: VFunct, v: V, m: V) -> V:
        """`v` with the last word of each row replaced by funct(that word, m); `m` is a WORD value."""

    @abstractmethod
    def kind(self, v: V) -> Kind:
        """The kind of value `v`."""

    # ---- one method per VFunct ----------------------------------------------------------------
    def _bin(self, funct: VFunct, a: V, b: V | Const | float) -> V:
        if isinstance(b, (int, float)):
            b = Const.of(b)
        return self.vop(funct, a, b)

    def add(self, a: V, b: V | Const | float) -> V:
        """a + b."""
        return self._bin(VFunct.ADD, a, b)

    def sub(self, a: V, b: V | Const | float) -> V:
        """a - b."""
        return self._bin(VFunct.SUB, a, b)

    def mul(self, a: V, b: V | Const | float) -> V:
        """a * b."""
        return self._bin(VFunct.MUL, a, b)

    def max(self, a: V, b: V | Const | float) -> V:
        """max(a, b)."""
        return self._bin(VFunct.MAX, a, b)

    def min(self, a: V, b: V | Const | float) -> V:
        """min(a, b)."""
        return self._bin(VFunct.MIN, a, b)

    def cmplt(self, a: V, b: V | Const | float) -> V:
        """1.0 where a < b, else 0.0."""
        return self._bin(VFunct.CMPLT, a, b)

    def cmpeq(self, a: V, b: V | Const | float) -> V:
        """1.0 where a == b, else 0.0."""
        return self._bin(VFunct.CMPEQ, a, b)

    def ldexp(self, a: V, b: V | Const | float) -> V:
        """a * 2**floor(b)."""
        return self._bin(VFunct.LDEXP, a, b)

    def iadd(self, a: V, b: V | Const) -> V:
        """Bit patterns added modulo 2**16 (b as a Const is a raw pattern)."""
        return self.vop(VFunct.IADD, a, b)

    def isub(self, a: V, b: V | Const) -> V:
        """Bit patterns subtracted modulo 2**16."""
        return self.vop(VFunct.ISUB, a, b)

    def ishr(self, a: V, b: V | Const) -> V:
        """Bit pattern of a shifted right by b & 15."""
        return self.vop(VFunct.ISHR, a, b)

    def ishl(self, a: V, b: V | Const) -> V:
        """Bit pattern of a shifted left by b & 15."""
        return self.vop(VFunct.ISHL, a, b)

    def fma(self, a: V, b: V | Const | float, c: Const | float) -> V:
        """a * b + c (c a constant), rounded once."""
        if isinstance(b, (int, float)):
            b = Const.of(b)
        return self.vop(VFunct.FMA, a, b, c=as_const(c))

    def mac(self, acc: V, a: V, b: V | Const | float) -> V:
        """a * b + acc, rounded once (the hardware updates acc in place)."""
        if isinstance(b, (int, float)):
            b = Const.of(b)
        return self.vop(VFunct.MAC, a, b, acc=acc)

    def sel(self, cond: V, a: V, b: V | Const | float) -> V:
        """a where cond != 0, else b (the hardware overwrites cond)."""
        if isinstance(b, (int, float)):
            b = Const.of(b)
        return self.vop(VFunct.SEL, a, b, acc=cond)

    def mov(self, a: V) -> V:
        """a (subnormals flushed, NaN made canonical)."""
        return self.vop(VFunct.MOV, a)

    def abs(self, a: V) -> V:
        """|a|."""
        return self.vop(VFunct.ABS, a)

    def floor(self, a: V) -> V:
        """Largest integer <= a."""
        return self.vop(VFunct.FLOOR, a)

    def getexp(self, a: V) -> V:
        """Unbiased exponent of a."""
        return self.vop(VFunct.GETEXP, a)

    def getmant(self, a: V) -> V:
        """a with its exponent set to 0."""
        return self.vop(VFunct.GETMANT, a)

    def redmax(self, a: V) -> V:
        """Row maximum (a ROW value)."""
        return self.vop(VFunct.REDMAX, a)

    def redsum(self, a: V) -> V:
        """Row sum accumulated in fp32 (a ROW value)."""
        return self.vop(VFunct.REDSUM, a)

    def redsumsq(self, a: V) -> V:
        """Row sum of squares accumulated in fp32 (a ROW value)."""
        return self.vop(VFunct.REDSUMSQ, a)


def result_kind(funct: VFunct, kinds: list[Kind]) -> Kind:
    """Kind of the result of `funct` on operands of `kinds` (REDUCE gives ROW)."""
    d = VFUNCT_DEFS[funct]
    if d.kind is VKind.REDUCE:
        return Kind.ROW
    return join(*kinds)
