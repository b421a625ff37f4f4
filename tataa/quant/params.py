"""The quantizer's output: the float graph plus, for each linear/matmul node, the int8 parameters the overlay uses.

Overlay dataflow of a quantized node (docs/semantics.md): its bf16 input(s) are converted with F2I8 (value times a
bf16 inverse scale, rounded to nearest even, saturated to [-128, 127]); the systolic array multiplies int8 by int8
into int32 accumulators starting from the int32 bias; REQUANT turns each accumulator into bf16 with a per-channel
16-bit multiplier and shift (``tataa.numerics.requant_bf16``). Everything else runs in bf16 on the SIMD lanes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tataa.ir.graph import Graph
from tataa.quant.recipe import QuantRecipe


@dataclass(frozen=True, eq=False)
class ActQuant:
    """An activation's int8 encoding: x_int8 = F2I8(x, inv_scale), with inv_scale a bf16 value (uint16 pattern)."""

    inv_scale_bf16: int  # bf16 bit pattern of 1/scale (exactly what F2I8 multiplies by)
    amax: float  # the calibrated clipping range (for reports)

    @property
    def scale(self) -> float:
        """The real step size: 1 / inv_scale exactly."""
        from tataa.numerics import bf16_to_f64

        return float(1.0 / bf16_to_f64(np.uint16(self.inv_scale_bf16)))


@dataclass(frozen=True, eq=False)
class LinearQuant:
    """int8 parameters of a `linear` node: weight [K, N] int8, per-channel weight scales, int32 bias, requant words."""

    node: str
    x: ActQuant
    weight_q: np.ndarray  # int8 [K, N]
    weight_scale: np.ndarray  # float64 [N] (or [1] for per-tensor)
    bias_q: np.ndarray | None  # int32 [N]: round(bias / (x.scale * weight_scale))
    requant: np.ndarray  # int64 [N] packed (m, s) words: x.scale * weight_scale as m * 2**-s (pack_scale)
    smooth: np.ndarray | None = None  # SmoothQuant per-input-channel factors already folded into the graph
    outliers: np.ndarray | None = None  # int64 [C] ascending input channels computed in bf16 (their weight_q rows 0)
    outlier_weight: np.ndarray | None = None  # bf16 bits [C, N]: those channels' weight rows


@dataclass(frozen=True, eq=False)
class MatmulQuant:
    """int8 parameters of a `matmul` (or the two matmuls of an `attention`) with two dynamic inputs."""

    node: str
    a: ActQuant
    b: ActQuant
    requant: int  # packed (m, s) word: a.scale * b.scale


@dataclass(frozen=True, eq=False)
class ChannelQuant:
    """Per-channel int8 encoding of an attention's V [..., keys, d]: one bf16 inverse scale per channel of V's
    non-leading batch axes and last axis (shape [*heads, d]), and P.V's REQUANT word per output column."""

    inv_scale_bf16: np.ndarray  # uint16 [*heads, d]: F2I8 multiplies V by these (a vector operand, stride 0 on keys)
    amax: np.ndarray  # float64 [*heads, d]: the calibrated per-channel max |V|
    requant: np.ndarray  # int64 [*heads, d]: packed (m, s) of pv.a.scale * channel scale

    def scales(self) -> np.ndarray:
        """The real per-channel step sizes 1 / inv_scale."""
        from tataa.numerics import bf16_to_f64

        return 1.0 / bf16_to_f64(self.inv_scale_bf16)

    def along_keys(self, a: np.ndarray) -> np.ndarray:
        """A [*heads, d] array laid out to broadcast against V [b, *heads, keys, d] (a unit keys axis)."""
        return a.reshape(*a.shape[:-1], 1, a.shape[-1])


@dataclass(frozen=True, eq=False)
class AttentionQuant:
    """int8 parameters of an `attention` node: Q·Kᵀ and P·V, each with two per-tensor activation encodings."""

    node: str
    qk: MatmulQuant
    pv: MatmulQuant  # with deferred_norm, its ``a`` encodes e = exp(z - max) in [0, 1] instead of P
    deferred_norm: bool = False  # P.V on the unnormalised e, each output row times 1/sum(e) afterwards
    v_channels: ChannelQuant | None = None  # per-channel V (then pv.b is only V's per-tensor range, for reports)


@dataclass(frozen=True, eq=False)
class QuantizedModel:
    """A float graph (possibly rewritten, e.g. by SmoothQuant) with int8 parameters per quantized node."""

    graph: Graph
    recipe: QuantRecipe
    linears: dict[str, LinearQuant] = field(default_factory=dict)
    matmuls: dict[str, MatmulQuant] = field(default_factory=dict)
    attentions: dict[str, AttentionQuant] = field(default_factory=dict)
    kept_bf16: tuple[str, ...] = ()  # linear/matmul/attention nodes left in bf16 by the recipe

    def is_quantized(self, node: str) -> bool:
        """Whether a node runs in int8 on the systolic array."""
        return node in self.linears or node in self.matmuls or node in self.attentions
