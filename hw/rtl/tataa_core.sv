// One tataa core: instruction fetch, dispatch and the three units (LOAD, COMPUTE, STORE) with their engines,
// over the four scratchpads. The host side (AXI4-Lite control registers) is in tataa_top.
//
// AXI masters: `insn` (read only, one 128-bit instruction per beat) for fetch; `gmem` (DmaBytesPerCycle
// bytes per beat) whose read channels belong to the LOAD DMA and whose write channels belong to the STORE
// DMA, so loads and stores proceed concurrently, as the timing model assumes.
module tataa_core #(
  parameter int N        = tataa_cfg_pkg::ArraySize,
  parameter int BusBytes = tataa_cfg_pkg::DmaBytesPerCycle
) (
  input  logic                                clk_i,
  input  logic                                rst_ni,
  // run control (from the control registers)
  input  logic                                start_i,        // pulse
  input  logic [63:0]                         insn_addr_i,
  input  logic [31:0]                         insn_count_i,
  input  logic [8*64-1:0]                     dram_base_i,
  output logic                                busy_o,
  output logic                                done_o,         // pulse: the run ended (FINISH or an error)
  output logic [63:0]                         cycles_o,       // cycles of the last run
  output logic [31:0]                         status_o,       // docs/rtl.md STATUS register
  // AXI4 master for instruction fetch (read only)
  output logic [63:0]                         m_insn_araddr_o,
  output logic [7:0]                          m_insn_arlen_o,
  output logic [2:0]                          m_insn_arsize_o,
  output logic [1:0]                          m_insn_arburst_o,
  output logic                                m_insn_arvalid_o,
  input  logic                                m_insn_arready_i,
  input  logic [tataa_isa_pkg::INSN_BITS-1:0] m_insn_rdata_i,
  input  logic [1:0]                          m_insn_rresp_i,
  input  logic                                m_insn_rlast_i,
  input  logic                                m_insn_rvalid_i,
  output logic                                m_insn_rready_o,
  // AXI4 master for data
  output logic [63:0]                         m_gmem_araddr_o,
  output logic [7:0]                          m_gmem_arlen_o,
  output logic [2:0]                          m_gmem_arsize_o,
  output logic [1:0]                          m_gmem_arburst_o,
  output logic                                m_gmem_arvalid_o,
  input  logic                                m_gmem_arready_i,
  input  logic [BusBytes*8-1:0]               m_gmem_rdata_i,
  input  logic [1:0]                          m_gmem_rresp_i,
  input  logic                                m_gmem_rlast_i,
  input  logic                                m_gmem_rvalid_i,
  output logic                                m_gmem_rready_o,
  output logic [63:0]                         m_gmem_awaddr_o,
  output logic [7:0]                          m_gmem_awlen_o,
  output logic [2:0]                          m_gmem_awsize_o,
  output logic [1:0]                          m_gmem_awburst_o,
  output logic                                m_gmem_awvalid_o,
  input  logic                                m_gmem_awready_i,
  output logic [BusBytes*8-1:0]               m_gmem_wdata_o,
  output logic [BusBytes-1:0]                 m_gmem_wstrb_o,
  output logic                                m_gmem_wlast_o,
  output logic                                m_gmem_wvalid_o,
  input  logic                                m_gmem_wready_i,
  input  logic [1:0]                          m_gmem_bresp_i,
  input  logic                                m_gmem_bvalid_i,
  output logic                                m_gmem_bready_o
);

  localparam int IB = tataa_isa_pkg::INSN_BITS;
  localparam int InpAw = tataa_cfg_pkg::InpAddrBits;
  localparam int WgtAw = tataa_cfg_pkg::WgtAddrBits;
  localparam int AccAw = tataa_cfg_pkg::AccAddrBits;
  localparam int VecAw = tataa_cfg_pkg::VecAddrBits;
  localparam int BufAw = 16;  // word address width of the DMA buffer ports

  // ---------------------------------------------------------------- run state
  // run states (localparams rather than an enum: Icarus 11 rejects enum assignments in this FSM)
  localparam logic [1:0] RunIdle = 2'd0, RunActive = 2'd1, RunDone = 2'd2;
  logic [1:0] run_q, run_d;
  logic [63:0] cycles_q;
  logic [31:0] status_q, status_d;
  logic        run_clear, ctrl_done, err_now;
  logic [15:0] insn_index_q;  // instructions offered to dispatch so far (names the offending one)

  // ---------------------------------------------------------------- fetch and control
  logic        f_valid, f_ready, f_align_err, f_rresp_err;
  logic [IB-1:0] f_insn;
  logic        decode_err;
  logic        load_start, compute_start, store_start;
  logic [IB-1:0] load_insn, compute_insn, store_insn;
  logic        load_done, compute_done, store_done;
  logic        load_err, store_err, mode_err;

  assign run_clear = start_i && run_q != RunActive;

  tataa_fetch u_fetch (
    .clk_i, .rst_ni,
    .start_i(run_clear), .insn_addr_i, .insn_count_i, .align_err_o(f_align_err),
    .arvalid_o(m_insn_arvalid_o), .arready_i(m_insn_arready_i), .araddr_o(m_insn_araddr_o),
    .arlen_o(m_insn_arlen_o), .arsize_o(m_insn_arsize_o), .arburst_o(m_insn_arburst_o),
    .rvalid_i(m_insn_rvalid_i), .rready_o(m_insn_rready_o), .rdata_i(m_insn_rdata_i),
    .rlast_i(m_insn_rlast_i), .rresp_i(m_insn_rresp_i), .rresp_err_o(f_rresp_err),
    .out_valid_o(f_valid), .out_ready_i(f_ready), .out_insn_o(f_insn)
  );

  /* verilator lint_off UNUSEDSIGNAL */  // activity and token counts are for debug and future counters
  logic        finish_dispatched, fetch_stall;
  logic [2:0]  issue, retire, unit_busy, token_wait;
  logic [4*32-1:0] tokens;
  /* verilator lint_on UNUSEDSIGNAL */

  tataa_control u_control (
    .clk_i, .rst_ni, .clear_i(run_clear),
    .insn_valid_i(f_valid && run_q == RunActive), .insn_ready_o(f_ready), .insn_i(f_insn),
    .decode_err_o(decode_err),
    .load_start_o(load_start), .load_insn_o(load_insn), .load_done_i(load_done),
    .compute_start_o(compute_start), .compute_insn_o(compute_insn), .compute_done_i(compute_done),
    .store_start_o(store_start), .store_insn_o(store_insn), .store_done_i(store_done),
    .done_o(ctrl_done), .finish_dispatched_o(finish_dispatched),
    .issue_o(issue), .retire_o(retire), .busy_o(unit_busy), .token_wait_o(token_wait),
    .fetch_stall_o(fetch_stall), .tokens_o(tokens)
  );

  // ---------------------------------------------------------------- compute unit and engines
  logic gemm_start, gemm_done, requant_start, requant_done, simd_start, simd_done, pe_mode;
  logic [tataa_isa_pkg::NUM_CONST_REGS*16-1:0] consts;

  tataa_compute_unit u_compute (
    .clk_i, .rst_ni, .clear_i(run_clear),
    .start_i(compute_start), .insn_i(compute_insn), .done_o(compute_done), .mode_err_o(mode_err),
    .gemm_start_o(gemm_start), .gemm_done_i(gemm_done),
    .requant_start_o(requant_start), .requant_done_i(requant_done),
    .simd_start_o(simd_start), .simd_done_i(simd_done),
    .mode_o(pe_mode), .const_o(consts)
  );

  // scratchpad ports
  logic [1:0]         inp_rd_en;   logic [2*InpAw-1:0] inp_rd_addr;  logic [2*N*8-1:0]  inp_rd_data;
  logic [2:0]         inp_wr_en;   logic [3*InpAw-1:0] inp_wr_addr;  logic [3*N*8-1:0]  inp_wr_data;
  logic [1:0]         wgt_rd_en;   logic [2*WgtAw-1:0] wgt_rd_addr;  logic [2*N*8-1:0]  wgt_rd_data;
  logic [0:0]         wgt_wr_en;   logic [WgtAw-1:0]   wgt_wr_addr;  logic [N*8-1:0]    wgt_wr_data;
  logic [3:0]         acc_rd_en;   logic [4*AccAw-1:0] acc_rd_addr;  logic [4*N*32-1:0] acc_rd_data;
  logic [1:0]         acc_wr_en;   logic [2*AccAw-1:0] acc_wr_addr;  logic [2*N*32-1:0] acc_wr_data;
  logic [3:0]         vec_rd_en;   logic [4*VecAw-1:0] vec_rd_addr;  logic [4*N*16-1:0] vec_rd_data;
  logic [2:0]         vec_wr_en;   logic [3*VecAw-1:0] vec_wr_addr;  logic [3*N*16-1:0] vec_wr_data;

  // The SIMD lanes multiply on the PEs of row 0 of the array (PE (0, j) serves lane j): transformable PEs.
  logic [N*8-1:0]    lane_mul_a, lane_mul_b;
  /* verilator lint_off UNUSEDSIGNAL */  // products of the PEs below row 0, and engine status for debug
  logic [N*N*16-1:0] simd_products;
  logic gemm_busy, requant_busy, simd_busy, load_busy, store_busy;
  /* verilator lint_on UNUSEDSIGNAL */

  tataa_gemm_engine u_gemm (
    .clk_i, .rst_ni, .start_i(gemm_start), .insn_i(compute_insn), .busy_o(gemm_busy), .done_o(gemm_done),
    .inp_rd_en_o(inp_rd_en[0]), .inp_rd_addr_o(inp_rd_addr[0 +: InpAw]), .inp_rd_data_i(inp_rd_data[0 +: N*8]),
    .wgt_rd_en_o(wgt_rd_en[0]), .wgt_rd_addr_o(wgt_rd_addr[0 +: WgtAw]), .wgt_rd_data_i(wgt_rd_data[0 +: N*8]),
    .acc_rd_en_o(acc_rd_en[0]), .acc_rd_addr_o(acc_rd_addr[0 +: AccAw]),
    .acc_rd_data_i(acc_rd_data[0 +: N*32]),
    .acc_wr_en_o(acc_wr_en[1]), .acc_wr_addr_o(acc_wr_addr[AccAw +: AccAw]),
    .acc_wr_data_o(acc_wr_data[N*32 +: N*32]),
    .mode_i(pe_mode), .simd_a_i({{(N*N*8 - N*8){1'b0}}, lane_mul_a}),
    .simd_b_i({{(N*N*8 - N*8){1'b0}}, lane_mul_b}), .simd_p_o(simd_products)
  );

  tataa_requant_engine u_requant (
    .clk_i, .rst_ni, .start_i(requant_start), .insn_i(compute_insn), .busy_o(requant_busy),
    .done_o(requant_done),
    .acc_rd_en_o(acc_rd_en[1]), .acc_rd_addr_o(acc_rd_addr[AccAw +: AccAw]),
    .acc_rd_data_i(acc_rd_data[N*32 +: N*32]),
    .scale_rd_en_o(acc_rd_en[2]), .scale_rd_addr_o(acc_rd_addr[2*AccAw +: AccAw]),
    .scale_rd_data_i(acc_rd_data[2*N*32 +: N*32]),
    .inp_wr_en_o(inp_wr_en[1]), .inp_wr_addr_o(inp_wr_addr[InpAw +: InpAw]),
    .inp_wr_data_o(inp_wr_data[N*8 +: N*8]),
    .vec_wr_en_o(vec_wr_en[1]), .vec_wr_addr_o(vec_wr_addr[VecAw +: VecAw]),
    .vec_wr_data_o(vec_wr_data[N*16 +: N*16])
  );

  tataa_simd_engine #(.ExternalMul(1'b1)) u_simd (
    .clk_i, .rst_ni, .start_i(simd_start), .insn_i(compute_insn), .const_i(consts), .busy_o(simd_busy),
    .done_o(simd_done),
    .vec_a_rd_en_o(vec_rd_en[0]), .vec_a_rd_addr_o(vec_rd_addr[0 +: VecAw]),
    .vec_a_rd_data_i(vec_rd_data[0 +: N*16]),
    .vec_b_rd_en_o(vec_rd_en[1]), .vec_b_rd_addr_o(vec_rd_addr[VecAw +: VecAw]),
    .vec_b_rd_data_i(vec_rd_data[N*16 +: N*16]),
    .vec_d_rd_en_o(vec_rd_en[2]), .vec_d_rd_addr_o(vec_rd_addr[2*VecAw +: VecAw]),
    .vec_d_rd_data_i(vec_rd_data[2*N*16 +: N*16]),
    .vec_wr_en_o(vec_wr_en[2]), .vec_wr_addr_o(vec_wr_addr[2*VecAw +: VecAw]),
    .vec_wr_data_o(vec_wr_data[2*N*16 +: N*16]),
    .inp_wr_en_o(inp_wr_en[2]), .inp_wr_addr_o(inp_wr_addr[2*InpAw +: InpAw]),
    .inp_wr_data_o(inp_wr_data[2*N*8 +: N*8]),
    .mul_a_o(lane_mul_a), .mul_b_o(lane_mul_b), .prod_i(simd_products[N*16-1:0])
  );

  // ---------------------------------------------------------------- DMA engines
  logic             ld_wr_en;
  logic [1:0]       ld_wr_sel;
  logic [N*32-1:0]  ld_wr_data;
  logic             st_rd_en;
  logic [1:0]       st_rd_sel, st_rd_sel_q;
  logic [N*32-1:0]  st_rd_data;
  /* verilator lint_off UNUSEDSIGNAL */  // the DMA's word addresses are wider than the smaller buffers
  logic [BufAw-1:0] ld_wr_addr, st_rd_addr;
  /* verilator lint_on UNUSEDSIGNAL */

  /* verilator lint_off UNUSEDSIGNAL */  // each DMA instance uses one direction of its AXI port
  logic [63:0] ld_awaddr; logic [7:0] ld_awlen; logic [2:0] ld_awsize; logic [1:0] ld_awburst;
  logic ld_awvalid, ld_wlast, ld_wvalid, ld_bready, ld_rd_en;
  logic [BusBytes*8-1:0] ld_wdata; logic [BusBytes-1:0] ld_wstrb;
  logic [1:0] ld_rd_sel; logic [BufAw-1:0] ld_rd_addr;
  logic [63:0] st_araddr; logic [7:0] st_arlen; logic [2:0] st_arsize; logic [1:0] st_arburst;
  logic st_arvalid, st_rready, st_wr_en;
  logic [1:0] st_wr_sel; logic [BufAw-1:0] st_wr_addr; logic [N*32-1:0] st_wr_data;
  /* verilator lint_on UNUSEDSIGNAL */

  tataa_dma u_load_dma (
    .clk_i, .rst_ni, .start_i(load_start), .insn_i(load_insn), .dram_base_i, .busy_o(load_busy),
    .done_o(load_done), .err_o(load_err),
    .m_axi_araddr_o(m_gmem_araddr_o), .m_axi_arlen_o(m_gmem_arlen_o), .m_axi_arsize_o(m_gmem_arsize_o),
    .m_axi_arburst_o(m_gmem_arburst_o), .m_axi_arvalid_o(m_gmem_arvalid_o), .m_axi_arready_i(m_gmem_arready_i),
    .m_axi_rdata_i(m_gmem_rdata_i), .m_axi_rresp_i(m_gmem_rresp_i), .m_axi_rlast_i(m_gmem_rlast_i),
    .m_axi_rvalid_i(m_gmem_rvalid_i), .m_axi_rready_o(m_gmem_rready_o),
    .m_axi_awaddr_o(ld_awaddr), .m_axi_awlen_o(ld_awlen), .m_axi_awsize_o(ld_awsize),
    .m_axi_awburst_o(ld_awburst), .m_axi_awvalid_o(ld_awvalid), .m_axi_awready_i(1'b0),
    .m_axi_wdata_o(ld_wdata), .m_axi_wstrb_o(ld_wstrb), .m_axi_wlast_o(ld_wlast), .m_axi_wvalid_o(ld_wvalid),
    .m_axi_wready_i(1'b0), .m_axi_bresp_i(2'b00), .m_axi_bvalid_i(1'b0), .m_axi_bready_o(ld_bready),
    .buf_wr_en_o(ld_wr_en), .buf_wr_sel_o(ld_wr_sel), .buf_wr_addr_o(ld_wr_addr), .buf_wr_data_o(ld_wr_data),
    .buf_rd_en_o(ld_rd_en), .buf_rd_sel_o(ld_rd_sel), .buf_rd_addr_o(ld_rd_addr), .buf_rd_data_i({N*32{1'b0}})
  );

  tataa_dma u_store_dma (
    .clk_i, .rst_ni, .start_i(store_start), .insn_i(store_insn), .dram_base_i, .busy_o(store_busy),
    .done_o(store_done), .err_o(store_err),
    .m_axi_araddr_o(st_araddr), .m_axi_arlen_o(st_arlen), .m_axi_arsize_o(st_arsize),
    .m_axi_arburst_o(st_arburst), .m_axi_arvalid_o(st_arvalid), .m_axi_arready_i(1'b0),
    .m_axi_rdata_i({BusBytes*8{1'b0}}), .m_axi_rresp_i(2'b00), .m_axi_rlast_i(1'b0), .m_axi_rvalid_i(1'b0),
    .m_axi_rready_o(st_rready),
    .m_axi_awaddr_o(m_gmem_awaddr_o), .m_axi_awlen_o(m_gmem_awlen_o), .m_axi_awsize_o(m_gmem_awsize_o),
    .m_axi_awburst_o(m_gmem_awburst_o), .m_axi_awvalid_o(m_gmem_awvalid_o), .m_axi_awready_i(m_gmem_awready_i),
    .m_axi_wdata_o(m_gmem_wdata_o), .m_axi_wstrb_o(m_gmem_wstrb_o), .m_axi_wlast_o(m_gmem_wlast_o),
    .m_axi_wvalid_o(m_gmem_wvalid_o), .m_axi_wready_i(m_gmem_wready_i), .m_axi_bresp_i(m_gmem_bresp_i),
    .m_axi_bvalid_i(m_gmem_bvalid_i), .m_axi_bready_o(m_gmem_bready_o),
    .buf_wr_en_o(st_wr_en), .buf_wr_sel_o(st_wr_sel), .buf_wr_addr_o(st_wr_addr), .buf_wr_data_o(st_wr_data),
    .buf_rd_en_o(st_rd_en), .buf_rd_sel_o(st_rd_sel), .buf_rd_addr_o(st_rd_addr), .buf_rd_data_i(st_rd_data)
  );

  // LOAD DMA write port -> write port 0 of the selected buffer
  assign inp_wr_en[0] = ld_wr_en && ld_wr_sel == 2'(tataa_isa_pkg::BUFFER_INP);
  assign wgt_wr_en[0] = ld_wr_en && ld_wr_sel == 2'(tataa_isa_pkg::BUFFER_WGT);
  assign acc_wr_en[0] = ld_wr_en && ld_wr_sel == 2'(tataa_isa_pkg::BUFFER_ACC);
  assign vec_wr_en[0] = ld_wr_en && ld_wr_sel == 2'(tataa_isa_pkg::BUFFER_VEC);
  assign inp_wr_addr[0 +: InpAw] = ld_wr_addr[InpAw-1:0];
  assign wgt_wr_addr             = ld_wr_addr[WgtAw-1:0];
  assign acc_wr_addr[0 +: AccAw] = ld_wr_addr[AccAw-1:0];
  assign vec_wr_addr[0 +: VecAw] = ld_wr_addr[VecAw-1:0];
  assign inp_wr_data[0 +: N*8]   = ld_wr_data[N*8-1:0];
  assign wgt_wr_data             = ld_wr_data[N*8-1:0];
  assign acc_wr_data[0 +: N*32]  = ld_wr_data;
  assign vec_wr_data[0 +: N*16]  = ld_wr_data[N*16-1:0];

  // STORE DMA read port -> the last read port of every buffer; data one cycle later, muxed by the
  // registered buffer select.
  assign inp_rd_en[1] = st_rd_en && st_rd_sel == 2'(tataa_isa_pkg::BUFFER_INP);
  assign wgt_rd_en[1] = st_rd_en && st_rd_sel == 2'(tataa_isa_pkg::BUFFER_WGT);
  assign acc_rd_en[3] = st_rd_en && st_rd_sel == 2'(tataa_isa_pkg::BUFFER_ACC);
  assign vec_rd_en[3] = st_rd_en && st_rd_sel == 2'(tataa_isa_pkg::BUFFER_VEC);
  assign inp_rd_addr[InpAw +: InpAw]   = st_rd_addr[InpAw-1:0];
  assign wgt_rd_addr[WgtAw +: WgtAw]   = st_rd_addr[WgtAw-1:0];
  assign acc_rd_addr[3*AccAw +: AccAw] = st_rd_addr[AccAw-1:0];
  assign vec_rd_addr[3*VecAw +: VecAw] = st_rd_addr[VecAw-1:0];

  always_ff @(posedge clk_i) begin
    if (!rst_ni) st_rd_sel_q <= 2'd0;
    else if (st_rd_en) st_rd_sel_q <= st_rd_sel;
  end

  always_comb begin
    st_rd_data = '0;
    unique case (st_rd_sel_q)
      2'(tataa_isa_pkg::BUFFER_INP): st_rd_data[N*8-1:0]  = inp_rd_data[N*8 +: N*8];
      2'(tataa_isa_pkg::BUFFER_WGT): st_rd_data[N*8-1:0]  = wgt_rd_data[N*8 +: N*8];
      2'(tataa_isa_pkg::BUFFER_ACC): st_rd_data           = acc_rd_data[3*N*32 +: N*32];
      default:                       st_rd_data[N*16-1:0] = vec_rd_data[3*N*16 +: N*16];
    endcase
  end

  // ---------------------------------------------------------------- scratchpads
  tataa_spad #(.Depth(tataa_cfg_pkg::InpDepth), .Width(N*8), .NumRd(2), .NumWr(3)) u_inp (
    .clk_i, .rst_ni, .rd_en_i(inp_rd_en), .rd_addr_i(inp_rd_addr), .rd_data_o(inp_rd_data),
    .wr_en_i(inp_wr_en), .wr_addr_i(inp_wr_addr), .wr_data_i(inp_wr_data)
  );
  tataa_spad #(.Depth(tataa_cfg_pkg::WgtDepth), .Width(N*8), .NumRd(2), .NumWr(1)) u_wgt (
    .clk_i, .rst_ni, .rd_en_i(wgt_rd_en), .rd_addr_i(wgt_rd_addr), .rd_data_o(wgt_rd_data),
    .wr_en_i(wgt_wr_en), .wr_addr_i(wgt_wr_addr), .wr_data_i(wgt_wr_data)
  );
  tataa_spad #(.Depth(tataa_cfg_pkg::AccDepth), .Width(N*32), .NumRd(4), .NumWr(2)) u_acc (
    .clk_i, .rst_ni, .rd_en_i(acc_rd_en), .rd_addr_i(acc_rd_addr), .rd_data_o(acc_rd_data),
    .wr_en_i(acc_wr_en), .wr_addr_i(acc_wr_addr), .wr_data_i(acc_wr_data)
  );
  tataa_spad #(.Depth(tataa_cfg_pkg::VecDepth), .Width(N*16), .NumRd(4), .NumWr(3)) u_vec (
    .clk_i, .rst_ni, .rd_en_i(vec_rd_en), .rd_addr_i(vec_rd_addr), .rd_data_o(vec_rd_data),
    .wr_en_i(vec_wr_en), .wr_addr_i(vec_wr_addr), .wr_data_i(vec_wr_data)
  );

  // ---------------------------------------------------------------- run control, cycle counter, status
  assign err_now = decode_err || f_align_err || f_rresp_err || load_err || store_err || mode_err;

  always_comb begin
    run_d    = run_q;
    status_d = status_q;
    unique case (run_q)
      RunIdle, RunDone: if (start_i) begin
        run_d    = RunActive;
        status_d = '0;
      end
      RunActive: begin
        if (err_now && status_d[2:0] == 3'b000) status_d[31:16] = insn_index_q;
        if (decode_err) status_d[0] = 1'b1;
        if (mode_err) status_d[1] = 1'b1;
        if (load_err || store_err || f_align_err || f_rresp_err) status_d[2] = 1'b1;
        // A refused instruction would stall dispatch for ever: end the run so the host is not stuck.
        if (ctrl_done || decode_err || f_align_err || f_rresp_err) run_d = RunDone;
      end
      default: run_d = RunIdle;
    endcase
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      run_q        <= RunIdle;
      cycles_q     <= '0;
      status_q     <= '0;
      insn_index_q <= '0;
    end else begin
      run_q    <= run_d;
      status_q <= status_d;
      if (run_clear) begin
        cycles_q     <= '0;
        insn_index_q <= '0;
      end else if (run_q == RunActive) begin
        cycles_q <= cycles_q + 64'd1;
        if (f_valid && f_ready) insn_index_q <= insn_index_q + 16'd1;
      end
    end
  end

  assign busy_o   = run_q == RunActive;
  assign done_o   = run_q == RunActive && run_d == RunDone;
  assign cycles_o = cycles_q;
  assign status_o = status_q;

endmodule
