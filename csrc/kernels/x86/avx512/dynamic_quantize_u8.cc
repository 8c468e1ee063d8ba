// Dynamic uint8 quantization, AVX-512 (dynamic_quantize_u8.h): 16 lanes, masked tails.
// range: vminps / vmaxps with the running value second (a NaN lane of x keeps it);
// quantize: vdivps, vrndscaleps to nearest even, + zero point, clamp to [0, 255]
// (vmaxps(v, 0) turns a NaN into 0), vpmovusdb to bytes.
#include <immintrin.h>

#include "kernels/dynamic_quantize_u8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {

void dynamic_range(int64_t n, const float* x, float* lo, float* hi) {
  __m512 l = _mm512_setzero_ps(), h = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    l = _mm512_min_ps(v, l);
    h = _mm512_max_ps(v, h);
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);  // zeros past the end: inside [lo, hi] already
    l = _mm512_min_ps(v, l);
    h = _mm512_max_ps(v, h);
  }
  *lo = _mm512_reduce_min_ps(l);
  *hi = _mm512_reduce_max_ps(h);
}

void dynamic_quantize_u8(int64_t n, const float* x, float scale, float zero_point, uint8_t* y) {
  const __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps(zero_point);
  const __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.f);
  auto one = [&](__m512 v) {
    v = _mm512_roundscale_ps(_mm512_div_ps(v, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_add_ps(v, z);
    v = _mm512_min_ps(_mm512_max_ps(v, zero), top);  // max(NaN, 0) = 0
    return _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(v));
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), one(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm_mask_storeu_epi8(y + i, m, one(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
