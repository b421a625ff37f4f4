// bf16 fused multiply-add, stage 3 of 3: add the addend to the exact significand product, round once.
//
// Inputs come from tataa_bf16_fma_pre and from the 9x9 multiplier (prod_i = mul_a_o * mul_b_o).
// The upper operand sits in a Win-bit window with its nominal MSB at bit Win-2 and Guard bits below
// its 16 significand bits; the lower operand is shifted right by shift_i. Bits shifted out of the
// window are not dropped silently: for an effective subtraction one extra unit is subtracted and the
// rounding sees a sticky bit, so the window value lies strictly within one unit below the exact sum
// and rounds like it. Bits are only lost when shift_i > Guard >= 2, where the sum is positive and has
// at most 3 leading zeros, so the 8 kept bits, the round bit and the sticky bit lie well above bit 0.
// Then: normalise, round to 8 bits RNE with an unbounded exponent, flush magnitudes below 2^-126 to a
// zero with the sign of the exact result (FTZ), send magnitudes above 0x7F7F to infinity.
// An exact zero sum is -0 only when both terms are -0 (IEEE, round to nearest).
module tataa_bf16_fma_post (
  /* verilator lint_off UNUSEDSIGNAL */  // prod_i[17:16]: the PE's 9x9 product of two 8-bit significands is < 2^16
  input  logic [17:0] prod_i,          // mul_a_o * mul_b_o (signed 9x9 product; non-negative here)
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic [7:0]  sig_c_i,
  input  logic        sign_p_i,
  input  logic        sign_c_i,
  input  logic        c_big_i,
  input  logic [4:0]  shift_i,         // saturated at 31: every shift >= Win empties the window alike
  input  logic [9:0]  exp_i,
  input  logic        special_i,
  input  logic [15:0] special_res_i,
  output logic [15:0] res_o
);

  localparam int Guard = 10;
  localparam int Win   = 1 + 16 + Guard;  // carry bit, 16 significand bits, guard bits
  localparam int LzcW  = 5;                // leading-zero count width: 2^(LzcW-1) <= Win < 2^LzcW

  logic [15:0]       big16, small16;
  logic [Win-1:0]    big_w, small_w, mag, norm;
  logic [Win+30:0]   small_wide;
  logic              lost, eff_sub, neg, is_zero, round_up, sign;
  logic [Win:0]      sum;
  logic [LzcW-1:0]   lzc;
  logic [7:0]        rounded;
  logic [9:0]        exp_n, exp_r;
  logic              ftz, ovf;
  logic [6:0]        frac;
  logic [7:0]        expf;

  assign big16   = c_big_i ? {sig_c_i, 8'h00} : prod_i[15:0];
  assign small16 = c_big_i ? prod_i[15:0] : {sig_c_i, 8'h00};
  assign big_w   = {1'b0, big16, {Guard{1'b0}}};

  // Align the lower operand; everything shifted below the window is collected in `lost`.
  assign small_wide = {1'b0, small16, {Guard{1'b0}}, 31'd0} >> shift_i;
  assign small_w    = small_wide[Win+30 -: Win];
  assign lost       = |small_wide[30:0];

  assign eff_sub = sign_p_i ^ sign_c_i;
  assign sum = eff_sub ? ({1'b0, big_w} - {1'b0, small_w} - {{Win{1'b0}}, lost})
                       : ({1'b0, big_w} + {1'b0, small_w});
  assign neg = sum[Win];  // only possible when nothing was lost
  assign mag = neg ? (~sum[Win-1:0] + {{(Win-1){1'b0}}, 1'b1}) : sum[Win-1:0];
  assign is_zero = (mag == '0) && !lost;
  assign sign = (c_big_i ? sign_c_i : sign_p_i) ^ neg;

  // Leading-zero count and normalisation (MSB to bit Win-1).
  tataa_clz_norm #(.Width(Win), .CntW(LzcW)) u_norm (.in_i(mag), .cnt_o(lzc), .norm_o(norm));

  // Round to 8 significant bits, ties to even; the sticky bit includes the bits lost in alignment.
  assign round_up = norm[Win-9] && (norm[Win-8] || (|norm[Win-10:0]) || lost);
  assign rounded  = {1'b0, norm[Win-2 -: 7]} + {7'h00, round_up};  // fraction; bit 7 carries into the exponent
  assign exp_n    = exp_i - {{(10-LzcW){1'b0}}, lzc};
  assign exp_r    = exp_n + {9'h000, rounded[7]};

  assign ftz  = exp_r[9] || (exp_r == 10'd0);  // the rounded magnitude is below 2^-126
  assign ovf  = !exp_r[9] && (exp_r >= 10'd255);  // the rounded magnitude is above 0x7F7F
  assign frac = rounded[6:0];
  assign expf = exp_r[7:0];

  always_comb begin
    if (special_i) begin
      res_o = special_res_i;
    end else if (is_zero) begin
      res_o = {sign_p_i & sign_c_i, 15'h0000};
    end else if (ftz) begin
      res_o = {sign, 15'h0000};
    end else if (ovf) begin
      res_o = {sign, 15'h7F80};
    end else begin
      res_o = {sign, expf, frac};
    end
  end

endmodule
