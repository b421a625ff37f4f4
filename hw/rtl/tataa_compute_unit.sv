// Compute unit: routes each COMPUTE instruction from its issue unit to the engine that executes it
// (GEMM, REQUANT, VOP), and executes SETC and MODE itself. Holds the constant registers and the PE-array
// mode. Done contract (docs/rtl.md): `done_o` is high in the instruction's last busy cycle.
module tataa_compute_unit #(
  parameter int ModeCycles = tataa_cfg_pkg::ModeSwitchCycles
) (
  input  logic                                        clk_i,
  input  logic                                        rst_ni,
  input  logic                                        clear_i,     // start of a run: reset mode and constants
  input  logic                                        start_i,
  input  logic [tataa_isa_pkg::INSN_BITS-1:0]         insn_i,
  output logic                                        done_o,
  output logic                                        mode_err_o,  // pulse: GEMM in SIMD mode or VOP in SYSTOLIC
  // engines
  output logic                                        gemm_start_o,
  input  logic                                        gemm_done_i,
  output logic                                        requant_start_o,
  input  logic                                        requant_done_i,
  output logic                                        simd_start_o,
  input  logic                                        simd_done_i,
  output logic                                        mode_o,      // tataa_isa_pkg::MODE_SIMD when 1
  output logic [tataa_isa_pkg::NUM_CONST_REGS*16-1:0] const_o
);

  localparam int OpW = tataa_isa_pkg::GEMM_OPCODE_WIDTH;

  logic [OpW-1:0] opcode;
  logic is_gemm, is_requant, is_vop, is_setc, is_mode;
  logic mode_q, mode_d;
  logic [tataa_isa_pkg::NUM_CONST_REGS*16-1:0] const_q, const_d;
  logic [15:0] mode_count_q, mode_count_d;
  logic mode_busy_q, mode_busy_d;
  logic mode_ok;

  assign opcode     = insn_i[tataa_isa_pkg::GEMM_OPCODE_LSB +: OpW];
  assign is_gemm    = opcode == OpW'(tataa_isa_pkg::OPCODE_GEMM);
  assign is_requant = opcode == OpW'(tataa_isa_pkg::OPCODE_REQUANT);
  assign is_vop     = opcode == OpW'(tataa_isa_pkg::OPCODE_VOP);
  assign is_setc    = opcode == OpW'(tataa_isa_pkg::OPCODE_SETC);
  assign is_mode    = opcode == OpW'(tataa_isa_pkg::OPCODE_MODE);

  // GEMM needs SYSTOLIC mode and VOP needs SIMD mode; an illegal one is reported and retires at once.
  assign mode_ok = !((is_gemm && mode_q) || (is_vop && !mode_q));

  assign gemm_start_o    = start_i && is_gemm && mode_ok;
  assign requant_start_o = start_i && is_requant;
  assign simd_start_o    = start_i && is_vop && mode_ok;
  assign mode_err_o      = start_i && !mode_ok;

  always_comb begin
    mode_d       = mode_q;
    const_d      = const_q;
    mode_count_d = mode_count_q;
    mode_busy_d  = mode_busy_q;
    if (start_i && is_setc) begin
      const_d[insn_i[tataa_isa_pkg::SETC_IDX_LSB +: tataa_isa_pkg::SETC_IDX_WIDTH] * 16 +: 16] =
          insn_i[tataa_isa_pkg::SETC_VALUE_LSB +: 16];
    end
    if (start_i && is_mode) begin
      mode_d       = insn_i[tataa_isa_pkg::MODE_MODE_LSB];
      mode_busy_d  = ModeCycles > 1;
      mode_count_d = 16'(ModeCycles - 2);
    end else if (mode_busy_q) begin
      mode_count_d = mode_count_q - 16'd1;
      if (mode_count_q == 16'd0) mode_busy_d = 1'b0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clear_i) begin
      mode_q       <= 1'b0;  // SYSTOLIC
      const_q      <= '0;
      mode_count_q <= '0;
      mode_busy_q  <= 1'b0;
    end else begin
      mode_q       <= mode_d;
      const_q      <= const_d;
      mode_count_q <= mode_count_d;
      mode_busy_q  <= mode_busy_d;
    end
  end

  // Single-cycle instructions finish in their start cycle; MODE takes ModeCycles cycles.
  assign done_o = gemm_done_i || requant_done_i || simd_done_i || mode_err_o
               || (start_i && is_setc)
               || (start_i && is_mode && ModeCycles <= 1)
               || (mode_busy_q && mode_count_q == 16'd0);

  assign mode_o  = mode_q;
  assign const_o = const_q;

`ifndef SYNTHESIS
  // The simulator refuses programs that break this; in hardware the instruction is skipped and STATUS says so.
  always @(posedge clk_i) begin : ap_mode_legal
    if (rst_ni && start_i) assert (mode_ok) else $error("compute unit: %s issued in the wrong PE-array mode",
                                                         is_gemm ? "GEMM" : "VOP");
  end
`endif

endmodule
