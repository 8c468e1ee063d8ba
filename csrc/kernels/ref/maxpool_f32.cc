// maxpool_f32, reference tier (kernels/abi/maxpool_f32.h): per output, the
// window's taps in row-major order, those outside the image skipped, each
// kept when greater than the running maximum (from -inf).
#include <limits>

#include "kernels/abi/maxpool_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

void maxpool_f32_planes(const MaxPoolF32Planes& p) {
  for (int64_t t = p.first; t < p.first + p.count; ++t) {
    const float* x = p.x + t * p.H * p.W;
    float* y = p.y + t * p.oh * p.ow;
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        float acc = -std::numeric_limits<float>::infinity();
        for (int64_t ky = 0; ky < p.kh; ++ky) {
          const int64_t iy = oy * p.sh - p.ph + ky * p.dh;
          if (iy < 0 || iy >= p.H) continue;
          for (int64_t kx = 0; kx < p.kw; ++kx) {
            const int64_t ix = ox * p.sw - p.pw + kx * p.dw;
            if (ix < 0 || ix >= p.W) continue;
            const float v = x[iy * p.W + ix];
            acc = v > acc ? v : acc;
          }
        }
        y[oy * p.ow + ox] = acc;
      }
    }
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
