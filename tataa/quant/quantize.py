"""Post-training quantization: a float graph plus calibration feeds -> int8 parameters for every linear op.

What gets quantized (unless the recipe's ``keep_bf16`` names it): every float ``linear`` (input x per tensor, weight
per channel or per tensor, int32 bias, requant words), every float ``matmul`` (both inputs per tensor) and every
float ``attention`` (q, k, v per tensor, and the softmax probabilities P: fixed scale 1/127 by default, since P lies
in [0, 1], or calibrated). Activation ranges come from running the float graph (``run_graph``) over the calibration
feeds with one calibrator per quantized value (``make_calibrator(recipe)``); a value read by several quantized nodes
(q, k and v projections of one norm output) gets one encoding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tataa.ir.graph import Graph, Node
from tataa.numerics import (
    BF16_MAX,
    BF16_MIN_NORMAL,
    bf16_to_f64,
    f64_to_bf16,
    pack_scale,
    quantize_int8,
    round_half_even,
    scale_to_multiplier,
)
from tataa.quant.calibrate import Calibrator, magnitudes, make_calibrator, weight_amax
from tataa.quant.data import Feed, collect_feeds, run_feeds
from tataa.quant.params import ActQuant, AttentionQuant, ChannelQuant, LinearQuant, MatmulQuant, QuantizedModel
from tataa.quant.recipe import TATAA_RECIPE, Granularity, QuantError, QuantRecipe, check_recipe
from tataa.quant.smoothquant import smoothquant

F64 = npt.NDArray[np.float64]
QUANT_OPS = ("linear", "matmul", "attention")
INT8_MAX = 127
PROB_AMAX = 1.0  # softmax probabilities lie in [0, 1]
INT32_MAX = (1 << 31) - 1


# ---------------------------------------------------------------------------------------------------- encodings


def act_quant(amax: float) -> ActQuant:
    """The encoding of a clipping range: inv_scale = 127/amax rounded DOWN to bf16 (so |x| <= amax never saturates).

    A zero or non-finite range gets the harmless inv_scale 127 (scale 1/127); inv_scale is kept within the finite
    normal bf16 values.
    """
    a = float(amax)
    target = INT8_MAX / a if np.isfinite(a) and a > 0 else float(INT8_MAX)
    bits = int(f64_to_bf16(target))
    if bits >= int(BF16_MAX):  # 127/amax beyond the largest finite bf16
        bits = int(BF16_MAX)
    elif float(bf16_to_f64(np.uint16(bits))) > target:
        bits -= 1  # the next smaller positive bf16
    if bits < int(BF16_MIN_NORMAL):
        bits = int(BF16_MIN_NORMAL)
    return ActQuant(inv_scale_bf16=bits, amax=a)


def requant_words(scale: npt.ArrayLike, node: str) -> npt.NDArray[np.int64]:
    """Packed REQUANT words (m, s) nearest to the given output scales; QuantError naming the node if out of reach."""
    try:
        m, s = scale_to_multiplier(np.asarray(scale, dtype=np.float64))
    except ValueError as e:
        raise QuantError(f"node {node}: output scale not representable by a 16-bit multiplier and 6-bit shift "
                         f"({e})") from None
    return np.asarray(pack_scale(m, s)).astype(np.int64)


def quantize_weight(weight: npt.ArrayLike, recipe: QuantRecipe, node: str = "weight") -> tuple[np.ndarray, F64]:
    """int8 [K, N] weight and its scales ([N] per channel, [1] per tensor) by the recipe's weight method.

    A channel whose range is 0 (an all-zero column) gets the largest scale of the tensor (1/127 if all are zero).
    """
    w = np.asarray(weight)
    if w.ndim != 2:
        raise QuantError(f"node {node}: weight must be [K, N], got shape {list(w.shape)}")
    w64 = w.astype(np.float64)
    if not np.isfinite(w64).all():
        raise QuantError(f"node {node}: the weight holds NaN or infinite values")
    per_channel = recipe.weight_granularity is Granularity.PER_CHANNEL
    amax = weight_amax(w64, recipe.weight_method, per_channel=per_channel, bins=recipe.histogram_bins,
                       percentile=recipe.percentile)
    fallback = float(amax.max()) if amax.size and amax.max() > 0 else 1.0
    scale = np.where(amax > 0, amax, fallback) / INT8_MAX
    q = quantize_int8(w64, scale[None, :] if per_channel else scale[0])
    return q, scale


def quantize_bias(bias: npt.ArrayLike, out_scale: F64, node: str) -> npt.NDArray[np.int32]:
    """int32 round-half-even(bias / out_scale); QuantError naming the node and channel when one overflows int32."""
    b = np.asarray(bias).astype(np.float64)
    if not np.isfinite(b).all():
        raise QuantError(f"node {node}: the bias holds NaN or infinite values")
    ratio = b / out_scale
    bad = np.flatnonzero(~(np.abs(ratio) <= INT32_MAX + 0.5))
    if bad.size:
        j = int(bad[0])
        raise QuantError(f"node {node}: bias[{j}] = {b[j]:.6g} is {ratio[j]:.6g} steps of the output scale "
                         f"{out_scale[j]:.3g}: it overflows int32 ({bad.size} channel(s))")
    q = round_half_even(ratio)
    if np.abs(q).max(initial=0) > INT32_MAX:
        raise QuantError(f"node {node}: bias overflows int32 after rounding")
    return q.astype(np.int32)


# ---------------------------------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class ActivationRanges:
    """Calibrated clipping ranges: per quantized value name, and per attention node for its probabilities P."""

    values: dict[str, float]
    probabilities: dict[str, float]
    channels: dict[str, F64] = dataclasses.field(default_factory=dict)  # per-channel max of V inputs (attention)


def calibrated_inputs(node: Node) -> tuple[str, ...]:
    """The inputs of a quantized node that get an int8 encoding (linear: x; matmul: a, b; attention: q, k, v)."""
    return {"linear": node.inputs[:1], "matmul": node.inputs[:2], "attention": node.inputs[:3]}[node.op]


def attention_probs(q: np.ndarray, k: np.ndarray, mask: np.ndarray | None, scale: float, causal: bool) -> np.ndarray:
    """softmax(q kᵀ · scale + mask) as the IR defines it (fully masked rows give zeros), in float32."""
    q32, k32 = (np.asarray(a).astype(np.float32) for a in (q, k))
    s = np.matmul(q32, np.swapaxes(k32, -1, -2)) * np.float32(scale)
    if mask is not None:
        m = np.asarray(mask)
        s = np.where(m, s, -np.inf) if m.dtype == np.bool_ else s + m.astype(np.float32)
    if causal:
        keep = np.arange(s.shape[-1])[None, :] <= np.arange(s.shape[-2])[:, None]
        s = np.where(keep, s, -np.inf)
    with np.errstate(invalid="ignore", over="ignore"):
        top = np.max(s, axis=-1, keepdims=True)
        e = np.exp(s - np.where(np.isneginf(top), 0.0, top))
        total = np.sum(e, axis=-1, keepdims=True)
        return np.where(total > 0, e / np.where(total > 0, total, 1.0), 0.0).astype(np.float32)


def v_channel_max(value: npt.ArrayLike) -> F64:
    """max |v| per channel of an attention's V [b, *heads, keys, d]: over the batch and key axes, [*heads, d]
    (non-finite entries ignored)."""
    arr = np.abs(np.asarray(value).astype(np.float64))
    arr = np.where(np.isfinite(arr), arr, 0.0)
    if arr.ndim < 2:
        raise QuantError(f"attention V must have at least 2 dimensions, got shape {list(arr.shape)}")
    axes = (0, arr.ndim - 2) if arr.ndim >= 3 else (0,)
    return arr.max(axis=axes) if arr.size else np.zeros(np.delete(np.array(arr.shape), axes))


def v_channel_quant(amax: F64, p: ActQuant, node: str) -> ChannelQuant:
    """The per-channel V encoding of calibrated channel maxima (a dead channel takes the largest range)."""
    top = float(amax.max()) if amax.size and amax.max() > 0 else 1.0
    acts = [act_quant(a if a > 0 else top) for a in amax.ravel()]
    inv = np.array([a.inv_scale_bf16 for a in acts], np.uint16).reshape(amax.shape)
    scales = np.array([a.scale for a in acts]).reshape(amax.shape)
    return ChannelQuant(inv_scale_bf16=inv, amax=np.asarray(amax, np.float64),
                        requant=requant_words(p.scale * scales, f"{node}.pv"))


def channel_maxima(graph: Graph, values: Sequence[str], feeds: Sequence[Feed], *,
                   progress: bool = True) -> dict[str, F64]:
    """max |x| per last-axis channel of each named value (a node output or a graph input) over ``feeds``."""
    wanted = set(values)
    out: dict[str, F64] = {}

    def see(name: str, value: np.ndarray) -> None:
        arr = np.asarray(value)
        if arr.ndim == 0 or arr.size == 0:
            return
        mags = np.abs(arr.reshape(-1, arr.shape[-1]).astype(np.float64))
        m = np.where(np.isfinite(mags), mags, 0.0).max(axis=0)
        out[name] = m if name not in out else np.maximum(out[name], m)

    def on_feed(feed: Feed) -> None:
        for v in wanted & feed.keys():
            see(v, np.asarray(feed[v]))

    def observe(node: Node, value: np.ndarray) -> None:
        if node.name in wanted:
            see(node.name, value)

    run_feeds(graph, feeds, observe, progress=progress, desc="outlier scan", on_feed=on_feed)
    return out


def outlier_channels(cmax: F64, ratio: float, limit: int) -> npt.NDArray[np.int64]:
    """Channels whose max exceeds ``ratio`` times the median channel's (the ``limit`` largest), ascending."""
    med = float(np.median(cmax)) if cmax.size else 0.0
    over = np.flatnonzero(cmax > ratio * med) if med > 0 else np.zeros(0, np.int64)
    if over.size > limit:
        over = over[np.argsort(-cmax[over], kind="stable")[:limit]]
    return np.sort(over).astype(np.int64)


def select_outliers(graph: Graph, nodes: Sequence[Node], feeds: Sequence[Feed], recipe: QuantRecipe, *,
                    progress: bool = True) -> dict[str, npt.NDArray[np.int64]]:
    """Per linear-input value (read by linears only, not a constant), the input channels the recipe's
    ``outlier_ratio`` sends to bf16; values without such channels are left out."""
    if recipe.outlier_ratio is None:
        return {}
    readers: dict[str, set[str]] = {}
    for n in nodes:
        for v in calibrated_inputs(n):
            readers.setdefault(v, set()).add(n.op)
    consts = graph.constant_map
    values = [v for v, ops in readers.items() if ops == {"linear"} and v not in consts]
    if not values:
        return {}
    cmax = channel_maxima(graph, values, feeds[: recipe.outlier_scan_samples], progress=progress)
    picked = {v: outlier_channels(cmax[v], recipe.outlier_ratio, recipe.outlier_max_channels) for v in cmax}
    return {v: c for v, c in picked.items() if c.size}


def activation_ranges(graph: Graph, nodes: Sequence[Node], feeds: Sequence[Feed], recipe: QuantRecipe, *,
                      progress: bool = True, probabilities: bool = False,
                      exclude: Mapping[str, np.ndarray] | None = None,
                      per_channel: Sequence[str] = ()) -> ActivationRanges:
    """Clipping ranges of every quantized input of ``nodes`` (and of attention's P when ``probabilities``);
    ``exclude`` names last-axis channels of a value that its range ignores (they are computed in bf16);
    values in ``per_channel`` also get their max per channel (:func:`v_channel_max`)."""
    exclude = exclude or {}
    chan: dict[str, F64] = {}

    def track(name: str, value: np.ndarray) -> None:
        m = v_channel_max(value)
        chan[name] = m if name not in chan else np.maximum(chan[name], m)
    consts = graph.constant_map
    names = dict.fromkeys(v for n in nodes for v in calibrated_inputs(n))
    ranges = {v: float(magnitudes(consts[v]).max(initial=0.0)) for v in names if v in consts}
    calibs: dict[str, Calibrator] = {v: make_calibrator(recipe) for v in names if v not in consts}
    prob_nodes = {n.name: n for n in nodes if n.op == "attention"} if probabilities else {}
    prob_calibs: dict[str, Calibrator] = {name: make_calibrator(recipe) for name in prob_nodes}
    needs: dict[str, str] = {}  # value -> the last attention (graph order) whose P needs it
    for n in graph.nodes:
        if n.name in prob_nodes:
            for v in (*n.inputs[:2], *n.inputs[3:]):
                needs[v] = n.name
    stored: dict[str, np.ndarray] = {}
    inputs = {v.name for v in graph.inputs}

    def seen(name: str, value: np.ndarray) -> np.ndarray:
        skip = exclude.get(name)
        return value if skip is None else np.delete(np.asarray(value), skip, axis=-1)

    def on_feed(feed: Feed) -> None:
        for v in inputs:
            if v in per_channel:
                track(v, np.asarray(feed[v]))
            if v in calibs:
                calibs[v].observe(seen(v, feed[v]))
            if v in needs:
                stored[v] = np.asarray(feed[v])

    def fetch(v: str) -> np.ndarray:
        return stored[v] if v in stored else consts[v]

    def observe(node: Node, value: np.ndarray) -> None:
        if node.name in per_channel:
            track(node.name, value)
        if node.name in calibs:
            calibs[node.name].observe(seen(node.name, value))
        if node.name in needs:
            stored[node.name] = value
        att = prob_nodes.get(node.name)
        if att is not None:
            mask = fetch(att.inputs[3]) if len(att.inputs) > 3 else None
            p = attention_probs(fetch(att.inputs[0]), fetch(att.inputs[1]), mask, att.attr("scale"),
                                att.attr("causal"))
            prob_calibs[att.name].observe(p)
            for v in [v for v, last in needs.items() if last == att.name]:
                stored.pop(v, None)

    run_feeds(graph, feeds, observe, progress=progress, desc="calibrate", on_feed=on_feed)
    readers = {v: n.name for n in reversed(nodes) for v in calibrated_inputs(n)}
    for v, cal in calibs.items():
        try:
            ranges[v] = cal.amax()
        except QuantError as e:
            raise QuantError(f"value {v} (input of node {readers[v]}): {e}") from None
    probs = {}
    for name, cal in prob_calibs.items():
        try:
            probs[name] = min(cal.amax(), PROB_AMAX)
        except QuantError as e:
            raise QuantError(f"attention {name} probabilities: {e}") from None
    return ActivationRanges(ranges, probs, chan)


# ---------------------------------------------------------------------------------------------------- records


def _constant(graph: Graph, node: Node, index: int, what: str) -> np.ndarray:
    name = node.inputs[index]
    value = graph.constant_map.get(name)
    if value is None:
        raise QuantError(f"node {node.name} (linear): its {what} {name!r} is computed, not a constant; fold it into "
                         f"a constant or keep the node in bf16 (recipe.keep_bf16)")
    return value


def quantize_linear(graph: Graph, node: Node, x: ActQuant, recipe: QuantRecipe,
                    smooth: F64 | None = None, outliers: npt.NDArray[np.int64] | None = None) -> LinearQuant:
    """The LinearQuant of a ``linear`` node whose weight (and bias) are constants, given its input's encoding;
    the weight rows of ``outliers`` (input channels computed in bf16) are kept as bf16 and zeroed in int8."""
    weight = _constant(graph, node, 1, "weight")
    bias = _constant(graph, node, 2, "bias") if len(node.inputs) > 2 else None
    outlier_weight = None
    if outliers is not None and outliers.size:
        outlier_weight = f64_to_bf16(np.asarray(weight)[outliers].astype(np.float64))
        weight = np.array(weight, copy=True)
        weight[outliers] = 0
    else:
        outliers = None
    weight_q, weight_scale = quantize_weight(weight, recipe, node.name)
    n_out = weight.shape[1]
    out_scale = np.broadcast_to(x.scale * weight_scale, (n_out,)).astype(np.float64)
    bias_q = None if bias is None else quantize_bias(np.broadcast_to(bias, (n_out,)), out_scale, node.name)
    return LinearQuant(node=node.name, x=x, weight_q=weight_q, weight_scale=weight_scale, bias_q=bias_q,
                       requant=requant_words(out_scale, node.name), smooth=smooth, outliers=outliers,
                       outlier_weight=outlier_weight)


def quantize_matmul(name: str, a: ActQuant, b: ActQuant) -> MatmulQuant:
    """The MatmulQuant of a product of two int8-encoded values (requant word of a.scale * b.scale)."""
    return MatmulQuant(node=name, a=a, b=b, requant=int(requant_words(a.scale * b.scale, name)))


def quantize(graph: Graph, calibration: Iterable[Mapping[str, np.ndarray]], recipe: QuantRecipe = TATAA_RECIPE, *,
             progress: bool = True, calibrate_probabilities: bool = False) -> QuantizedModel:
    """Quantize every float linear / matmul / attention of ``graph`` from calibration feeds, as ``recipe`` asks.

    Uses the first ``recipe.calibration_samples`` feeds; applies SmoothQuant first when
    ``recipe.smoothquant_alpha`` is set (the model's graph is then the rewritten one); nodes matching
    ``recipe.keep_bf16`` are listed in ``kept_bf16``. Attention probabilities get the fixed scale 1/127 unless
    ``calibrate_probabilities``. QuantError for an unsupported recipe, missing or malformed calibration data,
    a linear whose weight is not a constant, or a bias that overflows int32.
    """
    check_recipe(recipe)
    targets = [n for n in graph.nodes if n.op in QUANT_OPS and n.type.dtype.is_float]
    kept = tuple(n.name for n in targets if recipe.keeps_bf16(n.name, *n.inputs[1:2] if n.op == "linear" else ()))
    todo = [n.name for n in targets if n.name not in kept]
    for name in todo:
        n = graph.node_map[name]
        if n.op == "linear":
            _constant(graph, n, 1, "weight")
            if len(n.inputs) > 2:
                _constant(graph, n, 2, "bias")
    feeds = collect_feeds(calibration, recipe.calibration_samples, graph)
    smooth: dict[str, F64] = {}
    if recipe.smoothquant_alpha is not None:
        result = smoothquant(graph, feeds, recipe.smoothquant_alpha, progress=progress)
        graph, smooth = result.graph, result.factors
    nodes = [graph.node_map[name] for name in todo]
    outliers = select_outliers(graph, nodes, feeds, recipe, progress=progress)
    v_inputs = [n.inputs[2] for n in nodes if n.op == "attention"] if recipe.attention_v_per_channel else []
    ranges = activation_ranges(graph, nodes, feeds, recipe, progress=progress,
                               probabilities=calibrate_probabilities, exclude=outliers, per_channel=v_inputs)
    acts = {v: act_quant(a) for v, a in ranges.values.items()}
    linears: dict[str, LinearQuant] = {}
    matmuls: dict[str, MatmulQuant] = {}
    attentions: dict[str, AttentionQuant] = {}
    for n in nodes:
        if n.op == "linear":
            linears[n.name] = quantize_linear(graph, n, acts[n.inputs[0]], recipe, smooth.get(n.name),
                                              outliers.get(n.inputs[0]))
        elif n.op == "matmul":
            matmuls[n.name] = quantize_matmul(n.name, acts[n.inputs[0]], acts[n.inputs[1]])
        else:
            deferred = recipe.deferred_softmax_norm  # e's row maximum is exactly 1: no calibration
            p = act_quant(PROB_AMAX if deferred else ranges.probabilities.get(n.name, PROB_AMAX))
            v_amax = ranges.channels.get(n.inputs[2])
            attentions[n.name] = AttentionQuant(
                node=n.name,
                qk=quantize_matmul(f"{n.name}.qk", acts[n.inputs[0]], acts[n.inputs[1]]),
                pv=quantize_matmul(f"{n.name}.pv", p, acts[n.inputs[2]]), deferred_norm=deferred,
                v_channels=None if v_amax is None else v_channel_quant(v_amax, p, n.name))
    return QuantizedModel(graph=graph, recipe=recipe, linears=linears, matmuls=matmuls, attentions=attentions,
                          kept_bf16=kept)


__all__ = ["PROB_AMAX", "QUANT_OPS", "ActivationRanges", "act_quant", "activation_ranges", "attention_probs",
           "calibrated_inputs", "channel_maxima", "outlier_channels", "quantize", "quantize_bias", "quantize_linear",
           "quantize_matmul", "quantize_weight", "requant_words", "select_outliers", "v_channel_max",
           "v_channel_quant"]
