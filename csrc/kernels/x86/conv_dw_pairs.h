// The depthwise conv driver of the pair-row scheme (abi/dwconv_pairs_s8.h)
// as a registry candidate: any depthwise conv (groups == C == K, any R, S,
// stride, padding, pad_value, dilation). Baseline code; the microkernels
// are reached through DwPairsUkernel.
#pragma once

#include <memory>
#include <string>

#include "kernels/abi/dwconv_pairs_s8.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {
namespace x86 {

struct DwPairsUkernel {
  Isa isa = Isa::kRef;
  const char* name = "";
  int block = 8;  // channels per weight block (the microkernel's kDwPairBlock)
  // The narrowest filter (S) accepted: a tier whose one-tap kernel is
  // faster for narrow filters leaves those to it (supports says so).
  int min_width = 1;
  DwPairBuildFn build = nullptr;
  DwPairRowFn row = nullptr;
  // Taps per group: 2 (int16 pair rows) or 4 (u8 quad rows, weights with a
  // -128 * sum(w) block each: abi/dwconv_pairs_s8.h).
  int taps = 2;
};

class DwPairsConvKernel final : public NamedKernel<ConvKernel> {
 public:
  explicit DwPairsConvKernel(const DwPairsUkernel& u) : NamedKernel(u.name, u.isa), u_(u) {}
  std::string supports(const ConvShape& shape, OutputType out) const override;
  std::unique_ptr<PackedConv> pack(const ConvShape& shape, const int8_t* w) const override;

 private:
  DwPairsUkernel u_;
};

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
