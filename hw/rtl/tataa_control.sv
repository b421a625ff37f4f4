// Control path of one core: dispatch, the LOAD/COMPUTE/STORE instruction queues, the four dependency-token
// FIFOs and the three issue stages, with a start/done port per execution engine (docs/timing.md).
//
// The fetched instruction stream enters at insn_*; the instruction offered in cycle d is dispatched in cycle d
// when its queue has room. Each engine gets `*_start_o` with `*_insn_o` in the instruction's start cycle s and
// must raise `*_done_i` in its last busy cycle s + D - 1 (see tataa_unit_issue). `done_o` is high from the end
// cycle of FINISH (the program's cycle count when cycle 0 is the first dispatch) until clear_i. Activity
// vectors are indexed by unit (bit 0 LOAD, 1 COMPUTE, 2 STORE); `tokens_o` holds the four FIFO counts in the
// simulator's order (LOAD->COMPUTE, COMPUTE->LOAD, COMPUTE->STORE, STORE->COMPUTE), CountWidth bits each.
module tataa_control #(
  parameter int QueueDepth = tataa_cfg_pkg::InsnQueueDepth,
  parameter int TokenCountWidth = 32
) (
  input  logic                                 clk_i,
  input  logic                                 rst_ni,
  input  logic                                 clear_i,           // start of a run: empty queues and FIFOs
  // fetched instruction stream
  input  logic                                 insn_valid_i,
  output logic                                 insn_ready_o,
  input  logic [tataa_isa_pkg::INSN_BITS-1:0]  insn_i,
  output logic                                 decode_err_o,      // the offered instruction is refused
  // LOAD engine (DMA)
  output logic                                 load_start_o,
  output logic [tataa_isa_pkg::INSN_BITS-1:0]  load_insn_o,
  input  logic                                 load_done_i,
  // COMPUTE engine
  output logic                                 compute_start_o,
  output logic [tataa_isa_pkg::INSN_BITS-1:0]  compute_insn_o,
  input  logic                                 compute_done_i,
  // STORE engine (DMA)
  output logic                                 store_start_o,
  output logic [tataa_isa_pkg::INSN_BITS-1:0]  store_insn_o,
  input  logic                                 store_done_i,
  // status
  output logic                                 done_o,            // FINISH has retired
  output logic                                 finish_dispatched_o,
  output logic [2:0]                           issue_o,
  output logic [2:0]                           retire_o,
  output logic [2:0]                           busy_o,
  output logic [2:0]                           token_wait_o,
  output logic                                 fetch_stall_o,     // the offered instruction's queue is full
  output logic [4*TokenCountWidth-1:0]         tokens_o
);

  localparam int InsnW = tataa_isa_pkg::INSN_BITS;
  localparam int QCntW = $clog2(QueueDepth + 1);

  // ---- dispatch and queues -------------------------------------------------------------------------------
  logic [2:0]       dq_valid, dq_ready, q_valid, q_pop, q_empty_next;
  logic [InsnW-1:0] dq_insn;
  logic [InsnW-1:0] q_insn[0:2];

  tataa_dispatch u_dispatch (
    .clk_i,
    .rst_ni,
    .clear_i,
    .in_valid_i  (insn_valid_i),
    .in_ready_o  (insn_ready_o),
    .in_insn_i   (insn_i),
    .q_valid_o   (dq_valid),
    .q_ready_i   (dq_ready),
    .q_insn_o    (dq_insn),
    .decode_err_o,
    .stall_o     (fetch_stall_o),
    .finish_o    (finish_dispatched_o)
  );

  for (genvar u = 0; u < 3; u++) begin : g_queue
    /* verilator lint_off UNUSEDSIGNAL */  // the count is for debug visibility only
    logic [QCntW-1:0] count;
    /* verilator lint_on UNUSEDSIGNAL */
    tataa_insn_queue #(
      .Depth(QueueDepth),
      .Width(InsnW)
    ) u_queue (
      .clk_i,
      .rst_ni,
      .clear_i,
      .wvalid_i    (dq_valid[u]),
      .wready_o    (dq_ready[u]),
      .wdata_i     (dq_insn),
      .rvalid_o    (q_valid[u]),
      .rready_i    (q_pop[u]),
      .rdata_o     (q_insn[u]),
      .empty_next_o(q_empty_next[u]),
      .count_o     (count)
    );
  end

  // ---- token FIFOs: push and pop per FIFO ----------------------------------------------------------------
  localparam int L2C = 0, C2L = 1, C2S = 2, S2C = 3;
  logic [3:0] tok_push, tok_pop, tok_avail;

  for (genvar f = 0; f < 4; f++) begin : g_token
    tataa_token_fifo #(
      .CountWidth(TokenCountWidth)
    ) u_fifo (
      .clk_i,
      .rst_ni,
      .clear_i,
      .push_i (tok_push[f]),
      .pop_i  (tok_pop[f]),
      .avail_o(tok_avail[f]),
      .count_o(tokens_o[f*TokenCountWidth+:TokenCountWidth])
    );
  end

  // ---- issue stages --------------------------------------------------------------------------------------
  // Flags toward a missing neighbour are refused by dispatch; those ports are tied off or left unread.
  logic load_drained, store_drained, compute_drained, load_finished, store_finished;
  logic load_pop_prev, load_push_prev, store_pop_next, store_push_next;

  tataa_unit_issue #(
    .HasPrev(1'b0),
    .HasNext(1'b1)
  ) u_load (
    .clk_i,
    .rst_ni,
    .clear_i,
    .q_valid_i       (q_valid[0]),
    .q_insn_i        (q_insn[0]),
    .q_empty_next_i  (q_empty_next[0]),
    .q_pop_o         (q_pop[0]),
    .prev_avail_i    (1'b0),
    .next_avail_i    (tok_avail[C2L]),
    .pop_prev_o      (load_pop_prev),
    .pop_next_o      (tok_pop[C2L]),
    .push_prev_o     (load_push_prev),
    .push_next_o     (tok_push[L2C]),
    .start_o         (load_start_o),
    .insn_o          (load_insn_o),
    .done_i          (load_done_i),
    .others_drained_i(1'b0),  // LOAD never holds FINISH
    .drained_o       (load_drained),
    .finished_o      (load_finished),
    .issue_o         (issue_o[0]),
    .retire_o        (retire_o[0]),
    .busy_o          (busy_o[0]),
    .token_wait_o    (token_wait_o[0])
  );

  tataa_unit_issue #(
    .HasPrev(1'b1),
    .HasNext(1'b1)
  ) u_compute (
    .clk_i,
    .rst_ni,
    .clear_i,
    .q_valid_i       (q_valid[1]),
    .q_insn_i        (q_insn[1]),
    .q_empty_next_i  (q_empty_next[1]),
    .q_pop_o         (q_pop[1]),
    .prev_avail_i    (tok_avail[L2C]),
    .next_avail_i    (tok_avail[S2C]),
    .pop_prev_o      (tok_pop[L2C]),
    .pop_next_o      (tok_pop[S2C]),
    .push_prev_o     (tok_push[C2L]),
    .push_next_o     (tok_push[C2S]),
    .start_o         (compute_start_o),
    .insn_o          (compute_insn_o),
    .done_i          (compute_done_i),
    .others_drained_i(load_drained && store_drained),
    .drained_o       (compute_drained),
    .finished_o      (done_o),
    .issue_o         (issue_o[1]),
    .retire_o        (retire_o[1]),
    .busy_o          (busy_o[1]),
    .token_wait_o    (token_wait_o[1])
  );

  tataa_unit_issue #(
    .HasPrev(1'b1),
    .HasNext(1'b0)
  ) u_store (
    .clk_i,
    .rst_ni,
    .clear_i,
    .q_valid_i       (q_valid[2]),
    .q_insn_i        (q_insn[2]),
    .q_empty_next_i  (q_empty_next[2]),
    .q_pop_o         (q_pop[2]),
    .prev_avail_i    (tok_avail[C2S]),
    .next_avail_i    (1'b0),
    .pop_prev_o      (tok_pop[C2S]),
    .pop_next_o      (store_pop_next),
    .push_prev_o     (tok_push[S2C]),
    .push_next_o     (store_push_next),
    .start_o         (store_start_o),
    .insn_o          (store_insn_o),
    .done_i          (store_done_i),
    .others_drained_i(1'b0),  // STORE never holds FINISH
    .drained_o       (store_drained),
    .finished_o      (store_finished),
    .issue_o         (issue_o[2]),
    .retire_o        (retire_o[2]),
    .busy_o          (busy_o[2]),
    .token_wait_o    (token_wait_o[2])
  );

  // Outputs that are constant zero for LOAD and STORE (no such neighbour, never FINISH) or unused here.
  logic unused;
  assign unused = ^{load_pop_prev, load_push_prev, store_pop_next, store_push_next, compute_drained,
                    load_finished, store_finished};

endmodule
