// exp_fma_f32 (kernels/ref/math_f32.h) for 8 lanes in AVX2 + FMA intrinsics,
// the softmax family's exp on the avx2 tier (softmax_f32.cc). Each step is
// the rule's, in its order: the range selects, n = round(v / ln 2) by the
// 1.5 * 2^23 shifter, r = v - n ln 2 in two Cody-Waite FMAs, Cephes'
// polynomial p(r) by FMAs, and times_pow2's p * 2^(n/2) * 2^(n - n/2) with
// n/2 truncated toward zero (C's int division) and both factors built in
// the exponent field, so the bits are the rule's, denormal results and the
// overflow to inf included (tests/test_fp32_ops.py compares every tier with
// the reference bit for bit). GCC's vectorisation of the rule spends its
// extra instructions on the signed halving and on select chains; here the
// selects are blends. For translation units built with -mavx2 -mfma.
#pragma once

#include <immintrin.h>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

// exp_fma_f32's core for v inside exp's finite range (no range selects):
// the reduction, the polynomial and times_pow2.
inline __m256 exp_core8(__m256 v) {
  const __m256 shifter = _mm256_set1_ps(12582912.0f);
  const __m256 n = _mm256_sub_ps(_mm256_fmadd_ps(v, _mm256_set1_ps(1.44269504088896341f), shifter), shifter);
  __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693359375f), v);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  // times_pow2: ni = (int)n, half = ni / 2 (toward zero: add the sign bit, then shift arithmetically).
  const __m256i ni = _mm256_cvttps_epi32(n);
  const __m256i half = _mm256_srai_epi32(_mm256_add_epi32(ni, _mm256_srli_epi32(ni, 31)), 1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

inline __m256 exp_fma8(__m256 x) {
  const __m256 kHi = _mm256_set1_ps(88.7228393f), kLo = _mm256_set1_ps(-87.3365479f);
  const __m256 above_lo = _mm256_cmp_ps(x, kLo, _CMP_GT_OQ);  // false for NaN
  const __m256 below_hi = _mm256_cmp_ps(x, kHi, _CMP_LT_OQ);  // false for NaN
  const __m256 is_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  __m256 v = _mm256_and_ps(above_lo, x);                  // x > kLo ? x : 0
  v = _mm256_blendv_ps(kHi, v, _mm256_cmp_ps(v, kHi, _CMP_LT_OQ));  // v < kHi ? v : kHi
  __m256 y = exp_core8(v);
  y = _mm256_and_ps(above_lo, y);                                           // x > kLo ? y : 0
  y = _mm256_blendv_ps(_mm256_set1_ps(__builtin_inff()), y, below_hi);       // x < kHi ? y : inf
  return _mm256_blendv_ps(y, x, is_nan);                                     // x == x ? y : x
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
