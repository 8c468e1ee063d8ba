// Legacy entropy calibration: TensorRT's original EntropyCalibration as NVIDIA
// described it (Szymon Migacz, "8-bit Inference with TensorRT", GTC 2017:
// candidates from bin 128 of a 2048-bin |x| histogram, 128 levels, threshold
// (m + 0.5) * bin width), with the quantized distribution and the smoothing
// of the open implementations that follow that talk (MXNet
// contrib/quantization.py `_get_optimal_threshold` / `_smooth_distribution`,
// TVM relay/quantize/kl_divergence). The |x| histogram stands for a symmetric
// distribution: 128 magnitude levels are the 255 signed levels of those codes.
//
//   levels = 1 << (num_bits - 1 + is_unsigned)            (128 for int8)
//   for each candidate i = start_bin, start_bin + stride, ... <= num_bins:
//     P = bins[:i] (float64), with sum(bins[i:]) added to P[i-1]
//     merge bins[:i] (without the tail) into `levels` groups of g = i // levels
//       bins, the last group taking the remainder [(levels-1)*g, i) (MXNet's rule);
//     Q_j = (group sum) / (number of j' in the group with P_j' != 0) where
//       P_j != 0, else 0
//     smooth P and Q (MXNet's _smooth_distribution, eps = 1e-4, applied to the
//       raw counts as MXNet does): zeros += eps, non-zeros -= eps * n_zero / n_nonzero
//     KL_i = sum_j p_j log(p_j / q_j), p, q the smoothed P, Q over their sums
//   amax = (i* + 0.5) * bin_width (float32), i* the FIRST argmin of KL.
//
// Where MXNet asserts (all-zero Q, eps * n_zero / n_nonzero >= 1, a smoothed
// value <= 0), the candidate's divergence is +inf, as TVM does for the first
// two. Arithmetic is float64 (MXNet smooths in float32). Ties: first KL within
// detail::kTieTolerance of the minimum (search_common.h). Empty or all-zero
// histogram: 0; no candidate (num_bins < start_bin): edges[num_bins].
// Cost: O(i) logs per candidate, candidates in parallel.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "calib/entropy_legacy_kl.h"
#include "calib/search_common.h"
#include "core/thread_pool.h"
#include "int8rt/calibration.h"

namespace int8rt {
namespace calib {
namespace {

constexpr double kSmoothEps = 1e-4;

// MXNet's _smooth_distribution in place; false where MXNet would fail.
bool smooth(std::vector<double>& x) {
  int64_t zeros = 0;
  for (double v : x) zeros += v == 0.0 ? 1 : 0;
  const int64_t nonzeros = static_cast<int64_t>(x.size()) - zeros;
  if (nonzeros == 0) return false;
  const double eps1 = kSmoothEps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  if (eps1 >= 1.0) return false;
  for (double& v : x) {
    v = v == 0.0 ? kSmoothEps : v - eps1;
    if (v <= 0.0) return false;
  }
  return true;
}

double legacy_kl(const std::vector<uint64_t>& bins, uint64_t total, int64_t levels, int64_t i) {
  std::vector<double> p(i), q(i, 0.0);
  uint64_t head = 0;
  for (int64_t j = 0; j < i; ++j) {
    p[j] = static_cast<double>(bins[j]);
    head += bins[j];
  }
  p[i - 1] += static_cast<double>(total - head);

  const int64_t g = i / levels;
  for (int64_t k = 0; k < levels; ++k) {
    const int64_t begin = k * g;
    const int64_t end = k == levels - 1 ? i : begin + g;
    uint64_t group_sum = 0;
    int64_t norm = 0;
    for (int64_t j = begin; j < end; ++j) {
      group_sum += bins[j];
      norm += p[j] != 0.0 ? 1 : 0;
    }
    if (norm == 0) continue;
    const double value = static_cast<double>(group_sum) / static_cast<double>(norm);
    for (int64_t j = begin; j < end; ++j) q[j] = p[j] != 0.0 ? value : 0.0;
  }
  const double inf = std::numeric_limits<double>::infinity();
  if (!smooth(p) || !smooth(q)) return inf;

  double sum_p = 0.0, sum_q = 0.0;
  for (int64_t j = 0; j < i; ++j) {
    sum_p += p[j];
    sum_q += q[j];
  }
  double kl = 0.0;
  for (int64_t j = 0; j < i; ++j) {
    const double pj = p[j] / sum_p;
    const double qj = q[j] / sum_q;
    kl += pj * std::log(pj / qj);
  }
  return kl;
}

}  // namespace

namespace detail {

std::vector<double> entropy_legacy_divergences(const Histogram& h, const MethodOptions& options) {
  validate_search_options(options, "entropy_legacy");
  const std::vector<uint64_t>& bins = h.counts();
  const uint64_t total = sum_counts(bins);
  const int64_t num = num_candidates(options.start_bin, h.num_bins(), options.stride);
  const int64_t levels = quant_levels(options);
  std::vector<double> kl(num, std::numeric_limits<double>::quiet_NaN());
  if (total == 0) return kl;
  parallel_for(num, 8, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      kl[k] = legacy_kl(bins, total, levels, options.start_bin + k * options.stride);
    }
  });
  return kl;
}

}  // namespace detail

float amax_entropy_legacy(const Histogram& h, const MethodOptions& options) {
  detail::validate_search_options(options, "entropy_legacy");
  if (detail::sum_counts(h.counts()) == 0) return 0.0f;
  const std::vector<double> kl = detail::entropy_legacy_divergences(h, options);
  if (kl.empty()) return h.edges()[h.num_bins()];
  const int64_t i = options.start_bin + detail::first_argmin_with_ties(kl) * options.stride;
  return (static_cast<float>(i) + 0.5f) * h.bin_width();
}

}  // namespace calib
}  // namespace int8rt
