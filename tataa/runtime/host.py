"""Host side of a run: place input tensors into region images, read output tensors back out of them."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tataa import numerics
from tataa.errors import BindingError
from tataa.program import DType, Program, Region, TensorDesc
from tataa.sim.simulator import initial_images

_LE = {DType.INT8: np.dtype("<i1"), DType.INT32: np.dtype("<i4"), DType.BF16: np.dtype("<u2")}
_INT_RANGE = {DType.INT8: (-(1 << 7), (1 << 7) - 1), DType.INT32: (-(1 << 31), (1 << 31) - 1)}


def _describe(t: TensorDesc) -> str:
    return f"{t.role.value} {t.name!r} ({t.dtype.value}{list(t.shape)})"


def _region_of(program: Program, t: TensorDesc) -> Region:
    for r in program.regions:
        if r.index == t.region:
            if t.offset < 0 or t.offset + t.extent > r.size:
                raise BindingError(
                    f"{_describe(t)} spans bytes {t.offset}..{t.offset + t.extent - 1}, outside region "
                    f"{r.index} {r.name!r} of {r.size} B"
                )
            return r
    raise BindingError(f"{_describe(t)} lives in region {t.region}, which the program does not define")


def _view(t: TensorDesc, image: np.ndarray) -> np.ndarray:
    """The tensor's rows as a [nrows, shape[-1]] little-endian view into a region image."""
    cols = t.shape[-1] if t.shape else 1
    eb = t.dtype.nbytes
    return np.ndarray((t.nrows, cols), _LE[t.dtype], buffer=image, offset=t.offset, strides=(t.stride, eb))


def _check_int_range(t: TensorDesc, arr: np.ndarray) -> None:
    lo, hi = _INT_RANGE[t.dtype]
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        bad = arr[(arr < lo) | (arr > hi)].flat[0]
        raise BindingError(f"{_describe(t)}: value {int(bad)} does not fit {t.dtype.value} ({lo}..{hi})")


def to_storage(t: TensorDesc, value: object) -> np.ndarray:
    """`value` converted to the storage dtype of tensor `t` (bf16: uint16 patterns); BindingError if impossible."""
    arr = np.asarray(value)
    if arr.shape != t.shape:
        raise BindingError(f"{_describe(t)}: got shape {list(arr.shape)}, expected {list(t.shape)}")
    kind = arr.dtype.kind
    if t.dtype is DType.BF16:
        if arr.dtype == np.uint16:
            return arr
        if arr.dtype.name == "bfloat16":
            return arr.view(np.uint16)
        if arr.dtype == np.float64:
            return numerics.f64_to_bf16(arr)
        if kind == "f":
            return numerics.f32_to_bf16(arr.astype(np.float32))
        raise BindingError(
            f"{_describe(t)}: cannot take dtype {arr.dtype}; give floats (rounded to bf16) or uint16 bit patterns"
        )
    if kind in "iu":
        _check_int_range(t, arr)
        return arr.astype(t.dtype.numpy)
    if kind == "f" and t.dtype is DType.INT8:
        if t.scale is None:
            raise BindingError(f"{_describe(t)}: float data needs a quantization scale, and the tensor has none")
        return numerics.quantize_int8(arr, t.scale)
    accepted = "int8 integers, or floats with the tensor's scale" if t.dtype is DType.INT8 else "integers"
    raise BindingError(f"{_describe(t)}: cannot take dtype {arr.dtype}; give {accepted}")


def bind_inputs(program: Program, inputs: Mapping[str, object]) -> dict[int, np.ndarray]:
    """Region images for a run: every region's init image, then each input tensor written at its place."""
    wanted = {t.name: t for t in program.inputs}
    for name in inputs:
        if name not in wanted:
            others = {t.name: t for t in program.tensors}
            what = f"is a {others[name].role.value} tensor, not an input" if name in others else "is not a tensor"
            raise BindingError(f"unknown input {name!r}: it {what}; the program's inputs are {sorted(wanted)}")
    missing = [_describe(t) for t in program.inputs if t.name not in inputs]
    if missing:
        raise BindingError(f"missing input(s): {', '.join(missing)}")
    images = initial_images(program)
    for t in program.inputs:
        raw = to_storage(t, inputs[t.name])
        region = _region_of(program, t)
        if raw.size:
            _view(t, images[region.index])[...] = raw.reshape(t.nrows, -1)
    return images


def read_outputs(program: Program, images: Mapping[int, np.ndarray]) -> dict[str, np.ndarray]:
    """Every output tensor read from the region images: bf16 as exact float32, int8 as int8, int32 as int32."""
    out: dict[str, np.ndarray] = {}
    for t in program.outputs:
        region = _region_of(program, t)
        image = images.get(region.index)
        if image is None:
            raise BindingError(f"{_describe(t)}: no image for region {region.index} {region.name!r}")
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.shape != (region.size,):
            raise BindingError(
                f"image of region {region.index} {region.name!r} must be uint8 of shape ({region.size},), "
                f"got {image.dtype} {image.shape}"
            )
        if 0 in t.shape:
            raw = np.zeros(t.shape, t.dtype.numpy)
        else:
            raw = _view(t, image).astype(t.dtype.numpy).reshape(t.shape)
        out[t.name] = numerics.bf16_to_f32(raw) if t.dtype is DType.BF16 else raw
    return out
