// plane_mean_f32, the avx2 tier: the loop of kernels/ref/plane_mean_f32_loop.h
// compiled with this folder's flags, so it vectorises at this ISA's width
// (the same operations in the same order: the reference's bits).
#include "kernels/abi/plane_mean_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

void plane_mean_f32(const float* x, int64_t planes, int64_t size, float* y) {
  ref::plane_mean_f32_loop(x, planes, size, y);
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
