// The softmax rules (kernels/softmax_f32.h, the "softmax" f32 family), one
// loop that every tier compiles with its own flags (no FMA contraction, no
// reassociation: -ffp-contract=off, so every tier gives the same bits):
//   softmax(x)_i = exp(x_i - max) / sum_j exp(x_j - max)
//   logsoftmax(x)_i = (x_i - max) - log(sum_j exp(x_j - max))
// over each of `rows` contiguous rows of n values. The maximum and the sum
// keep 8 partial lanes (lane l takes the values k = l mod 8 of the leading
// multiple of 8, the tail goes to lane 0), so their loops vectorise; exp is
// exp_f32 (math_f32.h). y may be x for softmax, not for log-softmax.
//
// attention_rows_f32 is int8rt.QAttention's step from scores to
// probabilities (engine/ops/int8/contracts.h, QAttentionAttrs), each
// operation the one its unfused layer performs, in the same order:
//   s = s * factor  (or s / factor)   the float Mul / Div by a scalar
//   s = s + mask                      the float Add (mask broadcast)
//   p = softmax(s)                    the rule above
//   p = isnan(p) ? 0 : p              Where(IsNaN(p), 0, p)
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/ref/math_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

inline void softmax_row_f32(const float* x, float* y, int64_t n, bool log) {
  constexpr int kLanes = 8;
  float m8[kLanes], s8[kLanes];
  for (int l = 0; l < kLanes; ++l) m8[l] = x[0];
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes) {
    for (int l = 0; l < kLanes; ++l) m8[l] = x[k + l] > m8[l] ? x[k + l] : m8[l];
  }
  float mx = m8[0];
  for (int l = 1; l < kLanes; ++l) mx = mx < m8[l] ? m8[l] : mx;
  for (; k < n; ++k) mx = mx < x[k] ? x[k] : mx;
  for (k = 0; k < n; ++k) y[k] = exp_f32(x[k] - mx);
  for (int l = 0; l < kLanes; ++l) s8[l] = 0.f;
  for (k = 0; k + kLanes <= n; k += kLanes) {
    for (int l = 0; l < kLanes; ++l) s8[l] += y[k + l];
  }
  for (; k < n; ++k) s8[0] += y[k];
  float sum = 0.f;
  for (int l = 0; l < kLanes; ++l) sum += s8[l];
  if (log) {
    const float ls = std::log(sum);
    for (k = 0; k < n; ++k) y[k] = (x[k] - mx) - ls;
  } else {
    for (k = 0; k < n; ++k) y[k] = y[k] / sum;
  }
}

inline void softmax_rows_loop(int64_t rows, int64_t n, const float* x, float* y, bool log) {
  if (n <= 0) return;
  for (int64_t r = 0; r < rows; ++r) softmax_row_f32(x + r * n, y + r * n, n, log);
}

// The scores of one attention product, [rows][n], and what happens to them.
struct AttentionRows {
  float factor = 0.f;       // 0: no scaling
  bool divide = false;      // s / factor instead of s * factor
  const float* mask = nullptr;  // row r, column c at mask[r * mask_row_step + c * mask_col_step]
  int64_t mask_row_step = 0, mask_col_step = 0;
  bool nan_to_zero = false;
};

inline void attention_rows_loop(int64_t rows, int64_t n, const AttentionRows& a, float* s) {
  if (n <= 0) return;
  for (int64_t r = 0; r < rows; ++r, s += n) {
    if (a.factor != 0.f) {
      const float f = a.factor;
      if (a.divide) {
        for (int64_t c = 0; c < n; ++c) s[c] = s[c] / f;
      } else {
        for (int64_t c = 0; c < n; ++c) s[c] = s[c] * f;
      }
    }
    if (a.mask) {
      const float* m = a.mask + r * a.mask_row_step;
      if (a.mask_col_step == 1) {
        for (int64_t c = 0; c < n; ++c) s[c] = s[c] + m[c];
      } else if (a.mask_col_step == 0) {
        const float m0 = m[0];
        for (int64_t c = 0; c < n; ++c) s[c] = s[c] + m0;
      } else {
        for (int64_t c = 0; c < n; ++c) s[c] = s[c] + m[c * a.mask_col_step];
      }
    }
    softmax_row_f32(s, s, n, false);
    if (a.nan_to_zero) {
      for (int64_t c = 0; c < n; ++c) s[c] = s[c] != s[c] ? 0.f : s[c];
    }
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
