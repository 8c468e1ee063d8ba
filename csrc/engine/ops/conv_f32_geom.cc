// The float32 Conv's input copies (conv_f32_geom.h): the 3-D im2col and the
// strided 1x1 convolution's subsample.
#include "engine/ops/conv_f32_geom.h"

#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/aligned_allocator.h"

namespace int8rt {
namespace engine {

void im2col_3d(const float* xg, int64_t Cg, const ConvGeom& g, float* col) {
  const int64_t P = g.od * g.oh * g.ow;
  parallel_for(Cg * g.kd * g.kh * g.kw, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t j = r % g.kw, i = (r / g.kw) % g.kh, a = (r / (g.kw * g.kh)) % g.kd, c = r / (g.kw * g.kh * g.kd);
      float* dst = col + r * P;
      for (int64_t oz = 0; oz < g.od; ++oz) {
        const int64_t iz = oz * g.sd - g.pd + a * g.dd;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int64_t iy = oy * g.sh - g.ph + i * g.dh;
          float* d = dst + (oz * g.oh + oy) * g.ow;
          if (iz < 0 || iz >= g.D || iy < 0 || iy >= g.H) {
            std::fill(d, d + g.ow, 0.f);
            continue;
          }
          const float* src = xg + ((c * g.D + iz) * g.H + iy) * g.W;
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const int64_t ix = ox * g.sw - g.pw + j * g.dw;
            d[ox] = ix >= 0 && ix < g.W ? src[ix] : 0.f;
          }
        }
      }
    }
  });
}

bool is_strided_pointwise(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && (g.sh > 1 || g.sw > 1) && g.ph == 0 && g.pw == 0 &&
         (g.oh - 1) * g.sh < g.H && (g.ow - 1) * g.sw < g.W;
}

const float* subsample(const float* x, ConvGeom& g) {
  thread_local kernels::AlignedFloats buf;  // 64-byte aligned (aligned_allocator.h)
  const int64_t P = g.oh * g.ow;
  if (buf.size() < static_cast<size_t>(g.N * g.C * P)) buf.resize(static_cast<size_t>(g.N * g.C * P));
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    const float* src = x + nc * g.H * g.W;
    float* dst = buf.data() + nc * P;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const float* row = src + oy * g.sh * g.W;
      float* d = dst + oy * g.ow;
      if (g.sw == 2) {  // a constant stride, which the compiler vectorises (ResNet's downsamples)
        for (int64_t ox = 0; ox < g.ow; ++ox) d[ox] = row[2 * ox];
      } else {
        for (int64_t ox = 0; ox < g.ow; ++ox) d[ox] = row[ox * g.sw];
      }
    }
  }
  g.H = g.oh;
  g.W = g.ow;
  g.sh = g.sw = 1;
  return buf.data();
}

}  // namespace engine
}  // namespace int8rt
