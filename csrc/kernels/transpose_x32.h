// The 32-bit transpose family (registry.h, key "transpose" f32): the tile
// copy under the data-movement layers' 2-D transposes of 4-byte elements
// (engine/ops/strided_copy.h: Transpose, NCHW <-> NHWC), contract in
// kernels/abi/transpose_x32.h. Candidates: transpose_f32_avx512 (16 x 16
// register blocks), transpose_f32_avx2 (8 x 8) and transpose_f32_ref (the
// scalar loop). A move, so
// every tier gives the same bits (tests/test_transpose_x32.py). Each also
// carries the float transpose with a residual add and a clip in its stores
// (tile_add, TransposeAddF32Fn: the output-transposed float Conv's fused
// residual, one pass over its output), the same bits on every tier
// (tests/test_fp32_ops.py, the transposed conv's residual tests).
#pragma once

#include "kernels/abi/transpose_x32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class TransposeX32Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"transpose", Dtype::kF32};
  TransposeX32Kernel(const char* name, Isa isa, TransposeX32Fn fn, TransposeAddF32Fn add)
      : NamedKernel(name, isa), tile(fn), tile_add(add) {}
  const TransposeX32Fn tile;
  const TransposeAddF32Fn tile_add;
};

}  // namespace kernels
}  // namespace int8rt
