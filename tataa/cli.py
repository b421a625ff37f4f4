"""The `tataa` command line: assemble, disassemble, inspect and run program files; show configs; regenerate ISA files.

Every user-provokable failure (a TataaError or ConfigError) is reported as ``tataa: error: <message>`` on stderr
with exit status 2; ``--debug`` re-raises it with its traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

import tataa
from tataa import config as hwconfig
from tataa import progfile
from tataa.config import ConfigError
from tataa.errors import TataaError
from tataa.isa import spec
from tataa.program import Program

EXIT_OK = 0
EXIT_FAIL = 1  # a check that ran and found problems (`tataa isa --check`)
EXIT_ERROR = 2  # bad input or usage

COMMENT = ";"  # line-comment marker of the assembly language (tataa.isa.asm)


def repo_root() -> Path:
    """The repository root: the parent of the `tataa` package directory."""
    return Path(tataa.__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------------------ helpers


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TataaError(f"cannot read {path!r}: {getattr(e, 'strerror', None) or e}") from None


def _write_text(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as e:
        raise TataaError(f"cannot write {path!r}: {e.strerror or e}") from None


def _load_npz(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):  # pragma: no cover - np.load returns arrays for .npy
                raise TataaError(f"{path!r} is not an .npz archive")
            return {name: archive[name] for name in archive.files}
    except TataaError:
        raise
    except AttributeError:
        raise TataaError(f"{path!r} is not an .npz archive (a single .npy array?)") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise TataaError(f"cannot read inputs {path!r}: {getattr(e, 'strerror', None) or e}") from None


def _save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    try:
        with open(path, "wb") as f:
            np.savez(f, **{str(k): np.asarray(v) for k, v in arrays.items()})
    except OSError as e:
        raise TataaError(f"cannot write outputs {path!r}: {e.strerror or e}") from None


def _unit_name(unit: object) -> str:
    if isinstance(unit, spec.Unit):
        return unit.name
    if isinstance(unit, int):
        try:
            return spec.Unit(unit).name
        except ValueError:
            return str(unit)
    return str(unit)


def _opcode_name(op: object) -> str:
    if isinstance(op, spec.Opcode):
        return op.name
    if isinstance(op, int):
        try:
            return spec.Opcode(op).name
        except ValueError:
            return str(op)
    return str(op)


def _unit_counts(program: Program) -> Counter[str]:
    counts: Counter[str] = Counter()
    for ins in program.instructions:
        try:
            counts[ins.unit.name] += 1
        except ValueError:
            counts["?"] += 1
    return counts


def _fmt_shape(shape: Iterable[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _config_hash_note(program: Program) -> str:
    """Whether the program's config hash matches the shipped configuration of the same name."""
    try:
        cfg = hwconfig.load(program.config_name)
    except ConfigError:
        return "not a shipped configuration"
    return "matches hw/config" if cfg.hash == program.config_hash else f"differs from hw/config ({cfg.hash})"


_PLAIN = re.compile(r"[\w.:/+-]+")


def _show(text: object) -> str:
    """`text` as is when it is a plain token, else its repr (so a summary line never spans two lines)."""
    s = str(text)
    return s if _PLAIN.fullmatch(s) else repr(s)


def summary_lines(program: Program) -> list[str]:
    """Human-readable summary of a program: config, instructions per unit, regions, tensors, metadata."""
    units = _unit_counts(program)
    per_unit = ", ".join(f"{u.name} {units.get(u.name, 0)}" for u in spec.Unit)
    if units.get("?"):
        per_unit += f", invalid unit {units['?']}"
    lines = [
        f"config {_show(program.config_name)} (hash {_show(program.config_hash)})",
        f"{len(program.instructions)} instructions: {per_unit}",
        f"{len(program.regions)} regions:",
    ]
    for r in program.regions:
        lines.append(f"  region {r.index} {r.name!r}: {r.size} B, init {len(r.init)} B")
    lines.append(f"{len(program.tensors)} tensors:")
    for t in program.tensors:
        scale = "" if t.scale is None else f", scale {t.scale!r}"
        stride = f", row_stride {t.row_stride}" if t.row_stride else ""
        lines.append(
            f"  {t.role.value:<6} {t.name!r}: {t.dtype.value}{_fmt_shape(t.shape)} "
            f"in region {t.region} at +{t.offset}{stride}{scale}"
        )
    for k, v in program.metadata:
        lines.append(f"meta {_show(k)} = {_show(v)}")
    return lines


def _table(rows: Sequence[Sequence[object]], out: TextIO, indent: str = "  ") -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    for row in cells:
        print(indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


# ------------------------------------------------------------------------------------------------ trace


def _event_fields(ev: object) -> tuple[int, object, object, int, int]:
    """(index, opcode, unit, start, end) of one trace event, given as a record or a 5-tuple."""
    names = ("index", "opcode", "unit", "start", "end")
    if all(hasattr(ev, n) for n in names):
        index, opcode, unit, start, end = (getattr(ev, n) for n in names)
    elif isinstance(ev, dict) and all(n in ev for n in names):
        index, opcode, unit, start, end = (ev[n] for n in names)
    else:
        try:
            index, opcode, unit, start, end = ev  # type: ignore[misc]
        except (TypeError, ValueError):
            raise TataaError(f"trace event {ev!r} lacks (index, opcode, unit, start, end)") from None
    return int(index), opcode, unit, int(start), int(end)


def chrome_trace(
    events: Iterable[object], clock_mhz: float, process: str = "tataa", program: Program | None = None
) -> dict[str, Any]:
    """Chrome trace-event JSON (one track per unit, timestamps in µs at `clock_mhz`) from simulator trace events.

    With `program`, each span is named by its mnemonic and carries the instruction's assembly text.
    """
    out: list[dict[str, Any]] = [{"name": "process_name", "ph": "M", "pid": 0, "tid": 0, "args": {"name": process}}]
    for u in spec.Unit:
        out.append({"name": "thread_name", "ph": "M", "pid": 0, "tid": int(u), "args": {"name": u.name}})
        out.append({"name": "thread_sort_index", "ph": "M", "pid": 0, "tid": int(u), "args": {"sort_index": int(u)}})
    for ev in events:
        index, opcode, unit, start, end = _event_fields(ev)
        uname = _unit_name(unit)
        tid = int(spec.Unit[uname]) if uname in spec.Unit.__members__ else len(spec.Unit)
        name = _opcode_name(opcode)
        args: dict[str, Any] = {"index": index, "start_cycle": start, "end_cycle": end}
        if program is not None and 0 <= index < len(program.instructions):
            from tataa.isa.asm import format_instruction

            text = format_instruction(program.instructions[index])
            name, args["text"] = text.split()[0], text
        out.append(
            {
                "name": name,
                "cat": uname,
                "ph": "X",
                "pid": 0,
                "tid": tid,
                "ts": start / clock_mhz,
                "dur": (end - start) / clock_mhz,
                "args": args,
            }
        )
    return {"traceEvents": out, "displayTimeUnit": "ns", "otherData": {"clock_mhz": clock_mhz}}


# ------------------------------------------------------------------------------------------------ commands


def cmd_isa(args: argparse.Namespace) -> int:
    """Check or rewrite the files generated from the ISA spec (SystemVerilog package, docs/isa.md)."""
    from tataa.isa import svgen

    root = repo_root()
    if args.write:
        written = svgen.write_generated(root)
        for p in written:
            print(f"wrote {p}")
        if not written:
            print("generated ISA files were already up to date")
        return EXIT_OK
    stale = svgen.check_generated(root)
    if stale:
        print(f"{len(stale)} generated file(s) are stale; run `tataa isa --write`:", file=sys.stderr)
        for p in stale:
            print(f"  {p}", file=sys.stderr)
        return EXIT_FAIL
    print("generated ISA files are up to date")
    return EXIT_OK


def cmd_asm(args: argparse.Namespace) -> int:
    """Assemble a source file into a program file."""
    from tataa.isa.asm import assemble

    program = assemble(_read_text(args.source))
    out = args.output or str(Path(args.source).with_suffix(".tprog"))
    progfile.save(program, out)
    print(
        f"wrote {out}: {len(program.instructions)} instructions, {len(program.regions)} regions, "
        f"{len(program.tensors)} tensors"
    )
    return EXIT_OK


def disasm_text(program: Program, with_data: bool = True) -> str:
    """Assembly for `program` (accepted back by `tataa asm`), preceded by a summary comment."""
    from tataa.isa.asm import disassemble

    body = disassemble(program, with_data=with_data)
    head = [f"{COMMENT} tataa program, ISA {spec.isa_hash()}"]
    head += [f"{COMMENT} {line}" for line in summary_lines(program)]
    if not with_data:
        head.append(f"{COMMENT} (region init images omitted: --no-data)")
    return "\n".join(head) + "\n" + body + ("" if body.endswith("\n") else "\n")


def cmd_disasm(args: argparse.Namespace) -> int:
    """Print (or write) the assembly of a program file."""
    text = disasm_text(progfile.load(args.program), with_data=not args.no_data)
    if args.output:
        _write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run a program file on a backend with inputs from an .npz archive."""
    from tataa.runtime.backends import run

    program = progfile.load(args.program)
    inputs = _load_npz(args.inputs) if args.inputs else {}
    cfg = hwconfig.load(program.config_name)
    clock_mhz = cfg.clock_mhz
    if cfg.hash != program.config_hash:
        print(
            f"tataa: warning: program was built for config {program.config_name!r} with hash {program.config_hash}, "
            f"hw/config has {cfg.hash}",
            file=sys.stderr,
        )
    want_trace = args.trace_out is not None
    result = run(program, inputs, backend=args.backend, trace=want_trace)
    if args.outputs:
        _save_npz(args.outputs, dict(result.outputs))
    if want_trace:
        doc = chrome_trace(result.trace or (), clock_mhz, process=f"tataa {program.config_name}", program=program)
        doc["otherData"]["cycles"] = int(result.cycles)
        _write_text(args.trace_out, json.dumps(doc))
    print(f"backend: {args.backend}")
    print(f"cycles: {result.cycles}")
    print(f"latency: {result.cycles / clock_mhz:.3f} µs at {clock_mhz} MHz")
    for name, arr in result.outputs.items():
        print(f"output {name}: {np.asarray(arr).dtype}{_fmt_shape(np.shape(arr))}")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    """Describe a program file: header, config, instruction counts, regions, tensors."""
    program, info = progfile.load_with_info(args.program)
    out = sys.stdout
    isa_note = "matches this tataa"  # load would have refused any other
    print(f"file: {args.program}", file=out)
    print(f"format version: {info.version}", file=out)
    print(f"size: {info.file_length} bytes, CRC32 {info.crc32:#010x}", file=out)
    print(f"ISA hash: {info.isa_hash} ({isa_note})", file=out)
    print(f"config: {program.config_name} (hash {program.config_hash}, {_config_hash_note(program)})", file=out)
    print("sections:", file=out)
    _table([("type", "offset", "bytes")] + [(s.type.name, s.offset, s.length) for s in info.sections], out)
    units = _unit_counts(program)
    print(
        f"instructions: {len(program.instructions)} "
        f"({', '.join(f'{u.name} {units.get(u.name, 0)}' for u in spec.Unit)})",
        file=out,
    )
    rows = [(op.name, program.count(op)) for op in spec.Opcode if program.count(op)]
    if rows:
        _table(rows, out)
    print(f"regions: {len(program.regions)}", file=out)
    if program.regions:
        _table(
            [("index", "name", "size", "init")] + [(r.index, r.name, r.size, len(r.init)) for r in program.regions], out
        )
    print(f"tensors: {len(program.tensors)}", file=out)
    if program.tensors:
        header = ("name", "role", "dtype", "shape", "region", "offset", "row_stride", "scale")
        _table(
            [header]
            + [
                (
                    t.name,
                    t.role.value,
                    t.dtype.value,
                    _fmt_shape(t.shape),
                    t.region,
                    t.offset,
                    t.row_stride,
                    "-" if t.scale is None else repr(t.scale),
                )
                for t in program.tensors
            ],
            out,
        )
    if program.metadata:
        print(f"metadata: {len(program.metadata)}", file=out)
        _table(list(program.metadata), out)
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    """Print a hardware configuration with its derived constants, or list the shipped ones."""
    if args.name is None:
        print("hardware configurations (hw/config):")
        _table([(n, hwconfig.load(n).description) for n in hwconfig.available()], sys.stdout)
        return EXIT_OK
    cfg = hwconfig.load(args.name)
    if args.json:
        doc = {
            **cfg.primary(),
            "derived": cfg.derived(),
            "hash": cfg.hash,
            "peak_int8_gops": cfg.peak_int8_gops,
            "peak_bf16_gflops": cfg.peak_bf16_gflops,
        }
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    print(f"config {cfg.name} (hash {cfg.hash})")
    print(f"  {cfg.description}")
    print("primary parameters:")
    _table([(k, v) for k, v in cfg.primary().items() if k not in ("name", "description")], sys.stdout)
    print("derived constants:")
    derived: list[tuple[str, object]] = list(cfg.derived().items())
    derived += [("peak_int8_gops", f"{cfg.peak_int8_gops:g}"), ("peak_bf16_gflops", f"{cfg.peak_bf16_gflops:g}")]
    _table(derived, sys.stdout)
    return EXIT_OK


def _parse_dims(items: Sequence[str] | None) -> dict[str, int]:
    """``--dim NAME=INT`` options as a mapping."""
    dims: dict[str, int] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit():
            raise TataaError(f"--dim {item!r}: expected NAME=SIZE with a non-negative integer size, e.g. seq=128")
        dims[name.strip()] = int(value)
    return dims


def cmd_inspect(args: argparse.Namespace) -> int:
    """Import a model (an .onnx file or a zoo name) and report its ops, overlay units, folding and parameters."""
    from tataa.errors import UnsupportedOpsError
    from tataa.frontend.inspect import format_report, import_model, unsupported_report

    dims = _parse_dims(args.dim)
    try:
        imported = import_model(args.model, frontend=args.frontend, dims=dims, optimize=not args.no_optimize)
    except UnsupportedOpsError as e:
        if args.json:
            print(json.dumps(unsupported_report(e, name=args.model), indent=2))
        else:
            print(f"tataa: error: {args.model}: {len(e.diagnostics)} unsupported node(s)", file=sys.stderr)
            _table([("node", "op", "why"), *e.diagnostics], sys.stderr)
        return EXIT_ERROR
    report = imported.report()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        sys.stdout.write(format_report(report))
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a model on an accuracy task: fp32, the IR interpreter, tataa int8, onnxruntime int8, the paper recipe."""
    import contextlib

    from tataa.eval.report import format_result, format_task_list, result_json
    from tataa.eval.runner import evaluate
    from tataa.eval.tasks import TASKS, EvalSettings, get_task

    if args.list:
        sys.stdout.write(format_task_list())
        return EXIT_OK
    if args.task is None:
        raise TataaError(f"name a task or give --list; tasks: {', '.join(TASKS)}")
    task = get_task(args.task)
    calib = {} if args.calib is None else {"calib": args.calib}
    settings = EvalSettings(limit=args.limit, seq=args.seq, progress=not args.no_progress, **calib)
    with contextlib.redirect_stdout(sys.stderr):  # what libraries print must not mix into the table or the JSON
        result = evaluate(task, settings, recipe=args.recipe, strict=args.debug)
    if args.json:
        print(json.dumps(result_json(result), indent=2, allow_nan=False))
    else:
        sys.stdout.write(format_result(result))
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `tataa` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks instead of one-line errors"
    )

    p = argparse.ArgumentParser(prog="tataa", description="tataa: compiler, simulator and FPGA overlay tools")
    p.add_argument("--debug", action="store_true", default=False, help="show tracebacks instead of one-line errors")
    p.add_argument("--version", action="version", version=f"tataa {tataa.__version__} (ISA {spec.isa_hash()})")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, parents=[common], help=help_, description=help_)
        sp.set_defaults(func=func)
        return sp

    sp = add("isa", cmd_isa, "check or regenerate the files derived from the ISA spec")
    g = sp.add_mutually_exclusive_group(required=True)
    g.add_argument("--check", action="store_true", help="exit 1 and list generated files that are stale")
    g.add_argument("--write", action="store_true", help="rewrite the generated files")

    sp = add("asm", cmd_asm, "assemble a .s file into a program file")
    sp.add_argument("source", help="assembly source (.s)")
    sp.add_argument("-o", "--output", help="program file to write (default: SOURCE with suffix .tprog)")

    sp = add("disasm", cmd_disasm, "print the assembly of a program file")
    sp.add_argument("program", help="program file (.tprog)")
    sp.add_argument("--no-data", action="store_true", help="omit region init images")
    sp.add_argument("-o", "--output", help="write to this file instead of stdout")

    sp = add("run", cmd_run, "run a program file")
    sp.add_argument("program", help="program file (.tprog)")
    sp.add_argument("--inputs", help=".npz archive with one array per input tensor")
    sp.add_argument("--outputs", help=".npz archive to write the output tensors to")
    sp.add_argument("--backend", default="sim", help="execution backend (default: sim)")
    sp.add_argument("--trace-out", help="write a Chrome trace-event JSON file (one track per unit)")

    sp = add("info", cmd_info, "describe a program file")
    sp.add_argument("program", help="program file (.tprog)")

    sp = add("config", cmd_config, "print a hardware configuration and its derived constants")
    sp.add_argument("name", nargs="?", help="configuration name (hw/config/NAME.json) or path to a .json file")
    sp.add_argument("--json", action="store_true", help="print as JSON")

    sp = add("inspect", cmd_inspect, "import a model and report its ops, overlay units, folding and parameters")
    sp.add_argument("model", help="an .onnx file, or a model zoo name (gpt2, gpt2-small, minilm, vit, smollm2, ...)")
    sp.add_argument("--frontend", choices=("torch", "onnx"), default="torch",
                    help="for zoo names: import through torch.export (default) or an ONNX export")
    sp.add_argument("--dim", action="append", metavar="NAME=SIZE", help="fix a symbolic size (repeatable)")
    sp.add_argument("--no-optimize", action="store_true", help="skip the graph optimizer")
    sp.add_argument("--json", action="store_true", help="print the report as JSON")

    sp = add("eval", cmd_eval, "measure accuracy on real data: fp32, tataa int8, onnxruntime int8, the paper recipe")
    sp.add_argument("task", nargs="?", help="task name (see --list)")
    sp.add_argument("--list", action="store_true", help="list the tasks")
    sp.add_argument("--limit", type=int, metavar="N", help="score N items (snippets, windows, images), spread evenly")
    sp.add_argument("--calib", type=int, metavar="N", help="calibration samples (default: the recipe's, 32)")
    sp.add_argument("--recipe", choices=("tataa", "paper"), default="tataa",
                    help="quantization recipe of the tataa column (default: tataa)")
    sp.add_argument("--seq", type=int, metavar="N", help="window length (LM tasks) or max tokens (minilm-sentiment)")
    sp.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `tataa` command with `argv` (default: sys.argv[1:]); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version or a usage error (argparse already printed it)
        return e.code if isinstance(e.code, int) else EXIT_ERROR
    try:
        return args.func(args)
    except (TataaError, ConfigError) as e:
        if args.debug:
            raise
        print(f"tataa: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. `tataa disasm P.tprog | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAIL
    except OSError as e:
        if args.debug:
            raise
        print(f"tataa: error: {e}", file=sys.stderr)
        return EXIT_ERROR
