"""Helpers shared by the VOP and REQUANT engine benches: fast hex rows, and the three-tool acceptance check."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tataa.hdl.verilator import tool_path

_BE = {8: ">u1", 16: ">u2", 32: ">u4"}
_UNSIGNED = {8: np.uint8, 16: np.uint16, 32: np.uint32}


def hex_rows(rows: np.ndarray, lane_bits: int) -> str:
    """`$readmemh` text of [R, N] lanes (lane 0 least significant in each word), one word per line."""
    rows = np.asarray(rows)
    flat = np.ascontiguousarray(rows.astype(rows.dtype.newbyteorder("=")).view(_UNSIGNED[lane_bits])[:, ::-1])
    text = flat.astype(_BE[lane_bits]).tobytes().hex()
    width = rows.shape[1] * lane_bits // 4
    return "".join(text[i : i + width] + "\n" for i in range(0, len(text), width))


def read_rows(path: Path, lanes: int, lane_bits: int) -> np.ndarray:
    """Inverse of hex_rows for `$fwrite("%h")` output: [R, lanes] unsigned lanes (x/z digits raise)."""
    lines = path.read_text().split()
    bad = [ln for ln in lines if any(c in "xXzZ" for c in ln)]
    if bad:
        raise AssertionError(f"{path.name}: undefined bits in simulation output, e.g. {bad[0]!r}")
    raw = np.frombuffer(bytes.fromhex("".join(lines)), _BE[lane_bits])
    return raw.reshape(len(lines), lanes)[:, ::-1].astype(_UNSIGNED[lane_bits])


def hex_words(words: Sequence[int], bits: int) -> str:
    """`$readmemh` text of unsigned integers of `bits` bits."""
    digits = -(-bits // 4)
    return "".join(f"{w:0{digits}x}\n" for w in words)


# Icarus notes that it does not check `unique case` (which docs/rtl.md's conventions require); not a defect.
_BENIGN = ("sorry: Case unique/unique0 qualities are ignored",)


def tool_checks(top: str, sources: Sequence[Path], own: Sequence[Path], workdir: Path) -> list[str]:
    """Run `verilator --lint-only -Wall`, Yosys (`proc; opt`) and `iverilog -g2012` on `sources` with top `top`.

    Returns one message per tool that failed, or that printed a warning about one of the `own` files (the
    modules under test; warnings about the modules they instantiate belong to those modules' own checks).
    A tool that is not installed is reported too, so that a missing tool cannot pass silently.
    """
    srcs = [str(s) for s in sources]
    names = [Path(p).name for p in own]
    stems = [Path(p).stem for p in own]
    problems = []
    cmds = {
        "verilator": ["verilator", "--lint-only", "-Wall", "-Wno-fatal", "--top-module", top, *srcs],
        "yosys": ["yosys", "-q", "-p", f"read_verilog -sv {' '.join(srcs)}; hierarchy -check -top {top}; proc; opt"],
        "iverilog": ["iverilog", "-g2012", "-s", top, "-o", str(workdir / f"{top}.vvp"), *srcs],
    }
    for tool, cmd in cmds.items():
        if tool_path(tool) is None:
            problems.append(f"{tool}: not installed")
            continue
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=300)
        out = (res.stdout + res.stderr).strip()
        # Verilator and Icarus name the file; Yosys names the module (e.g. in "Latch inferred for ...").
        keys = stems if tool == "yosys" else names
        mine = [ln for ln in out.splitlines() if any(k in ln for k in keys) and not any(b in ln for b in _BENIGN)]
        if res.returncode != 0 or mine:
            problems.append(f"{tool} (exit {res.returncode}):\n" + "\n".join(mine or out.splitlines()[-40:]))
    return problems
