// rnn_bf16_gemms.h: a BF16 LSTM's two GEMMs on the gemm_bf16 family.
#include "engine/ops/rnn_bf16_gemms.h"

#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {

Bf16RnnGemms::Bf16RnnGemms(const Network& net, const Node& node, int64_t dirs) {
  const Tensor& w = constant_input(net, node, 1, "W");
  const Tensor& r = constant_input(net, node, 2, "R");
  const int64_t GH = r.shape[1], H = r.shape[2], I = w.shape[2];
  // op(W) = W^T: K = input, N = dirs * 4H, stored [N][K] (both directions' rows one after the other).
  gemm_.add({w.f32.data(), I, dirs * GH, I, /*trans=*/true, /*left=*/false});
  for (int64_t d = 0; d < dirs; ++d) gemm_.add({r.f32.data() + d * GH * H, H, GH, H, true, false});
}

void Bf16RnnGemms::project(int64_t rows, const float* x, int64_t ldx, float* xw, int64_t ldc,
                           const float* bias) const {
  kernels::SgemmEpilogue ep;
  ep.residual = bias;  // row stride 0: the one row added to every row
  gemm_.packed[0]->run(rows, kernels::GemmOperand{x, ldx, false}, xw, ldc, /*accumulate=*/false, /*parallel=*/true,
                       bias ? &ep : nullptr);
}

void Bf16RnnGemms::add_recurrent(int64_t dir, int64_t B, const float* h, float* gate, int64_t ld) const {
  const kernels::PackedBf16Gemm& r = *gemm_.packed[static_cast<size_t>(1 + dir)];
  r.run(B, kernels::GemmOperand{h, r.k(), false}, gate, ld, /*accumulate=*/true);
}

}  // namespace engine
}  // namespace int8rt
