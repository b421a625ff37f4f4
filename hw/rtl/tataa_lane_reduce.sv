// The lane tree of the row reductions (tataa.numerics.reduce_sum / reduce_sumsq / reduce_max), combinational.
//
// The caller keeps one running value per lane across the words of a row: for REDSUM/REDSUMSQ an fp32
// sum acc[j] = tataa_fp32_add(acc[j], term) starting at +0, where the term is the DAZ bf16 widened to
// fp32 ({x, 16'h0} with subnormal x flushed) or tataa_bf16_sqr_fp32(x); for REDMAX the running
// maximum (tataa_bf16_minmax, starting from the first word). This module combines the Lanes running
// values: the fp32 sums by the halving tree (for n = Lanes, Lanes/2, ..., 2, lane i += lane i + n/2),
// then rounds the sum once to bf16; the maxima by a tree of tataa_bf16_minmax (order-independent).
// Lanes must be a power of two.
module tataa_lane_reduce #(
  parameter int Lanes = tataa_cfg_pkg::ArraySize
) (
  input  logic [Lanes*32-1:0] sum_i,      // per-lane fp32 running sums, lane j in bits [32j +: 32]
  input  logic [Lanes*16-1:0] max_i,      // per-lane bf16 running maxima, lane j in bits [16j +: 16]
  output logic [31:0]         sum_f32_o,  // the fp32 tree sum
  output logic [15:0]         sum_o,      // sum_f32_o rounded once to bf16
  output logic [15:0]         max_o       // the maximum (canonical: DAZ, NaN 0x7FC0)
);

  // Tree nodes, level by level: level l has Lanes >> l nodes, starting at node 2*Lanes - (2*Lanes >> l);
  // the last node is the root.
  localparam int Nodes = 2 * Lanes - 1;

  logic [Nodes*32-1:0] sum_node;
  logic [Nodes*16-1:0] max_node;

  assign sum_node[0 +: Lanes*32] = sum_i;

  for (genvar l = 0; (Lanes >> l) > 1; l++) begin : g_level
    localparam int Half = Lanes >> (l + 1);  // nodes of level l + 1
    localparam int Src  = 2 * Lanes - ((2 * Lanes) >> l);
    localparam int Dst  = 2 * Lanes - ((2 * Lanes) >> (l + 1));
    for (genvar i = 0; i < Half; i++) begin : g_node
      tataa_fp32_add u_add (
        .a_i(sum_node[(Src + i)*32 +: 32]), .b_i(sum_node[(Src + i + Half)*32 +: 32]),
        .sum_o(sum_node[(Dst + i)*32 +: 32])
      );
      /* verilator lint_off PINCONNECTEMPTY */  // only the maximum is needed
      tataa_bf16_minmax u_max (
        .a_i(max_node[(Src + i)*16 +: 16]), .b_i(max_node[(Src + i + Half)*16 +: 16]),
        .max_o(max_node[(Dst + i)*16 +: 16]), .min_o()
      );
      /* verilator lint_on PINCONNECTEMPTY */
    end
  end

  // Level 0 of the max tree; a single lane still gets the output policy (max(x, x) is canonical x).
  if (Lanes == 1) begin : g_single
    /* verilator lint_off PINCONNECTEMPTY */
    tataa_bf16_minmax u_max (.a_i(max_i), .b_i(max_i), .max_o(max_node[15:0]), .min_o());
    /* verilator lint_on PINCONNECTEMPTY */
  end else begin : g_multi
    assign max_node[0 +: Lanes*16] = max_i;
  end

  assign sum_f32_o = sum_node[(Nodes-1)*32 +: 32];
  assign max_o     = max_node[(Nodes-1)*16 +: 16];

  tataa_fp32_to_bf16 u_round (.a_i(sum_f32_o), .res_o(sum_o));

endmodule
