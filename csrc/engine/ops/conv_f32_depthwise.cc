// The float32 Conv layer's depthwise convolutions (group == C == M, in FP32
// C == M == 1 too: conv_f32.cc; class in
// engine/ops/conv_f32_layer.h): FP32 on the dwconv_f32 kernel family
// (kernels/dwconv_f32.h) in runs of output planes, BF16 on the dwconv_bf16
// kernel (ops/bf16_depthwise.h); bias, residual and Relu / Clip in the
// kernel before its store, another activation over the output after it.
#include <algorithm>

#include "core/thread_pool.h"
#include "engine/ops/conv_f32_layer.h"

namespace int8rt {
namespace engine {

void ConvF32Layer::depthwise(const float* x, const float* w, const float* bias, const float* res, float* y,
               const ConvGeom& g) const {
  const int64_t P = g.oh * g.ow;
  int64_t run = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, P));
  // whole channel groups for the channel-blocked walks (16 channels on
  // AVX-512, 8 on AVX2); with C = 16k + 8 (MobileNetV3's 72, 120, ...)
  // also 16, so that a batch-1 run's groups start at multiples of 16
  if (g.C % 16 == 0 || (g.C % 8 == 0 && g.C > 16)) {
    run = (run + 15) / 16 * 16;
  } else if (g.C % 8 == 0) {
    run = (run + 7) / 8 * 8;
  }
  const kernels::SgemmEpilogue& clip = fused_;
  kernels::DwConvF32Plane p;
  p.x = x; p.w = w; p.bias = bias; p.y = y; p.C = g.C;
  p.residual = res;
  p.clip = clip.clip; p.lo = clip.lo; p.hi = clip.hi;
  p.H = g.H; p.W = g.W; p.oh = g.oh; p.ow = g.ow; p.kh = g.kh; p.kw = g.kw;
  p.sh = g.sh; p.sw = g.sw; p.dh = g.dh; p.dw = g.dw; p.ph = g.ph; p.pw = g.pw;
  parallel_for(g.N * g.C, run, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t += run) {
      kernels::DwConvF32Plane part = p;
      part.first = t;
      part.count = std::min(run, end - t);
      dw_->plane(part);
      if (!p.clip) act_.apply(y + t * P, part.count * P);
    }
  });
}

void ConvF32Layer::depthwise_bf16(const void* x, bool x_bf16, const float* bias, const float* res, void* y,
                    const ConvGeom& g) const {
  Bf16DepthwiseRun r;
  r.x = x;
  r.x_bf16 = x_bf16;
  r.bias = bias;
  r.residual = res;
  r.y = y;
  r.y_bf16 = y16_;
  r.clip = fused_.clip; r.lo = fused_.lo; r.hi = fused_.hi;
  r.N = g.N; r.C = g.C; r.H = g.H; r.W = g.W; r.oh = g.oh; r.ow = g.ow; r.kh = g.kh; r.kw = g.kw;
  r.sh = g.sh; r.sw = g.sw; r.dh = g.dh; r.dw = g.dw; r.ph = g.ph; r.pw = g.pw;
  dw16_->run(r);
  if (!fused_.clip && !y16_) act_.apply(static_cast<float*>(y), g.N * g.M * g.oh * g.ow);
}

}  // namespace engine
}  // namespace int8rt
