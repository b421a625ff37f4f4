// Leading-zero count and normalisation: norm_o = in_i << cnt_o with the MSB of a non-zero in_i at bit
// Width-1. A log-shifter: step k shifts by 2^k when the top 2^k bits are zero. Needs
// 2^(CntW-1) <= Width < 2^CntW; for in_i == 0, cnt_o is all ones and norm_o is zero.
module tataa_clz_norm #(
  parameter int Width = 27,
  parameter int CntW  = 5
) (
  input  logic [Width-1:0] in_i,
  output logic [CntW-1:0]  cnt_o,
  output logic [Width-1:0] norm_o
);

  always_comb begin
    norm_o = in_i;
    cnt_o  = '0;
    for (int k = CntW - 1; k >= 0; k--) begin
      if ((norm_o >> (Width - (1 << k))) == '0) begin
        cnt_o[k] = 1'b1;
        norm_o   = norm_o << (1 << k);
      end
    end
  end

endmodule
