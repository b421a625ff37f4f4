// GEMM engine: executes one GEMM instruction (docs/semantics.md) on the systolic array it contains.
//
// For n < ntiles, k < ktiles, m < rows: INP word inp_base + k*inp_kstride + m streams through weight tile
// (n, k) (WGT words wgt_base + (n*ktiles + k)*N + j, j < N), and the result row goes to ACC word
// acc_base + n*acc_nstride + m: written for k = 0 when `clear`, otherwise added (int32, wrapping).
// Adding every k-tile's partial product into ACC in turn equals adding their sum (modulo 2^32), and
// n-tiles are processed in order, so overlapping n-tiles in ACC behave as the semantics say.
//
// Schedule (cycle 0 = the cycle start_i is accepted; T = max(rows, N); tiles in order tau = n*ktiles + k):
//   weight words of tile tau are read in cycles tau*T + j (j < N) -- tile 0 during the N preload cycles,
//     tile tau+1 during the last N cycles of tile tau's period -- into the shadow weights;
//   input rows of tile tau are read in cycles N + tau*T + m (m < rows);
//   the result of the input read in cycle x is written to ACC in cycle x + 2N (its ACC word is read in
//     cycle x + 2N - 1; a write to the same word in that cycle is forwarded);
//   done_o is high in cycle N + ktiles*ntiles*T + 2N - 1, the last cycle of docs/timing.md's GEMM duration,
//     and a new start_i is accepted from the next cycle on.
// ktiles = 0 with clear writes zeros to the rows * ntiles accumulator words, one per cycle (period rows
// instead of T); this degenerate form therefore takes N + ntiles*rows + 2N cycles.
// Addresses wrap modulo the buffer depth; range checks belong to the issuer.
module tataa_gemm_engine #(
  parameter int N        = tataa_cfg_pkg::ArraySize,
  parameter int InpAddrW = tataa_cfg_pkg::InpAddrBits,
  parameter int WgtAddrW = tataa_cfg_pkg::WgtAddrBits,
  parameter int AccAddrW = tataa_cfg_pkg::AccAddrBits
) (
  input  logic                                 clk_i,
  input  logic                                 rst_ni,
  // instruction
  input  logic                                 start_i,   // accepted when busy_o is low
  input  logic [tataa_isa_pkg::INSN_BITS-1:0]  insn_i,    // the raw GEMM instruction, sampled with start_i
  output logic                                 busy_o,
  output logic                                 done_o,    // one cycle: the instruction's last cycle
  // INP read port
  output logic                                 inp_rd_en_o,
  output logic [InpAddrW-1:0]                  inp_rd_addr_o,
  input  logic [N*8-1:0]                       inp_rd_data_i,
  // WGT read port
  output logic                                 wgt_rd_en_o,
  output logic [WgtAddrW-1:0]                  wgt_rd_addr_o,
  input  logic [N*8-1:0]                       wgt_rd_data_i,
  // ACC read and write ports
  output logic                                 acc_rd_en_o,
  output logic [AccAddrW-1:0]                  acc_rd_addr_o,
  input  logic [N*32-1:0]                      acc_rd_data_i,
  output logic                                 acc_wr_en_o,
  output logic [AccAddrW-1:0]                  acc_wr_addr_o,
  output logic [N*32-1:0]                      acc_wr_data_o,
  // PE-array personality and SIMD access to its multipliers (passed to tataa_systolic_array)
  input  logic                                 mode_i,
  input  logic [N*N*8-1:0]                     simd_a_i,
  input  logic [N*N*8-1:0]                     simd_b_i,
  output logic [N*N*16-1:0]                    simd_p_o
);

  localparam int RowsW  = tataa_isa_pkg::GEMM_ROWS_WIDTH;
  localparam int KtW    = tataa_isa_pkg::GEMM_KTILES_WIDTH;
  localparam int NtW    = tataa_isa_pkg::GEMM_NTILES_WIDTH;
  localparam int AW     = 16;  // ISA word-address fields
  localparam int RowW   = (N > 1) ? $clog2(N) : 1;
  localparam int CntW   = $clog2(2 * N) + 1;
  localparam int DelayL = 2 * N - 1;  // input read -> ACC read issue
  localparam int MetaW  = 3 + AccAddrW;  // {valid, noread, zero, addr}

  // sized constants (sliced from 32-bit values: the portable subset has no size casts)
  localparam logic [31:0]      N32       = N;
  localparam logic [31:0]      N32m1     = N - 1;
  localparam logic [31:0]      N32x2m1   = 2 * N - 1;
  localparam logic [RowsW-1:0] NRows     = N32[RowsW-1:0];
  localparam logic [CntW-1:0]  PreLast   = N32m1[CntW-1:0];
  localparam logic [CntW-1:0]  DrainLast = N32x2m1[CntW-1:0];
  localparam logic [RowW-1:0]  RowLast   = N32m1[RowW-1:0];

  // ---- instruction fields (sampled in the start cycle)
  /* verilator lint_off UNUSEDSIGNAL */  // opcode, dependency flags and reserved bits are the dispatcher's
  logic [tataa_isa_pkg::INSN_BITS-1:0] insn;
  /* verilator lint_on UNUSEDSIGNAL */
  logic             f_clear;
  logic [RowsW-1:0] f_rows;
  logic [KtW-1:0]   f_kt;
  logic [NtW-1:0]   f_nt;
  logic [AW-1:0]    f_inp_base, f_inp_kstride, f_wgt_base, f_acc_base, f_acc_nstride;

  assign insn          = insn_i;
  assign f_clear       = insn[tataa_isa_pkg::GEMM_CLEAR_LSB];
  assign f_rows        = insn[tataa_isa_pkg::GEMM_ROWS_LSB +: tataa_isa_pkg::GEMM_ROWS_WIDTH];
  assign f_kt          = insn[tataa_isa_pkg::GEMM_KTILES_LSB +: tataa_isa_pkg::GEMM_KTILES_WIDTH];
  assign f_nt          = insn[tataa_isa_pkg::GEMM_NTILES_LSB +: tataa_isa_pkg::GEMM_NTILES_WIDTH];
  assign f_inp_base    = insn[tataa_isa_pkg::GEMM_INP_BASE_LSB +: tataa_isa_pkg::GEMM_INP_BASE_WIDTH];
  assign f_inp_kstride = insn[tataa_isa_pkg::GEMM_INP_KSTRIDE_LSB +: tataa_isa_pkg::GEMM_INP_KSTRIDE_WIDTH];
  assign f_wgt_base    = insn[tataa_isa_pkg::GEMM_WGT_BASE_LSB +: tataa_isa_pkg::GEMM_WGT_BASE_WIDTH];
  assign f_acc_base    = insn[tataa_isa_pkg::GEMM_ACC_BASE_LSB +: tataa_isa_pkg::GEMM_ACC_BASE_WIDTH];
  assign f_acc_nstride = insn[tataa_isa_pkg::GEMM_ACC_NSTRIDE_LSB +: tataa_isa_pkg::GEMM_ACC_NSTRIDE_WIDTH];

  // ---- control state
  typedef enum logic [1:0] {
    StIdle,
    StPre,     // weight preload of tile 0
    StStream,  // input rows stream through the tiles, one period of T cycles per tile
    StDrain    // 2N cycles: the last rows leave the array and reach ACC
  } state_e;

  state_e           state_q, state_d;
  logic [CntW-1:0]  cnt_q, cnt_d;            // cycle within StPre / StDrain
  // latched instruction
  logic             clear_q, zero_q, tiles_q;  // zero: ktiles = 0 with clear; tiles: ktiles*ntiles > 0
  logic [RowsW-1:0] rows_q, period_last_q, wstart_q;
  logic [KtW-1:0]   kt_last_q;
  logic [NtW-1:0]   nt_last_q;
  logic [AW-1:0]    inp_base_q, inp_kstride_q, acc_nstride_q;
  // tile walker
  logic [RowsW-1:0] p_q, p_d;                // cycle within the tile's period
  logic [KtW-1:0]   k_q, k_d;
  logic [NtW-1:0]   n_q, n_d;
  logic [AW-1:0]    inp_kbase_q, inp_kbase_d;  // inp_base + k*inp_kstride
  logic [AW-1:0]    acc_nbase_q, acc_nbase_d;  // acc_base + n*acc_nstride
  // weight reader
  logic [AW-1:0]    w_addr_q, w_addr_d;
  logic [RowW-1:0]  w_row_q, w_row_d;

  logic             start, last_tile, tile_end;
  logic             w_rd, in_rd, meta_valid;
  logic [AW-1:0]    w_rd_addr;
  /* verilator lint_off UNUSEDSIGNAL */  // 16-bit ISA word addresses wrap modulo the buffer depth
  logic [AW-1:0]    in_rd_addr, meta_addr;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [RowW-1:0]  w_rd_row;
  logic [RowsW-1:0] f_period;

  assign start     = start_i && state_q == StIdle;
  assign f_period  = (f_kt == '0) ? f_rows : ((f_rows > NRows) ? f_rows : NRows);
  assign last_tile = k_q == kt_last_q && n_q == nt_last_q;
  assign tile_end  = p_q == period_last_q;

  always_comb begin
    state_d     = state_q;
    cnt_d       = cnt_q;
    p_d         = p_q;
    k_d         = k_q;
    n_d         = n_q;
    inp_kbase_d = inp_kbase_q;
    acc_nbase_d = acc_nbase_q;
    w_addr_d    = w_addr_q;
    w_row_d     = w_row_q;
    w_rd        = 1'b0;
    w_rd_addr   = w_addr_q;
    w_rd_row    = w_row_q;
    in_rd       = 1'b0;
    meta_valid  = 1'b0;
    done_o      = 1'b0;

    unique case (state_q)
      StIdle: begin
        if (start_i) begin
          // tile 0, weight row 0 is read in the start cycle straight from the instruction
          w_rd      = f_kt != '0 && f_nt != '0;
          w_rd_addr = f_wgt_base;
          w_rd_row  = '0;
          state_d   = StPre;
          cnt_d     = {{(CntW-1){1'b0}}, 1'b1};
        end
      end
      StPre: begin
        w_rd = tiles_q;
        if (cnt_q == PreLast) begin
          if (tiles_q || zero_q) begin
            state_d = StStream;
          end else begin
            state_d = StDrain;
          end
          cnt_d       = '0;
          p_d         = '0;
          k_d         = '0;
          n_d         = '0;
          inp_kbase_d = inp_base_q;
        end else begin
          cnt_d = cnt_q + 1'b1;
        end
      end
      StStream: begin
        in_rd      = !zero_q && p_q < rows_q;
        meta_valid = p_q < rows_q;
        // the next tile's weights load during the last N cycles of this tile's period
        w_rd       = tiles_q && !last_tile && p_q >= wstart_q;
        if (tile_end) begin
          p_d = '0;
          if (k_q == kt_last_q) begin
            k_d         = '0;
            n_d         = n_q + 1'b1;
            inp_kbase_d = inp_base_q;
            acc_nbase_d = acc_nbase_q + acc_nstride_q;
            if (n_q == nt_last_q) begin
              state_d = StDrain;
              cnt_d   = '0;
            end
          end else begin
            k_d         = k_q + 1'b1;
            inp_kbase_d = inp_kbase_q + inp_kstride_q;
          end
        end else begin
          p_d = p_q + 1'b1;
        end
      end
      StDrain: begin
        if (cnt_q == DrainLast) begin
          done_o  = 1'b1;
          state_d = StIdle;
        end else begin
          cnt_d = cnt_q + 1'b1;
        end
      end
      default: state_d = StIdle;
    endcase

    if (w_rd) begin
      w_addr_d = w_rd_addr + 1'b1;
      w_row_d  = (w_rd_row == RowLast) ? '0 : w_rd_row + 1'b1;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q       <= StIdle;
      cnt_q         <= '0;
      clear_q       <= 1'b0;
      zero_q        <= 1'b0;
      tiles_q       <= 1'b0;
      rows_q        <= '0;
      period_last_q <= '0;
      wstart_q      <= '0;
      kt_last_q     <= '0;
      nt_last_q     <= '0;
      inp_base_q    <= '0;
      inp_kstride_q <= '0;
      acc_nstride_q <= '0;
      p_q           <= '0;
      k_q           <= '0;
      n_q           <= '0;
      inp_kbase_q   <= '0;
      acc_nbase_q   <= '0;
      w_addr_q      <= '0;
      w_row_q       <= '0;
    end else begin
      state_q     <= state_d;
      cnt_q       <= cnt_d;
      p_q         <= p_d;
      k_q         <= k_d;
      n_q         <= n_d;
      inp_kbase_q <= inp_kbase_d;
      acc_nbase_q <= acc_nbase_d;
      w_addr_q    <= w_addr_d;
      w_row_q     <= w_row_d;
      if (start) begin
        clear_q       <= f_clear;
        zero_q        <= f_kt == '0 && f_clear && f_nt != '0 && f_rows != '0;
        tiles_q       <= f_kt != '0 && f_nt != '0;
        rows_q        <= f_rows;
        period_last_q <= f_period - 1'b1;
        wstart_q      <= f_period - NRows;
        kt_last_q     <= (f_kt == '0) ? '0 : f_kt - 1'b1;
        nt_last_q     <= f_nt - 1'b1;
        inp_base_q    <= f_inp_base;
        inp_kstride_q <= f_inp_kstride;
        acc_nstride_q <= f_acc_nstride;
        acc_nbase_q   <= f_acc_base;
      end
    end
  end

  assign busy_o = state_q != StIdle;

  // ---- buffer reads feeding the array
  assign in_rd_addr    = inp_kbase_q + {{(AW-RowsW){1'b0}}, p_q};
  assign inp_rd_en_o   = in_rd;
  assign inp_rd_addr_o = in_rd_addr[InpAddrW-1:0];
  assign wgt_rd_en_o   = w_rd;
  assign wgt_rd_addr_o = w_rd_addr[WgtAddrW-1:0];

  logic            arr_in_valid_q, arr_in_first_q, arr_w_valid_q;
  logic [RowW-1:0] arr_w_row_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      arr_in_valid_q <= 1'b0;
      arr_in_first_q <= 1'b0;
      arr_w_valid_q  <= 1'b0;
      arr_w_row_q    <= '0;
    end else begin
      arr_in_valid_q <= in_rd;
      arr_in_first_q <= in_rd && p_q == '0;
      arr_w_valid_q  <= w_rd;
      arr_w_row_q    <= w_rd_row;
    end
  end

  logic            arr_out_valid;
  logic [N*32-1:0] arr_out;

  tataa_systolic_array #(
    .N (N)
  ) u_array (
    .clk_i,
    .rst_ni,
    .mode_i,
    .in_valid_i  (arr_in_valid_q),
    .in_first_i  (arr_in_first_q),
    .in_data_i   (inp_rd_data_i),
    .w_valid_i   (arr_w_valid_q),
    .w_row_i     (arr_w_row_q),
    .w_data_i    (wgt_rd_data_i),
    .out_valid_o (arr_out_valid),
    .out_data_o  (arr_out),
    .simd_a_i,
    .simd_b_i,
    .simd_p_o
  );

  // ---- accumulator side: the row's ACC word and mode travel 2N-1 cycles alongside the array
  logic [MetaW-1:0]   meta_in, meta_rd;
  logic [MetaW*DelayL-1:0] meta_sr_q;

  assign meta_addr   = acc_nbase_q + {{(AW-RowsW){1'b0}}, p_q};
  assign meta_in     = {meta_valid, clear_q && k_q == '0, zero_q, meta_addr[AccAddrW-1:0]};

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      meta_sr_q <= '0;
    end else begin
      meta_sr_q[MetaW-1:0] <= meta_in;
      for (int s = 1; s < DelayL; s++) begin
        meta_sr_q[MetaW*s +: MetaW] <= meta_sr_q[MetaW*(s-1) +: MetaW];
      end
    end
  end
  assign meta_rd = meta_sr_q[MetaW*(DelayL-1) +: MetaW];

  // read issue stage (cycle x + 2N - 1)
  logic                rd_valid, rd_noread, rd_zero;
  logic [AccAddrW-1:0] rd_addr;
  assign {rd_valid, rd_noread, rd_zero, rd_addr} = meta_rd;
  assign acc_rd_en_o   = rd_valid && !rd_noread && !rd_zero;
  assign acc_rd_addr_o = rd_addr;

  // write stage (cycle x + 2N)
  logic                wr_valid_q, wr_noread_q, wr_zero_q, byp_q;
  logic [AccAddrW-1:0] wr_addr_q;
  logic [N*32-1:0]     byp_data_q, acc_old;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      wr_valid_q  <= 1'b0;
      wr_noread_q <= 1'b0;
      wr_zero_q   <= 1'b0;
      wr_addr_q   <= '0;
      byp_q       <= 1'b0;
      byp_data_q  <= '0;
    end else begin
      wr_valid_q  <= rd_valid;
      wr_noread_q <= rd_noread;
      wr_zero_q   <= rd_zero;
      wr_addr_q   <= rd_addr;
      // the spad reads the old word when it is written in the read cycle: forward the new one
      byp_q       <= acc_wr_en_o && acc_wr_addr_o == rd_addr;
      byp_data_q  <= acc_wr_data_o;
    end
  end

  assign acc_old = byp_q ? byp_data_q : acc_rd_data_i;

  always_comb begin
    for (int c = 0; c < N; c++) begin
      if (wr_zero_q) begin
        acc_wr_data_o[c*32 +: 32] = '0;
      end else if (wr_noread_q) begin
        acc_wr_data_o[c*32 +: 32] = arr_out[c*32 +: 32];
      end else begin
        acc_wr_data_o[c*32 +: 32] = acc_old[c*32 +: 32] + arr_out[c*32 +: 32];
      end
    end
  end
  assign acc_wr_en_o   = wr_valid_q;
  assign acc_wr_addr_o = wr_addr_q;

`ifndef SYNTHESIS
  always_ff @(posedge clk_i) begin : ap_start_when_idle
    if (rst_ni) assert (!(start_i && busy_o)) else $error("tataa_gemm_engine: start_i while busy");
  end
  always_ff @(posedge clk_i) begin : ap_result_aligned
    if (rst_ni) assert (!(wr_valid_q && !wr_zero_q) || arr_out_valid)
      else $error("tataa_gemm_engine: ACC write without an array result");
  end
  initial begin : ap_params
    assert (N >= 2 && N < (1 << RowsW)) else $error("tataa_gemm_engine: N out of range");
    assert (InpAddrW <= AW && WgtAddrW <= AW && AccAddrW <= AW) else $error("tataa_gemm_engine: address width");
  end
`endif

endmodule : tataa_gemm_engine
