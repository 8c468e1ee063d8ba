// erf for float32 layers (Erf, Gelu), written so that loops over it
// vectorise (std::erf is a libm call per element: 24 ms of ConvNeXt-Tiny's
// FP32 run). Both branches are computed and one selected, no data-dependent
// control flow:
//   |x| < 1:          erf(x) = x * P(x^2)                 (P degree 6)
//   1 <= |x| < 3.95:  erf(x) = 1 - exp(-x^2) * Q(1/|x|)   (Q degree 7, exp_f32)
//   |x| >= 3.95:      erf(x) = +-1 (erfc < 2^-25 there)
// with the sign of x. P and Q are least-squares fits made by
// tools/fit_elementary.py; it measures 2.6 ulp worst over [-12, 12] in
// float32, and tests/test_fp32_ops.py bounds this code against math.erf.
// NaN gives NaN, +-inf gives +-1.
#pragma once

#include "engine/ops/exp_f32.h"

namespace int8rt {
namespace engine {

inline float erf_f32(float x) {
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

}  // namespace engine
}  // namespace int8rt
