// binary_f32 for the avx2 tier: the loop of kernels/ref/binary_f32_loop.h
// compiled with this folder's flags, so it vectorises at this ISA's width
// (one IEEE operation per element: the reference's bits).
#include "kernels/abi/binary_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

void binary_f32(ref::BinaryF32 op, int64_t n, const float* a, int64_t sa, const float* b, int64_t sb, float* y) {
  ref::binary_f32_loop(op, n, a, sa, b, sb, y);
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
