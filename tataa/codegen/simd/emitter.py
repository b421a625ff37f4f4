"""Turning a recipe into VOPs: record it (SimdTrace), assign VEC storage (plan), lay it out for a block.

A recipe is recorded once with :class:`SimdTrace`. :func:`plan` then gives every value a storage *slot* by
linear scan over the recorded operations (a value whose last use is an operation hands its slot to that
operation's result when the kinds agree, which makes most operations in place), inserting bit-exact copies
(IADD of 0) where an in-place operation (MAC, SEL, tail) would clobber a value that is still needed. The
plan is independent of the block size; :meth:`Plan.vops` lays it out for one block at given addresses.
Constants are left symbolic; :class:`ConstRegs` assigns the eight constant registers and emits SETCs.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tataa.codegen.builder import CodegenError
from tataa.codegen.simd.ops import Const, Kind, SimdOps, result_kind
from tataa.isa.spec import NUM_CONST_REGS, VFUNCT_DEFS, VFunct, VKind

_MAX_STRIDE = 4095  # 12-bit ostride fields


@dataclass(frozen=True)
class TVal:
    """A value recorded by SimdTrace."""

    id: int
    kind: Kind


@dataclass(frozen=True)
class TOp:
    """One recorded operation; `acc` is the value read through the destination (MAC, SEL, tail ops)."""

    funct: VFunct
    dst: TVal
    a: TVal
    b: TVal | Const | None
    c: Const | None
    acc: TVal | None
    tail: bool = False


class SimdTrace(SimdOps[TVal]):
    """SimdOps that records operations instead of computing them."""

    def __init__(self) -> None:
        self.ops: list[TOp] = []
        self.inputs: dict[str, TVal] = {}
        self.splats: dict[int, TVal] = {}
        self._next = 0

    def _new(self, kind: Kind) -> TVal:
        v = TVal(self._next, kind)
        self._next += 1
        return v

    def input(self, name: str, kind: Kind) -> TVal:
        """Declare a named input value (bound to storage when the plan is laid out)."""
        if name in self.inputs:
            raise CodegenError(f"recipe input {name!r} declared twice")
        v = self._new(kind)
        self.inputs[name] = v
        return v

    def kind(self, v: TVal) -> Kind:
        """The kind of `v`."""
        return v.kind

    def vop(
        self,
        funct: VFunct,
        a: TVal,
        b: TVal | Const | None = None,
        *,
        c: Const | None = None,
        acc: TVal | None = None,
    ) -> TVal:
        """Record `funct` and return its (new) result value."""
        d = VFUNCT_DEFS[funct]
        needs_b = d.kind in (VKind.BINARY, VKind.TERNARY_CONST, VKind.TERNARY_DST)
        if d.kind is VKind.TO_INT8:
            raise CodegenError(f"{funct.name} writes the INP buffer; SIMD recipes cannot use it")
        if needs_b != (b is not None):
            raise CodegenError(f"{funct.name}: operand b {'missing' if needs_b else 'not allowed'}")
        if (d.kind is VKind.TERNARY_CONST) != (c is not None):
            raise CodegenError(f"{funct.name}: constant c {'missing' if c is None else 'not allowed'}")
        if (d.kind is VKind.TERNARY_DST) != (acc is not None):
            raise CodegenError(f"{funct.name}: destination operand {'missing' if acc is None else 'not allowed'}")
        if d.kind is VKind.REDUCE and a.kind is not Kind.FULL:
            raise CodegenError(f"{funct.name} reduces a FULL value, not a {a.kind.value} one")
        kinds = [x.kind for x in (a, b, acc) if isinstance(x, TVal)]
        dst = self._new(result_kind(funct, kinds))
        self.ops.append(TOp(funct, dst, a, b, c, acc))
        return dst

    def splat(self, value: Const) -> TVal:
        """A WORD value holding `value` in every lane (initialised once per kernel)."""
        if value.bits not in self.splats:
            self.splats[value.bits] = self._new(Kind.WORD)
        return self.splats[value.bits]

    def tail(self, funct: VFunct, v: TVal, m: TVal) -> TVal:
        """Record funct applied to the last word of each row of `v` with the WORD `m`."""
        if VFUNCT_DEFS[funct].kind is not VKind.BINARY or v.kind is not Kind.FULL or m.kind is not Kind.WORD:
            raise CodegenError("tail() takes a binary function, a FULL value and a WORD mask")
        dst = self._new(Kind.FULL)
        self.ops.append(TOp(funct, dst, v, m, None, v, tail=True))
        return dst


# ---- storage plan -------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Slot:
    """Where a value lives: a temporary ('full'/'row', index), a block input ('in', name), a persistent
    value ('fixed', name), a splatted constant ('splat', bits) or the block output ('out', 0)."""

    space: str
    key: str | int


OUT = Slot("out", 0)
_TEMP_SPACE = {Kind.FULL: "full", Kind.ROW: "row"}


@dataclass(frozen=True)
class Loc:
    """An operand: its slot and kind."""

    slot: Slot
    kind: Kind


@dataclass(frozen=True)
class POp:
    """A planned VOP: function, destination and operands in slots; `tail` ops touch only the last word."""

    funct: VFunct
    dst: Loc
    a: Loc
    b: Loc | Const | None
    c: Const | None
    tail: bool = False

    @property
    def consts(self) -> tuple[Const, ...]:
        """Constants this operation needs in registers (b first, then c)."""
        return tuple(x for x in (self.b, self.c) if isinstance(x, Const))


@dataclass(frozen=True)
class VopDraft:
    """A VOP with addresses resolved but constants symbolic (b_const operand and c as Const)."""

    fields: tuple[tuple[str, int], ...]
    b: Const | None
    c: Const | None


@dataclass(frozen=True)
class Plan:
    """A recipe with storage assigned: operations, temporaries needed and splats to initialise."""

    ops: tuple[POp, ...]
    full_slots: int
    row_slots: int
    splats: tuple[Const, ...]
    inputs: Mapping[str, Kind] = field(default_factory=dict)

    def words(self, rows: int, words: int) -> int:
        """VEC words of temporaries for a block of `rows` rows of `words` words."""
        return self.full_slots * rows * words + self.row_slots * rows

    def vops(self, rows: int, words: int, addr: Mapping[Slot, int]) -> list[VopDraft]:
        """The block's VOPs for `rows` rows of `words` words, slots placed at `addr` (temporaries included)."""
        if words > _MAX_STRIDE:
            raise CodegenError(f"a row of {words} VEC words exceeds the {_MAX_STRIDE}-word VOP stride limit")
        return [_draft(op, rows, words, addr) for op in self.ops]

    def init_vops(self, addr: Mapping[Slot, int]) -> list[VopDraft]:
        """VOPs that write every splat word (a word minus itself is 0, plus the constant's pattern)."""
        out = []
        for cst in self.splats:
            w = addr[Slot("splat", cst.bits)]
            base = dict(outer=1, inner=1, dst_base=w, a_base=w)
            out.append(VopDraft(_fields(VFunct.ISUB, b_base=w, **base), None, None))
            out.append(VopDraft(_fields(VFunct.IADD, b_const=1, **base), cst, None))
        return out


def _fields(funct: VFunct, **kw: int) -> tuple[tuple[str, int], ...]:
    return (("funct", int(funct)), *sorted(kw.items()))


def _strides(kind: Kind, words: int) -> tuple[int, int]:
    """(ostride, istride) of an operand of `kind` in a block with rows of `words` words."""
    return {Kind.FULL: (words, 1), Kind.ROW: (1, 0), Kind.VEC: (0, 1), Kind.WORD: (0, 0)}[kind]


def _draft(op: POp, rows: int, words: int, addr: Mapping[Slot, int]) -> VopDraft:
    kw: dict[str, int] = {}
    if op.tail:
        kw.update(outer=rows, inner=1)
        last = words - 1
        for name, loc in (("dst", op.dst), ("a", op.a)):
            kw.update({f"{name}_base": addr[loc.slot] + last, f"{name}_ostride": words, f"{name}_istride": 0})
    else:
        it = op.a.kind if VFUNCT_DEFS[op.funct].kind is VKind.REDUCE else op.dst.kind
        kw.update(outer=rows if it.per_row else 1, inner=words if it.wide else 1)
        for name, loc in (("dst", op.dst), ("a", op.a)):
            o, i = _strides(loc.kind, words)
            kw.update({f"{name}_base": addr[loc.slot], f"{name}_ostride": o, f"{name}_istride": i})
    b_const = None
    if isinstance(op.b, Loc):
        o, i = (0, 0) if op.tail else _strides(op.b.kind, words)
        kw.update(b_base=addr[op.b.slot], b_ostride=o, b_istride=i)
    elif isinstance(op.b, Const):
        kw.update(b_const=1)
        b_const = op.b
    return VopDraft(_fields(op.funct, **kw), b_const, op.c)


class _Pool:
    """Free temporaries of one kind, lowest first; grows on demand."""

    def __init__(self, space: str) -> None:
        self.space, self.count = space, 0
        self.free: list[Slot] = []

    def get(self) -> Slot:
        if self.free:
            return heapq.heappop(self.free)
        self.count += 1
        return Slot(self.space, self.count - 1)

    def put(self, s: Slot) -> None:
        heapq.heappush(self.free, s)


def plan(trace: SimdTrace, out: TVal) -> Plan:
    """Assign storage to every value of `trace` whose result is `out` (written straight to the OUT slot).

    Inputs of kind FULL or ROW live in ('in', name) slots, which the plan may reuse once the input is dead;
    VEC and WORD inputs and splats are read-only ('fixed' / 'splat').
    """
    if out.kind is not Kind.FULL:
        raise CodegenError(f"a kernel's result must be a FULL value, not {out.kind.value}")
    ops = trace.ops
    last: dict[int, int] = {}
    for i, op in enumerate(ops):
        for x in (op.a, op.b, op.acc):
            if isinstance(x, TVal):
                last[x.id] = i
    last[out.id] = len(ops)
    loc: dict[int, Loc] = {}
    for name, v in trace.inputs.items():
        space = "in" if v.kind.per_row else "fixed"
        loc[v.id] = Loc(Slot(space, name), v.kind)
    for bits_, v in trace.splats.items():
        loc[v.id] = Loc(Slot("splat", bits_), Kind.WORD)
    pools = {Kind.FULL: _Pool("full"), Kind.ROW: _Pool("row")}
    planned: list[POp] = []

    def reusable(v: TVal, i: int, kind: Kind) -> bool:
        s = loc[v.id].slot
        return last.get(v.id) == i and v.kind is kind and s.space in ("full", "row", "in")

    def fresh(kind: Kind) -> Slot:
        if kind not in pools:
            raise CodegenError(f"recipes may only compute FULL or ROW values, not {kind.value}")
        return pools[kind].get()

    def release(v: TVal) -> None:
        s = loc[v.id].slot
        if s.space in ("full", "row", "in") and v.id != out.id:
            pools[v.kind].put(s)

    for i, op in enumerate(ops):
        kind = op.dst.kind
        taken: TVal | None = None
        if op.dst.id == out.id:
            slot = OUT
        elif op.acc is not None:
            if reusable(op.acc, i, kind):
                slot, taken = loc[op.acc.id].slot, op.acc
            else:
                slot = fresh(kind)
        else:
            slot = None
            for x in (op.a, op.b):
                if isinstance(x, TVal) and reusable(x, i, kind) and x is not taken:
                    slot, taken = loc[x.id].slot, x
                    break
            if slot is None:
                slot = fresh(kind)
        dst = Loc(slot, kind)
        if op.acc is not None and taken is not op.acc:
            planned.append(POp(VFunct.IADD, dst, loc[op.acc.id], Const(0), None))  # exact copy, then update in place
        b = loc[op.b.id] if isinstance(op.b, TVal) else op.b
        planned.append(POp(op.funct, dst, loc[op.a.id], b, op.c, op.tail))
        loc[op.dst.id] = dst
        dying = {x.id: x for x in (op.a, op.b, op.acc) if isinstance(x, TVal) and last.get(x.id) == i}
        for v in dying.values():
            if v is not taken:
                release(v)
        if op.dst.id not in last:
            release(op.dst)
    if out.id not in loc or loc[out.id].slot != OUT:
        raise CodegenError("the kernel result must be computed by the recipe (not an input)")
    splats = tuple(Const(b) for b in sorted(trace.splats))
    inputs = {name: v.kind for name, v in trace.inputs.items()}
    return Plan(tuple(planned), pools[Kind.FULL].count, pools[Kind.ROW].count, splats, inputs)


# ---- constant registers ---------------------------------------------------------------------
class ConstRegs:
    """Contents of the eight constant registers as known to the code generator (None: unknown).

    Pass one instance through consecutive kernels of a program so that constants already loaded are
    reused. :meth:`assign` picks registers with Belady's rule (evict the value needed furthest ahead).
    """

    def __init__(self, known: Sequence[int | None] | None = None) -> None:
        self.regs: list[int | None] = list(known) if known is not None else [None] * NUM_CONST_REGS
        if len(self.regs) != NUM_CONST_REGS:
            raise CodegenError(f"ConstRegs needs {NUM_CONST_REGS} entries, got {len(self.regs)}")

    def assign(self, drafts: Sequence[VopDraft]) -> list[tuple[list[tuple[int, int]], dict[str, int]]]:
        """For each draft: the SETCs (register, bits) to emit before it and its final VOP fields."""
        uses: dict[int, list[int]] = {}
        for j, d in enumerate(drafts):
            for cst in (d.b, d.c):
                if cst is not None:
                    uses.setdefault(cst.bits, []).append(j)
        cursor = dict.fromkeys(uses, 0)

        def next_use(bits_: int | None, j: int) -> float:
            if bits_ is None or bits_ not in uses:
                return float("inf")
            lst = uses[bits_]
            k = cursor[bits_]
            while k < len(lst) and lst[k] <= j:
                k += 1
            cursor[bits_] = k
            return lst[k] if k < len(lst) else float("inf")

        out = []
        for j, d in enumerate(drafts):
            setcs: list[tuple[int, int]] = []
            fields = dict(d.fields)
            pinned: set[int] = set()
            for name, cst in (("b_base", d.b), ("c_idx", d.c)):
                if cst is None:
                    continue
                if cst.bits in self.regs:
                    r = self.regs.index(cst.bits)
                else:
                    free = [r for r in range(NUM_CONST_REGS) if r not in pinned]
                    # Belady: evict the value needed furthest ahead; among values never needed again,
                    # take an empty register first (its neighbours may serve a later kernel)
                    r = max(free, key=lambda r: (next_use(self.regs[r], j), self.regs[r] is None, -r))
                    self.regs[r] = cst.bits
                    setcs.append((r, cst.bits))
                pinned.add(r)
                fields[name] = r
            out.append((setcs, fields))
        return out
