// One softmax (or log-softmax) row of n contiguous float32 values, the rule
// the Softmax layer (softmax_f32.cc) and int8rt.QAttention share, so the two
// give the same bits:
//   softmax(x)_i = exp(x_i - max) / sum_j exp(x_j - max)
//   logsoftmax(x)_i = (x_i - max) - log(sum_j exp(x_j - max))
// The maximum and the sum keep 8 partial lanes so their loops vectorise;
// exp is the unary_f32 kernel's. y may be x (in place) for softmax, not for
// log-softmax (which reads x again at the end).
#ifndef INT8RT_ENGINE_OPS_SOFTMAX_ROW_H_
#define INT8RT_ENGINE_OPS_SOFTMAX_ROW_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/unary_f32.h"

namespace int8rt {
namespace engine {

inline void softmax_row(const float* x, float* y, int64_t n, const kernels::UnaryF32Kernel& exp, bool log) {
  constexpr int kLanes = 8;
  float m8[kLanes], s8[kLanes];
  for (int l = 0; l < kLanes; ++l) m8[l] = x[0];
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes) {
    for (int l = 0; l < kLanes; ++l) m8[l] = x[k + l] > m8[l] ? x[k + l] : m8[l];
  }
  float mx = m8[0];
  for (int l = 1; l < kLanes; ++l) mx = std::max(mx, m8[l]);
  for (; k < n; ++k) mx = std::max(mx, x[k]);
  for (k = 0; k < n; ++k) y[k] = x[k] - mx;
  exp.apply(kernels::ref::UnaryF32::kExp, n, y, y);
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

}  // namespace engine
}  // namespace int8rt

#endif  // INT8RT_ENGINE_OPS_SOFTMAX_ROW_H_
