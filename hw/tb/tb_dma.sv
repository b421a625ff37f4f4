// Bench of tataa_dma: runs a list of LOAD/STORE instructions, one after the other, against tataa_axi_mem and
// a simple model of the four on-chip buffers, and dumps the final buffers and memory.
//
// Files (in the working directory): insns.hex (128-bit instructions), bases.hex (8 x 64-bit region bases),
// inp.hex / wgt.hex / acc.hex / vec.hex (initial buffers, one word per line, lane 0 least significant),
// mem.hex (initial memory, BusBytes per line). Plusargs: +n=<instructions> +mem_base=<hex byte address of
// mem.hex word 0> +stall=<percent of cycles the memory withholds each ready/valid> +seed=<random seed>.
// Writes: result.txt (per instruction: start-to-done cycles inclusive, and err_o), *_out.hex, mem_out.hex.
// Instruction i+1 starts the cycle after instruction i's done (the tightest tataa_unit_issue allows).
module tb_dma;
  parameter int ArraySize = tataa_cfg_pkg::ArraySize;
  parameter int BusBytes  = tataa_cfg_pkg::DmaBytesPerCycle;
  parameter int Latency   = tataa_cfg_pkg::DmaLatency;
  parameter int InpDepth  = tataa_cfg_pkg::InpDepth;
  parameter int WgtDepth  = tataa_cfg_pkg::WgtDepth;
  parameter int AccDepth  = tataa_cfg_pkg::AccDepth;
  parameter int VecDepth  = tataa_cfg_pkg::VecDepth;
  parameter int MemBytes  = 65536;
  parameter int MaxInsns  = 1024;
  parameter int Timeout   = 200000;  // cycles per instruction

  localparam int N = ArraySize;
  localparam int WordW = 32 * N;
  localparam int IAw = $clog2(InpDepth);
  localparam int WAw = $clog2(WgtDepth);
  localparam int AAw = $clog2(AccDepth);
  localparam int VAw = $clog2(VecDepth);

  logic clk = 1'b0;
  logic rst_n = 1'b0;
  always #5 clk = ~clk;

  // ---- DUT ----------------------------------------------------------------------------------------------
  logic                  start, busy, done, err;
  logic [127:0]          insn;
  logic [8*64-1:0]       bases;
  logic [63:0]           araddr, awaddr;
  logic [7:0]            arlen, awlen;
  logic [2:0]            arsize, awsize;
  logic [1:0]            arburst, awburst, rresp, bresp;
  logic                  arvalid, arready, rlast, rvalid, rready, awvalid, awready;
  logic                  wlast, wvalid, wready, bvalid, bready;
  logic [BusBytes*8-1:0] rdata, wdata;
  logic [BusBytes-1:0]   wstrb;
  logic                  wr_en, rd_en;
  logic [1:0]            wr_sel, rd_sel;
  logic [15:0]           wr_addr, rd_addr;
  logic [WordW-1:0]      wr_data, rd_data;

  tataa_dma #(
    .ArraySize(ArraySize), .BusBytes(BusBytes), .InpDepth(InpDepth), .WgtDepth(WgtDepth),
    .AccDepth(AccDepth), .VecDepth(VecDepth), .BufAddrW(16)
  ) u_dma (
    .clk_i(clk), .rst_ni(rst_n), .start_i(start), .insn_i(insn), .dram_base_i(bases),
    .busy_o(busy), .done_o(done), .err_o(err),
    .m_axi_araddr_o(araddr), .m_axi_arlen_o(arlen), .m_axi_arsize_o(arsize), .m_axi_arburst_o(arburst),
    .m_axi_arvalid_o(arvalid), .m_axi_arready_i(arready),
    .m_axi_rdata_i(rdata), .m_axi_rresp_i(rresp), .m_axi_rlast_i(rlast), .m_axi_rvalid_i(rvalid),
    .m_axi_rready_o(rready),
    .m_axi_awaddr_o(awaddr), .m_axi_awlen_o(awlen), .m_axi_awsize_o(awsize), .m_axi_awburst_o(awburst),
    .m_axi_awvalid_o(awvalid), .m_axi_awready_i(awready),
    .m_axi_wdata_o(wdata), .m_axi_wstrb_o(wstrb), .m_axi_wlast_o(wlast), .m_axi_wvalid_o(wvalid),
    .m_axi_wready_i(wready), .m_axi_bresp_i(bresp), .m_axi_bvalid_i(bvalid), .m_axi_bready_o(bready),
    .buf_wr_en_o(wr_en), .buf_wr_sel_o(wr_sel), .buf_wr_addr_o(wr_addr), .buf_wr_data_o(wr_data),
    .buf_rd_en_o(rd_en), .buf_rd_sel_o(rd_sel), .buf_rd_addr_o(rd_addr), .buf_rd_data_i(rd_data)
  );

  logic [63:0] mem_base;
  int          stall_pct;

  tataa_axi_mem #(
    .DataBytes(BusBytes), .Latency(Latency), .MemBytes(MemBytes), .MaxBursts(2 * Latency + 2)
  ) u_mem (
    .clk_i(clk), .rst_ni(rst_n), .base_i(mem_base), .stall_pct_i(stall_pct),
    .araddr_i(araddr), .arlen_i(arlen), .arsize_i(arsize), .arburst_i(arburst), .arvalid_i(arvalid),
    .arready_o(arready), .rdata_o(rdata), .rresp_o(rresp), .rlast_o(rlast), .rvalid_o(rvalid),
    .rready_i(rready),
    .awaddr_i(awaddr), .awlen_i(awlen), .awsize_i(awsize), .awburst_i(awburst), .awvalid_i(awvalid),
    .awready_o(awready), .wdata_i(wdata), .wstrb_i(wstrb), .wlast_i(wlast), .wvalid_i(wvalid),
    .wready_o(wready), .bresp_o(bresp), .bvalid_o(bvalid), .bready_i(bready)
  );

  // ---- buffer model: one write port, one read port with 1-cycle latency -------------------------------------
  logic [8*N-1:0]  inp_mem [InpDepth];
  logic [8*N-1:0]  wgt_mem [WgtDepth];
  logic [32*N-1:0] acc_mem [AccDepth];
  logic [16*N-1:0] vec_mem [VecDepth];
  int unsigned     bad_writes = 0;

  always @(posedge clk) begin
    if (wr_en) begin
      case (wr_sel)
        2'd0: begin inp_mem[wr_addr[IAw-1:0]] <= wr_data[8*N-1:0];  if (wr_data[WordW-1:8*N] != '0) bad_writes++; end
        2'd1: begin wgt_mem[wr_addr[WAw-1:0]] <= wr_data[8*N-1:0];  if (wr_data[WordW-1:8*N] != '0) bad_writes++; end
        2'd2: acc_mem[wr_addr[AAw-1:0]] <= wr_data;
        default: begin vec_mem[wr_addr[VAw-1:0]] <= wr_data[16*N-1:0]; if (wr_data[WordW-1:16*N] != '0) bad_writes++; end
      endcase
    end
    if (rd_en) begin
      // upper bytes of narrower words are filled with ones: the DMA must ignore them
      case (rd_sel)
        2'd0: rd_data <= {{(WordW - 8*N){1'b1}}, inp_mem[rd_addr[IAw-1:0]]};
        2'd1: rd_data <= {{(WordW - 8*N){1'b1}}, wgt_mem[rd_addr[WAw-1:0]]};
        2'd2: rd_data <= acc_mem[rd_addr[AAw-1:0]];
        default: rd_data <= {{(WordW - 16*N){1'b1}}, vec_mem[rd_addr[VAw-1:0]]};
      endcase
    end
  end

  // ---- stimulus -------------------------------------------------------------------------------------------
  logic [127:0] insns [MaxInsns];
  logic [63:0]  base_words [8];
  longint       cyc = 0;      // index of the current cycle (cycle k lies between rising edges k and k+1)
  longint       t_start = 0;
  int           n, fd, seed, finished = 0;

  // At each rising edge the values of the cycle that ends are sampled.
  always @(posedge clk) begin
    cyc <= cyc + 1;
    if (rst_n && start) t_start <= cyc;
    if (rst_n && start && busy) $error("tb_dma: start while busy");
    if (rst_n && done) begin
      $fwrite(fd, "%0d %0d\n", cyc - t_start + 1, err);
      finished <= finished + 1;
    end
  end

  initial begin
    if (!$value$plusargs("n=%d", n)) n = 0;
    if (!$value$plusargs("mem_base=%h", mem_base)) mem_base = 64'd0;
    if (!$value$plusargs("stall=%d", stall_pct)) stall_pct = 0;
    if ($value$plusargs("seed=%d", seed)) void'($urandom(seed));
    if (n > MaxInsns) $fatal(1, "tb_dma: %0d instructions, at most %0d", n, MaxInsns);
    $readmemh("insns.hex", insns);
    $readmemh("bases.hex", base_words);
    $readmemh("inp.hex", inp_mem);
    $readmemh("wgt.hex", wgt_mem);
    $readmemh("acc.hex", acc_mem);
    $readmemh("vec.hex", vec_mem);
    u_mem.load("mem.hex");
    for (int r = 0; r < 8; r++) bases[r*64 +: 64] = base_words[r];
    start = 1'b0;
    insn = '0;
    fd = $fopen("result.txt", "w");
    repeat (3) @(negedge clk);
    rst_n = 1'b1;
    for (int i = 0; i < n; i++) begin
      // inputs change at falling edges; start is high for exactly one cycle
      @(negedge clk);
      start = 1'b1;
      insn  = insns[i];
      @(negedge clk);
      start = 1'b0;
      for (int t = 0; !done; t++) begin
        if (t > Timeout) $fatal(1, "tb_dma: instruction %0d did not finish", i);
        @(negedge clk);
      end
    end
    @(negedge clk);
    $fclose(fd);
    if (finished != n) $fatal(1, "tb_dma: %0d done pulses for %0d instructions", finished, n);
    if (bad_writes != 0) $fatal(1, "tb_dma: %0d buffer writes had nonzero bytes above the word", bad_writes);
    $writememh("inp_out.hex", inp_mem);
    $writememh("wgt_out.hex", wgt_mem);
    $writememh("acc_out.hex", acc_mem);
    $writememh("vec_out.hex", vec_mem);
    u_mem.dump("mem_out.hex");
    $finish;
  end

endmodule : tb_dma
