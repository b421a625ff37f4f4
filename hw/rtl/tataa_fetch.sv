// Instruction fetch: streams INSN_COUNT 128-bit instructions from INSN_ADDR over a dedicated AXI4 read
// port (one instruction per beat) into a prefetch FIFO, and offers them in order to dispatch.
//
// Bursts never cross a 4 KiB boundary and are issued only while the FIFO has room for every beat in
// flight, so R is always accepted. Once the first beat has arrived and while dispatch keeps up, one
// instruction is offered per cycle, which is the simulator's dispatch rule plus a constant prologue.
module tataa_fetch #(
  parameter int FifoDepth = 64,  // power of two, >= 2 * MaxBurst
  parameter int MaxBurst  = 16   // beats per AXI burst
) (
  input  logic                                clk_i,
  input  logic                                rst_ni,
  // run control
  input  logic                                start_i,       // pulse: begin fetching (clears the FIFO)
  input  logic [63:0]                         insn_addr_i,   // byte address, 16-byte aligned
  input  logic [31:0]                         insn_count_i,
  output logic                                align_err_o,   // insn_addr_i is not 16-byte aligned
  // AXI4 read address channel
  output logic                                arvalid_o,
  input  logic                                arready_i,
  output logic [63:0]                         araddr_o,
  output logic [7:0]                          arlen_o,
  output logic [2:0]                          arsize_o,
  output logic [1:0]                          arburst_o,
  // AXI4 read data channel
  input  logic                                rvalid_i,
  output logic                                rready_o,
  input  logic [tataa_isa_pkg::INSN_BITS-1:0] rdata_i,
  input  logic                                rlast_i,
  input  logic [1:0]                          rresp_i,
  output logic                                rresp_err_o,   // sticky: a beat came back with SLVERR/DECERR
  // instruction stream towards dispatch
  output logic                                out_valid_o,
  input  logic                                out_ready_i,
  output logic [tataa_isa_pkg::INSN_BITS-1:0] out_insn_o
);

  localparam int PtrW = $clog2(FifoDepth);
  localparam int CntW = PtrW + 1;

  logic [tataa_isa_pkg::INSN_BITS-1:0] fifo_q [FifoDepth];
  logic [PtrW-1:0] rd_ptr_q, wr_ptr_q;
  logic [CntW-1:0] count_q, count_d;        // instructions held in the FIFO
  logic [CntW-1:0] inflight_q, inflight_d;  // beats requested but not yet received
  logic [63:0]     next_addr_q, next_addr_d;
  logic [31:0]     to_request_q, to_request_d;
  logic            rresp_err_q;

  logic push, pop, ar_fire;
  logic [8:0]  page_beats;   // beats left before the next 4 KiB boundary (1..256)
  logic [31:0] burst_beats;  // beats of the burst offered now
  logic [CntW:0] room;       // FIFO entries not yet claimed by data or requests

  assign push    = rvalid_i;  // always accepted: room was reserved when the burst was issued
  assign pop     = out_valid_o && out_ready_i;
  assign ar_fire = arvalid_o && arready_i;

  always_comb begin
    page_beats = 9'd256 - {1'b0, next_addr_q[11:4]};
    burst_beats = to_request_q;
    if (burst_beats > MaxBurst) burst_beats = MaxBurst;
    if (burst_beats > {23'd0, page_beats}) burst_beats = {23'd0, page_beats};
    room = (CntW+1)'(FifoDepth) - {1'b0, count_q} - {1'b0, inflight_q};
  end

  assign arvalid_o = (to_request_q != 32'd0) && ({{(32 - CntW - 1){1'b0}}, room} >= burst_beats);
  assign araddr_o  = next_addr_q;
  assign arlen_o   = burst_beats[7:0] - 8'd1;
  assign arsize_o  = 3'($clog2(tataa_isa_pkg::INSN_BITS / 8));
  assign arburst_o = 2'b01;  // INCR
  assign rready_o  = 1'b1;

  always_comb begin
    next_addr_d  = next_addr_q;
    to_request_d = to_request_q;
    inflight_d   = inflight_q;
    count_d      = count_q;
    if (ar_fire) begin
      next_addr_d  = next_addr_q + {32'd0, burst_beats[27:0], 4'b0000};
      to_request_d = to_request_q - burst_beats;
      inflight_d   = inflight_d + burst_beats[CntW-1:0];
    end
    if (push) begin
      inflight_d = inflight_d - 1'b1;
      count_d    = count_d + 1'b1;
    end
    if (pop) count_d = count_d - 1'b1;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      rd_ptr_q     <= '0;
      wr_ptr_q     <= '0;
      count_q      <= '0;
      inflight_q   <= '0;
      next_addr_q  <= '0;
      to_request_q <= '0;
      rresp_err_q  <= 1'b0;
    end else if (start_i) begin
      rd_ptr_q     <= '0;
      wr_ptr_q     <= '0;
      count_q      <= '0;
      inflight_q   <= '0;
      next_addr_q  <= insn_addr_i;
      to_request_q <= (insn_addr_i[3:0] == 4'd0) ? insn_count_i : 32'd0;
      rresp_err_q  <= 1'b0;
    end else begin
      count_q      <= count_d;
      inflight_q   <= inflight_d;
      next_addr_q  <= next_addr_d;
      to_request_q <= to_request_d;
      if (push) wr_ptr_q <= wr_ptr_q + 1'b1;
      if (pop) rd_ptr_q <= rd_ptr_q + 1'b1;
      if (push && rresp_i != 2'b00) rresp_err_q <= 1'b1;
    end
  end

  always_ff @(posedge clk_i) begin
    if (push) fifo_q[wr_ptr_q] <= rdata_i;
  end

  assign out_valid_o = count_q != '0;
  assign out_insn_o  = fifo_q[rd_ptr_q];
  assign align_err_o = start_i && (insn_addr_i[3:0] != 4'd0);
  assign rresp_err_o = rresp_err_q;

  /* verilator lint_off UNUSEDSIGNAL */  // rlast_i: beats are counted, the last flag is redundant
  logic unused_rlast;
  assign unused_rlast = rlast_i;
  /* verilator lint_on UNUSEDSIGNAL */

`ifndef SYNTHESIS
  always @(posedge clk_i) begin : ap_no_overrun
    if (rst_ni && push) assert ((count_q + inflight_q) <= CntW'(FifoDepth)) else $error("fetch: FIFO overrun");
  end
  always @(posedge clk_i) begin : ap_burst_len
    if (rst_ni && arvalid_o) assert (burst_beats >= 1 && burst_beats <= MaxBurst) else $error("fetch: bad burst");
  end
`endif

endmodule
