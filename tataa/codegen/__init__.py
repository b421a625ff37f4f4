"""Code generation: ProgramBuilder, GEMM tiling and scheduling, SIMD recipes and nonlinear kernels."""
