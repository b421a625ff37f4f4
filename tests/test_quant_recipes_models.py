"""Recipe regression on a tiny Llama (random weights): the failure mode found on SmolLM2-135M in miniature.

SmolLM2's down-projection inputs carry a few channels hundreds of times larger than the rest ("massive
activations"); one per-tensor int8 scale then rounds every other channel to zero. Here the same is planted in a tiny
Llama without changing its float function (one up_proj column times 300, the matching down_proj row divided by
300), and the tests check what docs/quantization.md claims: the default recipe keeps the healthy model accurate, the
outlier breaks exactly that linear, keeping it in bf16 repairs it, and the search script's glob resolution finds
the node by its weight's module path.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tataa import models
from tataa.frontend import import_torch
from tataa.ir.graph import Graph
from tataa.ir.interp import run_graph
from tataa.quant import TATAA_RECIPE, QuantRecipe, layer_trace, quantize, run_quantized

SEQ = 24
BOOST = 300.0


def _script() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "scripts" / "recipe_search.py"
    spec = importlib.util.spec_from_file_location("recipe_search", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["recipe_search"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def search() -> ModuleType:
    return _script()


def _graph(boost: float) -> Graph:
    import torch

    zoo = models.llama("tiny", seed=3)
    if boost != 1.0:
        mlp = zoo.module.model.model.layers[0].mlp
        with torch.no_grad():
            mlp.up_proj.weight[5, :] *= boost  # output channel 5 of up_proj = input channel 5 of down_proj
            mlp.down_proj.weight[:, 5] /= boost
    return import_torch(zoo.module, zoo.example_inputs(seq=SEQ), dynamic=zoo.dynamic, dims={"seq": SEQ}).graph


@pytest.fixture(scope="module")
def graphs() -> dict[str, Graph]:
    return {"plain": _graph(1.0), "outlier": _graph(BOOST)}


def _feeds(n: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"input_ids": rng.integers(0, 512, (1, SEQ), dtype=np.int64)} for _ in range(n)]


def _sqnr(q: np.ndarray, f: np.ndarray) -> float:
    err = np.sum((q.astype(np.float64) - f) ** 2)
    return math.inf if err == 0 else 10 * math.log10(float(np.sum(f.astype(np.float64) ** 2)) / err)


def _logit_sqnr(graph: Graph, recipe: QuantRecipe) -> float:
    qm = quantize(graph, _feeds(4, 0), recipe, progress=False)
    test = _feeds(2, 1)
    out = graph.outputs[0]
    return min(_sqnr(run_quantized(qm, f, outputs=[out])[out], run_graph(graph, f, outputs=[out])[out]) for f in test)


def _down0(graph: Graph, search: ModuleType) -> str:
    (name,) = search.keep_nodes(graph, ("*layers.0.mlp.down_proj*",))
    return name


def test_keep_globs_match_weight_names(graphs: dict[str, Graph], search: ModuleType) -> None:
    g = graphs["plain"]
    downs = search.keep_nodes(g, ("*down_proj*",))
    assert len(downs) == 2  # one per layer of the tiny Llama
    assert all(g.node_map[n].op == "linear" and "down_proj" in g.node_map[n].inputs[1] for n in downs)
    targets = {n.name for n in search.quant_targets(g)}
    rest = set(search.keep_nodes(g, ("!*down_proj*",)))
    assert rest == targets - set(downs)
    assert set(search.keep_nodes(g, ("*",))) == targets


def test_planted_outlier_does_not_change_the_float_model(graphs: dict[str, Graph]) -> None:
    f = _feeds(1, 1)[0]
    out = graphs["plain"].outputs[0]
    a = run_graph(graphs["plain"], f, outputs=[out])[out]
    b = run_graph(graphs["outlier"], f, outputs=[out])[out]
    assert _sqnr(b, a) > 60.0


def test_default_recipe_keeps_a_healthy_model_accurate(graphs: dict[str, Graph]) -> None:
    assert _logit_sqnr(graphs["plain"], TATAA_RECIPE) > 20.0


def test_outlier_breaks_its_linear_and_bf16_repairs_it(graphs: dict[str, Graph], search: ModuleType) -> None:
    g = graphs["outlier"]
    naive = dataclasses.replace(TATAA_RECIPE, outlier_ratio=None)  # every input channel in int8
    plain = _logit_sqnr(graphs["plain"], naive)
    broken = _logit_sqnr(g, naive)
    assert broken < plain - 6.0  # the planted outlier costs a per-tensor int8 recipe dearly
    down = _down0(g, search)
    qm = quantize(g, _feeds(4, 0), naive, progress=False)
    trace = {e.node: e for e in layer_trace(qm, _feeds(1, 1)[0])}
    x = g.node_map[down].inputs[0]
    assert trace[down].sqnr_db < trace[x].sqnr_db - 10.0  # the loss happens at that linear, not before it
    kept = dataclasses.replace(naive, keep_bf16=(down,))
    assert _logit_sqnr(g, kept) > broken + 6.0
    # the default recipe computes the outlier channel in bf16 beside the int8 GEMM: repaired without bf16 layers
    split = quantize(g, _feeds(4, 0), TATAA_RECIPE, progress=False)
    assert split.kept_bf16 == () and split.linears[down].outliers is not None
    assert _logit_sqnr(g, TATAA_RECIPE) > broken + 6.0
