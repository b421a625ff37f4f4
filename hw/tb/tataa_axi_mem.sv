// Behavioural AXI4 slave memory for test benches (not synthesizable).
//
// MemBytes bytes at byte addresses [base_i, base_i + MemBytes), stored as DataBytes-wide words
// (little-endian: byte k of word w is address base_i + w*DataBytes + k). Reads: the first beat of a burst
// whose AR handshake happened in cycle t is offered in cycle t + Latency, then one beat per cycle while
// RREADY; Writes: W beats are taken (WSTRB honoured) once their burst's AW has been taken, and the B response
// is offered Latency cycles after the WLAST handshake. Up to MaxBursts bursts of each direction are
// outstanding; ARREADY/AWREADY fall when the queues are full. IDs are not modelled (all responses in order).
// A beat outside the memory gets SLVERR (reads return zeros, writes are dropped) and counts in `errors`.
// With `stall_pct_i` > 0 every READY and every not-yet-offered VALID the slave drives is withheld at random
// that percent of cycles (an offered VALID stays until its handshake).
// Protocol checks ($error): INCR bursts of full-width beats, beat-aligned addresses, no 4 KiB crossing,
// WLAST on the last beat, and master payloads held stable while VALID waits for READY.
// Tasks: load(file) / dump(file) read and write the contents with $readmemh / $writememh.
module tataa_axi_mem #(
  parameter int DataBytes = tataa_cfg_pkg::DmaBytesPerCycle,
  parameter int Latency   = tataa_cfg_pkg::DmaLatency,
  parameter int MemBytes  = 65536,
  parameter int MaxBursts = 16
) (
  input  logic                   clk_i,
  input  logic                   rst_ni,
  input  logic [63:0]            base_i,
  input  int                     stall_pct_i,
  // read address and data
  input  logic [63:0]            araddr_i,
  input  logic [7:0]             arlen_i,
  input  logic [2:0]             arsize_i,
  input  logic [1:0]             arburst_i,
  input  logic                   arvalid_i,
  output logic                   arready_o,
  output logic [DataBytes*8-1:0] rdata_o,
  output logic [1:0]             rresp_o,
  output logic                   rlast_o,
  output logic                   rvalid_o,
  input  logic                   rready_i,
  // write address, data and response
  input  logic [63:0]            awaddr_i,
  input  logic [7:0]             awlen_i,
  input  logic [2:0]             awsize_i,
  input  logic [1:0]             awburst_i,
  input  logic                   awvalid_i,
  output logic                   awready_o,
  input  logic [DataBytes*8-1:0] wdata_i,
  input  logic [DataBytes-1:0]   wstrb_i,
  input  logic                   wlast_i,
  input  logic                   wvalid_i,
  output logic                   wready_o,
  output logic [1:0]             bresp_o,
  output logic                   bvalid_o,
  input  logic                   bready_i
);

  localparam int Words = MemBytes / DataBytes;
  localparam int LogDB = $clog2(DataBytes);

  logic [DataBytes*8-1:0] mem [Words];
  longint unsigned cyc;
  int unsigned errors;

  // read queue
  logic [63:0]     ar_addr [MaxBursts];
  int unsigned     ar_len [MaxBursts];
  longint unsigned ar_t [MaxBursts];
  int unsigned     ar_head, ar_cnt, r_beat;
  // write queues
  logic [63:0]     aw_addr [MaxBursts];
  int unsigned     aw_len [MaxBursts];
  int unsigned     aw_head, aw_cnt, w_beat;
  logic            aw_err;
  longint unsigned b_t [MaxBursts];
  logic [1:0]      b_resp [MaxBursts];
  int unsigned     b_head, b_cnt;
  // random withholding, redrawn every cycle
  logic            hold_ar, hold_r, hold_aw, hold_w, hold_b;

  task automatic load(input string file);
    $readmemh(file, mem);
  endtask

  task automatic dump(input string file);
    $writememh(file, mem);
  endtask

  function automatic logic in_range(input logic [63:0] addr);
    in_range = (addr >= base_i) && (addr - base_i < 64'(MemBytes));
  endfunction

  function automatic int unsigned word_of(input logic [63:0] addr);
    word_of = int'((addr - base_i) >> LogDB);
  endfunction

  function automatic void check_burst(input string ch, input logic [63:0] addr, input logic [7:0] len,
                                      input logic [2:0] size, input logic [1:0] burst);
    logic [51:0] last_page;
    last_page = 52'((addr + ({56'd0, len} << LogDB)) >> 12);
    if (burst != 2'b01) $error("tataa_axi_mem: %s burst type %0d is not INCR", ch, burst);
    if (size != 3'(LogDB)) $error("tataa_axi_mem: %s size %0d, data bus is %0d bytes", ch, size, DataBytes);
    if (addr[LogDB-1:0] != '0) $error("tataa_axi_mem: %s address %h is not beat-aligned", ch, addr);
    if (addr[63:12] != last_page) $error("tataa_axi_mem: %s burst at %h, %0d beats, crosses 4 KiB", ch, addr, len + 1);
  endfunction

  // ---- outputs --------------------------------------------------------------------------------------------
  always_comb begin
    arready_o = (ar_cnt < MaxBursts) && !hold_ar;
    awready_o = (aw_cnt < MaxBursts) && !hold_aw;
    rvalid_o  = (ar_cnt != 0) && (cyc >= ar_t[ar_head]) && !hold_r;
    rlast_o   = (ar_cnt != 0) && (r_beat == ar_len[ar_head]);
    rdata_o   = '0;
    rresp_o   = 2'b00;
    if (ar_cnt != 0) begin
      if (in_range(ar_addr[ar_head] + 64'(r_beat * DataBytes))) begin
        rdata_o = mem[word_of(ar_addr[ar_head] + 64'(r_beat * DataBytes))];
      end else begin
        rresp_o = 2'b10;
      end
    end
    wready_o  = (aw_cnt != 0) && (b_cnt < MaxBursts) && !hold_w;
    bvalid_o  = (b_cnt != 0) && (cyc >= b_t[b_head]) && !hold_b;
    bresp_o   = (b_cnt != 0) ? b_resp[b_head] : 2'b00;
  end

  // ---- state ----------------------------------------------------------------------------------------------
  // Each edge works on local copies and commits them with non-blocking assignments, so that the master
  // samples this model's outputs as they were before the edge.
  always @(posedge clk_i) begin
    int unsigned arh, arc, rb, awh, awc, wb, bh, bc, err;
    logic        awe;
    logic [63:0] a;
    logic [DataBytes*8-1:0] word;
    if (!rst_ni) begin
      cyc     <= 0;
      ar_head <= 0; ar_cnt <= 0; r_beat <= 0;
      aw_head <= 0; aw_cnt <= 0; w_beat <= 0; aw_err <= 1'b0;
      b_head  <= 0; b_cnt <= 0;
      errors  <= 0;
      {hold_ar, hold_r, hold_aw, hold_w, hold_b} <= '0;
    end else begin
      arh = ar_head; arc = ar_cnt; rb = r_beat;
      awh = aw_head; awc = aw_cnt; wb = w_beat; awe = aw_err;
      bh = b_head; bc = b_cnt; err = errors;
      // R beat
      if (rvalid_o && rready_i) begin
        if (rresp_o != 2'b00) err++;
        if (rb == ar_len[arh]) begin
          rb = 0;
          arh = (arh + 1) % MaxBursts;
          arc--;
        end else begin
          rb++;
        end
      end
      if (arvalid_i && arready_o) begin
        check_burst("read", araddr_i, arlen_i, arsize_i, arburst_i);
        ar_addr[(arh + arc) % MaxBursts] <= araddr_i;
        ar_len[(arh + arc) % MaxBursts]  <= int'(arlen_i);
        ar_t[(arh + arc) % MaxBursts]    <= cyc + longint'(Latency);
        arc++;
      end
      // B response
      if (bvalid_o && bready_i) begin
        bh = (bh + 1) % MaxBursts;
        bc--;
      end
      // W beat
      if (wvalid_i && wready_o) begin
        a = aw_addr[awh] + 64'(wb * DataBytes);
        if (in_range(a)) begin
          word = mem[word_of(a)];
          for (int k = 0; k < DataBytes; k++) begin
            if (wstrb_i[k]) word[k*8 +: 8] = wdata_i[k*8 +: 8];
          end
          mem[word_of(a)] <= word;
        end else begin
          awe = 1'b1;
          err++;
        end
        if (wlast_i != (wb == aw_len[awh])) begin
          $error("tataa_axi_mem: WLAST %0d on beat %0d of a %0d-beat burst", wlast_i, wb, aw_len[awh] + 1);
        end
        if (wb == aw_len[awh]) begin
          b_t[(bh + bc) % MaxBursts]    <= cyc + longint'(Latency);
          b_resp[(bh + bc) % MaxBursts] <= awe ? 2'b10 : 2'b00;
          bc++;
          awe = 1'b0;
          wb = 0;
          awh = (awh + 1) % MaxBursts;
          awc--;
        end else begin
          wb++;
        end
      end
      if (awvalid_i && awready_o) begin
        check_burst("write", awaddr_i, awlen_i, awsize_i, awburst_i);
        aw_addr[(awh + awc) % MaxBursts] <= awaddr_i;
        aw_len[(awh + awc) % MaxBursts]  <= int'(awlen_i);
        awc++;
      end
      ar_head <= arh; ar_cnt <= arc; r_beat <= rb;
      aw_head <= awh; aw_cnt <= awc; w_beat <= wb; aw_err <= awe;
      b_head  <= bh; b_cnt <= bc; errors <= err;
      cyc     <= cyc + 1;
      if (stall_pct_i > 0) begin
        hold_ar <= ($urandom % 100) < stall_pct_i;
        hold_r  <= (($urandom % 100) < stall_pct_i) && !(rvalid_o && !rready_i);  // VALID stays until taken
        hold_aw <= ($urandom % 100) < stall_pct_i;
        hold_w  <= ($urandom % 100) < stall_pct_i;
        hold_b  <= (($urandom % 100) < stall_pct_i) && !(bvalid_o && !bready_i);
      end
    end
  end

  // ---- master payload stability -----------------------------------------------------------------------------
  logic        ar_wait, aw_wait, w_wait;
  logic [75:0] ar_prev, aw_prev;
  logic [DataBytes*9+1:0] w_prev;
  always @(posedge clk_i) begin
    if (rst_ni) begin
      if (ar_wait && {araddr_i, arlen_i, arsize_i, arvalid_i} != ar_prev)
        $error("tataa_axi_mem: AR payload changed while waiting for ARREADY");
      if (aw_wait && {awaddr_i, awlen_i, awsize_i, awvalid_i} != aw_prev)
        $error("tataa_axi_mem: AW payload changed while waiting for AWREADY");
      if (w_wait && {wdata_i, wstrb_i, wlast_i, wvalid_i} != w_prev)
        $error("tataa_axi_mem: W payload changed while waiting for WREADY");
    end
    ar_wait <= rst_ni && arvalid_i && !arready_o;
    aw_wait <= rst_ni && awvalid_i && !awready_o;
    w_wait  <= rst_ni && wvalid_i && !wready_o;
    ar_prev <= {araddr_i, arlen_i, arsize_i, arvalid_i};
    aw_prev <= {awaddr_i, awlen_i, awsize_i, awvalid_i};
    w_prev  <= {wdata_i, wstrb_i, wlast_i, wvalid_i};
  end

endmodule : tataa_axi_mem
