// Control registers: the AXI4-Lite slave (32-bit data, 12-bit address) of the XRT user-managed RTL kernel,
// with the register map of docs/rtl.md and Vitis HLS ap_ctrl_hs semantics.
//
// * AP_CTRL (0x00): writing 1 to bit 0 sets ap_start; while ap_start is set and no run is going on, a run
//   starts: `start_o` pulses for one cycle, ap_start clears and ap_idle (bit 2) falls. Writing 0 does not
//   clear ap_start; ap_start written during a run starts the next run as soon as this one is done. `done_i`
//   ends the run: ap_idle rises and ap_done (bit 1) and ap_ready (bit 3) are set; both clear when AP_CTRL is
//   read (a `done_i` in the cycle of that read wins).
// * GIER (0x04) bit 0, IP_IER (0x08) bit 0: interrupt enables. IP_ISR (0x0C) bit 0 is set by `done_i` while
//   IP_IER[0] is set and toggles when written with 1 (the set wins over a toggle in the same cycle).
//   `interrupt_o` = GIER[0] & IP_ISR[0].
// * INSN_ADDR (0x10/0x14), INSN_COUNT (0x18), REGION_BASE[r] (0x20 + 8r, +4): read/write, byte strobes
//   honoured, held on the outputs. CYCLES (0x60/0x64), STATUS (0x68): read the inputs. CONFIG_HASH
//   (0x6C/0x70): the configuration's hash. Other addresses read 0 and ignore writes; address bits 1:0 are
//   ignored; every response is OKAY.
// AW and W are taken independently (one of each held); the write happens when both are there and the B
// channel is free. Reads return data the cycle after the AR handshake.
module tataa_ctrl_regs #(
  parameter logic [63:0] ConfigHash = tataa_cfg_pkg::ConfigHash
) (
  input  logic            clk_i,
  input  logic            rst_ni,
  // AXI4-Lite slave
  /* verilator lint_off UNUSEDSIGNAL */  // registers are 32-bit words: address bits 1:0 are ignored
  input  logic [11:0]     s_axil_awaddr_i,
  input  logic            s_axil_awvalid_i,
  output logic            s_axil_awready_o,
  input  logic [31:0]     s_axil_wdata_i,
  input  logic [3:0]      s_axil_wstrb_i,
  input  logic            s_axil_wvalid_i,
  output logic            s_axil_wready_o,
  output logic [1:0]      s_axil_bresp_o,
  output logic            s_axil_bvalid_o,
  input  logic            s_axil_bready_i,
  input  logic [11:0]     s_axil_araddr_i,
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic            s_axil_arvalid_i,
  output logic            s_axil_arready_o,
  output logic [31:0]     s_axil_rdata_o,
  output logic [1:0]      s_axil_rresp_o,
  output logic            s_axil_rvalid_o,
  input  logic            s_axil_rready_i,
  // kernel
  output logic            start_o,         // one-cycle pulse: a run starts
  output logic [63:0]     insn_addr_o,     // byte address of the first instruction
  output logic [31:0]     insn_count_o,    // number of 16-byte instructions
  output logic [8*64-1:0] region_base_o,   // base byte address of region r at bits r*64 +: 64
  input  logic            done_i,          // one-cycle pulse: the run is finished
  input  logic [63:0]     cycles_i,        // cycles of the last run
  input  logic [31:0]     status_i,        // STATUS register contents
  output logic            interrupt_o
);

  // word addresses (byte address bits 11:2)
  localparam logic [9:0] AddrApCtrl    = 10'h000;
  localparam logic [9:0] AddrGier      = 10'h001;
  localparam logic [9:0] AddrIer       = 10'h002;
  localparam logic [9:0] AddrIsr       = 10'h003;
  localparam logic [9:0] AddrInsnLo    = 10'h004;
  localparam logic [9:0] AddrInsnHi    = 10'h005;
  localparam logic [9:0] AddrInsnCount = 10'h006;
  localparam logic [9:0] AddrRegion    = 10'h008;  // 0x20: 16 words, region r low word at 0x20 + 8r
  localparam logic [9:0] AddrCyclesLo  = 10'h018;
  localparam logic [9:0] AddrCyclesHi  = 10'h019;
  localparam logic [9:0] AddrStatus    = 10'h01A;
  localparam logic [9:0] AddrHashLo    = 10'h01B;
  localparam logic [9:0] AddrHashHi    = 10'h01C;

  // ---- write channel --------------------------------------------------------------------------------------
  logic        aw_have_q, w_have_q, b_valid_q, wr_fire;
  logic [9:0]  aw_addr_q;
  logic [31:0] w_data_q;
  logic [3:0]  w_strb_q;

  assign s_axil_awready_o = !aw_have_q;
  assign s_axil_wready_o  = !w_have_q;
  assign wr_fire          = aw_have_q && w_have_q && !b_valid_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      aw_have_q <= 1'b0;
      w_have_q  <= 1'b0;
      b_valid_q <= 1'b0;
    end else begin
      if (s_axil_awvalid_i && s_axil_awready_o) begin
        aw_have_q <= 1'b1;
        aw_addr_q <= s_axil_awaddr_i[11:2];
      end else if (wr_fire) begin
        aw_have_q <= 1'b0;
      end
      if (s_axil_wvalid_i && s_axil_wready_o) begin
        w_have_q <= 1'b1;
        w_data_q <= s_axil_wdata_i;
        w_strb_q <= s_axil_wstrb_i;
      end else if (wr_fire) begin
        w_have_q <= 1'b0;
      end
      if (wr_fire) begin
        b_valid_q <= 1'b1;
      end else if (s_axil_bready_i) begin
        b_valid_q <= 1'b0;
      end
    end
  end

  assign s_axil_bvalid_o = b_valid_q;
  assign s_axil_bresp_o  = 2'b00;

  // byte-enabled update of a 32-bit register by the write in progress
  function automatic logic [31:0] merge(input logic [31:0] old, input logic [31:0] data, input logic [3:0] strb);
    for (int b = 0; b < 4; b++) merge[b*8 +: 8] = strb[b] ? data[b*8 +: 8] : old[b*8 +: 8];
  endfunction

  // ---- registers ------------------------------------------------------------------------------------------
  logic        start_q, run_q, done_q, ready_q, gie_q, ier_q, isr_q;
  logic [63:0] insn_addr_q;
  logic [31:0] insn_count_q;
  logic [511:0] region_q;      // word k (bits k*32 +: 32): region k/2, low (k even) or high (k odd) word
  logic        rd_ctrl;        // AP_CTRL is read this cycle
  logic        wr_ctrl, wr_isr;

  assign start_o = start_q && !run_q;
  assign wr_ctrl = wr_fire && (aw_addr_q == AddrApCtrl);
  assign wr_isr  = wr_fire && (aw_addr_q == AddrIsr) && w_strb_q[0] && w_data_q[0];

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      start_q <= 1'b0;
      run_q   <= 1'b0;
      done_q  <= 1'b0;
      ready_q <= 1'b0;
      gie_q   <= 1'b0;
      ier_q   <= 1'b0;
      isr_q   <= 1'b0;
    end else begin
      // run control
      if (start_o) begin
        start_q <= 1'b0;
        run_q   <= 1'b1;
      end
      if (wr_ctrl && w_strb_q[0] && w_data_q[0]) start_q <= 1'b1;
      if (done_i) run_q <= 1'b0;
      if (done_i) begin
        done_q  <= 1'b1;
        ready_q <= 1'b1;
      end else if (rd_ctrl) begin
        done_q  <= 1'b0;
        ready_q <= 1'b0;
      end
      // interrupts
      if (wr_fire && aw_addr_q == AddrGier && w_strb_q[0]) gie_q <= w_data_q[0];
      if (wr_fire && aw_addr_q == AddrIer && w_strb_q[0]) ier_q <= w_data_q[0];
      if (done_i && ier_q) isr_q <= 1'b1;
      else if (wr_isr) isr_q <= !isr_q;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      insn_addr_q  <= '0;
      insn_count_q <= '0;
      region_q     <= '0;
    end else if (wr_fire) begin
      if (aw_addr_q == AddrInsnLo) insn_addr_q[31:0] <= merge(insn_addr_q[31:0], w_data_q, w_strb_q);
      if (aw_addr_q == AddrInsnHi) insn_addr_q[63:32] <= merge(insn_addr_q[63:32], w_data_q, w_strb_q);
      if (aw_addr_q == AddrInsnCount) insn_count_q <= merge(insn_count_q, w_data_q, w_strb_q);
      for (int k = 0; k < 16; k++) begin
        if (aw_addr_q == AddrRegion + 10'(k)) begin
          region_q[k*32 +: 32] <= merge(region_q[k*32 +: 32], w_data_q, w_strb_q);
        end
      end
    end
  end

  assign insn_addr_o  = insn_addr_q;
  assign insn_count_o = insn_count_q;
  assign region_base_o = region_q;
  assign interrupt_o = gie_q && isr_q;

  // ---- read channel ---------------------------------------------------------------------------------------
  logic        r_valid_q, rd_fire;
  logic [31:0] r_data_q, rd_word;
  logic [9:0]  rd_addr;

  assign s_axil_arready_o = !r_valid_q;
  assign rd_fire          = s_axil_arvalid_i && s_axil_arready_o;
  assign rd_addr          = s_axil_araddr_i[11:2];
  assign rd_ctrl          = rd_fire && (rd_addr == AddrApCtrl);

  // (halves are selected outside always_comb: Icarus 11 cannot narrow the sensitivity of constant selects)
  logic [31:0] insn_lo, insn_hi, cycles_lo, cycles_hi, hash_lo, hash_hi;
  assign insn_lo   = insn_addr_q[31:0];
  assign insn_hi   = insn_addr_q[63:32];
  assign cycles_lo = cycles_i[31:0];
  assign cycles_hi = cycles_i[63:32];
  assign hash_lo   = ConfigHash[31:0];
  assign hash_hi   = ConfigHash[63:32];

  always_comb begin
    rd_word = '0;
    if (rd_addr == AddrApCtrl)    rd_word = {28'd0, ready_q, !run_q, done_q, start_q};
    if (rd_addr == AddrGier)      rd_word = {31'd0, gie_q};
    if (rd_addr == AddrIer)       rd_word = {31'd0, ier_q};
    if (rd_addr == AddrIsr)       rd_word = {31'd0, isr_q};
    if (rd_addr == AddrInsnLo)    rd_word = insn_lo;
    if (rd_addr == AddrInsnHi)    rd_word = insn_hi;
    if (rd_addr == AddrInsnCount) rd_word = insn_count_q;
    for (int k = 0; k < 16; k++) begin
      if (rd_addr == AddrRegion + 10'(k)) rd_word = region_q[k*32 +: 32];
    end
    if (rd_addr == AddrCyclesLo)  rd_word = cycles_lo;
    if (rd_addr == AddrCyclesHi)  rd_word = cycles_hi;
    if (rd_addr == AddrStatus)    rd_word = status_i;
    if (rd_addr == AddrHashLo)    rd_word = hash_lo;
    if (rd_addr == AddrHashHi)    rd_word = hash_hi;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      r_valid_q <= 1'b0;
    end else if (rd_fire) begin
      r_valid_q <= 1'b1;
      r_data_q  <= rd_word;
    end else if (s_axil_rready_i) begin
      r_valid_q <= 1'b0;
    end
  end

  assign s_axil_rvalid_o = r_valid_q;
  assign s_axil_rdata_o  = r_data_q;
  assign s_axil_rresp_o  = 2'b00;

`ifndef SYNTHESIS
  always @(posedge clk_i) begin : ap_done_while_idle
    if (rst_ni) assert (!(done_i && !run_q)) else $error("tataa_ctrl_regs: done_i without a run");
  end
`endif

endmodule : tataa_ctrl_regs
