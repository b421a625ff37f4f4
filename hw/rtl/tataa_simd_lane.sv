// One bf16 SIMD lane: every elementwise VFunct of tataa.numerics, combinational.
//
// ADD, SUB, MUL, FMA and MAC share one fused multiply-add (tataa_bf16_fma_pre -> signed 9x9 significand
// multiplier -> tataa_bf16_fma_post): add = a*1.0 + b, sub = a*1.0 + (-b), mul = a*b + (-0), fma and
// mac = a*b + c. Each is the single rounding of the exact value, so this equals bf16_add/sub/mul/fma.
// F2I8 rounds the same exact significand product to an integer. The other functs are small logic.
// The reductions (REDMAX, REDSUM, REDSUMSQ) are not lane ops: see tataa_lane_reduce; res_o is 0 for them.
module tataa_simd_lane #(
  parameter bit ExternalMul = 1'b0  // 1: the significand product comes from a PE's multiplier (prod_i)
) (
  input  logic [4:0]  funct_i,  // a tataa_isa_pkg::vfunct_e value
  input  logic [15:0] a_i,      // operand a
  input  logic [15:0] b_i,      // operand b (a VEC lane or the broadcast constant register)
  input  logic [15:0] c_i,      // FMA: const[c_idx]; MAC and SEL: the destination's old value
  output logic [15:0] res_o,    // bf16 or bit-pattern result (0 for F2I8 and the reductions)
  output logic [7:0]  i8_o,     // F2I8 result, int8 two's complement (0 for the other functs)
  // the 8x8 significand multiplication, lent by a PE in SIMD mode when ExternalMul
  output logic [7:0]  mul_a_o,  // zero-extended significands (0 for zero and subnormal operands)
  output logic [7:0]  mul_b_o,
  input  logic [15:0] prod_i    // mul_a_o * mul_b_o (ignored unless ExternalMul)
);

  // ---- output policy on a passed-through operand: DAZ, canonical NaN
  function automatic logic [15:0] canon(input logic [15:0] x);
    if (x[14:7] == 8'h00) begin
      canon = {x[15], 15'h0000};
    end else if (x[14:0] > 15'h7F80) begin
      canon = 16'h7FC0;
    end else begin
      canon = x;
    end
  endfunction

  logic       a_sign, b_sign;
  logic [7:0] ea, eb;
  logic [6:0] fa;
  logic       a_nan, b_nan;

  assign a_sign = a_i[15];
  assign b_sign = b_i[15];
  assign ea     = a_i[14:7];
  assign eb     = b_i[14:7];
  assign fa     = a_i[6:0];
  assign a_nan  = (ea == 8'hFF) && (fa != 7'h00);
  assign b_nan  = (eb == 8'hFF) && (b_i[6:0] != 7'h00);

  // ---- the fused multiply-add datapath
  logic [15:0]        fma_b, fma_c, neg_b, fma_res;
  logic [8:0]         mul_a, mul_b;
  logic signed [8:0]  mul_a_s, mul_b_s;
  logic signed [17:0] prod;
  logic [7:0]         sig_c;
  logic               sign_p, sign_c, c_big, special;
  logic [4:0]         shift;
  logic [9:0]         exp_w;
  logic [15:0]        special_res;

  assign neg_b = {~b_sign, b_i[14:0]};

  always_comb begin
    fma_b = b_i;
    fma_c = c_i;
    unique case (funct_i)
      tataa_isa_pkg::VFUNCT_ADD: begin
        fma_b = 16'h3F80;
        fma_c = b_i;
      end
      tataa_isa_pkg::VFUNCT_SUB: begin
        fma_b = 16'h3F80;
        fma_c = neg_b;
      end
      tataa_isa_pkg::VFUNCT_MUL, tataa_isa_pkg::VFUNCT_F2I8: begin
        fma_c = 16'h8000;
      end
      default: begin
      end
    endcase
  end

  tataa_bf16_fma_pre u_pre (
    .a_i(a_i), .b_i(fma_b), .c_i(fma_c),
    .mul_a_o(mul_a), .mul_b_o(mul_b), .sig_c_o(sig_c), .sign_p_o(sign_p), .sign_c_o(sign_c),
    .c_big_o(c_big), .shift_o(shift), .exp_o(exp_w), .special_o(special), .special_res_o(special_res)
  );

  assign mul_a_s = mul_a;
  assign mul_b_s = mul_b;
  assign mul_a_o = mul_a[7:0];  // bit 8 is always 0: significands are unsigned 8-bit numbers
  assign mul_b_o = mul_b[7:0];
  // the signed 9x9 multiplier: a PE's in SIMD mode, or a local one
  assign prod    = ExternalMul ? {2'b00, prod_i} : mul_a_s * mul_b_s;

  tataa_bf16_fma_post u_post (
    .prod_i(prod), .sig_c_i(sig_c), .sign_p_i(sign_p), .sign_c_i(sign_c), .c_big_i(c_big), .shift_i(shift),
    .exp_i(exp_w), .special_i(special), .special_res_i(special_res), .res_o(fma_res)
  );

  // ---- F2I8: saturate_int8(RNE(a*b)); a*b = prod * 2^(ea+eb-268); NaN gives 0, infinities saturate
  logic [8:0]  esum;
  logic [3:0]  f2i_sh;
  logic [25:0] f2i_y;
  logic        f2i_up;
  logic [8:0]  f2i_q;
  logic [7:0]  f2i_pos, f2i_neg, f2i8;

  assign esum    = {1'b0, ea} + {1'b0, eb};
  assign f2i_sh  = 4'd4 - esum[3:0];  // 260 - esum (mod 16): in [0, 9] when esum in [251, 260]
  assign f2i_y   = {prod[15:0], 10'd0} >> f2i_sh;  // prod * 2^(esum - 250): integer part in bits 25:18
  assign f2i_up  = f2i_y[17] && (f2i_y[18] || (f2i_y[16:0] != '0));
  assign f2i_q   = {1'b0, f2i_y[25:18]} + {8'd0, f2i_up};
  assign f2i_pos = (f2i_q >= 9'd127) ? 8'h7F : f2i_q[7:0];
  assign f2i_neg = (f2i_q >= 9'd128) ? 8'h80 : (8'd0 - f2i_q[7:0]);

  always_comb begin
    if (special) begin
      f2i8 = (special_res == 16'h7FC0) ? 8'h00 : (sign_p ? 8'h80 : 8'h7F);
    end else if (esum >= 9'd261) begin
      f2i8 = sign_p ? 8'h80 : 8'h7F;  // |a*b| >= 2^14 * 2^-7 = 128
    end else if (esum < 9'd251) begin
      f2i8 = 8'h00;  // |a*b| < 2^16 * 2^-18: rounds to 0
    end else begin
      f2i8 = sign_p ? f2i_neg : f2i_pos;
    end
  end

  // ---- MAX, MIN
  logic [15:0] max_res, min_res;
  tataa_bf16_minmax u_minmax (.a_i(a_i), .b_i(b_i), .max_o(max_res), .min_o(min_res));

  // ---- CMPLT, CMPEQ on the DAZ values: +0 == -0, false with a NaN
  logic [15:0] ka, kb;
  logic        cmp_nan, lt, eq;

  assign ka = (ea == 8'h00) ? 16'h8000 : (a_sign ? {1'b0, ~a_i[14:0]} : {1'b1, a_i[14:0]});
  assign kb = (eb == 8'h00) ? 16'h8000 : (b_sign ? {1'b0, ~b_i[14:0]} : {1'b1, b_i[14:0]});
  assign cmp_nan = a_nan || b_nan;
  assign lt = !cmp_nan && (ka < kb);
  assign eq = !cmp_nan && (ka == kb);

  // ---- SEL: a if c != 0 else b (c read with DAZ; a NaN c is non-zero)
  logic [15:0] sel_res;
  assign sel_res = canon((c_i[14:7] != 8'h00) ? a_i : b_i);

  // ---- FLOOR (exact): clear the fraction bits; a negative non-integer steps down by one unit
  logic [2:0]  fl_f;  // fraction bits of a for ea in [127, 133]: 134 - ea
  logic [6:0]  fl_mask;
  logic [7:0]  fl_one, fl_sum;
  logic        fl_frac_nz;
  logic [15:0] floor_res;

  assign fl_f       = 3'd6 - ea[2:0];  // ea in [127, 133] -> 134 - ea in [7, 1]
  assign fl_mask    = ~(7'h7F << fl_f);
  assign fl_one     = 8'h01 << fl_f;
  assign fl_frac_nz = (fa & fl_mask) != 7'h00;
  // truncated fraction, plus one unit for a negative non-integer; bit 7 carries into the exponent
  assign fl_sum     = {1'b0, fa & ~fl_mask} + ((a_sign && fl_frac_nz) ? fl_one : 8'd0);

  always_comb begin
    if (ea == 8'h00) begin
      floor_res = {a_sign, 15'h0000};
    end else if (ea >= 8'd134) begin
      floor_res = canon(a_i);  // an integer already (or inf, NaN)
    end else if (ea < 8'd127) begin
      floor_res = a_sign ? 16'hBF80 : 16'h0000;  // |a| < 1
    end else begin
      floor_res = {a_sign, ea + {7'd0, fl_sum[7]}, fl_sum[6:0]};
    end
  end

  // ---- GETEXP: the unbiased exponent as a bf16 integer (0 -> -inf, inf -> +inf, NaN -> NaN)
  logic       ge_neg;
  logic [6:0] ge_mag, ge_norm;
  logic [2:0] ge_lz;
  logic [15:0] getexp_res;

  assign ge_neg = (ea < 8'd127);
  assign ge_mag = ge_neg ? (7'd127 - ea[6:0]) : (ea[6:0] + 7'd1);  // |ea - 127|
  tataa_clz_norm #(.Width(7), .CntW(3)) u_ge_norm (.in_i(ge_mag), .cnt_o(ge_lz), .norm_o(ge_norm));

  always_comb begin
    if (ea == 8'h00) begin
      getexp_res = 16'hFF80;
    end else if (ea == 8'hFF) begin
      getexp_res = a_nan ? 16'h7FC0 : 16'h7F80;
    end else if (ge_mag == 7'd0) begin
      getexp_res = 16'h0000;
    end else begin
      getexp_res = {ge_neg, 8'd133 - {5'd0, ge_lz}, ge_norm[5:0], 1'b0};
    end
  end

  /* verilator lint_off UNUSEDSIGNAL */
  logic unused_ge;
  assign unused_ge = ge_norm[6];  // the normalised MSB, always 1 where used
  /* verilator lint_on UNUSEDSIGNAL */

  // ---- GETMANT: sign * 1.f (0, inf, NaN pass through with the output policy)
  logic [15:0] getmant_res;
  assign getmant_res = ((ea == 8'h00) || (ea == 8'hFF)) ? canon(a_i) : {a_sign, 8'h7F, fa};

  // ---- LDEXP: a * 2^clamp(floor(b), -300, 300), exact scaling then FTZ / overflow; NaN b gives NaN
  logic [3:0]  ld_sh;
  logic [8:0]  ld_v, ld_t;
  logic        ld_fnz;
  logic [9:0]  ld_mag, ld_clamp, ld_n;
  logic [10:0] ld_e;
  logic [15:0] ldexp_res;

  assign ld_sh  = 4'd7 - eb[3:0];  // 135 - eb in [0, 8] for eb in [127, 135]
  assign ld_v   = {1'b1, b_i[6:0], 1'b0};  // |b| * 2^(135 - eb)
  assign ld_t   = ld_v >> ld_sh;
  assign ld_fnz = (ld_v & ~(9'h1FF << ld_sh)) != 9'd0;
  always_comb begin
    if (eb == 8'h00) begin
      ld_mag = 10'd0;
    end else if (eb < 8'd127) begin
      ld_mag = {9'd0, b_sign};  // floor of -1 < b < 1: -1 or 0
    end else if (eb <= 8'd135) begin
      ld_mag = {1'b0, ld_t} + {9'd0, b_sign && ld_fnz};
    end else begin
      ld_mag = 10'd300;  // |b| >= 512 or infinite
    end
  end
  assign ld_clamp = (ld_mag > 10'd300) ? 10'd300 : ld_mag;
  assign ld_n     = b_sign ? (10'd0 - ld_clamp) : ld_clamp;
  assign ld_e     = {3'd0, ea} + {ld_n[9], ld_n};

  always_comb begin
    if (a_nan || b_nan) begin
      ldexp_res = 16'h7FC0;
    end else if ((ea == 8'h00) || (ea == 8'hFF)) begin
      ldexp_res = canon(a_i);  // zeros and infinities are unchanged
    end else if (ld_e[10] || (ld_e == 11'd0)) begin
      ldexp_res = {a_sign, 15'h0000};
    end else if (ld_e >= 11'd255) begin
      ldexp_res = {a_sign, 15'h7F80};
    end else begin
      ldexp_res = {a_sign, ld_e[7:0], fa};
    end
  end

  // ---- result mux
  always_comb begin
    res_o = 16'h0000;
    i8_o  = 8'h00;
    unique case (funct_i)
      tataa_isa_pkg::VFUNCT_ADD,
      tataa_isa_pkg::VFUNCT_SUB,
      tataa_isa_pkg::VFUNCT_MUL,
      tataa_isa_pkg::VFUNCT_FMA,
      tataa_isa_pkg::VFUNCT_MAC:     res_o = fma_res;
      tataa_isa_pkg::VFUNCT_MAX:     res_o = max_res;
      tataa_isa_pkg::VFUNCT_MIN:     res_o = min_res;
      tataa_isa_pkg::VFUNCT_CMPLT:   res_o = lt ? 16'h3F80 : 16'h0000;
      tataa_isa_pkg::VFUNCT_CMPEQ:   res_o = eq ? 16'h3F80 : 16'h0000;
      tataa_isa_pkg::VFUNCT_SEL:     res_o = sel_res;
      tataa_isa_pkg::VFUNCT_MOV:     res_o = canon(a_i);
      tataa_isa_pkg::VFUNCT_ABS:     res_o = canon({1'b0, a_i[14:0]});
      tataa_isa_pkg::VFUNCT_FLOOR:   res_o = floor_res;
      tataa_isa_pkg::VFUNCT_GETEXP:  res_o = getexp_res;
      tataa_isa_pkg::VFUNCT_GETMANT: res_o = getmant_res;
      tataa_isa_pkg::VFUNCT_LDEXP:   res_o = ldexp_res;
      tataa_isa_pkg::VFUNCT_IADD:    res_o = a_i + b_i;
      tataa_isa_pkg::VFUNCT_ISUB:    res_o = a_i - b_i;
      tataa_isa_pkg::VFUNCT_ISHR:    res_o = a_i >> b_i[3:0];
      tataa_isa_pkg::VFUNCT_ISHL:    res_o = a_i << b_i[3:0];
      tataa_isa_pkg::VFUNCT_F2I8:    i8_o  = f2i8;
      default: begin
      end
    endcase
  end

endmodule
