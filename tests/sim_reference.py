"""A deliberately naive, loop-per-element reading of docs/semantics.md, to check the vectorised simulator.

It runs instructions in program order and ignores timing and tokens (valid for programs whose tokens order
every producer before its consumers).
"""

from __future__ import annotations

import numpy as np

from tataa import numerics
from tataa.config import HwConfig
from tataa.isa.spec import VFUNCT_DEFS, Buffer, Mode, Opcode, OutType, VFunct, VKind
from tataa.program import Program

ELEM = {Buffer.INP: (1, True), Buffer.WGT: (1, True), Buffer.ACC: (4, True), Buffer.VEC: (2, False)}


def _wrap32(x: int) -> int:
    return ((x + (1 << 31)) & 0xFFFF_FFFF) - (1 << 31)


def reference_run(program: Program, cfg: HwConfig, images: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Final region images after running `program` element by element."""
    n = cfg.array_size
    hbm = {r.index: np.zeros(r.size, np.uint8) for r in program.regions}
    for r in program.regions:
        hbm[r.index][: len(r.init)] = np.frombuffer(r.init, np.uint8)
    for k, v in images.items():
        hbm[k] = v.copy()
    bufs = {
        Buffer.INP: np.zeros((cfg.inp_depth, n), np.int64),
        Buffer.WGT: np.zeros((cfg.wgt_depth, n), np.int64),
        Buffer.ACC: np.zeros((cfg.acc_depth, n), np.int64),
        Buffer.VEC: np.zeros((cfg.vec_depth, n), np.int64),
    }
    const = [0] * 8
    mode = Mode.SYSTOLIC
    for insn in program.instructions:
        f = insn.as_dict()
        op = insn.opcode
        if op in (Opcode.LOAD, Opcode.STORE):
            buf = Buffer(f["buf"])
            eb, signed = ELEM[buf]
            img = hbm[f["dram_reg"]]
            words = -(-f["cols"] // n)
            for y in range(f["rows"]):
                row = f["dram_offset"] + y * f["dram_stride"]
                for w in range(words):
                    word = f["sram_base"] + y * f["sram_ystride"] + w * f["sram_wstride"]
                    if op is Opcode.LOAD:
                        vals = [0] * n
                        for lane in range(n):
                            e = w * n + lane
                            if e < f["cols"]:
                                a = row + e * eb
                                vals[lane] = int.from_bytes(bytes(img[a : a + eb]), "little", signed=signed)
                        bufs[buf][word] = vals
                    else:
                        for lane in range(n):
                            e = w * n + lane
                            if e < f["cols"]:
                                a = row + e * eb
                                v = int(bufs[buf][word, lane]) & ((1 << (8 * eb)) - 1)
                                img[a : a + eb] = list(v.to_bytes(eb, "little"))
        elif op is Opcode.GEMM:
            assert mode is Mode.SYSTOLIC
            for t in range(f["ntiles"]):
                for m in range(f["rows"]):
                    acc = np.zeros(n, np.int64)
                    for k in range(f["ktiles"]):
                        x = bufs[Buffer.INP][f["inp_base"] + k * f["inp_kstride"] + m]
                        w0 = f["wgt_base"] + (t * f["ktiles"] + k) * n
                        acc = acc + x @ bufs[Buffer.WGT][w0 : w0 + n]
                    word = f["acc_base"] + t * f["acc_nstride"] + m
                    old = 0 if f["clear"] else bufs[Buffer.ACC][word]
                    bufs[Buffer.ACC][word] = [_wrap32(int(v)) for v in old + acc]
        elif op is Opcode.REQUANT:
            out = OutType(f["out_type"])
            for t in range(f["tiles"]):
                scale = bufs[Buffer.ACC][f["scale_base"] + t * f["scale_tstride"]].astype(np.int32)
                for m in range(f["rows"]):
                    acc = bufs[Buffer.ACC][f["acc_base"] + t * f["acc_tstride"] + m].astype(np.int32)
                    dst = f["dst_base"] + t * f["dst_tstride"] + m * f["dst_mstride"]
                    if out is OutType.INT8:
                        bufs[Buffer.INP][dst] = numerics.requant_int8(acc, scale)
                    else:
                        bufs[Buffer.VEC][dst] = numerics.requant_bf16(acc, scale)
        elif op is Opcode.VOP:
            assert mode is Mode.SIMD
            d = VFUNCT_DEFS[VFunct(f["funct"])]
            fn = getattr(numerics, d.impl)
            vec = bufs[Buffer.VEC]

            def word(x: str, o: int, i: int, f: dict[str, int] = f) -> int:
                return f[f"{x}_base"] + o * f[f"{x}_ostride"] + i * f[f"{x}_istride"]

            def w16(ix: int, vec: np.ndarray = vec) -> np.ndarray:
                return vec[ix].astype(np.uint16)

            for o in range(f["outer"]):
                if d.kind is VKind.REDUCE:
                    x = np.stack([w16(word("a", o, i)) for i in range(f["inner"])])
                    vec[f["dst_base"] + o * f["dst_ostride"]] = int(fn(x))
                    continue
                for i in range(f["inner"]):
                    a = w16(word("a", o, i))
                    b = np.full(n, const[f["b_base"]], np.uint16) if f["b_const"] else w16(word("b", o, i))
                    dst = word("dst", o, i)
                    if d.kind is VKind.UNARY:
                        vec[dst] = fn(a)
                    elif d.kind is VKind.BINARY:
                        vec[dst] = fn(a, b)
                    elif d.kind is VKind.TERNARY_CONST:
                        vec[dst] = fn(a, b, np.full(n, const[f["c_idx"]], np.uint16))
                    elif d.kind is VKind.TERNARY_DST:
                        vec[dst] = fn(a, b, w16(dst))
                    else:
                        bufs[Buffer.INP][dst] = fn(a, b)
        elif op is Opcode.SETC:
            const[f["idx"]] = f["value"]
        elif op is Opcode.MODE:
            mode = Mode(f["mode"])
    return hbm
