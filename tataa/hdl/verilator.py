"""Verilator builds of hw/ test benches, cached by a hash of their sources, and hex vector files.

Test benches are SystemVerilog programs (`hw/tb/*.sv`) that read stimulus with `$readmemh`, take
`+name=value` plusargs and write results with `$fwrite`, built with `verilator --binary`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tataa.errors import TataaError

REPO_ROOT = Path(__file__).resolve().parents[2]
RTL_DIR = REPO_ROOT / "hw" / "rtl"
TB_DIR = REPO_ROOT / "hw" / "tb"
BUILD_ROOT = Path(os.environ.get("TATAA_BUILD_DIR", REPO_ROOT / "build"))


class HdlToolError(TataaError):
    """An HDL tool is missing, or a build or simulation failed (the message carries the tool's output)."""


def tool_path(name: str) -> str | None:
    """Path of an HDL tool (verilator, iverilog, yosys), or None when it is not installed."""
    return shutil.which(name)


def config_package(config: str) -> Path:
    """The generated configuration package of hardware configuration `config`."""
    path = RTL_DIR / f"tataa_cfg_{config}_pkg.sv"
    if not path.exists():
        raise HdlToolError(f"no generated package {path.name}; run `tataa isa --write`")
    return path


def rtl_sources(config: str, modules: Iterable[str] = ()) -> list[Path]:
    """Packages first, then the named modules of hw/rtl (all `tataa_*.sv` modules if none are named)."""
    pkgs = [RTL_DIR / "tataa_isa_pkg.sv", config_package(config)]
    if modules:
        mods = [RTL_DIR / f"{m}.sv" for m in modules]
    else:
        mods = sorted(p for p in RTL_DIR.glob("tataa_*.sv") if not p.name.endswith("_pkg.sv"))
    missing = [str(p) for p in mods if not p.exists()]
    if missing:
        raise HdlToolError(f"missing RTL sources: {missing}")
    return pkgs + mods


@dataclass(frozen=True)
class VerilatorBuild:
    """A built simulation executable."""

    exe: Path
    top: str
    key: str


def _key(sources: Sequence[Path], top: str, args: Sequence[str]) -> str:
    h = hashlib.sha256()
    for p in sources:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    h.update(top.encode())
    h.update("\0".join(args).encode())
    ver = subprocess.run(["verilator", "--version"], capture_output=True, text=True).stdout
    h.update(ver.encode())
    return h.hexdigest()[:16]


def build(top: str, sources: Sequence[Path], args: Sequence[str] = (), jobs: int = 2) -> VerilatorBuild:
    """Build `top` from `sources` with `verilator --binary` (cached under build/verilator/)."""
    if tool_path("verilator") is None:
        raise HdlToolError("verilator is not installed (bash scripts/setup.sh installs it)")
    sources = [Path(s) for s in sources]
    key = _key(sources, top, args)
    out = BUILD_ROOT / "verilator" / f"{top}-{key}"
    exe = out / f"V{top}"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not exe.exists():
            cmd = [
                "verilator", "--binary", "-j", str(jobs), "--top-module", top, "-Mdir", str(out / "obj"),
                "-o", str(exe), "-Wno-fatal", "--assert", "-O2", *args, *map(str, sources),
            ]  # fmt: skip
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0 or not exe.exists():
                raise HdlToolError(f"verilator build of {top} failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
    return VerilatorBuild(exe, top, key)


def run(bld: VerilatorBuild, plusargs: dict[str, object] | None = None, cwd: Path | None = None,
        timeout: float = 600) -> str:  # fmt: skip
    """Run a built bench with `+key=value` plusargs; return its stdout, raising on failure or `$fatal`."""
    args = [str(bld.exe)] + [f"+{k}={v}" for k, v in (plusargs or {}).items()]
    res = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise HdlToolError(f"{bld.top} exited with {res.returncode}:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
    return res.stdout


def write_hex(path: Path, words: Iterable[int] | np.ndarray, width: int) -> None:
    """Write unsigned integers (two's complement for negatives) as `$readmemh` lines of `width` bits."""
    digits = -(-width // 4)
    mask = (1 << width) - 1
    values = np.asarray(words).ravel().tolist() if isinstance(words, np.ndarray) else list(words)
    path.write_text("".join(f"{int(w) & mask:0{digits}x}\n" for w in values))


def read_hex(path: Path, width: int, signed: bool = False) -> list[int]:
    """Read `$fwrite("%h")` / `$writememh` lines back as integers (x/z digits are an error)."""
    out = []
    for line in path.read_text().split():
        if line.startswith("//") or line.startswith("@"):
            continue
        if any(c in "xXzZ" for c in line):
            raise HdlToolError(f"{path.name}: undefined bits in simulation output {line!r}")
        v = int(line, 16)
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out


def pack_lanes(rows: np.ndarray, lane_bits: int) -> list[int]:
    """Pack each row of lanes (lane 0 least significant) into one integer word."""
    mask = (1 << lane_bits) - 1
    words = []
    for row in np.asarray(rows).tolist():
        w = 0
        for j, v in enumerate(row):
            w |= (int(v) & mask) << (j * lane_bits)
        words.append(w)
    return words


def unpack_lanes(words: Iterable[int], lanes: int, lane_bits: int, signed: bool = False) -> np.ndarray:
    """Inverse of pack_lanes: integers → [len(words), lanes] array of int64."""
    mask = (1 << lane_bits) - 1
    words = list(words)
    out = np.zeros((len(words), lanes), dtype=np.int64)
    for i, w in enumerate(words):
        for j in range(lanes):
            v = (w >> (j * lane_bits)) & mask
            if signed and v >> (lane_bits - 1):
                v -= 1 << lane_bits
            out[i, j] = v
    return out
