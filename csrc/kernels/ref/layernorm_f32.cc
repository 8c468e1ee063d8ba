// The layernorm family (kernels/abi/layernorm_f32.h), reference tier: the
// loop built with the baseline flags (SSE2 vectors on x86-64).
#include "kernels/abi/layernorm_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

void layernorm_rows(int64_t rows, int64_t n, const float* x, const LayerNormRows& a, float* y, int64_t first_row) {
  layernorm_rows_loop(rows, n, x, a, y, first_row);
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
