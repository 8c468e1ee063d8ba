// The BF16 depthwise-convolution family (registry.h, key "dwconv" bf16): the
// float Conv layers with group == C == M that run in BF16
// (engine/bf16_layers.h), one run of output planes per call (contract in
// kernels/abi/dwconv_bf16.h). Candidates: dwconv_bf16_avx512bf16 (AVX-512
// FMA on a padded FP32 copy of each plane, 16 outputs per zmm; declines
// with "CPU lacks avx512_bf16" where VCVTNEPS2BF16 is missing, and windows
// over 64 taps) and dwconv_bf16_ref (the scalar loop: the spec). Both give
// the same bits. A layer chooses once (choose<DwConvBf16Kernel>(taps)),
// sizes the workspace with dwconv_bf16_work_floats() and calls k.plane(p)
// per run of planes.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/abi/dwconv_bf16.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class DwConvBf16Kernel : public NamedKernel<Kernel> {
 public:
  static constexpr OpKey kKey{"dwconv", Dtype::kBf16};
  // The problem: the window's taps (kh * kw).
  static void validate(int64_t taps);
  static std::string describe(int64_t taps) { return "taps=" + std::to_string(taps); }
  DwConvBf16Kernel(const char* name, Isa isa, DwConvBf16Fn fn, bool needs_bf16, int64_t max_taps)
      : NamedKernel(name, isa), plane(fn), needs_bf16_(needs_bf16), max_taps_(max_taps) {}
  std::string supports(int64_t taps) const;
  const DwConvBf16Fn plane;

 private:
  bool needs_bf16_;
  int64_t max_taps_;  // 0: any
};

// Fills p's padded-plane geometry (pad_rows, phase_w, row_floats) from its
// window and returns the workspace the kernels need, in floats.
int64_t dwconv_bf16_work_floats(DwConvBf16Plane& p);

}  // namespace kernels
}  // namespace int8rt
