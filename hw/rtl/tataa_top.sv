// tataa_top: the overlay as an XRT user-managed RTL kernel. Port names follow the Vitis RTL-kernel
// conventions (ap_clk, ap_rst_n, s_axi_control_*, m_axi_<bundle>_*, interrupt) so the kernel can be packaged
// with interface inference; these external names are therefore exempt from the _i/_o suffix rule.
//
// Bundles: s_axi_control (registers of docs/rtl.md), m_axi_insn (instruction fetch, 128-bit, read only),
// m_axi_gmem (data, DmaBytesPerCycle bytes wide; reads from LOAD, writes from STORE).
module tataa_top (
  input  logic                                  ap_clk,
  input  logic                                  ap_rst_n,
  // AXI4-Lite control slave
  input  logic [11:0]                           s_axi_control_awaddr,
  input  logic                                  s_axi_control_awvalid,
  output logic                                  s_axi_control_awready,
  input  logic [31:0]                           s_axi_control_wdata,
  input  logic [3:0]                            s_axi_control_wstrb,
  input  logic                                  s_axi_control_wvalid,
  output logic                                  s_axi_control_wready,
  output logic [1:0]                            s_axi_control_bresp,
  output logic                                  s_axi_control_bvalid,
  input  logic                                  s_axi_control_bready,
  input  logic [11:0]                           s_axi_control_araddr,
  input  logic                                  s_axi_control_arvalid,
  output logic                                  s_axi_control_arready,
  output logic [31:0]                           s_axi_control_rdata,
  output logic [1:0]                            s_axi_control_rresp,
  output logic                                  s_axi_control_rvalid,
  input  logic                                  s_axi_control_rready,
  // AXI4 masters
  output logic [63:0]                           m_axi_insn_araddr,
  output logic [7:0]                            m_axi_insn_arlen,
  output logic [2:0]                            m_axi_insn_arsize,
  output logic [1:0]                            m_axi_insn_arburst,
  output logic                                  m_axi_insn_arvalid,
  input  logic                                  m_axi_insn_arready,
  input  logic [tataa_isa_pkg::INSN_BITS-1:0]   m_axi_insn_rdata,
  input  logic [1:0]                            m_axi_insn_rresp,
  input  logic                                  m_axi_insn_rlast,
  input  logic                                  m_axi_insn_rvalid,
  output logic                                  m_axi_insn_rready,
  output logic [63:0]                           m_axi_gmem_araddr,
  output logic [7:0]                            m_axi_gmem_arlen,
  output logic [2:0]                            m_axi_gmem_arsize,
  output logic [1:0]                            m_axi_gmem_arburst,
  output logic                                  m_axi_gmem_arvalid,
  input  logic                                  m_axi_gmem_arready,
  input  logic [tataa_cfg_pkg::DmaBytesPerCycle*8-1:0]                 m_axi_gmem_rdata,
  input  logic [1:0]                            m_axi_gmem_rresp,
  input  logic                                  m_axi_gmem_rlast,
  input  logic                                  m_axi_gmem_rvalid,
  output logic                                  m_axi_gmem_rready,
  output logic [63:0]                           m_axi_gmem_awaddr,
  output logic [7:0]                            m_axi_gmem_awlen,
  output logic [2:0]                            m_axi_gmem_awsize,
  output logic [1:0]                            m_axi_gmem_awburst,
  output logic                                  m_axi_gmem_awvalid,
  input  logic                                  m_axi_gmem_awready,
  output logic [tataa_cfg_pkg::DmaBytesPerCycle*8-1:0]                 m_axi_gmem_wdata,
  output logic [tataa_cfg_pkg::DmaBytesPerCycle-1:0]                   m_axi_gmem_wstrb,
  output logic                                  m_axi_gmem_wlast,
  output logic                                  m_axi_gmem_wvalid,
  input  logic                                  m_axi_gmem_wready,
  input  logic [1:0]                            m_axi_gmem_bresp,
  input  logic                                  m_axi_gmem_bvalid,
  output logic                                  m_axi_gmem_bready,
  /* verilator lint_off SYMRSVDWORD */  // XRT requires the interrupt port to be called `interrupt`
  output logic                                  interrupt
  /* verilator lint_on SYMRSVDWORD */
);

  logic        start, done;
  logic [63:0] insn_addr, cycles;
  logic [31:0] insn_count, status;
  logic [8*64-1:0] region_base;
  /* verilator lint_off UNUSEDSIGNAL */  // busy is for debug probes
  logic        busy;
  /* verilator lint_on UNUSEDSIGNAL */

  tataa_ctrl_regs u_regs (
    .clk_i(ap_clk), .rst_ni(ap_rst_n),
    .s_axil_awaddr_i(s_axi_control_awaddr), .s_axil_awvalid_i(s_axi_control_awvalid),
    .s_axil_awready_o(s_axi_control_awready), .s_axil_wdata_i(s_axi_control_wdata),
    .s_axil_wstrb_i(s_axi_control_wstrb), .s_axil_wvalid_i(s_axi_control_wvalid),
    .s_axil_wready_o(s_axi_control_wready), .s_axil_bresp_o(s_axi_control_bresp),
    .s_axil_bvalid_o(s_axi_control_bvalid), .s_axil_bready_i(s_axi_control_bready),
    .s_axil_araddr_i(s_axi_control_araddr), .s_axil_arvalid_i(s_axi_control_arvalid),
    .s_axil_arready_o(s_axi_control_arready), .s_axil_rdata_o(s_axi_control_rdata),
    .s_axil_rresp_o(s_axi_control_rresp), .s_axil_rvalid_o(s_axi_control_rvalid),
    .s_axil_rready_i(s_axi_control_rready),
    .start_o(start), .insn_addr_o(insn_addr), .insn_count_o(insn_count), .region_base_o(region_base),
    .done_i(done), .cycles_i(cycles), .status_i(status), .interrupt_o(interrupt)
  );

  tataa_core u_core (
    .clk_i(ap_clk), .rst_ni(ap_rst_n),
    .start_i(start), .insn_addr_i(insn_addr), .insn_count_i(insn_count), .dram_base_i(region_base),
    .busy_o(busy), .done_o(done), .cycles_o(cycles), .status_o(status),
    .m_insn_araddr_o(m_axi_insn_araddr),
    .m_insn_arlen_o(m_axi_insn_arlen),
    .m_insn_arsize_o(m_axi_insn_arsize),
    .m_insn_arburst_o(m_axi_insn_arburst),
    .m_insn_arvalid_o(m_axi_insn_arvalid),
    .m_insn_arready_i(m_axi_insn_arready),
    .m_insn_rdata_i(m_axi_insn_rdata),
    .m_insn_rresp_i(m_axi_insn_rresp),
    .m_insn_rlast_i(m_axi_insn_rlast),
    .m_insn_rvalid_i(m_axi_insn_rvalid),
    .m_insn_rready_o(m_axi_insn_rready),
    .m_gmem_araddr_o(m_axi_gmem_araddr),
    .m_gmem_arlen_o(m_axi_gmem_arlen),
    .m_gmem_arsize_o(m_axi_gmem_arsize),
    .m_gmem_arburst_o(m_axi_gmem_arburst),
    .m_gmem_arvalid_o(m_axi_gmem_arvalid),
    .m_gmem_arready_i(m_axi_gmem_arready),
    .m_gmem_rdata_i(m_axi_gmem_rdata),
    .m_gmem_rresp_i(m_axi_gmem_rresp),
    .m_gmem_rlast_i(m_axi_gmem_rlast),
    .m_gmem_rvalid_i(m_axi_gmem_rvalid),
    .m_gmem_rready_o(m_axi_gmem_rready),
    .m_gmem_awaddr_o(m_axi_gmem_awaddr),
    .m_gmem_awlen_o(m_axi_gmem_awlen),
    .m_gmem_awsize_o(m_axi_gmem_awsize),
    .m_gmem_awburst_o(m_axi_gmem_awburst),
    .m_gmem_awvalid_o(m_axi_gmem_awvalid),
    .m_gmem_awready_i(m_axi_gmem_awready),
    .m_gmem_wdata_o(m_axi_gmem_wdata),
    .m_gmem_wstrb_o(m_axi_gmem_wstrb),
    .m_gmem_wlast_o(m_axi_gmem_wlast),
    .m_gmem_wvalid_o(m_axi_gmem_wvalid),
    .m_gmem_wready_i(m_axi_gmem_wready),
    .m_gmem_bresp_i(m_axi_gmem_bresp),
    .m_gmem_bvalid_i(m_axi_gmem_bvalid),
    .m_gmem_bready_o(m_axi_gmem_bready)
  );

endmodule
