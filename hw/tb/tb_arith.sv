// Test bench of the combinational elementwise arithmetic units (hw/rtl/tataa_{bf16_*,fp32_*,simd_lane,requant});
// the reductions have their own bench, tb_lane_reduce.sv (kept apart so that its many adders are not
// evaluated at every step of the long elementwise runs).
//
// Plusargs: +unit=<name> +vec=<stimulus file> +out=<result file> +n=<stimulus lines>.
// The stimulus is read with $readmemh (one vector per line); one result line ("%h") is written per vector:
//   lane     {funct[4:0], a, b, c}          -> {i8, res}       tataa_simd_lane
//   fma      {a, b, c}                      -> res             tataa_bf16_fma
//   fp32add  {a[31:0], b[31:0]}             -> sum[31:0]       tataa_fp32_add
//   f32cvt   a[31:0]                        -> bf16            tataa_fp32_to_bf16
//   sqr      x                              -> x*x [31:0]      tataa_bf16_sqr_fp32
//   requant  {acc[31:0], scale[31:0]}       -> {i8, bf16}      tataa_requant
module tb_arith;

  localparam int MaxVec = 1 << 23;

  logic [63:0] mem [MaxVec];
  string unit, vec_file, out_file;
  int n, fd;

  // ---- units under test
  logic [4:0]  l_funct;
  logic [15:0] l_a, l_b, l_c, l_res;
  logic [7:0]  l_i8;
  tataa_simd_lane u_lane (.funct_i(l_funct), .a_i(l_a), .b_i(l_b), .c_i(l_c), .res_o(l_res), .i8_o(l_i8));

  logic [15:0] f_a, f_b, f_c, f_res;
  tataa_bf16_fma u_fma (.a_i(f_a), .b_i(f_b), .c_i(f_c), .res_o(f_res));

  logic [31:0] s_a, s_b, s_sum;
  tataa_fp32_add u_fp32_add (.a_i(s_a), .b_i(s_b), .sum_o(s_sum));

  logic [31:0] v_a;
  logic [15:0] v_res;
  tataa_fp32_to_bf16 u_cvt (.a_i(v_a), .res_o(v_res));

  logic [15:0] q_x;
  logic [31:0] q_sq;
  tataa_bf16_sqr_fp32 u_sqr (.x_i(q_x), .sq_o(q_sq));

  logic [31:0] r_acc, r_scale;
  logic [7:0]  r_i8;
  logic [15:0] r_bf16;
  tataa_requant u_requant (.acc_i(r_acc), .scale_i(r_scale), .i8_o(r_i8), .bf16_o(r_bf16));

  initial begin
    if (!$value$plusargs("unit=%s", unit) || !$value$plusargs("vec=%s", vec_file)
        || !$value$plusargs("out=%s", out_file) || !$value$plusargs("n=%d", n)) begin
      $fatal(1, "tb_arith: +unit, +vec, +out and +n are required");
    end
    if (n < 1 || n > MaxVec) $fatal(1, "tb_arith: +n=%0d outside 1..%0d", n, MaxVec);
    $readmemh(vec_file, mem, 0, n - 1);
    fd = $fopen(out_file, "w");
    if (fd == 0) $fatal(1, "tb_arith: cannot open %s", out_file);
    for (int i = 0; i < n; i++) begin
      case (unit)
        "lane": begin
          {l_funct, l_a, l_b, l_c} = mem[i][52:0];
          #1 $fwrite(fd, "%h\n", {l_i8, l_res});
        end
        "fma": begin
          {f_a, f_b, f_c} = mem[i][47:0];
          #1 $fwrite(fd, "%h\n", f_res);
        end
        "fp32add": begin
          {s_a, s_b} = mem[i];
          #1 $fwrite(fd, "%h\n", s_sum);
        end
        "f32cvt": begin
          v_a = mem[i][31:0];
          #1 $fwrite(fd, "%h\n", v_res);
        end
        "sqr": begin
          q_x = mem[i][15:0];
          #1 $fwrite(fd, "%h\n", q_sq);
        end
        "requant": begin
          {r_acc, r_scale} = mem[i];
          #1 $fwrite(fd, "%h\n", {r_i8, r_bf16});
        end
        default: $fatal(1, "tb_arith: unknown unit %s", unit);
      endcase
    end
    $fclose(fd);
    $finish;
  end

endmodule
