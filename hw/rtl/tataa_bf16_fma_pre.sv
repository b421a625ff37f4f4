// bf16 fused multiply-add, stage 1 of 3: unpack, DAZ, classify specials, align exponents.
//
// The FMA computes a*b + c exactly and rounds once (tataa.numerics.bf16_fma). It is split so that the
// significand product can come from a PE's signed 9x9 multiplier in SIMD mode:
//   tataa_bf16_fma_pre -> mul_a_o * mul_b_o (signed 9x9, 18-bit product) -> tataa_bf16_fma_post.
// A bf16 normal with biased exponent e and significand sig = 1.fffffff (8 bits) is sig * 2^(e-134).
// Subnormal operands read as zeros of their sign (DAZ); a zero operand has significand 0.
//
// The post stage adds the product P (16-bit significand) and the addend C (8-bit significand, left
// aligned to 16 bits) in a window whose second-highest bit holds the nominal MSB of the "upper"
// operand (the one with the larger nominal MSB exponent; the addend when the product is zero). The
// other operand is shifted right by shift_o. exp_o is the biased bf16 exponent of the window's top
// (carry) bit: ea + eb - 125 when the product is upper, ec + 1 when the addend is.
module tataa_bf16_fma_pre (
  input  logic [15:0] a_i,
  input  logic [15:0] b_i,
  input  logic [15:0] c_i,
  output logic [8:0]  mul_a_o,       // zero-extended significand of a (0 for a zero): multiplier operand
  output logic [8:0]  mul_b_o,       // zero-extended significand of b (0 for a zero): multiplier operand
  output logic [7:0]  sig_c_o,       // significand of c (0 for a zero)
  output logic        sign_p_o,      // sign of the product a*b (xor of the signs)
  output logic        sign_c_o,      // sign of c
  output logic        c_big_o,       // the addend is the upper operand of the adder window
  output logic [4:0]  shift_o,       // right shift of the lower operand, saturated at 31 (beyond the window)
  output logic [9:0]  exp_o,         // biased exponent of the window's carry bit (two's complement)
  output logic        special_o,     // a NaN or an infinity decides the result
  output logic [15:0] special_res_o  // the result when special_o: canonical NaN or a signed infinity
);

  logic [7:0] ea, eb, ec;
  logic       a_zero, b_zero, c_zero, a_inf, b_inf, c_inf, a_nan, b_nan, c_nan;
  logic       p_zero, p_inf, res_nan;
  logic [9:0] diff, diff_abs, exp_p, exp_c;

  assign ea = a_i[14:7];
  assign eb = b_i[14:7];
  assign ec = c_i[14:7];

  // Classification; DAZ: an exponent field of 0 is a zero whatever the fraction.
  assign a_zero = (ea == 8'h00);
  assign b_zero = (eb == 8'h00);
  assign c_zero = (ec == 8'h00);
  assign a_inf  = (ea == 8'hFF) && (a_i[6:0] == 7'h00);
  assign b_inf  = (eb == 8'hFF) && (b_i[6:0] == 7'h00);
  assign c_inf  = (ec == 8'hFF) && (c_i[6:0] == 7'h00);
  assign a_nan  = (ea == 8'hFF) && (a_i[6:0] != 7'h00);
  assign b_nan  = (eb == 8'hFF) && (b_i[6:0] != 7'h00);
  assign c_nan  = (ec == 8'hFF) && (c_i[6:0] != 7'h00);

  assign p_zero = a_zero || b_zero;
  assign p_inf  = a_inf || b_inf;

  assign sign_p_o = a_i[15] ^ b_i[15];
  assign sign_c_o = c_i[15];

  // NaN operands, 0 * inf, and inf - inf give the canonical NaN; otherwise an infinity wins.
  assign res_nan = a_nan || b_nan || c_nan || (a_inf && b_zero) || (b_inf && a_zero)
                   || (p_inf && c_inf && (sign_p_o != sign_c_o));
  assign special_o = res_nan || p_inf || c_inf;
  always_comb begin
    special_res_o = 16'h7FC0;
    if (!res_nan) begin
      special_res_o = {p_inf ? sign_p_o : sign_c_o, 15'h7F80};
    end
  end

  assign mul_a_o = a_zero ? 9'd0 : {2'b01, a_i[6:0]};
  assign mul_b_o = b_zero ? 9'd0 : {2'b01, b_i[6:0]};
  assign sig_c_o = c_zero ? 8'd0 : {1'b1, c_i[6:0]};

  // Exponent of the window's carry bit for each choice of upper operand, and their difference
  // (the product's nominal MSB is bit 15 of the 16-bit product: weight 2^(ea+eb-253)).
  assign exp_p = {2'b00, ea} + {2'b00, eb} - 10'd125;
  assign exp_c = {2'b00, ec} + 10'd1;
  assign diff  = exp_p - exp_c;  // in [-378, 381]
  assign diff_abs = diff[9] ? (10'd0 - diff) : diff;

  assign c_big_o = p_zero || (!c_zero && diff[9]);
  assign exp_o   = c_big_o ? exp_c : exp_p;
  assign shift_o = (diff_abs > 10'd31) ? 5'd31 : diff_abs[4:0];

endmodule
