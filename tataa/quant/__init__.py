"""Post-training int8 quantization and bf16 approximations (issue 5; not yet implemented)."""
