"""Nonlinear bf16 kernels on the SIMD lanes: softmax, LayerNorm, RMSNorm, GELU (tanh and erf forms), SiLU.

Each kernel is a :class:`~tataa.codegen.simd.rowwise.RowKernel` built from the recipes of
:mod:`tataa.codegen.simd_recipes`, so that one definition gives three things:

* ``*_kernel(...)``: the RowKernel itself;
* ``emit_*(builder, x, y, ...)``: its instructions appended to a ProgramBuilder (for the model compiler);
* ``*_program(cfg, rows, cols, ...)``: a stand-alone Program with input ``x`` (and ``mask``) and output ``y``;
* ``*_reference(x, n, ...)``: the bit-exact numpy result (uint16 in, uint16 out) for array size `n`.

Rows whose length is not a multiple of the array size N end in a partly used word (LOAD zero-fills its
tail lanes); the reductions that would see those lanes get a constant WORD mask (-inf for the softmax
maximum, 0/1 for LayerNorm's centred sums).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tataa import numerics
from tataa.codegen import simd_recipes as rc
from tataa.codegen.builder import CodegenError, ProgramBuilder
from tataa.codegen.simd.emitter import ConstRegs
from tataa.codegen.simd.ops import Kind, SimdOps
from tataa.codegen.simd.rowwise import RowKernel, RowKernelInfo, emit_rowwise, evaluate
from tataa.config import HwConfig
from tataa.program import DType, Program, Role, TensorDesc

GELU_FORMS = ("tanh", "none")


def _tail_word(cols: int, n: int, inside: int, outside: int) -> np.ndarray | None:
    """A WORD (uint16[n]) with `inside` in the lanes of a row's last word that hold data, `outside` past
    the end of the row; None when rows fill whole words."""
    used = cols % n
    if used == 0:
        return None
    word = np.full(n, outside, dtype=np.uint16)
    word[:used] = inside
    return word


def _check_shape(name: str, cols: int) -> None:
    if cols < 1:
        raise CodegenError(f"{name}: cols must be >= 1, got {cols}")


def _vec_param(name: str, what: str, value: Any, cols: int) -> np.ndarray:
    """A per-column parameter as uint16 bf16 patterns (floats are rounded to bf16, uint16 taken as is)."""
    arr = np.asarray(value)
    if arr.shape != (cols,):
        raise CodegenError(f"{name}: {what} must have shape ({cols},), got {arr.shape}")
    if arr.dtype == np.uint16:
        return arr
    if arr.dtype.kind not in "fiu":
        raise CodegenError(f"{name}: {what} must be floats or uint16 bf16 patterns, got dtype {arr.dtype}")
    return numerics.f64_to_bf16(arr.astype(np.float64))


# ---- kernel definitions ---------------------------------------------------------------------------
def softmax_kernel(cols: int, n: int, *, mask: bool = False) -> RowKernel:
    """Row softmax of x (+ mask) over `cols` columns for array size `n`."""
    _check_shape("softmax", cols)
    tail = _tail_word(cols, n, 0x0000, int(numerics.BF16_NEG_INF))
    consts = {} if tail is None else {"tail": (Kind.WORD, tail)}

    def body(o: SimdOps[Any], v: dict[str, Any]) -> Any:
        return rc.softmax(o, v["x"], mask=v.get("mask"), tail=v.get("tail"))

    return RowKernel("softmax", cols, ("x", "mask") if mask else ("x",), consts, body)


def layernorm_kernel(cols: int, n: int, gamma: Any = None, beta: Any = None, eps: float = 1e-5) -> RowKernel:
    """LayerNorm over `cols` columns with optional per-column gamma and beta (floats or bf16 patterns)."""
    _check_shape("layernorm", cols)
    consts: dict[str, tuple[Kind, np.ndarray]] = {}
    if gamma is not None:
        consts["gamma"] = (Kind.VEC, _vec_param("layernorm", "gamma", gamma, cols))
    if beta is not None:
        consts["beta"] = (Kind.VEC, _vec_param("layernorm", "beta", beta, cols))
    valid = _tail_word(cols, n, int(numerics.BF16_ONE), 0x0000)
    if valid is not None:
        consts["valid"] = (Kind.WORD, valid)

    def body(o: SimdOps[Any], v: dict[str, Any]) -> Any:
        return rc.layernorm(
            o, v["x"], cols=cols, eps=eps, gamma=v.get("gamma"), beta=v.get("beta"), valid=v.get("valid")
        )

    return RowKernel("layernorm", cols, ("x",), consts, body)


def rmsnorm_kernel(cols: int, n: int, gamma: Any = None, eps: float = 1e-6) -> RowKernel:
    """RMSNorm over `cols` columns with optional per-column gamma."""
    _check_shape("rmsnorm", cols)
    consts = {} if gamma is None else {"gamma": (Kind.VEC, _vec_param("rmsnorm", "gamma", gamma, cols))}

    def body(o: SimdOps[Any], v: dict[str, Any]) -> Any:
        return rc.rmsnorm(o, v["x"], cols=cols, eps=eps, gamma=v.get("gamma"))

    return RowKernel("rmsnorm", cols, ("x",), consts, body)


def gelu_kernel(cols: int, n: int, approximate: str = "tanh") -> RowKernel:
    """Elementwise GELU: approximate="tanh" (the tanh formula) or "none" (the exact erf form)."""
    _check_shape("gelu", cols)
    if approximate not in GELU_FORMS:
        raise CodegenError(f"gelu: approximate must be one of {GELU_FORMS}, got {approximate!r}")
    fn = rc.gelu_tanh if approximate == "tanh" else rc.gelu_erf
    return RowKernel(f"gelu_{approximate}", cols, ("x",), {}, lambda o, v: fn(o, v["x"]))


def silu_kernel(cols: int, n: int) -> RowKernel:
    """Elementwise SiLU, x * sigmoid(x)."""
    _check_shape("silu", cols)
    return RowKernel("silu", cols, ("x",), {}, lambda o, v: rc.silu(o, v["x"]))


# ---- emit_* for the model compiler ---------------------------------------------------------------
def _cols(t: TensorDesc) -> int:
    return t.shape[-1] if t.shape else 1


def emit_softmax(
    b: ProgramBuilder,
    x: TensorDesc,
    y: TensorDesc,
    *,
    mask: TensorDesc | None = None,
    regs: ConstRegs | None = None,
    set_mode: bool = True,
) -> RowKernelInfo:
    """Append a row softmax of `x` (plus the additive `mask`, if given) into `y`."""
    k = softmax_kernel(_cols(x), b.n, mask=mask is not None)
    ins = {"x": x} if mask is None else {"x": x, "mask": mask}
    return emit_rowwise(b, k, ins, y, regs=regs, set_mode=set_mode)


def emit_layernorm(
    b: ProgramBuilder,
    x: TensorDesc,
    y: TensorDesc,
    *,
    gamma: Any = None,
    beta: Any = None,
    eps: float = 1e-5,
    regs: ConstRegs | None = None,
    set_mode: bool = True,
) -> RowKernelInfo:
    """Append a LayerNorm of the rows of `x` into `y` (gamma, beta become constant tensors)."""
    return emit_rowwise(b, layernorm_kernel(_cols(x), b.n, gamma, beta, eps), {"x": x}, y, regs=regs, set_mode=set_mode)


def emit_rmsnorm(
    b: ProgramBuilder,
    x: TensorDesc,
    y: TensorDesc,
    *,
    gamma: Any = None,
    eps: float = 1e-6,
    regs: ConstRegs | None = None,
    set_mode: bool = True,
) -> RowKernelInfo:
    """Append an RMSNorm of the rows of `x` into `y`."""
    return emit_rowwise(b, rmsnorm_kernel(_cols(x), b.n, gamma, eps), {"x": x}, y, regs=regs, set_mode=set_mode)


def emit_gelu(
    b: ProgramBuilder,
    x: TensorDesc,
    y: TensorDesc,
    *,
    approximate: str = "tanh",
    regs: ConstRegs | None = None,
    set_mode: bool = True,
) -> RowKernelInfo:
    """Append GELU of `x` into `y`."""
    return emit_rowwise(b, gelu_kernel(_cols(x), b.n, approximate), {"x": x}, y, regs=regs, set_mode=set_mode)


def emit_silu(
    b: ProgramBuilder, x: TensorDesc, y: TensorDesc, *, regs: ConstRegs | None = None, set_mode: bool = True
) -> RowKernelInfo:
    """Append SiLU of `x` into `y`."""
    return emit_rowwise(b, silu_kernel(_cols(x), b.n), {"x": x}, y, regs=regs, set_mode=set_mode)


# ---- stand-alone programs --------------------------------------------------------------------------
def _program(
    cfg: HwConfig, rows: int, cols: int, kernel: str, extra: tuple[str, ...] = ()
) -> tuple[ProgramBuilder, dict[str, TensorDesc]]:
    if rows < 0:
        raise CodegenError(f"{kernel}: rows must be >= 0, got {rows}")
    _check_shape(kernel, cols)
    b = ProgramBuilder(cfg)
    t = {"x": b.tensor("x", Role.INPUT, (rows, cols), DType.BF16)}
    for name in extra:
        t[name] = b.tensor(name, Role.INPUT, (rows, cols), DType.BF16)
    t["y"] = b.tensor("y", Role.OUTPUT, (rows, cols), DType.BF16)
    return b, t


def _meta(kernel: str, rows: int, cols: int, info: RowKernelInfo, **more: object) -> dict[str, str]:
    meta = {"kernel": kernel, "rows": str(rows), "cols": str(cols), "rows_per_block": str(info.rows_per_block)}
    meta.update({k: str(v) for k, v in more.items()})
    return meta


def softmax_program(cfg: HwConfig, rows: int, cols: int, *, mask: bool = False) -> Program:
    """Row softmax of input x [rows, cols] (plus input mask, 0 / -inf, if `mask`) into output y."""
    b, t = _program(cfg, rows, cols, "softmax", ("mask",) if mask else ())
    info = emit_softmax(b, t["x"], t["y"], mask=t.get("mask"))
    return b.build(_meta("softmax", rows, cols, info, mask=mask))


def layernorm_program(
    cfg: HwConfig, rows: int, cols: int, gamma: Any = None, beta: Any = None, eps: float = 1e-5
) -> Program:
    """LayerNorm of input x [rows, cols] into output y with constant gamma, beta (None: 1 and 0)."""
    b, t = _program(cfg, rows, cols, "layernorm")
    info = emit_layernorm(b, t["x"], t["y"], gamma=gamma, beta=beta, eps=eps)
    return b.build(_meta("layernorm", rows, cols, info, eps=eps))


def rmsnorm_program(cfg: HwConfig, rows: int, cols: int, gamma: Any = None, eps: float = 1e-6) -> Program:
    """RMSNorm of input x [rows, cols] into output y with constant gamma (None: 1)."""
    b, t = _program(cfg, rows, cols, "rmsnorm")
    info = emit_rmsnorm(b, t["x"], t["y"], gamma=gamma, eps=eps)
    return b.build(_meta("rmsnorm", rows, cols, info, eps=eps))


def gelu_program(cfg: HwConfig, rows: int, cols: int, approximate: str = "tanh") -> Program:
    """GELU of input x [rows, cols] into output y (approximate: "tanh" or "none")."""
    b, t = _program(cfg, rows, cols, "gelu")
    info = emit_gelu(b, t["x"], t["y"], approximate=approximate)
    return b.build(_meta("gelu", rows, cols, info, approximate=approximate))


def silu_program(cfg: HwConfig, rows: int, cols: int) -> Program:
    """SiLU of input x [rows, cols] into output y."""
    b, t = _program(cfg, rows, cols, "silu")
    info = emit_silu(b, t["x"], t["y"])
    return b.build(_meta("silu", rows, cols, info))


# ---- bit-exact references ------------------------------------------------------------------------
def _bits2d(x: Any, what: str = "x") -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype != np.uint16:
        raise CodegenError(f"{what} must be uint16 bf16 bit patterns, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise CodegenError(f"{what} must be 2-D [rows, cols], got shape {arr.shape}")
    return arr


def softmax_reference(x: Any, n: int, mask: Any = None) -> np.ndarray:
    """What softmax_program computes, bit for bit (uint16 [rows, cols] in and out)."""
    xb = _bits2d(x)
    ins = {"x": xb} if mask is None else {"x": xb, "mask": _bits2d(mask, "mask")}
    return evaluate(softmax_kernel(xb.shape[1], n, mask=mask is not None), n, ins)


def layernorm_reference(x: Any, n: int, gamma: Any = None, beta: Any = None, eps: float = 1e-5) -> np.ndarray:
    """What layernorm_program computes, bit for bit."""
    xb = _bits2d(x)
    return evaluate(layernorm_kernel(xb.shape[1], n, gamma, beta, eps), n, {"x": xb})


def rmsnorm_reference(x: Any, n: int, gamma: Any = None, eps: float = 1e-6) -> np.ndarray:
    """What rmsnorm_program computes, bit for bit."""
    xb = _bits2d(x)
    return evaluate(rmsnorm_kernel(xb.shape[1], n, gamma, eps), n, {"x": xb})


def gelu_reference(x: Any, n: int, approximate: str = "tanh") -> np.ndarray:
    """What gelu_program computes, bit for bit."""
    xb = _bits2d(x)
    return evaluate(gelu_kernel(xb.shape[1], n, approximate), n, {"x": xb})


def silu_reference(x: Any, n: int) -> np.ndarray:
    """What silu_program computes, bit for bit."""
    xb = _bits2d(x)
    return evaluate(silu_kernel(xb.shape[1], n), n, {"x": xb})
