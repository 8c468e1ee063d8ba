// Reference int8 pooling, NHWC (the spec).
//
//   max:  y[n][oh][ow][c] = max of x over the window positions inside the input
//         (padding is skipped; output scale = input scale, no rescale).
//   avg:  sum   = sum of x over the window positions inside the input (int32)
//         count = count_include_pad ? R*S : number of those positions
//         m     = s_in / (s_out * (float)count)   (one table entry per count)
//         y     = rne(min(max((float)(sum - positions * z_in) * m + (float)z_out, -128), 127))
//         (zero points: code q stands for s_in * (q - z_in), padding for 0)
//   global avg: the avg formula with one window covering all H*W positions;
//         its table form (global_avgpool_table_s8) averages table[x + 128] in
//         float, as the float GlobalAveragePool, and quantizes the mean.
// Windows start at (oh*stride_h - pad_top, ow*stride_w - pad_left); pads are
// smaller than the window (PoolShape::validate), so no window is empty.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace ref {
namespace {

void check_scales(float s_in, float s_out, const char* op) {
  for (float s : {s_in, s_out}) {
    if (!(std::isfinite(s) && s > 0.0f)) {
      throw InvalidArgument(std::string(op) + ": scales must be finite and > 0");
    }
  }
}

// y = rne(min(max((float)sum * m + z_out, -128), 127)), the product rounded
// to float before the add (no FMA).
int8_t avg_output(int32_t sum, float m, float z_out = 0.0f) {
  const float product = static_cast<float>(sum) * m;
  const float t = product + z_out;
  return round_to_s8(clamp_upper(clamp_lower(t, -128.0f), 127.0f));
}

// Visits every output pixel: fn(n, r0, r1, s0, s1, out) with its window
// clipped to the input rows [r0, r1) and columns [s0, s1); `out` is the flat
// index of the pixel's channel 0 in y.
template <typename Fn>
void for_each_window(const PoolShape& p, int batch, const Fn& fn) {
  const int OH = p.out_h(), OW = p.out_w();
  const int64_t rows = static_cast<int64_t>(batch) * OH;
  parallel_for(rows, p.row_grain(), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / OH;
      const int oh = static_cast<int>(row % OH);
      const int h0 = oh * p.stride_h - p.pad_top;
      const int r0 = std::max(h0, 0), r1 = std::min(h0 + p.R, p.H);
      for (int ow = 0; ow < OW; ++ow) {
        const int w0 = ow * p.stride_w - p.pad_left;
        const int s0 = std::max(w0, 0), s1 = std::min(w0 + p.S, p.W);
        fn(n, r0, r1, s0, s1, ((n * OH + oh) * OW + ow) * p.C);
      }
    }
  });
}

}  // namespace

void check_pool_zero_points(int32_t z_in, int32_t z_out, const char* op) {
  for (int32_t z : {z_in, z_out}) {
    if (z < -128 || z > 127) throw InvalidArgument(std::string(op) + ": zero points must be in [-128, 127]");
  }
}

void maxpool_s8(const PoolShape& p, int batch, const int8_t* x, int8_t* y) {
  p.validate();
  if (batch < 0) throw InvalidArgument("maxpool_s8: batch must be >= 0");
  for_each_window(p, batch, [&](int64_t n, int r0, int r1, int s0, int s1, int64_t out) {
    for (int c = 0; c < p.C; ++c) {
      int8_t best = -128;
      for (int h = r0; h < r1; ++h) {
        for (int w = s0; w < s1; ++w) {
          best = std::max(best, x[((n * p.H + h) * p.W + w) * p.C + c]);
        }
      }
      y[out + c] = best;
    }
  });
}

void avgpool_s8(const PoolShape& p, int batch, const int8_t* x, float s_in, float s_out,
                int8_t* y, int32_t z_in, int32_t z_out) {
  p.validate();
  check_scales(s_in, s_out, "avgpool_s8");
  check_pool_zero_points(z_in, z_out, "avgpool_s8");
  if (batch < 0) throw InvalidArgument("avgpool_s8: batch must be >= 0");
  const float zy = static_cast<float>(z_out);
  std::vector<float> m(static_cast<size_t>(p.R) * p.S + 1, 0.0f);
  for (size_t count = 1; count < m.size(); ++count) m[count] = avgpool_multiplier(s_in, s_out, count);
  for_each_window(p, batch, [&](int64_t n, int r0, int r1, int s0, int s1, int64_t out) {
    const int positions = (r1 - r0) * (s1 - s0);
    const int count = p.count_include_pad ? p.R * p.S : positions;
    for (int c = 0; c < p.C; ++c) {
      int32_t sum = 0;
      for (int h = r0; h < r1; ++h) {
        for (int w = s0; w < s1; ++w) sum += x[((n * p.H + h) * p.W + w) * p.C + c];
      }
      y[out + c] = avg_output(sum - positions * z_in, m[count], zy);
    }
  });
}

void global_avgpool_s8(int batch, int64_t HW, int C, const int8_t* x, float s_in, float s_out,
                       int8_t* y) {
  check_scales(s_in, s_out, "global_avgpool_s8");
  if (batch < 0 || HW <= 0 || C <= 0 || HW > kMaxReduction) {
    throw InvalidArgument("global_avgpool_s8: need batch >= 0, C > 0 and 0 < H*W <= " +
                          std::to_string(kMaxReduction));
  }
  const float m = avgpool_multiplier(s_in, s_out, HW);
  parallel_for(static_cast<int64_t>(batch) * C, 64, [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / C, c = nc % C;
      int32_t sum = 0;
      for (int64_t i = 0; i < HW; ++i) sum += x[(n * HW + i) * C + c];
      y[nc] = avg_output(sum, m);
    }
  });
}

void global_avgpool_table_s8(int batch, int64_t HW, int C, const int8_t* x, const float* table, float s_out,
                             int8_t* y) {
  check_scales(s_out, s_out, "global_avgpool_table_s8");
  if (batch < 0 || HW <= 0 || C <= 0) {
    throw InvalidArgument("global_avgpool_table_s8: need batch >= 0, C > 0 and H*W > 0");
  }
  const float inv = 1.0f / s_out;
  parallel_for(static_cast<int64_t>(batch) * C, 64, [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / C, c = nc % C;
      float sum = 0.0f;
      for (int64_t i = 0; i < HW; ++i) sum += table[x[(n * HW + i) * C + c] + 128];
      y[nc] = quantize_value(sum / static_cast<float>(HW), inv);
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
