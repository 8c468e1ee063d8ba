// GEMM as a convolution (baseline code): y[M][N] = a[M][K] * w[N][K]^T is
// the 1x1 conv of M one-pixel images with C = K input and N output channels
// (a[M][K] is x[M][1][1][K], y and the residual alike), so every conv driver
// serves GEMM through this adapter.
#pragma once

#include <memory>

#include "kernels/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

// The conv shape of a GEMM (H = W = 1, C = K, K = N).
ConvShape gemm_as_conv(const GemmShape& g);

// A packed GEMM that runs `conv` (packed for gemm_as_conv(shape)) with batch
// M, in slices when M exceeds the conv's int batch.
class ConvAsGemm final : public PackedGemm {
 public:
  ConvAsGemm(const GemmShape& shape, std::unique_ptr<PackedConv> conv);
  void run(int64_t M, const int8_t* a, const Epilogue& ep, void* y) const override;
  const GemmShape& shape() const override { return shape_; }
  bool applies_table() const override { return conv_->applies_table(); }

 private:
  GemmShape shape_;
  std::unique_ptr<PackedConv> conv_;
};

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
