// NarrowConvKernel: the driver of the narrow pointwise microkernels
// (kernels/abi/igemm_narrow_s8.h) as a conv_s8 candidate (baseline code).
// It takes 1x1 convs with stride 1, no padding, one group, at most
// kNarrowMaxK output and kNarrowMaxC input channels, int8 or u8-coded
// tensors, int8 or float output; the AVX512-VNNI provider registers it ahead
// of the AMX tier (kernels/registry.cc, RESULTS.md section 178).
#pragma once

#include <string>

#include "kernels/abi/igemm_narrow_s8.h"
#include "kernels/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

class NarrowConvKernel final : public NamedKernel<ConvKernel> {
 public:
  NarrowConvKernel(const char* name, Isa isa, NarrowRowsFn fn) : NamedKernel(name, isa), fn_(fn) {}
  std::string supports(const ConvShape& shape, OutputType out) const override;
  std::unique_ptr<PackedConv> pack(const ConvShape& shape, const int8_t* w) const override;

 private:
  NarrowRowsFn fn_;
};

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
