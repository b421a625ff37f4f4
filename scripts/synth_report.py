"""Synthesis sanity check: run Yosys on the RTL of one configuration and print cells, flip-flops and DSPs.

Generic synthesis (`synth`) always runs; `--xilinx` adds `synth_xilinx -family xcup` (UltraScale+, the U280's
family) for a DSP48E2 count. Scratchpads are flip-flop arrays in this RTL (no vendor RAM macros yet), so the
flip-flop count of a whole core is dominated by them; `--top` picks a smaller module.

    .venv/bin/python scripts/synth_report.py --config tiny --top tataa_systolic_array --xilinx
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tataa.hdl.verilator import rtl_sources, tool_path


def yosys_stat(sources: list[Path], top: str, flow: str, timeout: float) -> tuple[dict[str, int], float]:
    """Run `flow` (a Yosys synth command) on `top`; return the cell counts by type and the seconds it took."""
    with tempfile.TemporaryDirectory() as tmp:
        stat = Path(tmp) / "stat.txt"
        script = f"read_verilog -sv {' '.join(map(str, sources))}; {flow} -top {top} -flatten; tee -o {stat} stat"
        t = time.perf_counter()
        res = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True, timeout=timeout)
        took = time.perf_counter() - t
        if res.returncode != 0:
            raise SystemExit(f"yosys {flow} failed:\n{(res.stdout + res.stderr)[-3000:]}")
        text = stat.read_text()
    cells: dict[str, int] = {}
    for name, count in re.findall(r"^\s+(\$?[\w$]+)\s+(\d+)\s*$", text, re.M):
        cells[name] = cells.get(name, 0) + int(count)
    total = re.search(r"Number of cells:\s+(\d+)", text)
    cells["__total__"] = int(total.group(1)) if total else sum(cells.values())
    return cells, took


def summarize(cells: dict[str, int]) -> tuple[int, int, int]:
    """(cells, flip-flops, DSP48E2) from a Yosys cell histogram."""
    ffs = sum(n for c, n in cells.items() if "DFF" in c.upper() or c in ("FDRE", "FDSE", "FDCE", "FDPE"))
    dsps = sum(n for c, n in cells.items() if c.startswith("DSP48"))
    return cells["__total__"], ffs, dsps


def main(argv: list[str] | None = None) -> int:
    """Print the synthesis summary; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="tiny")
    ap.add_argument("--top", default="tataa_top")
    ap.add_argument("--xilinx", action="store_true", help="also run synth_xilinx -family xcup")
    ap.add_argument("--timeout", type=float, default=3600)
    args = ap.parse_args(argv)
    if tool_path("yosys") is None:
        print("yosys is not installed (bash scripts/setup.sh installs it)", file=sys.stderr)
        return 2
    sources = rtl_sources(args.config)
    flows = ["synth"] + (["synth_xilinx -family xcup"] if args.xilinx else [])
    print(f"{'flow':28s} {'top':24s} {'cells':>10s} {'flip-flops':>11s} {'DSP48E2':>8s} {'seconds':>8s}")
    for flow in flows:
        cells, took = yosys_stat(sources, args.top, flow, args.timeout)
        total, ffs, dsps = summarize(cells)
        print(f"{flow:28s} {args.top:24s} {total:10d} {ffs:11d} {dsps:8d} {took:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
