// The FP32 depthwise-convolution family (registry.h, key "dwconv" f32): the
// float Conv layers with group == C == M (engine/ops/conv_f32.cc), one
// run of output planes per call (contract in kernels/abi/dwconv_f32.h). Candidates:
// dwconv_f32_avx512 (16 outputs per vector, one FMA per tap; planes read
// in place by its shift walk, or walked flat, by rows or channel-blocked),
// dwconv_f32_avx2 (8 channels per vector, or 8 outputs of a plane outside
// a group of 8 on its phase walk; one FMA per tap) and
// dwconv_f32_ref (the scalar loop, multiply then add: the spec); they differ
// by the FMA's rounding, within the contract's bound. A layer chooses once
// (choose<DwConvF32Kernel>()) and calls k.plane(p) per run of planes.
#pragma once

#include "kernels/abi/dwconv_f32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class DwConvF32Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"dwconv", Dtype::kF32};
  DwConvF32Kernel(const char* name, Isa isa, DwConvF32Fn fn) : NamedKernel(name, isa), plane(fn) {}
  const DwConvF32Fn plane;
};

}  // namespace kernels
}  // namespace int8rt
