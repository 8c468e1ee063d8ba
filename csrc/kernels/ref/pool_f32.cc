// FP32 pooling, NCHW, for the FP32 path and calibration:
//   max: maximum over the window positions inside the input (padding skipped)
//   avg: sum over the positions inside the input in row-major order, then
//        divided by count = count_include_pad ? R*S : that number of positions
//   global avg: sum over H*W in order, divided by (float)(H*W)
#include <algorithm>
#include <cstdint>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"

namespace int8rt {
namespace kernels {
namespace ref {
namespace {

// Runs fn(x_plane, y_plane) for every (n, c) plane of an NCHW pooling.
template <typename Fn>
void for_each_plane(const PoolShape& p, int batch, const float* x, float* y, const Fn& fn) {
  p.validate();
  if (batch < 0) throw InvalidArgument("pool_f32: batch must be >= 0");
  const int64_t in_plane = static_cast<int64_t>(p.H) * p.W;
  const int64_t out_plane = static_cast<int64_t>(p.out_h()) * p.out_w();
  const int64_t work = out_plane * p.R * p.S;
  const int64_t grain = grain_for_work(work);
  parallel_for(static_cast<int64_t>(batch) * p.C, grain, [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) fn(x + nc * in_plane, y + nc * out_plane);
  });
}

template <typename Reduce>
void pool_plane(const PoolShape& p, const float* x, float* y, const Reduce& reduce) {
  const int OH = p.out_h(), OW = p.out_w();
  for (int oh = 0; oh < OH; ++oh) {
    const int h0 = oh * p.stride_h - p.pad_top;
    const int r0 = std::max(h0, 0), r1 = std::min(h0 + p.R, p.H);
    for (int ow = 0; ow < OW; ++ow) {
      const int w0 = ow * p.stride_w - p.pad_left;
      const int s0 = std::max(w0, 0), s1 = std::min(w0 + p.S, p.W);
      y[oh * OW + ow] = reduce(x, r0, r1, s0, s1);
    }
  }
}

}  // namespace

void maxpool_f32(const PoolShape& p, int batch, const float* x, float* y) {
  for_each_plane(p, batch, x, y, [&](const float* xp, float* yp) {
    pool_plane(p, xp, yp, [&](const float* v, int r0, int r1, int s0, int s1) {
      float best = v[r0 * p.W + s0];
      for (int h = r0; h < r1; ++h) {
        for (int w = s0; w < s1; ++w) best = std::max(best, v[h * p.W + w]);
      }
      return best;
    });
  });
}

void avgpool_f32(const PoolShape& p, int batch, const float* x, float* y) {
  for_each_plane(p, batch, x, y, [&](const float* xp, float* yp) {
    pool_plane(p, xp, yp, [&](const float* v, int r0, int r1, int s0, int s1) {
      float sum = 0.0f;
      for (int h = r0; h < r1; ++h) {
        for (int w = s0; w < s1; ++w) sum = sum + v[h * p.W + w];
      }
      const int count = p.count_include_pad ? p.R * p.S : (r1 - r0) * (s1 - s0);
      return sum / static_cast<float>(count);
    });
  });
}

void global_avgpool_f32(int batch, int C, int64_t HW, const float* x, float* y) {
  if (batch < 0 || C <= 0 || HW <= 0) {
    throw InvalidArgument("global_avgpool_f32: need batch >= 0, C > 0, H*W > 0");
  }
  const int64_t grain = HW >= 65536 ? 1 : 65536 / HW + 1;
  parallel_for(static_cast<int64_t>(batch) * C, grain, [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const float* xp = x + nc * HW;
      float sum = 0.0f;
      for (int64_t i = 0; i < HW; ++i) sum = sum + xp[i];
      y[nc] = sum / static_cast<float>(HW);
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
