// The normalisation rules (the layernorm_f32 family, kernels/layernorm_f32.h),
// loops every tier compiles with its own flags (no FMA contraction, no
// reassociation: -ffp-contract=off, so every tier gives the same bits).
//
// moments: the statistics of the normalisation layers (LayerNormalization,
// InstanceNormalization, GroupNormalization): mean and 1 / sqrt(var + eps)
// of n floats, accumulated in double in two passes and rounded to float
// once, so the result does not depend on the summation order beyond that
// rounding. Each pass keeps four partial sums (elements i mod 4; the tail
// goes to lane i mod 4 too), added pairwise at the end, held in a vector of
// 4 doubles (a GCC/Clang vector extension: lane-wise IEEE operations, so the
// bits do not depend on the vector width).
//
// layernorm_rows: per row of n values, y = (x - mean) * inv_std * scale + bias
// (bias optional), the LayerNormalization layer's arithmetic in that order.
//
// Every function is `static inline` (STYLE.md, "ISA code is fenced"): each
// ISA translation unit keeps its own copies.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace int8rt {
namespace kernels {
namespace ref {

struct Moments {
  float mean = 0.f;
  float inv_std = 0.f;  // 1 / sqrt(variance + eps), variance = sum((x - mean)^2) / n
};

typedef double Lanes4d __attribute__((vector_size(32)));

static inline Moments moments(const float* x, int64_t n, double eps) {
  Lanes4d s = {0.0, 0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const Lanes4d v = {x[i], x[i + 1], x[i + 2], x[i + 3]};
    s += v;
  }
  for (; i < n; ++i) s[i % 4] += x[i];
  const double mean = ((s[0] + s[1]) + (s[2] + s[3])) / static_cast<double>(n);
  Lanes4d q = {0.0, 0.0, 0.0, 0.0};
  const Lanes4d m = {mean, mean, mean, mean};
  for (i = 0; i + 4 <= n; i += 4) {
    const Lanes4d d = Lanes4d{x[i], x[i + 1], x[i + 2], x[i + 3]} - m;
    q += d * d;
  }
  for (; i < n; ++i) q[i % 4] += (x[i] - mean) * (x[i] - mean);
  const double sq = (q[0] + q[1]) + (q[2] + q[3]);
  return {static_cast<float>(mean), static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(n) + eps))};
}

// rows x [rows][n] -> y; scale [n]; bias [n] or null; mean_out / inv_out
// [rows] or null.
struct LayerNormRows {
  const float* scale = nullptr;
  const float* bias = nullptr;
  double eps = 0.0;
  float* mean_out = nullptr;
  float* inv_out = nullptr;
};

static inline void layernorm_rows_loop(int64_t rows, int64_t n, const float* x, const LayerNormRows& a, float* y,
                                       int64_t first_row) {
  const float* scale = a.scale;
  const float* bias = a.bias;
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = x + r * n;
    float* d = y + r * n;
    const Moments st = moments(s, n, a.eps);
    const float m = st.mean, f = st.inv_std;
    if (bias) {
      for (int64_t i = 0; i < n; ++i) d[i] = (s[i] - m) * f * scale[i] + bias[i];
    } else {
      for (int64_t i = 0; i < n; ++i) d[i] = (s[i] - m) * f * scale[i];
    }
    if (a.mean_out) a.mean_out[first_row + r] = m;
    if (a.inv_out) a.inv_out[first_row + r] = f;
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
