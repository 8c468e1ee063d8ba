// GemvConvKernel: the driver of the one-pixel pointwise microkernels
// (kernels/abi/gemv_s8.h) as a conv_s8 candidate (baseline code). It takes
// 1x1 convs over a 1 x 1 input with one group and no padding (the
// squeeze-and-excitation convs on [N, C, 1, 1]) with C x K up to 64K, int8 or
// u8-coded tensors, int8 or float output; the AVX512-VNNI provider registers
// it ahead of the AMX tier (kernels/registry.cc, RESULTS.md section 178).
#pragma once

#include <string>

#include "kernels/abi/gemv_s8.h"
#include "kernels/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

class GemvConvKernel final : public NamedKernel<ConvKernel> {
 public:
  GemvConvKernel(const char* name, Isa isa, GemvRowsFn fn) : NamedKernel(name, isa), fn_(fn) {}
  std::string supports(const ConvShape& shape, OutputType out) const override;
  std::unique_ptr<PackedConv> pack(const ConvShape& shape, const int8_t* w) const override;

 private:
  GemvRowsFn fn_;
};

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
