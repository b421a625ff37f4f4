// bf16 maximum and minimum (tataa.numerics.bf16_max / bf16_min): DAZ operands, -0 orders below +0,
// the canonical NaN 0x7FC0 if either operand is NaN. Also the node of the REDMAX lane tree.
module tataa_bf16_minmax (
  input  logic [15:0] a_i,
  input  logic [15:0] b_i,
  output logic [15:0] max_o,
  output logic [15:0] min_o
);

  logic [15:0] x, y, kx, ky;
  logic        any_nan, x_ge_y;

  // DAZ: an exponent field of 0 is a zero of that sign.
  assign x = (a_i[14:7] == 8'h00) ? {a_i[15], 15'h0000} : a_i;
  assign y = (b_i[14:7] == 8'h00) ? {b_i[15], 15'h0000} : b_i;

  assign any_nan = (x[14:0] > 15'h7F80) || (y[14:0] > 15'h7F80);

  // Unsigned order keys of the values (not of NaNs): positives above negatives, -0 just below +0.
  assign kx = x[15] ? {1'b0, ~x[14:0]} : {1'b1, x[14:0]};
  assign ky = y[15] ? {1'b0, ~y[14:0]} : {1'b1, y[14:0]};
  assign x_ge_y = (kx >= ky);

  assign max_o = any_nan ? 16'h7FC0 : (x_ge_y ? x : y);
  assign min_o = any_nan ? 16'h7FC0 : (x_ge_y ? y : x);

endmodule
