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
    keep_bf16: tuple[str, ...] = ()  # node-name globs of linear/matmul nodes NOT quantized (run in bf16)
    approximations: Approximations = Approximations.TATAA
    truncate_requant: bool = False  # the published design truncates instead of rounding to nearest even
    calibration_samples: int = 32

    def keeps_bf16(self, node_name: str) -> bool:
        """Whether a node is excluded from int8 by `keep_bf16`."""
        return any(fnmatch.fnmatchcase(node_name, pat) for pat in self.keep_bf16)


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
    if recipe.histogram_bins < 128:
        problems.append(f"histogram_bins {recipe.histogram_bins} (at least 128)")
    if recipe.calibration_samples < 1:
        problems.append(f"calibration_samples {recipe.calibration_samples} (at least 1)")
    if problems:
        raise QuantError(f"recipe {recipe.name!r} asks for what the overlay cannot do: " + "; ".join(problems))
    return recipe


TATAA_RECIPE = QuantRecipe()
"""The project's default: per-channel weights, percentile activations, tataa approximations, RNE requant."""

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
