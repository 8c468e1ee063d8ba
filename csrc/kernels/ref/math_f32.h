// exp for float32 layers, written so that loops over it vectorise (the
// shared code is built without -ffast-math, where std::exp stays a libm call
// per element): Cody-Waite range reduction x = n*ln2 + r, |r| <= ln2/2, e^r
// by Cephes expf's degree-6 polynomial, 2^n from exponent bits. Error within
// 2 ulp of exp over the float range (tests/test_fp32_ops.py checks against
// numpy); x <= -87.34 gives 0 (no denormals), x >= 88.72 gives +inf, NaN
// gives NaN. Used by Softmax, Sigmoid, Exp, erf_f32.h and tanh_f32.h.
#pragma once

#include <cstdint>
#include <cstring>

namespace int8rt {
namespace engine {

inline float exp_f32(float x) {
  const float kHi = 88.7228393f, kLo = -87.3365479f;
  const bool nan = x != x;
  const bool over = x >= kHi, under = x <= kLo;
  float v = x < kLo ? kLo : x;
  v = v > kHi ? kHi : v;
  v = nan ? 0.0f : v;  // NaN would reach the int conversion below (undefined behaviour); the result is x anyway
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
  // 2^n: n in [-126, 128]; build it as two factors so n = 128 stays finite.
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t half = ni / 2;
  const uint32_t b1 = static_cast<uint32_t>(half + 127) << 23;
  const uint32_t b2 = static_cast<uint32_t>(ni - half + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, 4);
  std::memcpy(&s2, &b2, 4);
  float y = p * s1 * s2;
  y = under ? 0.0f : y;
  y = over ? __builtin_inff() : y;
  return nan ? x : y;
}

}  // namespace engine
}  // namespace int8rt
