// plane_mean_f32, AVX2 tier: the operations of
// kernels/ref/plane_mean_f32_loop.h in the same order, spelled in
// intrinsics, so the same bits (as the AVX-512 tier,
// x86/avx512/plane_mean_f32.cc). The 16 partial sums are two ymm (partials
// 0-7 and 8-15); the tail's missing elements load as +0, which leaves a
// partial's bits unchanged (a partial starts at +0 and so is never -0;
// NaN and inf stay what they are); the pairwise combine is the two ymm
// added, then their 128-bit halves, then lanes 0-1 + 2-3, then lane 0 + 1.
// Compiled from the loop, GCC kept the partials in a stack array (the tail
// and the combine in scalars through memory). Four planes at a time: eight
// add chains.
#include <immintrin.h>

#include "kernels/abi/plane_mean_f32.h"
#include "kernels/x86/avx2/lanes8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

inline float combine(__m256 lo, __m256 hi) {
  const __m256 a = _mm256_add_ps(lo, hi);
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}

template <int P>
void planes_at_once(const float* x, int64_t size, float* y) {
  __m256 lo[P], hi[P];
  for (int q = 0; q < P; ++q) lo[q] = hi[q] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= size; i += 16) {
    for (int q = 0; q < P; ++q) {
      lo[q] = _mm256_add_ps(lo[q], _mm256_loadu_ps(x + q * size + i));
      hi[q] = _mm256_add_ps(hi[q], _mm256_loadu_ps(x + q * size + i + 8));
    }
  }
  if (i < size) {
    const int64_t n = size - i;
    const __m256i m0 = lanes(n < 8 ? n : 8), m1 = lanes(n > 8 ? n - 8 : 0);
    for (int q = 0; q < P; ++q) {
      lo[q] = _mm256_add_ps(lo[q], _mm256_maskload_ps(x + q * size + i, m0));
      if (n > 8) hi[q] = _mm256_add_ps(hi[q], _mm256_maskload_ps(x + q * size + i + 8, m1));
    }
  }
  for (int q = 0; q < P; ++q) y[q] = combine(lo[q], hi[q]) / static_cast<float>(size);
}

}  // namespace

void plane_mean_f32(const float* x, int64_t planes, int64_t size, float* y) {
  ref::plane_mean_in_fours(
      x, planes, size, y, [size](const float* a, float* b) { planes_at_once<4>(a, size, b); },
      [size](const float* a, float* b) { planes_at_once<1>(a, size, b); });
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
