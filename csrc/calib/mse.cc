// MSE calibration, following NVIDIA pytorch-quantization's `_compute_amax_mse`
// (tools/pytorch-quantization/.../calib/histogram.py) with its fake quantizer
// (`_tensor_quant`, narrow range), every bin represented by its centre:
//
//   centers[j] = (edges[j] + edges[j+1]) / 2                      float32
//   for each candidate i = start_bin, start_bin + stride, ... < num_bins:
//     amax  = centers[i]
//     bound = 2^(num_bits - 1 + is_unsigned) - 1; lo = is_unsigned ? 0 : -bound
//     scale = bound / amax                                         float32
//     q[j]  = clamp(round_half_even(centers[j] * scale), lo, bound) / scale
//             (q = 0 when amax <= 2^-24, the reference's zero-amax rule)
//     mse_i = sum_j ((q[j] - centers[j])^2 * float32(counts[j])) / num_bins
//   amax = centers[first argmin of mse]
//
// Every term is float32 arithmetic as in the reference (no FMA contraction:
// -ffp-contract=off); the reference sums on the GPU in an unspecified order,
// int8rt sums the float32 terms left to right in float64, so the choice is
// deterministic and the golden test reproduces it bit for bit. Ties: the first
// (exact) minimum. No candidate (num_bins <= start_bin): edges[num_bins].
// Empty or all-zero histogram: 0. Candidates run in parallel (parallel_for).
#include <algorithm>
#include <cmath>
#include <vector>

#include "calib/search_common.h"
#include "core/thread_pool.h"
#include "int8rt/calibration.h"

namespace int8rt {
namespace calib {
namespace {

// nearbyint(v) in the default rounding mode (half to even) for 0 <= v <
// 2^23, without std::nearbyint's library call (the baseline build has no
// SSE4.1 roundss; the call was most of the search's time): past 2^23 a float
// has no fraction bits, so v + 2^23 rounds v to an integer as nearbyint
// does, and subtracting 2^23 back is exact.
inline float round_small(float v) {
  const float k = 8388608.0f;
  return (v + k) - k;
}

// The sum over the bins with a count (an empty bin adds exactly +0.0 to a
// non-negative double sum, so leaving it out changes no bit; histograms the
// "extend" policy grew are mostly empty past their body), divided by every bin.
double mse_for_amax(float amax, const std::vector<float>& centers,
                    const std::vector<float>& weights, float bound, float lo, int64_t nbins) {
  const float kZeroAmax = 1.0f / static_cast<float>(1 << 24);
  const bool zero = amax <= kZeroAmax;
  const float scale = bound / amax;
  double sum = 0.0;
  for (size_t j = 0; j < centers.size(); ++j) {
    float q = 0.0f;
    if (!zero) {
      // Centres are >= 0, so v >= 0; from v >= bound on, nearbyint(v) >= bound
      // and the clamp gives bound: the same r as std::nearbyint.
      const float v = centers[j] * scale;
      float r = v >= bound ? bound : round_small(v);
      r = std::min(std::max(r, lo), bound);
      q = r / scale;
    }
    const float d = q - centers[j];
    const float term = (d * d) * weights[j];
    sum += static_cast<double>(term);
  }
  return sum / static_cast<double>(nbins);
}

}  // namespace

float amax_mse(const Histogram& h, const MethodOptions& options) {
  detail::validate_search_options(options, "mse");
  const std::vector<uint64_t>& counts = h.counts();
  if (detail::sum_counts(counts) == 0) return 0.0f;
  const std::vector<float> edges = h.edges();
  const int64_t nbins = h.num_bins();
  const int64_t num = detail::num_candidates(options.start_bin, nbins - 1, options.stride);
  if (num == 0) return edges[nbins];

  std::vector<float> centers(nbins), filled, weights;  // every bin's centre; the filled bins' and their counts
  for (int64_t j = 0; j < nbins; ++j) {
    centers[j] = (edges[j + 1] + edges[j]) / 2.0f;
    if (counts[j] != 0) {
      filled.push_back(centers[j]);
      weights.push_back(static_cast<float>(counts[j]));
    }
  }
  const float bound = static_cast<float>((int64_t{1} << (options.num_bits - 1 +
                                                         (options.is_unsigned ? 1 : 0))) - 1);
  const float lo = options.is_unsigned ? 0.0f : -bound;

  std::vector<double> mse(num);
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, static_cast<int64_t>(filled.size())));
  parallel_for(num, grain, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      mse[k] = mse_for_amax(centers[options.start_bin + k * options.stride], filled, weights,
                            bound, lo, nbins);
    }
  });
  const int64_t best = std::min_element(mse.begin(), mse.end()) - mse.begin();
  return centers[options.start_bin + best * options.stride];
}

}  // namespace calib
}  // namespace int8rt
