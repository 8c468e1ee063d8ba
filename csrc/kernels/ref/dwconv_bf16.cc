// dwconv_bf16, reference tier (kernels/abi/dwconv_bf16.h): the contract as
// a plain loop per output, every tap taken (+0 outside the image), one
// std::fma per tap in row-major order, then the residual, the clip and the
// store (BF16 through bf16::from_f32). It needs no workspace.
#include <cmath>

#include "kernels/abi/dwconv_bf16.h"
#include "kernels/ref/bf16.h"
#include "kernels/ref/clip_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

void dwconv_bf16_plane(const DwConvBf16Plane& p) {
  const int64_t P = p.oh * p.ow;
  for (int64_t t = p.first; t < p.first + p.count; ++t) {
    const int64_t c = t % p.C;
    const uint16_t* x = p.x + t * p.H * p.W;
    const float* w = p.w + c * p.kh * p.kw;
    for (int64_t oy = 0; oy < p.oh; ++oy) {
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        float v = p.bias ? p.bias[c] : 0.f;
        for (int64_t ky = 0; ky < p.kh; ++ky) {
          const int64_t iy = oy * p.sh - p.ph + ky * p.dh;
          for (int64_t kx = 0; kx < p.kw; ++kx) {
            const int64_t ix = ox * p.sw - p.pw + kx * p.dw;
            const bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
            const float xv = inside ? bf16::to_f32(x[iy * p.W + ix]) : 0.f;
            v = std::fma(w[ky * p.kw + kx], xv, v);
          }
        }
        const int64_t at = t * P + oy * p.ow + ox;
        if (p.residual) v = v + p.residual[at];
        if (p.clip) v = clip_f32(v, p.lo, p.hi);
        if (p.y16) {
          p.y16[at] = bf16::from_f32(v);
        } else {
          p.y[at] = v;
        }
      }
    }
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
