// Co-simulation bench for the XRT kernel tataa_top: HBM is two tataa_axi_mem models holding the same image (one
// 128-bit wide for instruction fetch, one DmaBytesPerCycle wide for data). The Python runner (tataa.runtime.rtl)
// writes the images and the run parameters; the bench programs the control registers over AXI4-Lite as the
// XRT host does (region bases, instruction address and count, AP_CTRL.ap_start), polls AP_CTRL.ap_done,
// reads CYCLES and STATUS, and dumps the data memory.
//
// Plusargs: +dmem=FILE +imem=FILE (hex images), +insn_count=N, +base0..+base7=HEX (region base addresses),
// +out=FILE (data memory after the run), +result=FILE ("cycles status" in hex), +timeout=CYCLES.
module tb_top #(
  parameter int MemBytes = 1 << 20
);
  localparam int BusBytes = tataa_cfg_pkg::DmaBytesPerCycle;

  logic clk = 1'b0;
  logic rst_n = 1'b0;
  always #5 clk = ~clk;

  logic [63:0] cycles;
  logic [31:0] status, insn_count, rd;
  logic        irq, done;
  // AXI4-Lite master (the host)
  logic [11:0] l_awaddr = '0, l_araddr = '0;
  logic [31:0] l_wdata = '0, l_rdata;
  logic        l_awvalid = 1'b0, l_wvalid = 1'b0, l_arvalid = 1'b0;
  logic        l_awready, l_wready, l_bvalid, l_arready, l_rvalid;
  logic [1:0]  l_bresp, l_rresp;

  // The host drives and samples the AXI4-Lite signals a little after the falling edge, when the DUT's
  // outputs are stable, so no handshake can be missed (BREADY and RREADY are held high).
  task automatic reg_write(input logic [11:0] addr, input logic [31:0] data);
    logic aw_hs, w_hs;
    @(negedge clk);
    l_awaddr = addr; l_awvalid = 1'b1; l_wdata = data; l_wvalid = 1'b1;
    while (l_awvalid || l_wvalid) begin
      #1;
      aw_hs = l_awvalid && l_awready;
      w_hs  = l_wvalid && l_wready;
      @(negedge clk);
      if (aw_hs) l_awvalid = 1'b0;
      if (w_hs) l_wvalid = 1'b0;
    end
    #1;
    while (!l_bvalid) begin
      @(negedge clk);
      #1;
    end
    @(negedge clk);
  endtask

  task automatic reg_read(input logic [11:0] addr, output logic [31:0] data);
    logic ar_hs;
    @(negedge clk);
    l_araddr = addr; l_arvalid = 1'b1;
    ar_hs = 1'b0;
    while (!ar_hs) begin
      #1;
      ar_hs = l_arready;
      @(negedge clk);
    end
    l_arvalid = 1'b0;
    #1;
    while (!l_rvalid) begin
      @(negedge clk);
      #1;
    end
    data = l_rdata;
    @(negedge clk);
  endtask

  logic [63:0] i_araddr; logic [7:0] i_arlen; logic [2:0] i_arsize; logic [1:0] i_arburst;
  logic i_arvalid, i_arready, i_rlast, i_rvalid, i_rready; logic [127:0] i_rdata; logic [1:0] i_rresp;
  logic [63:0] g_araddr, g_awaddr; logic [7:0] g_arlen, g_awlen; logic [2:0] g_arsize, g_awsize;
  logic [1:0] g_arburst, g_awburst, g_rresp, g_bresp;
  logic g_arvalid, g_arready, g_rlast, g_rvalid, g_rready, g_awvalid, g_awready, g_wlast, g_wvalid, g_wready;
  logic g_bvalid, g_bready;
  logic [BusBytes*8-1:0] g_rdata, g_wdata; logic [BusBytes-1:0] g_wstrb;

  tataa_top dut (
    .ap_clk(clk), .ap_rst_n(rst_n),
    .s_axi_control_awaddr(l_awaddr), .s_axi_control_awvalid(l_awvalid), .s_axi_control_awready(l_awready),
    .s_axi_control_wdata(l_wdata), .s_axi_control_wstrb(4'hf), .s_axi_control_wvalid(l_wvalid),
    .s_axi_control_wready(l_wready), .s_axi_control_bresp(l_bresp), .s_axi_control_bvalid(l_bvalid),
    .s_axi_control_bready(1'b1), .s_axi_control_araddr(l_araddr), .s_axi_control_arvalid(l_arvalid),
    .s_axi_control_arready(l_arready), .s_axi_control_rdata(l_rdata), .s_axi_control_rresp(l_rresp),
    .s_axi_control_rvalid(l_rvalid), .s_axi_control_rready(1'b1), .interrupt(irq),
    .m_axi_insn_araddr(i_araddr), .m_axi_insn_arlen(i_arlen), .m_axi_insn_arsize(i_arsize),
    .m_axi_insn_arburst(i_arburst), .m_axi_insn_arvalid(i_arvalid), .m_axi_insn_arready(i_arready),
    .m_axi_insn_rdata(i_rdata), .m_axi_insn_rresp(i_rresp), .m_axi_insn_rlast(i_rlast), .m_axi_insn_rvalid(i_rvalid),
    .m_axi_insn_rready(i_rready),
    .m_axi_gmem_araddr(g_araddr), .m_axi_gmem_arlen(g_arlen), .m_axi_gmem_arsize(g_arsize),
    .m_axi_gmem_arburst(g_arburst), .m_axi_gmem_arvalid(g_arvalid), .m_axi_gmem_arready(g_arready),
    .m_axi_gmem_rdata(g_rdata), .m_axi_gmem_rresp(g_rresp), .m_axi_gmem_rlast(g_rlast), .m_axi_gmem_rvalid(g_rvalid),
    .m_axi_gmem_rready(g_rready),
    .m_axi_gmem_awaddr(g_awaddr), .m_axi_gmem_awlen(g_awlen), .m_axi_gmem_awsize(g_awsize),
    .m_axi_gmem_awburst(g_awburst), .m_axi_gmem_awvalid(g_awvalid), .m_axi_gmem_awready(g_awready),
    .m_axi_gmem_wdata(g_wdata), .m_axi_gmem_wstrb(g_wstrb), .m_axi_gmem_wlast(g_wlast), .m_axi_gmem_wvalid(g_wvalid),
    .m_axi_gmem_wready(g_wready), .m_axi_gmem_bresp(g_bresp), .m_axi_gmem_bvalid(g_bvalid),
    .m_axi_gmem_bready(g_bready)
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
    if (!$value$plusargs("dmem=%s", dmem_file)) $fatal(1, "tb_top: +dmem missing");
    if (!$value$plusargs("imem=%s", imem_file)) $fatal(1, "tb_top: +imem missing");
    if (!$value$plusargs("out=%s", out_file)) $fatal(1, "tb_top: +out missing");
    if (!$value$plusargs("result=%s", result_file)) $fatal(1, "tb_top: +result missing");
    if (!$value$plusargs("insn_count=%d", insn_count)) $fatal(1, "tb_top: +insn_count missing");
    if (!$value$plusargs("timeout=%d", timeout)) timeout = 64'd10_000_000;
    u_imem.load(imem_file);
    u_dmem.load(dmem_file);
    repeat (4) @(posedge clk);
    rst_n = 1'b1;
    repeat (2) @(posedge clk);
    for (r = 0; r < 8; r++) begin
      key = $sformatf("base%0d=%%h", r);
      base = 64'd0;
      if ($value$plusargs(key, base)) begin
        reg_write(12'h020 + 12'(8 * r), base[31:0]);
        reg_write(12'h024 + 12'(8 * r), base[63:32]);
      end
    end
    reg_write(12'h010, 32'd0);  // INSN_ADDR: the instructions sit at address 0
    reg_write(12'h014, 32'd0);
    reg_write(12'h018, insn_count);
    reg_write(12'h000, 32'd1);  // AP_CTRL.ap_start
    waited = 0;
    done = 1'b0;
    while (!done && waited < timeout) begin
      reg_read(12'h000, rd);  // poll AP_CTRL.ap_done, as the XRT host does
      done = rd[1];
      waited += 8;
    end
    reg_read(12'h060, rd); cycles[31:0] = rd;
    reg_read(12'h064, rd); cycles[63:32] = rd;
    reg_read(12'h068, status);
    fd = $fopen(result_file, "w");
    $fwrite(fd, "%s %h %h\n", done ? "done" : "timeout", cycles, status);
    $fclose(fd);
    u_dmem.dump(out_file);
    $finish;
  end

endmodule
