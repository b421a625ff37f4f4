"""tataa: compiler, bit-accurate simulator and FPGA overlay for transformer inference."""

__version__ = "0.1.0"
