// Co-simulation bench for tataa_core: HBM is two tataa_axi_mem models holding the same image (one 128-bit wide
// for instruction fetch, one DmaBytesPerCycle wide for data). The Python runner (tataa.runtime.rtl) writes
// the images and the run parameters; the bench starts the core, waits for done, and dumps the data memory.
//
// Plusargs: +dmem=FILE +imem=FILE (hex images), +insn_count=N, +base0..+base7=HEX (region base addresses),
// +out=FILE (data memory after the run), +result=FILE ("cycles status" in hex), +timeout=CYCLES.
module tb_core #(
  parameter int MemBytes = 1 << 20
);
  localparam int BusBytes = tataa_cfg_pkg::DmaBytesPerCycle;

  logic clk = 1'b0;
  logic rst_n = 1'b0;
  always #5 clk = ~clk;

  logic        start = 1'b0, busy, done;
  logic [63:0] cycles;
  logic [31:0] status, insn_count;
  logic [8*64-1:0] bases;

  logic [63:0] i_araddr; logic [7:0] i_arlen; logic [2:0] i_arsize; logic [1:0] i_arburst;
  logic i_arvalid, i_arready, i_rlast, i_rvalid, i_rready; logic [127:0] i_rdata; logic [1:0] i_rresp;
  logic [63:0] g_araddr, g_awaddr; logic [7:0] g_arlen, g_awlen; logic [2:0] g_arsize, g_awsize;
  logic [1:0] g_arburst, g_awburst, g_rresp, g_bresp;
  logic g_arvalid, g_arready, g_rlast, g_rvalid, g_rready, g_awvalid, g_awready, g_wlast, g_wvalid, g_wready;
  logic g_bvalid, g_bready;
  logic [BusBytes*8-1:0] g_rdata, g_wdata; logic [BusBytes-1:0] g_wstrb;

  tataa_core dut (
    .clk_i(clk), .rst_ni(rst_n), .start_i(start), .insn_addr_i(64'd0), .insn_count_i(insn_count),
    .dram_base_i(bases), .busy_o(busy), .done_o(done), .cycles_o(cycles), .status_o(status),
    .m_insn_araddr_o(i_araddr), .m_insn_arlen_o(i_arlen), .m_insn_arsize_o(i_arsize),
    .m_insn_arburst_o(i_arburst), .m_insn_arvalid_o(i_arvalid), .m_insn_arready_i(i_arready),
    .m_insn_rdata_i(i_rdata), .m_insn_rresp_i(i_rresp), .m_insn_rlast_i(i_rlast), .m_insn_rvalid_i(i_rvalid),
    .m_insn_rready_o(i_rready),
    .m_gmem_araddr_o(g_araddr), .m_gmem_arlen_o(g_arlen), .m_gmem_arsize_o(g_arsize),
    .m_gmem_arburst_o(g_arburst), .m_gmem_arvalid_o(g_arvalid), .m_gmem_arready_i(g_arready),
    .m_gmem_rdata_i(g_rdata), .m_gmem_rresp_i(g_rresp), .m_gmem_rlast_i(g_rlast), .m_gmem_rvalid_i(g_rvalid),
    .m_gmem_rready_o(g_rready),
    .m_gmem_awaddr_o(g_awaddr), .m_gmem_awlen_o(g_awlen), .m_gmem_awsize_o(g_awsize),
    .m_gmem_awburst_o(g_awburst), .m_gmem_awvalid_o(g_awvalid), .m_gmem_awready_i(g_awready),
    .m_gmem_wdata_o(g_wdata), .m_gmem_wstrb_o(g_wstrb), .m_gmem_wlast_o(g_wlast), .m_gmem_wvalid_o(g_wvalid),
    .m_gmem_wready_i(g_wready), .m_gmem_bresp_i(g_bresp), .m_gmem_bvalid_i(g_bvalid),
    .m_gmem_bready_o(g_bready)
  );

  tataa_axi_mem #(.DataBytes(16), .Latency(tataa_cfg_pkg::DmaLatency), .MemBytes(MemBytes)) u_imem (
    .clk_i(clk), .rst_ni(rst_n), .base_i(64'd0), .stall_pct_i(0),
    .araddr_i(i_araddr), .arlen_i(i_arlen), .arsize_i(i_arsize), .arburst_i(i_arburst), .arvalid_i(i_arvalid),
    .arready_o(i_arready), .rdata_o(i_rdata), .rresp_o(i_rresp), .rlast_o(i_rlast), .rvalid_o(i_rvalid),
    .rready_i(i_rready),
    .awaddr_i(64'd0), .awlen_i(8'd0), .awsize_i(3'd4), .awburst_i(2'b01), .awvalid_i(1'b0), .awready_o(),
    .wdata_i('0), .wstrb_i('0), .wlast_i(1'b0), .wvalid_i(1'b0), .wready_o(), .bresp_o(), .bvalid_o(),
    .bready_i(1'b1)
  );

  tataa_axi_mem #(.DataBytes(BusBytes), .Latency(tataa_cfg_pkg::DmaLatency), .MemBytes(MemBytes)) u_dmem (
    .clk_i(clk), .rst_ni(rst_n), .base_i(64'd0), .stall_pct_i(0),
    .araddr_i(g_araddr), .arlen_i(g_arlen), .arsize_i(g_arsize), .arburst_i(g_arburst), .arvalid_i(g_arvalid),
    .arready_o(g_arready), .rdata_o(g_rdata), .rresp_o(g_rresp), .rlast_o(g_rlast), .rvalid_o(g_rvalid),
    .rready_i(g_rready),
    .awaddr_i(g_awaddr), .awlen_i(g_awlen), .awsize_i(g_awsize), .awburst_i(g_awburst), .awvalid_i(g_awvalid),
    .awready_o(g_awready), .wdata_i(g_wdata), .wstrb_i(g_wstrb), .wlast_i(g_wlast), .wvalid_i(g_wvalid),
    .wready_o(g_wready), .bresp_o(g_bresp), .bvalid_o(g_bvalid), .bready_i(g_bready)
  );

  string dmem_file, imem_file, out_file, result_file, key;
  longint unsigned timeout, base, waited;
  integer fd, r;

  initial begin
    if (!$value$plusargs("dmem=%s", dmem_file)) $fatal(1, "tb_core: +dmem missing");
    if (!$value$plusargs("imem=%s", imem_file)) $fatal(1, "tb_core: +imem missing");
    if (!$value$plusargs("out=%s", out_file)) $fatal(1, "tb_core: +out missing");
    if (!$value$plusargs("result=%s", result_file)) $fatal(1, "tb_core: +result missing");
    if (!$value$plusargs("insn_count=%d", insn_count)) $fatal(1, "tb_core: +insn_count missing");
    if (!$value$plusargs("timeout=%d", timeout)) timeout = 64'd10_000_000;
    bases = '0;
    for (r = 0; r < 8; r++) begin
      key = $sformatf("base%0d=%%h", r);
      base = 64'd0;
      if ($value$plusargs(key, base)) bases[r*64 +: 64] = base;
    end
    u_imem.load(imem_file);
    u_dmem.load(dmem_file);
    repeat (4) @(posedge clk);
    rst_n = 1'b1;
    repeat (2) @(posedge clk);
    start <= 1'b1;
    @(posedge clk);
    start <= 1'b0;
    waited = 0;
    while (!done && waited < timeout) begin
      @(posedge clk);
      waited++;
    end
    fd = $fopen(result_file, "w");
    if (!done) $fwrite(fd, "timeout %h %h\n", cycles, status);
    else begin
      @(posedge clk);  // cycles_o and status_o settle the cycle after done
      $fwrite(fd, "done %h %h\n", cycles, status);
    end
    $fclose(fd);
    u_dmem.dump(out_file);
    $finish;
  end

endmodule
