"""Bit-accurate, cycle-counting simulator of one tataa core (semantics: docs/semantics.md, timing: docs/timing.md)."""

from tataa.sim.simulator import SimResult, SimStats, Simulator, TraceEvent, initial_images
from tataa.sim.state import MachineState
from tataa.sim.timing import FIFOS, Schedule, duration

__all__ = [
    "FIFOS",
    "MachineState",
    "Schedule",
    "SimResult",
    "SimStats",
    "Simulator",
    "TraceEvent",
    "duration",
    "initial_images",
]
