"""Human-readable instruction text for simulator error messages and traces."""

from __future__ import annotations

from tataa.errors import SimError
from tataa.isa.spec import DEP_FLAGS, Instruction


def insn_text(insn: Instruction) -> str:
    """`OPCODE field=value ...`: every body field (enums by name) and the dependency flags that are set."""
    parts = [insn.opcode.name]
    enums = {f.name: f.enum for f in insn.defn.fmt.fields if f.enum is not None}
    for name, value in insn.fields:
        if name in DEP_FLAGS:
            if value:
                parts.append(name)
            continue
        enum = enums.get(name)
        if enum is not None:
            try:
                parts.append(f"{name}={enum(value).name}")
                continue
            except ValueError:
                pass
        parts.append(f"{name}={value}")
    return " ".join(parts)


def fail(index: int, insn: Instruction, message: str) -> SimError:
    """A SimError for instruction `index`, its text included; the caller raises it."""
    return SimError(message, index, insn_text(insn))
