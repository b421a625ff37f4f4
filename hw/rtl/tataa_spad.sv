// Scratchpad: a multi-port word memory with registered (1-cycle) reads.
//
// Read port p: rd_data_o[p*Width +: Width] holds mem[rd_addr] the cycle after rd_en_i[p] (it keeps its
// value while rd_en_i[p] is low). A read and a write of the same word in the same cycle return the old
// word (read-first); users that need the new word forward it themselves (see tataa_gemm_engine).
// Writes are whole words; when two write ports hit one address in one cycle the higher port index wins
// (ap_wr_conflict flags it in simulation). Memory contents are not reset; the read registers are.
module tataa_spad #(
  parameter int Depth = 1024,
  parameter int Width = 64,
  parameter int NumRd = 1,
  parameter int NumWr = 1,
  parameter int AddrW = (Depth > 1) ? $clog2(Depth) : 1  // derived: do not override
) (
  input  logic                   clk_i,
  input  logic                   rst_ni,
  input  logic [NumRd-1:0]       rd_en_i,
  input  logic [NumRd*AddrW-1:0] rd_addr_i,
  output logic [NumRd*Width-1:0] rd_data_o,
  input  logic [NumWr-1:0]       wr_en_i,
  input  logic [NumWr*AddrW-1:0] wr_addr_i,
  input  logic [NumWr*Width-1:0] wr_data_i
);

  logic [Width-1:0] mem_q [Depth];

  // Writes in port order, so the last (highest-index) enabled port wins on an address conflict.
  always_ff @(posedge clk_i) begin
    for (int p = 0; p < NumWr; p++) begin
      if (wr_en_i[p]) begin
        mem_q[wr_addr_i[p*AddrW +: AddrW]] <= wr_data_i[p*Width +: Width];
      end
    end
  end

  for (genvar p = 0; p < NumRd; p++) begin : g_rd
    logic [Width-1:0] data_q;
    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        data_q <= '0;
      end else if (rd_en_i[p]) begin
        data_q <= mem_q[rd_addr_i[p*AddrW +: AddrW]];
      end
    end
    assign rd_data_o[p*Width +: Width] = data_q;
  end

`ifndef SYNTHESIS
  // Two write ports enabled on the same address in the same cycle.
  logic wr_conflict;
  always_comb begin
    wr_conflict = 1'b0;
    for (int p = 0; p < NumWr; p++) begin
      for (int q = 0; q < NumWr; q++) begin
        if (q > p && wr_en_i[p] && wr_en_i[q] && wr_addr_i[p*AddrW +: AddrW] == wr_addr_i[q*AddrW +: AddrW]) begin
          wr_conflict = 1'b1;
        end
      end
    end
  end
  always_ff @(posedge clk_i) begin : ap_wr_conflict
    if (rst_ni) assert (!wr_conflict) else $error("tataa_spad: two write ports wrote one address in one cycle");
  end
`endif

endmodule : tataa_spad
