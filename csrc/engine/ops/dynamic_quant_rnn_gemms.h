// The GEMMs of ONNX Runtime's com.microsoft DynamicQuantizeLSTM, which
// ops/rnn_f32.cc runs in place of its float ones (the cell is the float
// LSTM's). As ONNX Runtime's kernel (contrib_ops/cpu/rnn/dynamic_quantize_lstm.cc
// over rnn_helpers.h ComputeGemm) computes them:
//   input projection  xw[row][n]  = float(acc) * (x_scale * w_scale[n]), all T*B rows of X
//                     quantized together (DynamicQuantizeLinear's rule, dynamic_quantize.h);
//   recurrent         gate[b][n] += float(acc) * (h_scale * r_scale[n]), h quantized per step;
// acc = sum_k (q - q_zero_point) * (w - w_zero_point) exactly (integer_gemm.h). The
// weights are the node's inputs 1 and 2, constants of shape [dirs][input or hidden][4H]
// (int8, or uint8), with scales (inputs 8, 10) and zero points (9, 11) per direction
// ([dirs]) or per direction and gate row ([dirs][4H]).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/ops/integer_gemm.h"
#include "kernels/dynamic_quantize_u8.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

class DynamicQuantRnnGemms {
 public:
  DynamicQuantRnnGemms(const Network& net, const Node& node, int64_t dirs);

  int64_t input_size() const { return input_; }
  int64_t hidden_size() const { return hidden_; }

  // xw [M][4H] = the input projection of x [M][input] for direction dir.
  void project(int64_t dir, int64_t M, const float* x, float* xw) const;
  // gate [B][ld] (first 4H columns) += the recurrent product of h [B][hidden].
  void add_recurrent(int64_t dir, int64_t B, const float* h, float* gate, int64_t ld) const;

  std::string describe() const;

 private:
  struct Side {
    std::unique_ptr<IntegerProduct> product;
    std::vector<float> scale;    // 1 or 4H
    std::vector<int32_t> zero;   // 1 or 4H, in s8 storage units
  };
  void apply(const Side& s, int64_t M, int64_t K, const float* x, float* out, int64_t ld, bool accumulate) const;

  const kernels::DynamicQuantizeU8Kernel* quantizer_;  // chosen once
  std::vector<Side> w_, r_;  // per direction
  int64_t input_ = 0, hidden_ = 0, rows_ = 0;
};

}  // namespace engine
}  // namespace int8rt
