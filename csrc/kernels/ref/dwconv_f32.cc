// dwconv_f32, reference tier (kernels/abi/dwconv_f32.h): the output plane is
// filled with the bias, then each tap (ky, kx) in row-major order adds
// w * x over the output columns whose input column lies inside the image
// (one multiply and one add per term, no FMA); then the residual and the
// clip of kernels/abi/dwconv_f32.h.
#include <algorithm>

#include "kernels/abi/dwconv_f32.h"
#include "kernels/ref/clip_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

namespace {

void one_plane(const DwConvF32Plane& p, const float* x, const float* w, float bias, float* y) {
  std::fill(y, y + p.oh * p.ow, bias);
  for (int64_t ky = 0; ky < p.kh; ++ky) {
    for (int64_t kx = 0; kx < p.kw; ++kx) {
      const float wv = w[ky * p.kw + kx];
      const int64_t off = kx * p.dw - p.pw;  // ix = ox * sw + off
      const int64_t lo = off >= 0 ? 0 : std::min(p.ow, (-off + p.sw - 1) / p.sw);
      const int64_t hi = std::max(lo, p.W - off <= 0 ? 0 : std::min(p.ow, (p.W - off + p.sw - 1) / p.sw));
      for (int64_t oy = 0; oy < p.oh; ++oy) {
        const int64_t iy = oy * p.sh - p.ph + ky * p.dh;
        if (iy < 0 || iy >= p.H) continue;
        const float* src = x + iy * p.W + off;
        float* d = y + oy * p.ow;
        for (int64_t ox = lo; ox < hi; ++ox) d[ox] += wv * src[ox * p.sw];
      }
    }
  }
}

}  // namespace

void dwconv_f32_plane(const DwConvF32Plane& p) {
  for (int64_t t = p.first; t < p.first + p.count; ++t) {
    const int64_t c = t % p.C;
    float* y = p.y + t * p.oh * p.ow;
    one_plane(p, p.x + t * p.H * p.W, p.w + c * p.kh * p.kw, p.bias ? p.bias[c] : 0.f, y);
    const int64_t n = p.oh * p.ow;
    if (p.residual) {
      const float* r = p.residual + t * n;
      for (int64_t i = 0; i < n; ++i) y[i] = y[i] + r[i];
    }
    if (p.clip) {
      for (int64_t i = 0; i < n; ++i) y[i] = clip_f32(y[i], p.lo, p.hi);
    }
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
