// Entropy calibration: TensorRT's EntropyCalibration2, as NVIDIA's open
// reference implements it (pytorch-quantization and ModelOpt
// `_compute_amax_entropy`, with scipy.stats.entropy). Definition:
//
//   bins = copy of counts; bins[0] = bins[1] (when num_bins >= 2)
//   levels = 1 << (num_bits - 1 + is_unsigned)          (128 for int8)
//   for each candidate i = start_bin, start_bin + stride, ... <= num_bins:
//     P = bins[:i], with sum(bins[i:]) added to P[i-1]
//     bin j < i belongs to level floor(j * levels / i)   (= np.digitize against
//       linspace(0, i, levels + 1), exact because levels is a power of two)
//     Q_j = 0 where bins[j] == 0, else (sum of bins[:i] in j's level) /
//           (number of non-zero bins[:i] in j's level)
//     KL_i = sum_j p_j log(p_j / q_j), p = P/sum(P), q = Q/sum(Q); terms with
//            p_j = 0 are 0, a term with p_j > 0 = q_j makes KL_i = +inf; no smoothing
//   amax = edges[i*] (float32 edge i* * bin_width), i* the LAST argmin of KL.
//
// The reference's _normalize_distr is a no-op (it rebinds a local), and scipy
// normalises anyway: the normalisation above is exactly what the reference computes.
//
// Ties: two KL values count as equal when within detail::kTieTolerance
// (1e-12 nats, scaled by 1 + |min|; see search_common.h), and the largest
// such i wins, so the fast evaluation (entropy_kl_fast.cc) and the term-by-term
// one (entropy_kl_reference.cc, MethodOptions::reference_order) choose the same
// bin on exact mathematical ties although they round differently.
//
// Cases the reference leaves undefined (it raises or returns NaN), defined here:
//   empty or all-zero counts -> 0;  num_bins < start_bin (no candidate) ->
//   edges[num_bins];  counts only in bin 0 (zero mass after bins[0] = bins[1])
//   -> max_abs() (nothing to compare), and entropy_divergences gives NaN per candidate.
#include <limits>
#include <vector>

#include "calib/entropy_kl.h"
#include "calib/search_common.h"
#include "int8rt/calibration.h"

namespace int8rt {
namespace calib {
namespace {

detail::EntropySearch make_search(const Histogram& h, const MethodOptions& options) {
  detail::EntropySearch s;
  s.bins = h.counts();
  if (s.bins.size() >= 2) s.bins[0] = s.bins[1];
  s.total = detail::sum_counts(s.bins);
  s.levels = detail::quant_levels(options);
  s.start_bin = options.start_bin;
  s.stride = options.stride;
  s.num_candidates = detail::num_candidates(options.start_bin, h.num_bins(), options.stride);
  return s;
}

std::vector<double> divergences(const detail::EntropySearch& s, bool reference_order) {
  if (s.total == 0) {
    return std::vector<double>(s.num_candidates, std::numeric_limits<double>::quiet_NaN());
  }
  return reference_order ? detail::entropy_kl_reference(s) : detail::entropy_kl_fast(s);
}

}  // namespace

std::vector<double> entropy_divergences(const Histogram& h, const MethodOptions& options) {
  detail::validate_search_options(options, "entropy");
  return divergences(make_search(h, options), options.reference_order);
}

float amax_entropy(const Histogram& h, const MethodOptions& options) {
  detail::validate_search_options(options, "entropy");
  if (detail::sum_counts(h.counts()) == 0) return 0.0f;
  const detail::EntropySearch s = make_search(h, options);
  if (s.num_candidates == 0) return h.edges()[h.num_bins()];
  if (s.total == 0) return h.max_abs();
  const std::vector<double> kl = divergences(s, options.reference_order);
  return h.edges()[s.candidate(detail::last_argmin_with_ties(kl))];
}

}  // namespace calib
}  // namespace int8rt
