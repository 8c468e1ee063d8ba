// The softmax family (kernels/abi/softmax_f32.h), reference tier: the loops built with the baseline flags (SSE2 vectors on x86-64).
#include "kernels/abi/softmax_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

void softmax_rows(int64_t rows, int64_t n, const float* x, float* y, bool log) { softmax_rows_loop(rows, n, x, y, log); }
void attention_rows(int64_t rows, int64_t n, const AttentionRows& a, float* s) { attention_rows_loop(rows, n, a, s); }

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
