// Transformable processing element: one signed 9x9 multiplier shared by two personalities.
//
// SYSTOLIC (mode_i = MODE_SYSTOLIC): weight-stationary int8 MAC. The PE holds an active weight and a
// shadow weight; wload_i writes the shadow (wdata_i) while the active weight computes. The activation
// a_i arrives from the left together with swap_i, which marks the first activation of a new weight tile:
// in that cycle the shadow weight becomes active and is already used for the product. Every cycle
//   psum_o <= psum_i + sext(a_i) * sext(w)            (int32, wrapping)
//   a_o    <= a_i,  swap_o <= swap_i                   (to the PE on the right)
// SIMD (mode_i = MODE_SIMD): the multiplier is lent to a bf16 lane: sig_p_o = {0,sig_a_i} * {0,sig_b_i},
// the exact product of two zero-extended 8-bit significands (combinational). The systolic registers
// keep running in SIMD mode; their contents are meaningless there and nothing reads them.
module tataa_pe (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic        mode_i,   // tataa_isa_pkg::mode_e value
  // systolic datapath
  input  logic [7:0]  a_i,      // int8 activation from the left
  input  logic        swap_i,   // a_i is the first activation of a new weight tile
  output logic [7:0]  a_o,      // registered a_i, to the right
  output logic        swap_o,   // registered swap_i, to the right
  input  logic [31:0] psum_i,   // int32 partial sum from above
  output logic [31:0] psum_o,   // registered psum_i + a_i * weight, downwards
  input  logic        wload_i,  // write wdata_i into the shadow weight
  input  logic [7:0]  wdata_i,  // int8 weight
  // SIMD: the multiplier for one bf16 significand product
  input  logic [7:0]  sig_a_i,  // 8-bit significand (1.mmmmmmm), unsigned
  input  logic [7:0]  sig_b_i,
  output logic [15:0] sig_p_o   // sig_a_i * sig_b_i
);

  logic [7:0]  a_q, w_act_q, w_sh_q, w_use;
  logic        swap_q;
  logic [31:0] psum_q;

  // The one multiplier: sign-extended int8 operands (SYSTOLIC) or zero-extended significands (SIMD).
  logic               simd;
  logic signed [8:0]  mul_a, mul_b;
  logic signed [17:0] prod;

  assign simd  = mode_i == tataa_isa_pkg::MODE_SIMD;
  assign w_use = swap_i ? w_sh_q : w_act_q;
  assign mul_a = simd ? {1'b0, sig_a_i} : {a_i[7], a_i};
  assign mul_b = simd ? {1'b0, sig_b_i} : {w_use[7], w_use};
  assign prod  = mul_a * mul_b;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      a_q     <= '0;
      swap_q  <= 1'b0;
      psum_q  <= '0;
      w_act_q <= '0;
      w_sh_q  <= '0;
    end else begin
      a_q    <= a_i;
      swap_q <= swap_i;
      psum_q <= psum_i + {{14{prod[17]}}, prod};
      if (swap_i) begin
        w_act_q <= w_sh_q;
      end
      if (wload_i) begin
        w_sh_q <= wdata_i;
      end
    end
  end

  assign a_o     = a_q;
  assign swap_o  = swap_q;
  assign psum_o  = psum_q;
  // Both operands are non-negative in SIMD mode, so the low 16 bits are the whole product.
  assign sig_p_o = prod[15:0];

endmodule : tataa_pe
