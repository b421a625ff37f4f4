"""Model zoo: transformer models built or loaded offline, wrapped for export, plus cached ONNX export."""

from tataa.models.export import OnnxExport, cache_dir, cache_key, export_onnx
from tataa.models.zoo import ZOO, ZooModel, gpt2, llama, load, minilm, minilm_path, smollm2, smollm2_path, vit

__all__ = ["ZOO", "OnnxExport", "ZooModel", "cache_dir", "cache_key", "export_onnx", "gpt2", "llama", "load",
           "minilm", "minilm_path", "smollm2", "smollm2_path", "vit"]
