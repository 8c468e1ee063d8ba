// The softmax family (kernels/abi/softmax_f32.h), reference tier: the loops built with the baseline flags (SSE2 vectors on x86-64).
#include "kernels/abi/softmax_f32.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace ref {

void softmax_rows(int64_t rows, int64_t n, const float* x, float* y, bool log) { softmax_rows_loop(rows, n, x, y, log); }
void attention_rows(int64_t rows, int64_t n, const AttentionRows& a, float* s) { attention_rows_loop(rows, n, a, s); }
void head_mix(int64_t heads, int64_t n, const float* w, const float* b, const float* const* x, float* const* y) {
  head_mix_loop(heads, n, w, b, x, y);
}
// The rows' rule, then each probability quantized (ProbsGrid): the spec of the fused tiers.
void attention_rows_s8(int64_t rows, int64_t n, const AttentionRows& a, const ProbsGrid& g, float* s, int8_t* q) {
  attention_rows_loop(rows, n, a, s);
  for (int64_t i = 0; i < rows * n; ++i) q[i] = quantize_value(s[i], g.inv_scale, g.zero_point);
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
