// Reference float32 <-> int8 conversion of contiguous arrays.
//
//   quantize:   inv = 1.0f / scale (once);  q = rne(min(max(x * inv, -128), 127))
//   dequantize: x = (float)q * scale
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

void quantize_s8(int64_t n, const float* x, float scale, int8_t* q) {
  check(n, scale, "quantize_s8");
  const float inv_scale = 1.0f / scale;
  parallel_for(n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) q[i] = quantize_value(x[i], inv_scale);
  });
}

void dequantize_s8(int64_t n, const int8_t* q, float scale, float* x) {
  check(n, scale, "dequantize_s8");
  parallel_for(n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] = dequantize_value(q[i], scale);
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
