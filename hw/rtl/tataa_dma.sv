// DMA engine: executes one LOAD or STORE instruction (docs/semantics.md) between an AXI4 master and the
// on-chip buffers.
//
// Instruction contract (tataa_unit_issue): `start_i` with the raw instruction `insn_i` and the eight region
// base addresses `dram_base_i` (region r at bits r*64 +: 64) in the start cycle s, while the engine is idle
// (`busy_o` low); `done_o` is a one-cycle pulse in the last busy cycle, and `start_i` may come again the next
// cycle. `err_o` is valid with `done_o`: some RRESP/BRESP of the instruction was not OKAY.
//
// Row y of the instruction starts at byte a_y = base[dram_reg] + dram_offset + y*dram_stride and holds
// row_bytes = cols*eb bytes (eb = 1 INP/WGT, 4 ACC, 2 VEC); a buffer word holds W = N*eb bytes. Each row is
// read (LOAD) or written (STORE) as INCR bursts of BusBytes-wide beats, split at 4 KiB boundaries and at 256
// beats; a row whose first byte is not beat-aligned takes the beats that cover it (one more than
// ceil(row_bytes / BusBytes) when it straddles one more beat boundary). Burst requests run ahead of the data
// (no limit of their own; the slave's AR/AWREADY bound them), so the read latency is paid about once per
// instruction.
//
// Data path, in "chunks": chunk c of a row is its bytes [c*B, c*B + B) (B = BusBytes).
// * LOAD: R beats --(realign by a_y mod B)--> chunks --(pack)--> buffer words, one write per cycle. The pack
//   step gathers W/B chunks into a word when W >= B, or scatters one chunk into B/W words over as many cycles
//   when W < B (with a one-chunk skid, so that the realigner can run a chunk ahead). Bytes past the row's end
//   are zero, so a row's last word is zero-padded.
// * STORE: buffer words (1-cycle reads, 3-deep fall-through FIFO) --(unpack)--> chunks --(realign)--> W beats
//   with WSTRB set exactly on the row's bytes. The instruction is done when every B response has arrived.
// Rows are processed in order and words within a row in order, so the later row wins where rows overlap.
//
// Cycles, start to done inclusive, with a slave that never stalls and answers after L cycles (first R beat
// L cycles after the AR handshake, B response L cycles after WLAST):
//   LOAD  = L + 2 + sum_y max(beats_y, words) + pend cycles
//   STORE = L + 4 + sum_y max(beats_y, words)
// with beats_y = ceil(((a_y mod B) + row_bytes) / B) and words = ceil(cols / N). Pend cycles (LOAD): a row
// with a_y mod B != 0 whose last chunk lies wholly in its last beat (beats_y = ceil(row_bytes / B)) sends
// that chunk on one cycle late; the next row's first beat hides the cycle when that row is misaligned too,
// otherwise (and after the last row) it adds one. Exact when W >= B; when W < B the skid hides pend cycles
// and one cycle of pipeline fill may show instead. rows = 0 or cols = 0: done the cycle after start.
module tataa_dma #(
  parameter int ArraySize = tataa_cfg_pkg::ArraySize,
  parameter int BusBytes  = tataa_cfg_pkg::DmaBytesPerCycle,  // AXI data bytes, a power of two, 2..128
  parameter int InpDepth  = tataa_cfg_pkg::InpDepth,
  parameter int WgtDepth  = tataa_cfg_pkg::WgtDepth,
  parameter int AccDepth  = tataa_cfg_pkg::AccDepth,
  parameter int VecDepth  = tataa_cfg_pkg::VecDepth,
  parameter int BufAddrW  = 16                                 // buffer word address bits on the ports
) (
  input  logic                         clk_i,
  input  logic                         rst_ni,
  // instruction
  input  logic                         start_i,
  /* verilator lint_off UNUSEDSIGNAL */  // dependency flags are tataa_unit_issue's, bits 127:126 reserved
  input  logic [127:0]                 insn_i,
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic [8*64-1:0]              dram_base_i,
  output logic                         busy_o,
  output logic                         done_o,
  output logic                         err_o,
  // AXI4 master, read address and data
  output logic [63:0]                  m_axi_araddr_o,
  output logic [7:0]                   m_axi_arlen_o,
  output logic [2:0]                   m_axi_arsize_o,
  output logic [1:0]                   m_axi_arburst_o,
  output logic                         m_axi_arvalid_o,
  input  logic                         m_axi_arready_i,
  input  logic [BusBytes*8-1:0]        m_axi_rdata_i,
  input  logic [1:0]                   m_axi_rresp_i,
  input  logic                         m_axi_rlast_i,
  input  logic                         m_axi_rvalid_i,
  output logic                         m_axi_rready_o,
  // AXI4 master, write address, data and response
  output logic [63:0]                  m_axi_awaddr_o,
  output logic [7:0]                   m_axi_awlen_o,
  output logic [2:0]                   m_axi_awsize_o,
  output logic [1:0]                   m_axi_awburst_o,
  output logic                         m_axi_awvalid_o,
  input  logic                         m_axi_awready_i,
  output logic [BusBytes*8-1:0]        m_axi_wdata_o,
  output logic [BusBytes-1:0]          m_axi_wstrb_o,
  output logic                         m_axi_wlast_o,
  output logic                         m_axi_wvalid_o,
  input  logic                         m_axi_wready_i,
  input  logic [1:0]                   m_axi_bresp_i,
  input  logic                         m_axi_bvalid_i,
  output logic                         m_axi_bready_o,
  // buffer write port (LOAD): word `buf_wr_addr_o` of buffer `buf_wr_sel_o` (tataa_isa_pkg::buffer_e)
  output logic                         buf_wr_en_o,
  output logic [1:0]                   buf_wr_sel_o,
  output logic [BufAddrW-1:0]          buf_wr_addr_o,
  output logic [ArraySize*32-1:0]      buf_wr_data_o,    // W bytes of lanes, zero above them
  // buffer read port (STORE): data the cycle after buf_rd_en_o
  output logic                         buf_rd_en_o,
  output logic [1:0]                   buf_rd_sel_o,
  output logic [BufAddrW-1:0]          buf_rd_addr_o,
  input  logic [ArraySize*32-1:0]      buf_rd_data_i     // bytes above W are ignored
);

  // ---- sizes --------------------------------------------------------------------------------------------
  localparam int N      = ArraySize;
  localparam int LogN   = $clog2(ArraySize);
  localparam int B      = BusBytes;
  localparam int LB     = $clog2(BusBytes);
  localparam int BusW   = BusBytes * 8;
  localparam int WordB  = 4 * ArraySize;                    // widest buffer word (ACC), bytes
  localparam int WordW  = WordB * 8;
  localparam int XB     = (WordB > B) ? WordB : B;          // assembly registers: a word or a chunk
  localparam int XW     = XB * 8;
  localparam int KG     = (WordB > B) ? WordB / B : 1;      // most chunks per word
  localparam int KS     = (B > N) ? B / N : 1;              // most words per chunk
  localparam int KMax   = (KG > KS) ? KG : KS;
  localparam int PW     = (KMax > 1) ? $clog2(KMax) : 1;    // chunk/word position within a word/chunk
  localparam int RowsW  = tataa_isa_pkg::DMA_ROWS_WIDTH;
  localparam int ColsW  = tataa_isa_pkg::DMA_COLS_WIDTH;
  localparam int CntW   = ColsW + 4;                        // row bytes, beats and chunks of a row (+ slack)
  localparam int YsW    = tataa_isa_pkg::DMA_SRAM_YSTRIDE_WIDTH;
  localparam int WsW    = tataa_isa_pkg::DMA_SRAM_WSTRIDE_WIDTH;
  localparam int DsW    = tataa_isa_pkg::DMA_DRAM_STRIDE_WIDTH;
  localparam int SAddrW = 32;                               // internal buffer word addresses (never wrap)
  localparam int OutW   = 20;                               // outstanding write bursts

  localparam logic [CntW-1:0] BCnt     = CntW'(B);
  localparam logic [CntW-1:0] BMinus1  = CntW'(B - 1);
  localparam logic [LB:0]     BFull    = (LB + 1)'(B);      // B as a shift amount in bytes
  localparam logic [11:0]     LastBeat = 12'(4096 - B);     // 4 KiB page offset of a page's last beat

  // ---- instruction fields -------------------------------------------------------------------------------
  logic [3:0]       in_op;
  logic [1:0]       in_buf, in_leb;
  logic [15:0]      in_base;
  logic [YsW-1:0]   in_ystr;
  logic [WsW-1:0]   in_wstr;
  logic [RowsW-1:0] in_rows;
  logic [ColsW-1:0] in_cols;
  logic [2:0]       in_reg;
  logic [31:0]      in_off;
  logic [DsW-1:0]   in_dstr;
  logic [63:0]      in_a0;          // first byte of row 0
  logic [CntW-1:0]  in_rbytes;
  logic [3:0]       in_lw;          // log2 of the word bytes
  logic             in_gather;      // W >= B
  logic [PW:0]      in_k;           // chunks per word (gather) or words per chunk (scatter)

  assign in_op   = insn_i[tataa_isa_pkg::DMA_OPCODE_LSB +: tataa_isa_pkg::DMA_OPCODE_WIDTH];
  assign in_buf  = insn_i[tataa_isa_pkg::DMA_BUF_LSB +: tataa_isa_pkg::DMA_BUF_WIDTH];
  assign in_base = insn_i[tataa_isa_pkg::DMA_SRAM_BASE_LSB +: tataa_isa_pkg::DMA_SRAM_BASE_WIDTH];
  assign in_ystr = insn_i[tataa_isa_pkg::DMA_SRAM_YSTRIDE_LSB +: YsW];
  assign in_wstr = insn_i[tataa_isa_pkg::DMA_SRAM_WSTRIDE_LSB +: WsW];
  assign in_rows = insn_i[tataa_isa_pkg::DMA_ROWS_LSB +: RowsW];
  assign in_cols = insn_i[tataa_isa_pkg::DMA_COLS_LSB +: ColsW];
  assign in_reg  = insn_i[tataa_isa_pkg::DMA_DRAM_REG_LSB +: tataa_isa_pkg::DMA_DRAM_REG_WIDTH];
  assign in_off  = insn_i[tataa_isa_pkg::DMA_DRAM_OFFSET_LSB +: tataa_isa_pkg::DMA_DRAM_OFFSET_WIDTH];
  assign in_dstr = insn_i[tataa_isa_pkg::DMA_DRAM_STRIDE_LSB +: DsW];
  assign in_a0   = dram_base_i[in_reg*64 +: 64] + {32'd0, in_off};

  assign in_leb = (in_buf == tataa_isa_pkg::BUFFER_ACC) ? 2'd2 : (in_buf == tataa_isa_pkg::BUFFER_VEC) ? 2'd1 : 2'd0;

  always_comb begin
    in_rbytes = {{(CntW - ColsW){1'b0}}, in_cols} << in_leb;
    in_lw     = 4'(LogN) + {2'b00, in_leb};
    in_gather = in_lw >= 4'(LB);
    in_k      = in_gather ? ({{PW{1'b0}}, 1'b1} << (in_lw - 4'(LB))) : ({{PW{1'b0}}, 1'b1} << (4'(LB) - in_lw));
  end

  // ---- instruction registers ----------------------------------------------------------------------------
  logic             run_q, done_q, err_q, store_q, gather_q;
  logic [1:0]       buf_q;
  logic [3:0]       lw_q;           // log2 of the word bytes
  logic [CntW-1:0]  rbytes_q, nc_q;
  logic [ColsW-1:0] nw_q;
  logic [DsW-1:0]   dstr_q;
  logic [YsW-1:0]   ystr_q;
  logic [WsW-1:0]   wstr_q;
  logic [PW-1:0]    kmax_q;         // in_k - 1
  logic             start_load, start_store, start_empty;

  assign start_empty = (in_rows == '0) || (in_cols == '0);
  assign start_load  = start_i && !start_empty && (in_op == tataa_isa_pkg::OPCODE_LOAD);
  assign start_store = start_i && !start_empty && (in_op == tataa_isa_pkg::OPCODE_STORE);

  always_ff @(posedge clk_i) begin
    if (start_i) begin
      store_q  <= in_op == tataa_isa_pkg::OPCODE_STORE;
      buf_q    <= in_buf;
      lw_q     <= in_lw;
      rbytes_q <= in_rbytes;
      nc_q     <= (in_rbytes + BMinus1) >> LB;
      nw_q     <= ColsW'(({1'b0, in_cols} + (ColsW + 1)'(N - 1)) >> LogN);
      dstr_q   <= in_dstr;
      ystr_q   <= in_ystr;
      wstr_q   <= in_wstr;
      gather_q <= in_gather;
      kmax_q   <= PW'(in_k - 1'b1);
    end
  end

  // ---- burst generator (AR for LOAD, AW for STORE) ------------------------------------------------------
  logic             g_act_q, g_in_q;
  logic [RowsW-1:0] g_rows_q;        // rows with bursts still to request, the current one included
  logic [63:0]      g_row_q;         // first byte of the current row
  logic [63:0]      g_addr_q;        // next burst of the current row (g_in_q)
  logic [CntW-1:0]  g_left_q;        // beats of the current row not yet requested (g_in_q)
  logic [CntW-1:0]  g_row_beats, g_cur_left, g_len, g_to4k;
  logic [63:0]      g_cur_addr;
  logic             g_fire;

  // (part-selects are taken outside always_comb: Icarus 11 cannot narrow the sensitivity of constant selects)
  assign g_row_beats = ({{(CntW - LB){1'b0}}, g_row_q[LB-1:0]} + rbytes_q + BMinus1) >> LB;
  assign g_cur_addr  = g_in_q ? g_addr_q : {g_row_q[63:LB], {LB{1'b0}}};
  assign g_cur_left  = g_in_q ? g_left_q : g_row_beats;
  assign g_to4k      = (CntW'(4096) - {{(CntW - 12){1'b0}}, g_cur_addr[11:0]}) >> LB;

  always_comb begin
    g_len       = g_cur_left;
    if (g_to4k < g_len) g_len = g_to4k;
    if (CntW'(256) < g_len) g_len = CntW'(256);
  end

  assign g_fire = g_act_q && (store_q ? m_axi_awready_i : m_axi_arready_i);

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      g_act_q <= 1'b0;
      g_in_q  <= 1'b0;
    end else if (start_i) begin
      g_act_q  <= start_load || start_store;
      g_in_q   <= 1'b0;
      g_rows_q <= in_rows;
      g_row_q  <= in_a0;
    end else if (g_fire) begin
      if (g_len == g_cur_left) begin  // the row's last burst
        g_in_q   <= 1'b0;
        g_row_q  <= g_row_q + {{(64 - DsW){1'b0}}, dstr_q};
        g_rows_q <= g_rows_q - 1'b1;
        if (g_rows_q == RowsW'(1)) g_act_q <= 1'b0;
      end else begin
        g_in_q   <= 1'b1;
        g_addr_q <= g_cur_addr + {{(64 - CntW - LB){1'b0}}, g_len, {LB{1'b0}}};
        g_left_q <= g_cur_left - g_len;
      end
    end
  end

  assign m_axi_araddr_o  = g_cur_addr;
  assign m_axi_arlen_o   = 8'(g_len - 1'b1);
  assign m_axi_arsize_o  = 3'(LB);
  assign m_axi_arburst_o = 2'b01;  // INCR
  assign m_axi_arvalid_o = g_act_q && !store_q;
  assign m_axi_awaddr_o  = g_cur_addr;
  assign m_axi_awlen_o   = 8'(g_len - 1'b1);
  assign m_axi_awsize_o  = 3'(LB);
  assign m_axi_awburst_o = 2'b01;
  assign m_axi_awvalid_o = g_act_q && store_q;

  // ================================================================ LOAD
  // ---- realign: R beats -> row-aligned chunks -----------------------------------------------------------
  // Beat i of a row covers its bytes from i*B - s (s = a_y mod B). With s = 0 beat i is chunk i. Otherwise
  // beat 0 yields nothing and beat i >= 1 yields chunk i-1 = {beat i, beat i-1} >> s bytes; if the row's
  // last chunk lies wholly in its last beat, that chunk is left "pending" in r_prev_q and goes out the next
  // cycle, in which the next row's beat 0 may be taken when it yields nothing itself (misaligned row).
  logic [RowsW-1:0] r_rows_q;        // rows with beats still to receive
  logic [LB-1:0]    r_s_q;           // a_y mod B of the current row
  logic [CntW-1:0]  r_beat_q;        // beats of the current row received
  logic [CntW-1:0]  r_rem_q;         // bytes of the current row not yet sent on as chunks
  logic [BusW-1:0]  r_prev_q;        // the previous beat
  logic             f_q;             // pending chunk (in r_prev_q) of the previous row
  logic [LB-1:0]    f_s_q;
  logic [CntW-1:0]  f_n_q;           // its byte count
  logic [CntW-1:0]  r_nb;
  logic             r_more, r_first, r_lastb, r_emit, r_pend;
  logic             r_fire;
  logic             c_valid, c_ok, c_fire, c_last;
  logic [BusW-1:0]  c_data;
  logic [LB:0]      c_sh;
  logic [CntW-1:0]  c_n;
  logic [B-1:0]     c_bmask;
  logic [2*BusW-1:0] c_pair;

  always_comb begin
    r_nb    = ({{(CntW - LB){1'b0}}, r_s_q} + rbytes_q + BMinus1) >> LB;
    r_more  = r_rows_q != '0;
    r_first = r_beat_q == '0;
    r_lastb = r_beat_q == r_nb - 1'b1;
    r_emit  = (r_s_q == '0) || !r_first;                 // this beat completes a chunk
    r_pend  = (r_s_q != '0) && r_lastb && (r_nb == nc_q); // ... and leaves the row's last chunk pending
    if (f_q) begin
      c_valid = 1'b1;
      m_axi_rready_o = r_more && !r_emit && c_ok;
      c_sh    = {1'b0, f_s_q};
      c_n     = f_n_q;
      c_last  = 1'b1;
    end else begin
      c_valid = m_axi_rvalid_i && r_more && r_emit;
      m_axi_rready_o = r_more && (!r_emit || c_ok);
      c_sh    = (r_s_q == '0) ? BFull : {1'b0, r_s_q};
      c_n     = (r_rem_q < BCnt) ? r_rem_q : BCnt;
      c_last  = r_rem_q <= BCnt;
    end
    c_pair  = {m_axi_rdata_i, r_prev_q} >> {c_sh, 3'b000};
    c_bmask = ~({B{1'b1}} << c_n);
    for (int i = 0; i < B; i++) c_data[i*8 +: 8] = c_pair[i*8 +: 8] & {8{c_bmask[i]}};
  end

  assign r_fire = m_axi_rvalid_i && m_axi_rready_o && run_q && !store_q;
  assign c_fire = c_valid && c_ok && run_q && !store_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      r_rows_q <= '0;
      f_q      <= 1'b0;
    end else if (start_i) begin
      r_rows_q <= start_load ? in_rows : '0;
      r_s_q    <= in_a0[LB-1:0];
      r_beat_q <= '0;
      r_rem_q  <= in_rbytes;
      f_q      <= 1'b0;
    end else begin
      if (f_q && c_fire) f_q <= 1'b0;
      if (r_fire) begin
        r_prev_q <= m_axi_rdata_i;
        if (r_lastb) begin
          r_rows_q <= r_rows_q - 1'b1;
          r_s_q    <= r_s_q + dstr_q[LB-1:0];
          r_beat_q <= '0;
          r_rem_q  <= rbytes_q;
          f_q      <= r_pend;
          f_s_q    <= r_s_q;
          f_n_q    <= r_emit ? r_rem_q - BCnt : r_rem_q;
        end else begin
          r_beat_q <= r_beat_q + 1'b1;
          if (r_emit) r_rem_q <= r_rem_q - BCnt;
        end
      end
    end
  end

  // ---- pack: chunks -> buffer words ---------------------------------------------------------------------
  logic [XW-1:0]     pk_acc_q;       // gather: the word being assembled
  logic [PW-1:0]     pk_p_q;         // gather: next chunk slot; scatter: next word of the held chunk
  logic              pk_hv_q;        // scatter: a chunk is held, some of its words written
  logic [BusW-1:0]   pk_h_q;
  logic              pk_sv_q;        // scatter: a whole chunk waits behind the held one (skid)
  logic [BusW-1:0]   pk_s_q;
  logic [ColsW-1:0]  pk_j_q;         // word of the row
  logic [RowsW-1:0]  pk_rows_q;      // rows with words still to write
  logic [SAddrW-1:0] pk_row_q, pk_addr_q;
  logic              wr_en_q;
  logic [SAddrW-1:0] wr_addr_q;
  logic [WordW-1:0]  wr_data_q;
  logic              pk_emit, pk_row_end;
  logic [BusW-1:0]   pk_next;
  logic [XW-1:0]     pk_word, pk_src, pk_place;
  logic [XB-1:0]     pk_wmask;

  always_comb begin
    pk_row_end = pk_j_q == nw_q - 1'b1;
    pk_wmask   = ~({XB{1'b1}} << (16'd1 << lw_q));
    pk_place   = {{(XW - BusW){1'b0}}, c_data} << {pk_p_q, {LB{1'b0}}, 3'b000};
    pk_next    = pk_sv_q ? pk_s_q : c_data;  // the chunk after the held one
    pk_src     = {{(XW - BusW){1'b0}}, pk_hv_q ? pk_h_q : pk_next};
    if (gather_q) begin
      c_ok    = 1'b1;
      pk_emit = c_fire && ((pk_p_q == kmax_q) || c_last);
      pk_word = ((pk_p_q == '0) ? '0 : pk_acc_q) | pk_place;
    end else begin
      c_ok    = !pk_sv_q || !pk_hv_q;      // straight on, into the skid, or into the skid as it empties
      pk_emit = run_q && !store_q && (pk_hv_q || pk_sv_q || c_valid);
      pk_word = pk_src >> ({{(16 - PW){1'b0}}, pk_p_q} << (lw_q + 4'd3));
    end
    for (int i = 0; i < XB; i++) pk_word[i*8 +: 8] = pk_word[i*8 +: 8] & {8{pk_wmask[i]}};
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      pk_hv_q   <= 1'b0;
      pk_sv_q   <= 1'b0;
      pk_rows_q <= '0;
      wr_en_q   <= 1'b0;
    end else if (start_i) begin
      pk_hv_q   <= 1'b0;
      pk_sv_q   <= 1'b0;
      pk_p_q    <= '0;
      pk_j_q    <= '0;
      pk_rows_q <= start_load ? in_rows : '0;
      pk_row_q  <= {16'd0, in_base};
      pk_addr_q <= {16'd0, in_base};
      wr_en_q   <= 1'b0;
    end else begin
      wr_en_q <= pk_emit;
      if (gather_q && c_fire) begin
        if (pk_emit) begin
          pk_p_q <= '0;
        end else begin
          pk_p_q   <= pk_p_q + 1'b1;
          pk_acc_q <= pk_word;
        end
      end
      if (!gather_q && pk_emit) begin
        if (pk_p_q == kmax_q || pk_row_end) begin
          pk_hv_q <= 1'b0;
          pk_p_q  <= '0;
        end else begin
          pk_hv_q <= 1'b1;
          pk_p_q  <= pk_p_q + 1'b1;
          if (!pk_hv_q) pk_h_q <= pk_next;
        end
      end
      // the skid empties when no chunk is held (its first word goes now); a chunk that cannot go on waits there
      if (!gather_q && c_fire && (pk_hv_q || pk_sv_q)) begin
        pk_sv_q <= 1'b1;
        pk_s_q  <= c_data;
      end else if (!gather_q && !pk_hv_q) begin
        pk_sv_q <= 1'b0;
      end
      if (pk_emit) begin
        wr_addr_q <= pk_addr_q;
        wr_data_q <= pk_word[WordW-1:0];
        if (pk_row_end) begin
          pk_j_q    <= '0;
          pk_rows_q <= pk_rows_q - 1'b1;
          pk_row_q  <= pk_row_q + {{(SAddrW - YsW){1'b0}}, ystr_q};
          pk_addr_q <= pk_row_q + {{(SAddrW - YsW){1'b0}}, ystr_q};
        end else begin
          pk_j_q    <= pk_j_q + 1'b1;
          pk_addr_q <= pk_addr_q + {{(SAddrW - WsW){1'b0}}, wstr_q};
        end
      end
    end
  end

  assign buf_wr_en_o   = wr_en_q;
  assign buf_wr_sel_o  = buf_q;
  assign buf_wr_addr_o = wr_addr_q[BufAddrW-1:0];
  assign buf_wr_data_o = wr_data_q;

  // ================================================================ STORE
  // ---- buffer reads into a 3-deep fall-through FIFO -----------------------------------------------------
  logic [RowsW-1:0]  q_rows_q;       // rows with words still to read
  logic [ColsW-1:0]  q_j_q;
  logic [SAddrW-1:0] q_row_q, q_addr_q;
  logic              q_infl_q, q_infl_last_q;  // a read is in flight (data arrives this cycle), last of its row
  logic [1:0]        q_cnt_q, q_rd_q, q_wr_q;
  logic [WordW-1:0]  q_data_q [3];
  logic [2:0]        q_last_q;
  logic              q_issue, q_pop, q_push;
  logic              h_valid, h_last;
  logic [WordW-1:0]  h_data;

  assign q_issue = (q_rows_q != '0) && ({1'b0, q_cnt_q} + {2'b00, q_infl_q} < 3'd3);
  assign h_valid = (q_cnt_q != '0) || q_infl_q;
  assign h_data  = (q_cnt_q != '0) ? q_data_q[q_rd_q] : buf_rd_data_i;
  assign h_last  = (q_cnt_q != '0) ? q_last_q[q_rd_q] : q_infl_last_q;
  assign q_push  = q_infl_q && !((q_cnt_q == '0) && q_pop);

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      q_rows_q <= '0;
      q_infl_q <= 1'b0;
      q_cnt_q  <= '0;
      q_rd_q   <= '0;
      q_wr_q   <= '0;
    end else if (start_i) begin
      q_rows_q <= start_store ? in_rows : '0;
      q_j_q    <= '0;
      q_row_q  <= {16'd0, in_base};
      q_addr_q <= {16'd0, in_base};
      q_infl_q <= 1'b0;
      q_cnt_q  <= '0;
      q_rd_q   <= '0;
      q_wr_q   <= '0;
    end else begin
      q_infl_q      <= q_issue;
      q_infl_last_q <= q_j_q == nw_q - 1'b1;
      if (q_issue) begin
        if (q_j_q == nw_q - 1'b1) begin
          q_j_q    <= '0;
          q_rows_q <= q_rows_q - 1'b1;
          q_row_q  <= q_row_q + {{(SAddrW - YsW){1'b0}}, ystr_q};
          q_addr_q <= q_row_q + {{(SAddrW - YsW){1'b0}}, ystr_q};
        end else begin
          q_j_q    <= q_j_q + 1'b1;
          q_addr_q <= q_addr_q + {{(SAddrW - WsW){1'b0}}, wstr_q};
        end
      end
      if (q_push) begin
        q_data_q[q_wr_q] <= buf_rd_data_i;
        q_last_q[q_wr_q] <= q_infl_last_q;
        q_wr_q           <= (q_wr_q == 2'd2) ? 2'd0 : q_wr_q + 1'b1;
      end
      if (q_pop && q_cnt_q != '0) q_rd_q <= (q_rd_q == 2'd2) ? 2'd0 : q_rd_q + 1'b1;
      q_cnt_q <= q_cnt_q + {1'b0, q_push} - {1'b0, q_pop && q_cnt_q != '0};
    end
  end

  assign buf_rd_en_o   = q_issue;
  assign buf_rd_sel_o  = buf_q;
  assign buf_rd_addr_o = q_addr_q[BufAddrW-1:0];

  // ---- unpack words into chunks, realign chunks into W beats ---------------------------------------------
  // Beat i of a row is {chunk i, chunk i-1} >> (B - s) bytes: its bytes below s come from the previous
  // chunk. The row's bytes are those with i*B + p - s in [0, row_bytes); if they reach past the beat of the
  // last chunk, one more beat ("flush") carries the tail of the last chunk alone.
  logic [PW-1:0]     u_p_q;          // split: next chunk of the head word; gather: next word slot
  logic [BusW-1:0]   u_acc_q;        // gather: the chunk being assembled
  logic [CntW-1:0]   u_rem_q;        // split: row bytes not yet sent on as chunks
  logic [BusW-1:0]   w_prev_q;       // the previous chunk
  logic              w_fl_q;         // a flush beat is due
  logic [RowsW-1:0]  w_rows_q;       // rows with beats still to send
  logic [11:0]       w_lo_q;         // a_y mod 4096 of the current row
  logic              w_first_q;      // the next beat is the row's first
  logic [CntW-1:0]   w_brem_q;       // row bytes from the next beat's start (in beat positions) to the row end
  logic [11:0]       w_baddr_q;      // 4 KiB page offset of the next beat
  logic [7:0]        w_bcnt_q;       // beats already sent in the current burst
  logic              wv_q, wl_q;
  logic [BusW-1:0]   wd_q;
  logic [B-1:0]      ws_q;
  logic [OutW-1:0]   w_out_q;        // write bursts requested and not yet answered
  logic              w_ok, u_valid, u_last, u_fire, b_valid, b_fire, b_rowend, b_last;
  logic [BusW-1:0]   u_chunk, u_split_c, b_data;
  logic [B-1:0]      b_strb;
  logic [XW-1:0]     u_word;
  /* verilator lint_off UNUSEDSIGNAL */  // a shifted word or beat pair: only its low B bytes form the result
  logic [XW-1:0]     u_split;
  logic [2*BusW-1:0] b_pair;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [BusW-1:0]   u_gath;
  logic [LB:0]       b_sh;
  logic [LB-1:0]     w_s;
  logic [11:0]       w_lo_next;

  assign w_s       = w_lo_q[LB-1:0];
  assign w_lo_next = w_lo_q + dstr_q[11:0];
  assign b_data    = b_pair[BusW-1:0];
  assign u_split_c = u_split[BusW-1:0];

  always_comb begin
    u_word = {{(XW - WordW){1'b0}}, h_data};
    for (int i = 0; i < XB; i++) u_word[i*8 +: 8] = u_word[i*8 +: 8] & {8{pk_wmask[i]}};
    u_split = u_word >> {u_p_q, {LB{1'b0}}, 3'b000};
    u_gath  = ((u_p_q == '0) ? '0 : u_acc_q) |
              BusW'(u_word << ({{(16 - PW){1'b0}}, u_p_q} << (lw_q + 4'd3)));
  end

  always_comb begin
    w_ok = !wv_q || m_axi_wready_i;
    if (gather_q) begin  // split each word into chunks
      u_chunk = u_split_c;
      u_last  = u_rem_q <= BCnt;
      u_valid = h_valid;
    end else begin       // gather words into a chunk
      u_chunk = u_gath;
      u_last  = h_last;
      u_valid = h_valid && ((u_p_q == kmax_q) || h_last);
    end
    b_valid  = w_fl_q || u_valid;
    b_sh     = BFull - {1'b0, w_s};
    b_pair   = {(w_fl_q ? {BusW{1'b0}} : u_chunk), w_prev_q} >> {b_sh, 3'b000};
    b_strb   = ~({B{1'b1}} << w_brem_q) & (w_first_q ? ({B{1'b1}} << w_s) : {B{1'b1}});
    b_rowend = w_brem_q <= BCnt;
    b_last   = b_rowend || (w_baddr_q == LastBeat) || (w_bcnt_q == 8'd255);
  end

  assign u_fire = u_valid && !w_fl_q && w_ok && run_q && store_q;
  // split: the head word goes with its last chunk; gather: every word goes (into u_acc_q or a whole chunk)
  assign q_pop  = gather_q ? u_fire && ((u_p_q == kmax_q) || u_last)
                           : u_fire || (h_valid && !u_valid && run_q && store_q);
  assign b_fire = b_valid && w_ok && run_q && store_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      w_rows_q <= '0;
      w_fl_q   <= 1'b0;
      wv_q     <= 1'b0;
      w_out_q  <= '0;
    end else if (start_i) begin
      u_p_q     <= '0;
      u_rem_q   <= in_rbytes;
      w_fl_q    <= 1'b0;
      w_rows_q  <= start_store ? in_rows : '0;
      w_lo_q    <= in_a0[11:0];
      w_first_q <= 1'b1;
      w_brem_q  <= in_rbytes + {{(CntW - LB){1'b0}}, in_a0[LB-1:0]};
      w_baddr_q <= {in_a0[11:LB], {LB{1'b0}}};
      w_bcnt_q  <= '0;
      wv_q      <= 1'b0;
      w_out_q   <= '0;
    end else begin
      // unpack
      if (gather_q && u_fire) begin
        if (q_pop) u_p_q <= '0;
        else       u_p_q <= u_p_q + 1'b1;
        u_rem_q <= u_last ? rbytes_q : u_rem_q - BCnt;
      end
      if (!gather_q && q_pop) begin
        if (u_fire) begin
          u_p_q <= '0;
        end else begin
          u_p_q   <= u_p_q + 1'b1;
          u_acc_q <= u_gath;
        end
      end
      // beats
      if (w_ok) wv_q <= 1'b0;
      if (b_fire) begin
        wv_q <= 1'b1;
        wd_q <= b_data;
        ws_q <= b_strb;
        wl_q <= b_last;
        if (!w_fl_q) w_prev_q <= u_chunk;
        w_fl_q <= !w_fl_q && u_last && !b_rowend;
        if (b_rowend) begin
          w_rows_q  <= w_rows_q - 1'b1;
          w_lo_q    <= w_lo_next;
          w_first_q <= 1'b1;
          w_brem_q  <= rbytes_q + {{(CntW - LB){1'b0}}, w_lo_next[LB-1:0]};
          w_baddr_q <= {w_lo_next[11:LB], {LB{1'b0}}};
          w_bcnt_q  <= '0;
        end else begin
          w_first_q <= 1'b0;
          w_brem_q  <= w_brem_q - BCnt;
          w_baddr_q <= w_baddr_q + 12'(B);
          w_bcnt_q  <= b_last ? 8'd0 : w_bcnt_q + 1'b1;
        end
      end
      w_out_q <= w_out_q + {{(OutW - 1){1'b0}}, g_fire && store_q}
                         - {{(OutW - 1){1'b0}}, m_axi_bvalid_i && m_axi_bready_o};
    end
  end

  assign m_axi_wvalid_o = wv_q;
  assign m_axi_wdata_o  = wd_q;
  assign m_axi_wstrb_o  = ws_q;
  assign m_axi_wlast_o  = wl_q;
  assign m_axi_bready_o = 1'b1;

  // ================================================================ completion
  logic load_fin, store_fin;
  assign load_fin  = pk_emit && pk_row_end && (pk_rows_q == RowsW'(1));
  // every burst requested and its beats sent, and the last B response arrives now (or has arrived)
  assign store_fin = !g_act_q && (w_rows_q == '0) && !wv_q &&
                     ((w_out_q == '0) || ((w_out_q == OutW'(1)) && m_axi_bvalid_i));

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      run_q  <= 1'b0;
      done_q <= 1'b0;
      err_q  <= 1'b0;
    end else begin
      done_q <= 1'b0;
      if (start_i) begin
        run_q  <= !start_empty;
        done_q <= start_empty;
        err_q  <= 1'b0;
      end else if (run_q) begin
        if (m_axi_rvalid_i && m_axi_rready_o && m_axi_rresp_i != 2'b00) err_q <= 1'b1;
        if (m_axi_bvalid_i && m_axi_bresp_i != 2'b00) err_q <= 1'b1;
        if (store_q ? store_fin : load_fin) begin
          run_q  <= 1'b0;
          done_q <= 1'b1;
        end
      end
    end
  end

  assign busy_o = run_q;
  assign done_o = done_q;
  assign err_o  = err_q;

`ifndef SYNTHESIS
  // ---- assertions -----------------------------------------------------------------------------------------
  function automatic int depth_of(logic [1:0] sel);
    depth_of = (sel == tataa_isa_pkg::BUFFER_INP) ? InpDepth : (sel == tataa_isa_pkg::BUFFER_WGT) ? WgtDepth :
               (sel == tataa_isa_pkg::BUFFER_ACC) ? AccDepth : VecDepth;
  endfunction

  initial begin : ap_params
    assert (B >= 2 && B <= 128 && (1 << LB) == B) else $fatal(1, "tataa_dma: BusBytes %0d unsupported", B);
    assert ((1 << LogN) == N) else $fatal(1, "tataa_dma: ArraySize %0d is not a power of two", N);
  end

  always @(posedge clk_i) begin : ap_start_ok
    if (rst_ni && start_i) begin
      assert (!run_q) else $error("tataa_dma: start while busy");
      assert (in_op == tataa_isa_pkg::OPCODE_LOAD || in_op == tataa_isa_pkg::OPCODE_STORE)
        else $error("tataa_dma: started with opcode %0d", in_op);
    end
  end

  always @(posedge clk_i) begin : ap_buf_range
    if (rst_ni && wr_en_q) begin
      assert (wr_addr_q < SAddrW'(depth_of(buf_q)))
        else $error("tataa_dma: LOAD writes word %0d of buffer %0d (depth %0d)", wr_addr_q, buf_q, depth_of(buf_q));
    end
    if (rst_ni && q_issue) begin
      assert (q_addr_q < SAddrW'(depth_of(buf_q)))
        else $error("tataa_dma: STORE reads word %0d of buffer %0d (depth %0d)", q_addr_q, buf_q, depth_of(buf_q));
    end
  end

  always @(posedge clk_i) begin : ap_stream
    if (rst_ni && run_q && !store_q) begin
      // the beats of a row, counted here, end where the slave's bursts end
      if (r_fire && r_lastb) assert (m_axi_rlast_i) else $error("tataa_dma: row ended inside a read burst");
      if (c_fire && !gather_q) assert (!(pk_hv_q && pk_sv_q)) else $error("tataa_dma: chunk taken, skid full");
      if (pk_emit && pk_row_end && gather_q) assert (c_last) else $error("tataa_dma: word count and chunks disagree");
      if (f_q) assert (f_n_q != '0 && f_n_q <= BCnt) else $error("tataa_dma: bad pending chunk");
    end
    if (rst_ni && run_q && store_q && q_pop) begin
      assert (h_valid) else $error("tataa_dma: pop from an empty word FIFO");
    end
  end
`endif

endmodule : tataa_dma
