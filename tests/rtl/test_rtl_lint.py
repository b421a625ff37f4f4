"""The whole overlay, from tataa_top down, lints clean in Verilator (-Wall) for every shipped configuration,
elaborates in Yosys and compiles in Icarus Verilog: the subset of SystemVerilog all three accept."""

from __future__ import annotations

import subprocess

import pytest

from tataa import config
from tataa.hdl.verilator import rtl_sources, tool_path

pytestmark = pytest.mark.rtl


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(tool_path("verilator") is None, reason="verilator is not installed")
@pytest.mark.parametrize("cfg", config.available())
def test_verilator_lint_wall_clean(cfg: str) -> None:
    res = _run(["verilator", "--lint-only", "-Wall", "--top-module", "tataa_top", *map(str, rtl_sources(cfg))])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "%Warning" not in res.stderr and "%Error" not in res.stderr, res.stderr[-3000:]


@pytest.mark.skipif(tool_path("yosys") is None, reason="yosys is not installed")
def test_yosys_elaborates_the_top() -> None:
    srcs = " ".join(map(str, rtl_sources("tiny")))
    res = _run(["yosys", "-q", "-p", f"read_verilog -sv {srcs}; hierarchy -check -top tataa_top; proc"])
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "ERROR" not in res.stdout + res.stderr


@pytest.mark.skipif(tool_path("iverilog") is None, reason="iverilog is not installed")
def test_icarus_compiles_the_top(tmp_path) -> None:
    out = str(tmp_path / "top.vvp")
    res = _run(["iverilog", "-g2012", "-s", "tataa_top", "-o", out, *map(str, rtl_sources("tiny"))])
    assert res.returncode == 0, res.stderr[-3000:]
    errors = [line for line in res.stderr.splitlines() if ": error" in line.lower()]
    assert not errors, "\n".join(errors[:20])
