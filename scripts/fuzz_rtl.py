#!/usr/bin/env python3
"""Differential fuzzing: random legal, race-free programs on the RTL (Verilator) and on the simulator.

    .venv/bin/python scripts/fuzz_rtl.py --streams 500 --seed 1 --config tiny --keep-failing build/fuzz

Every stream is reproducible on its own from (seed, stream number). A mismatch or an RTL error is reported
(first differing byte, the STORE that wrote it, both values), shrunk to a small program that still fails,
and with --keep-failing written as assembly (the regions' initial images included) next to its report.
Exit status 1 when any stream failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from tataa import config
from tataa.cosim import run_both
from tataa.errors import TataaError
from tataa.fuzz import features, shrink, stream_case
from tataa.isa.asm import disassemble
from tataa.isa.spec import Opcode, VFunct
from tataa.program import Program
from tataa.sim import initial_images


def _failure(program: Program) -> str | None:
    """Why `program` fails under co-simulation (mismatch report or RTL error), or None if it passes."""
    try:
        res = run_both(program, initial_images(program))
    except TataaError as e:
        return f"RTL error: {e}"
    return None if res.mismatch is None else res.mismatch.report()


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzer; 0 when every stream matched, 1 otherwise."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, default=100, help="number of random programs (default 100)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    ap.add_argument("--first", type=int, default=0, help="first stream number (default 0)")
    ap.add_argument("--config", default="tiny", help="hardware configuration (default tiny)")
    ap.add_argument("--insns", type=int, default=20, help="drawn instructions per stream (default 20)")
    ap.add_argument("--keep-failing", type=Path, metavar="DIR", help="write failing programs and reports here")
    ap.add_argument("--no-shrink", action="store_true", help="do not minimise failing programs")
    ap.add_argument("--max-failures", type=int, default=5, help="stop after this many failing streams")
    args = ap.parse_args(argv)

    cfg = config.load(args.config)
    seen: set[str] = set()
    failed: list[int] = []
    ratios: list[float] = []
    redraws = 0
    opcodes: Counter[str] = Counter()
    t_gen = t_sim = t_rtl = 0.0
    start = time.perf_counter()
    done = 0
    for k in range(args.first, args.first + args.streams):
        t0 = time.perf_counter()
        case = stream_case(args.seed, k, cfg, args.insns)
        t_gen += time.perf_counter() - t0
        redraws += case.redraws
        seen |= features(case.program, cfg)
        opcodes.update(i.opcode.name for i in case.program.instructions)
        done += 1
        why: str | None
        try:
            res = run_both(case.program, case.images)
            t_sim += res.sim_seconds
            t_rtl += res.rtl_seconds
            ratios.append(res.cycle_ratio)
            why = None if res.mismatch is None else res.mismatch.report()
        except TataaError as e:
            why = f"RTL error: {e}"
        if why is not None:
            failed.append(k)
            print(f"stream {k} (seed {args.seed}) FAILED: {len(case.program.instructions)} instructions\n{why}")
            small = case.program
            if not args.no_shrink:
                small = shrink(case.program, cfg, lambda p: _failure(p) is not None)
                print(f"  shrunk to {len(small.instructions)} instructions:")
                print(disassemble(small, with_data=False, numbered=True))
                print(f"  {_failure(small)}")
            if args.keep_failing is not None:
                args.keep_failing.mkdir(parents=True, exist_ok=True)
                stem = args.keep_failing / f"stream-{args.seed}-{k}"
                Path(f"{stem}.tasm").write_text(disassemble(case.program, numbered=True))
                Path(f"{stem}-min.tasm").write_text(disassemble(small, numbered=True))
                Path(f"{stem}.txt").write_text(why + "\n")
                print(f"  kept in {stem}.tasm, {stem}-min.tasm, {stem}.txt")
            if len(failed) >= args.max_failures:
                print(f"stopping after {len(failed)} failing streams")
                break
        if done % 10 == 0 or done == args.streams:
            el = time.perf_counter() - start
            print(f"[{done}/{args.streams}] failing {len(failed)}, {el / done:.2f} s/stream", flush=True)

    wall = time.perf_counter() - start
    wanted = {f"op:{op.name}" for op in Opcode} | {f"vfunct:{v.name}" for v in VFunct}
    print("\nsummary")
    print(f"  streams run:        {done} (config {cfg.name}, seed {args.seed}, {args.insns} drawn instructions each)")
    print(f"  failing streams:    {len(failed)} {failed if failed else ''}")
    per_op = ", ".join(f"{k} {v}" for k, v in sorted(opcodes.items()))
    print(f"  instructions:       {sum(opcodes.values())} ({per_op})")
    print(f"  drafts redrawn:     {redraws}")
    print(f"  never exercised:    {sorted(wanted - seen) or 'nothing'}")
    if ratios:
        mean = sum(ratios) / len(ratios)
        print(f"  RTL/sim cycles:     min {min(ratios):.3f}, mean {mean:.3f}, max {max(ratios):.3f}")
    n = max(done, 1)
    split = f"generate {t_gen / n:.3f}, sim {t_sim / n:.3f}, rtl {t_rtl / n:.3f}"
    print(f"  time per stream:    {wall / n:.3f} s ({split})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
