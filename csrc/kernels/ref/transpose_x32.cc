// transpose_f32_ref: y[a * ldy + b] = x[b * ldx + a] (abi/transpose_x32.h),
// the scalar loop, b inner (each y row written in order); and
// transpose_add_f32_ref, the same loop with the residual add and the clip.
#include "kernels/abi/transpose_x32.h"
#include "kernels/ref/clip_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

void transpose_x32(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy) {
  for (int64_t a = 0; a < A; ++a) {
    for (int64_t b = 0; b < B; ++b) y[a * ldy + b] = x[b * ldx + a];
  }
}

void transpose_add_f32(int64_t A, int64_t B, const float* x, int64_t ldx, const float* r, float* y, int64_t ldy,
                       const float* clip) {
  for (int64_t a = 0; a < A; ++a) {
    for (int64_t b = 0; b < B; ++b) {
      const float v = x[b * ldx + a] + r[a * ldy + b];
      if (!clip) {
        y[a * ldy + b] = v;
        continue;
      }
      y[a * ldy + b] = clip_f32(v, clip[0], clip[1]);
    }
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
