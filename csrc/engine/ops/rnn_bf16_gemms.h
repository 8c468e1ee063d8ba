// The GEMMs of an LSTM that runs in BF16 (int8rt_precision="bf16",
// engine/bf16_layers.h), which ops/rnn_f32.cc runs in place of its float
// ones; the cell (gate math, the state c, biases, peepholes, clip) stays the
// float layer's FP32 code. As OpenVINO's bf16 LSTMSequence, the two products
// of an LSTM on the gemm_bf16 family (kernels/gemm_bf16.h), FP32 accumulate:
//   input projection  xw[row][d * 4H + n] = x[row] . W[d][n] for every direction d
//                     in one GEMM (W's [dirs][4H][input] viewed as [dirs * 4H][input]),
//                     over all T * B rows of X;
//   recurrent         gate[b][n] += h[b] . R[d][n], one GEMM per step over the batch;
// W and R are rounded to BF16 (round to nearest even) and packed once, when the
// layer is made; x and h are rounded as the GEMM packs them (h stays FP32 in
// the state: only its copy that feeds the GEMM is rounded). Each output is
// then the products of BF16-rounded operands summed in FP32, the bound of
// kernels/abi/gemm_bf16.h against the float GEMM (tests/test_lstmb27_bf16_lstm.py).
#pragma once

#include <cstdint>
#include <string>

#include "engine/ops/bf16_gemm.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

class Bf16RnnGemms {
 public:
  // The node's W and R: float32 constants [dirs][4H][input] and [dirs][4H][H]
  // (checked by bf16_decline_reason before the layer is made).
  Bf16RnnGemms(const Network& net, const Node& node, int64_t dirs);

  // xw[r][0 .. dirs * 4H) (row stride ldc) = x[r] (row stride ldx) times W'
  // of every direction, plus bias[0 .. dirs * 4H) (null: none) in the GEMM's
  // tile epilogue (one FP32 add per value), for r < rows.
  void project(int64_t rows, const float* x, int64_t ldx, float* xw, int64_t ldc, const float* bias) const;
  // gate[b][0 .. 4H) (row stride ld) += h[b] (row stride H) times R' of
  // direction dir, for b < B.
  void add_recurrent(int64_t dir, int64_t B, const float* h, float* gate, int64_t ld) const;

  // " kernel=<gemm_bf16 candidate>" for the layer's describe().
  std::string describe() const { return gemm_.describe(); }

 private:
  Bf16Gemm gemm_;  // packed[0]: W of every direction; packed[1 + d]: R of direction d
};

}  // namespace engine
}  // namespace int8rt
