// Dynamic uint8 quantization, AVX2 (dynamic_quantize_u8.h): 8 lanes, the
// last n % 8 elements by the reference loops (the same operations).
// range: vminps / vmaxps with the running value second (a NaN lane of x keeps
// it; lanes start at +0 and only move to nonzero values, so no -0 reaches the
// lane reduction); quantize: vdivps, vroundps to nearest even, + zero point,
// clamp to [0, 255] (vmaxps(v, 0) turns a NaN into 0), packs to bytes.
#include <immintrin.h>

#include "kernels/dynamic_quantize_u8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

void dynamic_range(int64_t n, const float* x, float* lo, float* hi) {
  __m256 l = _mm256_setzero_ps(), h = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    l = _mm256_min_ps(v, l);
    h = _mm256_max_ps(v, h);
  }
  alignas(32) float ls[8], hs[8];
  _mm256_store_ps(ls, l);
  _mm256_store_ps(hs, h);
  float tl = 0.f, th = 0.f;
  ref::dynamic_range(n - i, x + i, &tl, &th);
  for (int j = 0; j < 8; ++j) {
    tl = ls[j] < tl ? ls[j] : tl;
    th = hs[j] > th ? hs[j] : th;
  }
  *lo = tl;
  *hi = th;
}

void dynamic_quantize_u8(int64_t n, const float* x, float scale, float zero_point, uint8_t* y) {
  const __m256 s = _mm256_set1_ps(scale), z = _mm256_set1_ps(zero_point);
  const __m256 zero = _mm256_setzero_ps(), top = _mm256_set1_ps(255.f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + i), s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm256_add_ps(v, z);
    v = _mm256_min_ps(_mm256_max_ps(v, zero), top);  // max(NaN, 0) = 0
    const __m256i q = _mm256_cvtps_epi32(v);          // integers in [0, 255]: exact
    const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), _mm_packus_epi16(w, w));
  }
  ref::dynamic_quantize_u8(n - i, x + i, scale, zero_point, y + i);
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
