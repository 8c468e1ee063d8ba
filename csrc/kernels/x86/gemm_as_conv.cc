// GEMM as the 1x1 conv of M one-pixel images (contract in gemm_as_conv.h).
#include "kernels/x86/gemm_as_conv.h"

#include <algorithm>
#include <string>

#include "int8rt/error.h"

namespace int8rt {
namespace kernels {
namespace x86 {

ConvShape gemm_as_conv(const GemmShape& g) {
  ConvShape c;
  c.C = g.K;
  c.K = g.N;
  c.H = c.W = 1;
  return c;
}

ConvAsGemm::ConvAsGemm(const GemmShape& shape, std::unique_ptr<PackedConv> conv)
    : shape_(shape), conv_(std::move(conv)) {}

void ConvAsGemm::run(int64_t M, const int8_t* a, const Epilogue& ep, void* y) const {
  if (M < 0) throw InvalidArgument("gemm_s8: M must be >= 0");
  // PackedConv::run takes an int batch; larger M runs in slices.
  constexpr int64_t kSlice = int64_t{1} << 30;
  for (int64_t m0 = 0; m0 < M; m0 += kSlice) {
    const int64_t m = std::min(kSlice, M - m0);
    Epilogue e = ep;
    if (e.residual) e.residual += m0 * shape_.N;
    void* ym = ep.out_type == OutputType::kInt8
                   ? static_cast<void*>(static_cast<int8_t*>(y) + m0 * shape_.N)
                   : static_cast<void*>(static_cast<float*>(y) + m0 * shape_.N);
    conv_->run(static_cast<int>(m), a + m0 * shape_.K, e, ym);
  }
  if (M == 0) check_epilogue(ep, "gemm_s8");
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
