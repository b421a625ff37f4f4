"""PyTorch frontend: ``nn.Module`` (or an ``ExportedProgram``) into the graph IR, via torch.export or torch.fx.

``import_torch`` exports the module with ``torch.export.export(strict=False)`` in eval mode and maps the high-level
aten graph onto IR ops (``torch_aten``); ``import_fx`` does the same for modules ``torch.fx.symbolic_trace`` handles.
Every node that cannot be mapped is reported at once in an ``UnsupportedOpsError``.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.export import ExportedProgram

from tataa.errors import FrontendError
from tataa.frontend.result import ImportResult
from tataa.frontend.torch_export import convert_exported
from tataa.frontend.torch_fx import convert_fx
from tataa.ir.graph import Graph

Dynamic = Mapping[str, Mapping[int, str]]


def import_torch(module: nn.Module | ExportedProgram, example_inputs: tuple | Mapping[str, Any] = (), *,
                 dynamic: Dynamic | None = None, dims: Mapping[str, int] | None = None, optimize: bool = True,
                 max_sizes: Mapping[str, int] | None = None,
                 output_names: Sequence[str] | None = None) -> ImportResult:
    """Import a module through ``torch.export``.

    ``example_inputs`` is a tuple of positional arguments or a dict of keyword arguments. ``dynamic`` names the
    symbolic axes per input (``{"input_ids": {1: "seq"}}``); the same name on several inputs is one symbol.
    ``max_sizes`` bounds symbols (for torch.export, and the size of tables folded from input-independent ops such
    as rotary ``cos``/``sin``); a symbol without one is bounded by a ``config.max_position_embeddings`` (or
    ``n_positions``) found on the module, if any.
    ``dims`` specialises symbols to values in the optimizer. Outputs are the flattened tensor results, named by
    their keys (``logits``) or ``output``/``output_<i>`` unless ``output_names`` is given.
    """
    t0 = time.perf_counter()
    dynamic = {k: dict(v) for k, v in (dynamic or {}).items()}
    bounds = dict(max_sizes or {})
    if isinstance(module, ExportedProgram):
        ep, source = module, "ExportedProgram"
    elif isinstance(module, nn.Module):
        source = type(module).__name__
        config_bound = _config_bound(module)
        if config_bound is not None:
            for axes in dynamic.values():
                for name in axes.values():
                    bounds.setdefault(name, config_bound)
        ep = _export(module, example_inputs, dynamic, bounds, source)
    else:
        raise FrontendError(f"import_torch takes an nn.Module or ExportedProgram, got {type(module).__name__}")
    graph, sess = convert_exported(ep, name=_graph_name(source), source=source, dynamic=dynamic, max_sizes=bounds,
                                   out_names=output_names)
    graph, report = _optimize(graph, dims, optimize)
    return ImportResult(graph, source, sess.source_ops, sess.folded, report, time.perf_counter() - t0)


def import_fx(module: nn.Module, example_inputs: tuple | Mapping[str, Any] = (), *, optimize: bool = True,
              output_names: Sequence[str] | None = None) -> ImportResult:
    """Import a module ``torch.fx.symbolic_trace`` can trace (static shapes from the example inputs).

    Maps ``nn`` modules (Linear, LayerNorm, GELU, ReLU, SiLU, Dropout, Embedding, Softmax, Identity, ...), torch
    functions and Tensor methods through the same aten table as :func:`import_torch`. A module tracing rejects
    raises FrontendError suggesting :func:`import_torch`.
    """
    t0 = time.perf_counter()
    if not isinstance(module, nn.Module):
        raise FrontendError(f"import_fx takes an nn.Module, got {type(module).__name__}")
    source = type(module).__name__
    was_training = module.training
    module.eval()
    try:
        graph, sess = convert_fx(module, example_inputs, name=_graph_name(source), source=source,
                                 out_names=output_names)
    finally:
        module.train(was_training)
    graph, report = _optimize(graph, None, optimize)
    return ImportResult(graph, source, sess.source_ops, sess.folded, report, time.perf_counter() - t0)


def export_module(module: nn.Module, example_inputs: tuple | Mapping[str, Any] = (), *,
                  dynamic: Dynamic | None = None, max_sizes: Mapping[str, int] | None = None) -> ExportedProgram:
    """The ``torch.export`` program ``import_torch`` would convert (eval mode, no grad, non-strict)."""
    return _export(module, example_inputs, {k: dict(v) for k, v in (dynamic or {}).items()}, max_sizes or {},
                   type(module).__name__)


# ---------------------------------------------------------------------------------------------------- helpers


def _split_inputs(example_inputs: tuple | Mapping[str, Any]) -> tuple[tuple, dict[str, Any]]:
    if isinstance(example_inputs, Mapping):
        return (), dict(example_inputs)
    if isinstance(example_inputs, list | tuple):
        return tuple(example_inputs), {}
    return (example_inputs,), {}


def _dynamic_shapes(module: nn.Module, args: tuple, kwargs: dict[str, Any], dynamic: dict[str, dict[int, str]],
                    max_sizes: Mapping[str, int], source: str) -> dict[str, Any] | None:
    if not dynamic:
        return None
    params = [p for p in inspect.signature(module.forward).parameters.values()
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    names = [p.name for p in params[: len(args)]] + list(kwargs)
    if len(names) < len(args):
        raise FrontendError(f"{source}: cannot name the positional inputs of forward(*args); pass example_inputs "
                            "as a dict to use dynamic")
    unknown = sorted(set(dynamic) - set(names))
    if unknown:
        raise FrontendError(f"{source}: dynamic names unknown input(s) {', '.join(unknown)}; inputs are "
                            f"{', '.join(names)}")
    values = dict(zip(names, [*args, *kwargs.values()], strict=True))
    dims: dict[str, torch.export.Dim] = {}
    out: dict[str, Any] = {}
    for name in names:
        axes = dynamic.get(name)
        if not axes:
            out[name] = None
            continue
        v = values[name]
        if not isinstance(v, torch.Tensor):
            raise FrontendError(f"{source}: dynamic input {name} is not a tensor")
        spec = {}
        for axis, sym in axes.items():
            if not isinstance(axis, int) or not -v.dim() <= axis < v.dim():
                raise FrontendError(f"{source}: dynamic axis {axis!r} of input {name} is out of range for rank "
                                    f"{v.dim()}")
            if not isinstance(sym, str) or not sym.isidentifier():
                raise FrontendError(f"{source}: dynamic dim name {sym!r} of input {name} must be an identifier")
            if sym not in dims:
                dims[sym] = torch.export.Dim(sym, max=max_sizes[sym]) if sym in max_sizes else torch.export.Dim(sym)
            spec[axis % v.dim()] = dims[sym]
        out[name] = spec
    return out


def _export(module: nn.Module, example_inputs: tuple | Mapping[str, Any], dynamic: dict[str, dict[int, str]],
            max_sizes: Mapping[str, int], source: str) -> ExportedProgram:
    args, kwargs = _split_inputs(example_inputs)
    shapes = _dynamic_shapes(module, args, kwargs, dynamic, max_sizes, source)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return torch.export.export(module, args, kwargs, dynamic_shapes=shapes, strict=False)
    except FrontendError:
        raise
    except Exception as e:  # torch.export raises many types; they all mean "this module cannot be exported"
        lines = str(e).strip().splitlines()
        brief = "\n".join(lines[:12]) + ("\n..." if len(lines) > 12 else "")
        raise FrontendError(f"torch.export failed for {source}: {type(e).__name__}: {brief}") from None
    finally:
        module.train(was_training)


def _config_bound(module: nn.Module) -> int | None:
    for m in module.modules():
        cfg = getattr(m, "config", None)
        for key in ("max_position_embeddings", "n_positions"):
            v = getattr(cfg, key, None)
            if isinstance(v, int) and v > 0:
                return v
    return None


def _graph_name(source: str) -> str:
    return source if source.isidentifier() else "model"


def _optimize(graph: Graph, dims: Mapping[str, int] | None, optimize: bool) -> tuple[Graph, Any]:
    """Run the IR optimizer when asked (``dims`` specialise symbols either way)."""
    from tataa.ir import passes

    if optimize:
        return passes.optimize(graph, dims)
    if dims:
        return passes.specialize(graph, dims), None
    return graph, None


__all__ = ["export_module", "import_fx", "import_torch"]
