// transpose_f32_ref: y[a * ldy + b] = x[b * ldx + a] (abi/transpose_x32.h),
// the scalar loop, b inner (each y row written in order).
#include "kernels/abi/transpose_x32.h"

namespace int8rt {
namespace kernels {
namespace ref {

void transpose_x32(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy) {
  for (int64_t a = 0; a < A; ++a) {
    for (int64_t b = 0; b < B; ++b) y[a * ldy + b] = x[b * ldx + a];
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
