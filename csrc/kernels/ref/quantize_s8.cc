// Reference float32 <-> int8 conversion of contiguous arrays.
//
//   quantize:   inv = 1.0f / scale (once);  q = rne(min(max(x * inv + z, -128), 127))
//   dequantize: x = (float)q * scale
// and the layout-changing variants (float NCHW <-> int8 NHWC), which apply
// the same element formula at transposed positions.
// (requantize.h: quantize_value / dequantize_value; NaN quantizes to -128.)
#include <cmath>
#include <cstdint>
#include <string>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace ref {
namespace {

constexpr int64_t kGrain = 1 << 16;

void check(int64_t n, float scale, const char* op) {
  if (n < 0) throw InvalidArgument(std::string(op) + ": negative element count");
  if (!(std::isfinite(scale) && scale > 0.0f)) {
    throw InvalidArgument(std::string(op) + ": scale must be finite and > 0, got " +
                          std::to_string(scale));
  }
}

}  // namespace

void quantize_s8(int64_t n, const float* x, float scale, int32_t zero_point, int8_t* q) {
  check(n, scale, "quantize_s8");
  const float inv_scale = 1.0f / scale, z = static_cast<float>(zero_point);
  parallel_for(n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) q[i] = quantize_value(x[i], inv_scale, z);
  });
}

void dequantize_s8(int64_t n, const int8_t* q, float scale, float* x) {
  check(n, scale, "dequantize_s8");
  parallel_for(n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] = dequantize_value(q[i], scale);
  });
}

void quantize_nchw_to_nhwc_s8(int64_t N, int64_t C, int64_t HW, const float* x, float scale,
                              int32_t zero_point, int8_t* q) {
  check(N < 0 || C < 0 || HW < 0 ? -1 : N * C * HW, scale, "quantize_nchw_to_nhwc_s8");
  const float inv_scale = 1.0f / scale, z = static_cast<float>(zero_point);
  parallel_for(N * HW, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t n = p / HW, hw = p % HW;
      const float* src = x + n * C * HW + hw;
      int8_t* dst = q + p * C;
      for (int64_t c = 0; c < C; ++c) dst[c] = quantize_value(src[c * HW], inv_scale, z);
    }
  });
}

void dequantize_nhwc_to_nchw_s8(int64_t N, int64_t HW, int64_t C, const int8_t* q, float scale,
                                float* x) {
  check(N < 0 || C < 0 || HW < 0 ? -1 : N * C * HW, scale, "dequantize_nhwc_to_nchw_s8");
  parallel_for(N * C, 16, [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / C, c = nc % C;
      const int8_t* src = q + n * HW * C + c;
      float* dst = x + nc * HW;
      for (int64_t p = 0; p < HW; ++p) dst[p] = dequantize_value(src[p * C], scale);
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
