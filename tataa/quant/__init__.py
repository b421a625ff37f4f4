"""Post-training int8 quantization, bf16 approximations and the bit-exact quantized reference."""

from tataa.quant.calibrate import (
    Calibrator,
    EntropyCalibrator,
    MinMaxCalibrator,
    MSECalibrator,
    PercentileCalibrator,
    make_calibrator,
)
from tataa.quant.data import CalibrationReader
from tataa.quant.params import ActQuant, AttentionQuant, LinearQuant, MatmulQuant, QuantizedModel
from tataa.quant.quantize import quantize
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
from tataa.quant.reference import run_quantized
from tataa.quant.smoothquant import smoothquant
from tataa.quant.trace import LayerError, format_trace, layer_trace

__all__ = [
    "OVERLAY",
    "PAPER_RECIPE",
    "RECIPES",
    "TATAA_RECIPE",
    "ActQuant",
    "Approximations",
    "AttentionQuant",
    "CalibMethod",
    "CalibrationReader",
    "Calibrator",
    "EntropyCalibrator",
    "Granularity",
    "LayerError",
    "LinearQuant",
    "MSECalibrator",
    "MatmulQuant",
    "MinMaxCalibrator",
    "OverlayCaps",
    "PercentileCalibrator",
    "QuantError",
    "QuantRecipe",
    "QuantizedModel",
    "check_recipe",
    "format_trace",
    "layer_trace",
    "make_calibrator",
    "quantize",
    "run_quantized",
    "smoothquant",
]
