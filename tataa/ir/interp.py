"""Numpy reference interpreter of the float IR: what every op computes, node by node.

Numerics (the contract the quantizer and the frontends' tests rely on):

* f32 nodes compute in float32, f64 nodes in float64. f16 and bf16 nodes compute in float32 and round the node's
  result once to their type (``rms_norm`` rounds its normalised value before the weight multiply, as HF Llama does).
* Integer nodes compute in int64 and wrap to their type. ``div`` on integers truncates toward zero (ONNX / C
  semantics) and a zero divisor is an error; ``reduce_mean`` on integers truncates the same way.
* ``erf`` uses ``torch.special.erf`` (numpy has none); ``gelu`` follows torch's exact and tanh formulas.
* ``softmax`` subtracts the row maximum; a row that is entirely -inf gives NaN, as ``torch.softmax`` does.
* ``attention`` computes ``softmax(q @ k^T * scale + mask) @ v`` in the node's compute type. A query row whose keys
  are all masked (bool mask False / float mask -inf / causal) gives zeros, as ``torch.nn.functional.
  scaled_dot_product_attention`` does in torch >= 2.5 (its "safe softmax"); a plain ``softmax`` still gives NaN.
* ``gather`` accepts negative indices (index + size); anything outside [-size, size) is an error naming the node.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from tataa.errors import BindingError, IRError
from tataa.ir.dims import Dim, dim_expr, eval_dim
from tataa.ir.graph import Graph, Node
from tataa.ir.types import DType

Observer = Callable[[Node, np.ndarray], Any]


class Env:
    """The symbol bindings of one run, with a cache of evaluated dimensions."""

    def __init__(self, bindings: Mapping[str, int]) -> None:
        self.bindings = dict(bindings)
        self._cache: dict[Dim, int] = {}

    def dim(self, d: Dim) -> int:
        """The value of a dimension under these bindings."""
        if isinstance(d, int):
            return d
        v = self._cache.get(d)
        if v is None:
            v = self._cache[d] = eval_dim(d, self.bindings)
        return v

    def shape(self, dims: Iterable[Dim]) -> tuple[int, ...]:
        """A concrete shape under these bindings."""
        return tuple(self.dim(d) for d in dims)


def work_dtype(dt: DType) -> np.dtype:
    """The numpy type an op on ``dt`` computes in: float32 for f32/f16/bf16, float64, int64 or bool."""
    if dt is DType.F64:
        return np.dtype(np.float64)
    if dt.is_float:
        return np.dtype(np.float32)
    if dt.is_int:
        return np.dtype(np.int64)
    return np.dtype(np.bool_)


Kernel = Callable[[Node, list[np.ndarray], Env], np.ndarray]


def _w(x: np.ndarray) -> np.ndarray:
    """``x`` in its compute type."""
    return x.astype(work_dtype(DType.from_numpy(x.dtype)), copy=False)


def _ws(xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [_w(x) for x in xs]


def _fail(node: Node, msg: str) -> IRError:
    return IRError(f"node {node.name} ({node.op}): {msg}")


# ---------------------------------------------------------------------------------------------------- elementwise


def _int_div(node: Node, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.any(b == 0):
        raise _fail(node, "integer division by zero")
    q = a // b
    fix = (q < 0) & (q * b != a)  # floor went one below the truncated quotient
    return q + fix


def _arith(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Kernel:
    def run(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
        a, b = _ws(xs)
        if a.dtype == np.bool_:
            a, b = a.astype(np.int64), b.astype(np.int64)
        return fn(a, b)

    return run


def _div(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    a, b = _ws(xs)
    if a.dtype.kind in "biu":
        return _int_div(node, a.astype(np.int64), b.astype(np.int64))
    return a / b


def _pow(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    a, b = _ws(xs)
    if a.dtype.kind in "biu":
        a, b = a.astype(np.int64), b.astype(np.int64)
        if np.any(b < 0):
            raise _fail(node, "integer power with a negative exponent")
    return np.power(a, b)


def _compare(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Kernel:
    return lambda node, xs, env: fn(*_ws(xs))


def _logical(fn: Callable[..., np.ndarray]) -> Kernel:
    return lambda node, xs, env: fn(*xs)


def _where(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    return np.where(xs[0], xs[1], xs[2])


def _neg(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    if xs[0].dtype == np.bool_:
        raise _fail(node, "negation of a bool tensor")
    return np.negative(_w(xs[0]))


def _abs(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    return xs[0] if xs[0].dtype == np.bool_ else np.abs(_w(xs[0]))


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Kernel:
    return lambda node, xs, env: fn(_w(xs[0]))


@functools.cache
def _torch() -> Any:
    import torch

    return torch


def erf(x: np.ndarray) -> np.ndarray:
    """The error function of a float32/float64 array, computed by ``torch.special.erf``."""
    t = _torch()
    arr = np.ascontiguousarray(x)
    if not arr.flags.writeable:
        arr = arr.copy()
    return t.special.erf(t.from_numpy(arr)).numpy()


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^-x)`` without overflow."""
    e = np.exp(-np.abs(x))
    one = x.dtype.type(1)
    return np.where(x >= 0, one / (one + e), e / (one + e))


def _rsqrt(x: np.ndarray) -> np.ndarray:
    return x.dtype.type(1) / np.sqrt(x)


def _gelu(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    x = _w(xs[0])
    f = x.dtype.type
    if node.attr("approximate") == "tanh":
        beta = f(np.sqrt(2.0) * (2.0 / np.sqrt(np.pi)) * 0.5)
        inner = beta * (x + f(0.044715) * x * x * x)
        return f(0.5) * x * (f(1) + np.tanh(inner))
    return x * f(0.5) * (f(1) + erf(x * f(np.sqrt(0.5))))


def _cast(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    return xs[0].astype(node.type.dtype.numpy)


# ---------------------------------------------------------------------------------------------------- reductions


def _axes(node: Node, rank: int) -> tuple[int, ...]:
    return tuple(a % rank if rank else 0 for a in node.attr("axes"))


def _reduce(kind: str) -> Kernel:
    def run(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
        x = _w(xs[0])
        axes, keep = _axes(node, x.ndim), node.attr("keepdims")
        if kind in ("max", "min"):
            if x.size == 0 or any(x.shape[a] == 0 for a in axes):
                raise _fail(node, f"reduce_{kind} over an empty axis")
            return (np.max if kind == "max" else np.min)(x, axis=axes, keepdims=keep)
        if x.dtype == np.bool_:
            x = x.astype(np.int64)
        s = np.sum(x, axis=axes, keepdims=keep, dtype=x.dtype)
        if kind == "sum":
            return s
        n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
        if x.dtype.kind in "iu":
            if n == 0:
                raise _fail(node, "integer reduce_mean over an empty axis")
            return _int_div(node, s, np.int64(n))
        return np.mean(x, axis=axes, keepdims=keep, dtype=x.dtype)

    return run


def _cumsum(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    x = _w(xs[0])
    if x.dtype == np.bool_:
        x = x.astype(np.int64)
    return np.cumsum(x, axis=node.attr("axis") % max(x.ndim, 1), dtype=x.dtype)


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """``exp(x - max) / sum(exp(x - max))`` along an axis; all -inf rows give NaN."""
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    return softmax(_w(xs[0]), node.attr("axis"))


def _layer_norm(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    x, *params = _ws(xs)
    axes = tuple(range(node.attr("axis") % x.ndim, x.ndim))
    f = x.dtype.type
    mean = np.mean(x, axis=axes, keepdims=True, dtype=x.dtype)
    d = x - mean
    var = np.mean(d * d, axis=axes, keepdims=True, dtype=x.dtype)
    y = d / np.sqrt(var + f(node.attr("eps")))
    if params:
        y = y * params[0]
    if len(params) > 1:
        y = y + params[1]
    return y


def _rms_norm(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    x = _w(xs[0])
    axes = tuple(range(node.attr("axis") % x.ndim, x.ndim))
    f = x.dtype.type
    ms = np.mean(x * x, axis=axes, keepdims=True, dtype=x.dtype)
    y = x * _rsqrt(ms + f(node.attr("eps")))
    if len(xs) == 1:
        return y
    y = y.astype(node.type.dtype.numpy)  # HF Llama: weight * hidden.to(input_dtype)
    return _w(xs[1]) * _w(y)


def rotate_half(x: np.ndarray, interleaved: bool) -> np.ndarray:
    """``concat(-x2, x1)`` of the halves of the last axis, or ``(-x_odd, x_even)`` pairs when interleaved."""
    if interleaved:
        out = np.empty_like(x)
        out[..., 0::2] = -x[..., 1::2]
        out[..., 1::2] = x[..., 0::2]
        return out
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def _rotary(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    x, cos, sin = _ws(xs)
    return x * cos + rotate_half(x, node.attr("interleaved")) * sin


# ---------------------------------------------------------------------------------------------------- linear algebra


def _linear(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    x, w, *b = _ws(xs)
    k, n = w.shape
    y = (x.reshape(-1, k) @ w).reshape(*x.shape[:-1], n)
    return y + b[0] if b else y


def _matmul(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    a, b = _ws(xs)
    return np.matmul(a, b)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None, scale: float,
              causal: bool) -> np.ndarray:
    """``softmax(q @ k^T * scale + mask) @ v``; fully masked query rows give zeros (torch SDPA's safe softmax)."""
    f = q.dtype.type
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * f(scale)
    if mask is not None:
        s = np.where(mask, s, f(-np.inf)) if mask.dtype == np.bool_ else s + mask
    if causal:
        sq, sk = s.shape[-2], s.shape[-1]
        keep = np.arange(sk)[None, :] <= np.arange(sq)[:, None]
        s = np.where(keep, s, f(-np.inf))
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isneginf(m), f(0), m)
    e = np.exp(s - m)
    total = np.sum(e, axis=-1, keepdims=True)
    p = np.where(total > 0, e / np.where(total > 0, total, f(1)), f(0))
    return np.matmul(p, v)


def _attention(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    q, k, v = _ws(xs[:3])
    mask = None if len(xs) < 4 else _w(xs[3])
    return attention(q, k, v, mask, node.attr("scale"), node.attr("causal"))


# ---------------------------------------------------------------------------------------------------- data movement


def _gather(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    data, idx = xs[0], xs[1].astype(np.int64, copy=False)
    axis = node.attr("axis") % data.ndim
    n = data.shape[axis]
    bad = (idx < -n) | (idx >= n)
    if np.any(bad):
        raise _fail(node, f"index {int(idx[bad].flat[0])} out of range [-{n}, {n}) on axis {axis}")
    return np.take(data, np.where(idx < 0, idx + n, idx), axis=axis)


def _reshape(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    return xs[0].reshape(env.shape(node.attr("shape")))


def _transpose(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    return np.transpose(xs[0], node.attr("perm"))


def _slice(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    x = xs[0]
    index: list[slice] = [slice(None)] * x.ndim
    for ax, s, e, st in zip(node.attr("axes"), node.attr("starts"), node.attr("ends"), node.attr("steps"),
                            strict=True):
        axn = ax % x.ndim
        start, end = env.dim(s), env.dim(e)
        if not 0 <= start <= end <= x.shape[axn]:
            raise _fail(node, f"range {start}:{end} outside 0:{x.shape[axn]} on axis {ax}")
        index[axn] = slice(start, end, st)
    return x[tuple(index)]


def _concat(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    return np.concatenate(xs, axis=node.attr("axis") % xs[0].ndim)


def _expand(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    return np.broadcast_to(xs[0], env.shape(node.attr("shape")))


def _arange(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    dt = node.type.dtype
    return np.arange(node.attr("start"), env.dim(node.attr("stop")), node.attr("step"), dtype=work_dtype(dt))


def _full(node: Node, xs: list[np.ndarray], env: Env) -> np.ndarray:
    dt = node.type.dtype
    value = node.attr("value")
    if dt.is_int and not np.isfinite(value):
        raise _fail(node, f"value {value} does not fit element type {dt.value}")
    if dt.is_int:
        value = int(value)
    return np.full(env.shape(node.attr("shape")), value, dtype=work_dtype(dt))


KERNELS: dict[str, Kernel] = {
    "linear": _linear,
    "matmul": _matmul,
    "attention": _attention,
    "add": _arith(np.add),
    "sub": _arith(np.subtract),
    "mul": _arith(np.multiply),
    "div": _div,
    "pow": _pow,
    "maximum": _arith(np.maximum),
    "minimum": _arith(np.minimum),
    "equal": _compare(np.equal),
    "less": _compare(np.less),
    "less_equal": _compare(np.less_equal),
    "greater": _compare(np.greater),
    "greater_equal": _compare(np.greater_equal),
    "logical_and": _logical(np.logical_and),
    "logical_or": _logical(np.logical_or),
    "logical_not": _logical(np.logical_not),
    "where": _where,
    "neg": _neg,
    "abs": _abs,
    "exp": _unary(np.exp),
    "log": _unary(np.log),
    "sqrt": _unary(np.sqrt),
    "rsqrt": _unary(_rsqrt),
    "reciprocal": _unary(lambda x: x.dtype.type(1) / x),
    "tanh": _unary(np.tanh),
    "erf": _unary(erf),
    "sigmoid": _unary(sigmoid),
    "relu": _unary(lambda x: np.maximum(x, x.dtype.type(0))),
    "silu": _unary(lambda x: x * sigmoid(x)),
    "gelu": _gelu,
    "cast": _cast,
    "reduce_sum": _reduce("sum"),
    "reduce_mean": _reduce("mean"),
    "reduce_max": _reduce("max"),
    "reduce_min": _reduce("min"),
    "cumsum": _cumsum,
    "softmax": _softmax,
    "layer_norm": _layer_norm,
    "rms_norm": _rms_norm,
    "rotary": _rotary,
    "gather": _gather,
    "reshape": _reshape,
    "transpose": _transpose,
    "slice": _slice,
    "concat": _concat,
    "expand": _expand,
    "arange": _arange,
    "full": _full,
}
"""The kernel of every IR op."""


def eval_node(node: Node, args: Sequence[np.ndarray], bindings: Mapping[str, int] | Env | None = None) -> np.ndarray:
    """The value of one node on concrete inputs, in the node's element type and checked against its shape."""
    env = bindings if isinstance(bindings, Env) else Env(bindings or {})
    kernel = KERNELS.get(node.op)
    if kernel is None:
        raise IRError(f"node {node.name}: the interpreter has no kernel for op {node.op!r}")
    with np.errstate(all="ignore"):
        try:
            out = kernel(node, list(args), env)
        except IRError:
            raise
        except (ValueError, TypeError, IndexError, OverflowError) as e:
            raise _fail(node, f"evaluation failed: {e}") from None
        out = np.asarray(out)
        want = node.type.dtype.numpy
        if out.dtype != want:
            out = out.astype(want)
    shape = env.shape(node.type.shape)
    if out.shape != shape:
        raise _fail(node, f"produced shape {list(out.shape)} but its type {node.type} gives {list(shape)}")
    return out


# ---------------------------------------------------------------------------------------------------- binding


def bind_inputs(g: Graph, inputs: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The graph inputs as arrays and the value of every symbolic size, checked against the input types."""
    known = {v.name for v in g.inputs}
    extra = sorted(set(inputs) - known)
    if extra:
        raise BindingError(f"graph {g.name}: unknown input(s) {', '.join(extra)}; inputs are {', '.join(known)}")
    arrays: dict[str, np.ndarray] = {}
    for v in g.inputs:
        if v.name not in inputs:
            raise BindingError(f"graph {g.name}: missing input {v.name!r} ({v.type})")
        raw = inputs[v.name]
        if hasattr(raw, "detach"):  # a torch tensor: its own dtype, checked below
            raw = _from_torch(raw)
        arr = raw if isinstance(raw, np.ndarray) else np.asarray(raw, dtype=v.type.dtype.numpy)
        if arr.dtype != v.type.dtype.numpy:
            raise BindingError(f"input {v.name}: element type {arr.dtype} but the graph wants {v.type.dtype.value}")
        if arr.ndim != v.type.rank:
            raise BindingError(f"input {v.name}: rank {arr.ndim} (shape {list(arr.shape)}) but the graph wants "
                               f"{v.type}")
        arrays[v.name] = arr
    return arrays, _solve_dims(g, arrays)


def _from_torch(t: Any) -> np.ndarray:
    t = t.detach().cpu()
    if str(t.dtype) == "torch.bfloat16":  # numpy has no bfloat16: reinterpret the bits
        return t.view(_torch().int16).numpy().view(DType.BF16.numpy)
    return t.numpy()


def _solve_dims(g: Graph, arrays: Mapping[str, np.ndarray]) -> dict[str, int]:
    bindings: dict[str, int] = {}
    origin: dict[str, str] = {}
    pending: list[tuple[str, int, Dim, int]] = []
    for v in g.inputs:
        for axis, (d, actual) in enumerate(zip(v.type.shape, arrays[v.name].shape, strict=True)):
            if isinstance(d, int):
                if d != actual:
                    raise BindingError(f"input {v.name}: axis {axis} has size {actual}, the graph wants {d} "
                                       f"({v.type})")
            elif d.isidentifier():
                if d in bindings and bindings[d] != actual:
                    raise BindingError(f"input {v.name}: axis {axis} binds {d}={actual}, but {origin[d]} "
                                       f"bound {d}={bindings[d]}")
                bindings.setdefault(d, actual)
                origin.setdefault(d, f"input {v.name} axis {axis}")
            else:
                pending.append((v.name, axis, d, actual))
    while pending:
        progress, rest = False, []
        for name, axis, d, actual in pending:
            expr = dim_expr(d)
            unknown = [s for s in expr.free_symbols if str(s) not in bindings]
            if not unknown:
                got = eval_dim(d, bindings)
                if got != actual:
                    known = ", ".join(f"{k}={bindings[k]}" for k in sorted(map(str, expr.free_symbols)))
                    raise BindingError(f"input {name}: axis {axis} has size {actual}, but {d} = {got} with {known}")
                progress = True
            elif len(unknown) == 1:
                sols = [s for s in sympy.solve(expr.subs({sympy.Symbol(k, integer=True, positive=True): val
                                                          for k, val in bindings.items()}) - actual, unknown[0])
                        if s.is_Integer and int(s) > 0]
                if len(sols) != 1:
                    raise BindingError(f"input {name}: axis {axis} has size {actual}, which no positive integer "
                                       f"{unknown[0]} makes equal to {d}")
                bindings[str(unknown[0])] = int(sols[0])
                origin[str(unknown[0])] = f"input {name} axis {axis}"
                progress = True
            else:
                rest.append((name, axis, d, actual))
        if not progress:
            name, axis, d, _ = rest[0]
            raise BindingError(f"input {name}: cannot determine the sizes in {d} (axis {axis}) from the inputs")
        pending = rest
    return bindings


# ---------------------------------------------------------------------------------------------------- running


def run_graph(g: Graph, inputs: Mapping[str, Any], *, outputs: Sequence[str] | None = None,
              observer: Observer | None = None) -> dict[str, np.ndarray]:
    """Execute a graph on numpy inputs; returns the requested values (default: the graph outputs) by name.

    Inputs are numpy arrays (or torch tensors) of exactly the input's element type; lists and scalars are
    converted to it. Symbolic sizes are bound from the input shapes; every node's result is checked against its type;
    ``observer(node, value)`` is called after each node; intermediate values are freed after their last use.
    """
    wanted = tuple(g.outputs if outputs is None else outputs)
    for name in wanted:
        g.type_of(name)
    values, bindings = bind_inputs(g, inputs)
    env = Env(bindings)
    consts = g.constant_map
    keep = set(wanted)
    last_use: dict[str, int] = {}
    for i, n in enumerate(g.nodes):
        for name in n.inputs:
            last_use[name] = i
    results: dict[str, np.ndarray] = {name: values[name] for name in wanted if name in values}
    for i, n in enumerate(g.nodes):
        args = [values[name] if name in values else consts[name] for name in n.inputs]
        out = eval_node(n, args, env)
        if observer is not None:
            observer(n, out)
        del args
        if n.name in keep:
            results[n.name] = out
        if last_use.get(n.name, -1) > i:
            values[n.name] = out
        del out
        for name in n.inputs:
            if last_use[name] == i:
                values.pop(name, None)
    for name in wanted:
        if name in consts:
            results[name] = consts[name]
    return {name: _owned(results[name]) for name in wanted}


def _owned(x: np.ndarray) -> np.ndarray:
    return x if x.flags.writeable and x.flags.owndata and x.flags.c_contiguous else np.array(x, order="C")


__all__ = ["KERNELS", "Env", "attention", "bind_inputs", "erf", "eval_node", "rotate_half", "run_graph", "sigmoid",
           "softmax", "work_dtype"]
