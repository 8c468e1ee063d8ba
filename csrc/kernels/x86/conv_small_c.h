// SmallChannelConvKernel: another conv_s8 candidate under a name of its own
// that takes only 1x1 convs (stride 1, no padding, one group) over at most
// kSmallChannels input channels held as u8 codes or promised non-negative,
// and packs and runs them as that candidate does (baseline code). The
// AVX512-VNNI provider registers it over the igemm tile ahead of the AMX
// tier (kernels/registry.cc, RESULTS.md section 178): the measured rule
// lives in its supports().
#pragma once

#include <memory>
#include <string>

#include "kernels/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

constexpr int kSmallChannels = 16;

class SmallChannelConvKernel final : public NamedKernel<ConvKernel> {
 public:
  SmallChannelConvKernel(const char* name, const ConvKernel& inner) : NamedKernel(name, inner.isa()), inner_(inner) {}
  std::string supports(const ConvShape& s, OutputType out) const override {
    const bool unsigned_input = s.input_codes == Codes::kU8 || s.nonneg_input;
    if (s.R != 1 || s.S != 1 || s.stride_h != 1 || s.stride_w != 1 || s.has_padding() || s.groups != 1 ||
        s.C > kSmallChannels || !unsigned_input) {
      return "not a 1x1 conv over at most " + std::to_string(kSmallChannels) + " unsigned input channels";
    }
    return inner_.supports(s, out);
  }
  std::unique_ptr<PackedConv> pack(const ConvShape& s, const int8_t* w) const override { return inner_.pack(s, w); }

 private:
  const ConvKernel& inner_;
};

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
