// unary_f32 for the avx2 tier. Sigmoid and Silu (x * sigmoid(x), the fused
// Swish) in AVX2 + FMA intrinsics: sigmoid(x) = 1 / (1 + e), e = exp(-x) by
// exp_fma8 (x86/avx2/exp8.h: kernels/ref/math_f32.h's exp_fma_f32, lane
// for lane; its range selects replaced by a clamp of -x, the same bits),
// then one add and one divide, and for Silu one multiply by x.
// GCC's vectorisation of the reference loop (exp_f32's select chains and
// signed halving) took 0.41 ms for a Sigmoid layer of 401k values on Zen 3,
// the intrinsics 0.32 ms (RESULTS.md section 62). So this tier's sigmoid is
// 1 / (1 + exp_fma_f32(-x)): within the family's bounds (tests/
// test_fp32_ops.py: 3 ulps of float64, NaN, infinities and zeros as the
// reference's), and Silu's bits are exactly this tier's Sigmoid followed by
// a Mul. Lanes past n run on zeros in a stack copy, so every value gets the
// same operations wherever it sits. The other functions: the loop of
// kernels/ref/math_f32.h compiled with this folder's flags, so it vectorises
// at this ISA's width, and with -ffp-contract=fast (x86/CMakeLists.txt):
// each a * b + c is one FMA.
#include <immintrin.h>

#include <cstring>

#include "kernels/abi/unary_f32.h"
#include "kernels/x86/avx2/exp8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

// e = exp_core8 on t = -x held to [-80, 89] instead of exp_fma8(t): the
// same 1 / (1 + e) for every x (below -80 exp_fma8 gives 0 or under 2^-115
// and 1 + e rounds to 1 as with e^-80; from its kHi up it gives inf, and
// exp_core8(min(t, 89)) overflows to inf too; in between both run the
// core), with no range selects (the AVX-512 tier's reasoning, x86/avx512/
// unary_f32.cc). A NaN x gives a NaN (Sigmoid takes e = t as exp_fma8
// does; Silu's NaN sign may differ from the exp_fma8 path's).
template <bool kSilu>
inline __m256 sigmoid_or_silu8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.f);
  const __m256 t = _mm256_xor_ps(x, _mm256_set1_ps(-0.f));  // -x
  // max_ps returns its second operand for a NaN t: the core runs on -80
  const __m256 v = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-80.f)), _mm256_set1_ps(89.f));
  __m256 e = exp_core8(v);
  if (!kSilu) e = _mm256_blendv_ps(e, t, _mm256_cmp_ps(t, t, _CMP_UNORD_Q));
  const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, e));
  return kSilu ? _mm256_mul_ps(x, s) : s;
}

template <bool kSilu>
void sigmoid_loop(int64_t n, const float* x, float* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {  // two independent chains per step
    const __m256 a = sigmoid_or_silu8<kSilu>(_mm256_loadu_ps(x + i));
    const __m256 b = sigmoid_or_silu8<kSilu>(_mm256_loadu_ps(x + i + 8));
    _mm256_storeu_ps(y + i, a);
    _mm256_storeu_ps(y + i + 8, b);
  }
  for (; i < n; i += 8) {
    const int64_t left = n - i < 8 ? n - i : 8;
    alignas(32) float buf[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    std::memcpy(buf, x + i, static_cast<size_t>(left) * sizeof(float));
    _mm256_store_ps(buf, sigmoid_or_silu8<kSilu>(_mm256_load_ps(buf)));
    std::memcpy(y + i, buf, static_cast<size_t>(left) * sizeof(float));
  }
}

}  // namespace

void unary_f32(ref::UnaryF32 op, int64_t n, const float* x, float* y) {
  if (op == ref::UnaryF32::kSigmoid) return sigmoid_loop<false>(n, x, y);
  if (op == ref::UnaryF32::kSilu) return sigmoid_loop<true>(n, x, y);
  ref::unary_f32_loop(op, n, x, y);
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
