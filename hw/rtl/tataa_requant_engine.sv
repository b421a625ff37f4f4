// REQUANT engine: sequences one REQUANT instruction from the ACC scratchpad into INP (int8) or VEC (bf16).
//
// Semantics: docs/semantics.md ("REQUANT"); timing: docs/timing.md. For t < tiles, m < rows: source
// ACC[acc_base + t*acc_tstride + m], scale word ACC[scale_base + t*scale_tstride], destination word
// dst_base + t*dst_tstride + m*dst_mstride of INP (out_type INT8) or VEC (out_type BF16). One word
// (N lanes of tataa_requant) per cycle, in loop order, so when two iterations write the same word the
// later one wins, as in the simulator.
//
// Handshake (as tataa_simd_engine): start_i is taken while idle (busy_o low) with the raw instruction
// insn_i, sampled in that cycle only; done_o pulses in the last busy cycle, which is also the cycle of
// the last write. An instruction started in cycle s occupies cycles s .. s+D-1 with
//   D = P + tiles*rows,   P = PipeDepth,
// exactly the duration of docs/timing.md.
//
// Pipeline (cycles relative to the issue cycle t of one iteration):
//   t      read the accumulator word and the scale word on the two ACC read ports
//   t+1    read data registered into the operand registers
//   t+2    N tataa_requant (combinational), then PipeDepth-3 result registers
//   t+P-1  INP or VEC write
// Addresses wrap modulo 2**AddrW of their buffer; legal instructions stay inside. Requires PipeDepth >= 4.
module tataa_requant_engine #(
  parameter int N         = tataa_cfg_pkg::ArraySize,
  parameter int PipeDepth = tataa_cfg_pkg::SimdPipelineDepth,
  parameter int AccAddrW  = tataa_cfg_pkg::AccAddrBits,
  parameter int InpAddrW  = tataa_cfg_pkg::InpAddrBits,
  parameter int VecAddrW  = tataa_cfg_pkg::VecAddrBits
) (
  input  logic                                clk_i,
  input  logic                                rst_ni,

  input  logic                                start_i,
  input  logic [tataa_isa_pkg::INSN_BITS-1:0] insn_i,
  output logic                                busy_o,
  output logic                                done_o,

  // ACC read port for the accumulator word
  output logic                                acc_rd_en_o,
  output logic [AccAddrW-1:0]                 acc_rd_addr_o,
  input  logic [N*32-1:0]                     acc_rd_data_i,
  // ACC read port for the scale word
  output logic                                scale_rd_en_o,
  output logic [AccAddrW-1:0]                 scale_rd_addr_o,
  input  logic [N*32-1:0]                     scale_rd_data_i,
  // INP write port (out_type INT8)
  output logic                                inp_wr_en_o,
  output logic [InpAddrW-1:0]                 inp_wr_addr_o,
  output logic [N*8-1:0]                      inp_wr_data_o,
  // VEC write port (out_type BF16)
  output logic                                vec_wr_en_o,
  output logic [VecAddrW-1:0]                 vec_wr_addr_o,
  output logic [N*16-1:0]                     vec_wr_data_o
);

  localparam int ResRegs   = PipeDepth - 3;  // result registers after the requantizers
  localparam int DstW      = (VecAddrW > InpAddrW) ? VecAddrW : InpAddrW;
  localparam int CntW      = 8;              // drain counter (PipeDepth < 256)
  localparam int DrainLoad = PipeDepth - 2;  // cycles in StDrain after the last issue
  localparam logic [CntW-1:0] CntOne = 1;
  // instruction field widths
  localparam int TilesW = tataa_isa_pkg::REQUANT_TILES_WIDTH;
  localparam int RowsW  = tataa_isa_pkg::REQUANT_ROWS_WIDTH;
  localparam logic [TilesW-1:0] TilesOne = 1;
  localparam logic [RowsW-1:0]  RowsOne  = 1;

  // ---- instruction fields ----------------------------------------------------------------------
  logic        f_out_bf16, f_scale_ts;
  logic [TilesW-1:0] f_tiles;
  logic [RowsW-1:0]  f_rows;
  logic [tataa_isa_pkg::REQUANT_ACC_BASE_WIDTH-1:0]    f_acc_base;
  logic [tataa_isa_pkg::REQUANT_ACC_TSTRIDE_WIDTH-1:0] f_acc_ts;
  logic [tataa_isa_pkg::REQUANT_SCALE_BASE_WIDTH-1:0]  f_scale_base;
  logic [tataa_isa_pkg::REQUANT_DST_BASE_WIDTH-1:0]    f_dst_base;
  logic [tataa_isa_pkg::REQUANT_DST_TSTRIDE_WIDTH-1:0] f_dst_ts;
  logic [tataa_isa_pkg::REQUANT_DST_MSTRIDE_WIDTH-1:0] f_dst_ms;

  assign f_out_bf16   = insn_i[tataa_isa_pkg::REQUANT_OUT_TYPE_LSB];
  assign f_tiles      = insn_i[tataa_isa_pkg::REQUANT_TILES_LSB +: tataa_isa_pkg::REQUANT_TILES_WIDTH];
  assign f_rows       = insn_i[tataa_isa_pkg::REQUANT_ROWS_LSB +: tataa_isa_pkg::REQUANT_ROWS_WIDTH];
  assign f_acc_base   = insn_i[tataa_isa_pkg::REQUANT_ACC_BASE_LSB +: tataa_isa_pkg::REQUANT_ACC_BASE_WIDTH];
  assign f_acc_ts     = insn_i[tataa_isa_pkg::REQUANT_ACC_TSTRIDE_LSB +: tataa_isa_pkg::REQUANT_ACC_TSTRIDE_WIDTH];
  assign f_scale_base = insn_i[tataa_isa_pkg::REQUANT_SCALE_BASE_LSB +: tataa_isa_pkg::REQUANT_SCALE_BASE_WIDTH];
  assign f_scale_ts   = insn_i[tataa_isa_pkg::REQUANT_SCALE_TSTRIDE_LSB];
  assign f_dst_base   = insn_i[tataa_isa_pkg::REQUANT_DST_BASE_LSB +: tataa_isa_pkg::REQUANT_DST_BASE_WIDTH];
  assign f_dst_ts     = insn_i[tataa_isa_pkg::REQUANT_DST_TSTRIDE_LSB +: tataa_isa_pkg::REQUANT_DST_TSTRIDE_WIDTH];
  assign f_dst_ms     = insn_i[tataa_isa_pkg::REQUANT_DST_MSTRIDE_LSB +: tataa_isa_pkg::REQUANT_DST_MSTRIDE_WIDTH];

  // Fields zero-extended to their address widths (higher bits dropped: addresses wrap).
  logic [AccAddrW-1:0] acc_base_a, acc_ts_a, scale_base_a;
  logic [DstW-1:0]     dst_base_a, dst_ts_a, dst_ms_a;
  /* verilator lint_off UNUSEDSIGNAL */  // bits above the address widths
  logic [31:0] acc_base_w, acc_ts_w, scale_base_w, dst_base_w, dst_ts_w, dst_ms_w;
  /* verilator lint_on UNUSEDSIGNAL */
  assign acc_base_w   = {{(32-tataa_isa_pkg::REQUANT_ACC_BASE_WIDTH){1'b0}}, f_acc_base};
  assign acc_ts_w     = {{(32-tataa_isa_pkg::REQUANT_ACC_TSTRIDE_WIDTH){1'b0}}, f_acc_ts};
  assign scale_base_w = {{(32-tataa_isa_pkg::REQUANT_SCALE_BASE_WIDTH){1'b0}}, f_scale_base};
  assign dst_base_w   = {{(32-tataa_isa_pkg::REQUANT_DST_BASE_WIDTH){1'b0}}, f_dst_base};
  assign dst_ts_w     = {{(32-tataa_isa_pkg::REQUANT_DST_TSTRIDE_WIDTH){1'b0}}, f_dst_ts};
  assign dst_ms_w     = {{(32-tataa_isa_pkg::REQUANT_DST_MSTRIDE_WIDTH){1'b0}}, f_dst_ms};
  assign acc_base_a   = acc_base_w[AccAddrW-1:0];
  assign acc_ts_a     = acc_ts_w[AccAddrW-1:0];
  assign scale_base_a = scale_base_w[AccAddrW-1:0];
  assign dst_base_a   = dst_base_w[DstW-1:0];
  assign dst_ts_a     = dst_ts_w[DstW-1:0];
  assign dst_ms_a     = dst_ms_w[DstW-1:0];

  // ---- control FSM -----------------------------------------------------------------------------
  typedef enum logic [1:0] {
    StIdle,
    StRun,
    StDrain
  } state_e;

  state_e state_q, state_d;
  logic [CntW-1:0] cnt_q, cnt_d;

  logic start, empty, issue, m_last, t_last;

  // latched instruction
  logic                out_bf16_q, scale_ts_q;
  logic [TilesW-1:0]   tiles_m1_q;
  logic [RowsW-1:0]    rows_m1_q;
  logic [AccAddrW-1:0] acc_ts_q;
  logic [DstW-1:0]     dst_ts_q, dst_ms_q;

  // loop state
  logic [TilesW-1:0]   t_q, t_d;
  logic [RowsW-1:0]    m_q, m_d;
  logic [AccAddrW-1:0] src_row_q, src_row_d, src_q, src_d, scale_q, scale_d;
  logic [DstW-1:0]     dst_row_q, dst_row_d, dst_q, dst_d;

  assign start  = start_i && (state_q == StIdle);
  assign empty  = (f_tiles == '0) || (f_rows == '0);
  assign issue  = (state_q == StRun);
  assign m_last = (m_q == rows_m1_q);
  assign t_last = (t_q == tiles_m1_q);

  always_comb begin
    state_d = state_q;
    cnt_d   = cnt_q;
    done_o  = 1'b0;
    unique case (state_q)
      StIdle: begin
        if (start) begin
          if (empty) begin
            state_d = StDrain;
          end else begin
            state_d = StRun;
          end
          cnt_d   = DrainLoad[CntW-1:0];
        end
      end
      StRun: begin
        if (m_last && t_last) begin
          state_d = StDrain;
        end
      end
      StDrain: begin
        cnt_d = cnt_q - CntOne;
        if (cnt_q == '0) begin
          state_d = StIdle;
          done_o  = 1'b1;
        end
      end
      default: state_d = StIdle;
    endcase
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q <= StIdle;
      cnt_q   <= '0;
    end else begin
      state_q <= state_d;
      cnt_q   <= cnt_d;
    end
  end

  assign busy_o = (state_q != StIdle);

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      out_bf16_q <= 1'b0;
    end else if (start) begin
      out_bf16_q <= f_out_bf16;
    end
  end

  always_ff @(posedge clk_i) begin
    if (start) begin
      scale_ts_q <= f_scale_ts;
      tiles_m1_q <= f_tiles - TilesOne;
      rows_m1_q  <= f_rows - RowsOne;
      acc_ts_q   <= acc_ts_a;
      dst_ts_q   <= dst_ts_a;
      dst_ms_q   <= dst_ms_a;
    end
  end

  // ---- address generation: one iteration per cycle in StRun ------------------------------------
  always_comb begin
    t_d       = t_q;
    m_d       = m_q;
    src_row_d = src_row_q;
    src_d     = src_q;
    scale_d   = scale_q;
    dst_row_d = dst_row_q;
    dst_d     = dst_q;
    if (start) begin
      t_d       = '0;
      m_d       = '0;
      src_row_d = acc_base_a;
      src_d     = acc_base_a;
      scale_d   = scale_base_a;
      dst_row_d = dst_base_a;
      dst_d     = dst_base_a;
    end else if (issue) begin
      if (m_last) begin
        m_d       = '0;
        t_d       = t_q + TilesOne;
        src_row_d = src_row_q + acc_ts_q;
        src_d     = src_row_q + acc_ts_q;
        scale_d   = scale_q + {{(AccAddrW-1){1'b0}}, scale_ts_q};
        dst_row_d = dst_row_q + dst_ts_q;
        dst_d     = dst_row_q + dst_ts_q;
      end else begin
        m_d   = m_q + RowsOne;
        src_d = src_q + {{(AccAddrW-1){1'b0}}, 1'b1};
        dst_d = dst_q + dst_ms_q;
      end
    end
  end

  always_ff @(posedge clk_i) begin
    t_q       <= t_d;
    m_q       <= m_d;
    src_row_q <= src_row_d;
    src_q     <= src_d;
    scale_q   <= scale_d;
    dst_row_q <= dst_row_d;
    dst_q     <= dst_d;
  end

  assign acc_rd_en_o     = issue;
  assign acc_rd_addr_o   = src_q;
  assign scale_rd_en_o   = issue;
  assign scale_rd_addr_o = scale_q;

  // ---- stage 1 (t+1): read data in flight; stage 2 (t+2): operand registers, requantizers ------
  logic            s1_valid_q, s2_valid_q;
  logic [DstW-1:0] s1_dst_q, s2_dst_q;
  logic [N*32-1:0] acc_q, scale_word_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      s1_valid_q <= 1'b0;
      s2_valid_q <= 1'b0;
    end else begin
      s1_valid_q <= issue;
      s2_valid_q <= s1_valid_q;
    end
  end

  always_ff @(posedge clk_i) begin
    s1_dst_q     <= dst_q;
    s2_dst_q     <= s1_dst_q;
    acc_q        <= acc_rd_data_i;
    scale_word_q <= scale_rd_data_i;
  end

  logic [N*8-1:0]  res_i8;
  logic [N*16-1:0] res_bf16;

  for (genvar j = 0; j < N; j++) begin : g_lane
    tataa_requant u_requant (
      .acc_i   (acc_q[j*32 +: 32]),
      .scale_i (scale_word_q[j*32 +: 32]),
      .i8_o    (res_i8[j*8 +: 8]),
      .bf16_o  (res_bf16[j*16 +: 16])
    );
  end

  // ---- ResRegs result registers, then the write ------------------------------------------------
  // {addr, result word}; int8 results occupy the low N*8 bits. out_bf16_q stays valid until the
  // pipeline has drained, since the next instruction starts after done.
  localparam int ResW = DstW + N*16;
  logic [ResW-1:0]             res_in, res_out;
  logic [ResRegs*ResW-1:0]     res_pipe_q;
  logic [(ResRegs+1)*ResW-1:0] res_line;
  logic [ResRegs-1:0]          res_vpipe_q;
  logic [ResRegs:0]            res_vline;
  logic                        res_v_out;

  assign res_in    = {s2_dst_q, out_bf16_q ? res_bf16 : {{(N*8){1'b0}}, res_i8}};
  assign res_line  = {res_pipe_q, res_in};
  assign res_vline = {res_vpipe_q, s2_valid_q};
  assign res_out   = res_line[(ResRegs+1)*ResW-1 -: ResW];
  assign res_v_out = res_vline[ResRegs];

  always_ff @(posedge clk_i) begin
    res_pipe_q <= res_line[ResRegs*ResW-1:0];
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      res_vpipe_q <= '0;
    end else begin
      res_vpipe_q <= res_vline[ResRegs-1:0];
    end
  end

  logic [DstW-1:0] wr_addr;
  assign {wr_addr, vec_wr_data_o} = res_out;
  assign inp_wr_data_o = vec_wr_data_o[N*8-1:0];

  assign vec_wr_en_o   = res_v_out && out_bf16_q;
  assign vec_wr_addr_o = wr_addr[VecAddrW-1:0];
  assign inp_wr_en_o   = res_v_out && !out_bf16_q;
  assign inp_wr_addr_o = wr_addr[InpAddrW-1:0];

`ifndef SYNTHESIS
  initial begin : ap_params
    assert (PipeDepth >= 4) else $fatal(1, "tataa_requant_engine: needs PipeDepth >= 4");
  end
  // start_i only while idle; no write once the engine is idle again (the last write is in the done cycle)
  always @(posedge clk_i) begin : ap_start_idle
    if (rst_ni) assert (!(start_i && state_q != StIdle)) else $error("tataa_requant_engine: start while busy");
  end
  always @(posedge clk_i) begin : ap_no_write_when_idle
    if (rst_ni) assert (!(state_q == StIdle && res_v_out)) else $error("tataa_requant_engine: write after done");
  end
`endif

endmodule
