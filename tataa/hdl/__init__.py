"""Building and running the SystemVerilog of hw/ with Verilator (and Icarus / Yosys for checks)."""
