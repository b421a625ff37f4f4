"""The tataa instruction set, declared once.

Every instruction is INSN_BITS wide. Formats list their fields from the least significant bit upwards;
bit positions are computed here, never typed. Encoders, decoders, the assembler, the disassembler,
the simulator's dispatch, the SystemVerilog package and docs/isa.md all derive from this module.

Execution model (decoupled access/execute, as in TVM's VTA): one instruction stream is fetched in
order and dispatched to three in-order units, LOAD (HBM -> on-chip buffers), COMPUTE (GEMM,
requantization, SIMD) and STORE (on-chip buffers -> HBM). Units synchronise only through four
dependency-token FIFOs between neighbours; every instruction carries four flags:

* ``pop_prev``  wait for (and consume) a token from the previous unit   (LOAD has no previous unit)
* ``pop_next``  wait for (and consume) a token from the next unit       (STORE has no next unit)
* ``push_prev`` after completion, send a token to the previous unit
* ``push_next`` after completion, send a token to the next unit

The token FIFOs are LOAD->COMPUTE, COMPUTE->LOAD, COMPUTE->STORE and STORE->COMPUTE.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType

INSN_BITS = 128
INSN_BYTES = INSN_BITS // 8


class Unit(IntEnum):
    """The execution unit an instruction is dispatched to."""

    LOAD = 0
    COMPUTE = 1
    STORE = 2


class Buffer(IntEnum):
    """On-chip buffers. Each word holds array_size elements of the buffer's element type."""

    INP = 0  # int8 systolic inputs (activations)
    WGT = 1  # int8 weights, one N-word tile per N x N block
    ACC = 2  # int32 accumulators; also holds packed requantization scales
    VEC = 3  # bf16 vector registers of the SIMD datapath


class Mode(IntEnum):
    """Personality of the PE array."""

    SYSTOLIC = 0  # int8 x int8 -> int32 systolic array
    SIMD = 1  # bf16 SIMD lanes


class OutType(IntEnum):
    """Output of the requantization epilogue."""

    INT8 = 0  # saturated int8 written to the INP buffer
    BF16 = 1  # bf16 written to the VEC buffer


class VFunct(IntEnum):
    """Operations of the bf16 SIMD datapath (field `funct` of VOP)."""

    ADD = 0
    SUB = 1
    MUL = 2
    MAX = 3
    MIN = 4
    FMA = 5
    MAC = 6
    CMPLT = 7
    CMPEQ = 8
    SEL = 9
    MOV = 10
    ABS = 11
    FLOOR = 12
    GETEXP = 13
    GETMANT = 14
    LDEXP = 15
    IADD = 16
    ISUB = 17
    ISHR = 18
    ISHL = 19
    F2I8 = 20
    REDMAX = 21
    REDSUM = 22
    REDSUMSQ = 23


class VKind(IntEnum):
    """How a SIMD function uses the VOP operands."""

    UNARY = 0  # dst = f(a)
    BINARY = 1  # dst = f(a, b)
    TERNARY_CONST = 2  # dst = f(a, b, const[c_idx])
    TERNARY_DST = 3  # dst = f(a, b, dst)
    TO_INT8 = 4  # INP[dst] = f(a, b): the destination is a word of the INP buffer
    REDUCE = 5  # dst[o] = broadcast(reduce over inner words and lanes of a)


@dataclass(frozen=True)
class VFunctDef:
    """One SIMD function: its operands, the numerics function implementing it, and its meaning."""

    funct: VFunct
    kind: VKind
    impl: str  # name of the function in tataa.numerics
    doc: str


VFUNCTS: tuple[VFunctDef, ...] = (
    VFunctDef(VFunct.ADD, VKind.BINARY, "bf16_add", "a + b, rounded once (RNE)"),
    VFunctDef(VFunct.SUB, VKind.BINARY, "bf16_sub", "a - b, rounded once (RNE)"),
    VFunctDef(VFunct.MUL, VKind.BINARY, "bf16_mul", "a * b, rounded once (RNE)"),
    VFunctDef(VFunct.MAX, VKind.BINARY, "bf16_max", "max(a, b); NaN if either is NaN; max(-0, +0) = +0"),
    VFunctDef(VFunct.MIN, VKind.BINARY, "bf16_min", "min(a, b); NaN if either is NaN; min(-0, +0) = -0"),
    VFunctDef(VFunct.FMA, VKind.TERNARY_CONST, "bf16_fma", "a * b + const[c_idx], rounded once (fused)"),
    VFunctDef(VFunct.MAC, VKind.TERNARY_DST, "bf16_fma", "a * b + dst, rounded once (fused)"),
    VFunctDef(VFunct.CMPLT, VKind.BINARY, "bf16_cmplt", "1.0 if a < b else 0.0 (false when either is NaN)"),
    VFunctDef(VFunct.CMPEQ, VKind.BINARY, "bf16_cmpeq", "1.0 if a == b else 0.0 (+0 == -0; NaN never equal)"),
    VFunctDef(VFunct.SEL, VKind.TERNARY_DST, "bf16_select", "a if dst != 0 else b (dst is the condition)"),
    VFunctDef(VFunct.MOV, VKind.UNARY, "bf16_mov", "a (subnormals flushed, NaN made canonical)"),
    VFunctDef(VFunct.ABS, VKind.UNARY, "bf16_abs", "|a|"),
    VFunctDef(VFunct.FLOOR, VKind.UNARY, "bf16_floor", "largest integer <= a"),
    VFunctDef(VFunct.GETEXP, VKind.UNARY, "bf16_getexp", "unbiased exponent of a as a bf16 integer"),
    VFunctDef(VFunct.GETMANT, VKind.UNARY, "bf16_getmant", "a with its exponent set to 0: sign * [1, 2)"),
    VFunctDef(VFunct.LDEXP, VKind.BINARY, "bf16_ldexp", "a * 2**floor(b), rounded once"),
    VFunctDef(VFunct.IADD, VKind.BINARY, "bits_add", "bit patterns added as uint16, modulo 2**16"),
    VFunctDef(VFunct.ISUB, VKind.BINARY, "bits_sub", "bit patterns subtracted as uint16, modulo 2**16"),
    VFunctDef(VFunct.ISHR, VKind.BINARY, "bits_shr", "bit pattern of a shifted right (logical) by b's bits & 15"),
    VFunctDef(VFunct.ISHL, VKind.BINARY, "bits_shl", "bit pattern of a shifted left by b's bits & 15"),
    VFunctDef(VFunct.F2I8, VKind.TO_INT8, "bf16_to_int8", "saturate_int8(round_half_even(a * b)) into INP"),
    VFunctDef(VFunct.REDMAX, VKind.REDUCE, "reduce_max", "row maximum, broadcast to every lane"),
    VFunctDef(VFunct.REDSUM, VKind.REDUCE, "reduce_sum", "row sum accumulated in fp32, broadcast"),
    VFunctDef(VFunct.REDSUMSQ, VKind.REDUCE, "reduce_sumsq", "row sum of squares accumulated in fp32"),
)
VFUNCT_DEFS: Mapping[VFunct, VFunctDef] = MappingProxyType({d.funct: d for d in VFUNCTS})


class Opcode(IntEnum):
    """Instruction opcodes (4 bits)."""

    LOAD = 0
    STORE = 1
    GEMM = 2
    REQUANT = 3
    VOP = 4
    SETC = 5
    MODE = 6
    NOP = 7
    FINISH = 8


@dataclass(frozen=True)
class Field:
    """One named bit field of an instruction format."""

    name: str
    width: int
    doc: str
    enum: type[IntEnum] | None = None

    @property
    def max(self) -> int:
        """Largest value the field can hold."""
        return (1 << self.width) - 1


# Every format starts with this header.
HEADER: tuple[Field, ...] = (
    Field("opcode", 4, "operation", Opcode),
    Field("pop_prev", 1, "wait for a token from the previous unit"),
    Field("pop_next", 1, "wait for a token from the next unit"),
    Field("push_prev", 1, "signal the previous unit on completion"),
    Field("push_next", 1, "signal the next unit on completion"),
)
DEP_FLAGS = ("pop_prev", "pop_next", "push_prev", "push_next")


@dataclass(frozen=True)
class Format:
    """An instruction layout: the header followed by the format's own fields."""

    name: str
    fields: tuple[Field, ...]  # without the header
    doc: str

    @property
    def all_fields(self) -> tuple[Field, ...]:
        """Header and body fields, least significant first."""
        return HEADER + self.fields

    @property
    def layout(self) -> tuple[tuple[Field, int], ...]:
        """(field, lsb) for every field, least significant first."""
        out, pos = [], 0
        for f in self.all_fields:
            out.append((f, pos))
            pos += f.width
        return tuple(out)

    @property
    def used_bits(self) -> int:
        """Bits occupied by fields; the rest of the instruction is reserved and must be zero."""
        return sum(f.width for f in self.all_fields)


def _f(name: str, width: int, doc: str, enum: type[IntEnum] | None = None) -> Field:
    return Field(name, width, doc, enum)


FMT_DMA = Format(
    "dma",
    (
        _f("buf", 2, "on-chip buffer", Buffer),
        _f("sram_base", 16, "first buffer word"),
        _f("sram_ystride", 12, "buffer words between consecutive rows"),
        _f("sram_wstride", 12, "buffer words between consecutive words of one row"),
        _f("rows", 12, "rows to move"),
        _f("cols", 12, "elements per row; the last word of a row is zero-padded on load"),
        _f("dram_reg", 3, "HBM base-address register (region)"),
        _f("dram_offset", 32, "byte offset of row 0 within the region"),
        _f("dram_stride", 17, "bytes between consecutive rows in HBM"),
    ),
    "Strided 2-D copy between an HBM region and an on-chip buffer. Row y, element e lives at HBM byte "
    "dram_offset + y*dram_stride + e*elem_bytes and in buffer word "
    "sram_base + y*sram_ystride + (e // N)*sram_wstride, lane e % N.",
)

FMT_GEMM = Format(
    "gemm",
    (
        _f("clear", 1, "the first k-tile overwrites the accumulators instead of adding to them"),
        _f("rows", 12, "M: input rows streamed through each weight tile"),
        _f("ktiles", 10, "weight tiles along K"),
        _f("ntiles", 10, "weight tiles along N"),
        _f("inp_base", 16, "INP word of row 0 of k-tile 0"),
        _f("inp_kstride", 16, "INP words between consecutive k-tiles"),
        _f("wgt_base", 16, "WGT word of tile (0, 0); tile (n, k) starts at wgt_base + (n*ktiles + k)*N"),
        _f("acc_base", 16, "ACC word of row 0 of n-tile 0"),
        _f("acc_nstride", 16, "ACC words between consecutive n-tiles"),
    ),
    "int8 x int8 -> int32 GEMM in systolic mode. For n < ntiles, k < ktiles, m < rows: "
    "ACC[acc_base + n*acc_nstride + m] (+)= INP[inp_base + k*inp_kstride + m] @ "
    "WGT[wgt_base + (n*ktiles + k)*N : +N] (an N x N tile, word j = row j).",
)

FMT_REQUANT = Format(
    "requant",
    (
        _f("out_type", 1, "int8 into INP, or bf16 into VEC", OutType),
        _f("tiles", 10, "channel tiles"),
        _f("rows", 12, "rows per channel tile"),
        _f("acc_base", 16, "ACC word of row 0 of tile 0"),
        _f("acc_tstride", 16, "ACC words between consecutive tiles"),
        _f("scale_base", 16, "ACC word holding the packed scales of tile 0"),
        _f("scale_tstride", 1, "1: tile t uses scale word scale_base + t; 0: all tiles use scale_base"),
        _f("dst_base", 16, "destination word of row 0 of tile 0"),
        _f("dst_tstride", 16, "destination words between consecutive tiles"),
        _f("dst_mstride", 12, "destination words between consecutive rows"),
    ),
    "Requantization epilogue on the accumulator drain path (legal in either mode). Lane j of "
    "ACC[acc_base + t*acc_tstride + m] is scaled by the packed scale in lane j of its scale word "
    "(multiplier m16 in bits 15:0, shift s in bits 21:16: value = acc * m16 * 2**-s) and written to "
    "dst_base + t*dst_tstride + m*dst_mstride.",
)

FMT_VOP = Format(
    "vop",
    (
        _f("funct", 5, "SIMD function", VFunct),
        _f("outer", 12, "outer loop count"),
        _f("inner", 12, "inner loop count"),
        _f("dst_base", 16, "destination word (VEC; INP for F2I8)"),
        _f("dst_ostride", 12, "destination words per outer step"),
        _f("dst_istride", 1, "destination words per inner step (0 or 1)"),
        _f("a_base", 16, "operand a word (VEC)"),
        _f("a_ostride", 12, "operand a words per outer step"),
        _f("a_istride", 1, "operand a words per inner step (0 or 1)"),
        _f("b_base", 16, "operand b word (VEC), or constant register index if b_const"),
        _f("b_ostride", 12, "operand b words per outer step"),
        _f("b_istride", 1, "operand b words per inner step (0 or 1)"),
        _f("b_const", 1, "operand b is constant register b_base, broadcast to every lane"),
        _f("c_idx", 3, "constant register added by FMA"),
    ),
    "bf16 SIMD operation in SIMD mode over a 2-D loop: for o < outer, i < inner, operand x is the word "
    "x_base + o*x_ostride + i*x_istride. Reductions write one word per outer step (dst_istride unused).",
)

FMT_SETC = Format(
    "setc",
    (_f("idx", 3, "constant register"), _f("value", 16, "bf16 bit pattern")),
    "Set one of the eight bf16 constant registers of the SIMD datapath.",
)

FMT_MODE = Format("mode", (_f("mode", 1, "new personality of the PE array", Mode),), "Switch the PE array mode.")

FMT_NOP = Format(
    "nop",
    (_f("unit", 2, "unit that executes it (LOAD, COMPUTE or STORE)", Unit),),
    "No operation; carries dependency tokens for the chosen unit.",
)

FMT_FINISH = Format("finish", (), "End of program: raises done once every unit has drained.")


@dataclass(frozen=True)
class OpcodeDef:
    """One opcode: its format, the unit that executes it and the PE-array mode it requires."""

    opcode: Opcode
    fmt: Format
    unit: Unit | None  # None: chosen by the instruction's `unit` field (NOP)
    mode: Mode | None  # None: legal in either mode
    doc: str


OPCODES: tuple[OpcodeDef, ...] = (
    OpcodeDef(Opcode.LOAD, FMT_DMA, Unit.LOAD, None, "HBM -> buffer"),
    OpcodeDef(Opcode.STORE, FMT_DMA, Unit.STORE, None, "buffer -> HBM"),
    OpcodeDef(Opcode.GEMM, FMT_GEMM, Unit.COMPUTE, Mode.SYSTOLIC, "tiled int8 GEMM into int32 accumulators"),
    OpcodeDef(Opcode.REQUANT, FMT_REQUANT, Unit.COMPUTE, None, "int32 accumulators -> int8 or bf16"),
    OpcodeDef(Opcode.VOP, FMT_VOP, Unit.COMPUTE, Mode.SIMD, "bf16 SIMD operation"),
    OpcodeDef(Opcode.SETC, FMT_SETC, Unit.COMPUTE, None, "set a constant register"),
    OpcodeDef(Opcode.MODE, FMT_MODE, Unit.COMPUTE, None, "switch PE array mode"),
    OpcodeDef(Opcode.NOP, FMT_NOP, None, None, "no operation (token carrier)"),
    OpcodeDef(Opcode.FINISH, FMT_FINISH, Unit.COMPUTE, None, "end of program"),
)
OPCODE_DEFS: Mapping[Opcode, OpcodeDef] = MappingProxyType({d.opcode: d for d in OPCODES})
FORMATS: tuple[Format, ...] = tuple(dict.fromkeys(d.fmt for d in OPCODES))

NUM_CONST_REGS = 8
NUM_DRAM_REGS = 8
SCALE_M_BITS = 16  # requantization multiplier width (bits 15:0 of a scale lane)
SCALE_S_BITS = 6  # requantization shift width (bits 21:16 of a scale lane)


@dataclass(frozen=True)
class Instruction:
    """One decoded instruction: opcode plus the value of every field of its format (header included)."""

    opcode: Opcode
    fields: tuple[tuple[str, int], ...]  # (name, value) for every non-opcode field, in format order

    @property
    def defn(self) -> OpcodeDef:
        """The opcode's definition."""
        return OPCODE_DEFS[self.opcode]

    def __getitem__(self, name: str) -> int:
        for k, v in self.fields:
            if k == name:
                return v
        raise KeyError(f"{self.opcode.name} has no field {name!r}")

    def as_dict(self) -> dict[str, int]:
        """Field values by name (without the opcode)."""
        return dict(self.fields)

    @property
    def unit(self) -> Unit:
        """The unit that executes this instruction."""
        u = self.defn.unit
        return Unit(self["unit"]) if u is None else u


def make(opcode: Opcode, **values: int) -> Instruction:
    """Build an instruction; fields not given are zero. Unknown field names raise ValueError.

    Range checking happens in :func:`tataa.isa.encoding.encode`.
    """
    fmt = OPCODE_DEFS[opcode].fmt
    names = [f.name for f in fmt.all_fields if f.name != "opcode"]
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"{opcode.name}: unknown field(s) {sorted(unknown)}; fields are {names}")
    return Instruction(opcode, tuple((n, int(values.get(n, 0))) for n in names))


def isa_hash() -> str:
    """SHA-256 (hex, 16 chars) over the canonical description of every format, opcode and SIMD function."""
    parts = [f"INSN_BITS={INSN_BITS}"]
    for d in OPCODES:
        parts.append(f"op {d.opcode.name}={d.opcode.value} unit={d.unit} mode={d.mode} fmt={d.fmt.name}")
    for fmt in FORMATS:
        for f, lsb in fmt.layout:
            enum = ",".join(f"{e.name}={e.value}" for e in f.enum) if f.enum else ""
            parts.append(f"{fmt.name}.{f.name}@{lsb}:{f.width}[{enum}]")
    for v in VFUNCTS:
        parts.append(f"vf {v.funct.name}={v.funct.value} {v.kind.name} {v.impl}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _check() -> None:
    for fmt in FORMATS:
        if fmt.used_bits > INSN_BITS:
            raise AssertionError(f"format {fmt.name} needs {fmt.used_bits} bits > {INSN_BITS}")
        names = [f.name for f in fmt.all_fields]
        if len(names) != len(set(names)):
            raise AssertionError(f"format {fmt.name} repeats a field name")
    if set(VFUNCT_DEFS) != set(VFunct):
        raise AssertionError("every VFunct needs a VFunctDef")
    if set(OPCODE_DEFS) != set(Opcode):
        raise AssertionError("every Opcode needs an OpcodeDef")


_check()
