// plane_mean_f32, AVX-512F tier: the operations of
// kernels/ref/plane_mean_f32_loop.h in the same order, spelled in
// intrinsics, so the same bits. The 16 partial sums are one zmm (lane j =
// partial j, the tail added under a mask so that only partials j < n % 16
// take an element); the pairwise combine is the 256-bit halves added, then
// the 128-bit halves, then lanes 0-1 + 2-3, then lane 0 + 1. Compiled from
// the loop instead, GCC kept the partials in a stack array and ran the tail
// and the combine through it in scalars (a 7x7 plane's 49 elements cost
// more in the tail and combine than in the adds). One zmm of partials is one
// add chain; four planes run at a time so that a large plane is not bound
// by the add latency.
#include <immintrin.h>

#include "kernels/abi/plane_mean_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

inline float combine(__m512 p) {
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(p),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(p), 1)));
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}

template <int P>
void planes_at_once(const float* x, int64_t size, float* y) {
  __m512 acc[P];
  for (int q = 0; q < P; ++q) acc[q] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= size; i += 16) {
    for (int q = 0; q < P; ++q) acc[q] = _mm512_add_ps(acc[q], _mm512_loadu_ps(x + q * size + i));
  }
  if (i < size) {
    const __mmask16 m = static_cast<__mmask16>((1u << (size - i)) - 1u);
    for (int q = 0; q < P; ++q) {
      acc[q] = _mm512_mask_add_ps(acc[q], m, acc[q], _mm512_maskz_loadu_ps(m, x + q * size + i));
    }
  }
  for (int q = 0; q < P; ++q) y[q] = combine(acc[q]) / static_cast<float>(size);
}

}  // namespace

void plane_mean_f32(const float* x, int64_t planes, int64_t size, float* y) {
  ref::plane_mean_in_fours(
      x, planes, size, y, [size](const float* a, float* b) { planes_at_once<4>(a, size, b); },
      [size](const float* a, float* b) { planes_at_once<1>(a, size, b); });
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
