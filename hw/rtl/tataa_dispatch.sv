// Dispatch: routes the fetched instruction stream, in order and one per cycle, to the LOAD, COMPUTE or STORE
// queue (the opcode's unit; NOP by its `unit` field). Combinational: an instruction offered in cycle d is
// written into its queue in cycle d when that queue has room (docs/timing.md: "dispatches one instruction per
// cycle ... fetch stalls, in order, while the target queue is full").
//
// An instruction is refused (decode_err_o, while it is offered; it is never taken) when tataa.isa.encoding.decode
// would reject its word (unknown opcode, non-zero reserved bits, NOP unit 3, VOP funct beyond the last VFunct)
// or when it carries a dependency flag naming a neighbour its unit lacks (LOAD pop_prev/push_prev, STORE
// pop_next/push_next). After FINISH has been taken nothing more is taken until clear_i.
module tataa_dispatch (
  input  logic                                clk_i,
  input  logic                                rst_ni,
  input  logic                                clear_i,       // start of a run: forget FINISH
  // fetched instruction stream
  input  logic                                in_valid_i,
  output logic                                in_ready_o,
  input  logic [tataa_isa_pkg::INSN_BITS-1:0] in_insn_i,
  // the three queues (bit u: unit u = LOAD, COMPUTE, STORE); the instruction is shared
  output logic [2:0]                          q_valid_o,
  input  logic [2:0]                          q_ready_i,
  output logic [tataa_isa_pkg::INSN_BITS-1:0] q_insn_o,
  output logic                                decode_err_o,  // the offered instruction is refused
  output logic                                stall_o,       // a good instruction waits for a full queue
  output logic                                finish_o       // FINISH has been dispatched
);

  // The header (opcode and dependency flags) is at the same place in every format.
  localparam int OpLsb = tataa_isa_pkg::FINISH_OPCODE_LSB;
  localparam int OpW = tataa_isa_pkg::FINISH_OPCODE_WIDTH;
  localparam int PopPrev = tataa_isa_pkg::FINISH_POP_PREV_LSB;
  localparam int PopNext = tataa_isa_pkg::FINISH_POP_NEXT_LSB;
  localparam int PushPrev = tataa_isa_pkg::FINISH_PUSH_PREV_LSB;
  localparam int PushNext = tataa_isa_pkg::FINISH_PUSH_NEXT_LSB;
  localparam int InsnW = tataa_isa_pkg::INSN_BITS;
  localparam int FunctW = tataa_isa_pkg::VOP_FUNCT_WIDTH;

  logic [OpW-1:0] op;
  logic [1:0]     unit, nop_unit;
  logic [2:0]     unit_oh;
  logic           op_ok, unit_ok, reserved_ok, enum_ok, flags_ok, bad, finish_q, take;
  int             used;   // bits of the opcode's format; the rest are reserved
  int             funct;  // VOP funct field
  logic           ready;  // the target queue has room

  assign op = in_insn_i[OpLsb+:OpW];
  assign nop_unit = in_insn_i[tataa_isa_pkg::NOP_UNIT_LSB+:tataa_isa_pkg::NOP_UNIT_WIDTH];

  always_comb begin
    unit = tataa_isa_pkg::UNIT_COMPUTE;
    if (tataa_isa_pkg::OPCODE_UNIT_LOAD[op]) unit = tataa_isa_pkg::UNIT_LOAD;
    if (tataa_isa_pkg::OPCODE_UNIT_STORE[op]) unit = tataa_isa_pkg::UNIT_STORE;
    if (tataa_isa_pkg::OPCODE_UNIT_FROM_FIELD[op]) unit = nop_unit;
  end

  always_comb begin
    unique case (unit)
      tataa_isa_pkg::UNIT_LOAD:    unit_oh = 3'b001;
      tataa_isa_pkg::UNIT_COMPUTE: unit_oh = 3'b010;
      tataa_isa_pkg::UNIT_STORE:   unit_oh = 3'b100;
      default:                     unit_oh = 3'b000;  // NOP unit 3
    endcase
  end

  always_comb begin
    unique case (op)
      tataa_isa_pkg::OPCODE_LOAD, tataa_isa_pkg::OPCODE_STORE: used = tataa_isa_pkg::DMA_USED_BITS;
      tataa_isa_pkg::OPCODE_GEMM:    used = tataa_isa_pkg::GEMM_USED_BITS;
      tataa_isa_pkg::OPCODE_REQUANT: used = tataa_isa_pkg::REQUANT_USED_BITS;
      tataa_isa_pkg::OPCODE_VOP:     used = tataa_isa_pkg::VOP_USED_BITS;
      tataa_isa_pkg::OPCODE_SETC:    used = tataa_isa_pkg::SETC_USED_BITS;
      tataa_isa_pkg::OPCODE_MODE:    used = tataa_isa_pkg::MODE_USED_BITS;
      tataa_isa_pkg::OPCODE_NOP:     used = tataa_isa_pkg::NOP_USED_BITS;
      default:                       used = tataa_isa_pkg::FINISH_USED_BITS;
    endcase
  end

  always_comb begin
    reserved_ok = 1'b1;
    for (int b = 0; b < InsnW; b++) begin
      if (b >= used && in_insn_i[b]) reserved_ok = 1'b0;
    end
  end

  assign op_ok = tataa_isa_pkg::OPCODE_VALID[op];
  assign unit_ok = unit_oh != 3'b000;
  assign funct = {{(32 - FunctW) {1'b0}}, in_insn_i[tataa_isa_pkg::VOP_FUNCT_LSB+:FunctW]};
  assign enum_ok = op != tataa_isa_pkg::OPCODE_VOP || funct < tataa_isa_pkg::NUM_VFUNCTS;
  assign flags_ok =
      !(unit == tataa_isa_pkg::UNIT_LOAD && (in_insn_i[PopPrev] || in_insn_i[PushPrev])) &&
      !(unit == tataa_isa_pkg::UNIT_STORE && (in_insn_i[PopNext] || in_insn_i[PushNext]));
  assign bad = !(op_ok && unit_ok && reserved_ok && enum_ok && flags_ok);

  assign q_valid_o    = in_valid_i && !finish_q && !bad ? unit_oh : 3'b000;
  assign q_insn_o     = in_insn_i;
  assign ready        = (unit_oh & q_ready_i) != 3'b000;
  assign in_ready_o   = !finish_q && !bad && ready;
  assign take         = in_valid_i && in_ready_o;
  assign decode_err_o = in_valid_i && !finish_q && bad;
  assign stall_o      = in_valid_i && !finish_q && !bad && !ready;
  assign finish_o     = finish_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clear_i) finish_q <= 1'b0;
    else if (take && op == tataa_isa_pkg::OPCODE_FINISH) finish_q <= 1'b1;
  end

`ifndef SYNTHESIS
  always @(posedge clk_i) begin : ap_one_target
    if (rst_ni) assert ($onehot0(q_valid_o)) else $error("dispatch: more than one target queue");
  end
`endif

endmodule
