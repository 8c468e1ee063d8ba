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
//
// Softmax rows (not log-softmax) run SoftmaxRow16, the rule's steps with
// 16 lanes, the sum taken in the exp pass and partial groups through masks
// (the rule's padded copy of the last group stalled on store forwarding):
// ViT's 197-value rows 102 -> 66 ns on a Zen 5 (RESULTS.md section 45), the
// same bits (tests/test_fp32_ops.py compares every tier with the reference).
// QAttention's attention rows use it too (section 50).
#include <immintrin.h>

#include "kernels/abi/softmax_f32.h"
#include "kernels/x86/avx512/exp16.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

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

struct Exp16Avx512 {
  // y[l] = exp_fma_f32(x[l] - mx).
  void operator()(const float* x, float mx, float* y) const {
    _mm512_storeu_ps(y, exp16(_mm512_sub_ps(_mm512_loadu_ps(x), _mm512_set1_ps(mx))));
  }
};

inline __mmask16 first(int64_t count) {  // the first min(count, 16) lanes
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

// softmax_row_f32 (kernels/ref/softmax_f32.h) without log, y may be x.
void softmax_row16(const float* x, float* y, int64_t n) {
  // The maximum: per lane v > m ? v : m (vmaxps), over two accumulators and
  // reduced in any order. Its value is the rule's; only the sign of a zero
  // maximum may differ, which no softmax value sees (x - mx differs only for
  // x = +-0, whose exp is 1 either way). A NaN x[0] stays in every lane and
  // so in mx, and a later NaN never enters, as in the rule.
  __m512 m0 = _mm512_set1_ps(x[0]), m1 = m0;
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    m0 = _mm512_max_ps(_mm512_loadu_ps(x + k), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(x + k + 16), m1);
  }
  for (; k < n; k += 16) {
    const __mmask16 m = first(n - k);
    m0 = _mm512_mask_max_ps(m0, m, _mm512_maskz_loadu_ps(m, x + k), m0);
  }
  m0 = _mm512_max_ps(m1, m0);
  const __m256 h = _mm256_max_ps(_mm512_extractf32x8_ps(m0, 1), _mm512_castps512_ps256(m0));
  __m128 q = _mm_max_ps(_mm256_extractf128_ps(h, 1), _mm256_castps256_ps128(h));
  q = _mm_max_ps(_mm_movehl_ps(q, q), q);
  q = _mm_max_ss(_mm_movehdup_ps(q), q);
  const __m512 mx = _mm512_set1_ps(_mm_cvtss_f32(q));
  // exp(x - mx) and the rule's sum: lane l of 8 adds the values 8 j + l of
  // the leading multiple of 8 in order (each 16-group's low then high half),
  // the rest go to lane 0 one by one; then the 8 lanes in order.
  __m256 s8 = _mm256_setzero_ps();
  for (k = 0; k + 16 <= n; k += 16) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + k), mx));
    _mm512_storeu_ps(y + k, e);
    s8 = _mm256_add_ps(s8, _mm512_castps512_ps256(e));
    s8 = _mm256_add_ps(s8, _mm512_extractf32x8_ps(e, 1));
  }
  alignas(32) float lanes[8];
  if (k < n) {  // the last partial group, padded with mx (exp(0) in the dead lanes) as the rule pads it
    const __mmask16 m = first(n - k);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_mask_loadu_ps(mx, m, x + k), mx));
    _mm512_mask_storeu_ps(y + k, m, e);
    __m256 rest = _mm512_castps512_ps256(e);
    int64_t left = n - k;
    if (left >= 8) {
      s8 = _mm256_add_ps(s8, rest);
      rest = _mm512_extractf32x8_ps(e, 1);
      left -= 8;
    }
    alignas(32) float t[8];
    _mm256_store_ps(t, rest);
    _mm256_store_ps(lanes, s8);
    for (int64_t l = 0; l < left; ++l) lanes[0] += t[l];
  } else {
    _mm256_store_ps(lanes, s8);
  }
  float sum = 0.f;
  for (int l = 0; l < 8; ++l) sum += lanes[l];
  const __m512 inv = _mm512_set1_ps(1.0f / sum);
  for (k = 0; k < n; k += 16) {
    const __mmask16 m = first(n - k);
    _mm512_mask_storeu_ps(y + k, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + k), inv));
  }
}

}  // namespace

void softmax_rows(int64_t rows, int64_t n, const float* x, float* y, bool log) {
  if (log || n <= 0) {
    ref::softmax_rows_loop(rows, n, x, y, log, Exp16Avx512{});
    return;
  }
  for (int64_t r = 0; r < rows; ++r) softmax_row16(x + r * n, y + r * n, n);
}
// The rule's steps per row (ref::attention_rows_loop) with the softmax as
// softmax_row16: QAttention's rows are softmax rows (ViT's 197 keys).
void attention_rows(int64_t rows, int64_t n, const ref::AttentionRows& a, float* s) {
  if (n <= 0) return;
  for (int64_t r = 0; r < rows; ++r, s += n) {
    ref::attention_row_scores(r, n, a, s);
    softmax_row16(s, s, n);
    ref::attention_row_guard(n, a, s);
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
