// int8 <-> float32 conversions in zmm registers for this folder's
// element-wise kernels (compiled with the AVX-512 flags only; the functions
// live in this ISA's namespace). The arithmetic of ref/requantize.h:
//   clamp(t, lo, hi) = (t >= lo ? t : lo) <= hi ? ... : hi   (compare + blend,
//   so NaN takes lo, and equal values keep t, as the reference);
//   to_s8: cvtps2dq (round half to even under the default MXCSR) and a
//   saturating narrow that is exact for t already inside [-128, 127].
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {

inline __m512 clamp_ps(__m512 t, __m512 lo, __m512 hi) {
  t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, lo, _CMP_GE_OQ), lo, t);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, hi, _CMP_LE_OQ), hi, t);
}

// 16 floats (already clamped into [-128, 127]) -> 16 int8, round half even.
inline __m128i to_s8(__m512 t) { return _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(t)); }

// 16 int8 -> 16 floats (exact).
inline __m512 s8_to_ps(__m128i v) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)); }

inline __mmask16 mask16(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

inline __mmask64 mask64(int64_t n) {
  return n >= 64 ? ~static_cast<__mmask64>(0) : (static_cast<__mmask64>(1) << n) - 1;
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
