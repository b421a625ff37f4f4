// binary32 -> bf16, rounded once by the bf16 rules (tataa.numerics.f32_to_bf16): RNE to 8 significant
// bits with an unbounded exponent, then magnitudes below 2^-126 flush to a signed zero, magnitudes above
// 0x7F7F become infinities, and every NaN becomes 0x7FC0. The fp32 value is taken exactly: a subnormal
// fp32 rounds up to 2^-126 when it is at least 2^-126 * (1 - 2^-9) (fraction field >= 0x7FC000).
module tataa_fp32_to_bf16 (
  input  logic [31:0] a_i,
  output logic [15:0] res_o
);

  logic        sign, is_nan, is_sub, sub_up, round_up;
  logic [7:0]  e;
  logic [22:0] f;
  logic [14:0] rounded, sub_res;

  assign sign = a_i[31];
  assign e    = a_i[30:23];
  assign f    = a_i[22:0];

  assign is_nan = (e == 8'hFF) && (f != '0);
  assign is_sub = (e == 8'h00);
  assign sub_up = (f >= 23'h7F_C000);

  // Normal and infinite inputs: round the 23-bit fraction to 7 bits; a carry bumps the exponent, and
  // exponent 254 carrying gives 255 with a zero fraction: infinity. Infinity itself is unchanged.
  assign round_up = f[15] && (f[16] || (f[14:0] != '0));
  assign rounded  = {e, f[22:16]} + {14'd0, round_up};  // no NaN reaches here: at most 0x7F80

  assign sub_res = sub_up ? 15'h0080 : 15'h0000;

  always_comb begin
    if (is_nan) begin
      res_o = 16'h7FC0;
    end else if (is_sub) begin
      res_o = {sign, sub_res};
    end else begin
      res_o = {sign, rounded};
    end
  end

endmodule
