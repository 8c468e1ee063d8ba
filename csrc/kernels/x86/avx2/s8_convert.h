// int8 <-> float32 conversions in ymm registers for this folder's
// element-wise kernels (compiled with the AVX2 flags only; the functions live
// in this ISA's namespace). The arithmetic of ref/requantize.h, as
// avx512/s8_convert.h does it on 16 lanes:
//   clamp(t, lo, hi): t = t >= lo ? t : lo, then t = t <= hi ? t : hi
//   (compare + blend, so NaN takes lo and equal values keep t);
//   to_s8: cvtps2dq (round half to even under the default MXCSR), then
//   saturating narrows that are exact for t already inside [-128, 127].
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/avx2/lanes8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

inline __m256 clamp_ps(__m256 t, __m256 lo, __m256 hi) {
  t = _mm256_blendv_ps(lo, t, _mm256_cmp_ps(t, lo, _CMP_GE_OQ));
  return _mm256_blendv_ps(hi, t, _mm256_cmp_ps(t, hi, _CMP_LE_OQ));
}

// 8 floats (already clamped into [-128, 127]) -> 8 int8 in the low 8 bytes.
inline __m128i to_s8x8(__m256 t) {
  const __m256i v = _mm256_cvtps_epi32(t);
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_packs_epi16(w, w);
}

// 32 floats (four vectors, clamped) -> 32 int8 in order.
inline __m256i to_s8x32(__m256 t0, __m256 t1, __m256 t2, __m256 t3) {
  const __m256i a = _mm256_packs_epi32(_mm256_cvtps_epi32(t0), _mm256_cvtps_epi32(t1));
  const __m256i b = _mm256_packs_epi32(_mm256_cvtps_epi32(t2), _mm256_cvtps_epi32(t3));
  // Per 128-bit lane the packs interleave their sources in groups of four:
  // bytes come out as t0[0..3] t1[0..3] t2[0..3] t3[0..3] | t0[4..7] ...
  const __m256i c = _mm256_packs_epi16(a, b);
  return _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// The low 8 int8 of v -> 8 floats (exact).
inline __m256 s8x8_to_ps(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }

// table[p[i]] in lane i for i < 8, `centre` = table + 128 (a 256-entry
// float table over int8 codes): eight scalar loads, which on Zen 3 took
// 0.3x the time of one vgatherdps (RESULTS.md section 233).
inline __m256 look_up8(const float* centre, const int8_t* p) {
  return _mm256_setr_ps(centre[p[0]], centre[p[1]], centre[p[2]], centre[p[3]], centre[p[4]], centre[p[5]],
                        centre[p[6]], centre[p[7]]);
}

inline __m128i load_s8x8(const int8_t* p) {
  int64_t v;
  std::memcpy(&v, p, 8);
  return _mm_cvtsi64_si128(v);
}

inline void store_s8x8(int8_t* p, __m128i v) {
  const int64_t b = _mm_cvtsi128_si64(v);
  std::memcpy(p, &b, 8);
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
