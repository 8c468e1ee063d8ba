// The layernorm family (kernels/abi/layernorm_f32.h), the avx512 tier: the loop
// compiled with this folder's flags (16 float lanes); -ffp-contract=off keeps
// the reference's bits. Four rows' moments at a time (ref::moments_rows); with
// an int8 output each row normalised and quantized in one pass
// (ref::layernorm_finish_row's AVX-512 branch, the same operations).
#include "kernels/abi/layernorm_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {

void layernorm_rows(int64_t rows, int64_t n, const float* x, const ref::LayerNormRows& a, float* y,
                    int64_t first_row) {
  ref::layernorm_rows_loop4(rows, n, x, a, y, first_row);
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
