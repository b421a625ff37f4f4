// Issue stage of one unit (LOAD, COMPUTE or STORE): runs the unit's queue in order, one instruction at a time,
// synchronised through dependency tokens (docs/timing.md).
//
// Cycle contract (s: start, e: end, D: duration; the simulator's s(i) = max(d(i) + 1, e(prev), a(i))):
// * Issue in cycle s: the queue head is valid, the unit is idle and every token the head pops is available.
//   The head is popped, its tokens are consumed, and `start_o` hands `insn_o` to the execution engine.
// * The engine raises `done_i` in its last busy cycle, s + D - 1 (in cycle s itself when D = 1). That cycle the
//   unit retires the instruction and pushes its tokens, which are available to the other unit from cycle e =
//   s + D, and the unit issues again from cycle e.
// * NOP (D = 1) and FINISH are executed here and never reach the engine. FINISH issues like any instruction and
//   retires in the first cycle c >= s after which every other unit is drained (`others_drained_i`: idle with an
//   empty queue from cycle c + 1), so e(FINISH) = max(s + 1, e(j) for every other instruction j). `finished_o`
//   is high from e(FINISH) until clear_i.
module tataa_unit_issue #(
  parameter bit HasPrev = 1'b1,  // the unit has a previous neighbour (COMPUTE, STORE)
  parameter bit HasNext = 1'b1   // the unit has a next neighbour (LOAD, COMPUTE)
) (
  input  logic                                clk_i,
  input  logic                                rst_ni,
  input  logic                                clear_i,           // start of a run: back to idle
  // head of the unit's instruction queue
  input  logic                                q_valid_i,
  input  logic [tataa_isa_pkg::INSN_BITS-1:0] q_insn_i,
  input  logic                                q_empty_next_i,    // the queue is empty next cycle
  output logic                                q_pop_o,
  // dependency tokens (prev/next: the FIFOs from and to the neighbouring units)
  input  logic                                prev_avail_i,
  input  logic                                next_avail_i,
  output logic                                pop_prev_o,
  output logic                                pop_next_o,
  output logic                                push_prev_o,
  output logic                                push_next_o,
  // execution engine
  output logic                                start_o,
  output logic [tataa_isa_pkg::INSN_BITS-1:0] insn_o,            // valid with start_o
  input  logic                                done_i,            // last busy cycle of the started instruction
  // FINISH
  input  logic                                others_drained_i,  // every other unit is drained next cycle
  output logic                                drained_o,         // idle with an empty queue next cycle
  output logic                                finished_o,        // FINISH has retired
  // activity (performance counters, traces)
  output logic                                issue_o,           // an instruction starts
  output logic                                retire_o,          // an instruction's last busy cycle
  output logic                                busy_o,            // counts D cycles per instruction (FINISH: 1)
  output logic                                token_wait_o       // idle with a head that waits for a token
);

  localparam int OpLsb = tataa_isa_pkg::FINISH_OPCODE_LSB;
  localparam int OpW = tataa_isa_pkg::FINISH_OPCODE_WIDTH;
  localparam int PopPrev = tataa_isa_pkg::FINISH_POP_PREV_LSB;
  localparam int PopNext = tataa_isa_pkg::FINISH_POP_NEXT_LSB;
  localparam int PushPrev = tataa_isa_pkg::FINISH_PUSH_PREV_LSB;
  localparam int PushNext = tataa_isa_pkg::FINISH_PUSH_NEXT_LSB;

  typedef enum logic [1:0] {
    StIdle,    // may issue the queue head
    StBusy,    // the engine runs an instruction
    StFinish,  // FINISH issued, waiting for the other units to drain
    StDone     // FINISH retired
  } state_e;

  state_e         state_d, state_q;
  logic           push_prev_d, push_prev_q, push_next_d, push_next_q;  // push flags of the running instruction
  logic [OpW-1:0] op;
  logic           head_push_prev, head_push_next, head_nop, head_finish, need_prev, need_next, tokens_ok, issue, to_engine;
  logic           engine_done, finish_done, ret_push_prev, ret_push_next;

  assign op          = q_insn_i[OpLsb+:OpW];
  assign head_nop    = op == tataa_isa_pkg::OPCODE_NOP;
  assign head_finish = op == tataa_isa_pkg::OPCODE_FINISH;
  assign head_push_prev = q_insn_i[PushPrev];
  assign head_push_next = q_insn_i[PushNext];
  assign need_prev   = HasPrev && q_insn_i[PopPrev];
  assign need_next   = HasNext && q_insn_i[PopNext];
  assign tokens_ok   = (!need_prev || prev_avail_i) && (!need_next || next_avail_i);
  assign issue       = state_q == StIdle && q_valid_i && tokens_ok;
  assign to_engine   = issue && !head_nop && !head_finish;

  assign q_pop_o      = issue;
  assign pop_prev_o   = issue && need_prev;
  assign pop_next_o   = issue && need_next;
  assign start_o      = to_engine;
  assign insn_o       = q_insn_i;
  assign token_wait_o = state_q == StIdle && q_valid_i && !tokens_ok;

  // Retirement: the engine's last cycle, a NOP's only cycle, or FINISH once the others drain.
  assign engine_done = done_i && (state_q == StBusy || to_engine);
  assign finish_done = others_drained_i && (state_q == StFinish || (issue && head_finish));
  assign retire_o    = (issue && head_nop) || engine_done || finish_done;
  // An instruction retiring in its issue cycle is still the queue head.
  assign ret_push_prev = state_q == StIdle ? head_push_prev : push_prev_q;
  assign ret_push_next = state_q == StIdle ? head_push_next : push_next_q;
  assign push_prev_o   = HasPrev && retire_o && ret_push_prev;
  assign push_next_o   = HasNext && retire_o && ret_push_next;

  always_comb begin
    state_d     = state_q;
    push_prev_d = push_prev_q;
    push_next_d = push_next_q;
    unique case (state_q)
      StIdle: begin
        if (issue) begin
          push_prev_d = head_push_prev;
          push_next_d = head_push_next;
          if (head_finish && finish_done) state_d = StDone;
          else if (head_finish) state_d = StFinish;
          else if (to_engine && !engine_done) state_d = StBusy;
        end
      end
      StBusy:   if (engine_done) state_d = StIdle;
      StFinish: if (finish_done) state_d = StDone;
      default:  state_d = state_q;  // StDone until clear_i
    endcase
    if (clear_i) state_d = StIdle;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q     <= StIdle;
      push_prev_q <= 1'b0;
      push_next_q <= 1'b0;
    end else begin
      state_q     <= state_d;
      push_prev_q <= push_prev_d;
      push_next_q <= push_next_d;
    end
  end

  assign drained_o  = state_d == StIdle && q_empty_next_i;
  assign finished_o = state_q == StDone;
  assign issue_o    = issue;
  assign busy_o     = issue || state_q == StBusy;

`ifndef SYNTHESIS
  always @(posedge clk_i) begin : ap_done_when_busy
    if (rst_ni) assert (!done_i || state_q == StBusy || to_engine) else $error("unit issue: done_i while idle");
  end
`endif

endmodule
