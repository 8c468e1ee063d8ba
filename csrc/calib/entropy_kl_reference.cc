// Term-by-term KL of the entropy search, candidate after candidate, in the
// order NVIDIA's reference (`_compute_amax_entropy` + scipy.stats.entropy)
// builds it: P and Q materialised for every candidate, normalised by their own
// sums, then sum_j p_j * log(p_j / q_j) left to right. Slow (O(i) logs per
// candidate, single-threaded): this is the oracle the fast path is tested against.
#include <cmath>
#include <limits>
#include <vector>

#include "calib/entropy_kl.h"

namespace int8rt {
namespace calib {
namespace detail {
namespace {

double kl_one_candidate(const EntropySearch& s, int64_t i) {
  const int64_t levels = s.levels;
  // Q: level k holds bins j < i with floor(j * levels / i) == k; each non-zero
  // bin of a level gets the level's mean over its non-zero bins, zero bins get 0.
  std::vector<double> level_sum(levels, 0.0);
  std::vector<int64_t> level_nonzero(levels, 0);
  for (int64_t j = 0; j < i; ++j) {
    if (s.bins[j] == 0) continue;
    const int64_t k = j * levels / i;
    level_sum[k] += static_cast<double>(s.bins[j]);
    level_nonzero[k] += 1;
  }
  std::vector<double> p(i), q(i, 0.0);
  uint64_t tail = 0;
  for (size_t j = i; j < s.bins.size(); ++j) tail += s.bins[j];
  for (int64_t j = 0; j < i; ++j) {
    p[j] = static_cast<double>(s.bins[j]);
    if (s.bins[j] != 0) {
      const int64_t k = j * levels / i;
      q[j] = level_sum[k] / static_cast<double>(level_nonzero[k]);
    }
  }
  p[i - 1] += static_cast<double>(tail);  // the clipped tail folds into the last bin

  double sum_p = 0.0, sum_q = 0.0;
  for (int64_t j = 0; j < i; ++j) {
    sum_p += p[j];
    sum_q += q[j];
  }
  double kl = 0.0;
  for (int64_t j = 0; j < i; ++j) {
    const double pj = p[j] / sum_p;
    if (pj == 0.0) continue;
    const double qj = sum_q > 0.0 ? q[j] / sum_q : 0.0;
    if (qj == 0.0) return std::numeric_limits<double>::infinity();
    kl += pj * std::log(pj / qj);
  }
  return kl;
}

}  // namespace

std::vector<double> entropy_kl_reference(const EntropySearch& search) {
  std::vector<double> kl(search.num_candidates);
  for (int64_t k = 0; k < search.num_candidates; ++k) {
    kl[k] = kl_one_candidate(search, search.candidate(k));
  }
  return kl;
}

}  // namespace detail
}  // namespace calib
}  // namespace int8rt
