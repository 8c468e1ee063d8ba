// The LSTM cell of ops/rnn_f32.cc's common case (no peepholes, no coupled
// input / forget gates, no clip), shared by the float32 LSTM and int8rt.QLSTM:
// per batch row, with g = x W' + H R' + biases in ONNX's gate order i, o, f, c,
//   i, o, f = sigmoid(g_i, g_o, g_f)   cand = tanh(g_c)
//   C' = f.C + i.cand                  H' = o.tanh(C')
// Sigmoid and Tanh run on the unary_f32 family (kernels/unary_f32.h), chosen
// once: the reference tier gives the bits of kernels/ref/math_f32.h's scalar
// sigmoid_f32 / tanh_f32 (the loop this replaced), the AVX2 / AVX-512 tiers
// theirs (each within the family's bounds against float64,
// tests/test_fp32_ops.py: a few ulp per gate). The products and the sum are
// single IEEE operations in the order above, compiled for the baseline.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/unary_f32.h"

namespace int8rt {
namespace engine {

class LstmGates {
 public:
  LstmGates();

  // One row: g [4H] (overwritten: the activations), c [H] and h [H] updated in place.
  void apply(int64_t H, float* g, float* c, float* h) const;

  const char* kernel_name() const { return unary_->name(); }

 private:
  const kernels::UnaryF32Kernel* unary_;
};

}  // namespace engine
}  // namespace int8rt
