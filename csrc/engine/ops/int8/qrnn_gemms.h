// The int8 GEMMs of int8rt.QLSTM / QGRU / QRNN (contracts.h, QRnnAttrs),
// which ops/rnn_f32.cc runs in place of its float ones:
//   input projection  xw[row][n] = (float)sum_k x[row][k] * w[dir][n][k] * (x_scale * w_scale[dir][n])
//                     for x s8 rows [M][input], all time steps in one GEMM;
//   recurrent         gate[b][n] += (float)sum_k q(h)[b][k] * r[dir][n][k] * (h_scale * r_scale[dir][n])
//                     with q(h) = quantize(h, h_scale) (ref/requantize.h's rule), on the chosen
//                     quantize_s8 kernel (kernels/eltwise_s8.h: the rule's bytes).
// Each product is a gemm_s8 kernel with a float32 epilogue (requant_params.h:
// scale = s_in * s_w[n], no bias, no clamp), chosen once per direction from
// the registry; the canonical int8 weights are packed once at creation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "int8rt/network.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/eltwise_s8.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace engine {

class QRnnGemms {
 public:
  // node: a QLSTM / QGRU / QRNN node of `net` whose inputs 1 (and 2 when
  // h_scale > 0) are int8 constants [dirs][gate_rows][input] and
  // [dirs][gate_rows][hidden]. InvalidArgument naming the node otherwise.
  QRnnGemms(const Network& net, const Node& node, int64_t dirs, int64_t gate_rows, bool recurrent_allowed);

  bool recurrent() const { return !r_.empty(); }
  int64_t input_size() const { return input_; }
  int64_t hidden_size() const { return hidden_; }

  // xw [M][gate_rows] = the input projection of x [M][input] for direction dir.
  void project(int64_t dir, int64_t M, const int8_t* x, float* xw) const;

  // gate [B][ld] (first gate_rows columns) += the recurrent product of h [B][hidden];
  // hq (B * hidden) and product (B * gate_rows) are the caller's scratch.
  void add_recurrent(int64_t dir, int64_t B, const float* h, float* gate, int64_t ld, int8_t* hq, float* product) const;

  std::string describe() const;

 private:
  struct Side {
    std::unique_ptr<kernels::PackedGemm> packed;
    kernels::EpilogueStorage epilogue;
  };
  std::vector<Side> w_, r_;  // one per direction
  const kernels::QuantizeS8Kernel* quantizer_;  // q(h), chosen once
  float h_scale_ = 0.f;
  int64_t input_ = 0, hidden_ = 0, gate_rows_ = 0;
  std::string kernel_name_;
};

}  // namespace engine
}  // namespace int8rt
