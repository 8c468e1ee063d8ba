// Reference int8 channel gate (ref_kernels.h, int8rt.QChannelMul): every
// channel of an int8 NHWC image multiplied by that image's float gate value
// and requantized:
//   m[n][c] = gate[n][c] * (s_x / s_y)
//   y[n][p][c] = rne(min(max((float)x[n][p][c] * m[n][c], -128), 127))
// and its table form (channel_mul_table_s8): x read through a 256-entry
// float table, multiplied by the gate and quantized as the float path does:
//   y[n][p][c] = quantize_value(table[x[n][p][c] + 128] * gate[n][c], 1.0f / s_y)
#include <cmath>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace ref {

void channel_mul_s8(int64_t N, int64_t HW, int64_t C, const int8_t* x, const float* gate, int64_t gate_batch,
                    float s_x, float s_y, int8_t* y) {
  if (N < 0 || HW < 0 || C <= 0 || (gate_batch != 1 && gate_batch != N)) {
    throw InvalidArgument("channel_mul_s8: need N, HW >= 0, C > 0 and a gate of batch 1 or N");
  }
  if (!(std::isfinite(s_x) && s_x > 0.0f && std::isfinite(s_y) && s_y > 0.0f)) {
    throw InvalidArgument("channel_mul_s8: scales must be finite and > 0");
  }
  const float ratio = s_x / s_y;
  parallel_for(N * HW, grain_for_work(C), [&](int64_t begin, int64_t end) {
    std::vector<float> m(static_cast<size_t>(C));
    int64_t m_image = -1;
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / HW;
      if (n != m_image) {
        const float* g = gate + (gate_batch == 1 ? 0 : n) * C;
        for (int64_t c = 0; c < C; ++c) m[c] = g[c] * ratio;
        m_image = n;
      }
      const int8_t* xr = x + row * C;
      int8_t* yr = y + row * C;
      for (int64_t c = 0; c < C; ++c) yr[c] = rescale_value(xr[c], m[c], -128.0f, 127.0f);
    }
  });
}

void channel_mul_table_s8(int64_t N, int64_t HW, int64_t C, const int8_t* x, const float* table,
                          const float* gate, int64_t gate_batch, float s_y, int8_t* y) {
  if (N < 0 || HW < 0 || C <= 0 || (gate_batch != 1 && gate_batch != N)) {
    throw InvalidArgument("channel_mul_table_s8: need N, HW >= 0, C > 0 and a gate of batch 1 or N");
  }
  if (!(std::isfinite(s_y) && s_y > 0.0f)) throw InvalidArgument("channel_mul_table_s8: s_y must be finite and > 0");
  const float inv = 1.0f / s_y;
  parallel_for(N * HW, grain_for_work(C), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const float* g = gate + (gate_batch == 1 ? 0 : row / HW) * C;
      const int8_t* xr = x + row * C;
      int8_t* yr = y + row * C;
      for (int64_t c = 0; c < C; ++c) yr[c] = quantize_value(table[xr[c] + 128] * g[c], inv);
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
