// Bench of tataa_requant_engine: runs one REQUANT per test case on behavioural ACC/INP/VEC
// scratchpads (1-cycle registered reads, whole-word writes, as tataa_spad) and dumps the first Words
// words of INP and VEC.
//
// Inputs (in the working directory; test k's data follows test k-1's):
//   insn.hex      one 128-bit REQUANT per test
//   acc_init.hex  Words ACC words per test (N*32 bits)
//   vec_init.hex  Words VEC words per test (N*16 bits)
//   inp_init.hex  Words INP words per test (N*8 bits)
// Plusargs: +ntests=K, +chain=1 to run the K instructions back to back (each starts in the cycle after
// the previous one's done) on test 0's initial state, dumping the buffers once at the end.
// Outputs: vec_out.hex, inp_out.hex (Words words per test, or once for a chain), cycles.txt
// (start-to-done cycles per test: the cycle of done minus the cycle of start, plus one; then "span S":
// cycles from the first start to the last done, which a chain must fill exactly). Words beyond
// Words start at zero; a write to one of them, or a test that does not finish, is a $fatal.
module tb_requant_engine;
  localparam int N        = tataa_cfg_pkg::ArraySize;
  localparam int VecAddrW = tataa_cfg_pkg::VecAddrBits;
  localparam int InpAddrW = tataa_cfg_pkg::InpAddrBits;
  localparam int AccAddrW = tataa_cfg_pkg::AccAddrBits;
  localparam int Words    = 256;
  localparam int MaxTests = 256;
  localparam int Timeout  = 100000;

  logic clk = 1'b0;
  logic rst_n = 1'b0;
  always #5 clk = ~clk;

  logic                 start;
  logic [127:0]         insn;
  logic                 busy, done;
  logic                 acc_en, scale_en, vec_we, inp_we;
  logic [AccAddrW-1:0]  acc_addr, scale_addr;
  logic [VecAddrW-1:0]  vec_waddr;
  logic [InpAddrW-1:0]  inp_waddr;
  logic [N*32-1:0]      acc_data, scale_data;
  logic [N*16-1:0]      vec_wdata;
  logic [N*8-1:0]       inp_wdata;

  tataa_requant_engine dut (
    .clk_i           (clk),
    .rst_ni          (rst_n),
    .start_i         (start),
    .insn_i          (insn),
    .busy_o          (busy),
    .done_o          (done),
    .acc_rd_en_o     (acc_en),
    .acc_rd_addr_o   (acc_addr),
    .acc_rd_data_i   (acc_data),
    .scale_rd_en_o   (scale_en),
    .scale_rd_addr_o (scale_addr),
    .scale_rd_data_i (scale_data),
    .inp_wr_en_o     (inp_we),
    .inp_wr_addr_o   (inp_waddr),
    .inp_wr_data_o   (inp_wdata),
    .vec_wr_en_o     (vec_we),
    .vec_wr_addr_o   (vec_waddr),
    .vec_wr_data_o   (vec_wdata)
  );

  // ---- behavioural scratchpads -----------------------------------------------------------------
  logic [N*16-1:0] vec_mem [2**VecAddrW];
  logic [N*8-1:0]  inp_mem [2**InpAddrW];
  logic [N*32-1:0] acc_mem [2**AccAddrW];
  logic [N*32-1:0] acc_init [MaxTests*Words];
  logic [N*16-1:0] vec_init [MaxTests*Words];
  logic [N*8-1:0]  inp_init [MaxTests*Words];
  logic [127:0]    insns [MaxTests];
  int              bad_writes = 0;

  always_ff @(posedge clk) begin
    if (acc_en) acc_data <= acc_mem[acc_addr];
    if (scale_en) scale_data <= acc_mem[scale_addr];
    if (vec_we) begin
      vec_mem[vec_waddr] <= vec_wdata;
      if (int'(vec_waddr) >= Words) bad_writes <= bad_writes + 1;
    end
    if (inp_we) begin
      inp_mem[inp_waddr] <= inp_wdata;
      if (int'(inp_waddr) >= Words) bad_writes <= bad_writes + 1;
    end
  end

  // ---- measurement: cycles from the start cycle to the done cycle, both included --------------
  int  cyc = 0;
  int  t_start, t_done;
  logic done_seen = 1'b0;

  always_ff @(posedge clk) begin
    cyc <= cyc + 1;
    if (start && !busy) begin
      t_start   <= cyc;
      done_seen <= 1'b0;
    end
    if (done) begin
      t_done    <= cyc;
      done_seen <= 1'b1;
    end
  end

  // ---- test sequence ---------------------------------------------------------------------------
  int ntests, chain, fd_vec, fd_inp, fd_cyc, waited, t_first;

  // Stimulus changes at the falling edge, away from the rising edge the design samples.
  initial begin
    start = 1'b0;
    insn = '0;
    if (!$value$plusargs("ntests=%d", ntests)) $fatal(1, "missing +ntests");
    if (ntests > MaxTests) $fatal(1, "ntests %0d > %0d", ntests, MaxTests);
    if (!$value$plusargs("chain=%d", chain)) chain = 0;
    $readmemh("insn.hex", insns);
    $readmemh("acc_init.hex", acc_init);
    $readmemh("vec_init.hex", vec_init);
    $readmemh("inp_init.hex", inp_init);
    fd_vec = $fopen("vec_out.hex", "w");
    fd_inp = $fopen("inp_out.hex", "w");
    fd_cyc = $fopen("cycles.txt", "w");
    repeat (3) @(negedge clk);
    rst_n = 1'b1;
    for (int k = 0; k < ntests; k++) begin
      if (chain == 0 || k == 0) begin
        @(negedge clk);
        for (int w = 0; w < 2**VecAddrW; w++) vec_mem[w] = (w < Words) ? vec_init[k*Words + w] : '0;
        for (int w = 0; w < 2**InpAddrW; w++) inp_mem[w] = (w < Words) ? inp_init[k*Words + w] : '0;
        for (int w = 0; w < 2**AccAddrW; w++) acc_mem[w] = (w < Words) ? acc_init[k*Words + w] : '0;
      end
      insn = insns[k];
      start = 1'b1;
      @(negedge clk);
      start = 1'b0;
      if (k == 0) t_first = t_start;
      insn = '1;  // the engine must have latched what it needs in the start cycle
      waited = 0;
      while (!done_seen) begin
        @(negedge clk);
        waited++;
        if (waited > Timeout) $fatal(1, "test %0d: no done after %0d cycles", k, Timeout);
      end
      $fwrite(fd_cyc, "%0d\n", t_done - t_start + 1);
      if (chain == 0 || k == ntests - 1) begin
        @(negedge clk);
        if (busy) $fatal(1, "test %0d: busy after done", k);
        for (int w = 0; w < Words; w++) begin
          $fwrite(fd_vec, "%h\n", vec_mem[w]);
          $fwrite(fd_inp, "%h\n", inp_mem[w]);
        end
      end
    end
    if (bad_writes != 0) $fatal(1, "%0d writes beyond word %0d", bad_writes, Words);
    $fwrite(fd_cyc, "span %0d\n", t_done - t_first + 1);
    $fclose(fd_vec);
    $fclose(fd_inp);
    $fclose(fd_cyc);
    $finish;
  end

endmodule
