// The int8-input softmax rule (int8rt.QSoftmaxFloat, the "softmax" s8
// family of kernels/eltwise_s8.h): a row of n int8 codes q at scale s gives
// the float softmax that Dequantize + the float Softmax (softmax_f32.h)
// give, bit for bit, with one exp per distinct level instead of per value:
//   x_k = (float)q_k * s                  (ref/requantize.h dequantize_value)
//   mx  = (float)max_k q_k * s            (the float max of x: q -> q * s is monotone)
//   e[q] = exp_fma_f32((float)q * s - mx) for q in [min q, max q]  (Exp16, as the float rule)
//   y_k = e[q_k]; sum = softmax_sum_f32(y, n) (its lane order); y_k = y_k * (1.0f / sum)
// Each y_k is the float rule's exp of the same float x_k - mx, summed in
// the same order: the same bits. Lookup(n, x, table, bias, y) writes
// y[k] = table[x[k] + bias] (the row's levels: e, bias -min q; e holds 256
// floats, entries past the row's range zero) and returns
// softmax_sum_f32(y, n); a tier passes its vector form (its lookup_f32
// loop, bias 128 there; the AVX-512 one adds the lanes as it stores).
// `static inline`, as softmax_f32.h: each ISA translation unit keeps its
// own copy.
#pragma once

#include <cstdint>

#include "kernels/ref/requantize.h"
#include "kernels/ref/softmax_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

struct SoftmaxS8LookupRule {
  float operator()(int64_t n, const int8_t* x, const float* table, int bias, float* y) const {
    for (int64_t k = 0; k < n; ++k) y[k] = table[x[k] + bias];
    return softmax_sum_f32(y, n);
  }
};

template <class Lookup = SoftmaxS8LookupRule, class Exp16 = Exp16Rule>
static inline void softmax_s8_row(const int8_t* x, float* y, int64_t n, float scale, Lookup lookup = {},
                                  Exp16 exp16 = {}) {
  if (n <= 0) return;
  int lo = 127, hi = -128;
  for (int64_t k = 0; k < n; ++k) {
    lo = x[k] < lo ? x[k] : lo;
    hi = x[k] > hi ? x[k] : hi;
  }
  float levels[256] = {}, e[256] = {};
  const int count = hi - lo + 1;
  for (int j = 0; j < count; ++j) levels[j] = dequantize_value(static_cast<int8_t>(lo + j), scale);
  exp_shifted_f32(levels, dequantize_value(static_cast<int8_t>(hi), scale), e, count, exp16);
  const float inv = 1.0f / lookup(n, x, e, -lo, y);  // 1 / the rule's sum, as softmax_row_f32
  for (int64_t k = 0; k < n; ++k) y[k] = y[k] * inv;
}

template <class Lookup = SoftmaxS8LookupRule, class Exp16 = Exp16Rule>
static inline void softmax_s8_rows_loop(int64_t rows, int64_t n, const int8_t* x, float scale, float* y,
                                        Lookup lookup = {}, Exp16 exp16 = {}) {
  for (int64_t r = 0; r < rows; ++r) softmax_s8_row(x + r * n, y + r * n, n, scale, lookup, exp16);
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
