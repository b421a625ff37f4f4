"""SIMD recipe machinery: the abstract ops interface, its numpy evaluator and its instruction emitter.

The recipes themselves are in :mod:`tataa.codegen.simd_recipes`, the kernels in :mod:`tataa.codegen.nonlinear`,
and the accuracy measurements in :mod:`tataa.codegen.simd.accuracy`.
"""

from tataa.codegen.simd.emitter import ConstRegs, Plan, SimdTrace, plan
from tataa.codegen.simd.numpy_eval import NumpySimd, NVal
from tataa.codegen.simd.ops import Const, Kind, SimdOps
from tataa.codegen.simd.rowwise import RowKernel, RowKernelInfo, emit_rowwise, evaluate

__all__ = [
    "Const",
    "ConstRegs",
    "Kind",
    "NVal",
    "NumpySimd",
    "Plan",
    "RowKernel",
    "RowKernelInfo",
    "SimdOps",
    "SimdTrace",
    "emit_rowwise",
    "evaluate",
    "plan",
]
