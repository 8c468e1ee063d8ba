// The reference dynamic uint8 quantization (dynamic_quantize_u8.h): scalar loops.
#include <cmath>

#include "kernels/dynamic_quantize_u8.h"

namespace int8rt {
namespace kernels {
namespace ref {

void dynamic_range(int64_t n, const float* x, float* lo, float* hi) {
  float l = 0.f, h = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    l = x[i] < l ? x[i] : l;  // NaN compares false: skipped
    h = x[i] > h ? x[i] : h;
  }
  *lo = l;
  *hi = h;
}

void dynamic_quantize_u8(int64_t n, const float* x, float scale, float zero_point, uint8_t* y) {
  for (int64_t i = 0; i < n; ++i) {
    const float q = x[i] / scale;
    float v = q == q ? std::nearbyint(q) + zero_point : 0.f;  // NaN -> 0
    v = v > 0.f ? v : 0.f;
    v = v < 255.f ? v : 255.f;
    y[i] = static_cast<uint8_t>(v);
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
