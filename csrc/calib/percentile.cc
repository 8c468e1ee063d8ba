// Percentile calibration, following NVIDIA pytorch-quantization's
// `_compute_amax_percentile` (tools/pytorch-quantization/.../calib/histogram.py),
// the histogram form of TensorRT's LegacyCalibration percentile:
//
//   total = sum(counts)
//   cdf   = cumsum(counts / total)       float64, summed left to right (np.cumsum)
//   idx   = first index with cdf[idx] >= percentile / 100   (np.searchsorted, side left)
//   amax  = edges[idx]                   float32 edge idx * bin_width
//
// idx may be num_bins when rounding leaves cdf[-1] below percentile / 100;
// edges has num_bins + 1 entries so that edge exists. percentile must be in
// (0, 100] (InvalidArgument otherwise). An empty or all-zero histogram gives 0.
#include <string>
#include <vector>

#include "calib/search_common.h"
#include "int8rt/calibration.h"
#include "int8rt/error.h"

namespace int8rt {
namespace calib {

float amax_percentile(const Histogram& h, const MethodOptions& options) {
  const double percentile = options.percentile;
  if (!(percentile > 0.0 && percentile <= 100.0)) {
    throw InvalidArgument("calibration method 'percentile': percentile must be in (0, 100], got " +
                          std::to_string(percentile));
  }
  const std::vector<uint64_t>& counts = h.counts();
  const uint64_t total = detail::sum_counts(counts);
  if (total == 0) return 0.0f;
  const double target = percentile / 100.0;
  const double total_d = static_cast<double>(total);
  double cdf = 0.0;
  size_t idx = 0;
  for (; idx < counts.size(); ++idx) {
    cdf += static_cast<double>(counts[idx]) / total_d;
    if (cdf >= target) break;
  }
  return h.edges()[idx];
}

}  // namespace calib
}  // namespace int8rt
