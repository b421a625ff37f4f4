// bf16 fused multiply-add res = a*b + c, rounded once (tataa.numerics.bf16_fma): tataa_bf16_fma_pre,
// a local signed 9x9 significand multiplier (the one a PE lends in SIMD mode), tataa_bf16_fma_post.
// Combinational; DAZ operands, RNE, FTZ, overflow to infinity, canonical NaN 0x7FC0.
module tataa_bf16_fma (
  input  logic [15:0] a_i,
  input  logic [15:0] b_i,
  input  logic [15:0] c_i,
  output logic [15:0] res_o
);

  logic [8:0]         mul_a, mul_b;
  logic signed [8:0]  mul_a_s, mul_b_s;
  logic signed [17:0] prod;
  logic [7:0]         sig_c;
  logic               sign_p, sign_c, c_big, special;
  logic [4:0]         shift;
  logic [9:0]         exp_w;
  logic [15:0]        special_res;

  tataa_bf16_fma_pre u_pre (
    .a_i, .b_i, .c_i,
    .mul_a_o(mul_a), .mul_b_o(mul_b), .sig_c_o(sig_c), .sign_p_o(sign_p), .sign_c_o(sign_c),
    .c_big_o(c_big), .shift_o(shift), .exp_o(exp_w), .special_o(special), .special_res_o(special_res)
  );

  assign mul_a_s = mul_a;
  assign mul_b_s = mul_b;
  assign prod    = mul_a_s * mul_b_s;  // the signed 9x9 multiplier of a PE

  tataa_bf16_fma_post u_post (
    .prod_i(prod), .sig_c_i(sig_c), .sign_p_i(sign_p), .sign_c_i(sign_c), .c_big_i(c_big), .shift_i(shift),
    .exp_i(exp_w), .special_i(special), .special_res_i(special_res), .res_o
  );

endmodule
