// Shared pieces of the threshold searches (entropy, entropy_legacy, mse):
// option validation, the candidate grid, and the argmin rules with their tie
// tolerance. Internal to csrc/calib; the definitions of the methods are in the
// header comments of their own files.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "int8rt/calibration.h"

namespace int8rt {
namespace calib {
namespace detail {

// Two divergences d, d_min are a tie when d <= d_min + kTieTolerance * (1 + |d_min|)
// (nats). The fast entropy formulation and the term-by-term one differ by
// about 1e-14 nats (tests/test_methods_golden.py measures it), so exact
// mathematical ties, which neither evaluates to the same bits, are still seen
// as ties; KL differences below 1e-12 nats carry no information about a threshold.
constexpr double kTieTolerance = 1e-12;

inline bool within_tie(double d, double d_min) {
  return d <= d_min + kTieTolerance * (1.0 + std::fabs(d_min));
}

// Throws InvalidArgument naming `method` unless 2 <= num_bits <= 16,
// start_bin >= 1 and stride >= 1.
void validate_search_options(const MethodOptions& options, const char* method);

// Quantization levels of [0, amax]: 1 << (num_bits - 1 + is_unsigned)
// (128 for signed int8: 127 magnitudes and zero, TensorRT's count).
int64_t quant_levels(const MethodOptions& options);

// Number of candidates start, start+stride, ... <= last (0 when start > last).
int64_t num_candidates(int64_t start, int64_t last, int64_t stride);

// Index of the last / first value tied (within_tie) with the minimum. The
// minimum may be +inf (every value tied); values must not be NaN. v non-empty.
int64_t last_argmin_with_ties(const std::vector<double>& v);
int64_t first_argmin_with_ties(const std::vector<double>& v);

// Sum of the counts (the histogram's mass without pending zeros).
uint64_t sum_counts(const std::vector<uint64_t>& counts);

}  // namespace detail
}  // namespace calib
}  // namespace int8rt
