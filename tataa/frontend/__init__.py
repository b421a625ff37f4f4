"""Frontends: ONNX files and torch.export / torch.fx graphs into the graph IR."""

from tataa.frontend.onnx_import import import_onnx
from tataa.frontend.result import ImportResult
from tataa.frontend.torch_import import import_fx, import_torch

__all__ = ["ImportResult", "import_fx", "import_onnx", "import_torch"]
