// The BF16 channel-blocked layers that run on the nchw16c_bf16 family's
// depthwise kernel as a 1x1 window (int8rt.AddBf16x16c: taps 1, the second
// input as the residual, ops/bf16_blocked_moves.cc; int8rt.ChannelScaleBf16x16c:
// taps an image's gates, ops/bf16_blocked_scale.cc): the kernel's arguments,
// and the row-run task split they share with the blocked Resize. Per lane,
// y = bf16(clip(fma(tap, x, -0) + r)): the bias -0 keeps a zero product's
// sign and leaves any other value as it is, then the kernel's epilogue
// (residual, fused clip, one rounding).
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/nchw16c_bf16.h"

namespace int8rt {
namespace engine {

// A 1x1-window layer's fused Relu / Clip (bf16_fused_clip): off, or the bounds.
struct UnitWindowClip {
  bool on = false;
  float lo = 0.f, hi = 0.f;
};

// Runs body(block, oy0, oy1) over `blocks` planes of H x W blocked pixels
// (images x channel blocks), each split into runs of rows of about 64 KiB of
// BF16 output (the blocked depthwise conv's task size), in parallel.
template <typename Body>
void for_bf16_row_tasks(int64_t blocks, int64_t H, int64_t W, const Body& body) {
  constexpr int64_t kTaskBytes = 64 << 10;
  const int64_t rows = std::min(H, std::max<int64_t>(1, kTaskBytes / (W * kernels::kBf16Block * 2)));
  const int64_t runs = (H + rows - 1) / rows;
  parallel_for(blocks * runs, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t oy0 = (t % runs) * rows;
      body(t / runs, oy0, std::min(H, oy0 + rows));
    }
  });
}

// Rows [oy0, oy1) of one H x W block plane: x, residual (or nullptr) and y
// point at the plane, taps at its 16 lanes' multipliers (`lanes` real ones).
inline void run_unit_window(const kernels::Nchw16cBf16Kernel& kernel, const uint16_t* x, const float* taps,
                            const uint16_t* residual, uint16_t* y, int64_t lanes, int64_t H, int64_t W, int64_t oy0,
                            int64_t oy1, const UnitWindowClip& clip) {
  static const float kMinusZero[kernels::kBf16Block] = {-0.f, -0.f, -0.f, -0.f, -0.f, -0.f, -0.f, -0.f,
                                                        -0.f, -0.f, -0.f, -0.f, -0.f, -0.f, -0.f, -0.f};
  kernels::DepthwiseBf16x16c a;
  a.x = x;
  a.w = taps;
  a.bias = kMinusZero;
  a.residual = residual;
  a.y = y;
  a.lanes = lanes;
  a.H = a.oh = H;
  a.W = a.ow = W;
  a.oy0 = oy0;
  a.oy1 = oy1;
  a.clip = clip.on;
  a.lo = clip.lo;
  a.hi = clip.hi;
  kernel.depthwise(a);
}

}  // namespace engine
}  // namespace int8rt
