// binary_f32, reference tier: the loop of ref/binary_f32_loop.h built with
// the baseline flags (SSE2 vectors on x86-64); the float chain by
// ref/float_chain_loop.h's per-element function.
#include "kernels/abi/binary_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

void binary_f32(BinaryF32 op, int64_t n, const float* a, int64_t sa, const float* b, int64_t sb, float* y) {
  binary_f32_loop(op, n, a, sa, b, sb, y);
}

void float_chain_f32(const FloatChainStep* steps, int32_t count, int64_t n, float* y) {
  float_chain_loop(steps, count, n, y);
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
