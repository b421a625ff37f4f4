// Bench for tataa_spad: applies one stimulus vector per cycle and records every read port's data.
//
// Plusargs: +stim=F +n=K   K stimulus lines ($readmemh), each {wr_data, wr_addr, wr_en, rd_addr, rd_en}
//                          packed as in the localparams below (rd_en in the least significant bits)
//           +out=F         K lines: rd_data_o (all ports) during the cycle each stimulus is applied
module tb_spad #(
  parameter int Depth    = 16,
  parameter int Width    = 12,
  parameter int NumRd    = 3,
  parameter int NumWr    = 2,
  parameter int MaxSteps = 4096
);

  localparam int AddrW = $clog2(Depth);
  localparam int StimW = NumRd * (1 + AddrW) + NumWr * (1 + AddrW + Width);

  logic clk = 1'b0;
  logic rst_n = 1'b0;
  always #5 clk = ~clk;

  logic [StimW-1:0] stim [MaxSteps];
  int               n, fd;
  string            f_stim, f_out;

  initial begin
    if (!$value$plusargs("stim=%s", f_stim) || !$value$plusargs("n=%d", n) || !$value$plusargs("out=%s", f_out)) begin
      $fatal(1, "tb_spad: missing plusargs (+stim +n +out)");
    end
    if (n < 1 || n > MaxSteps) $fatal(1, "tb_spad: +n must be 1..%0d", MaxSteps);
    $readmemh(f_stim, stim, 0, n - 1);
    fd = $fopen(f_out, "w");
    repeat (2) @(posedge clk);
    rst_n = 1'b1;
  end

  logic [StimW-1:0]       cur;
  logic [NumRd-1:0]       rd_en;
  logic [NumRd*AddrW-1:0] rd_addr;
  logic [NumRd*Width-1:0] rd_data;
  logic [NumWr-1:0]       wr_en;
  logic [NumWr*AddrW-1:0] wr_addr;
  logic [NumWr*Width-1:0] wr_data;

  assign {wr_data, wr_addr, wr_en, rd_addr, rd_en} = cur;

  tataa_spad #(.Depth(Depth), .Width(Width), .NumRd(NumRd), .NumWr(NumWr)) u_dut (
    .clk_i     (clk),
    .rst_ni    (rst_n),
    .rd_en_i   (rd_en),
    .rd_addr_i (rd_addr),
    .rd_data_o (rd_data),
    .wr_en_i   (wr_en),
    .wr_addr_i (wr_addr),
    .wr_data_i (wr_data)
  );

  int step;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      step <= 0;
      cur  <= '0;
    end else if (step <= n) begin
      if (step > 0) $fwrite(fd, "%h\n", rd_data);  // the cycle in which stim[step-1] was applied
      cur  <= (step < n) ? stim[step] : '0;
      step <= step + 1;
    end else begin
      $fclose(fd);
      $finish;
    end
  end

endmodule : tb_spad
