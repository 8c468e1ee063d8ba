// The FP32 transcendental functions of int8rt's layers, and the element-wise
// loop over them (the unary_f32 family, kernels/unary_f32.h): written with
// per-element IEEE operations and selects only, no data-dependent control
// flow, so that the loops vectorise at any width. Built with int8rt's flags
// (-ffp-contract=off -fno-trapping-math, no fast math), every lane computes
// exactly what the scalar code does; the AVX2 and AVX-512 builds of
// unary_f32 also contract a * b + c into FMAs (x86/CMakeLists.txt), so they
// differ from the reference in the last bits, within the bounds below (the
// measured worst cases hold for every build). Every function is `static
// inline` (internal linkage): an ISA translation unit including this header
// gets its own copies, so no ISA-flagged copy can replace the baseline one
// at link time (STYLE.md, "ISA code is fenced"). No STL.
//
// exp_f32: Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, e^r by
//   Cephes expf's degree-6 polynomial, 2^n from exponent bits. Within 2 ulp
//   of exp over the float range; x <= -87.34 gives 0 (no denormals),
//   x >= 88.72 gives +inf, NaN gives NaN.
// exp_fma_f32: exp_f32's method and constants with each a * b + c one fused
//   multiply-add (std::fma: the FMA instruction on tiers that have it, the
//   C library's exactly rounded fmaf on the baseline reference), so every
//   tier gives the same bits in a little over half the vector operations.
//   Range rules as exp_f32 (no denormal product below kLo). The softmax
//   family's exp (kernels/ref/softmax_f32.h); within 2 ulp of exp.
// erf_f32:  |x| < 1: x * P(x^2) (P degree 6); 1 <= |x| < 3.95:
//   1 - exp(-x^2) * Q(1/|x|) (Q degree 7); beyond, +-1 (erfc < 2^-25).
//   2.6 ulp worst over [-12, 12]. NaN gives NaN, +-inf gives +-1.
// tanh_f32: |x| < 0.625: x * P(x^2) (P degree 5); otherwise
//   1 - 2 / (exp(2 min(|x|, 10)) + 1) (rounds to 1 from 9.01). 1.7 ulp worst.
// P and Q of erf and tanh are least-squares fits made by
// tools/fit_elementary.py, which prints these values and the measured ulps;
// tests/test_fp32_ops.py bounds this code against float64.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace int8rt {
namespace kernels {
namespace ref {

// p * 2^n for an integral n in [-126, 128] (exp's last step), 2^n built
// from exponent bits as two factors so that n = 128 stays finite: p * 2^(n/2)
// is exact, so the result is p * 2^n rounded once.
static inline float times_pow2(float p, float n) {
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t half = ni / 2;
  const uint32_t b1 = static_cast<uint32_t>(half + 127) << 23;
  const uint32_t b2 = static_cast<uint32_t>(ni - half + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, 4);
  std::memcpy(&s2, &b2, 4);
  return p * s1 * s2;
}

static inline float exp_f32(float x) {
  const float kHi = 88.7228393f, kLo = -87.3365479f;
  const bool nan = x != x;
  const bool over = x >= kHi, under = x <= kLo;
  float v = x < kLo ? kLo : x;
  v = v > kHi ? kHi : v;
  v = nan ? 0.0f : v;  // NaN would reach the int conversion below (undefined behaviour); the result is x anyway
  // Below kLo the result is 0 anyway; computing e^kLo instead would make a
  // denormal product (2^-126 times p < 1), which costs a microcode assist
  // per lane on some CPUs (5-7x slower on AMD Zen 5 for masked attention
  // scores and saturated sigmoids).
  v = under ? 0.0f : v;
  // n = round(v / ln2) via the 1.5 * 2^23 trick (no rounding instruction needed).
  const float shifter = 12582912.0f;
  const float t = v * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  float r = v - n * 0.693359375f;          // ln2 split in two (Cody-Waite)
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  float y = times_pow2(p, n);
  y = under ? 0.0f : y;
  y = over ? __builtin_inff() : y;
  return nan ? x : y;
}

static inline float exp_fma_f32(float x) {
  const float kHi = 88.7228393f, kLo = -87.3365479f;
  // Below kLo (and for NaN) the reduction runs on 0: its result is replaced
  // below, and e^kLo would be a denormal product (see exp_f32).
  float v = x > kLo ? x : 0.0f;
  v = v < kHi ? v : kHi;
  const float shifter = 12582912.0f;  // n = round(v / ln2), the 1.5 * 2^23 trick
  const float n = std::fma(v, 1.44269504088896341f, shifter) - shifter;
  float r = std::fma(n, -0.693359375f, v);  // ln2 split in two (Cody-Waite)
  r = std::fma(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  p = std::fma(p, r * r, r) + 1.0f;
  float y = times_pow2(p, n);
  y = x > kLo ? y : 0.0f;
  y = x < kHi ? y : __builtin_inff();
  return x == x ? y : x;
}

static inline float erf_f32(float x) {
  const float a = x < 0.f ? -x : x;
  const float t = a * a;
  float p = 8.006950520211831e-05f;
  p = p * t + -0.0008053770870901644f;
  p = p * t + 0.005192959681153297f;
  p = p * t + -0.0268560703843832f;
  p = p * t + 0.11283634603023529f;
  p = p * t + -0.3761262893676758f;
  p = p * t + 1.128379225730896f;
  const float small = a * p;

  float b = a < 1.f ? 1.f : a;
  b = b > 3.95f ? 3.95f : b;
  const float u = 1.f / b;
  float q = -0.018275469541549683f;
  q = q * u + 0.12281397730112076f;
  q = q * u + -0.35854968428611755f;
  q = q * u + 0.5804157853126526f;
  q = q * u + -0.5087228417396545f;
  q = q * u + 0.05197613686323166f;
  q = q * u + 0.557562530040741f;
  q = q * u + 0.00036322459345683455f;
  const float big = 1.f - exp_f32(-(b * b)) * q;

  float r = a < 1.f ? small : big;
  r = a >= 3.95f ? 1.f : r;
  r = x < 0.f ? -r : r;
  return x != x ? x : r;
}

static inline float tanh_f32(float x) {
  const float a = x < 0.f ? -x : x;
  const float t = a * a;
  float p = -0.005772257223725319f;
  p = p * t + 0.020692424848675728f;
  p = p * t + -0.0537528358399868f;
  p = p * t + 0.1333152800798416f;
  p = p * t + -0.33333277702331543f;
  p = p * t + 1.0f;
  const float small = a * p;
  const float e = exp_f32(2.f * (a > 10.f ? 10.f : a));
  const float big = 1.f - 2.f / (e + 1.f);
  float r = a < 0.625f ? small : big;
  r = x < 0.f ? -r : r;
  return x != x ? x : r;
}

static inline float sigmoid_f32(float x) { return 1.f / (1.f + exp_f32(-x)); }

// The functions of the unary_f32 family, applied to x[0..n) into y (which
// may be x): the one loop every tier compiles. kSilu (Swish) is x * sigmoid(x)
// with the tier's own sigmoid and one IEEE multiply: the bits of the tier's
// Sigmoid layer followed by a Mul layer (graph/passes/fuse_swish.cc).
// kHardSwish is ONNX's x * max(0, min(1, x / 6 + 1/2)) as IEEE operations in
// that order (a division, not a multiply by 1/6; no FMA can form), the clip
// as h > 0 ? h : 0, then v < 1 ? v : 1 (a NaN x gives 0 there, so NaN * 0 = NaN out):
// the same bits on every tier, the standalone HardSwish layer's and the one
// fused into a Conv (fuse_swish.cc).
enum class UnaryF32 : int32_t { kExp, kSigmoid, kTanh, kErf, kGelu, kGeluTanh, kSilu, kHardSwish };

static inline float hard_swish_f32(float x) {
  const float h = x / 6.f + 0.5f;
  const float v = h > 0.f ? h : 0.f;
  return x * (v < 1.f ? v : 1.f);
}

static inline void unary_f32_loop(UnaryF32 op, int64_t n, const float* x, float* y) {
  switch (op) {
    case UnaryF32::kExp: for (int64_t i = 0; i < n; ++i) y[i] = exp_f32(x[i]); break;
    case UnaryF32::kSigmoid: for (int64_t i = 0; i < n; ++i) y[i] = sigmoid_f32(x[i]); break;
    case UnaryF32::kSilu: for (int64_t i = 0; i < n; ++i) y[i] = x[i] * sigmoid_f32(x[i]); break;
    case UnaryF32::kTanh: for (int64_t i = 0; i < n; ++i) y[i] = tanh_f32(x[i]); break;
    case UnaryF32::kHardSwish: for (int64_t i = 0; i < n; ++i) y[i] = hard_swish_f32(x[i]); break;
    case UnaryF32::kErf: for (int64_t i = 0; i < n; ++i) y[i] = erf_f32(x[i]); break;
    case UnaryF32::kGelu:  // 0.5 x (1 + erf(x / sqrt 2))
      for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.f + erf_f32(x[i] * 0.70710678118654752f));
      break;
    case UnaryF32::kGeluTanh:  // approximate='tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      for (int64_t i = 0; i < n; ++i) {
        y[i] = 0.5f * x[i] * (1.f + tanh_f32(0.79788456080286536f * (x[i] + 0.044715f * x[i] * x[i] * x[i])));
      }
      break;
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
