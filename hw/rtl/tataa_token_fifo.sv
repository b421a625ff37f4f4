// Dependency-token FIFO between two units (docs/timing.md). Tokens carry no data, so the FIFO is a counter.
//
// A token pushed in cycle c (the pushing instruction's last busy cycle) is available from cycle c + 1, which is
// the pusher's end cycle e: the simulator's "a token arrives at the pusher's e". A pop is the popping
// instruction's issue; it needs `avail_o`. Push and pop in one cycle leave the count unchanged.
//
// The simulator's FIFOs are unbounded. A FIFO never holds more tokens than the program has instructions, and
// the instruction count register (INSN_COUNT) is 32 bits wide, so the default CountWidth can never overflow;
// narrower instances (tests) are guarded by ap_no_overflow.
module tataa_token_fifo #(
  parameter int CountWidth = 32
) (
  input  logic                  clk_i,
  input  logic                  rst_ni,
  input  logic                  clear_i,  // empty the FIFO (start of a run); wins over push and pop
  input  logic                  push_i,
  input  logic                  pop_i,    // only while avail_o
  output logic                  avail_o,  // at least one token
  output logic [CountWidth-1:0] count_o   // tokens held
);

  localparam logic [CountWidth-1:0] One = {{(CountWidth - 1) {1'b0}}, 1'b1};
  localparam logic [CountWidth-1:0] Max = {CountWidth{1'b1}};

  logic [CountWidth-1:0] count_d, count_q;

  always_comb begin
    count_d = count_q;
    unique case ({push_i, pop_i})
      2'b10:   count_d = count_q + One;
      2'b01:   count_d = count_q - One;
      default: count_d = count_q;
    endcase
    if (clear_i) count_d = '0;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) count_q <= '0;
    else count_q <= count_d;
  end

  assign avail_o = count_q != '0;
  assign count_o = count_q;

`ifndef SYNTHESIS
  always @(posedge clk_i) begin : ap_no_underflow
    if (rst_ni && !clear_i) assert (!(pop_i && count_q == '0)) else $error("token FIFO: pop with no token");
  end
  always @(posedge clk_i) begin : ap_no_overflow
    if (rst_ni && !clear_i) assert (!(push_i && !pop_i && count_q == Max)) else $error("token FIFO: overflow");
  end
`endif

endmodule
