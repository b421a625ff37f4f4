// Bench of tataa_control: a zero-latency fetch from an instruction memory and three countdown-timer engines.
//
// Files (in the working directory):
//   prog.hex  one 128-bit instruction per line, program order (+n=<count> of them)
//   eng.hex   per unit u, from address u * MaxPerUnit: "<duration as 32 hex digits>" then the instruction word
//             (two lines per instruction the engine runs, i.e. every instruction but NOP and FINISH, in order)
// Plusargs: +n=<instructions>, +timeout=<cycles per run>, +runs=<runs, cleared in between> (default 1).
// Output trace.txt, one event per line (cycle 0 is the first cycle after reset or clear):
//   D <cycle>                    an instruction is dispatched (program order)
//   S <unit> <cycle>             unit starts its next instruction
//   E <unit> <cycle>             the instruction ends (exclusive: last busy cycle + 1)
//   R <cycle> <index>            instruction <index> is refused (decode error); the bench skips it
//   F <cycle> ...                done_o rose: counters (see below) follow
//   T <cycle> ...                timeout: the run hung; same counters
// Counters after F/T: dispatched, issued[3], retired[3], busy[3], token_wait[3], fetch_stall, tokens[4].
module tb_control;

  parameter int QueueDepth = tataa_cfg_pkg::InsnQueueDepth;
  localparam int MaxInsns = 1 << 16;
  localparam int MaxPerUnit = 1 << 16;
  localparam int InsnW = tataa_isa_pkg::INSN_BITS;
  localparam int TokW = 32;

  logic clk = 1'b0;
  logic rst_n = 1'b0;
  always #5 clk = ~clk;

  logic [InsnW-1:0] prog_mem[0:MaxInsns-1];
  logic [InsnW-1:0] eng_mem[0:3*2*MaxPerUnit-1];
  int n, timeout, runs;
  int fd;

  // ---- DUT --------------------------------------------------------------------------------------------------
  logic             clear, running;
  logic             insn_valid, insn_ready, decode_err, done, finish_dispatched, fetch_stall;
  logic [InsnW-1:0] insn;
  logic [2:0]       start, done_eng, issue, retire, busy, token_wait;
  logic [InsnW-1:0] eng_insn[0:2];
  logic [4*TokW-1:0] tokens;

  tataa_control #(
    .QueueDepth(QueueDepth),
    .TokenCountWidth(TokW)
  ) dut (
    .clk_i              (clk),
    .rst_ni             (rst_n),
    .clear_i            (clear),
    .insn_valid_i       (insn_valid),
    .insn_ready_o       (insn_ready),
    .insn_i             (insn),
    .decode_err_o       (decode_err),
    .load_start_o       (start[0]),
    .load_insn_o        (eng_insn[0]),
    .load_done_i        (done_eng[0]),
    .compute_start_o    (start[1]),
    .compute_insn_o     (eng_insn[1]),
    .compute_done_i     (done_eng[1]),
    .store_start_o      (start[2]),
    .store_insn_o       (eng_insn[2]),
    .store_done_i       (done_eng[2]),
    .done_o             (done),
    .finish_dispatched_o(finish_dispatched),
    .issue_o            (issue),
    .retire_o           (retire),
    .busy_o             (busy),
    .token_wait_o       (token_wait),
    .fetch_stall_o      (fetch_stall),
    .tokens_o           (tokens)
  );

  // ---- fetch: one instruction per cycle from prog_mem ---------------------------------------------------------
  int pc;  // next instruction to offer
  assign insn_valid = running && pc < n;
  assign insn = insn_valid ? prog_mem[pc] : '0;

  // ---- engines: countdown timers ------------------------------------------------------------------------------
  int unsigned cnt[0:2];  // cycles left after the current one
  int eidx[0:2];  // instructions the engine has started
  logic [31:0] dur[0:2];  // duration of the engine's next instruction
  for (genvar u = 0; u < 3; u++) begin : g_engine
    assign dur[u] = eng_mem[2 * (u * MaxPerUnit + eidx[u])][31:0];
    assign done_eng[u] = (start[u] && dur[u] == 32'd1) || cnt[u] == 1;
  end

  // ---- counters -----------------------------------------------------------------------------------------------
  int cyc, dispatched, fstall;
  int issued[0:2], retired[0:2], busy_n[0:2], wait_n[0:2];

  task automatic counters(input string tag);
    $fwrite(fd, "%s %0d %0d", tag, cyc, dispatched);
    for (int u = 0; u < 3; u++) $fwrite(fd, " %0d", issued[u]);
    for (int u = 0; u < 3; u++) $fwrite(fd, " %0d", retired[u]);
    for (int u = 0; u < 3; u++) $fwrite(fd, " %0d", busy_n[u]);
    for (int u = 0; u < 3; u++) $fwrite(fd, " %0d", wait_n[u]);
    $fwrite(fd, " %0d", fstall);
    for (int f = 0; f < 4; f++) $fwrite(fd, " %0d", tokens[f*TokW+:TokW]);
    $fwrite(fd, "\n");
  endtask

  task automatic reset_counters();
    cyc = 0;
    dispatched = 0;
    fstall = 0;
    for (int u = 0; u < 3; u++) begin
      issued[u] = 0;
      retired[u] = 0;
      busy_n[u] = 0;
      wait_n[u] = 0;
    end
  endtask

  function automatic logic [InsnW-1:0] eng_word(input int u, input int k, input int which);
    return eng_mem[2 * (u * MaxPerUnit + k) + which];
  endfunction

  int run;
  initial begin
    if (!$value$plusargs("n=%d", n)) $fatal(1, "+n=<instructions> missing");
    if (!$value$plusargs("timeout=%d", timeout)) $fatal(1, "+timeout=<cycles> missing");
    if (!$value$plusargs("runs=%d", runs)) runs = 1;
    $readmemh("prog.hex", prog_mem);
    $readmemh("eng.hex", eng_mem);
    fd = $fopen("trace.txt", "w");
    reset_counters();
    pc = 0;
    for (int u = 0; u < 3; u++) begin
      cnt[u] = 0;
      eidx[u] = 0;
    end
    clear = 1'b0;
    running = 1'b0;
    run = 0;
    repeat (3) @(posedge clk);
    @(negedge clk);  // cycle 0 ends at the next rising edge
    rst_n = 1'b1;
    running = 1'b1;
  end

  // Events of cycle `cyc` are sampled at the clock edge that ends it. State the DUT sees (pc, cnt, eidx,
  // running, clear) changes with non-blocking assignments only.
  always @(posedge clk) begin
    if (rst_n && clear) begin  // the clear cycle between runs
      clear <= 1'b0;
      running <= 1'b1;
      pc <= 0;
      for (int u = 0; u < 3; u++) begin
        cnt[u] <= 0;
        eidx[u] <= 0;
      end
      reset_counters();
    end else if (rst_n && running) begin
      if (insn_valid && insn_ready) begin
        $fwrite(fd, "D %0d\n", cyc);
        dispatched++;
        pc <= pc + 1;
      end else if (decode_err) begin
        $fwrite(fd, "R %0d %0d\n", cyc, pc);
        pc <= pc + 1;
      end
      if (fetch_stall) fstall++;
      for (int u = 0; u < 3; u++) begin
        if (issue[u]) begin
          $fwrite(fd, "S %0d %0d\n", u, cyc);
          issued[u]++;
        end
        if (retire[u]) begin
          $fwrite(fd, "E %0d %0d\n", u, cyc + 1);
          retired[u]++;
        end
        if (busy[u]) busy_n[u]++;
        if (token_wait[u]) wait_n[u]++;
        if (start[u]) begin
          if (cnt[u] != 0) $fatal(1, "unit %0d: engine started while busy at cycle %0d", u, cyc);
          if (eng_insn[u] !== eng_word(u, eidx[u], 1))
            $fatal(1, "unit %0d: engine got %h, expected %h at cycle %0d", u, eng_insn[u],
                   eng_word(u, eidx[u], 1), cyc);
          cnt[u] <= dur[u] - 1;
          eidx[u] <= eidx[u] + 1;
        end else if (cnt[u] != 0) begin
          cnt[u] <= cnt[u] - 1;
        end
      end
      if (done) begin
        counters("F");
        run++;
        if (run < runs) begin
          clear <= 1'b1;
          running <= 1'b0;
        end else begin
          $fclose(fd);
          $finish;
        end
      end else if (cyc >= timeout) begin
        counters("T");
        $fclose(fd);
        $finish;
      end
      cyc++;
    end
  end

endmodule
