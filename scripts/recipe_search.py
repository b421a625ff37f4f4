"""Compare quantization recipes on an eval task: metric (perplexity / accuracy) vs fp32, and where the error comes from.

Usage (OPENBLAS_NUM_THREADS=1 is much faster on a shared machine)::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python scripts/recipe_search.py smollm2-wikitext --limit 4 --calib 4 \
        --variants default,sq0.5,keep-down --outliers --trace default

A *variant* is a ``QuantRecipe`` plus ``keep`` globs matched against a linear's node name OR the name of its weight
constant (the imported node names are ``linear_17``; the weight names carry the module path, e.g.
``model.model.layers.2.mlp.down_proj.weight``), so ``*down_proj*`` keeps every down projection in bf16.
``--outliers`` prints, per quantized input, max|x| over the RMS and the peak channel's max over the median channel's
max on the first calibration feed (large ratios: per-tensor int8 wastes its levels). ``--trace V`` prints the per-layer
trace of variant V on the first scored window, summarised per op kind. Only reads models and data; writes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tataa.eval.peers import fp32_peer, import_graph
from tataa.eval.tasks import EvalSettings, TaskData, get_task
from tataa.ir.graph import Graph, Node
from tataa.ir.interp import run_graph
from tataa.quant import TATAA_RECIPE, CalibMethod, QuantRecipe, layer_trace, quantize, run_quantized
from tataa.quant.quantize import QUANT_OPS, calibrated_inputs


@dataclass(frozen=True)
class Variant:
    """A recipe to try: the QuantRecipe and globs (node or weight names) of linears kept in bf16."""

    name: str
    recipe: QuantRecipe
    keep: tuple[str, ...] = ()
    calibrate_probabilities: bool = False  # quantize(..., calibrate_probabilities=True): P's scale from data


def _r(**kw: object) -> QuantRecipe:
    return dataclasses.replace(QuantRecipe(), **kw)  # type: ignore[arg-type]


ALL_BF16 = ("*",)
VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("default", _r()),
    Variant("tataa", TATAA_RECIPE),
    Variant("tataa-minmax", dataclasses.replace(TATAA_RECIPE, activation_method=CalibMethod.MINMAX)),
    Variant("tataa-p99.99", dataclasses.replace(TATAA_RECIPE, activation_method=CalibMethod.PERCENTILE)),
    Variant("tataa-p99.999", dataclasses.replace(TATAA_RECIPE, activation_method=CalibMethod.PERCENTILE,
                                                 percentile=99.999)),
    Variant("tataa-no-vch", dataclasses.replace(TATAA_RECIPE, attention_v_per_channel=False)),
    Variant("tataa-no-deferred", dataclasses.replace(TATAA_RECIPE, deferred_softmax_norm=False)),
    Variant("tataa-vch", dataclasses.replace(TATAA_RECIPE, attention_v_per_channel=True)),
    Variant("tataa-sq0.5", dataclasses.replace(TATAA_RECIPE, smoothquant_alpha=0.5)),
    Variant("tataa-mse", dataclasses.replace(TATAA_RECIPE, activation_method=CalibMethod.MSE)),
    Variant("tataa-keep-head", TATAA_RECIPE, ("*classifier*", "*lm_head*")),
    Variant("tataa-no-outl", dataclasses.replace(TATAA_RECIPE, outlier_ratio=None)),
    Variant("minmax", _r(activation_method=CalibMethod.MINMAX)),
    Variant("p99.9", _r(percentile=99.9)),
    Variant("p99.999", _r(percentile=99.999)),
    Variant("mse", _r(activation_method=CalibMethod.MSE)),
    Variant("entropy", _r(activation_method=CalibMethod.ENTROPY)),
    Variant("sq0.5", _r(smoothquant_alpha=0.5)),
    Variant("sq0.65", _r(smoothquant_alpha=0.65)),
    Variant("sq0.8", _r(smoothquant_alpha=0.8)),
    Variant("all-bf16", _r(), ALL_BF16),
    Variant("keep-down", _r(), ("*down_proj*",)),
    Variant("keep-head", _r(), ("*lm_head*", "*embed_tokens*", "*wte*")),
    Variant("keep-down-head", _r(), ("*down_proj*", "*lm_head*", "*embed_tokens*", "*wte*")),
    Variant("keep-attn", _r(), ("attention*", "scaled_dot_product_attention*")),
    Variant("sq0.5-keep-down", _r(smoothquant_alpha=0.5), ("*down_proj*",)),
    Variant("sq0.8-keep-down", _r(smoothquant_alpha=0.8), ("*down_proj*",)),
    Variant("mse-keep-down", _r(activation_method=CalibMethod.MSE), ("*down_proj*",)),
    Variant("sq0.5-mse", _r(smoothquant_alpha=0.5, activation_method=CalibMethod.MSE)),
    Variant("sq0.5-mse-keep-down", _r(smoothquant_alpha=0.5, activation_method=CalibMethod.MSE), ("*down_proj*",)),
    Variant("gpt2-keep-fc2", _r(), ("*c_proj*",)),
    Variant("calib-p", _r(), (), True),
    Variant("outl16", _r(outlier_ratio=16.0)),
    Variant("outl8", _r(outlier_ratio=8.0)),
    Variant("outl16-mse", _r(outlier_ratio=16.0, activation_method=CalibMethod.MSE)),
    Variant("outl8-mse", _r(outlier_ratio=8.0, activation_method=CalibMethod.MSE)),
    Variant("outl8-mse-c16", _r(outlier_ratio=8.0, outlier_max_channels=16, activation_method=CalibMethod.MSE)),
    Variant("outl16-minmax", _r(outlier_ratio=16.0, activation_method=CalibMethod.MINMAX)),
    Variant("outl4-mse-c16", _r(outlier_ratio=4.0, outlier_max_channels=16, activation_method=CalibMethod.MSE)),
    Variant("outl8-mse-sq0.5", _r(outlier_ratio=8.0, activation_method=CalibMethod.MSE, smoothquant_alpha=0.5)),
    Variant("outl8-mse-keep-attn", _r(outlier_ratio=8.0, activation_method=CalibMethod.MSE),
            ("attention*", "scaled_dot_product_attention*")),
    Variant("outl8-mse-keep-head", _r(outlier_ratio=8.0, activation_method=CalibMethod.MSE),
            ("*lm_head*", "*embed_tokens*", "*wte*")),
    Variant("outl8-mse-keep-down", _r(outlier_ratio=8.0, activation_method=CalibMethod.MSE), ("*down_proj*",)),
    Variant("outl16-mse-calib-p", _r(outlier_ratio=16.0, activation_method=CalibMethod.MSE), (), True),
    Variant("outl16-mse-keep-attn", _r(outlier_ratio=16.0, activation_method=CalibMethod.MSE),
            ("attention*", "scaled_dot_product_attention*")),
    Variant("keep-down-worst", _r(), tuple(f"*layers.{i}.mlp.down_proj*" for i in (1, 2, 9, 10, 11, 27, 28, 29))),
    Variant("keep-down-worst2", _r(), tuple(f"*layers.{i}.mlp.down_proj*" for i in (11, 28))),
    Variant("keep-attn-down-worst", _r(), ("scaled_dot_product_attention*", *(
        f"*layers.{i}.mlp.down_proj*" for i in (1, 2, 9, 10, 11, 27, 28, 29)))),
    Variant("keep-attn-down", _r(), ("attention*", "scaled_dot_product_attention*", "*down_proj*")),
    Variant("sq0.5-keep-attn", _r(smoothquant_alpha=0.5), ("attention*", "scaled_dot_product_attention*")),
    Variant("sq0.5-keep-attn-down", _r(smoothquant_alpha=0.5),
            ("attention*", "scaled_dot_product_attention*", "*down_proj*")),
)}
"""The named variants ``--variants`` picks from."""

for _layer in range(40):  # one down projection at a time: which layer's is the culprit
    VARIANTS[f"keep-down{_layer}"] = Variant(f"keep-down{_layer}", _r(), (f"*layers.{_layer}.mlp.down_proj*",))


def fast_bf16_matmul(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """A fast stand-in for ``bf16_ops.matmul_bf16`` (``--fast-bf16``): float32 BLAS on the bf16 inputs, one rounding
    to bf16. The exact version rounds every product to bf16 first (MUL) and sums in lane order; the difference is
    a zero-mean error of ~2**-9 per product, far below the int8 errors being ranked, and it runs ~1000x faster."""
    from tataa.numerics import bf16_to_f32, f32_to_bf16

    return f32_to_bf16(np.matmul(bf16_to_f32(a), bf16_to_f32(b)))


def quant_targets(graph: Graph) -> list[Node]:
    """The nodes ``quantize`` would quantize (float linear / matmul / attention)."""
    return [n for n in graph.nodes if n.op in QUANT_OPS and n.type.dtype.is_float]


def _names(node: Node) -> tuple[str, ...]:
    return (node.name, node.inputs[1]) if node.op == "linear" and len(node.inputs) > 1 else (node.name,)


def keep_nodes(graph: Graph, globs: Sequence[str]) -> tuple[str, ...]:
    """Node names matched by ``globs`` (node or weight name). A glob ``!pat`` means: every target NOT matching pat."""
    out = []
    for n in quant_targets(graph):
        for g in globs:
            neg = g.startswith("!")
            hit = any(fnmatch.fnmatchcase(s, g[1:] if neg else g) for s in _names(n))
            if hit != neg:
                out.append(n.name)
                break
    return tuple(out)


def resolve(graph: Graph, v: Variant, n_calib: int) -> QuantRecipe:
    """The variant's recipe with the keep globs resolved to node names and every calibration feed used."""
    return dataclasses.replace(v.recipe, name=v.name, keep_bf16=v.recipe.keep_bf16 + keep_nodes(graph, v.keep),
                               calibration_samples=n_calib)


# ---------------------------------------------------------------------------------------------------- diagnostics


def outlier_table(graph: Graph, feed: dict[str, np.ndarray]) -> list[tuple[str, str, float, float, float]]:
    """Per quantized input value: (value, reader, max|x|, max/rms, peak-channel max / median-channel max)."""
    readers: dict[str, str] = {}
    for n in quant_targets(graph):
        for v in calibrated_inputs(n):
            readers.setdefault(v, n.inputs[1] if n.op == "linear" else n.name)
    rows: list[tuple[str, str, float, float, float]] = []

    def observe(node: Node, value: np.ndarray) -> None:
        if node.name in readers:
            x = np.abs(np.asarray(value, np.float64))
            x = x.reshape(-1, x.shape[-1])
            ch = x.max(axis=0)
            rms = math.sqrt(float(np.mean(x * x))) or 1.0
            med = float(np.median(ch)) or 1.0
            rows.append((node.name, readers[node.name], float(x.max()), float(x.max()) / rms, float(ch.max()) / med))

    run_graph(graph, feed, observer=observe)
    return rows


def trace_summary(graph: Graph, qm_trace: Sequence, k: int = 12) -> str:
    """The per-op-kind mean SQNR and the k nodes with the largest SQNR drop from their worst input."""
    sq = {e.node: e.sqnr_db for e in qm_trace}
    by_op: dict[str, list[float]] = {}
    drops = []
    nodes = graph.node_map
    for e in qm_trace:
        if math.isfinite(e.sqnr_db):
            by_op.setdefault(e.op, []).append(e.sqnr_db)
        ins = [sq[i] for i in nodes[e.node].inputs if i in sq and math.isfinite(sq[i])]
        if ins and math.isfinite(e.sqnr_db):
            label = nodes[e.node].inputs[1] if e.op == "linear" else e.node
            drops.append((min(ins) - e.sqnr_db, e.node, label, e.sqnr_db))
    lines = ["op              nodes  mean SQNR dB  min SQNR dB"]
    for op, vals in sorted(by_op.items(), key=lambda kv: min(kv[1])):
        lines.append(f"{op:<15} {len(vals):>5}  {np.mean(vals):>12.1f}  {min(vals):>11.1f}")
    lines.append(f"\nlargest SQNR drops (input's worst SQNR - node's SQNR), top {k}:")
    for d, node, label, s in sorted(drops, reverse=True)[:k]:
        lines.append(f"  {d:6.1f} dB  {node:<34} {label:<50} -> {s:6.1f} dB")
    last = qm_trace[-1]
    lines.append(f"\noutput {last.node}: SQNR {last.sqnr_db:.1f} dB, rel err {last.rel_err:.3f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- search


@dataclass(frozen=True)
class Row:
    """One variant's result."""

    variant: str
    value: float
    delta_pct: float  # (value - fp32) / fp32 in %  (perplexity) or value - fp32 in points (accuracy)
    extras: dict[str, float]
    kept: int
    setup_s: float
    run_s: float


def score(data: TaskData, run: Callable[[dict[str, np.ndarray]], np.ndarray]) -> tuple[list, float]:
    """Summaries of every scored batch and the metric."""
    sums = [data.scorer.summarize(b, run(b.feed)) for b in data.batches]
    return sums, data.scorer.score(data.batches, sums)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the search; prints tables to stdout."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task")
    p.add_argument("--variants", default="default,sq0.5,keep-down", help="comma-separated names: " + ", ".join(
        k for k in VARIANTS if not k[-1].isdigit()) + ", keep-downN")
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--calib", type=int, default=4)
    p.add_argument("--seq", type=int, default=None)
    p.add_argument("--fast-bf16", action="store_true", help="layers kept in bf16 use a BLAS stand-in (see "
                   "fast_bf16_matmul); the int8 layers stay bit-exact")
    p.add_argument("--outliers", action="store_true")
    p.add_argument("--trace", default=None, help="variant to trace on the first scored batch")
    a = p.parse_args(argv)
    names = [v for v in a.variants.split(",") if v]
    unknown = [v for v in names + ([a.trace] if a.trace else []) if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {unknown}")
    task = get_task(a.task)
    if a.fast_bf16:
        import tataa.quant.bf16_ops as bo

        bo.matmul_bf16 = fast_bf16_matmul  # type: ignore[assignment]
    s = EvalSettings(limit=a.limit, calib=a.calib, seq=a.seq or task.default_seq, progress=False)
    t0 = time.perf_counter()
    zoo = task.load_model(s)
    data = task.prepare(zoo, s)
    feed0 = data.batches[0].feed
    dims = {"seq": int(feed0["input_ids"].shape[1])} if task.fixed_dims else None
    graph, _ = import_graph(zoo, dims)
    print(f"# {a.task}: {data.n} scored, {data.n_calibration} calibration, setup {time.perf_counter() - t0:.0f} s",
          flush=True)
    fp32 = fp32_peer(zoo)
    ref_sums, ref = score(data, fp32.run)
    print(f"fp32: {ref:.4f}", flush=True)
    if a.outliers:
        print("\nvalue                reader                                              max|x|  max/rms  peakch/med")
        for v, r, mx, ratio, ch in outlier_table(graph, data.calibration[0]):
            print(f"{v:<20} {r:<50} {mx:8.2f} {ratio:8.1f} {ch:10.1f}")
        print(flush=True)
    rows = []
    out = graph.outputs[0]
    for name in names + ([a.trace] if a.trace and a.trace not in names else []):
        v = VARIANTS[name]
        recipe = resolve(graph, v, len(data.calibration))
        t1 = time.perf_counter()
        qm = quantize(graph, list(data.calibration), recipe, progress=False,
                      calibrate_probabilities=v.calibrate_probabilities)
        setup = time.perf_counter() - t1
        if name == a.trace:
            print(f"\n## trace of {name}\n" + trace_summary(qm.graph, layer_trace(qm, feed0)) + "\n", flush=True)
            if name not in names:
                continue
        t1 = time.perf_counter()
        sums, val = score(data, lambda f, qm=qm: run_quantized(qm, f, outputs=[out])[out])
        extras = data.scorer.compare(sums, ref_sums)
        delta = 100.0 * (val - ref) / ref if task.metric == "perplexity" else val - ref
        rows.append(Row(name, val, delta, extras, len(qm.kept_bf16), setup, time.perf_counter() - t1))
        r = rows[-1]
        ex = "  ".join(f"{k} {x:.4f}" for k, x in r.extras.items())
        unit = "%" if task.metric == "perplexity" else " pt"
        print(f"{r.variant:<22} {task.metric} {r.value:9.4f}  delta {r.delta_pct:+7.2f}{unit}"
              f"  {ex}  kept_bf16 {r.kept:3d}  quantize {r.setup_s:5.0f} s  run {r.run_s:5.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
