"""The mapping table: aten operators (bound to their schema's argument names) lowered into IR nodes.

Both torch paths use it: ``torch.export`` graphs call aten overloads directly; the FX path binds ``torch.*``
functions, ``Tensor`` methods and ``nn`` modules to the same aten schemas first.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import torch

from tataa.frontend.torch_lower import Lowerer, norm_axis, resolve_sizes
from tataa.frontend.torch_values import LazyList, Param, TVal, Unsupported, ir_dtype
from tataa.ir.dims import Dim, add_dims, canonical_dim, dim_expr, from_expr, mul_dims, sub_dims
from tataa.ir.types import DType

Args = dict[str, Any]
Handler = Callable[[Lowerer, Args, DType | None], Any]

ATEN: dict[str, Handler] = {}
"""Handlers by aten operator name (``"linear"``, ``"add"``...); every overload of a name shares one handler."""


def _reg(*names: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for n in names:
            ATEN[n] = fn
        return fn

    return deco


def aten_name(op: object) -> str | None:
    """The operator name of an aten overload or packet (``torch.ops.aten.add.Tensor`` -> ``"add"``)."""
    schema = getattr(op, "_schema", None)
    if schema is None:
        packet = getattr(op, "_qualified_op_name", None)
        if isinstance(packet, str) and packet.startswith("aten::"):
            return packet[len("aten::") :]
        return None
    name = schema.name
    return name[len("aten::") :] if name.startswith("aten::") else None


# ---------------------------------------------------------------------------------------------------- binding


def _fits(type_text: str, value: object) -> bool:
    optional = type_text.startswith("Optional[")
    if value is None:
        return optional
    inner = type_text[len("Optional[") : -1] if optional else type_text
    is_tensor = isinstance(value, TVal | Param)
    if inner == "Tensor":
        return is_tensor
    if inner.startswith("List["):
        if inner.startswith("List[Tensor") or inner.startswith("List[Optional[Tensor"):
            return isinstance(value, list | tuple) and all(v is None or isinstance(v, TVal | Param) for v in value)
        return isinstance(value, list | tuple | int | str) and not is_tensor
    if inner in ("int", "SymInt"):  # ScalarType, Layout and MemoryFormat print as int too
        return not (is_tensor or isinstance(value, float | list | tuple))
    if inner in ("float", "number", "Scalar"):
        return isinstance(value, bool | int | float | str)
    if inner == "bool":
        return isinstance(value, bool)
    if inner == "str":
        return isinstance(value, str)
    return not is_tensor


def bind(schema: torch.FunctionSchema, args: Sequence[Any], kwargs: dict[str, Any], check: bool = False) -> Args | None:
    """Arguments by schema name with defaults filled in; None when they do not fit the schema."""
    params = schema.arguments
    positional = [p for p in params if not p.kwarg_only]
    if len(args) > len(positional):
        return None
    names = {p.name for p in params}
    if any(k not in names for k in kwargs):
        return None
    out: Args = {}
    for p, v in zip(positional, args, strict=False):
        out[p.name] = v
    for k, v in kwargs.items():
        if k in out:
            return None
        out[k] = v
    for p in params:
        if p.name not in out:
            if not p.has_default_value():
                if str(p.type).startswith("Optional["):
                    out[p.name] = None
                    continue
                return None
            out[p.name] = p.default_value
        elif check and not _fits(str(p.type), out[p.name]):
            return None
    return out


# ---------------------------------------------------------------------------------------------------- helpers


def _t(lo: Lowerer, v: object, what: str = "self") -> TVal:
    return lo.tensor(v, what)


def _dims(v: object) -> list[int]:
    if v is None:
        return []
    if isinstance(v, int):
        return [v]
    return list(v)  # type: ignore[call-overload]


def _dtype(v: object) -> DType | None:
    if v is None:
        return None
    if isinstance(v, torch.dtype):
        return ir_dtype(v)
    raise Unsupported(f"dtype argument {v!r} is not a torch dtype")


def _factory_dtype(a: Args, out: DType | None, fill: object = 0.0) -> DType:
    dt = _dtype(a.get("dtype"))
    if dt is not None:
        return dt
    if out is not None:
        return out
    return DType.BOOL if isinstance(fill, bool) else DType.I64 if isinstance(fill, int) else DType.F32


def _int_scalar(v: object, what: str) -> int:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise Unsupported(f"{what} {v!r} must be an integer")
    return v


# ---------------------------------------------------------------------------------------------------- no-ops, casts


@_reg("_assert_tensor_metadata", "_assert_scalar", "_assert_async", "sym_constrain_range_for_size",
      "sym_constrain_range", "_assert_tensor_meta")
def _noop(lo: Lowerer, a: Args, out: DType | None) -> None:
    return None


@_reg("contiguous", "clone", "alias", "detach", "lift_fresh_copy", "lift_fresh", "view_as_real_copy", "positive",
      "_unsafe_view_copy")
def _identity(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return _t(lo, a["self"])


@_reg("dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout")
def _dropout(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    if a["train"] and a["p"] > 0:
        raise Unsupported(f"dropout in training mode (p={a['p']}) is random; export the module in eval mode")
    return _t(lo, a["input"])


@_reg("to", "_to_copy", "type_as", "_to_dim_order_copy")
def _to(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    if "other" in a:
        return lo.cast(x, _t(lo, a["other"], "other").dtype)
    dt = _dtype(a.get("dtype")) or out
    return x if dt is None else lo.cast(x, dt)


# ---------------------------------------------------------------------------------------------------- elementwise


def _alpha(lo: Lowerer, other: object, alpha: object) -> object:
    if alpha is None or alpha == 1:
        return other
    if isinstance(other, bool | int | float):
        return other * alpha  # type: ignore[operator]
    return lo.binary("mul", other, alpha)  # type: ignore[arg-type]


def _make_add(kind: str) -> Handler:
    def h(lo: Lowerer, a: Args, out: DType | None) -> TVal:
        if kind == "rsub":  # other - alpha * self
            return lo.binary("sub", a["other"], _alpha(lo, a["self"], a.get("alpha", 1)), out)
        return lo.binary(kind, a["self"], _alpha(lo, a["other"], a.get("alpha", 1)), out)

    return h


for _k in ("add", "sub", "rsub"):
    ATEN[_k] = _make_add(_k)


@_reg("mul", "multiply")
def _mul(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.binary("mul", a["self"], a["other"], out)


@_reg("div", "true_divide", "divide")
def _div(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    mode = a.get("rounding_mode")
    if mode is not None:
        raise Unsupported(f"division with rounding_mode={mode!r} (the IR has no floor/trunc)")
    return lo.binary("div", a["self"], a["other"], out)


@_reg("pow")
def _pow(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.binary("pow", a["self"], a["exponent"], out)


@_reg("square")
def _square(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    return lo.binary("mul", x, x, out)


ATEN["maximum"] = ATEN["fmax"] = lambda lo, a, out: lo.binary("maximum", a["self"], a["other"], out)
ATEN["minimum"] = ATEN["fmin"] = lambda lo, a, out: lo.binary("minimum", a["self"], a["other"], out)

_COMPARE = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater",
            "ge": "greater_equal", "greater": "greater", "less": "less", "greater_equal": "greater_equal",
            "less_equal": "less_equal", "not_equal": "not_equal"}
for _name, _op in _COMPARE.items():
    ATEN[_name] = (lambda op: lambda lo, a, out: lo.compare(op, a["self"], a["other"]))(_op)


def _bool_only(lo: Lowerer, a: Args, what: str) -> None:
    for k in ("self", "other"):
        v = a.get(k)
        if isinstance(v, TVal | Param) and v.dtype is not DType.BOOL:
            raise Unsupported(f"{what} on {v.dtype.value} tensors (only bool is supported)")


for _name, _op in (("bitwise_and", "logical_and"), ("__and__", "logical_and"), ("bitwise_or", "logical_or"),
                   ("__or__", "logical_or"), ("bitwise_xor", "logical_xor"), ("__xor__", "logical_xor")):
    def _bitwise(lo: Lowerer, a: Args, out: DType | None, op: str = _op, name: str = _name) -> TVal:
        _bool_only(lo, a, name)
        return lo.logical(op, a["self"], a["other"])

    ATEN[_name] = _bitwise


@_reg("bitwise_not", "__invert__")
def _bitwise_not(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    _bool_only(lo, a, "bitwise_not")
    return lo.logical("logical_not", a["self"])


for _name in ("logical_and", "logical_or", "logical_xor"):
    ATEN[_name] = (lambda op: lambda lo, a, out: lo.logical(op, a["self"], a["other"]))(_name)
ATEN["logical_not"] = lambda lo, a, out: lo.logical("logical_not", a["self"])

for _name in ("neg", "abs", "exp", "log", "sqrt", "rsqrt", "reciprocal", "tanh", "erf", "sigmoid", "relu", "silu"):
    ATEN[_name] = (lambda op: lambda lo, a, out: lo.unary(op, _t(lo, a["self"])))(_name)
ATEN["negative"] = ATEN["neg"]
ATEN["absolute"] = ATEN["abs"]


@_reg("gelu")
def _gelu(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.unary("gelu", _t(lo, a["self"]), approximate=a.get("approximate") or "none")


def _clamp(lo_key: str | None, hi_key: str | None, lo_default: float | None = None,
           hi_default: float | None = None) -> Handler:
    def h(lo: Lowerer, a: Args, out: DType | None) -> TVal:
        x = _t(lo, a["self"])
        low = a.get(lo_key, lo_default) if lo_key else lo_default
        high = a.get(hi_key, hi_default) if hi_key else hi_default
        if low is not None:
            x = lo.binary("maximum", x, low, out)
        if high is not None:
            x = lo.binary("minimum", x, high, out)
        return x

    return h


ATEN["clamp"] = ATEN["clip"] = _clamp("min", "max")
ATEN["clamp_min"] = _clamp("min", None)
ATEN["clamp_max"] = _clamp(None, "max")
ATEN["hardtanh"] = _clamp("min_val", "max_val")
ATEN["relu6"] = _clamp(None, None, 0.0, 6.0)


@_reg("leaky_relu")
def _leaky_relu(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    return lo.where(lo.compare("greater", x, 0), x, lo.binary("mul", x, a["negative_slope"]))


@_reg("where")
def _where(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    if "self" not in a:
        raise Unsupported("where(condition) with one argument gives data-dependent shapes")
    return lo.where(a["condition"], a["self"], a["other"])


@_reg("masked_fill")
def _masked_fill(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    v = a["value"]
    value = lo.cast(_t(lo, v, "value"), x.dtype) if isinstance(v, TVal | Param) else lo.scalar(v, x.dtype)
    return lo.emit("where", [lo.operand(a["mask"], DType.BOOL), value, x])


ATEN["tril"] = lambda lo, a, out: lo.tri(_t(lo, a["self"]), _int_scalar(a.get("diagonal", 0), "diagonal"), False)
ATEN["triu"] = lambda lo, a, out: lo.tri(_t(lo, a["self"]), _int_scalar(a.get("diagonal", 0), "diagonal"), True)


# ---------------------------------------------------------------------------------------------------- reductions


def _reduce_axes(x: TVal, dim: object) -> tuple[int, ...]:
    dims = _dims(dim)
    if not dims:
        return tuple(range(x.rank))
    return tuple(sorted({norm_axis(d, x.rank) for d in dims}))


def _reduce(lo: Lowerer, op: str, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    if x.rank == 0:
        return x if out is None else lo.cast(x, out)
    dt = _dtype(a.get("dtype")) or out
    if dt is None:
        dt = DType.I64 if op == "reduce_sum" and not x.dtype.is_float else x.dtype
    if op == "reduce_mean" and not dt.is_float:
        raise Unsupported(f"mean of a {x.dtype.value} tensor")
    x = lo.cast(x, dt)
    return lo.emit(op, [x], axes=_reduce_axes(x, a.get("dim")), keepdims=bool(a.get("keepdim", False)))


ATEN["sum"] = lambda lo, a, out: _reduce(lo, "reduce_sum", a, out)
ATEN["mean"] = lambda lo, a, out: _reduce(lo, "reduce_mean", a, out)
ATEN["amax"] = lambda lo, a, out: _reduce(lo, "reduce_max", a, out)
ATEN["amin"] = lambda lo, a, out: _reduce(lo, "reduce_min", a, out)


def _max_min(kind: str) -> Handler:
    def h(lo: Lowerer, a: Args, out: DType | None) -> Any:
        if "other" in a:
            return lo.binary("maximum" if kind == "max" else "minimum", a["self"], a["other"], out)
        op = "reduce_max" if kind == "max" else "reduce_min"
        if "dim" not in a:
            return _reduce(lo, op, a, out)
        values = _reduce(lo, op, a, None)

        def pick(i: int) -> TVal:
            if i == 0:
                return values
            raise Unsupported(f"{kind}(dim) indices (arg{kind}) have no IR equivalent")

        return LazyList(2, pick)

    return h


ATEN["max"] = _max_min("max")
ATEN["min"] = _max_min("min")


def _var_std(std: bool) -> Handler:
    def h(lo: Lowerer, a: Args, out: DType | None) -> TVal:
        x = _t(lo, a["self"])
        if not x.dtype.is_float:
            raise Unsupported(f"variance of a {x.dtype.value} tensor")
        corr = a.get("correction")
        if corr is None:
            corr = 1 if a.get("unbiased", True) else 0
        axes = _reduce_axes(x, a.get("dim"))
        keep = bool(a.get("keepdim", False))
        mean = lo.emit("reduce_mean", [x], axes=axes, keepdims=True)
        d = lo.binary("sub", x, mean)
        var = lo.emit("reduce_mean", [lo.binary("mul", d, d)], axes=axes, keepdims=keep)
        if corr:
            n = mul_dims(*(x.shape[i] for i in axes))
            if isinstance(n, int):
                var = lo.binary("mul", var, n / (n - corr) if n > corr else float("inf"))
            else:
                var = lo.binary("div", lo.binary("mul", var, n), sub_dims(n, corr) if corr > 0 else add_dims(n, -corr))
        return lo.unary("sqrt", var) if std else var

    return h


ATEN["var"] = _var_std(False)
ATEN["std"] = _var_std(True)


@_reg("softmax", "_softmax", "special_softmax")
def _softmax(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    dt = _dtype(a.get("dtype")) or (out if out is not None and out.is_float else None)
    if dt is not None:
        x = lo.cast(x, dt)
    return lo.unary("softmax", x, axis=norm_axis(a["dim"], x.rank))


@_reg("log_softmax", "_log_softmax")
def _log_softmax(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    dt = _dtype(a.get("dtype")) or (out if out is not None and out.is_float else None)
    if dt is not None:
        x = lo.cast(x, dt)
    ax = norm_axis(a["dim"], x.rank)
    shifted = lo.binary("sub", x, lo.emit("reduce_max", [x], axes=(ax,), keepdims=True))
    lse = lo.unary("log", lo.emit("reduce_sum", [lo.unary("exp", shifted)], axes=(ax,), keepdims=True))
    return lo.binary("sub", shifted, lse)


@_reg("cumsum")
def _cumsum(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    dt = _dtype(a.get("dtype")) or out or (x.dtype if x.dtype.is_float else DType.I64)
    x = lo.cast(x, dt)
    return lo.emit("cumsum", [x], axis=norm_axis(a["dim"], x.rank))


@_reg("diff")
def _diff(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    ax = norm_axis(a["dim"], x.rank)
    parts = [p for p in (a.get("prepend"), x, a.get("append")) if p is not None]
    y = lo.concat(parts, ax) if len(parts) > 1 else x
    for _ in range(_int_scalar(a["n"], "n")):
        n = y.shape[ax]
        hi, lo_ = lo.slice(y, ax, 1, n), lo.slice(y, ax, 0, sub_dims(n, 1))
        y = lo.compare("not_equal", hi, lo_) if y.dtype is DType.BOOL else lo.binary("sub", hi, lo_)
    return y


# ---------------------------------------------------------------------------------------------------- normalisation


def _norm_params(lo: Lowerer, x: TVal, shape: Sequence[Dim], weight: object, bias: object) -> list[TVal]:
    params: list[TVal] = []
    if weight is None and bias is not None:
        weight = lo.full(tuple(shape), 1.0, x.dtype)
    for p in (weight, bias):
        if p is not None:
            params.append(lo.cast(_t(lo, p, "weight"), x.dtype))
    return params


@_reg("layer_norm")
def _layer_norm(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["input"])
    shape = _dims(a["normalized_shape"])
    params = _norm_params(lo, x, shape, a.get("weight"), a.get("bias"))
    if not x.dtype.is_float:
        raise Unsupported(f"layer_norm of a {x.dtype.value} tensor")
    return lo.emit("layer_norm", [x, *params], axis=-len(shape), eps=float(a["eps"]))


@_reg("native_layer_norm")
def _native_layer_norm(lo: Lowerer, a: Args, out: DType | None) -> LazyList:
    y = _layer_norm(lo, a, out)

    def pick(i: int) -> TVal:
        if i == 0:
            return y
        raise Unsupported("native_layer_norm's mean/rstd outputs have no IR equivalent")

    return LazyList(3, pick)


@_reg("rms_norm")
def _rms_norm(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["input"])
    shape = _dims(a["normalized_shape"])
    if not x.dtype.is_float:
        raise Unsupported(f"rms_norm of a {x.dtype.value} tensor")
    eps = a.get("eps")
    if eps is None:
        eps = float(torch.finfo(_TORCH[x.dtype]).eps)
    params = _norm_params(lo, x, shape, a.get("weight"), None)
    return lo.emit("rms_norm", [x, *params], axis=-len(shape), eps=float(eps))


_TORCH = {DType.F64: torch.float64, DType.F32: torch.float32, DType.F16: torch.float16, DType.BF16: torch.bfloat16}


# ---------------------------------------------------------------------------------------------------- linear algebra


@_reg("linear")
def _linear(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.linear(_t(lo, a["input"]), lo.weight_t(a["weight"]), a.get("bias"))


@_reg("addmm")
def _addmm(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    beta, alpha = a.get("beta", 1), a.get("alpha", 1)
    x, w, bias = _t(lo, a["mat1"]), a["mat2"], a["self"]
    is_const = isinstance(w, Param) or (isinstance(w, TVal) and w.name in lo.consts)
    if beta == 1 and alpha == 1 and is_const and isinstance(bias, TVal | Param) and bias.rank == 1:
        return lo.linear(x, lo.tensor(w, "mat2"), bias)
    y = lo.matmul(x, w)
    if alpha != 1:
        y = lo.binary("mul", y, alpha)
    if beta == 0:
        return y
    b = bias if beta == 1 else lo.binary("mul", bias, beta)
    return lo.binary("add", y, b)


@_reg("mm", "bmm", "matmul")
def _matmul(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.matmul(a["self"], a.get("mat2", a.get("other")))


@_reg("scaled_dot_product_attention")
def _sdpa(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    if a.get("dropout_p", 0.0):
        raise Unsupported(f"attention dropout p={a['dropout_p']} is random; use eval mode / dropout_p=0")
    return lo.attention(_t(lo, a["query"]), _t(lo, a["key"]), _t(lo, a["value"]), a.get("attn_mask"), a.get("scale"),
                        bool(a.get("is_causal", False)), bool(a.get("enable_gqa", False)))


@_reg("conv2d")
def _conv2d(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.patch_conv(_t(lo, a["input"]), a["weight"], a.get("bias"), a["stride"], a["padding"], a["dilation"],
                         a["groups"])


@_reg("convolution", "_convolution")
def _convolution(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    if a["transposed"]:
        raise Unsupported("transposed convolution")
    if len(_dims(a["stride"])) != 2:
        raise Unsupported(f"{len(_dims(a['stride']))}-d convolution (only 2-d patch embeddings are supported)")
    return _conv2d(lo, a, out)


@_reg("embedding")
def _embedding(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.gather(_t(lo, a["weight"], "weight"), _t(lo, a["indices"], "indices"), 0)


@_reg("index_select")
def _index_select(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.gather(_t(lo, a["self"]), _t(lo, a["index"], "index"), a["dim"])


@_reg("gather")
def _gather(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.take_along(_t(lo, a["self"]), a["dim"], _t(lo, a["index"], "index"))


@_reg("index")
def _index(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.index(_t(lo, a["self"]), list(a["indices"]))


# ---------------------------------------------------------------------------------------------------- shapes


@_reg("view", "reshape", "_unsafe_view", "view_copy", "_reshape_alias")
def _view(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    if isinstance(a.get("size", a.get("shape")), torch.dtype):
        raise Unsupported("view as another dtype")
    return lo.reshape(x, lo.resolve_shape(x, _dims(a.get("size", a.get("shape")))))


@_reg("view_as", "reshape_as")
def _view_as(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.reshape(_t(lo, a["self"]), _t(lo, a["other"], "other").shape)


@_reg("flatten")
def _flatten(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    if x.rank == 0:
        return lo.reshape(x, (1,))
    s, e = norm_axis(a.get("start_dim", 0), x.rank), norm_axis(a.get("end_dim", -1), x.rank)
    if e < s:
        raise Unsupported(f"flatten end_dim {e} before start_dim {s}")
    return lo.reshape(x, (*x.shape[:s], mul_dims(*x.shape[s : e + 1]), *x.shape[e + 1 :]))


@_reg("unflatten")
def _unflatten(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    ax = norm_axis(a["dim"], x.rank)
    sizes = _dims(a["sizes"])
    sub = resolve_sizes(x.shape[ax], sizes)
    return lo.reshape(x, (*x.shape[:ax], *sub, *x.shape[ax + 1 :]))


@_reg("permute")
def _permute(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    return lo.transpose(x, _dims(a["dims"]))


@_reg("transpose", "swapaxes", "swapdims")
def _transpose(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    d0 = a.get("dim0", a.get("axis0"))
    d1 = a.get("dim1", a.get("axis1"))
    return lo.swap(x, d0, d1)


@_reg("t", "numpy_T")
def _t_op(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    return x if x.rank < 2 else lo.transpose(x, tuple(reversed(range(x.rank))))


@_reg("unsqueeze")
def _unsqueeze(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.unsqueeze(_t(lo, a["self"]), a["dim"])


@_reg("squeeze")
def _squeeze(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    d = a.get("dim")
    return lo.squeeze(_t(lo, a["self"]), None if d is None else _dims(d))


@_reg("expand")
def _expand(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.expand_sizes(_t(lo, a["self"]), _dims(a["size"]))


@_reg("expand_as")
def _expand_as(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.expand(_t(lo, a["self"]), _t(lo, a["other"], "other").shape)


@_reg("repeat")
def _repeat(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.repeat(_t(lo, a["self"]), [_int_scalar(r, "repeat") for r in _dims(a["repeats"])])


@_reg("slice")
def _slice(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.slice(_t(lo, a["self"]), a.get("dim", 0), a.get("start"), a.get("end"), a.get("step", 1))


@_reg("select")
def _select(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.select(_t(lo, a["self"]), a["dim"], a["index"])


@_reg("narrow")
def _narrow(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    start = a["start"]
    if isinstance(start, TVal | Param):
        raise Unsupported("narrow with a tensor start")
    return lo.slice(x, a["dim"], start, add_dims(start, a["length"]) if not (isinstance(start, int) and start < 0)
                    else start + a["length"], 1)


@_reg("cat", "concat", "concatenate")
def _cat(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return lo.concat(list(a["tensors"]), a.get("dim", 0))


@_reg("stack")
def _stack(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    ts = [_t(lo, t, "tensors") for t in a["tensors"]]
    if not ts:
        raise Unsupported("stack of no tensors")
    ax = norm_axis(a.get("dim", 0), ts[0].rank + 1)
    return lo.concat([lo.unsqueeze(t, ax) for t in ts], ax)


def _pieces(lo: Lowerer, x: TVal, ranges: list[tuple[int, int]], ax: int) -> LazyList:
    return LazyList(len(ranges), lambda i: lo.slice(x, ax, ranges[i][0], ranges[i][1]))


@_reg("split", "unsafe_split", "split_with_sizes", "unsafe_split_with_sizes")
def _split(lo: Lowerer, a: Args, out: DType | None) -> LazyList:
    x = _t(lo, a["self"])
    ax = norm_axis(a.get("dim", 0), x.rank)
    size = x.shape[ax]
    spec = a.get("split_size", a.get("split_sizes"))
    if isinstance(spec, list | tuple):
        sizes = [_int_scalar(s, "split size") for s in spec]
    else:
        step = _int_scalar(spec, "split size")
        if not isinstance(size, int):
            raise Unsupported(f"split of the symbolic axis {ax} (size {size}) into pieces of {step}")
        sizes = [min(step, size - s) for s in range(0, size, step)] or [0]
    return _pieces(lo, x, lo.split(x, sizes, ax), ax)


@_reg("chunk")
def _chunk(lo: Lowerer, a: Args, out: DType | None) -> LazyList:
    x = _t(lo, a["self"])
    ax = norm_axis(a.get("dim", 0), x.rank)
    size = x.shape[ax]
    if not isinstance(size, int):
        raise Unsupported(f"chunk of the symbolic axis {ax} (size {size})")
    step = -(-size // a["chunks"])
    sizes = [min(step, size - s) for s in range(0, size, step)] if step else [0]
    return _pieces(lo, x, lo.split(x, sizes, ax), ax)


@_reg("unbind")
def _unbind(lo: Lowerer, a: Args, out: DType | None) -> LazyList:
    x = _t(lo, a["self"])
    ax = norm_axis(a.get("dim", 0), x.rank)
    size = x.shape[ax]
    if not isinstance(size, int):
        raise Unsupported(f"unbind of the symbolic axis {ax} (size {size})")
    return LazyList(size, lambda i: lo.select(x, ax, i))


# ---------------------------------------------------------------------------------------------------- creation


@_reg("arange")
def _arange(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    start = a.get("start", 0)
    end, step = a["end"], a.get("step", 1)
    dt = _factory_dtype(a, out, 1.0 if any(isinstance(v, float) for v in (start, end, step)) else 1)
    start = start if isinstance(start, str) else _int_scalar(start, "arange start")
    end = end if isinstance(end, str) else _int_scalar(end, "arange end")
    return lo.arange(start, end, _int_scalar(step, "arange step"), dt)


def _fill(lo: Lowerer, shape: Sequence[Dim], value: object, dt: DType) -> TVal:
    if isinstance(value, TVal | Param):
        return lo.expand(lo.cast(lo.tensor(value), dt), tuple(shape))
    if isinstance(value, str):
        return lo.expand(lo.size_value(value, dt), tuple(shape))
    return lo.full(tuple(shape), value, dt)  # type: ignore[arg-type]


@_reg("full", "new_full")
def _full(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    dt = _dtype(a.get("dtype")) or out or (_t(lo, a["self"]).dtype if "self" in a else _factory_dtype(a, None,
                                                                                                     a["fill_value"]))
    return _fill(lo, _dims(a["size"]), a["fill_value"], dt)


def _const_factory(value: float) -> Handler:
    def h(lo: Lowerer, a: Args, out: DType | None) -> TVal:
        if "size" in a:
            shape = _dims(a["size"])
            base = a.get("self")
        else:
            base = a["self"]
            shape = list(_t(lo, base).shape)
        dt = _dtype(a.get("dtype")) or out or (_t(lo, base).dtype if base is not None else DType.F32)
        return _fill(lo, shape, value, dt)

    return h


for _name, _v in (("ones", 1.0), ("zeros", 0.0), ("new_ones", 1.0), ("new_zeros", 0.0), ("ones_like", 1.0),
                  ("zeros_like", 0.0)):
    ATEN[_name] = _const_factory(_v)


@_reg("full_like")
def _full_like(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    return _fill(lo, x.shape, a["fill_value"], _dtype(a.get("dtype")) or out or x.dtype)


@_reg("fill")
def _fill_op(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    x = _t(lo, a["self"])
    return _fill(lo, x.shape, a["value"], x.dtype)


@_reg("scalar_tensor")
def _scalar_tensor(lo: Lowerer, a: Args, out: DType | None) -> TVal:
    return _fill(lo, (), a["s"], _factory_dtype(a, out, a["s"]))


# ---------------------------------------------------------------------------------------------------- sizes


@_reg("sym_size")
def _sym_size(lo: Lowerer, a: Args, out: DType | None) -> Dim:
    x = _t(lo, a["self"])
    return x.shape[norm_axis(a["dim"], x.rank)]


@_reg("sym_numel")
def _sym_numel(lo: Lowerer, a: Args, out: DType | None) -> Dim:
    return _t(lo, a["self"]).type.numel


@_reg("size")
def _size(lo: Lowerer, a: Args, out: DType | None) -> Any:
    x = _t(lo, a["self"])
    d = a.get("dim")
    return tuple(x.shape) if d is None else x.shape[norm_axis(d, x.rank)]


# ---------------------------------------------------------------------------------------------------- Python ops


def _num(v: object) -> Any:
    return dim_expr(v) if isinstance(v, str) else v  # type: ignore[arg-type]


def _back(v: Any) -> Any:
    if hasattr(v, "free_symbols"):
        if not v.free_symbols and v.is_Integer:
            return int(v)
        if not v.free_symbols and v.is_number:
            return float(v)
        return from_expr(v)
    return v


_PY_OPS: dict[Callable[..., Any], Callable[..., Any]] = {
    operator.add: operator.add, operator.sub: operator.sub, operator.mul: operator.mul,
    operator.truediv: operator.truediv, operator.neg: operator.neg, operator.pow: operator.pow,
    operator.mod: operator.mod, operator.floordiv: operator.floordiv, operator.eq: operator.eq,
    operator.ne: operator.ne, operator.lt: operator.lt, operator.le: operator.le, operator.gt: operator.gt,
    operator.ge: operator.ge,
}


def python_op(fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    """A Python operator on sizes and numbers (symbolic sizes stay symbolic); Unsupported otherwise."""
    name = getattr(fn, "__name__", repr(fn))
    if fn not in _PY_OPS or any(isinstance(v, TVal | Param) for v in args):
        raise Unsupported(f"Python operator {name} on {', '.join(type(v).__name__ for v in args)}")
    if not any(isinstance(v, str) for v in args):
        try:
            return fn(*args)
        except (TypeError, ValueError, ArithmeticError) as e:
            raise Unsupported(f"Python operator {name}: {e}") from None
    import sympy

    if fn is operator.floordiv:
        return from_expr(sympy.floor(_num(args[0]) / _num(args[1])))
    if fn is operator.mod:
        return from_expr(_num(args[0]) - _num(args[1]) * sympy.floor(_num(args[0]) / _num(args[1])))
    if fn in (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge):
        raise Unsupported("a comparison of symbolic sizes (a shape guard)")
    out = _back(fn(*(_num(v) for v in args)))
    if isinstance(out, str):
        return canonical_dim(out)
    return out


def sym_call(fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    """torch's ``sym_*`` helpers on sizes (``sym_max``, ``sym_min``, ``sym_int``, ``sym_float``, ``sym_not``)."""
    name = getattr(fn, "__name__", "")
    if not any(isinstance(v, str) for v in args):
        return {"sym_max": max, "sym_min": min, "sym_int": int, "sym_float": float, "sym_not": operator.not_}.get(
            name, fn)(*args)
    raise Unsupported(f"{name} of symbolic sizes")


__all__ = ["ATEN", "Args", "Handler", "aten_name", "bind", "python_op", "sym_call"]
