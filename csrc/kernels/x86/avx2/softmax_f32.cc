// The softmax family (kernels/abi/softmax_f32.h), the avx2 tier: the loops of
// kernels/ref/softmax_f32.h compiled with this folder's flags (8 lanes;
// -ffp-contract=off keeps the reference's bits), with the rule's exp
// (exp_fma_f32) written out in intrinsics (exp8.h, Exp16Avx2): the same bits.
#include <immintrin.h>

#include "kernels/abi/softmax_f32.h"
#include "kernels/x86/avx2/exp8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

struct Exp16Avx2 {
  // y[l] = exp_fma_f32(x[l] - mx) for l < 16.
  void operator()(const float* x, float mx, float* y) const {
    const __m256 m = _mm256_set1_ps(mx);
    _mm256_storeu_ps(y, exp_fma8(_mm256_sub_ps(_mm256_loadu_ps(x), m)));
    _mm256_storeu_ps(y + 8, exp_fma8(_mm256_sub_ps(_mm256_loadu_ps(x + 8), m)));
  }
};

}  // namespace

void softmax_rows(int64_t rows, int64_t n, const float* x, float* y, bool log) {
  ref::softmax_rows_loop(rows, n, x, y, log, Exp16Avx2{});
}
void attention_rows(int64_t rows, int64_t n, const ref::AttentionRows& a, float* s) {
  ref::attention_rows_loop(rows, n, a, s, Exp16Avx2{});
}
void head_mix(int64_t heads, int64_t n, const float* w, const float* b, const float* const* x, float* const* y) {
  ref::head_mix_loop(heads, n, w, b, x, y);
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
