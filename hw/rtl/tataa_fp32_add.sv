// IEEE binary32 addition a + b, round to nearest even, with FTZ on the result: a result below 2^-126
// in magnitude becomes a zero of its sign (tataa.numerics.reduce.ftz_f32(a + b)). Operands are read
// exactly (subnormal operands included). x + (-x) = +0, (-0) + (-0) = -0; a NaN operand or inf - inf
// gives the quiet NaN 0x7FC00000; overflow gives a signed infinity. Used by REDSUM/REDSUMSQ.
//
// The larger magnitude sits in a Win-bit window (carry bit, 24 significand bits, Guard bits); the
// smaller is shifted right, and bits shifted out of the window make a sticky bit (for an effective
// subtraction one extra unit is subtracted, so the window value is within one unit below the exact
// sum). A sum below 2^-126 is always exact (both operands are multiples of 2^-149), so rounding with an
// unbounded exponent and then flushing equals IEEE rounding followed by the flush.
module tataa_fp32_add (
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic [31:0] sum_o
);

  localparam int Guard = 3;
  localparam int Win   = 1 + 24 + Guard;
  localparam int LzcW  = 5;  // 2^(LzcW-1) <= Win < 2^LzcW

  logic            a_nan, b_nan, a_inf, b_inf, swap, eff_sub, lost, is_zero, round_up;
  logic            ftz, ovf, res_nan, sign, zsign;
  logic [7:0]      expf;
  logic [22:0]     frac;
  logic [31:0]     hi, lo;
  logic [7:0]      e_hi, e_lo;
  logic [23:0]     sig_hi, sig_lo;
  logic [7:0]      d;
  logic [4:0]      shift;
  logic [Win-1:0]  hi_w, lo_w, mag, norm;
  logic [Win+30:0] lo_wide;
  logic [LzcW-1:0] lzc;
  logic [23:0]     rounded;
  logic [9:0]      exp_r;

  assign a_nan = (a_i[30:23] == 8'hFF) && (a_i[22:0] != '0);
  assign b_nan = (b_i[30:23] == 8'hFF) && (b_i[22:0] != '0);
  assign a_inf = (a_i[30:23] == 8'hFF) && (a_i[22:0] == '0);
  assign b_inf = (b_i[30:23] == 8'hFF) && (b_i[22:0] == '0);

  // Order by magnitude (the bit patterns order finite magnitudes).
  assign swap  = b_i[30:0] > a_i[30:0];
  assign hi   = swap ? b_i : a_i;
  assign lo = swap ? a_i : b_i;

  // Subnormals: no hidden bit, exponent 1.
  assign e_hi     = (hi[30:23] == 8'h00) ? 8'h01 : hi[30:23];
  assign e_lo   = (lo[30:23] == 8'h00) ? 8'h01 : lo[30:23];
  assign sig_hi   = {hi[30:23] != 8'h00, hi[22:0]};
  assign sig_lo = {lo[30:23] != 8'h00, lo[22:0]};

  assign d     = e_hi - e_lo;
  assign shift = (d > 8'd31) ? 5'd31 : d[4:0];

  assign hi_w      = {1'b0, sig_hi, {Guard{1'b0}}};
  assign lo_wide = {1'b0, sig_lo, {Guard{1'b0}}, 31'd0} >> shift;
  assign lo_w    = lo_wide[Win+30 -: Win];
  assign lost       = |lo_wide[30:0];

  assign eff_sub = hi[31] ^ lo[31];
  assign mag = eff_sub ? (hi_w - lo_w - {{(Win-1){1'b0}}, lost}) : (hi_w + lo_w);
  assign is_zero = (mag == '0) && !lost;

  tataa_clz_norm #(.Width(Win), .CntW(LzcW)) u_norm (.in_i(mag), .cnt_o(lzc), .norm_o(norm));

  // The window's bit Win-2 has exponent e_hi, so the normalised MSB has e_hi + 1 - lzc.
  assign round_up = norm[Win-25] && (norm[Win-24] || (|norm[Win-26:0]) || lost);
  assign rounded  = {1'b0, norm[Win-2 -: 23]} + {23'd0, round_up};  // fraction; bit 23 carries
  assign exp_r    = {2'b00, e_hi} + 10'd1 - {{(10-LzcW){1'b0}}, lzc} + {9'd0, rounded[23]};
  assign ftz      = exp_r[9] || (exp_r == 10'd0);
  assign ovf      = !exp_r[9] && (exp_r >= 10'd255);

  assign res_nan = a_nan || b_nan || (a_inf && b_inf && (a_i[31] != b_i[31]));
  assign sign    = hi[31];
  assign zsign   = a_i[31] & b_i[31];
  assign expf    = exp_r[7:0];
  assign frac    = rounded[22:0];

  always_comb begin
    if (res_nan) begin
      sum_o = 32'h7FC0_0000;
    end else if (a_inf || b_inf) begin
      sum_o = {sign, 31'h7F80_0000};
    end else if (is_zero) begin
      sum_o = {zsign, 31'd0};
    end else if (ftz) begin
      sum_o = {sign, 31'd0};
    end else if (ovf) begin
      sum_o = {sign, 31'h7F80_0000};
    end else begin
      sum_o = {sign, expf, frac};
    end
  end

endmodule
