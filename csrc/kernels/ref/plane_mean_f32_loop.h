// The order of the plane_mean_f32 family (kernels/plane_mean_f32.h): the mean
// of each of `planes` contiguous planes of `size` floats, the sum in a fixed
// order: element i into partial sum i % 16 (each partial in ascending i),
// then the 16 partials combined pairwise (p[j] + p[j + 8], then + 4, + 2,
// + 1), then one division by size. Sixteen independent add chains instead
// of one: one chain bound a 112x112 plane's mean by the add latency
// (EfficientNet-B0's SE pools 2.0 ms of 31 at batch 1 on Zen 3, RESULTS.md
// section 59), and the rounding error grows with size / 16 + 4 terms
// instead of size. Every operation is one IEEE addition (or the division)
// on one element, so the reference tier, which compiles this loop
// (ref/plane_mean_f32.cc), and the AVX2 and AVX-512 tiers, which spell the
// same operations in the same order in intrinsics (x86/<isa>/
// plane_mean_f32.cc), give the same bits. `static inline` as
// binary_f32_loop.h: no ISA-flagged copy can replace the baseline one at
// link time (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {
namespace ref {

static inline float plane_sum_f32(const float* s, int64_t n) {
  float p[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) p[j] += s[i + j];
  }
  for (int j = 0; i + j < n; ++j) p[j] += s[i + j];
  for (int w = 8; w >= 1; w /= 2) {
    for (int j = 0; j < w; ++j) p[j] = p[j] + p[j + w];
  }
  return p[0];
}

static inline void plane_mean_f32_loop(const float* x, int64_t planes, int64_t size, float* y) {
  for (int64_t p = 0; p < planes; ++p) y[p] = plane_sum_f32(x + p * size, size) / static_cast<float>(size);
}

// The vector tiers' walk over the planes: four at a time (four planes' add
// chains interleaved), then one at a time; four(x, y) and one(x, y) are
// the tier's means of the planes at x into y.
template <class Four, class One>
static inline void plane_mean_in_fours(const float* x, int64_t planes, int64_t size, float* y, Four four, One one) {
  int64_t p = 0;
  for (; p + 4 <= planes; p += 4) four(x + p * size, y + p);
  for (; p < planes; ++p) one(x + p * size, y + p);
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
