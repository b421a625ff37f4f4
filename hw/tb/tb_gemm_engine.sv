// Bench for tataa_gemm_engine with its three scratchpads (INP, WGT: 1R1W; ACC: 1R1W).
//
// Plusargs: +inp=F +wgt=F +acc=F   initial buffer images ($readmemh, one word per line, Depth lines)
//           +insn=F +ninsn=K         K raw 128-bit GEMM instructions, run back to back (start in the
//                                    cycle after the previous done_o)
//           +out=F                   final ACC image (one word per line)
//           +cycles=F                per instruction: cycles from start to done_o, both included
// The bench is a synchronous controller: write the images through the write ports, run, read ACC back.
module tb_gemm_engine #(
  parameter int N        = tataa_cfg_pkg::ArraySize,
  parameter int InpDepth = tataa_cfg_pkg::InpDepth,
  parameter int WgtDepth = tataa_cfg_pkg::WgtDepth,
  parameter int AccDepth = tataa_cfg_pkg::AccDepth,
  parameter int MaxInsns = 64
);

  localparam int InpAW = $clog2(InpDepth);
  localparam int WgtAW = $clog2(WgtDepth);
  localparam int AccAW = $clog2(AccDepth);
  localparam int MaxDepth = (InpDepth > WgtDepth) ? ((InpDepth > AccDepth) ? InpDepth : AccDepth)
                                                  : ((WgtDepth > AccDepth) ? WgtDepth : AccDepth);
  localparam int TimeoutCycles = 1 << 22;

  logic clk = 1'b0;
  logic rst_n = 1'b0;
  always #5 clk = ~clk;

  // ---- stimulus
  logic [N*8-1:0]  inp_img [InpDepth];
  logic [N*8-1:0]  wgt_img [WgtDepth];
  logic [N*32-1:0] acc_img [AccDepth];
  logic [127:0]    insns   [MaxInsns];
  int              ninsn;
  string           f_inp, f_wgt, f_acc, f_insn, f_out, f_cycles;
  int              fd_out, fd_cycles;

  initial begin
    if (!$value$plusargs("inp=%s", f_inp) || !$value$plusargs("wgt=%s", f_wgt) ||
        !$value$plusargs("acc=%s", f_acc) || !$value$plusargs("insn=%s", f_insn) ||
        !$value$plusargs("ninsn=%d", ninsn) || !$value$plusargs("out=%s", f_out) ||
        !$value$plusargs("cycles=%s", f_cycles)) begin
      $fatal(1, "tb_gemm_engine: missing plusargs (+inp +wgt +acc +insn +ninsn +out +cycles)");
    end
    if (ninsn < 1 || ninsn > MaxInsns) $fatal(1, "tb_gemm_engine: +ninsn must be 1..%0d", MaxInsns);
    $readmemh(f_inp, inp_img);
    $readmemh(f_wgt, wgt_img);
    $readmemh(f_acc, acc_img);
    $readmemh(f_insn, insns, 0, ninsn - 1);
    fd_out = $fopen(f_out, "w");
    fd_cycles = $fopen(f_cycles, "w");
    repeat (3) @(posedge clk);
    rst_n = 1'b1;
  end

  // ---- DUT and scratchpads
  logic                start, busy, done;
  logic [127:0]        insn;
  logic                inp_rd_en, wgt_rd_en, eng_acc_rd_en, eng_acc_wr_en;
  logic [InpAW-1:0]    inp_rd_addr;
  logic [WgtAW-1:0]    wgt_rd_addr;
  logic [AccAW-1:0]    eng_acc_rd_addr, eng_acc_wr_addr;
  logic [N*8-1:0]      inp_rd_data, wgt_rd_data;
  logic [N*32-1:0]     acc_rd_data, eng_acc_wr_data;
  logic [N*N*16-1:0]   simd_p;

  // bench-side ports: image writes during init, ACC reads during the dump
  logic                tb_wr;
  logic [31:0]         tb_addr;
  logic                tb_acc_rd;
  logic                acc_rd_en, acc_wr_en;
  logic [AccAW-1:0]    acc_rd_addr, acc_wr_addr;
  logic [N*32-1:0]     acc_wr_data;

  tataa_gemm_engine #(
    .N        (N),
    .InpAddrW (InpAW),
    .WgtAddrW (WgtAW),
    .AccAddrW (AccAW)
  ) u_dut (
    .clk_i         (clk),
    .rst_ni        (rst_n),
    .start_i       (start),
    .insn_i        (insn),
    .busy_o        (busy),
    .done_o        (done),
    .inp_rd_en_o   (inp_rd_en),
    .inp_rd_addr_o (inp_rd_addr),
    .inp_rd_data_i (inp_rd_data),
    .wgt_rd_en_o   (wgt_rd_en),
    .wgt_rd_addr_o (wgt_rd_addr),
    .wgt_rd_data_i (wgt_rd_data),
    .acc_rd_en_o   (eng_acc_rd_en),
    .acc_rd_addr_o (eng_acc_rd_addr),
    .acc_rd_data_i (acc_rd_data),
    .acc_wr_en_o   (eng_acc_wr_en),
    .acc_wr_addr_o (eng_acc_wr_addr),
    .acc_wr_data_o (eng_acc_wr_data),
    .mode_i        (tataa_isa_pkg::MODE_SYSTOLIC),
    .simd_a_i      ('0),
    .simd_b_i      ('0),
    .simd_p_o      (simd_p)
  );

  tataa_spad #(.Depth(InpDepth), .Width(N*8)) u_inp (
    .clk_i     (clk),
    .rst_ni    (rst_n),
    .rd_en_i   (inp_rd_en),
    .rd_addr_i (inp_rd_addr),
    .rd_data_o (inp_rd_data),
    .wr_en_i   (tb_wr && tb_addr < InpDepth),
    .wr_addr_i (tb_addr[InpAW-1:0]),
    .wr_data_i (inp_img[tb_addr[InpAW-1:0]])
  );

  tataa_spad #(.Depth(WgtDepth), .Width(N*8)) u_wgt (
    .clk_i     (clk),
    .rst_ni    (rst_n),
    .rd_en_i   (wgt_rd_en),
    .rd_addr_i (wgt_rd_addr),
    .rd_data_o (wgt_rd_data),
    .wr_en_i   (tb_wr && tb_addr < WgtDepth),
    .wr_addr_i (tb_addr[WgtAW-1:0]),
    .wr_data_i (wgt_img[tb_addr[WgtAW-1:0]])
  );

  assign acc_rd_en   = tb_acc_rd ? 1'b1 : eng_acc_rd_en;
  assign acc_rd_addr = tb_acc_rd ? tb_addr[AccAW-1:0] : eng_acc_rd_addr;
  assign acc_wr_en   = tb_wr ? tb_addr < AccDepth : eng_acc_wr_en;
  assign acc_wr_addr = tb_wr ? tb_addr[AccAW-1:0] : eng_acc_wr_addr;
  assign acc_wr_data = tb_wr ? acc_img[tb_addr[AccAW-1:0]] : eng_acc_wr_data;

  tataa_spad #(.Depth(AccDepth), .Width(N*32)) u_acc (
    .clk_i     (clk),
    .rst_ni    (rst_n),
    .rd_en_i   (acc_rd_en),
    .rd_addr_i (acc_rd_addr),
    .rd_data_o (acc_rd_data),
    .wr_en_i   (acc_wr_en),
    .wr_addr_i (acc_wr_addr),
    .wr_data_i (acc_wr_data)
  );

  // ---- controller
  typedef enum logic [2:0] {TbInit, TbRun, TbDump, TbDumpLast, TbEnd} tb_state_e;
  tb_state_e tb_state;
  int        idx;
  longint    cyc, t_start;

  assign insn = insns[idx];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      tb_state  <= TbInit;
      tb_wr     <= 1'b1;
      tb_addr   <= '0;
      tb_acc_rd <= 1'b0;
      start     <= 1'b0;
      idx       <= 0;
      cyc       <= 0;
      t_start   <= 0;
    end else begin
      cyc <= cyc + 1;
      if (cyc > TimeoutCycles) $fatal(1, "tb_gemm_engine: timeout (instruction %0d)", idx);
      if (start) t_start <= cyc;
      unique case (tb_state)
        TbInit: begin
          if (tb_addr == MaxDepth - 1) begin
            tb_wr    <= 1'b0;
            tb_addr  <= '0;
            start    <= 1'b1;
            tb_state <= TbRun;
          end else begin
            tb_addr <= tb_addr + 1;
          end
        end
        TbRun: begin
          start <= 1'b0;
          if (done) begin
            $fwrite(fd_cycles, "%0d\n", cyc - t_start + 1);
            if (idx + 1 < ninsn) begin
              idx   <= idx + 1;
              start <= 1'b1;
            end else begin
              tb_acc_rd <= 1'b1;
              tb_state  <= TbDump;
            end
          end
        end
        TbDump: begin  // read word tb_addr; the word read in the previous cycle is on acc_rd_data
          if (tb_addr != 0) $fwrite(fd_out, "%h\n", acc_rd_data);
          if (tb_addr == AccDepth - 1) begin
            tb_acc_rd <= 1'b0;
            tb_state  <= TbDumpLast;
          end else begin
            tb_addr <= tb_addr + 1;
          end
        end
        TbDumpLast: begin
          $fwrite(fd_out, "%h\n", acc_rd_data);
          tb_state <= TbEnd;
        end
        default: begin
          $fclose(fd_out);
          $fclose(fd_cycles);
          $finish;
        end
      endcase
    end
  end

endmodule : tb_gemm_engine
