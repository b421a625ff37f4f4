"""Running programs: binding host data to region images and dispatching to a backend (simulator, RTL, FPGA)."""

from tataa.runtime.backends import (
    BackendInfo,
    RunResult,
    available_backends,
    backends,
    register_backend,
    run,
)
from tataa.runtime.host import bind_inputs, read_outputs, to_storage

__all__ = [
    "BackendInfo",
    "RunResult",
    "available_backends",
    "backends",
    "bind_inputs",
    "read_outputs",
    "register_backend",
    "run",
    "to_storage",
]
