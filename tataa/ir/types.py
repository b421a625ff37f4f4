"""Element types and tensor types of the IR."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import ml_dtypes
import numpy as np

from tataa.errors import IRError
from tataa.ir.dims import Dim, canonical_dim, format_dim, is_static, mul_dims


class DType(enum.Enum):
    """Element types a tensor may have; the value is the name used in the text form."""

    F64 = "f64"
    F32 = "f32"
    F16 = "f16"
    BF16 = "bf16"
    I64 = "i64"
    I32 = "i32"
    I8 = "i8"
    U8 = "u8"
    BOOL = "bool"

    @property
    def numpy(self) -> np.dtype:
        """The numpy dtype holding this element type."""
        return _TO_NUMPY[self]

    @property
    def is_float(self) -> bool:
        """Whether this is a floating-point type."""
        return self in (DType.F64, DType.F32, DType.F16, DType.BF16)

    @property
    def is_int(self) -> bool:
        """Whether this is an integer type (bool excluded)."""
        return self in (DType.I64, DType.I32, DType.I8, DType.U8)

    @staticmethod
    def from_numpy(dtype: np.dtype | type) -> DType:
        """The IR element type of a numpy dtype; an IRError when it has none."""
        dt = np.dtype(dtype)
        for k, v in _TO_NUMPY.items():
            if v == dt:
                return k
        raise IRError(f"numpy dtype {dt} has no IR element type")

    @staticmethod
    def parse(text: str) -> DType:
        """The element type named ``text`` (``f32``, ``i64``, ...)."""
        try:
            return DType(text)
        except ValueError:
            raise IRError(f"unknown element type {text!r}; known: {', '.join(d.value for d in DType)}") from None


_TO_NUMPY: dict[DType, np.dtype] = {
    DType.F64: np.dtype(np.float64),
    DType.F32: np.dtype(np.float32),
    DType.F16: np.dtype(np.float16),
    DType.BF16: np.dtype(ml_dtypes.bfloat16),
    DType.I64: np.dtype(np.int64),
    DType.I32: np.dtype(np.int32),
    DType.I8: np.dtype(np.int8),
    DType.U8: np.dtype(np.uint8),
    DType.BOOL: np.dtype(np.bool_),
}


@dataclass(frozen=True)
class TensorType:
    """The element type and shape of a value; dimensions may be symbolic."""

    dtype: DType
    shape: tuple[Dim, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.dtype, DType):
            raise IRError(f"tensor type: dtype {self.dtype!r} is not a DType")
        object.__setattr__(self, "shape", tuple(canonical_dim(d) for d in self.shape))

    @property
    def rank(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        """Whether every dimension is known."""
        return is_static(self.shape)

    @property
    def numel(self) -> Dim:
        """Number of elements (symbolic when the shape is)."""
        return mul_dims(*self.shape) if self.shape else 1

    def __str__(self) -> str:
        return f"{self.dtype.value}[{', '.join(format_dim(d) for d in self.shape)}]"
