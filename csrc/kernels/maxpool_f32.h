// The FP32 2-D max-pooling family (registry.h, key "maxpool" f32): the float
// MaxPool layers without an Indices output (engine/ops/pool_f32.cc), one run
// of output planes per call (contract in kernels/abi/maxpool_f32.h).
// Candidates: maxpool_f32_avx512 (each output row the column maximum of its
// window rows, then the window columns, 16 lanes), maxpool_f32_avx2 (the
// same at 8 lanes) and maxpool_f32_ref (the
// scalar window loop, the spec); they agree bit for bit but for the sign of
// a zero where +0 and -0 tie. A layer chooses once
// (choose<MaxPoolF32Kernel>()) and calls k.planes(p) per run of planes.
#pragma once

#include "kernels/abi/maxpool_f32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class MaxPoolF32Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"maxpool", Dtype::kF32};
  MaxPoolF32Kernel(const char* name, Isa isa, MaxPoolF32Fn fn) : NamedKernel(name, isa), planes(fn) {}
  const MaxPoolF32Fn planes;
};

}  // namespace kernels
}  // namespace int8rt
