// VOP engine: sequences one VOP instruction over the VEC (and, for F2I8, INP) scratchpads.
//
// Semantics: docs/semantics.md ("VOP"); timing: docs/timing.md. For o < outer, i < inner, operand
// x in {dst, a, b} is VEC word x_base + o*x_ostride + i*x_istride; b is constant register b_base in
// every lane when b_const. One iteration (one word of N lanes) is issued per cycle.
//
// Handshake: start_i is taken while the engine is idle (busy_o low), together with the raw
// instruction insn_i and the constant registers const_i (both sampled in that cycle only). done_o
// pulses in the last busy cycle, which is also the cycle of the last scratchpad write; an
// instruction started in cycle s therefore occupies cycles s .. s+D-1 with
//   D = P + outer*inner            (+ log2(N) for REDMAX, REDSUM, REDSUMSQ),   P = PipeDepth,
// and the next instruction can start in cycle s+D. This is exactly the duration of docs/timing.md
// when simd_words_per_cycle is 1 (config tiny); the model's P + ceil(outer*inner / W_simd) for
// W_simd > 1 (u280: 4) would need W_simd words, i.e. W_simd sets of ports, per cycle.
//
// Pipeline (cycles relative to the issue cycle t of one iteration):
//   t      read addresses of a, b, dst on the VEC read ports (rd_data arrives at t+1)
//   t+1    read data registered into the operand registers
//   t+2    N tataa_simd_lane (combinational), then PipeDepth-3 result registers
//   t+P-1  VEC (or INP) write of the result
// Reductions instead accumulate per lane at t+2 (fp32 running sums, or bf16 running max through the
// lanes' MAX), the sums/maxima of a finished outer step enter tataa_lane_reduce at t+3, whose bf16
// result passes log2(N)+P-4 registers and is written to every lane of word dst_base + o*dst_ostride
// at t+P-1+log2(N).
//
// The VOP hazard rule (docs/semantics.md) guarantees that no iteration reads a word written by a
// different iteration, so results are never forwarded. Addresses wrap modulo 2**VecAddrW (resp.
// InpAddrW); legal instructions stay inside their buffers. Requires PipeDepth >= 4 and N >= 2 a
// power of two; one word per cycle (SimdWordsPerCycle = 1).
module tataa_simd_engine #(
  parameter int N         = tataa_cfg_pkg::ArraySize,
  parameter int PipeDepth = tataa_cfg_pkg::SimdPipelineDepth,
  parameter int VecAddrW  = tataa_cfg_pkg::VecAddrBits,
  parameter int InpAddrW  = tataa_cfg_pkg::InpAddrBits,
  parameter bit ExternalMul = 1'b0  // 1: lane j multiplies on PE j of the array (mul_*_o / prod_i)
) (
  input  logic                                      clk_i,
  input  logic                                      rst_ni,

  input  logic                                      start_i,
  input  logic [tataa_isa_pkg::INSN_BITS-1:0]       insn_i,
  input  logic [tataa_isa_pkg::NUM_CONST_REGS*16-1:0] const_i,  // register r is const_i[r*16 +: 16]
  output logic                                      busy_o,
  output logic                                      done_o,

  // VEC read port for operand a
  output logic                                      vec_a_rd_en_o,
  output logic [VecAddrW-1:0]                       vec_a_rd_addr_o,
  input  logic [N*16-1:0]                           vec_a_rd_data_i,
  // VEC read port for operand b (unused when b_const)
  output logic                                      vec_b_rd_en_o,
  output logic [VecAddrW-1:0]                       vec_b_rd_addr_o,
  input  logic [N*16-1:0]                           vec_b_rd_data_i,
  // VEC read port for the old destination value (MAC, SEL)
  output logic                                      vec_d_rd_en_o,
  output logic [VecAddrW-1:0]                       vec_d_rd_addr_o,
  input  logic [N*16-1:0]                           vec_d_rd_data_i,
  // VEC write port (all functs except F2I8)
  output logic                                      vec_wr_en_o,
  output logic [VecAddrW-1:0]                       vec_wr_addr_o,
  output logic [N*16-1:0]                           vec_wr_data_o,
  // INP write port (F2I8)
  output logic                                      inp_wr_en_o,
  output logic [InpAddrW-1:0]                       inp_wr_addr_o,
  output logic [N*8-1:0]                            inp_wr_data_o,

  // significand multiplications lent by the PE array (lane j: bits j*8 +: 8 and j*16 +: 16)
  output logic [N*8-1:0]                            mul_a_o,
  output logic [N*8-1:0]                            mul_b_o,
  input  logic [N*16-1:0]                           prod_i
);

  localparam int LogN     = $clog2(N);
  localparam int ResRegs  = PipeDepth - 3;         // result registers of elementwise functs
  localparam int RedRegs  = LogN + PipeDepth - 4;  // registers after the lane tree
  localparam int AddrW    = (VecAddrW > InpAddrW) ? VecAddrW : InpAddrW;
  localparam int CntW     = 8;                     // drain counter (PipeDepth + LogN < 256)
  // Cycles in StDrain after the last issue: the last write is at t+P-1 (+log2 N for reductions).
  localparam int DrainElem = PipeDepth - 2;
  localparam int DrainRed  = PipeDepth - 2 + LogN;
  localparam logic [CntW-1:0] CntOne = 1;
  // instruction field widths
  localparam int OuterW    = tataa_isa_pkg::VOP_OUTER_WIDTH;
  localparam int InnerW    = tataa_isa_pkg::VOP_INNER_WIDTH;
  localparam int ConstIdxW = $clog2(tataa_isa_pkg::NUM_CONST_REGS);
  localparam logic [OuterW-1:0] OuterOne = 1;
  localparam logic [InnerW-1:0] InnerOne = 1;

  // ---- instruction fields ----------------------------------------------------------------------
  logic [tataa_isa_pkg::VFUNCT_BITS-1:0] f_funct;
  logic [OuterW-1:0] f_outer;
  logic [InnerW-1:0] f_inner;
  logic [tataa_isa_pkg::VOP_DST_BASE_WIDTH-1:0]    f_dst_base;
  logic [tataa_isa_pkg::VOP_DST_OSTRIDE_WIDTH-1:0] f_dst_ost;
  logic [tataa_isa_pkg::VOP_A_BASE_WIDTH-1:0]      f_a_base;
  logic [tataa_isa_pkg::VOP_A_OSTRIDE_WIDTH-1:0]   f_a_ost;
  logic [tataa_isa_pkg::VOP_B_BASE_WIDTH-1:0]      f_b_base;
  logic [tataa_isa_pkg::VOP_B_OSTRIDE_WIDTH-1:0]   f_b_ost;
  logic        f_dst_ist, f_a_ist, f_b_ist, f_b_const;
  logic [tataa_isa_pkg::VOP_C_IDX_WIDTH-1:0] f_c_idx;
  logic [tataa_isa_pkg::VKIND_BITS-1:0] f_kind;

  assign f_funct    = insn_i[tataa_isa_pkg::VOP_FUNCT_LSB +: tataa_isa_pkg::VOP_FUNCT_WIDTH];
  assign f_outer    = insn_i[tataa_isa_pkg::VOP_OUTER_LSB +: tataa_isa_pkg::VOP_OUTER_WIDTH];
  assign f_inner    = insn_i[tataa_isa_pkg::VOP_INNER_LSB +: tataa_isa_pkg::VOP_INNER_WIDTH];
  assign f_dst_base = insn_i[tataa_isa_pkg::VOP_DST_BASE_LSB +: tataa_isa_pkg::VOP_DST_BASE_WIDTH];
  assign f_dst_ost  = insn_i[tataa_isa_pkg::VOP_DST_OSTRIDE_LSB +: tataa_isa_pkg::VOP_DST_OSTRIDE_WIDTH];
  assign f_dst_ist  = insn_i[tataa_isa_pkg::VOP_DST_ISTRIDE_LSB];
  assign f_a_base   = insn_i[tataa_isa_pkg::VOP_A_BASE_LSB +: tataa_isa_pkg::VOP_A_BASE_WIDTH];
  assign f_a_ost    = insn_i[tataa_isa_pkg::VOP_A_OSTRIDE_LSB +: tataa_isa_pkg::VOP_A_OSTRIDE_WIDTH];
  assign f_a_ist    = insn_i[tataa_isa_pkg::VOP_A_ISTRIDE_LSB];
  assign f_b_base   = insn_i[tataa_isa_pkg::VOP_B_BASE_LSB +: tataa_isa_pkg::VOP_B_BASE_WIDTH];
  assign f_b_ost    = insn_i[tataa_isa_pkg::VOP_B_OSTRIDE_LSB +: tataa_isa_pkg::VOP_B_OSTRIDE_WIDTH];
  assign f_b_ist    = insn_i[tataa_isa_pkg::VOP_B_ISTRIDE_LSB];
  assign f_b_const  = insn_i[tataa_isa_pkg::VOP_B_CONST_LSB];
  assign f_c_idx    = insn_i[tataa_isa_pkg::VOP_C_IDX_LSB +: tataa_isa_pkg::VOP_C_IDX_WIDTH];

  // Kind of the funct (undefined functs, which decode rejects, read as UNARY).
  always_comb begin
    f_kind = tataa_isa_pkg::VKIND_UNARY;
    if ({{(32-tataa_isa_pkg::VFUNCT_BITS){1'b0}}, f_funct} < tataa_isa_pkg::NUM_VFUNCTS) begin
      f_kind = tataa_isa_pkg::VFUNCT_KIND[f_funct*tataa_isa_pkg::VKIND_BITS +: tataa_isa_pkg::VKIND_BITS];
    end
  end

  // Bases and outer strides zero-extended to the address width (higher bits dropped: addresses wrap).
  logic [AddrW-1:0] a_base_a, b_base_a, d_base_a, a_ost_a, b_ost_a, d_ost_a;
  /* verilator lint_off UNUSEDSIGNAL */  // bits above the address width
  logic [31:0] a_base_w, b_base_w, d_base_w, a_ost_w, b_ost_w, d_ost_w;
  /* verilator lint_on UNUSEDSIGNAL */
  assign a_base_w = {{(32-tataa_isa_pkg::VOP_A_BASE_WIDTH){1'b0}}, f_a_base};
  assign b_base_w = {{(32-tataa_isa_pkg::VOP_B_BASE_WIDTH){1'b0}}, f_b_base};
  assign d_base_w = {{(32-tataa_isa_pkg::VOP_DST_BASE_WIDTH){1'b0}}, f_dst_base};
  assign a_ost_w  = {{(32-tataa_isa_pkg::VOP_A_OSTRIDE_WIDTH){1'b0}}, f_a_ost};
  assign b_ost_w  = {{(32-tataa_isa_pkg::VOP_B_OSTRIDE_WIDTH){1'b0}}, f_b_ost};
  assign d_ost_w  = {{(32-tataa_isa_pkg::VOP_DST_OSTRIDE_WIDTH){1'b0}}, f_dst_ost};
  assign a_base_a = a_base_w[AddrW-1:0];
  assign b_base_a = b_base_w[AddrW-1:0];
  assign d_base_a = d_base_w[AddrW-1:0];
  assign a_ost_a  = a_ost_w[AddrW-1:0];
  assign b_ost_a  = b_ost_w[AddrW-1:0];
  assign d_ost_a  = d_ost_w[AddrW-1:0];

  // ---- control FSM -----------------------------------------------------------------------------
  typedef enum logic [1:0] {
    StIdle,
    StRun,
    StDrain
  } state_e;

  state_e state_q, state_d;
  logic [CntW-1:0] cnt_q, cnt_d;

  // latched instruction
  logic [tataa_isa_pkg::VFUNCT_BITS-1:0] funct_q;
  logic [OuterW-1:0] outer_m1_q;
  logic [InnerW-1:0] inner_m1_q;
  logic        is_reduce_q, is_int8_q, use_b_vec_q, use_d_q;
  logic [15:0] b_const_val_q, c_val_q;
  logic [AddrW-1:0] a_ost_q, b_ost_q, d_ost_q;
  logic        a_ist_q, b_ist_q, d_ist_q;

  // loop state
  logic [OuterW-1:0] o_q, o_d;
  logic [InnerW-1:0] i_q, i_d;
  logic [AddrW-1:0] a_row_q, a_row_d, a_addr_q, a_addr_d;
  logic [AddrW-1:0] b_row_q, b_row_d, b_addr_q, b_addr_d;
  logic [AddrW-1:0] d_row_q, d_row_d, d_addr_q, d_addr_d;

  logic start, empty, issue, i_last, o_last;
  logic [ConstIdxW-1:0] b_idx;

  assign start  = start_i && (state_q == StIdle);
  assign empty  = (f_outer == '0) || (f_inner == '0);
  assign issue  = (state_q == StRun);
  assign i_last = (i_q == inner_m1_q);
  assign o_last = (o_q == outer_m1_q);
  assign b_idx  = f_b_base[ConstIdxW-1:0];

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
          cnt_d   = (f_kind == tataa_isa_pkg::VKIND_REDUCE) ? DrainRed[CntW-1:0] : DrainElem[CntW-1:0];
        end
      end
      StRun: begin
        if (i_last && o_last) begin
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

  // ---- instruction latch -----------------------------------------------------------------------
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      funct_q     <= '0;
      is_reduce_q <= 1'b0;
      is_int8_q   <= 1'b0;
      use_b_vec_q <= 1'b0;
      use_d_q     <= 1'b0;
    end else if (start) begin
      funct_q     <= f_funct;
      is_reduce_q <= (f_kind == tataa_isa_pkg::VKIND_REDUCE);
      is_int8_q   <= (f_kind == tataa_isa_pkg::VKIND_TO_INT8);
      use_b_vec_q <= !f_b_const && (f_kind == tataa_isa_pkg::VKIND_BINARY
                                    || f_kind == tataa_isa_pkg::VKIND_TERNARY_CONST
                                    || f_kind == tataa_isa_pkg::VKIND_TERNARY_DST
                                    || f_kind == tataa_isa_pkg::VKIND_TO_INT8);
      use_d_q     <= (f_kind == tataa_isa_pkg::VKIND_TERNARY_DST);
    end
  end

  always_ff @(posedge clk_i) begin
    if (start) begin
      outer_m1_q    <= f_outer - OuterOne;
      inner_m1_q    <= f_inner - InnerOne;
      b_const_val_q <= const_i[b_idx*16 +: 16];
      c_val_q       <= const_i[f_c_idx*16 +: 16];
      a_ost_q       <= a_ost_a;
      b_ost_q       <= b_ost_a;
      d_ost_q       <= d_ost_a;
      a_ist_q       <= f_a_ist;
      b_ist_q       <= f_b_ist;
      d_ist_q       <= f_dst_ist;
    end
  end

  // ---- address generation: one iteration per cycle in StRun ------------------------------------
  always_comb begin
    o_d      = o_q;
    i_d      = i_q;
    a_row_d  = a_row_q;
    a_addr_d = a_addr_q;
    b_row_d  = b_row_q;
    b_addr_d = b_addr_q;
    d_row_d  = d_row_q;
    d_addr_d = d_addr_q;
    if (start) begin
      o_d      = '0;
      i_d      = '0;
      a_row_d  = a_base_a;
      a_addr_d = a_base_a;
      b_row_d  = b_base_a;
      b_addr_d = b_base_a;
      d_row_d  = d_base_a;
      d_addr_d = d_base_a;
    end else if (issue) begin
      if (i_last) begin
        i_d      = '0;
        o_d      = o_q + OuterOne;
        a_row_d  = a_row_q + a_ost_q;
        a_addr_d = a_row_q + a_ost_q;
        b_row_d  = b_row_q + b_ost_q;
        b_addr_d = b_row_q + b_ost_q;
        d_row_d  = d_row_q + d_ost_q;
        d_addr_d = d_row_q + d_ost_q;
      end else begin
        i_d      = i_q + InnerOne;
        a_addr_d = a_addr_q + {{(AddrW-1){1'b0}}, a_ist_q};
        b_addr_d = b_addr_q + {{(AddrW-1){1'b0}}, b_ist_q};
        d_addr_d = d_addr_q + {{(AddrW-1){1'b0}}, d_ist_q};
      end
    end
  end

  always_ff @(posedge clk_i) begin
    o_q      <= o_d;
    i_q      <= i_d;
    a_row_q  <= a_row_d;
    a_addr_q <= a_addr_d;
    b_row_q  <= b_row_d;
    b_addr_q <= b_addr_d;
    d_row_q  <= d_row_d;
    d_addr_q <= d_addr_d;
  end

  assign vec_a_rd_en_o   = issue;
  assign vec_a_rd_addr_o = a_addr_q[VecAddrW-1:0];
  assign vec_b_rd_en_o   = issue && use_b_vec_q;
  assign vec_b_rd_addr_o = b_addr_q[VecAddrW-1:0];
  assign vec_d_rd_en_o   = issue && use_d_q;
  assign vec_d_rd_addr_o = d_addr_q[VecAddrW-1:0];

  // ---- stage 1 (t+1): read data in flight ------------------------------------------------------
  logic             s1_valid_q, s1_first_q, s1_last_q;
  logic [AddrW-1:0] s1_waddr_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      s1_valid_q <= 1'b0;
    end else begin
      s1_valid_q <= issue;
    end
  end

  always_ff @(posedge clk_i) begin
    s1_first_q <= (i_q == '0);
    s1_last_q  <= i_last;
    s1_waddr_q <= is_reduce_q ? d_row_q : d_addr_q;
  end

  // ---- stage 2 (t+2): operand registers, lanes, per-lane reduction accumulators -----------------
  logic             s2_valid_q, s2_first_q, s2_last_q;
  logic [AddrW-1:0] s2_waddr_q;
  logic [N*16-1:0]  a_q, b_q, d_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      s2_valid_q <= 1'b0;
    end else begin
      s2_valid_q <= s1_valid_q;
    end
  end

  always_ff @(posedge clk_i) begin
    s2_first_q <= s1_first_q;
    s2_last_q  <= s1_last_q;
    s2_waddr_q <= s1_waddr_q;
    a_q        <= vec_a_rd_data_i;
    b_q        <= use_b_vec_q ? vec_b_rd_data_i : {N{b_const_val_q}};
    d_q        <= vec_d_rd_data_i;
  end

  logic [tataa_isa_pkg::VFUNCT_BITS-1:0] lane_funct;
  logic [N*16-1:0] lane_b, lane_c, lane_res;
  logic [N*8-1:0]  lane_i8;
  logic [N*32-1:0] acc_q, acc_d;
  logic [N*16-1:0] tree_max_in;
  logic            acc_sumsq;

  assign lane_funct = is_reduce_q ? tataa_isa_pkg::VFUNCT_MAX : funct_q;
  assign acc_sumsq  = (funct_q == tataa_isa_pkg::VFUNCT_REDSUMSQ);

  for (genvar j = 0; j < N; j++) begin : g_lane
    logic [15:0] a_j;
    logic [31:0] term_j, sum_j, addend_j;
    assign a_j = a_q[j*16 +: 16];

    // REDMAX runs the lanes as MAX(a, running max); the first word of a step is max(a, a).
    assign lane_b[j*16 +: 16] = !is_reduce_q ? b_q[j*16 +: 16]
                                : (s2_first_q ? a_j : acc_q[j*32 + 16 +: 16]);
    assign lane_c[j*16 +: 16] = use_d_q ? d_q[j*16 +: 16] : c_val_q;

    tataa_simd_lane #(.ExternalMul(ExternalMul)) u_lane (
      .funct_i (lane_funct),
      .a_i     (a_j),
      .b_i     (lane_b[j*16 +: 16]),
      .c_i     (lane_c[j*16 +: 16]),
      .res_o   (lane_res[j*16 +: 16]),
      .i8_o    (lane_i8[j*8 +: 8]),
      .mul_a_o (mul_a_o[j*8 +: 8]),
      .mul_b_o (mul_b_o[j*8 +: 8]),
      .prod_i  (prod_i[j*16 +: 16])
    );

    // REDSUM: the bf16 operand widened to fp32 (a subnormal reads as a signed zero: DAZ);
    // REDSUMSQ: its fp32 square.
    logic [31:0] sq_j;
    tataa_bf16_sqr_fp32 u_sqr (
      .x_i  (a_j),
      .sq_o (sq_j)
    );
    assign term_j = acc_sumsq ? sq_j
                    : ((a_j[14:7] == 8'd0) ? {a_j[15], 31'd0} : {a_j, 16'd0});

    // running sum starting at +0 in the first word of each outer step
    assign addend_j = s2_first_q ? 32'd0 : acc_q[j*32 +: 32];
    tataa_fp32_add u_add (
      .a_i   (addend_j),
      .b_i   (term_j),
      .sum_o (sum_j)
    );
    assign acc_d[j*32 +: 32] = (funct_q == tataa_isa_pkg::VFUNCT_REDMAX)
                               ? {lane_res[j*16 +: 16], 16'd0} : sum_j;
    assign tree_max_in[j*16 +: 16] = acc_q[j*32 + 16 +: 16];
  end

  always_ff @(posedge clk_i) begin
    if (s2_valid_q && is_reduce_q) begin
      acc_q <= acc_d;
    end
  end

  // ---- elementwise results: ResRegs registers, then the write --------------------------------
  // {addr, result word}; F2I8 results occupy the low N*8 bits. The kind flags (is_int8_q) stay valid
  // until the pipeline has drained, since the next instruction starts after done.
  localparam int ResW = AddrW + N*16;
  logic [ResW-1:0] res_in, res_out;
  logic            res_v_in, res_v_out;

  assign res_v_in = s2_valid_q && !is_reduce_q;
  assign res_in   = {s2_waddr_q, is_int8_q ? {{(N*8){1'b0}}, lane_i8} : lane_res};

  logic [ResRegs*ResW-1:0] res_pipe_q;
  logic [(ResRegs+1)*ResW-1:0] res_line;
  logic [ResRegs-1:0] res_vpipe_q;
  logic [ResRegs:0]   res_vline;

  assign res_line  = {res_pipe_q, res_in};
  assign res_vline = {res_vpipe_q, res_v_in};
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

  // ---- reduction: stage 3 (t+3) lane tree, RedRegs registers, then the write -------------------
  logic             s3_valid_q;
  logic [AddrW-1:0] s3_waddr_q;
  logic [15:0]      tree_res;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      s3_valid_q <= 1'b0;
    end else begin
      s3_valid_q <= s2_valid_q && is_reduce_q && s2_last_q;
    end
  end

  always_ff @(posedge clk_i) begin
    s3_waddr_q <= s2_waddr_q;
  end

  logic [15:0] tree_sum, tree_max;

  /* verilator lint_off PINCONNECTEMPTY */  // the unrounded fp32 sum is not needed
  tataa_lane_reduce #(
    .Lanes (N)
  ) u_tree (
    .sum_i     (acc_q),
    .max_i     (tree_max_in),
    .sum_f32_o (),
    .sum_o     (tree_sum),
    .max_o     (tree_max)
  );
  /* verilator lint_on PINCONNECTEMPTY */

  assign tree_res = (funct_q == tataa_isa_pkg::VFUNCT_REDMAX) ? tree_max : tree_sum;

  localparam int RedW = AddrW + 16;
  logic [RedW-1:0] red_in, red_out;
  logic [RedRegs*RedW-1:0] red_pipe_q;
  logic [(RedRegs+1)*RedW-1:0] red_line;
  logic [RedRegs-1:0] red_vpipe_q;
  logic [RedRegs:0]   red_vline;
  logic               red_v_out;

  assign red_in    = {s3_waddr_q, tree_res};
  assign red_line  = {red_pipe_q, red_in};
  assign red_vline = {red_vpipe_q, s3_valid_q};
  assign red_out   = red_line[(RedRegs+1)*RedW-1 -: RedW];
  assign red_v_out = red_vline[RedRegs];

  always_ff @(posedge clk_i) begin
    red_pipe_q <= red_line[RedRegs*RedW-1:0];
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      red_vpipe_q <= '0;
    end else begin
      red_vpipe_q <= red_vline[RedRegs-1:0];
    end
  end

  // ---- write ports ---------------------------------------------------------------------------
  logic [AddrW-1:0] res_addr, red_addr;
  logic [N*16-1:0]  res_word;
  logic [15:0]      red_val;

  assign {res_addr, res_word} = res_out;
  assign {red_addr, red_val} = red_out;

  always_comb begin
    vec_wr_en_o   = 1'b0;
    vec_wr_addr_o = res_addr[VecAddrW-1:0];
    vec_wr_data_o = res_word;
    if (red_v_out) begin
      vec_wr_en_o   = 1'b1;
      vec_wr_addr_o = red_addr[VecAddrW-1:0];
      vec_wr_data_o = {N{red_val}};
    end else if (res_v_out && !is_int8_q) begin
      vec_wr_en_o = 1'b1;
    end
  end

  assign inp_wr_en_o   = res_v_out && is_int8_q;
  assign inp_wr_addr_o = res_addr[InpAddrW-1:0];
  assign inp_wr_data_o = res_word[N*8-1:0];

`ifndef SYNTHESIS
  initial begin : ap_params
    assert (PipeDepth >= 4 && N >= 2 && (N & (N - 1)) == 0)
      else $fatal(1, "tataa_simd_engine: needs PipeDepth >= 4 and N a power of two >= 2");
  end
  // start_i only while idle; no write once the engine is idle again (the last write is in the done cycle)
  always @(posedge clk_i) begin : ap_start_idle
    if (rst_ni) assert (!(start_i && state_q != StIdle)) else $error("tataa_simd_engine: start while busy");
  end
  always @(posedge clk_i) begin : ap_no_write_when_idle
    if (rst_ni) assert (!(state_q == StIdle && (res_v_out || red_v_out)))
      else $error("tataa_simd_engine: write after done");
  end
`endif

endmodule
