// Test bench of the row reductions: per-lane running fp32 sums (tataa_fp32_add of the DAZ value or of
// tataa_bf16_sqr_fp32) and maxima (tataa_bf16_minmax) over the words of a row, then tataa_lane_reduce.
//
// Plusargs: +unit=reduce8|reduce4 (the lane count) +vec=<stimulus file> +out=<result file> +n=<lines>.
// The stimulus ($readmemh, one 16-bit value per line) is a stream of cases, each a line W followed by the
// W*N lane values, word-major. One result line {sum, sumsq, max} (bf16 each) is written per case;
// max is meaningless for W = 0.
module tb_lane_reduce;

  tb_lane_reduce_run #(.Lanes(8), .Name("reduce8")) u_red8 ();
  tb_lane_reduce_run #(.Lanes(4), .Name("reduce4")) u_red4 ();

  initial begin
    string unit;
    if (!$value$plusargs("unit=%s", unit) || (unit != "reduce8" && unit != "reduce4")) begin
      $fatal(1, "tb_lane_reduce: +unit=reduce8 or +unit=reduce4 is required");
    end
  end

endmodule

// Running per-lane reductions over the words of each case, then the lane tree (active when +unit=Name).
module tb_lane_reduce_run #(
  parameter int    Lanes = 8,
  parameter string Name  = "reduce8"
);

  localparam int MaxVec = 1 << 20;

  logic [15:0] mem [MaxVec];
  string unit, vec_file, out_file;
  int n, fd, ptr, w_count;

  logic [Lanes*16-1:0] x, x_word, run_max, max_next;
  logic [Lanes*32-1:0] acc_s, acc_q, acc_s_next, acc_q_next, sq;
  logic [15:0] sum_bf16, sumsq_bf16, max_bf16;
  logic [31:0] sum_f32, sumsq_f32;

  for (genvar j = 0; j < Lanes; j++) begin : g_lane
    logic [15:0] xj, xj_daz;
    assign xj = x[j*16 +: 16];
    assign xj_daz = (xj[14:7] == 8'h00) ? {xj[15], 15'h0000} : xj;
    tataa_fp32_add u_add_s (.a_i(acc_s[j*32 +: 32]), .b_i({xj_daz, 16'h0000}), .sum_o(acc_s_next[j*32 +: 32]));
    tataa_bf16_sqr_fp32 u_sqr (.x_i(xj), .sq_o(sq[j*32 +: 32]));
    tataa_fp32_add u_add_q (.a_i(acc_q[j*32 +: 32]), .b_i(sq[j*32 +: 32]), .sum_o(acc_q_next[j*32 +: 32]));
    tataa_bf16_minmax u_max (.a_i(run_max[j*16 +: 16]), .b_i(xj), .max_o(max_next[j*16 +: 16]), .min_o());
  end

  tataa_lane_reduce #(.Lanes(Lanes)) u_sum (
    .sum_i(acc_s), .max_i(run_max), .sum_f32_o(sum_f32), .sum_o(sum_bf16), .max_o(max_bf16)
  );
  tataa_lane_reduce #(.Lanes(Lanes)) u_sumsq (
    .sum_i(acc_q), .max_i(run_max), .sum_f32_o(sumsq_f32), .sum_o(sumsq_bf16), .max_o()
  );

  initial begin
    if ($value$plusargs("unit=%s", unit) && unit == Name) begin
      if (!$value$plusargs("vec=%s", vec_file) || !$value$plusargs("out=%s", out_file)
          || !$value$plusargs("n=%d", n)) begin
        $fatal(1, "tb_lane_reduce: +vec, +out and +n are required");
      end
      if (n < 1 || n > MaxVec) $fatal(1, "tb_lane_reduce: +n=%0d outside 1..%0d", n, MaxVec);
      $readmemh(vec_file, mem, 0, n - 1);
      fd = $fopen(out_file, "w");
      if (fd == 0) $fatal(1, "tb_lane_reduce: cannot open %s", out_file);
      ptr = 0;
      while (ptr < n) begin
        w_count = int'(mem[ptr]);
        ptr++;
        acc_s = '0;
        acc_q = '0;
        run_max = '0;
        for (int w = 0; w < w_count; w++) begin
          // whole-variable write: Verilator 5.006 missed part-select writes from this process as triggers
          for (int j = 0; j < Lanes; j++) x_word[j*16 +: 16] = mem[ptr + j];
          x = x_word;
          ptr += Lanes;
          #1;
          acc_s = acc_s_next;
          acc_q = acc_q_next;
          run_max = (w == 0) ? x : max_next;
        end
        #1 $fwrite(fd, "%h\n", {sum_bf16, sumsq_bf16, max_bf16});
      end
      $fclose(fd);
      $finish;
    end
  end

endmodule
