// tanh for float32 layers (Tanh, Gelu approximate='tanh', Mish), written so
// that loops over it vectorise (std::tanh is a libm call per element). Both
// branches are computed and one selected:
//   |x| < 0.625:  tanh(x) = x * P(x^2)                     (P degree 5)
//   otherwise:    tanh(x) = 1 - 2 / (exp(2 min(|x|, 10)) + 1)  (exp_f32)
// with the sign of x (tanh(x) rounds to 1 in float32 from x = 9.01). P is a least-squares fit
// made by tools/fit_elementary.py; it measures 1.7 ulp worst over
// [-12, 12], and tests/test_fp32_ops.py bounds this code against numpy.
// NaN gives NaN, +-inf gives +-1, -0 gives -0.
#pragma once

#include "engine/ops/exp_f32.h"

namespace int8rt {
namespace engine {

inline float tanh_f32(float x) {
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

}  // namespace engine
}  // namespace int8rt
