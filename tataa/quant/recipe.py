"""What the user asks the quantizer for (a recipe), kept apart from what the overlay supports (capabilities)."""

from __future__ import annotations

import enum
import fnmatch
from dataclasses import dataclass, field

from tataa.errors import TataaError


class QuantError(TataaError):
    """A recipe asks for something the overlay cannot do, or quantization cannot proceed (e.g. no calibration data)."""


class CalibMethod(enum.Enum):
    """How activation ranges are chosen from calibration data."""

    MINMAX = "minmax"  # max |x| seen
    PERCENTILE = "percentile"  # the given percentile of |x|
    MSE = "mse"  # the clip that minimises the int8 quantization mean-squared error on a histogram of |x|
    ENTROPY = "entropy"  # the clip that minimises the KL divergence of the int8 histogram (TensorRT-style)


class Granularity(enum.Enum):
    """Which elements share one scale."""

    PER_TENSOR = "per_tensor"
    PER_CHANNEL = "per_channel"  # one scale per output channel (weights only)
    PER_TOKEN = "per_token"  # one scale per row (activations) -- asked for by some users; the overlay cannot


class Approximations(enum.Enum):
    """Which bf16 approximations nonlinear ops use."""

    TATAA = "tataa"  # the project's recipes (tataa.codegen.simd_recipes): max-subtracted softmax, accurate tails
    PAPER = "paper"  # the published design's: exp as 2^floor(x/ln2) without max-subtraction, x*rsqrt(y)^2 division,
    # Pade tanh, truncating requantization


@dataclass(frozen=True)
class QuantRecipe:
    """A user's request: calibration method, granularities, scale migration, which nodes stay bf16."""

    name: str = "tataa"
    activation_method: CalibMethod = CalibMethod.PERCENTILE
    percentile: float = 99.99
    histogram_bins: int = 2048
    weight_granularity: Granularity = Granularity.PER_CHANNEL
    weight_method: CalibMethod = CalibMethod.MINMAX
    activation_granularity: Granularity = Granularity.PER_TENSOR
    smoothquant_alpha: float | None = None  # e.g. 0.5: migrate activation outliers into the weights
    keep_bf16: tuple[str, ...] = ()  # globs of linear/matmul/attention nodes NOT quantized (run in bf16); a glob
    # matches the node's name or, for a linear, its weight constant's name (which carries the module path)
    outlier_ratio: float | None = None  # a linear input channel whose calibrated max|x| exceeds this times the
    # median channel's is computed in bf16 beside the int8 GEMM (LLM.int8()-style decomposition; None: never)
    outlier_max_channels: int = 8  # at most this many such channels per linear (the largest are taken)
    outlier_scan_samples: int = 4  # calibration feeds the per-channel maxima are taken from
    attention_v_per_channel: bool = False  # attention: V gets one int8 scale per (head, channel), from its
    # calibrated per-channel max (F2I8 with a vector of inverse scales; P.V's REQUANT is per output column anyway)
    deferred_softmax_norm: bool = False  # attention: P.V multiplies the unnormalised exp(z - max) (row max 1, all
    # 254 int8 levels used in every row) and scales each output row by 1/sum afterwards (fewer SIMD multiplies too)
    approximations: Approximations = Approximations.TATAA
    truncate_requant: bool = False  # the published design truncates instead of rounding to nearest even
    calibration_samples: int = 32

    def keeps_bf16(self, *names: str) -> bool:
        """Whether a node is excluded from int8 by `keep_bf16`: any of ``names`` (the node's name, its weight's
        name) matches one of the globs."""
        return any(fnmatch.fnmatchcase(name, pat) for pat in self.keep_bf16 for name in names)


@dataclass(frozen=True)
class OverlayCaps:
    """What the overlay's arithmetic supports (derived from the ISA; see docs/semantics.md)."""

    weight_granularities: frozenset[Granularity] = field(
        default_factory=lambda: frozenset({Granularity.PER_TENSOR, Granularity.PER_CHANNEL}))
    activation_granularities: frozenset[Granularity] = field(
        default_factory=lambda: frozenset({Granularity.PER_TENSOR}))
    symmetric_only: bool = True  # no zero points: int8 values are symmetric around 0
    requant_multiplier_bits: int = 16
    requant_shift_max: int = 63
    bf16_linear: bool = True  # a linear/matmul kept in bf16 runs on the SIMD lanes (FMA, fp32 reductions)


OVERLAY = OverlayCaps()


def check_recipe(recipe: QuantRecipe, caps: OverlayCaps = OVERLAY) -> QuantRecipe:
    """The recipe, or a QuantError naming every setting the overlay cannot honour."""
    problems = []
    if recipe.weight_granularity not in caps.weight_granularities:
        problems.append(f"weight granularity {recipe.weight_granularity.value} (supported: "
                        f"{', '.join(sorted(g.value for g in caps.weight_granularities))})")
    if recipe.activation_granularity not in caps.activation_granularities:
        problems.append(f"activation granularity {recipe.activation_granularity.value} (supported: "
                        f"{', '.join(sorted(g.value for g in caps.activation_granularities))}): REQUANT/F2I8 "
                        "take one scale per tensor for activations")
    if not 50.0 <= recipe.percentile <= 100.0:
        problems.append(f"percentile {recipe.percentile} (must lie in [50, 100])")
    if recipe.smoothquant_alpha is not None and not 0.0 <= recipe.smoothquant_alpha <= 1.0:
        problems.append(f"smoothquant_alpha {recipe.smoothquant_alpha} (must lie in [0, 1])")
    if recipe.keep_bf16 and not caps.bf16_linear:
        problems.append("keep_bf16 (this overlay cannot run linear layers in bf16)")
    if recipe.deferred_softmax_norm and recipe.approximations is not Approximations.TATAA:
        problems.append("deferred_softmax_norm with the paper's approximations (its softmax is not split)")
    if recipe.outlier_ratio is not None and not recipe.outlier_ratio > 1.0:
        problems.append(f"outlier_ratio {recipe.outlier_ratio} (must exceed 1)")
    if recipe.outlier_max_channels < 1 or recipe.outlier_scan_samples < 1:
        problems.append("outlier_max_channels and outlier_scan_samples (at least 1)")
    if recipe.histogram_bins < 128:
        problems.append(f"histogram_bins {recipe.histogram_bins} (at least 128)")
    if recipe.calibration_samples < 1:
        problems.append(f"calibration_samples {recipe.calibration_samples} (at least 1)")
    if problems:
        raise QuantError(f"recipe {recipe.name!r} asks for what the overlay cannot do: " + "; ".join(problems))
    return recipe


TATAA_RECIPE = QuantRecipe(
    activation_method=CalibMethod.PERCENTILE,
    percentile=99.999,
    outlier_ratio=4.0,
    outlier_max_channels=16,
    deferred_softmax_norm=True,
)
"""The project's default: per-channel weights, percentile-99.999 activations with outlier input channels in bf16,
attention with deferred softmax normalisation, tataa approximations, RNE requant
(see docs/quantization.md)."""

PAPER_RECIPE = QuantRecipe(
    name="paper",
    activation_method=CalibMethod.MINMAX,
    weight_granularity=Granularity.PER_TENSOR,
    weight_method=CalibMethod.MINMAX,
    approximations=Approximations.PAPER,
    truncate_requant=True,
)
"""The published TATAA design's choices (per-tensor min/max int8, crude bf16 approximations, truncation)."""

RECIPES: dict[str, QuantRecipe] = {r.name: r for r in (TATAA_RECIPE, PAPER_RECIPE)}
