// The reference BF16 attention operand converters (contract in
// kernels/abi/attention_bf16.h): plain loops over bf16::from_f32, one FP32
// multiply first where a scale is given. The spec the AVX512-BF16 twin
// (x86/avx512bf16/attention_bf16_8x32.cc) reproduces bit for bit.
#include <algorithm>

#include "kernels/abi/attention_bf16.h"
#include "kernels/ref/bf16.h"

namespace int8rt {
namespace kernels {
namespace ref {
namespace {

inline uint16_t value(float x, const float* scale) { return bf16::from_f32(scale ? x * *scale : x); }

}  // namespace

void bf16_scaled_rows(const float* src, int64_t ld, int64_t rows, int64_t cols, const float* scale, uint16_t* dst,
                      int64_t dst_ld) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) dst[r * dst_ld + c] = value(src[r * ld + c], scale);
    if (cols % 2) dst[r * dst_ld + cols] = 0;
  }
}

void bf16_scaled_panel(const float* src, int64_t ld, int64_t k, int64_t n, bool keys, const float* scale, int nr,
                       uint16_t* dst) {
  const int64_t pairs = (k + 1) / 2, panels = (n + nr - 1) / nr;
  for (int64_t q = 0; q < panels; ++q) {
    uint16_t* panel = dst + q * pairs * nr * 2;
    for (int64_t p = 0; p < pairs; ++p) {
      for (int j = 0; j < nr; ++j) {
        const int64_t col = q * nr + j;
        for (int h = 0; h < 2; ++h) {
          const int64_t kk = 2 * p + h;
          uint16_t v = 0;
          if (col < n && kk < k) v = value(keys ? src[col * ld + kk] : src[kk * ld + col], scale);
          panel[(p * nr + j) * 2 + h] = v;
        }
      }
    }
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
