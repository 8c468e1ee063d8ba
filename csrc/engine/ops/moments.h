// The statistics of the normalisation layers (LayerNormalization,
// InstanceNormalization, GroupNormalization): mean and 1 / sqrt(var + eps)
// of n floats, accumulated in double in two passes and rounded to float
// once, so the result does not depend on the summation order beyond that
// rounding.
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
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / static_cast<double>(n);
  double sq = 0.0;
  for (int64_t i = 0; i < n; ++i) sq += (x[i] - mean) * (x[i] - mean);
  return {static_cast<float>(mean), static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(n) + eps))};
}

}  // namespace engine
}  // namespace int8rt
