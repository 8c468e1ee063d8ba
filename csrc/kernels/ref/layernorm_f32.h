// The normalisation rules (the layernorm_f32 family, kernels/layernorm_f32.h),
// loops every tier compiles with its own flags (no FMA contraction, no
// reassociation: -ffp-contract=off, so every tier gives the same bits).
//
// moments: the statistics of the normalisation layers (LayerNormalization,
// InstanceNormalization, GroupNormalization): mean and 1 / sqrt(var + eps)
// of n floats, accumulated in double in two passes and rounded to float
// once. Each pass keeps 16 partial sums (lane l takes the elements
// i = l mod 16, the tail included), held in vectors of doubles (a GCC/Clang
// vector extension: lane-wise IEEE operations, so the bits do not depend on
// the vector width), and adds them at the end as a fixed tree (lane l + lane l + 8, then + 4, + 2,
// + 1). Sixteen lanes are independent dependency chains: with four, each
// pass waited on one vector add's latency per four values (a LayerNorm of
// BERT's 256 values took 1.3 cycles per value).
//
// layernorm_rows: per row of n values, y = (x - mean) * inv_std * scale + bias
// (bias optional), the LayerNormalization layer's arithmetic in that order.
// With a residual (graph/passes fuse_add_layernorm: Add -> LayerNormalization
// as one layer) the row normalised is first s = x + residual, the float Add
// (operands in that order), kept in sum_out when the sum has other readers.
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

// The 16 lanes as four vectors of 4 doubles (lanes 4k .. 4k + 3 in part k):
// GCC keeps a generic vector wider than the machine's in memory across loop
// iterations, so one 16-double vector would be loaded and stored per step.
typedef double Lanes4d __attribute__((vector_size(32)));
typedef int64_t LaneMask4 __attribute__((vector_size(32)));
struct Lanes16d {
  Lanes4d part[4];
};

// lane 0 + ... + lane 15 as the fixed tree above.
static inline double lane_tree_sum(const Lanes16d& v) {
  const Lanes4d h8[2] = {v.part[0] + v.part[2], v.part[1] + v.part[3]};  // lane l + lane l + 8
  const Lanes4d h4 = h8[0] + h8[1];                                        // + 4
  const double h2[2] = {h4[0] + h4[2], h4[1] + h4[3]};                     // + 2
  return h2[0] + h2[1];                                                    // + 1
}

static inline Moments moments(const float* x, int64_t n, double eps) {
  const int64_t full = n - n % 16;
  float tail[16] = {};  // the last n % 16 values in lanes 0 .., zeros after
  std::memcpy(tail, x + full, static_cast<size_t>(n - full) * sizeof(float));
  Lanes16d s = {};
  for (int64_t i = 0; i < full; i += 16) {
    for (int k = 0; k < 4; ++k) s.part[k] += Lanes4d{x[i + 4 * k], x[i + 4 * k + 1], x[i + 4 * k + 2], x[i + 4 * k + 3]};
  }
  if (full < n) {
    for (int k = 0; k < 4; ++k) s.part[k] += Lanes4d{tail[4 * k], tail[4 * k + 1], tail[4 * k + 2], tail[4 * k + 3]};  // + 0.0: dead lanes
  }
  const double mean = lane_tree_sum(s) / static_cast<double>(n);
  const Lanes4d m = Lanes4d{} + mean;
  Lanes16d q = {};
  for (int64_t i = 0; i < full; i += 16) {
    for (int k = 0; k < 4; ++k) {
      const Lanes4d d = Lanes4d{x[i + 4 * k], x[i + 4 * k + 1], x[i + 4 * k + 2], x[i + 4 * k + 3]} - m;
      q.part[k] += d * d;
    }
  }
  if (full < n) {
    const int64_t rem = n - full;
    for (int k = 0; k < 4; ++k) {
      const Lanes4d d = Lanes4d{tail[4 * k], tail[4 * k + 1], tail[4 * k + 2], tail[4 * k + 3]} - m;
      const LaneMask4 live = LaneMask4{4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3} < rem;
      q.part[k] += reinterpret_cast<Lanes4d>(reinterpret_cast<LaneMask4>(d * d) & live);
    }
  }
  return {static_cast<float>(mean),
          static_cast<float>(1.0 / std::sqrt(lane_tree_sum(q) / static_cast<double>(n) + eps))};
}

// rows x [rows][n] -> y; scale [n]; bias [n] or null; mean_out / inv_out
// [rows] or null.
struct LayerNormRows {
  const float* scale = nullptr;
  const float* bias = nullptr;
  double eps = 0.0;
  float* mean_out = nullptr;
  float* inv_out = nullptr;
  const float* residual = nullptr;  // [rows][n] (indexed from row 0, as mean_out) or null
  float* sum_out = nullptr;         // [rows][n] x + residual, or null (then y holds it first)
};

static inline void layernorm_rows_loop(int64_t rows, int64_t n, const float* x, const LayerNormRows& a, float* y,
                                       int64_t first_row) {
  const float* scale = a.scale;
  const float* bias = a.bias;
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = x + r * n;
    float* d = y + r * n;
    if (a.residual) {
      const float* q = a.residual + (first_row + r) * n;
      float* t = a.sum_out ? a.sum_out + (first_row + r) * n : d;
      for (int64_t i = 0; i < n; ++i) t[i] = s[i] + q[i];
      s = t;  // normalised in place when t is d: each y[i] reads s[i] only
    }
    const Moments st = moments(s, n, a.eps);
    const float m = st.mean, f = st.inv_std;
    // In place (s is d) through d alone: GCC's overlap check would send a
    // loop reading s and writing d to its scalar version when they coincide.
    if (s == d && bias) {
      for (int64_t i = 0; i < n; ++i) d[i] = (d[i] - m) * f * scale[i] + bias[i];
    } else if (s == d) {
      for (int64_t i = 0; i < n; ++i) d[i] = (d[i] - m) * f * scale[i];
    } else if (bias) {
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
