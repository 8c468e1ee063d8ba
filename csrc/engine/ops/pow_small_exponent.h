// Float32 Pow(x, e) for a single exponent e of 2, 3 or 0.5 without a
// per-element std::pow (binary_f32.cc's Pow layer takes this path whenever its
// exponent tensor holds one value, constant or not; GPT-2's tanh-GELU is
// Pow(x, 3.0)). Each form is correctly rounded, as pow itself should be:
//   e = 2    y = x * x                   one float32 rounding of the exact square
//   e = 3    y = float(double(x)^3)      x*x is exact in double (48 bits), the
//                                        second product is rounded once to double,
//                                        then to float32: at most 1 ulp from the
//                                        exact cube, equal to it but in double-
//                                        rounding ties
//   e = 0.5  y = sqrt(x)                 correctly rounded by IEEE 754, with pow's
//                                        special cases kept: pow(-0, 0.5) = +0 and
//                                        pow(-inf, 0.5) = +inf (sqrt gives -0, NaN)
// NaN in gives NaN out; x < 0 with e = 0.5 gives NaN, as pow. ONNX Runtime
// special-cases 2 and 3 likewise (Eigen square / cube, in float32).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace int8rt {
namespace engine {

enum class SmallExponent { kNone, kSquare, kCube, kSqrt };

// The form for exponent `e`, or kNone when the general pow must run.
inline SmallExponent small_exponent(double e) {
  if (e == 2.0) return SmallExponent::kSquare;
  if (e == 3.0) return SmallExponent::kCube;
  if (e == 0.5) return SmallExponent::kSqrt;
  return SmallExponent::kNone;
}

// y[i] = pow(x[i], e) for i in [0, n), e the exponent of `form` (not kNone).
// x and y may be the same array.
inline void pow_small_exponent(SmallExponent form, const float* x, float* y, int64_t n) {
  switch (form) {
    case SmallExponent::kSquare:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i];
      break;
    case SmallExponent::kCube:
      for (int64_t i = 0; i < n; ++i) {
        const double v = static_cast<double>(x[i]);
        y[i] = static_cast<float>(v * v * v);
      }
      break;
    case SmallExponent::kSqrt:
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        // -0 -> +0 and -inf -> +inf (pow's rules); every other input is sqrt's
        y[i] = v == 0.0f ? 0.0f : v == -std::numeric_limits<float>::infinity() ? -v : std::sqrt(v);
      }
      break;
    case SmallExponent::kNone:
      break;
  }
}

}  // namespace engine
}  // namespace int8rt
