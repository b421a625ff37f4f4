"""Frontends: ONNX files and torch.export graphs into the graph IR (issue 4; not yet implemented)."""
