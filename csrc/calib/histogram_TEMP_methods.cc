// TEMPORARY (branch "methods" only, deleted before merge): the minimum of
// calib::Histogram that the threshold methods and their tests need, so this
// branch builds on its own. The real implementation is csrc/calib/histogram.cc.
#include "int8rt/calibration.h"

#include <numeric>

namespace int8rt {
namespace calib {

Histogram::Histogram(int64_t num_bins, RangePolicy policy, NonFinitePolicy nonfinite)
    : initial_num_bins_(num_bins), policy_(policy), nonfinite_(nonfinite),
      counts_(static_cast<size_t>(num_bins), 0) {}

Histogram Histogram::from_state(std::vector<uint64_t> counts, float bin_width, float max_abs,
                                RangePolicy policy, int64_t initial_num_bins,
                                NonFinitePolicy nonfinite, uint64_t nonfinite_skipped,
                                uint64_t pending_zeros) {
  Histogram h(0, policy, nonfinite);
  h.initial_num_bins_ = initial_num_bins;
  h.counts_ = std::move(counts);
  h.bin_width_ = bin_width;
  h.max_abs_ = max_abs;
  h.nonfinite_skipped_ = nonfinite_skipped;
  h.pending_zeros_ = pending_zeros;
  return h;
}

std::vector<float> Histogram::edges() const {
  std::vector<float> e(counts_.size() + 1);
  for (size_t i = 0; i < e.size(); ++i) e[i] = static_cast<float>(i) * bin_width_;
  return e;
}

uint64_t Histogram::total_count() const {
  return std::accumulate(counts_.begin(), counts_.end(), uint64_t{0}) + pending_zeros_;
}

}  // namespace calib
}  // namespace int8rt
