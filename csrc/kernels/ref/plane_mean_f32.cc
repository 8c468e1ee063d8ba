// plane_mean_f32, reference tier: the loop of ref/plane_mean_f32_loop.h built with
// the baseline flags (SSE2 vectors on x86-64).
#include "kernels/abi/plane_mean_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

void plane_mean_f32(const float* x, int64_t planes, int64_t size, float* y) {
  plane_mean_f32_loop(x, planes, size, y);
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
