// The softmax family (kernels/abi/softmax_f32.h), the avx512 tier: the loops
// of kernels/ref/softmax_f32.h compiled with this folder's flags (16 lanes;
// -ffp-contract=off keeps the reference's bits), with exp_fma_f32 written out
// in intrinsics (Exp16Avx512). GCC's vectorisation of the rule spends about
// 45 instructions per 16 values, a third of them on the 2^n step (the signed
// halving of n, two exponent fields, two products) and on select chains.
// Here 2^n is one vscalefps: p * 2^n rounded once. The rule's p * s1 * s2
// also rounds once, since p * s1 is exact (s1 = 2^(n/2) keeps it normal), so
// the bits are the rule's, overflow to inf and the one rounding of a denormal
// result included; the range selects become masked moves. About 22
// instructions per 16 values.
#include <immintrin.h>

#include "kernels/abi/softmax_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

struct Exp16Avx512 {
  // y[l] = exp_fma_f32(x[l] - mx), constants and steps as in math_f32.h.
  void operator()(const float* x, float mx, float* y) const {
    const __m512 kHi = _mm512_set1_ps(88.7228393f), kLo = _mm512_set1_ps(-87.3365479f);
    const __m512 shifter = _mm512_set1_ps(12582912.0f);
    const __m512 t = _mm512_sub_ps(_mm512_loadu_ps(x), _mm512_set1_ps(mx));
    const __mmask16 above_lo = _mm512_cmp_ps_mask(t, kLo, _CMP_GT_OQ);  // false for NaN
    const __mmask16 below_hi = _mm512_cmp_ps_mask(t, kHi, _CMP_LT_OQ);  // false for NaN
    const __mmask16 nan = _mm512_cmp_ps_mask(t, t, _CMP_UNORD_Q);
    __m512 v = _mm512_maskz_mov_ps(above_lo, t);  // x > kLo ? x : 0
    v = _mm512_min_ps(v, kHi);                     // v < kHi ? v : kHi (v is not NaN)
    const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(v, _mm512_set1_ps(1.44269504088896341f), shifter), shifter);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), v);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512 e = _mm512_maskz_mov_ps(above_lo, _mm512_scalef_ps(p, n));     // x > kLo ? y : 0
    e = _mm512_mask_mov_ps(_mm512_set1_ps(__builtin_inff()), below_hi, e);  // x < kHi ? y : inf
    _mm512_storeu_ps(y, _mm512_mask_mov_ps(e, nan, t));                   // x == x ? y : x
  }
};

}  // namespace

void softmax_rows(int64_t rows, int64_t n, const float* x, float* y, bool log) {
  ref::softmax_rows_loop(rows, n, x, y, log, Exp16Avx512{});
}
void attention_rows(int64_t rows, int64_t n, const ref::AttentionRows& a, float* s) {
  ref::attention_rows_loop(rows, n, a, s, Exp16Avx512{});
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
