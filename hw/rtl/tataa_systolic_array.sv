// N x N weight-stationary int8 systolic array of tataa_pe, with input skewing, output de-skewing and
// shadow-weight preload.
//
// PE (j, c) sits in row j (reduction index k = j) and column c (output channel c). It holds the tile
// weight W[j][c]. Activations move right along the rows, partial sums move down the columns.
//
// Inputs: one activation row per cycle (in_valid_i). in_data_i lane j is A[m][j]; in_first_i marks the
// first row streamed through a new weight tile (it makes the shadow weights active, skewed like the data).
// Row j of the array sees the row j cycles late, column c one cycle later per column.
//
// Outputs: out_data_o lane c = sum over j of A[m][j] * W[j][c] (int32, wrapping), for the row presented
// Latency = 2N-1 cycles earlier; out_valid_o is in_valid_i delayed by Latency.
//
// Weight preload: w_valid_i with w_row_i = j and w_data_i = row j of the next tile (lane c = W[j][c])
// writes the shadow weights of array row j; column c takes its byte c cycles later, matching the skew of
// the activations, so that the shadows of a tile may be written one row per cycle while the previous tile
// still computes. Rules for the user (tataa_gemm_engine keeps them): row j of tile t+1 is presented no
// earlier than the first activation row of tile t (in_first_i) and no later than the cycle before the
// first activation row of tile t+1 is presented, for every j.
//
// SIMD: simd_*_i / simd_p_o expose the multiplier of PE (j, c) at lane j*N + c (see tataa_pe).
module tataa_systolic_array #(
  parameter int N = tataa_cfg_pkg::ArraySize,
  parameter int RowW = (N > 1) ? $clog2(N) : 1  // derived: do not override
) (
  input  logic              clk_i,
  input  logic              rst_ni,
  input  logic              mode_i,       // tataa_isa_pkg::mode_e value
  // activations
  input  logic              in_valid_i,
  input  logic              in_first_i,
  input  logic [N*8-1:0]    in_data_i,
  // weight preload
  input  logic              w_valid_i,
  input  logic [RowW-1:0]   w_row_i,
  input  logic [N*8-1:0]    w_data_i,
  // results
  output logic              out_valid_o,
  output logic [N*32-1:0]   out_data_o,
  // SIMD access to the multipliers
  input  logic [N*N*8-1:0]  simd_a_i,
  input  logic [N*N*8-1:0]  simd_b_i,
  output logic [N*N*16-1:0] simd_p_o
);

  localparam int Latency = 2 * N - 1;

  // ---- input skew: row j gets {first, data lane j} delayed by j cycles
  logic [N*8-1:0] row_a;
  logic [N-1:0]   row_swap;

  for (genvar j = 0; j < N; j++) begin : g_in_skew
    if (j == 0) begin : g_direct
      assign row_a[7:0]  = in_data_i[7:0];
      assign row_swap[0] = in_first_i;
    end else begin : g_delay
      logic [9*j-1:0] sr_q;  // stage s at [9*s +: 9]; stage j-1 is the oldest
      always_ff @(posedge clk_i) begin
        if (!rst_ni) begin
          sr_q <= '0;
        end else begin
          sr_q[8:0] <= {in_first_i, in_data_i[j*8 +: 8]};
          for (int s = 1; s < j; s++) begin
            sr_q[9*s +: 9] <= sr_q[9*(s-1) +: 9];
          end
        end
      end
      assign {row_swap[j], row_a[j*8 +: 8]} = sr_q[9*(j-1) +: 9];
    end
  end

  // ---- weight skew: column c gets {valid, row, byte c} delayed by c cycles
  localparam int WSkW = 1 + RowW + 8;
  logic [N*8-1:0]    col_w;
  logic [N*RowW-1:0] col_row;
  logic [N-1:0]      col_wv;

  for (genvar c = 0; c < N; c++) begin : g_w_skew
    if (c == 0) begin : g_direct
      assign {col_wv[0], col_row[0 +: RowW], col_w[7:0]} = {w_valid_i, w_row_i, w_data_i[7:0]};
    end else begin : g_delay
      logic [WSkW*c-1:0] sr_q;
      always_ff @(posedge clk_i) begin
        if (!rst_ni) begin
          sr_q <= '0;
        end else begin
          sr_q[WSkW-1:0] <= {w_valid_i, w_row_i, w_data_i[c*8 +: 8]};
          for (int s = 1; s < c; s++) begin
            sr_q[WSkW*s +: WSkW] <= sr_q[WSkW*(s-1) +: WSkW];
          end
        end
      end
      assign {col_wv[c], col_row[c*RowW +: RowW], col_w[c*8 +: 8]} = sr_q[WSkW*(c-1) +: WSkW];
    end
  end

  // ---- the PE grid. Index (j, c) -> j*N + c. PE (j, c) takes a/swap from PE (j, c-1) (or the skew for
  // c = 0) and psum from PE (j-1, c) (or zero for j = 0).
  // The rightmost column's pass-through outputs (a, swap) go nowhere.
  /* verilator lint_off UNUSEDSIGNAL */
  logic [N*N*8-1:0]  pe_a;
  logic [N*N-1:0]    pe_swap;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [N*N*32-1:0] pe_psum;

  for (genvar j = 0; j < N; j++) begin : g_row
    for (genvar c = 0; c < N; c++) begin : g_col
      logic [7:0]  a_in;
      logic        swap_in;
      logic [31:0] psum_in;
      logic        wload;

      if (c == 0) begin : g_left
        assign a_in    = row_a[j*8 +: 8];
        assign swap_in = row_swap[j];
      end else begin : g_inner
        assign a_in    = pe_a[(j*N + c - 1)*8 +: 8];
        assign swap_in = pe_swap[j*N + c - 1];
      end
      if (j == 0) begin : g_top
        assign psum_in = '0;
      end else begin : g_below
        assign psum_in = pe_psum[((j-1)*N + c)*32 +: 32];
      end
      assign wload = col_wv[c] && ({{(32-RowW){1'b0}}, col_row[c*RowW +: RowW]} == j);

      tataa_pe u_pe (
        .clk_i,
        .rst_ni,
        .mode_i,
        .a_i     (a_in),
        .swap_i  (swap_in),
        .a_o     (pe_a[(j*N + c)*8 +: 8]),
        .swap_o  (pe_swap[j*N + c]),
        .psum_i  (psum_in),
        .psum_o  (pe_psum[(j*N + c)*32 +: 32]),
        .wload_i (wload),
        .wdata_i (col_w[c*8 +: 8]),
        .sig_a_i (simd_a_i[(j*N + c)*8 +: 8]),
        .sig_b_i (simd_b_i[(j*N + c)*8 +: 8]),
        .sig_p_o (simd_p_o[(j*N + c)*16 +: 16])
      );
    end
  end

  // ---- output de-skew: column c leaves the bottom row N-1-c cycles before column N-1
  for (genvar c = 0; c < N; c++) begin : g_out_deskew
    localparam int D = N - 1 - c;
    logic [31:0] col_out;
    assign col_out = pe_psum[((N-1)*N + c)*32 +: 32];
    if (D == 0) begin : g_direct
      assign out_data_o[c*32 +: 32] = col_out;
    end else begin : g_delay
      logic [32*D-1:0] sr_q;
      always_ff @(posedge clk_i) begin
        if (!rst_ni) begin
          sr_q <= '0;
        end else begin
          sr_q[31:0] <= col_out;
          for (int s = 1; s < D; s++) begin
            sr_q[32*s +: 32] <= sr_q[32*(s-1) +: 32];
          end
        end
      end
      assign out_data_o[c*32 +: 32] = sr_q[32*(D-1) +: 32];
    end
  end

  // ---- valid: in_valid_i delayed by Latency
  logic [Latency-1:0] valid_q;
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      valid_q <= '0;
    end else begin
      valid_q <= {valid_q[Latency-2:0], in_valid_i};
    end
  end
  assign out_valid_o = valid_q[Latency-1];

`ifndef SYNTHESIS
  initial begin : ap_size
    assert (N >= 2) else $error("tataa_systolic_array: N must be at least 2");
  end
`endif

endmodule : tataa_systolic_array
