// The statistics of the normalisation layers (LayerNormalization,
// InstanceNormalization, GroupNormalization): mean and 1 / sqrt(var + eps)
// of n floats, accumulated in double in two passes and rounded to float
// once, so the result does not depend on the summation order beyond that
// rounding. Each pass keeps four partial sums (elements i mod 4), added
// pairwise at the end, so the adds do not wait on one another.
#pragma once

#include <cmath>
#include <cstdint>

namespace int8rt {
namespace engine {

struct Moments {
  float mean = 0.f;
  float inv_std = 0.f;  // 1 / sqrt(variance + eps), variance = sum((x - mean)^2) / n
};

inline Moments moments(const float* x, int64_t n, double eps) {
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int l = 0; l < 4; ++l) s[l] += x[i + l];
  }
  for (; i < n; ++i) s[i % 4] += x[i];
  const double mean = ((s[0] + s[1]) + (s[2] + s[3])) / static_cast<double>(n);
  double q[4] = {0.0, 0.0, 0.0, 0.0};
  for (i = 0; i + 4 <= n; i += 4) {
    for (int l = 0; l < 4; ++l) q[l] += (x[i + l] - mean) * (x[i + l] - mean);
  }
  for (; i < n; ++i) q[i % 4] += (x[i] - mean) * (x[i] - mean);
  const double sq = (q[0] + q[1]) + (q[2] + q[3]);
  return {static_cast<float>(mean), static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(n) + eps))};
}

}  // namespace engine
}  // namespace int8rt
