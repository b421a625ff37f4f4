// Instruction queue of one unit: a FIFO of Depth instructions with a combinational head (docs/timing.md).
//
// An instruction stays in its queue until it starts: the unit pops the head in the cycle the instruction
// issues. A full queue accepts a write in the cycle its head is popped (wready_o = !full || rready_i), so a
// slot freed at cycle s is refilled at s: the simulator's d(i) = max(d(i-1) + 1, s(q(i))). A write in cycle d
// is visible at the head from cycle d + 1 (s(i) >= d(i) + 1).
module tataa_insn_queue #(
  parameter int Depth = tataa_cfg_pkg::InsnQueueDepth,
  parameter int Width = tataa_isa_pkg::INSN_BITS
) (
  input  logic                       clk_i,
  input  logic                       rst_ni,
  input  logic                       clear_i,       // drop every entry (start of a run)
  // write side (dispatch)
  input  logic                       wvalid_i,
  output logic                       wready_o,
  input  logic [Width-1:0]           wdata_i,
  // read side (issue): the head, popped with rready_i
  output logic                       rvalid_o,
  input  logic                       rready_i,
  output logic [Width-1:0]           rdata_o,
  output logic                       empty_next_o,  // the queue will be empty in the next cycle
  output logic [$clog2(Depth+1)-1:0] count_o
);

  localparam int PtrW = Depth > 1 ? $clog2(Depth) : 1;
  localparam int CntW = $clog2(Depth + 1);
  localparam logic [PtrW-1:0] PtrLast = PtrW'(Depth - 1);
  localparam logic [PtrW-1:0] PtrOne = {{(PtrW - 1) {1'b0}}, 1'b1};
  localparam logic [CntW-1:0] CntOne = {{(CntW - 1) {1'b0}}, 1'b1};
  localparam logic [CntW-1:0] CntFull = CntW'(Depth);

  logic [Width-1:0] mem_q[0:Depth-1];
  logic [PtrW-1:0] wptr_d, wptr_q, rptr_d, rptr_q;
  logic [CntW-1:0] count_d, count_q;
  logic            push, pop;

  assign rvalid_o = count_q != '0;
  assign rdata_o  = mem_q[rptr_q];
  assign wready_o = count_q != CntFull || rready_i;
  assign push     = wvalid_i && wready_o;
  assign pop      = rvalid_o && rready_i;

  always_comb begin
    wptr_d  = wptr_q;
    rptr_d  = rptr_q;
    count_d = count_q;
    if (push) wptr_d = wptr_q == PtrLast ? '0 : wptr_q + PtrOne;
    if (pop) rptr_d = rptr_q == PtrLast ? '0 : rptr_q + PtrOne;
    if (push && !pop) count_d = count_q + CntOne;
    else if (pop && !push) count_d = count_q - CntOne;
    if (clear_i) begin
      wptr_d  = '0;
      rptr_d  = '0;
      count_d = '0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      wptr_q  <= '0;
      rptr_q  <= '0;
      count_q <= '0;
    end else begin
      wptr_q  <= wptr_d;
      rptr_q  <= rptr_d;
      count_q <= count_d;
    end
  end

  always_ff @(posedge clk_i) begin
    if (push) mem_q[wptr_q] <= wdata_i;
  end

  assign empty_next_o = count_d == '0;
  assign count_o      = count_q;

`ifndef SYNTHESIS
  always @(posedge clk_i) begin : ap_no_pop_empty
    if (rst_ni) assert (!(rready_i && !rvalid_o)) else $error("instruction queue: pop while empty");
  end
`endif

endmodule
