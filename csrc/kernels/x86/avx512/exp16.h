// exp for 16 lanes, shared by the avx512 softmax (softmax_f32.cc) and the
// unary family (unary_f32.cc: Erf / Gelu, and Sigmoid / Silu on a clamped
// argument, on exp_core16). exp_core16: the steps of kernels/ref/math_f32.h's exp
// (exp_f32 / exp_fma_f32) with each a * b + c one FMA. n = round(v / ln 2)
// by the 1.5 * 2^23 shifter, r = v - n ln 2 in two Cody-Waite steps,
// Cephes' polynomial p(r), and p * 2^n by one vscalefps (rounded once, as the
// rule's exact two-step product). v must lie in exp's finite range. exp16
// adds the rule's range selects as masked moves: exp_fma_f32 bit for bit
// (tests/test_fp32_ops.py), NaN, overflow to inf and underflow to 0 included. For translation units built with
// AVX-512F.
#pragma once

#include <immintrin.h>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {

inline __m512 exp_core16(__m512 v) {
  const __m512 shifter = _mm512_set1_ps(12582912.0f);
  const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(v, _mm512_set1_ps(1.44269504088896341f), shifter), shifter);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), v);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// exp_fma_f32(t), constants and steps as in math_f32.h.
inline __m512 exp16(__m512 t) {
  const __m512 kHi = _mm512_set1_ps(88.7228393f), kLo = _mm512_set1_ps(-87.3365479f);
  const __mmask16 above_lo = _mm512_cmp_ps_mask(t, kLo, _CMP_GT_OQ);  // false for NaN
  const __mmask16 below_hi = _mm512_cmp_ps_mask(t, kHi, _CMP_LT_OQ);  // false for NaN
  const __mmask16 nan = _mm512_cmp_ps_mask(t, t, _CMP_UNORD_Q);
  __m512 v = _mm512_maskz_mov_ps(above_lo, t);  // x > kLo ? x : 0
  v = _mm512_min_ps(v, kHi);                     // v < kHi ? v : kHi (v is not NaN)
  __m512 e = _mm512_maskz_mov_ps(above_lo, exp_core16(v));             // x > kLo ? y : 0
  e = _mm512_mask_mov_ps(_mm512_set1_ps(__builtin_inff()), below_hi, e);  // x < kHi ? y : inf
  return _mm512_mask_mov_ps(e, nan, t);                                 // x == x ? y : x
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
