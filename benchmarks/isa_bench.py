"""Encoder/decoder and assembler speed, as ratios against reading the same bytes with int.from_bytes."""

from __future__ import annotations

import random
import time

from tataa.isa.asm import assemble_instructions, format_instruction
from tataa.isa.encoding import decode_program, encode_program
from tataa.isa.spec import INSN_BYTES, OPCODES, make


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(count: int = 100_000) -> None:
    """Print decode, encode, disassemble and assemble times for `count` random instructions."""
    rng = random.Random(1)
    insns = []
    for _ in range(count):
        d = OPCODES[rng.randrange(len(OPCODES))]
        values = {f.name: (rng.choice(list(f.enum)) if f.enum else rng.randrange(f.max + 1)) for f in d.fmt.fields}
        insns.append(make(d.opcode, **values))
    data = encode_program(insns)
    ref = _best(lambda: [int.from_bytes(data[i : i + INSN_BYTES], "little") for i in range(0, len(data), 16)])
    rows = [
        ("decode_program", _best(lambda: decode_program(data))),
        ("encode_program", _best(lambda: encode_program(insns))),
        ("format_instruction", _best(lambda: [format_instruction(i) for i in insns], 1)),
    ]
    text = "\n".join(format_instruction(i) for i in insns[:20_000])
    rows.append(("assemble (20k lines)", _best(lambda: assemble_instructions(text), 1)))
    print(f"{count} instructions; reference int.from_bytes over the image: {ref * 1e3:.1f} ms")
    for name, t in rows:
        print(f"  {name:22s} {t * 1e3:9.1f} ms   {t / ref:7.1f}x reference")


if __name__ == "__main__":
    main()
