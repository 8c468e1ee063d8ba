// The 32-bit transpose family (registry.h, key "transpose" f32): the tile
// copy under the data-movement layers' 2-D transposes of 4-byte elements
// (engine/ops/strided_copy.h: Transpose, NCHW <-> NHWC), contract in
// kernels/abi/transpose_x32.h. Candidates: transpose_f32_avx512 (16 x 16
// register blocks), transpose_f32_avx2 (8 x 8) and transpose_f32_ref (the
// scalar loop). A move, so
// every tier gives the same bits (tests/test_transpose_x32.py).
#pragma once

#include "kernels/abi/transpose_x32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class TransposeX32Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"transpose", Dtype::kF32};
  TransposeX32Kernel(const char* name, Isa isa, TransposeX32Fn fn) : NamedKernel(name, isa), tile(fn) {}
  const TransposeX32Fn tile;
};

}  // namespace kernels
}  // namespace int8rt
