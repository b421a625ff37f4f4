"""Named execution backends behind one `run` call: the simulator now; RTL simulation and the FPGA (XRT) later."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from tataa.errors import TataaError
from tataa.program import Program
from tataa.runtime.host import bind_inputs, read_outputs
from tataa.sim.simulator import SimResult, SimStats, Simulator, TraceEvent

# A backend runner takes the program, its bound region images and the trace flag.
Runner = Callable[[Program, dict[int, np.ndarray], bool], SimResult]


@dataclass(frozen=True)
class RunResult:
    """Output tensors by name, total cycles, counters and (if asked) the per-instruction trace."""

    outputs: dict[str, np.ndarray]
    cycles: int
    stats: SimStats | None  # None for backends without these counters
    trace: tuple[TraceEvent, ...] = ()


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend: its runner, or None with the reason it is not available."""

    name: str
    description: str
    runner: Runner | None
    unavailable_reason: str = ""


_REGISTRY: dict[str, BackendInfo] = {}


def register_backend(name: str, description: str, runner: Runner | None, unavailable_reason: str = "") -> None:
    """Add or replace backend `name` (runner None: registered but not available, for `unavailable_reason`)."""
    _REGISTRY[name] = BackendInfo(name, description, runner, unavailable_reason)


def backends() -> dict[str, BackendInfo]:
    """Every registered backend by name."""
    return dict(_REGISTRY)


def available_backends() -> list[str]:
    """Names of the backends that can run programs now."""
    return sorted(name for name, info in _REGISTRY.items() if info.runner is not None)


class _SimCache:
    """Keeps the Simulator of the last program run, so repeated runs skip checking and scheduling."""

    def __init__(self) -> None:
        self._program: weakref.ref[Program] | None = None
        self._sim: Simulator | None = None

    def get(self, program: Program, trace: bool) -> Simulator:
        if self._sim is None or self._program is None or self._program() is not program or self._sim.trace != trace:
            self._sim = Simulator(program, trace=trace)
            self._program = weakref.ref(program)
        return self._sim


_sim_cache = _SimCache()


def _run_sim(program: Program, images: dict[int, np.ndarray], trace: bool) -> SimResult:
    return _sim_cache.get(program, trace).run(images)


register_backend("sim", "bit-accurate, cycle-counting Python simulator (tataa.sim)", _run_sim)
def _run_rtl(program: Program, images: dict[int, np.ndarray], trace: bool) -> SimResult:
    from tataa.runtime.rtl import run_rtl  # imported lazily: it pulls in the Verilator tooling

    return run_rtl(program, images, trace)


register_backend("rtl", "Verilator simulation of the overlay RTL in hw/ (hw/tb/tb_top.sv)", _run_rtl)
register_backend("xrt", "Alveo U280 through XRT", None, "the XRT (FPGA) backend is not implemented yet")


def run(program: Program, inputs: Mapping[str, object], backend: str = "sim", trace: bool = False) -> RunResult:
    """Bind `inputs`, run `program` on `backend` and read its outputs back."""
    info = _REGISTRY.get(backend)
    available = ", ".join(available_backends()) or "none"
    if info is None:
        registered = ", ".join(sorted(_REGISTRY))
        raise TataaError(f"unknown backend {backend!r}; registered: {registered}; available: {available}")
    if info.runner is None:
        raise TataaError(f"backend {backend!r} is not available: {info.unavailable_reason}; available: {available}")
    images = bind_inputs(program, inputs)
    res = info.runner(program, images, trace)
    return RunResult(read_outputs(program, res.images), res.cycles, res.stats, res.trace)
