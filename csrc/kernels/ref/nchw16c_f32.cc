// The reference channel-blocked FP32 kernels (kernels/abi/nchw16c_f32.h):
// scalar loops that spell the contract out, one output at a time, with
// std::fma for each product so that the vector tier's order and roundings
// are this file's (the same bits). The max pool's compare-select is
// _mm512_max_ps's (the second operand on a tie or a NaN).
#include <cmath>
#include <limits>

#include "kernels/abi/nchw16c_f32.h"
#include "kernels/ref/clip_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {
namespace {

float finish(float a, float bias, const float* residual, bool clip, float lo, float hi) {
  float v = a + bias;
  if (residual) v = v + *residual;
  if (clip) v = clip_f32(v, lo, hi);
  return v;
}

// Calls fn(iy, ix, t) for the taps t = ky * kw + kx of output (oy, ox)
// that fall inside the image, row-major (a depthwise or dense geometry).
template <class A, class Fn>
void taps_inside(const A& a, int64_t oy, int64_t ox, Fn fn) {
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
    if (iy < 0 || iy >= a.H) continue;
    for (int64_t kx = 0; kx < a.kw; ++kx) {
      const int64_t ix = ox * a.sw - a.pw + kx * a.dw;
      if (ix >= 0 && ix < a.W) fn(iy, ix, ky * a.kw + kx);
    }
  }
}

void post(const PostOp& op, float* y, int64_t count) {
  if (op.apply) op.apply(op.ctx, y, count);
}

}  // namespace

void pointwise_nchw16c(const PointwiseNchw16c& a) {
  for (int64_t mb = a.mb0; mb < a.mb1; ++mb) {
    for (int64_t p = a.p0; p < a.p1; ++p) {
      for (int64_t l = 0; l < kBlock16; ++l) {
        float acc = 0.f;
        for (int64_t c = 0; c < a.C; ++c) {
          acc = std::fma(a.x[((c / kBlock16) * a.P + p) * kBlock16 + c % kBlock16],
                         a.w[(mb * a.C + c) * kBlock16 + l], acc);
        }
        const int64_t o = (mb * a.P + p) * kBlock16 + l;
        a.y[o] = finish(acc, a.bias[mb * kBlock16 + l], a.residual ? a.residual + o : nullptr, a.clip, a.lo, a.hi);
      }
    }
    post(a.post, a.y + (mb * a.P + a.p0) * kBlock16, (a.p1 - a.p0) * kBlock16);
  }
}

void depthwise_nchw16c(const DepthwiseNchw16c& a) {
  for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
    for (int64_t ox = 0; ox < a.ow; ++ox) {
      for (int64_t l = 0; l < kBlock16; ++l) {
        float acc = 0.f;
        taps_inside(a, oy, ox, [&](int64_t iy, int64_t ix, int64_t t) {
          acc = std::fma(a.x[(iy * a.W + ix) * kBlock16 + l], a.w[t * kBlock16 + l], acc);
        });
        const int64_t o = (oy * a.ow + ox) * kBlock16 + l;
        a.y[o] = finish(acc, a.bias[l], a.residual ? a.residual + o : nullptr, a.clip, a.lo, a.hi);
      }
    }
    post(a.post, a.y + oy * a.ow * kBlock16, a.ow * kBlock16);
  }
}

void dense_nchw16c(const DenseNchw16c& a) {
  const int64_t K = a.C * a.kh * a.kw;
  for (int64_t mb = a.mb0; mb < a.mb1; ++mb) {
    for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
      for (int64_t ox = 0; ox < a.ow; ++ox) {
        for (int64_t l = 0; l < kBlock16; ++l) {
          float acc = 0.f;
          for (int64_t c = 0; c < a.C; ++c) {
            taps_inside(a, oy, ox, [&](int64_t iy, int64_t ix, int64_t t) {
              acc = std::fma(a.x[(c * a.H + iy) * a.W + ix], a.w[(mb * K + c * a.kh * a.kw + t) * kBlock16 + l], acc);
            });
          }
          const int64_t o = ((mb * a.oh + oy) * a.ow + ox) * kBlock16 + l;
          a.y[o] = finish(acc, a.bias[mb * kBlock16 + l], nullptr, a.clip, a.lo, a.hi);
        }
      }
      post(a.post, a.y + (mb * a.oh + oy) * a.ow * kBlock16, a.ow * kBlock16);
    }
  }
}

namespace {

void conv_one_image(const DenseNchw16c& a) {
  const int64_t taps = a.kh * a.kw;
  for (int64_t mb = a.mb0; mb < a.mb1; ++mb) {
    for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
      for (int64_t ox = 0; ox < a.ow; ++ox) {
        for (int64_t l = 0; l < kBlock16; ++l) {
          float acc = 0.f;
          taps_inside(a, oy, ox, [&](int64_t iy, int64_t ix, int64_t t) {
            for (int64_t c = 0; c < a.C; ++c) {
              acc = std::fma(a.x[(((c / kBlock16) * a.H + iy) * a.W + ix) * kBlock16 + c % kBlock16],
                             a.w[((mb * taps + t) * a.C + c) * kBlock16 + l], acc);
            }
          });
          const int64_t o = ((mb * a.oh + oy) * a.ow + ox) * kBlock16 + l;
          a.y[o] = finish(acc, a.bias[mb * kBlock16 + l], a.residual ? a.residual + o : nullptr, a.clip, a.lo, a.hi);
        }
      }
      post(a.post, a.y + (mb * a.oh + oy) * a.ow * kBlock16, a.ow * kBlock16);
    }
  }
}

}  // namespace

void conv_nchw16c(const DenseNchw16c& a) {
  for (int64_t n = 0; n < a.images; ++n) conv_one_image(conv_image(a, n));
}

void maxpool_nchw16c(const PoolNchw16c& a) {
  for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
    for (int64_t ox = 0; ox < a.ow; ++ox) {
      for (int64_t l = 0; l < kBlock16; ++l) {
        float m = -std::numeric_limits<float>::infinity();
        taps_inside(a, oy, ox, [&](int64_t iy, int64_t ix, int64_t) {
          const float v = a.x[(iy * a.W + ix) * kBlock16 + l];
          m = m > v ? m : v;
        });
        a.y[(oy * a.ow + ox) * kBlock16 + l] = m;
      }
    }
  }
}

void avgpool_nchw16c(const PoolNchw16c& a) {
  for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
    for (int64_t ox = 0; ox < a.ow; ++ox) {
      for (int64_t l = 0; l < kBlock16; ++l) {
        float s = 0.f;
        taps_inside(a, oy, ox, [&](int64_t iy, int64_t ix, int64_t) { s = s + a.x[(iy * a.W + ix) * kBlock16 + l]; });
        a.y[(oy * a.ow + ox) * kBlock16 + l] = s / (a.count_h[oy] * a.count_w[ox]);
      }
    }
  }
}

void block_mean_f32(const float* x, int64_t blocks, int64_t P, float* means) {
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t l = 0; l < kBlock16; ++l) {
      float s = 0.f;
      for (int64_t p = 0; p < P; ++p) s = s + x[(b * P + p) * kBlock16 + l];
      means[b * kBlock16 + l] = s / static_cast<float>(P);
    }
  }
}

void block_scale_f32(const float* x, const float* s, int64_t blocks, int64_t P, float* y) {
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t p = 0; p < P; ++p) {
      for (int64_t l = 0; l < kBlock16; ++l) {
        const int64_t i = (b * P + p) * kBlock16 + l;
        y[i] = x[i] * s[b * kBlock16 + l];
      }
    }
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
