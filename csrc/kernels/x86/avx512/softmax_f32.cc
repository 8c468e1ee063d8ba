// The softmax family (kernels/abi/softmax_f32.h), the avx512 tier: the loops compiled with this folder's flags (16 lanes);
// -ffp-contract=off keeps the reference's bits.
#include "kernels/abi/softmax_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {

void softmax_rows(int64_t rows, int64_t n, const float* x, float* y, bool log) {
  ref::softmax_rows_loop(rows, n, x, y, log);
}
void attention_rows(int64_t rows, int64_t n, const ref::AttentionRows& a, float* s) {
  ref::attention_rows_loop(rows, n, a, s);
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
