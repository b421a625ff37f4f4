// The REDSUMSQ term: x*x of a bf16 x as an IEEE binary32 with FTZ (tataa.numerics.reduce_sumsq: the
// fp32 product x*x). The DAZ operand's square has at most 16 significant bits, so it is exact unless it
// overflows (|x| >= 2^64 gives +inf) or falls below 2^-126 (|x| < 2^-63 gives +0). Zeros give +0,
// infinities +inf, NaN the quiet NaN 0x7FC00000.
module tataa_bf16_sqr_fp32 (
  /* verilator lint_off UNUSEDSIGNAL */  // x_i[15]: the sign does not matter to a square
  input  logic [15:0] x_i,
  /* verilator lint_on UNUSEDSIGNAL */
  output logic [31:0] sq_o
);

  logic [7:0]  e, expf;
  logic [7:0]  sig;
  logic [15:0] sq;
  logic [9:0]  exp_r;
  logic [22:0] frac;
  logic        is_zero, is_nan, is_inf, ftz, ovf;

  assign e   = x_i[14:7];
  assign sig = {1'b1, x_i[6:0]};
  assign sq  = sig * sig;  // in [2^14, 2^16)

  assign is_zero = (e == 8'h00);  // DAZ
  assign is_nan  = (e == 8'hFF) && (x_i[6:0] != 7'h00);
  assign is_inf  = (e == 8'hFF) && (x_i[6:0] == 7'h00);

  // x = sig * 2^(e-134), x*x = sq * 2^(2e-268); its MSB (bit 15 or 14 of sq) has biased fp32 exponent
  // 2e - 126 or 2e - 127.
  assign exp_r = {1'b0, e, 1'b0} - (sq[15] ? 10'd126 : 10'd127);
  assign frac  = sq[15] ? {sq[14:0], 8'h00} : {sq[13:0], 9'h000};
  assign ftz   = exp_r[9] || (exp_r == 10'd0);
  assign ovf   = !exp_r[9] && (exp_r >= 10'd255);

  assign expf  = exp_r[7:0];

  always_comb begin
    if (is_nan) begin
      sq_o = 32'h7FC0_0000;
    end else if (is_inf || ovf) begin
      sq_o = 32'h7F80_0000;
    end else if (is_zero || ftz) begin
      sq_o = 32'h0000_0000;
    end else begin
      sq_o = {1'b0, expf, frac};
    end
  end

endmodule
