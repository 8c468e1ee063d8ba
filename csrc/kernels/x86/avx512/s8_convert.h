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

// 64 floats (4 zmm) -> 64 int8, each rne(min(max(t, -128), 127)) with NaN
// -> -128 as clamp_ps + to_s8 give it, in 1 + 1 operations per zmm and 3
// packs: min(127, t) keeps NaN (vminps returns its second operand), cvtps2dq
// sends NaN and everything below -2^31 to INT_MIN, and the saturating packs
// clamp what is left from below. The packs work per 128-bit lane: byte
// 16L + 4m + j of the result is dword 4L + j of t[m].
inline __m512i to_s8_x4_packed(const __m512 t[4]) {
  const __m512 hi = _mm512_set1_ps(127.0f);
  __m512i q[4];
  for (int m = 0; m < 4; ++m) q[m] = _mm512_cvtps_epi32(_mm512_min_ps(hi, t[m]));
  return _mm512_packs_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
}

// The order to_s8_x4_packed undoes, for 64 floats held in memory: dst[16m +
// 4L + j] = src[16L + 4m + j] (src[i] for i < n, 0 past it), so that zmm m
// loaded from dst + 16m packs back to src's order.
inline void to_pack_order(const float* src, int64_t n, float* dst) {
  for (int i = 0; i < 64; ++i) {
    const int s = 16 * ((i % 16) / 4) + 4 * (i / 16) + i % 4;
    dst[i] = s < n ? src[s] : 0.0f;
  }
}

// 16 int8 -> 16 floats (exact).
inline __m512 s8_to_ps(__m128i v) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)); }

// A 256-entry float table in 16 zmm registers (t[k] = entries 16k..16k+15)
// and its lookup for 16 indices in 0..255: one two-table permute per 32
// entries (index bits 0-4), then blends on bits 5, 6 and 7. Exact (it moves
// values); on Zen 4/5 several times the throughput of vgatherdps.
struct Table256 {
  __m512 t[16];
  explicit Table256(const float* table) {
    for (int k = 0; k < 16; ++k) t[k] = _mm512_loadu_ps(table + 16 * k);
  }
  __m512 operator()(__m512i i) const {
    const __m512 p0 = _mm512_permutex2var_ps(t[0], i, t[1]), p1 = _mm512_permutex2var_ps(t[2], i, t[3]);
    const __m512 p2 = _mm512_permutex2var_ps(t[4], i, t[5]), p3 = _mm512_permutex2var_ps(t[6], i, t[7]);
    const __m512 p4 = _mm512_permutex2var_ps(t[8], i, t[9]), p5 = _mm512_permutex2var_ps(t[10], i, t[11]);
    const __m512 p6 = _mm512_permutex2var_ps(t[12], i, t[13]), p7 = _mm512_permutex2var_ps(t[14], i, t[15]);
    const __mmask16 b5 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(32));
    const __mmask16 b6 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(64));
    const __mmask16 b7 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(128));
    const __m512 q0 = _mm512_mask_blend_ps(b5, p0, p1), q1 = _mm512_mask_blend_ps(b5, p2, p3);
    const __m512 q2 = _mm512_mask_blend_ps(b5, p4, p5), q3 = _mm512_mask_blend_ps(b5, p6, p7);
    const __m512 r0 = _mm512_mask_blend_ps(b6, q0, q1), r1 = _mm512_mask_blend_ps(b6, q2, q3);
    return _mm512_mask_blend_ps(b7, r0, r1);
  }
};

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
