"""The `tataa` command line, run in-process through `main([...])` and once as real processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tataa import cli, progfile
from tataa import config as hwconfig
from tataa.errors import ProgramFileError
from tataa.isa import spec
from tataa.program import DType, Program, Region, Role, TensorDesc

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `tataa argv...` in-process; return (exit status, stdout, stderr)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def small_program() -> Program:
    cfg = hwconfig.load("tiny")
    return Program(
        config_name="tiny",
        config_hash=cfg.hash,
        instructions=(
            spec.make(spec.Opcode.LOAD, buf=spec.Buffer.INP, rows=2, cols=8, dram_stride=8, push_next=1),
            spec.make(spec.Opcode.MODE, mode=spec.Mode.SIMD, pop_prev=1),
            spec.make(spec.Opcode.SETC, idx=3, value=0x3F80),
            spec.make(spec.Opcode.SETC, idx=4, value=0x4000),
            spec.make(spec.Opcode.NOP, unit=spec.Unit.STORE),
            spec.make(spec.Opcode.FINISH),
        ),
        regions=(Region(0, "act", 64, bytes(range(16))), Region(2, "out", 32)),
        tensors=(
            TensorDesc("x", Role.INPUT, 0, 0, (2, 8), DType.INT8, scale=0.25),
            TensorDesc("y", Role.OUTPUT, 2, 0, (2, 8), DType.BF16),
        ),
        metadata=(("source", "test_cli"),),
    )


@pytest.fixture
def tprog(tmp_path: Path) -> Path:
    path = tmp_path / "small.tprog"
    progfile.save(small_program(), path)
    return path


# ------------------------------------------------------------------------------------------ processes


def test_console_script_help() -> None:
    script = VENV_BIN / "tataa"
    assert script.exists(), "the package's console script is not installed in the virtual environment"
    r = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    for cmd in ("isa", "asm", "disasm", "run", "info", "config"):
        assert cmd in r.stdout


def test_python_dash_m_reports_errors_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tprog"
    bad.write_bytes(b"garbage, not a program")
    r = subprocess.run(
        [sys.executable, "-m", "tataa", "info", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert r.returncode == 2
    assert r.stderr.startswith("tataa: error: ")
    assert "not a tataa program file" in r.stderr
    assert "Traceback" not in r.stderr


# ------------------------------------------------------------------------------------------ config


def test_config_prints_primary_and_derived_constants(capsys: pytest.CaptureFixture[str]) -> None:
    raw = json.loads((REPO / "hw" / "config" / "u280.json").read_text())
    code, out, _ = run_cli(capsys, "config", "u280")
    assert code == 0
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ")}
    assert lines["array_size"] == [str(raw["array_size"])]
    assert lines["clock_mhz"] == [str(raw["clock_mhz"])]
    assert lines["acc_word_bytes"] == [str(raw["array_size"] * 4)]
    assert lines["vec_word_bytes"] == [str(raw["array_size"] * 2)]
    assert lines["macs_per_cycle"] == [str(raw["array_size"] ** 2)]
    assert lines["dma_bytes_per_cycle"] == [str(raw["hbm_ports"] * raw["hbm_port_bits"] // 8)]
    assert hwconfig.load("u280").hash in out


def test_config_json_and_listing(capsys: pytest.CaptureFixture[str]) -> None:
    raw = json.loads((REPO / "hw" / "config" / "tiny.json").read_text())
    code, out, _ = run_cli(capsys, "config", "tiny", "--json")
    assert code == 0
    doc = json.loads(out)
    assert {k: doc[k] for k in raw} == raw
    assert doc["derived"]["inp_word_bytes"] == raw["array_size"]
    code, out, _ = run_cli(capsys, "config")
    assert code == 0
    assert "tiny" in out and "u280" in out


def test_unknown_config_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "config", "nope")
    assert code == 2
    assert err.startswith("tataa: error: unknown hardware config 'nope'")
    assert "tiny" in err  # lists what is available
    assert out == ""


# ------------------------------------------------------------------------------------------ info


def test_info_shows_header_counts_and_tensors(capsys: pytest.CaptureFixture[str], tprog: Path) -> None:
    code, out, err = run_cli(capsys, "info", str(tprog))
    assert code == 0, err
    assert f"ISA hash: {spec.isa_hash()}" in out
    assert f"size: {tprog.stat().st_size} bytes" in out
    assert "config: tiny" in out and "matches hw/config" in out
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in spec.Opcode.__members__:
            counts[parts[0]] = int(parts[1])
    assert counts == {"LOAD": 1, "MODE": 1, "SETC": 2, "NOP": 1, "FINISH": 1}
    assert "instructions: 6 (LOAD 1, COMPUTE 4, STORE 1)" in out
    tensor_rows = [line.split() for line in out.splitlines() if line.strip().startswith(("x ", "y "))]
    assert ["x", "input", "int8", "[2,", "8]", "0", "0", "0", "0.25"] in tensor_rows
    assert ["y", "output", "bf16", "[2,", "8]", "2", "0", "0", "-"] in tensor_rows


def test_info_notices_a_config_hash_that_differs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = small_program()
    path = tmp_path / "stale.tprog"
    progfile.save(Program(p.config_name, "0123456789abcdef", p.instructions, p.regions, p.tensors), path)
    code, out, _ = run_cli(capsys, "info", str(path))
    assert code == 0
    assert "differs from hw/config" in out


# ------------------------------------------------------------------------------------------ errors


def test_corrupt_file_exits_2_with_message(capsys: pytest.CaptureFixture[str], tprog: Path) -> None:
    data = bytearray(tprog.read_bytes())
    data[120] ^= 0x01
    tprog.write_bytes(bytes(data))
    code, out, err = run_cli(capsys, "info", str(tprog))
    assert code == 2 and out == ""
    assert err.startswith("tataa: error: corrupt program file: CRC32 mismatch")
    assert "Traceback" not in err


def test_truncated_and_missing_files(capsys: pytest.CaptureFixture[str], tprog: Path, tmp_path: Path) -> None:
    data = tprog.read_bytes()
    tprog.write_bytes(data[:-10])
    code, _, err = run_cli(capsys, "info", str(tprog))
    assert code == 2
    assert f"expected {len(data)} bytes, got {len(data) - 10}" in err
    code, _, err = run_cli(capsys, "info", str(tmp_path / "missing.tprog"))
    assert code == 2
    assert err.startswith("tataa: error: cannot read program file") and "missing.tprog" in err


def test_debug_reraises(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tprog"
    bad.write_bytes(b"nope")
    with pytest.raises(ProgramFileError, match="not a tataa program file"):
        cli.main(["--debug", "info", str(bad)])
    with pytest.raises(ProgramFileError):
        cli.main(["info", str(bad), "--debug"])


def test_usage_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        capsys,
    )
    assert code == 2 and "usage:" in err
    code, _, err = run_cli(capsys, "frobnicate")
    assert code == 2 and "invalid choice" in err
    code, _, err = run_cli(capsys, "isa")
    assert code == 2 and "--check" in err
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and spec.isa_hash() in out


# ------------------------------------------------------------------------------------------ trace


def test_chrome_trace_has_one_track_per_unit() -> None:
    events = [
        (0, spec.Opcode.LOAD, spec.Unit.LOAD, 0, 450),
        (1, spec.Opcode.GEMM, spec.Unit.COMPUTE, 450, 900),
        (2, spec.Opcode.STORE, spec.Unit.STORE, 900, 1125),
    ]
    doc = cli.chrome_trace(events, clock_mhz=225)
    json.dumps(doc)  # serialisable
    names = {e["tid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}
    assert names == {0: "LOAD", 1: "COMPUTE", 2: "STORE"}
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert [(e["name"], e["tid"]) for e in spans] == [("LOAD", 0), ("GEMM", 1), ("STORE", 2)]
    assert spans[1]["ts"] == pytest.approx(2.0) and spans[1]["dur"] == pytest.approx(2.0)  # 450 cycles = 2 µs
    assert spans[2]["args"] == {"index": 2, "start_cycle": 900, "end_cycle": 1125}


# ------------------------------------------------------------------------------------------ asm / disasm

ADD_S = """\
; y = x + x on the tiny configuration, written by hand
.config tiny
.meta purpose "cli test"
.region 0 in 32
.region 1 out 32
.region 2 consts 16
.tensor x role=input region=0 offset=0 shape=2x8 dtype=bf16
.tensor y role=output region=1 offset=0 shape=2x8 dtype=bf16

load buf=vec rows=2 cols=8 sram_base=0 sram_ystride=1 dram_stride=16 push_next
mode mode=simd
vop.add pop_prev push_next outer=1 inner=2 dst_base=2 dst_istride=1 a_base=0 a_istride=1 b_base=0 b_istride=1
store pop_prev buf=vec rows=2 cols=8 sram_base=2 sram_ystride=1 dram_reg=1 dram_stride=16
finish

.data 2 0 0102030405060708 f0e0d0c0b0a09080
"""


@pytest.fixture
def add_tprog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    src = tmp_path / "add.s"
    src.write_text(ADD_S)
    out = tmp_path / "add.tprog"
    code, stdout, err = run_cli(capsys, "asm", str(src), "-o", str(out))
    assert code == 0, err
    assert "5 instructions" in stdout
    return out


def test_asm_disasm_round_trip_is_byte_exact(capsys: pytest.CaptureFixture[str], add_tprog: Path) -> None:
    program = progfile.load(add_tprog)
    assert [i.opcode for i in program.instructions] == [
        spec.Opcode.LOAD, spec.Opcode.MODE, spec.Opcode.VOP, spec.Opcode.STORE, spec.Opcode.FINISH
    ]  # fmt: skip
    assert program.region(2).init == bytes.fromhex("0102030405060708f0e0d0c0b0a09080")
    code, text, err = run_cli(capsys, "disasm", str(add_tprog))
    assert code == 0, err
    header = [line for line in text.splitlines() if line.startswith(";")]
    assert any("5 instructions: LOAD 1, COMPUTE 3, STORE 1" in line for line in header)
    assert any("region 2 'consts': 16 B, init 16 B" in line for line in header)
    assert any("input  'x': bf16[2, 8]" in line for line in header)
    assert any("meta purpose = 'cli test'" in line for line in header)
    again_s = add_tprog.with_name("again.s")
    again_s.write_text(text)
    again = add_tprog.with_name("again.tprog")
    assert run_cli(capsys, "asm", str(again_s), "-o", str(again))[0] == 0
    assert again.read_bytes() == add_tprog.read_bytes()
    # -o writes the same text; the default output name replaces the suffix.
    assert run_cli(capsys, "disasm", str(add_tprog), "-o", str(again_s))[0] == 0
    assert again_s.read_text() == text
    assert run_cli(capsys, "asm", str(again_s))[0] == 0
    assert again_s.with_suffix(".tprog").read_bytes() == add_tprog.read_bytes()


def test_disasm_no_data_drops_only_the_init_images(capsys: pytest.CaptureFixture[str], add_tprog: Path) -> None:
    code, text, _ = run_cli(capsys, "disasm", str(add_tprog), "--no-data")
    assert code == 0
    assert "f0e0d0c0" not in text
    src = add_tprog.with_name("nodata.s")
    src.write_text(text)
    out = add_tprog.with_name("nodata.tprog")
    assert run_cli(capsys, "asm", str(src), "-o", str(out))[0] == 0
    full, stripped = progfile.load(add_tprog), progfile.load(out)
    assert stripped.instructions == full.instructions and stripped.tensors == full.tensors
    assert [(r.index, r.name, r.size, r.init) for r in stripped.regions] == [
        (r.index, r.name, r.size, b"") for r in full.regions
    ]


def test_summary_comments_survive_names_with_line_breaks(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = small_program()
    odd = Program(p.config_name, p.config_hash, p.instructions, p.regions, p.tensors, (("k", "line1\nline2"),))
    path = tmp_path / "odd.tprog"
    progfile.save(odd, path)
    code, text, _ = run_cli(capsys, "disasm", str(path))
    assert code == 0
    src = tmp_path / "odd.s"
    src.write_text(text)
    assert run_cli(capsys, "asm", str(src), "-o", str(tmp_path / "odd2.tprog"))[0] == 0
    assert progfile.load(tmp_path / "odd2.tprog") == odd


def test_asm_errors_name_the_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = tmp_path / "bad.s"
    src.write_text(".config tiny\nsetc idx=9 value=0\n")
    code, _, err = run_cli(capsys, "asm", str(src), "-o", str(tmp_path / "bad.tprog"))
    assert code == 2
    assert err.startswith("tataa: error: ") and "line 2" in err and "idx" in err
    assert not (tmp_path / "bad.tprog").exists()
    code, _, err = run_cli(capsys, "asm", str(tmp_path / "missing.s"))
    assert code == 2 and "cannot read" in err and "missing.s" in err


# ------------------------------------------------------------------------------------------ run


def test_run_writes_outputs_cycles_and_trace(capsys: pytest.CaptureFixture[str], add_tprog: Path) -> None:
    tmp = add_tprog.parent
    x = (np.arange(16, dtype=np.float32).reshape(2, 8) - 5.0) / 4.0  # exact in bf16, and so is x + x
    np.savez(tmp / "in.npz", x=x)
    code, out, err = run_cli(
        capsys, "run", str(add_tprog), "--inputs", str(tmp / "in.npz"), "--outputs", str(tmp / "out.npz"),
        "--backend", "sim", "--trace-out", str(tmp / "trace.json"),
    )  # fmt: skip
    assert code == 0, err
    with np.load(tmp / "out.npz") as outputs:
        assert sorted(outputs.files) == ["y"]
        np.testing.assert_array_equal(outputs["y"], x + x)
    cycles = int(re.search(r"^cycles: (\d+)$", out, re.M).group(1))
    assert cycles > 0
    clock = hwconfig.load("tiny").clock_mhz
    latency = float(re.search(r"^latency: ([0-9.]+) µs at (\d+) MHz$", out, re.M).group(1))
    assert latency == pytest.approx(cycles / clock, abs=1e-3)
    doc = json.loads((tmp / "trace.json").read_text())
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert sorted(e["args"]["index"] for e in spans) == [0, 1, 2, 3, 4]
    by_index = {e["args"]["index"]: e for e in spans}
    assert [by_index[i]["tid"] for i in range(5)] == [0, 1, 1, 2, 1]  # LOAD, COMPUTE, COMPUTE, STORE, COMPUTE
    assert by_index[2]["name"] == "vop.add"
    assert by_index[3]["args"]["start_cycle"] >= by_index[2]["args"]["end_cycle"]  # STORE waits for the VOP token
    assert by_index[3]["ts"] == pytest.approx(by_index[3]["args"]["start_cycle"] / clock)
    assert max(e["args"]["end_cycle"] for e in spans) <= cycles


def test_run_input_errors(capsys: pytest.CaptureFixture[str], add_tprog: Path) -> None:
    tmp = add_tprog.parent
    code, _, err = run_cli(capsys, "run", str(add_tprog))
    assert code == 2 and err.startswith("tataa: error: missing input") and "'x'" in err
    np.savez(tmp / "wrong.npz", z=np.zeros(3, np.float32))
    code, _, err = run_cli(capsys, "run", str(add_tprog), "--inputs", str(tmp / "wrong.npz"))
    assert code == 2 and "unknown input 'z'" in err
    code, _, err = run_cli(capsys, "run", str(add_tprog), "--inputs", str(tmp / "nope.npz"))
    assert code == 2 and "cannot read inputs" in err
    (tmp / "junk.npz").write_bytes(b"not a zip")
    code, _, err = run_cli(capsys, "run", str(add_tprog), "--inputs", str(tmp / "junk.npz"))
    assert code == 2 and "tataa: error:" in err and "Traceback" not in err
    np.savez(tmp / "in.npz", x=np.zeros((2, 8), np.float32))
    code, _, err = run_cli(capsys, "run", str(add_tprog), "--inputs", str(tmp / "in.npz"), "--backend", "gpu")
    assert code == 2 and "unknown backend 'gpu'" in err


# ------------------------------------------------------------------------------------------ isa


def test_isa_check_and_write(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "hw" / "config").mkdir(parents=True)
    for cfg in (REPO / "hw" / "config").glob("*.json"):
        (tmp_path / "hw" / "config" / cfg.name).write_text(cfg.read_text())
    monkeypatch.setattr(cli, "repo_root", lambda: tmp_path)
    code, _, err = run_cli(capsys, "isa", "--check")
    assert code == 1
    assert "hw/rtl/tataa_isa_pkg.sv" in err and "docs/isa.md" in err and "tataa isa --write" in err
    code, out, _ = run_cli(capsys, "isa", "--write")
    assert code == 0 and "tataa_isa_pkg.sv" in out
    assert (tmp_path / "docs" / "isa.md").is_file()
    code, out, _ = run_cli(capsys, "isa", "--check")
    assert code == 0 and "up to date" in out
    doc = tmp_path / "docs" / "isa.md"
    doc.write_text(doc.read_text() + "hand edit\n")
    code, _, err = run_cli(capsys, "isa", "--check")
    assert code == 1 and "docs/isa.md" in err and "hw/rtl/tataa_isa_pkg.sv" not in err
    code, out, _ = run_cli(capsys, "isa", "--write")
    assert code == 0 and "docs/isa.md" in out and "tataa_isa_pkg" not in out
