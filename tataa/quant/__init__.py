"""Post-training int8 quantization, bf16 approximations and the bit-exact quantized reference."""

from tataa.quant.params import ActQuant, AttentionQuant, LinearQuant, MatmulQuant, QuantizedModel
from tataa.quant.recipe import (
    OVERLAY,
    PAPER_RECIPE,
    RECIPES,
    TATAA_RECIPE,
    Approximations,
    CalibMethod,
    Granularity,
    OverlayCaps,
    QuantError,
    QuantRecipe,
    check_recipe,
)

__all__ = ["OVERLAY", "PAPER_RECIPE", "RECIPES", "TATAA_RECIPE", "ActQuant", "Approximations", "AttentionQuant",
           "CalibMethod", "Granularity", "LinearQuant", "MatmulQuant", "OverlayCaps", "QuantError", "QuantRecipe",
           "QuantizedModel", "check_recipe"]
