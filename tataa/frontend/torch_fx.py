"""The FX path: ``torch.fx.symbolic_trace`` graphs (modules, functions, methods) bound to the aten mapping table."""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from tataa.errors import FrontendError
from tataa.frontend.torch_aten import ATEN, Args, bind, python_op
from tataa.frontend.torch_export import target_name
from tataa.frontend.torch_lower import Lowerer
from tataa.frontend.torch_session import Session, output_names
from tataa.frontend.torch_values import LazyList, Param, TVal, Unsupported, ir_dtype, torch_dtype
from tataa.ir.graph import Graph
from tataa.ir.types import DType, TensorType

_PY_ONLY_KWARGS = ("inplace", "_stacklevel")
_VARARG_METHODS = {"view", "reshape", "permute", "expand", "repeat", "tile", "new_ones", "new_zeros", "new_empty"}
_VARARG_FACTORIES = {"ones", "zeros", "empty", "randn", "rand"}
_CASTS = {"float": torch.float32, "double": torch.float64, "half": torch.float16, "bfloat16": torch.bfloat16,
          "int": torch.int32, "long": torch.int64, "bool": torch.bool, "byte": torch.uint8, "char": torch.int8}
_TENSOR_OPS = {operator.add: "add", operator.sub: "sub", operator.mul: "mul", operator.truediv: "div",
               operator.pow: "pow", operator.matmul: "matmul", operator.neg: "neg", operator.eq: "eq",
               operator.ne: "ne", operator.lt: "lt", operator.le: "le", operator.gt: "gt", operator.ge: "ge",
               operator.and_: "__and__", operator.or_: "__or__", operator.xor: "__xor__",
               operator.invert: "__invert__", operator.pos: "positive"}


def _is_tensor(v: object) -> bool:
    return isinstance(v, TVal | Param)


def call_aten(lo: Lowerer, name: str, args: Sequence[Any], kwargs: Mapping[str, Any], out: DType | None) -> Any:
    """Bind Python-level arguments to an aten operator's schema (trying each overload) and lower it."""
    handler = ATEN.get(name)
    packet = getattr(torch.ops.aten, name, None)
    if handler is None or packet is None:
        raise Unsupported(f"no IR mapping for {name}")
    kw = {k: v for k, v in kwargs.items() if k not in _PY_ONLY_KWARGS}
    for overload in packet.overloads():
        schema = getattr(packet, overload)._schema
        names = {a.name for a in schema.arguments}
        k2 = {("self" if k == "input" and "input" not in names else k): v for k, v in kw.items()}
        bound = bind(schema, list(args), k2, check=True)
        if bound is not None:
            return handler(lo, bound, out)
    raise Unsupported(f"arguments ({', '.join(type(a).__name__ for a in args)}) fit no overload of aten.{name}")


# ---------------------------------------------------------------------------------------------------- modules


def _module_call(lo: Lowerer, m: nn.Module, params: Callable[[str], Param | None], args: Sequence[Any],
                 kwargs: Mapping[str, Any], out: DType | None) -> Any:
    x = args[0] if args else kwargs.get("input")
    p = params

    def aten(name: str, a: Args) -> Any:
        return ATEN[name](lo, a, out)

    if isinstance(m, nn.Linear):
        return aten("linear", {"input": x, "weight": p("weight"), "bias": p("bias")})
    if isinstance(m, nn.LayerNorm):
        return aten("layer_norm", {"input": x, "normalized_shape": list(m.normalized_shape), "weight": p("weight"),
                                   "bias": p("bias"), "eps": m.eps})
    if isinstance(m, nn.RMSNorm):
        return aten("rms_norm", {"input": x, "normalized_shape": list(m.normalized_shape), "weight": p("weight"),
                                 "eps": m.eps})
    if isinstance(m, nn.GELU):
        return aten("gelu", {"self": x, "approximate": m.approximate})
    for cls, name in ((nn.ReLU, "relu"), (nn.SiLU, "silu"), (nn.Tanh, "tanh"), (nn.Sigmoid, "sigmoid")):
        if isinstance(m, cls):
            return aten(name, {"self": x})
    if isinstance(m, nn.Dropout | nn.Dropout1d | nn.Dropout2d | nn.AlphaDropout | nn.Identity):
        return lo.tensor(x)
    if isinstance(m, nn.Embedding):
        return aten("embedding", {"weight": p("weight"), "indices": x})
    if isinstance(m, nn.Softmax | nn.LogSoftmax):
        if m.dim is None:
            raise Unsupported(f"{type(m).__name__} without dim")
        return aten("softmax" if isinstance(m, nn.Softmax) else "log_softmax", {"self": x, "dim": m.dim, "dtype": None})
    if isinstance(m, nn.Flatten):
        return aten("flatten", {"self": x, "start_dim": m.start_dim, "end_dim": m.end_dim})
    if isinstance(m, nn.Conv2d):
        pad = m.padding
        if pad == "valid":
            pad = (0, 0)
        if isinstance(pad, str):
            raise Unsupported(f"Conv2d padding={pad!r}")
        return aten("conv2d", {"input": x, "weight": p("weight"), "bias": p("bias"), "stride": list(m.stride),
                               "padding": list(pad), "dilation": list(m.dilation), "groups": m.groups})
    raise Unsupported(f"no IR mapping for module type {type(m).__name__}")


# ---------------------------------------------------------------------------------------------------- indexing


def tensor_getitem(lo: Lowerer, x: TVal, index: Any) -> TVal:
    """``x[index]`` for ints, slices, None, Ellipsis and integer index tensors (numpy/torch semantics)."""
    items = list(index) if isinstance(index, tuple) else [index]
    items = [lo.constant(np.asarray(i, dtype=np.int64)) if isinstance(i, list) else i for i in items]
    advanced = any(_is_tensor(i) for i in items)
    if advanced:  # ints then act as 0-d index tensors, so torch's placement rules apply to all of them
        items = [lo.scalar(i, DType.I64) if isinstance(i, int) and not isinstance(i, bool) else i for i in items]
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    if consumed > x.rank:
        raise Unsupported(f"{consumed} indices for a tensor of rank {x.rank}")
    if items.count(Ellipsis) > 1:
        raise Unsupported("more than one Ellipsis in an index")
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at : at + 1] = [slice(None)] * (x.rank - consumed)
    cur, ax = x, 0
    tensors: dict[int, object] = {}
    for it in items:
        if it is None:
            if advanced:
                raise Unsupported("None combined with tensor indices")
            cur = lo.unsqueeze(cur, ax)
            ax += 1
        elif isinstance(it, bool):
            raise Unsupported("a bool index")
        elif isinstance(it, int):
            cur = lo.select(cur, ax, it)
        elif isinstance(it, slice):
            step = 1 if it.step is None else it.step
            cur = lo.slice(cur, ax, it.start, it.stop, step)
            ax += 1
        elif _is_tensor(it):
            tensors[ax] = it
            ax += 1
        else:
            raise Unsupported(f"index item {it!r} ({type(it).__name__})")
    if tensors:
        cur = lo.index(cur, [tensors.get(a) for a in range(cur.rank)])
    return cur


# ---------------------------------------------------------------------------------------------------- functions


def _call_function(lo: Lowerer, fn: Any, args: list[Any], kwargs: dict[str, Any], out: DType | None) -> Any:
    if fn is operator.getitem:
        seq, index = args
        if _is_tensor(seq):
            return tensor_getitem(lo, lo.tensor(seq), index)
        if isinstance(seq, list | tuple | LazyList | torch.Size):
            return seq[index]
        raise Unsupported(f"getitem on {type(seq).__name__}")
    if fn is builtins.getattr:
        obj, attr = args[0], args[1]
        if isinstance(obj, LazyList) and attr in ("values", "indices"):  # max/min/sort-style named results
            return obj[0 if attr == "values" else 1]
        if _is_tensor(obj):
            t = lo.tensor(obj)
            values = {"shape": tuple(t.shape), "ndim": t.rank, "dtype": torch_dtype(t.dtype),
                      "device": torch.device("cpu"), "is_cuda": False}
            if attr in values:
                return values[attr]
            if attr in ("T", "mT"):
                return ATEN["t" if attr == "T" else "transpose"](lo, {"self": t, "dim0": -2, "dim1": -1}, out)
        raise Unsupported(f"attribute {attr!r} of {type(obj).__name__}")
    if fn in _TENSOR_OPS and any(_is_tensor(a) for a in args):
        name = _TENSOR_OPS[fn]
        if name == "matmul":
            return lo.matmul(args[0], args[1])
        if len(args) == 1:
            return ATEN[name](lo, {"self": args[0]}, out)
        a, b = args
        if name == "pow":
            return lo.binary("pow", a, b, out)
        if name in ("add", "sub", "mul", "div"):
            return lo.binary(name, a, b, out)
        return ATEN[name](lo, {"self": a, "other": b}, out)
    if getattr(fn, "__module__", None) in ("_operator", "operator"):
        return python_op(fn, args)
    name = getattr(fn, "__name__", "")
    if fn is F.dropout or fn is F.dropout1d or fn is F.dropout2d:
        p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
        training = kwargs.get("training", args[2] if len(args) > 2 else True)
        if training and p:
            raise Unsupported(f"dropout with training=True (p={p}) is random; pass training=self.training")
        return lo.tensor(args[0] if args else kwargs["input"])
    if fn is F.embedding:
        x = args[0] if args else kwargs["input"]
        w = args[1] if len(args) > 1 else kwargs["weight"]
        return ATEN["embedding"](lo, {"weight": w, "indices": x}, out)
    if name in _VARARG_FACTORIES and args and not isinstance(args[0], list | tuple):
        args = [list(args)]
    return call_aten(lo, name, args, kwargs, out)


def _call_method(lo: Lowerer, method: str, args: list[Any], kwargs: dict[str, Any], out: DType | None) -> Any:
    self = args[0]
    if method.startswith("__") and method.endswith("__"):  # dunder methods are the Python operators
        alias = {"div": "truediv", "and": "and_", "or": "or_"}
        core = method[2:-2]
        swap = core.startswith("r") and core not in ("rshift",) and hasattr(operator, alias.get(core[1:], core[1:]))
        fn = getattr(operator, alias.get(core[1:] if swap else core, core[1:] if swap else core), None)
        if fn is None:
            raise Unsupported(f"method {method}")
        return _call_function(lo, fn, [args[1], self] if swap else args, kwargs, out)
    if method.endswith("_") and not method.startswith("_"):
        raise Unsupported(f"in-place method {method}")
    if not _is_tensor(self):
        raise Unsupported(f"method {method} on {type(self).__name__}")
    x = lo.tensor(self)
    if method == "size":
        d = args[1] if len(args) > 1 else kwargs.get("dim")
        return tuple(x.shape) if d is None else x.shape[d]
    if method in ("dim", "ndimension"):
        return x.rank
    if method == "numel":
        return x.type.numel
    if method in _CASTS:
        return lo.cast(x, ir_dtype(_CASTS[method]))
    if method == "to":
        dts = [v for v in (*args[1:], *kwargs.values()) if isinstance(v, torch.dtype)]
        dts += [lo.tensor(v).dtype for v in args[1:] if _is_tensor(v)]
        if not dts:
            return x
        dt = dts[0]
        return lo.cast(x, dt if isinstance(dt, DType) else ir_dtype(dt))
    if method == "type" and len(args) > 1 and isinstance(args[1], torch.dtype):
        return lo.cast(x, ir_dtype(args[1]))
    if method in _VARARG_METHODS and len(args) > 1 and not isinstance(args[1], list | tuple | torch.Size):
        args = [args[0], list(args[1:])]
    if method in ("view", "reshape") and len(args) > 1 and isinstance(args[1], torch.dtype):
        raise Unsupported("view as another dtype")
    return call_aten(lo, method, args, kwargs, out)


# ---------------------------------------------------------------------------------------------------- the path


def _expected(node: torch.fx.Node) -> TensorType | None:
    meta = node.meta.get("tensor_meta")
    if not isinstance(meta, TensorMetadata):
        return None
    try:
        return TensorType(ir_dtype(meta.dtype, node.name), tuple(int(d) for d in meta.shape))
    except Unsupported:
        return None


def _label(node: torch.fx.Node, gm: torch.fx.GraphModule) -> str:
    if node.op == "call_module":
        m = gm.get_submodule(node.target)  # type: ignore[arg-type]
        return f"{type(m).__module__.replace('torch.nn.modules.', 'nn.').split('.')[0]}.{type(m).__name__}" \
            if type(m).__module__.startswith("torch.nn") else type(m).__name__
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    return target_name(node.target)


def convert_fx(module: nn.Module, example_inputs: tuple | Mapping[str, Any], *, name: str, source: str,
               out_names: Sequence[str] | None = None) -> tuple[Graph, Session]:
    """The IR graph of a module that ``torch.fx.symbolic_trace`` can trace, with shapes from the example inputs."""
    try:
        gm = torch.fx.symbolic_trace(module)
    except Exception as e:  # tracing raises many types (TraceError, TypeError, AttributeError...)
        raise FrontendError(f"torch.fx.symbolic_trace cannot trace {type(module).__name__} "
                            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                            "use import_torch (torch.export) instead") from None
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    values = _bind_inputs(placeholders, example_inputs, source)
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(*values)
    except Exception as e:  # the module itself failed on the example inputs
        raise FrontendError(f"{source}: running the traced module on the example inputs failed: "
                            f"{type(e).__name__}: {e}") from None
    sess = Session(name, source)
    sess.set_graph(gm.graph)
    cache: dict[int, Param] = {}

    def param(fqn: str, t: torch.Tensor) -> Param:
        if id(t) not in cache:
            cache[id(t)] = Param(fqn, t)
        return cache[id(t)]

    result: Any = None
    for node, value in zip(placeholders, values, strict=True):
        if isinstance(value, torch.Tensor):
            t = TensorType(ir_dtype(value.dtype, node.name), tuple(int(d) for d in value.shape))
            sess.env[node] = TVal(sess.b.input(str(node.target).lstrip("*"), t), t)
        else:
            sess.env[node] = value
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            continue
        if node.op == "output":
            result = node.args[0]
            continue
        label = _label(node, gm)
        want = _expected(node)
        out = want.dtype if want is not None else None
        if node.op == "get_attr":
            fetched = _fetch(gm, str(node.target))
            sess.convert(node, label, True, lambda a=fetched, n=node: param(str(n.target), a)
                         if isinstance(a, torch.Tensor) else a)
        elif node.op == "call_module":
            m = gm.get_submodule(node.target)  # type: ignore[arg-type]

            def run(m: nn.Module = m, node: torch.fx.Node = node, out: DType | None = out) -> Any:
                args, kwargs = sess.args(node)

                def p(attr: str) -> Param | None:
                    t = getattr(m, attr, None)
                    return None if t is None else param(f"{node.target}.{attr}", t)

                return _module_call(sess.lo, m, p, args, kwargs, out)

            sess.convert(node, label, _module_mapped(m), run, want)
        elif node.op == "call_function":
            sess.convert(node, label, True, lambda n=node, o=out: _call_function(sess.lo, n.target, *_lk(sess, n), o),
                         want)
        elif node.op == "call_method":
            sess.convert(node, label, True, lambda n=node, o=out: _call_method(sess.lo, str(n.target), *_lk(sess, n),
                                                                                o), want)
    sess.raise_unsupported()
    flat, spec = torch.utils._pytree.tree_flatten(result)
    leaves = output_names(spec, len(flat), None)
    vals, names = [], []
    for leaf, fx_node in zip(leaves, flat, strict=True):
        v = sess.value(fx_node) if isinstance(fx_node, torch.fx.Node) else fx_node
        if _is_tensor(v):
            vals.append(v)
            names.append(leaf)
    if out_names is not None:
        names = output_names(None, len(vals), out_names)
    return sess.finish(vals, names), sess


def _lk(sess: Session, node: torch.fx.Node) -> tuple[list[Any], dict[str, Any]]:
    args, kwargs = sess.args(node)
    return list(args), dict(kwargs)


def _module_mapped(m: nn.Module) -> bool:
    return isinstance(m, nn.Linear | nn.LayerNorm | nn.RMSNorm | nn.GELU | nn.ReLU | nn.SiLU | nn.Tanh | nn.Sigmoid
                      | nn.Dropout | nn.Identity | nn.Embedding | nn.Softmax | nn.LogSoftmax | nn.Flatten | nn.Conv2d)


def _fetch(gm: torch.fx.GraphModule, target: str) -> Any:
    obj: Any = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _bind_inputs(placeholders: list[torch.fx.Node], example: tuple | Mapping[str, Any], source: str) -> list[Any]:
    if isinstance(example, Mapping):
        names = [str(p.target) for p in placeholders]
        unknown = sorted(set(example) - set(names))
        if unknown:
            raise FrontendError(f"{source}: example inputs {', '.join(unknown)} are not arguments of forward "
                                f"({', '.join(names)})")
        out = []
        for p in placeholders:
            if str(p.target) in example:
                out.append(example[str(p.target)])
            elif p.args:
                out.append(p.args[0])
            else:
                raise FrontendError(f"{source}: no example value for argument {p.target}")
        return out
    example = tuple(example) if isinstance(example, list | tuple) else (example,)
    if len(example) > len(placeholders):
        raise FrontendError(f"{source}: {len(example)} example inputs for {len(placeholders)} forward arguments")
    out = list(example)
    for p in placeholders[len(example) :]:
        if not p.args:
            raise FrontendError(f"{source}: no example value for argument {p.target}")
        out.append(p.args[0])
    return out


__all__ = ["call_aten", "convert_fx", "tensor_getitem"]
