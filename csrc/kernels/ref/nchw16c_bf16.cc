// The BF16 channel-blocked kernels as scalar loops: the spec of
// kernels/abi/nchw16c_bf16.h, operation for operation.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/ref/bf16.h"
#include "kernels/ref/clip_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {
namespace {

// Residual, clip, the fused float activation, BF16 store of one finished
// value; +0 in a padded lane.
uint16_t finish(float v, const uint16_t* residual, int64_t at, bool real, bool clip, float lo, float hi,
                const Bf16x16cAct& act) {
  if (!real) return 0;
  if (residual) v = v + bf16::to_f32(residual[at]);
  if (clip) v = clip_f32(v, lo, hi);
  if (act.fn) act.fn(act.ctx, &v, 1);
  return bf16::from_f32(v);
}

}  // namespace

void pointwise_bf16x16c(const PointwiseBf16x16c& a) {
  if (a.N > 1) return pointwise_bf16x16c_per_image(a, pointwise_bf16x16c);
  const int64_t QP = (a.C + 1) / 2;
  for (int64_t mb = a.mb0; mb < a.mb1; ++mb) {
    for (int64_t p = a.p0; p < a.p1; ++p) {
      for (int64_t l = 0; l < kBf16Block; ++l) {
        float acc = 0.f;
        for (int64_t q = 0; q < QP; ++q) {
          const uint16_t* xp = a.x + ((2 * q) / kBf16Block * a.P + p) * kBf16Block + (2 * q) % kBf16Block;
          acc = bf16::dot_pair(acc, xp, a.w + ((mb * QP + q) * kBf16Block + l) * 2);
        }
        const int64_t at = (mb * a.P + p) * kBf16Block + l;
        a.y[at] = finish(a.bias ? acc + a.bias[mb * kBf16Block + l] : acc, a.residual, at, mb * kBf16Block + l < a.M, a.clip,
                         a.lo, a.hi, a.act);
      }
    }
  }
}

void depthwise_bf16x16c(const DepthwiseBf16x16c& a) {
  for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
    for (int64_t ox = 0; ox < a.ow; ++ox) {
      for (int64_t l = 0; l < kBf16Block; ++l) {
        float v = a.bias[l];
        for (int64_t ky = 0; ky < a.kh; ++ky) {
          for (int64_t kx = 0; kx < a.kw; ++kx) {
            const int64_t iy = oy * a.sh - a.ph + ky * a.dh, ix = ox * a.sw - a.pw + kx * a.dw;
            const bool inside = iy >= 0 && iy < a.H && ix >= 0 && ix < a.W;
            const float x = inside ? bf16::to_f32(a.x[(iy * a.W + ix) * kBf16Block + l]) : 0.f;
            v = std::fma(a.w[(ky * a.kw + kx) * kBf16Block + l], x, v);
          }
        }
        const int64_t at = (oy * a.ow + ox) * kBf16Block + l;
        a.y[at] = finish(v, a.residual, at, l < a.lanes, a.clip, a.lo, a.hi, a.act);
      }
    }
  }
}

void conv_bf16x16c(const ConvBf16x16c& a) {
  const int64_t QP = (a.C + 1) / 2, taps = a.kh * a.kw, plane = a.H * a.W;
  for (int64_t mb = a.mb0; mb < a.mb1; ++mb) {
    for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
      for (int64_t ox = 0; ox < a.ow; ++ox) {
        for (int64_t l = 0; l < kBf16Block; ++l) {
          float acc = 0.f;
          for (int64_t t = 0; t < taps; ++t) {
            const int64_t iy = oy * a.sh - a.ph + (t / a.kw) * a.dh, ix = ox * a.sw - a.pw + (t % a.kw) * a.dw;
            if (iy < 0 || iy >= a.H || ix < 0 || ix >= a.W) continue;
            for (int64_t q = 0; q < QP; ++q) {
              const uint16_t* xp = a.x + ((2 * q) / kBf16Block * plane + iy * a.W + ix) * kBf16Block + (2 * q) % kBf16Block;
              acc = bf16::dot_pair(acc, xp, a.w + (((mb * taps + t) * QP + q) * kBf16Block + l) * 2);
            }
          }
          const int64_t at = ((mb * a.oh + oy) * a.ow + ox) * kBf16Block + l;
          a.y[at] = finish(a.bias ? acc + a.bias[mb * kBf16Block + l] : acc, a.residual, at,
                           mb * kBf16Block + l < a.M, a.clip, a.lo, a.hi, a.act);
        }
      }
    }
  }
}

void maxpool_bf16x16c(const MaxPoolBf16x16c& a) {
  for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
    for (int64_t ox = 0; ox < a.ow; ++ox) {
      for (int64_t l = 0; l < kBf16Block; ++l) {
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t ky = 0; ky < a.kh; ++ky) {
          for (int64_t kx = 0; kx < a.kw; ++kx) {
            const int64_t iy = oy * a.sh - a.ph + ky * a.dh, ix = ox * a.sw - a.pw + kx * a.dw;
            if (iy < 0 || iy >= a.H || ix < 0 || ix >= a.W) continue;
            const float x = bf16::to_f32(a.x[(iy * a.W + ix) * kBf16Block + l]);
            m = m > x ? m : x;
          }
        }
        a.y[(oy * a.ow + ox) * kBf16Block + l] = l < a.lanes ? bf16::from_f32(m) : 0;
      }
    }
  }
}

void to_blocked_bf16(const float* xf, const uint16_t* xh, int64_t P, int64_t cw, uint16_t* y) {
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t c = 0; c < kBf16Block; ++c) {
      y[p * kBf16Block + c] = c >= cw ? 0 : xf ? bf16::from_f32(xf[c * P + p]) : xh[c * P + p];
    }
  }
}

void block_mean_bf16(const uint16_t* x, int64_t blocks, int64_t P, float* means) {
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t l = 0; l < kBf16Block; ++l) {
      float s = 0.f;
      for (int64_t p = 0; p < P; ++p) s = s + bf16::to_f32(x[(b * P + p) * kBf16Block + l]);
      means[b * kBf16Block + l] = s / static_cast<float>(P);
    }
  }
}

}  // namespace ref

void pointwise_bf16x16c_per_image(const PointwiseBf16x16c& a, PointwiseBf16x16cFn one) {
  const int64_t CB = (a.C + kBf16Block - 1) / kBf16Block, MB = (a.M + kBf16Block - 1) / kBf16Block;
  for (int64_t n = a.p0 / a.P; n < a.N && n * a.P < a.p1; ++n) {
    PointwiseBf16x16c b = a;
    b.N = 1;
    b.x = a.x + n * CB * a.P * kBf16Block;
    b.residual = a.residual ? a.residual + n * MB * a.P * kBf16Block : nullptr;
    b.y = a.y + n * MB * a.P * kBf16Block;
    b.p0 = std::max<int64_t>(a.p0 - n * a.P, 0);
    b.p1 = std::min(a.p1 - n * a.P, a.P);
    one(b);
  }
}
}  // namespace kernels
}  // namespace int8rt
