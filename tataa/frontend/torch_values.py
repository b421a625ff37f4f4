"""The values a torch frontend passes between its handlers: IR tensors, parameters, lazy op results, dtypes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import ml_dtypes
import numpy as np
import torch

from tataa.errors import FrontendError
from tataa.ir.types import DType, TensorType


class Unsupported(Exception):
    """A source node cannot be expressed in the IR; the message says why."""


@dataclass(frozen=True)
class TVal:
    """A tensor already in the IR: the name of its value and its type."""

    name: str
    type: TensorType

    @property
    def dtype(self) -> DType:
        """The element type."""
        return self.type.dtype

    @property
    def shape(self) -> tuple:
        """The (possibly symbolic) shape."""
        return self.type.shape

    @property
    def rank(self) -> int:
        """Number of dimensions."""
        return self.type.rank


@dataclass(frozen=True, eq=False)
class Param:
    """A parameter, buffer or lifted constant of the source model, not yet turned into an IR constant."""

    fqn: str
    tensor: torch.Tensor

    @property
    def dtype(self) -> DType:
        """The element type."""
        return ir_dtype(self.tensor.dtype, self.fqn)

    @property
    def shape(self) -> tuple[int, ...]:
        """The (static) shape."""
        return tuple(int(d) for d in self.tensor.shape)

    @property
    def rank(self) -> int:
        """Number of dimensions."""
        return self.tensor.dim()


@dataclass(eq=False)
class LazyList:
    """The several results of one source op (split, unbind, native_layer_norm...), made on first use."""

    length: int
    make: Callable[[int], object]
    _made: dict[int, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> object:
        if not isinstance(i, int) or not -self.length <= i < self.length:
            raise Unsupported(f"result index {i!r} out of range for {self.length} results")
        i %= self.length
        if i not in self._made:
            self._made[i] = self.make(i)
        return self._made[i]


Tensorish = TVal | Param

_TORCH_TO_IR: dict[torch.dtype, DType] = {
    torch.float64: DType.F64,
    torch.float32: DType.F32,
    torch.float16: DType.F16,
    torch.bfloat16: DType.BF16,
    torch.int64: DType.I64,
    torch.int32: DType.I32,
    torch.int8: DType.I8,
    torch.uint8: DType.U8,
    torch.bool: DType.BOOL,
}
_IR_TO_TORCH = {v: k for k, v in _TORCH_TO_IR.items()}


def ir_dtype(dt: torch.dtype, where: str = "tensor") -> DType:
    """The IR element type of a torch dtype; Unsupported when the IR has none."""
    try:
        return _TORCH_TO_IR[dt]
    except KeyError:
        raise Unsupported(f"{where}: element type {dt} has no IR equivalent") from None


def torch_dtype(dt: DType) -> torch.dtype:
    """The torch dtype of an IR element type."""
    return _IR_TO_TORCH[dt]


def to_numpy(t: torch.Tensor, where: str = "tensor") -> np.ndarray:
    """The data of a (real, CPU-movable) torch tensor as numpy (may share memory; IR constants copy it).

    bf16 becomes ``ml_dtypes.bfloat16``.
    """
    if t.is_meta or type(t).__name__ == "FakeTensor":
        raise FrontendError(f"{where}: has no data (a meta/fake tensor), cannot become a constant")
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    ir_dtype(t.dtype, where)
    return t.numpy()


__all__ = ["LazyList", "Param", "TVal", "Tensorish", "Unsupported", "ir_dtype", "to_numpy", "torch_dtype"]
