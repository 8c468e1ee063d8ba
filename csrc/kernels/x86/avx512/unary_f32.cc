// unary_f32 for the avx512 tier: the loop of kernels/ref/math_f32.h compiled
// with this folder's flags, so it vectorises at this ISA's width, and with
// -ffp-contract=fast (x86/CMakeLists.txt): each a * b + c is one FMA.
//
// Sigmoid and Silu compute the avx2 tier's bits at 16 lanes. On GCC's
// vectorisation of the rule's exp_f32, EfficientNet-B0's convs with a fused
// Silu ran at up to 2x ONNX Runtime's conv plus its fused x * sigmoid(x)
// (RESULTS.md section 117). Erf and Gelu (exact form) are written out in intrinsics (Erf16): erf_f32's
// formula, constants and step order with each a * b + c an FMA, as the
// contracted loop computes them, but GCC's vectorisation of the rule spends
// about twice the instructions (exp_f32's range checks and its 2^n from
// integer exponent fields, select chains): 0.76 -> 0.36 ns per value for
// Gelu on a Zen 5 (RESULTS.md section 45). Here exp's argument -(b * b) lies
// in [-15.61, -1], so its range checks fall away and 2^n is one vscalefps
// (p * 2^n rounded once, as times_pow2's exact two-step product). NaN, +-inf and signed zeros come out as the
// rule's (tests/test_fp32_ops.py compares every tier with the reference and
// holds it to the same bounds against float64).
#include <immintrin.h>

#include "kernels/abi/unary_f32.h"
#include "kernels/x86/avx512/exp16.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// 1 / b for b in [1, 3.95] (erf16's clamped argument), correctly rounded
// without VDIVPS (the divide bound Gelu's throughput: RESULTS.md section
// 209): VRCP14PS (relative error < 2^-14), then two Newton steps
// y + y (1 - b y) with FMAs, which give the quotient's rounding for every b
// there but 2 - 2^-23 (one ulp low: y = 0.5), set apart (erf's result there
// is the same either way; u is kept the division's bits). Checked over every
// float in [1, 3.95] against the avx2 tier's division on the CPU that runs
// tests/test_erf_reciprocal.py (the Newton steps start from that CPU's
// VRCP14PS: a CPU whose estimates differed would show there).
inline __m512 recip_1_to_395(__m512 b) {
  const __m512 one = _mm512_set1_ps(1.f);
  __m512 y = _mm512_rcp14_ps(b);
  y = _mm512_fmadd_ps(y, _mm512_fnmadd_ps(b, y, one), y);
  y = _mm512_fmadd_ps(y, _mm512_fnmadd_ps(b, y, one), y);
  const __mmask16 odd_one = _mm512_cmp_ps_mask(b, _mm512_set1_ps(0x1.fffffep+0f), _CMP_EQ_OQ);
  return _mm512_mask_mov_ps(y, odd_one, _mm512_set1_ps(0x1.000002p-1f));
}

// erf(z) for 16 lanes, NaN lanes unspecified (the callers handle them).
inline __m512 erf16(__m512 z) {
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512 a = _mm512_abs_ps(z);
  const __m512 t = _mm512_mul_ps(a, a);
  // |z| < 1: a * P(a^2)
  __m512 p = _mm512_set1_ps(8.006950520211831e-05f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.0008053770870901644f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.005192959681153297f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.0268560703843832f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.11283634603023529f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.3761262893676758f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.128379225730896f));
  const __m512 small = _mm512_mul_ps(a, p);
  // 1 <= |z| < 3.95: 1 - exp(-b^2) * Q(1 / b), b = |z| clamped to [1, 3.95]
  const __m512 b = _mm512_min_ps(_mm512_max_ps(a, one), _mm512_set1_ps(3.95f));
  const __m512 u = recip_1_to_395(b);  // 1 / b, its bits
  __m512 q = _mm512_set1_ps(-0.018275469541549683f);
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(0.12281397730112076f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-0.35854968428611755f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(0.5804157853126526f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-0.5087228417396545f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(0.05197613686323166f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(0.557562530040741f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(0.00036322459345683455f));
  // exp_f32(v), v = -(b * b): Cody-Waite reduction and Cephes' polynomial
  const __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), b), b);
  const __m512 e = exp_core16(v);
  const __m512 big = _mm512_fnmadd_ps(e, q, one);
  __m512 res = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, one, _CMP_LT_OQ), big, small);
  res = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(3.95f), _CMP_GE_OQ), res, one);
  return _mm512_or_ps(res, _mm512_and_ps(z, _mm512_set1_ps(-0.f)));  // z's sign (res >= 0)
}

// erf(x); NaN stays NaN.
inline __m512 erf_lanes(__m512 x) {
  return _mm512_mask_mov_ps(erf16(x), _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

// 0.5 x (1 + erf(x / sqrt 2)), the rule's products in its order; NaN in
// gives NaN out through 0.5 x.
inline __m512 gelu_lanes(__m512 x) {
  const __m512 e = erf16(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.f), e));
}

// hard_swish_f32 (kernels/ref/math_f32.h) per lane: the division, the add
// and the multiply are the rule's single IEEE operations; max_ps(h, 0)
// returns its second operand for a NaN h and min_ps(v, 1) its second unless
// v < 1, as hard_swish_f32's comparisons do. The same bits as the loop.
inline __m512 hard_swish_lanes(__m512 x) {
  const __m512 h = _mm512_add_ps(_mm512_div_ps(x, _mm512_set1_ps(6.f)), _mm512_set1_ps(0.5f));
  const __m512 v = _mm512_min_ps(_mm512_max_ps(h, _mm512_setzero_ps()), _mm512_set1_ps(1.f));
  return _mm512_mul_ps(x, v);
}

// The avx2 tier's Sigmoid and Silu (x86/avx2/unary_f32.cc) at 16 lanes,
// 1 / (1 + e) with e = exp_fma_f32(-x), then for Silu one multiply by x: the
// avx2 tier's bits, with fewer operations than exp16's range selects (24 ->
// 19 per vector for Silu; 0.21 -> 0.16 ns per value, RESULTS.md section 123).
// e is exp_core16 on t = -x held to [-80, 89], which gives what exp16(t)
// gives wherever 1 + e can tell: below -80, exp16 returns 0 or a value
// under 2^-115 and 1 + e rounds to 1 as with e^-80 (no denormal is formed);
// from exp's kHi (88.7228) up, exp16 returns inf and exp_core16(min(t, 89))
// overflows to inf too (n = 128 and p(r) >= 1, r >= 0). A NaN x gives a
// NaN (Sigmoid takes e = t as exp16 does; Silu's s is now finite, so the
// sign of its NaN may differ from the exp16 path's, which could return the
// NaN of -x). tests/test_fp32_ops.py compares the two tiers byte for byte
// over exp's whole range, these edges densely sampled; a one-off check
// against the previous build over 1.08 M values found Sigmoid identical and
// Silu identical but for the sign of 19 NaN outputs (RESULTS.md section 123).
template <bool kSilu>
inline __m512 sigmoid_or_silu_lanes(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512 t = _mm512_xor_ps(x, _mm512_set1_ps(-0.f));  // -x
  // max_ps returns its second operand for a NaN t: the core runs on -80
  const __m512 v = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-80.f)), _mm512_set1_ps(89.f));
  __m512 e = exp_core16(v);
  if (!kSilu) e = _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(t, t, _CMP_UNORD_Q), t);
  const __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, e));
  return kSilu ? _mm512_mul_ps(x, s) : s;
}

template <__m512 (*kF)(__m512)>
void lanes(int64_t n, const float* x, float* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, kF(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, m, kF(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

}  // namespace

void unary_f32(ref::UnaryF32 op, int64_t n, const float* x, float* y) {
  switch (op) {
    case ref::UnaryF32::kErf: lanes<erf_lanes>(n, x, y); break;
    case ref::UnaryF32::kGelu: lanes<gelu_lanes>(n, x, y); break;
    case ref::UnaryF32::kHardSwish: lanes<hard_swish_lanes>(n, x, y); break;
    case ref::UnaryF32::kSigmoid: lanes<sigmoid_or_silu_lanes<false>>(n, x, y); break;
    case ref::UnaryF32::kSilu: lanes<sigmoid_or_silu_lanes<true>>(n, x, y); break;
    default: ref::unary_f32_loop(op, n, x, y); break;
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
