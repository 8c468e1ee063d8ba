// The BF16 depthwise conv's weights and run (bf16_depthwise.h): runs of
// about 16K outputs per kernel call, each task with its own workspace.
#include "engine/ops/bf16_depthwise.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/bf16.h"

namespace int8rt {
namespace engine {

namespace bf16 = kernels::bf16;

Bf16Depthwise::Bf16Depthwise(const float* w, int64_t C, int64_t taps)
    : w_(static_cast<size_t>(C * taps)), C_(C), taps_(taps),
      kernel_(&kernels::choose<kernels::DwConvBf16Kernel>(taps)) {
  for (size_t i = 0; i < w_.size(); ++i) w_[i] = bf16::to_f32(bf16::from_f32(w[i]));
}

std::string Bf16Depthwise::describe() const { return std::string(" kernel=") + kernel_->name(); }

void Bf16Depthwise::run(const Bf16DepthwiseRun& r) const {
  if (r.C != C_ || r.kh * r.kw != taps_) {
    throw InvalidArgument("bf16 depthwise: packed for " + std::to_string(C_) + " channels and " +
                          std::to_string(taps_) + " taps, run with " + std::to_string(r.C) + " and " +
                          std::to_string(r.kh * r.kw));
  }
  const int64_t planes = r.N * r.C, P = r.oh * r.ow;
  if (planes == 0 || P == 0) return;
  const uint16_t* x16 = static_cast<const uint16_t*>(r.x);
  thread_local std::vector<uint16_t> rounded;  // a float32 input, rounded once
  if (!r.x_bf16) {
    const float* x = static_cast<const float*>(r.x);
    rounded.resize(static_cast<size_t>(planes * r.H * r.W));
    uint16_t* dst = rounded.data();  // the caller's thread_local, written by the workers
    parallel_for(planes, 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin * r.H * r.W; i < end * r.H * r.W; ++i) dst[i] = bf16::from_f32(x[i]);
    });
    x16 = dst;
  }
  kernels::DwConvBf16Plane p;
  p.x = x16; p.w = w_.data(); p.bias = r.bias; p.residual = r.residual;
  p.y = r.y_bf16 ? nullptr : static_cast<float*>(r.y);
  p.y16 = r.y_bf16 ? static_cast<uint16_t*>(r.y) : nullptr;
  p.clip = r.clip; p.lo = r.lo; p.hi = r.hi; p.C = r.C;
  p.H = r.H; p.W = r.W; p.oh = r.oh; p.ow = r.ow; p.kh = r.kh; p.kw = r.kw;
  p.sh = r.sh; p.sw = r.sw; p.dh = r.dh; p.dw = r.dw; p.ph = r.ph; p.pw = r.pw;
  const int64_t work = kernels::dwconv_bf16_work_floats(p);
  // About 16K outputs per call; with the kernel's channel-blocked walk
  // (p.blk_rows > 0) rounded up to whole runs of 16 planes, so no plane of a
  // call is left to the per-plane walks but the tensor's last N * C % 16.
  const int64_t per = std::max<int64_t>(1, 16384 / P);
  const int64_t run = p.blk_rows > 0 ? (per + 15) / 16 * 16 : per;
  parallel_for(planes, run, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> ws;
    ws.resize(static_cast<size_t>(work));
    for (int64_t t = begin; t < end; t += run) {
      kernels::DwConvBf16Plane part = p;
      part.work = ws.data();
      part.first = t;
      part.count = std::min(run, end - t);
      kernel_->plane(part);
    }
  });
}

}  // namespace engine
}  // namespace int8rt
