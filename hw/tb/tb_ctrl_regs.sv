// Bench of tataa_ctrl_regs: an AXI4-Lite master runs a script of operations and logs what it observes.
//
// ops.hex holds one 128-bit operation per line:
//   [3:0] kind: 0 write, 1 read, 2 done pulse, 3 wait, 4 check, 5 read with a done pulse in the AR handshake
//         cycle, 6 write with a done pulse in the cycle the write takes effect (the cycle after AW and W)
//   [15:4] byte address, [47:16] data (write data; status_i for a done pulse; cycles for wait),
//   [51:48] write strobes, [53:52] write order (0 AW with W, 1 AW first, 2 W first), [57:54] cycles before
//   BREADY/RREADY rise, [127:64] cycles_i for a done pulse (kinds 2, 5, 6; status_i changes only in kind 2).
// Plusarg +n=<operations>. result.txt gets one line per read ("R <data>") and per check
// ("C <start pulses> <interrupt> <insn_addr> <insn_count> <region bases, 512 bits>"), all hex.
module tb_ctrl_regs;
  parameter int MaxOps = 4096;

  logic clk = 1'b0;
  logic rst_n = 1'b0;
  always #5 clk = ~clk;

  logic [11:0]     awaddr, araddr;
  logic            awvalid = 1'b0, awready, wvalid = 1'b0, wready, bvalid, bready = 1'b0;
  logic            arvalid = 1'b0, arready, rvalid, rready = 1'b0;
  logic [31:0]     wdata, rdata, status = '0;
  logic [3:0]      wstrb;
  logic [1:0]      bresp, rresp;
  logic            start, done = 1'b0, irq;
  logic [63:0]     insn_addr, cycles = '0;
  logic [31:0]     insn_count;
  logic [8*64-1:0] bases;

  tataa_ctrl_regs u_dut (
    .clk_i(clk), .rst_ni(rst_n),
    .s_axil_awaddr_i(awaddr), .s_axil_awvalid_i(awvalid), .s_axil_awready_o(awready),
    .s_axil_wdata_i(wdata), .s_axil_wstrb_i(wstrb), .s_axil_wvalid_i(wvalid), .s_axil_wready_o(wready),
    .s_axil_bresp_o(bresp), .s_axil_bvalid_o(bvalid), .s_axil_bready_i(bready),
    .s_axil_araddr_i(araddr), .s_axil_arvalid_i(arvalid), .s_axil_arready_o(arready),
    .s_axil_rdata_o(rdata), .s_axil_rresp_o(rresp), .s_axil_rvalid_o(rvalid), .s_axil_rready_i(rready),
    .start_o(start), .insn_addr_o(insn_addr), .insn_count_o(insn_count), .region_base_o(bases),
    .done_i(done), .cycles_i(cycles), .status_i(status), .interrupt_o(irq)
  );

  // ---- monitors -----------------------------------------------------------------------------------------
  int starts = 0;
  int errors = 0;
  logic start_prev = 1'b0;
  always @(posedge clk) begin
    if (rst_n && start) starts <= starts + 1;
    if (rst_n && start && start_prev) errors <= errors + 1;  // start is a one-cycle pulse
    if (rst_n && bvalid && bresp != 2'b00) errors <= errors + 1;
    if (rst_n && rvalid && rresp != 2'b00) errors <= errors + 1;
    start_prev <= start;
  end

  // ---- master -------------------------------------------------------------------------------------------
  // Inputs change 1 time unit after a falling edge; `ready` sampled then holds until the next rising edge.
  task automatic settle();
    @(negedge clk);
    #1;
  endtask

  task automatic axil_write(input logic [11:0] a, input logic [31:0] d, input logic [3:0] s, input int order,
                            input int delay, input logic pulse_done, input logic [63:0] c);
    logic aw_done, w_done;
    aw_done = 1'b0;
    w_done  = 1'b0;
    settle();
    awaddr = a;
    wdata  = d;
    wstrb  = s;
    while (!(aw_done && w_done)) begin
      awvalid = !aw_done && (order != 2 || w_done);
      wvalid  = !w_done && (order != 1 || aw_done);
      #1;
      if (awvalid && awready) aw_done = 1'b1;
      if (wvalid && wready) w_done = 1'b1;
      settle();
    end
    awvalid = 1'b0;
    wvalid  = 1'b0;
    if (pulse_done) begin  // the write takes effect at the end of this cycle
      done   = 1'b1;
      cycles = c;
      settle();
      done = 1'b0;
    end
    repeat (delay) settle();
    bready = 1'b1;
    #1;
    while (!bvalid) settle();
    settle();
    bready = 1'b0;
  endtask

  task automatic axil_read(input logic [11:0] a, input int delay, input logic pulse_done, input logic [63:0] c,
                           output logic [31:0] d);
    settle();
    araddr  = a;
    arvalid = 1'b1;
    #1;
    while (!arready) settle();
    done = pulse_done;  // in the cycle of the AR handshake
    if (pulse_done) cycles = c;
    settle();
    arvalid = 1'b0;
    done    = 1'b0;
    repeat (delay) settle();
    rready = 1'b1;
    #1;
    while (!rvalid) settle();
    d = rdata;
    settle();
    rready = 1'b0;
  endtask

  // ---- script ---------------------------------------------------------------------------------------------
  logic [127:0] ops [MaxOps];
  int n, fd;

  initial begin
    logic [31:0] d;
    if (!$value$plusargs("n=%d", n)) n = 0;
    if (n > MaxOps) $fatal(1, "tb_ctrl_regs: %0d operations, at most %0d", n, MaxOps);
    $readmemh("ops.hex", ops);
    fd = $fopen("result.txt", "w");
    repeat (3) settle();
    rst_n = 1'b1;
    for (int i = 0; i < n; i++) begin
      logic [3:0]  kind;
      logic [11:0] a;
      logic [31:0] data;
      kind = ops[i][3:0];
      a    = ops[i][15:4];
      data = ops[i][47:16];
      if (kind == 4'd0 || kind == 4'd6) begin
        axil_write(a, data, ops[i][51:48], int'(ops[i][53:52]), int'(ops[i][57:54]), kind == 4'd6, ops[i][127:64]);
      end else if (kind == 4'd1 || kind == 4'd5) begin
        axil_read(a, int'(ops[i][57:54]), kind == 4'd5, ops[i][127:64], d);
        $fwrite(fd, "R %h\n", d);
      end else if (kind == 4'd2) begin
        settle();
        done   = 1'b1;
        status = data;
        cycles = ops[i][127:64];
        settle();
        done = 1'b0;
      end else if (kind == 4'd3) begin
        repeat (int'(data)) settle();
      end else begin
        settle();
        settle();  // let a start that the last operation caused happen
        $fwrite(fd, "C %h %h %h %h %h\n", starts, irq, insn_addr, insn_count, bases);
      end
    end
    $fclose(fd);
    if (errors != 0) $fatal(1, "tb_ctrl_regs: %0d protocol errors (double start pulse or error response)", errors);
    $finish;
  end

endmodule : tb_ctrl_regs
