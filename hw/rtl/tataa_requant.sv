// Requantization of one accumulator lane (tataa.numerics.requant_int8 / requant_bf16).
// The scale word packs an unsigned multiplier m (bits 15:0) and a shift s (bits 21:16); bits 31:22 are
// ignored. With the exact product p = acc * m (|p| < 2^47):
//   i8_o   = saturate_int8(round_half_even(p / 2^s))
//   bf16_o = p * 2^-s rounded once to bf16 (RNE; a zero product is +0; the result is always in the
//            normal range: 2^-63 <= |p * 2^-s| < 2^47).
module tataa_requant (
  input  logic [31:0] acc_i,    // int32 accumulator
  /* verilator lint_off UNUSEDSIGNAL */  // scale_i[31:22] are ignored by definition
  input  logic [31:0] scale_i,  // packed scale: m = [15:0], s = [21:16]
  /* verilator lint_on UNUSEDSIGNAL */
  output logic [7:0]  i8_o,     // int8 result (two's complement)
  output logic [15:0] bf16_o    // bf16 result
);

  logic signed [31:0] acc_s;
  logic signed [16:0] m_s;
  logic signed [48:0] p_full;
  logic signed [47:0] p;        // the product fits 48-bit two's complement
  logic [5:0]         s, s_eff;
    logic [47:0]        q, low, r, half;
  logic               guard, sticky, up, fits;
  logic               neg, is_zero, b_up;
  logic [47:0]        mag, norm;
  logic [5:0]         lzc;
  logic [7:0]         frac_r, exp_r;

  assign acc_s  = acc_i;
  assign m_s    = {1'b0, scale_i[15:0]};
  assign p_full = acc_s * m_s;
  assign p      = p_full[47:0];  // p_full[48] repeats the sign
  assign s      = scale_i[21:16];

  // ---- int8: floor shift, round half to even from the remainder, saturate.
  // |p| < 2^47, so every s >= 48 rounds like s = 48 (to 0).
  assign s_eff  = (s > 6'd48) ? 6'd48 : s;
  assign q      = p >>> s_eff;  // arithmetic: floor(p / 2^s)
  assign half   = (s_eff == 6'd0) ? 48'd0 : (48'd1 << (s_eff - 6'd1));  // 2^(s-1)
  assign low    = p & ~({48{1'b1}} << s_eff);  // p mod 2^s
  assign guard  = |(low & half);
  assign sticky = |(low & (half - 48'd1));  // bits below 2^(s-1) (low is 0 when s = 0)
  assign up     = guard && (sticky || q[0]);
  assign r      = q + {47'd0, up};
  assign fits   = (r[47:7] == '0) || (r[47:7] == '1);
  assign i8_o   = fits ? r[7:0] : (r[47] ? 8'h80 : 8'h7F);

  // ---- bf16: normalise |p|, round to 8 significant bits.
  assign neg     = p[47];
  assign mag     = neg ? (~p + 48'd1) : p;
  assign is_zero = (p == '0);

  tataa_clz_norm #(.Width(48), .CntW(6)) u_norm (.in_i(mag), .cnt_o(lzc), .norm_o(norm));

  assign b_up   = norm[39] && (norm[40] || (norm[38:0] != '0));
  assign frac_r = {1'b0, norm[46:40]} + {7'd0, b_up};  // bit 7 carries into the exponent
  // MSB of |p| at bit 47 - lzc: biased exponent 127 + 47 - lzc - s (in [64, 174], no FTZ or overflow)
  assign exp_r  = 8'd174 - {2'b00, lzc} - {2'b00, s} + {7'd0, frac_r[7]};

  assign bf16_o = is_zero ? 16'h0000 : {neg, exp_r, frac_r[6:0]};

  // p_full[48] and norm[47] (always 1 after normalisation) are not needed.
  /* verilator lint_off UNUSEDSIGNAL */
  logic unused;
  assign unused = p_full[48] ^ norm[47];
  /* verilator lint_on UNUSEDSIGNAL */

endmodule
