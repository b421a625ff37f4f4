"""Hardware configuration: one JSON file per configuration in hw/config, one function deriving the rest.

Compiler, simulator and RTL all read a :class:`HwConfig`. The RTL sees it through the generated
SystemVerilog package (see :mod:`tataa.isa.svgen`), so every constant below has exactly one source.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path

from tataa.errors import TataaError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "hw" / "config"

# Buffer word element widths in bits: a word of every on-chip buffer holds `array_size` elements.
INP_ELEM_BITS = 8  # int8 activations (systolic inputs)
WGT_ELEM_BITS = 8  # int8 weights
ACC_ELEM_BITS = 32  # int32 accumulators (also packed requantization scales)
VEC_ELEM_BITS = 16  # bf16 vector registers

# Limits that the fixed-width ISA fields impose on any configuration.
MAX_BUFFER_DEPTH = 1 << 16
MAX_ARRAY_SIZE = 256


class ConfigError(TataaError, ValueError):
    """A hardware configuration file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class HwConfig:
    """Primary hardware parameters as written in hw/config/NAME.json, plus derived constants."""

    name: str
    description: str
    array_size: int  # N: the systolic array is N x N int8 MACs; every buffer word holds N elements
    cores: int  # independent cores on the device (a program targets one core)
    clock_mhz: int
    inp_depth: int  # input buffer depth in words of N int8
    wgt_depth: int  # weight buffer depth in words of N int8 (one weight tile = N words)
    acc_depth: int  # accumulator buffer depth in words of N int32
    vec_depth: int  # vector register file depth in words of N bf16
    simd_lanes: int  # bf16 lanes of the SIMD datapath (a multiple of N)
    simd_pipeline_depth: int  # cycles from operands in to result out in SIMD mode
    hbm_ports: int  # AXI4 master ports towards HBM used by one core
    hbm_port_bits: int  # data width of one port
    dma_latency: int  # cycles from a DMA request to its first beat
    insn_queue_depth: int  # depth of each of the load / compute / store instruction queues
    mode_switch_cycles: int  # cycles to switch the PE array between systolic and SIMD mode

    # ---- derived -------------------------------------------------------------------------
    @property
    def inp_word_bytes(self) -> int:
        """Bytes in one input-buffer word."""
        return self.array_size * INP_ELEM_BITS // 8

    @property
    def wgt_word_bytes(self) -> int:
        """Bytes in one weight-buffer word."""
        return self.array_size * WGT_ELEM_BITS // 8

    @property
    def acc_word_bytes(self) -> int:
        """Bytes in one accumulator word."""
        return self.array_size * ACC_ELEM_BITS // 8

    @property
    def vec_word_bytes(self) -> int:
        """Bytes in one vector-register word."""
        return self.array_size * VEC_ELEM_BITS // 8

    @property
    def simd_words_per_cycle(self) -> int:
        """Vector words the SIMD datapath consumes per cycle."""
        return self.simd_lanes // self.array_size

    @property
    def macs_per_cycle(self) -> int:
        """Peak int8 multiply-accumulates per cycle of one core."""
        return self.array_size * self.array_size

    @property
    def dsp_count(self) -> int:
        """DSP48E2 slices of one core's array (two int8 MACs share one DSP)."""
        return self.macs_per_cycle // 2

    @property
    def dma_bytes_per_cycle(self) -> int:
        """Peak bytes per cycle the DMA moves between HBM and one core."""
        return self.hbm_ports * self.hbm_port_bits // 8

    @property
    def peak_int8_gops(self) -> float:
        """Peak int8 GOPS of the whole device (2 ops per MAC, all cores)."""
        return 2 * self.macs_per_cycle * self.cores * self.clock_mhz / 1e3

    @property
    def peak_bf16_gflops(self) -> float:
        """Peak bf16 GFLOPS of the whole device (an FMA counts 2 FLOPs)."""
        return 2 * self.simd_lanes * self.cores * self.clock_mhz / 1e3

    def depth(self, buffer: str) -> int:
        """Depth in words of the named buffer ('inp', 'wgt', 'acc' or 'vec')."""
        return {"inp": self.inp_depth, "wgt": self.wgt_depth, "acc": self.acc_depth, "vec": self.vec_depth}[buffer]

    def primary(self) -> dict[str, object]:
        """The primary parameters, as stored in the JSON file."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def derived(self) -> dict[str, int]:
        """Every derived integer constant, by name (what the RTL package exports as localparams)."""
        return {
            "inp_word_bytes": self.inp_word_bytes,
            "wgt_word_bytes": self.wgt_word_bytes,
            "acc_word_bytes": self.acc_word_bytes,
            "vec_word_bytes": self.vec_word_bytes,
            "simd_words_per_cycle": self.simd_words_per_cycle,
            "macs_per_cycle": self.macs_per_cycle,
            "dsp_count": self.dsp_count,
            "dma_bytes_per_cycle": self.dma_bytes_per_cycle,
            "inp_addr_bits": _clog2(self.inp_depth),
            "wgt_addr_bits": _clog2(self.wgt_depth),
            "acc_addr_bits": _clog2(self.acc_depth),
            "vec_addr_bits": _clog2(self.vec_depth),
        }

    @property
    def hash(self) -> str:
        """SHA-256 (hex, 16 chars) of the primary parameters; recorded in program files."""
        blob = json.dumps(self.primary(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _clog2(x: int) -> int:
    return max(1, (x - 1).bit_length())


def _is_pow2(x: int) -> bool:
    return x > 0 and x & (x - 1) == 0


def validate(cfg: HwConfig) -> None:
    """Raise ConfigError naming the first inconsistent parameter of `cfg`."""
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if f.type in ("int", int) and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
            raise ConfigError(f"config {cfg.name!r}: {f.name} must be a positive integer, got {v!r}")
    if not _is_pow2(cfg.array_size) or cfg.array_size > MAX_ARRAY_SIZE:
        raise ConfigError(f"config {cfg.name!r}: array_size must be a power of two <= {MAX_ARRAY_SIZE}")
    for buf in ("inp", "wgt", "acc", "vec"):
        d = cfg.depth(buf)
        if not _is_pow2(d) or d > MAX_BUFFER_DEPTH:
            raise ConfigError(f"config {cfg.name!r}: {buf}_depth must be a power of two <= {MAX_BUFFER_DEPTH}")
    if cfg.wgt_depth < cfg.array_size:
        raise ConfigError(f"config {cfg.name!r}: wgt_depth must hold at least one {cfg.array_size}-word tile")
    if cfg.simd_lanes % cfg.array_size:
        raise ConfigError(f"config {cfg.name!r}: simd_lanes must be a multiple of array_size")
    if cfg.hbm_port_bits % 8 or not _is_pow2(cfg.hbm_port_bits):
        raise ConfigError(f"config {cfg.name!r}: hbm_port_bits must be a power of two multiple of 8")


def available() -> list[str]:
    """Names of the configurations shipped in hw/config."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def load(name_or_path: str | Path) -> HwConfig:
    """Load and validate a configuration by name (hw/config/NAME.json) or by path to a JSON file."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = CONFIG_DIR / f"{name_or_path}.json"
        if not path.exists():
            raise ConfigError(f"unknown hardware config {name_or_path!r}; available: {', '.join(available())}")
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read hardware config {path}: {e}") from None
    names = [f.name for f in fields(HwConfig)]
    missing = [n for n in names if n not in raw]
    unknown = [k for k in raw if k not in names]
    if missing or unknown:
        raise ConfigError(f"config {path.name}: missing keys {missing}, unknown keys {unknown}")
    cfg = HwConfig(**raw)
    validate(cfg)
    return cfg
