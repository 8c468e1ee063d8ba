// Histogram of |x| for activation calibration: how the range is set and
// grown, merging, and state validation. The data passes (max scan, binning)
// are in histogram_passes.cc.
//
// Binning (the header's definition): bin i covers [i*w, (i+1)*w); x lands in
// bin min(num_bins-1, int(|x| * inv_w)) with inv_w = 1.0f / w, both float32.
// Widths are kept >= FLT_MIN (2^-126) so 1/w is always finite; a histogram
// whose data was all zero so far has no range (bin_width() == 0, edges all 0)
// and keeps those zeros in pending_zeros() (part of total_count()), moving
// them into bin 0 when a non-zero value sets the range. No bin is ever of
// width zero, no division by zero happens.
//
// Range policies:
// - kExtend (NVIDIA pytorch-quantization's HistogramCalibrator, torch path):
//   the first batch with max|x| = M > 0 sets w = M / num_bins (float32, M in
//   the clamped last bin). A later batch with a larger max m whose bin
//   int(m * inv_w) is past the end appends bins of the same width up to
//   int(m * inv_w) + 1, so m lands in range (pytorch-quantization's
//   ceil(m / w), guarded for an m on an exact edge). Deviation: the bin count
//   is capped at kMaxBins (2^20); a growth beyond it first merges bins
//   2^k -> 1 (width * 2^k, exact) with the smallest k that fits, where
//   pytorch-quantization would grow without bound.
// - kPowerOfTwo (TensorRT's developer guide): range R = 2^e, the smallest
//   power of two > max|x| (strictly, so a max that is a power of two, such as
//   a saturated sigmoid's 1.0, lies inside and never needs the clamp),
//   w = R / num_bins. A larger max raises e by k and merges old bin i into
//   i >> k: as w scales by 2^k exactly, floor(x * inv_w / 2^k) equals
//   floor(floor(x * inv_w) / 2^k), so collecting A then B equals collecting
//   A and B together, bit for bit (for a power-of-two num_bins, the default;
//   otherwise up to values within float rounding of the range's top).
// - kTwoPass: observe_range() only records max|x|; the first collect()
//   freezes the range [0, max_abs()] over num_bins bins (w as for kExtend),
//   so the result does not depend on batch order. Values beyond the range go
//   to the last bin. collect() before observe_range() is an error, and so is
//   a non-zero value after an observe pass that saw only zeros.
//
// max_abs() is the exact max |x| over all data seen (collect and
// observe_range). NaN/Inf: kError rejects the whole batch (detected in the
// max scan, before anything changes); kSkip leaves those values out and
// counts them in nonfinite_skipped() (collect only; observe_range skips them
// without counting, so a two-pass run counts each value once).
//
// Merging adds counts. Exact: kPowerOfTwo always (the finer histogram is
// merged 2^k -> 1 onto the coarser), kTwoPass with equal ranges (others are
// rejected), kExtend with equal widths. kExtend with different widths is
// approximate: every bin of the finer histogram is re-binned by its centre
// onto the coarser width.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <string>

#include "calib/array_iter.h"
#include "calib/histogram_passes.h"
#include "int8rt/calibration.h"
#include "int8rt/error.h"

namespace int8rt {
namespace calib {
namespace {

constexpr int64_t kMaxBins = int64_t{1} << 20;

const char* policy_name(RangePolicy p) {
  switch (p) {
    case RangePolicy::kExtend: return "extend";
    case RangePolicy::kPowerOfTwo: return "power_of_two";
    case RangePolicy::kTwoPass: return "two_pass";
  }
  return "?";
}

// Width of an [0, m] range over n bins, kept >= FLT_MIN so 1/w is finite.
float linear_width(float m, int64_t n) { return std::max(m / static_cast<float>(n), FLT_MIN); }

// Width of the power-of-two range 2^e over n bins.
float pow2_width(int e, int64_t n) {
  return static_cast<float>(std::ldexp(1.0, e) / static_cast<double>(n));
}

// Exponent e of the smallest power of two > m whose width is normal and finite.
int pow2_exponent(float m, int64_t n) {
  int e = m > 0.0f ? std::ilogb(m) + 1 : -126;
  while (pow2_width(e, n) < FLT_MIN) ++e;
  while (std::isinf(pow2_width(e, n))) --e;  // only num_bins == 1 near FLT_MAX
  return e;
}

// The exponent e with w == pow2_width(e, n), or INT32_MIN if w is no such width.
int exponent_of_pow2_width(float w, int64_t n) {
  int e = static_cast<int>(std::lround(std::log2(static_cast<double>(w) * n)));
  return pow2_width(e, n) == w ? e : INT32_MIN;
}

// int(m * (1/w)) in float32, as the binning computes it, unclamped.
double raw_bin(float m, float w) { return std::floor(static_cast<double>(m * (1.0f / w))); }

// Merges bins 2^shift -> 1 into a vector of new_size bins.
std::vector<uint64_t> coarsen(const std::vector<uint64_t>& counts, int shift, size_t new_size) {
  std::vector<uint64_t> out(new_size, 0);
  for (size_t i = 0; i < counts.size(); ++i) {
    size_t j = shift >= 63 ? 0 : (i >> shift);
    out[std::min(j, new_size - 1)] += counts[i];
  }
  return out;
}

}  // namespace

Histogram::Histogram(int64_t num_bins, RangePolicy policy, NonFinitePolicy nonfinite)
    : initial_num_bins_(num_bins), policy_(policy), nonfinite_(nonfinite) {
  if (num_bins < 1 || num_bins > kMaxBins) {
    throw InvalidArgument("Histogram: num_bins must be in [1, " + std::to_string(kMaxBins) +
                          "], got " + std::to_string(num_bins));
  }
  counts_.assign(static_cast<size_t>(num_bins), 0);
}

void Histogram::collect(const ArrayView& x) {
  const std::string what = "Histogram.collect";
  if (policy_ == RangePolicy::kTwoPass && !range_observed_) {
    throw InvalidArgument(what + ": policy two_pass needs observe_range() over the data first");
  }
  const detail::FlatView v = detail::flatten(x, what);
  const detail::Scan scan = detail::scan_abs(v);
  if (scan.nonfinite > 0 && nonfinite_ == NonFinitePolicy::kError) {
    throw InvalidArgument(what + ": data contains NaN/Inf (" + std::to_string(scan.nonfinite) +
                          " of " + std::to_string(v.size) +
                          " values); NonFinitePolicy::kSkip (Python: nonfinite='skip'; int8rt build --nonfinite skip) leaves them out");
  }
  const bool has_range = bin_width_ > 0.0f;
  if (policy_ == RangePolicy::kTwoPass && !has_range && max_abs_ == 0.0f && scan.max_abs > 0.0f) {
    throw InvalidArgument(what + ": data has |x| up to " + std::to_string(scan.max_abs) +
                          " but observe_range() saw only zeros (two_pass)");
  }

  // Everything below succeeds (barring bad_alloc): the state may change now.
  const int64_t n = num_bins();
  if (!has_range) {
    const float m = policy_ == RangePolicy::kTwoPass ? max_abs_ : scan.max_abs;
    if (m > 0.0f) {
      bin_width_ = policy_ == RangePolicy::kPowerOfTwo ? pow2_width(pow2_exponent(m, n), n)
                                                       : linear_width(m, n);
      counts_[0] += pending_zeros_;
      pending_zeros_ = 0;
    }
  } else if (policy_ == RangePolicy::kExtend && scan.max_abs > max_abs_ &&
             raw_bin(scan.max_abs, bin_width_) >= static_cast<double>(n)) {
    int shift = 0;
    while (raw_bin(scan.max_abs, std::ldexp(bin_width_, shift)) + 1 > kMaxBins) ++shift;
    const float width = std::ldexp(bin_width_, shift);
    const int64_t needed = static_cast<int64_t>(raw_bin(scan.max_abs, width)) + 1;
    // (as coarsen: a shift past 62 bits merges every old bin into bin 0)
    const int64_t kept = shift == 0 ? n : shift >= 63 ? 1 : ((n - 1) >> shift) + 1;
    counts_ = coarsen(counts_, shift, static_cast<size_t>(std::max({needed, kept, initial_num_bins_})));
    bin_width_ = width;
  } else if (policy_ == RangePolicy::kPowerOfTwo) {
    const int e = exponent_of_pow2_width(bin_width_, n);
    const int grown = pow2_exponent(scan.max_abs, n);
    if (grown > e) {
      counts_ = coarsen(counts_, grown - e, counts_.size());
      bin_width_ = pow2_width(grown, n);
    }
  }

  if (bin_width_ > 0.0f) {
    detail::bin_abs(v, scan, 1.0f / bin_width_, counts_.data(), num_bins());
  } else {
    pending_zeros_ += static_cast<uint64_t>(v.size - scan.nonfinite);
  }
  nonfinite_skipped_ += static_cast<uint64_t>(scan.nonfinite);
  max_abs_ = std::max(max_abs_, scan.max_abs);
}

void Histogram::observe_range(const ArrayView& x) {
  const std::string what = "Histogram.observe_range";
  if (policy_ != RangePolicy::kTwoPass) {
    throw InvalidArgument(what + ": only for policy two_pass (this histogram's policy is " +
                          policy_name(policy_) + ")");
  }
  const detail::FlatView v = detail::flatten(x, what);
  const detail::Scan scan = detail::scan_abs(v);
  if (scan.nonfinite > 0 && nonfinite_ == NonFinitePolicy::kError) {
    throw InvalidArgument(what + ": data contains NaN/Inf (" + std::to_string(scan.nonfinite) +
                          " of " + std::to_string(v.size) +
                          " values); NonFinitePolicy::kSkip (Python: nonfinite='skip'; int8rt build --nonfinite skip) leaves them out");
  }
  max_abs_ = std::max(max_abs_, scan.max_abs);
  range_observed_ = true;
}

void Histogram::merge(const Histogram& src) {
  const std::string what = "Histogram.merge";
  if (&src == this) {
    const Histogram copy(src);
    merge(copy);
    return;
  }
  if (src.policy_ != policy_) {
    throw InvalidArgument(what + ": policies differ (" + policy_name(policy_) + " vs " +
                          policy_name(src.policy_) + ")");
  }
  if (src.initial_num_bins_ != initial_num_bins_) {
    throw InvalidArgument(what + ": num_bins differ (" + std::to_string(initial_num_bins_) +
                          " vs " + std::to_string(src.initial_num_bins_) + ")");
  }
  const bool mine = bin_width_ > 0.0f, theirs = src.bin_width_ > 0.0f;
  if (policy_ == RangePolicy::kTwoPass && mine && theirs && src.bin_width_ != bin_width_) {
    throw InvalidArgument(what + ": two_pass histograms have different ranges (bin widths " +
                          std::to_string(bin_width_) + " vs " + std::to_string(src.bin_width_) +
                          "); observe the same data's range in every shard");
  }

  if (!theirs) {
    (mine ? counts_[0] : pending_zeros_) += src.pending_zeros_;
  } else if (!mine) {
    counts_ = src.counts_;
    bin_width_ = src.bin_width_;
    counts_[0] += pending_zeros_ + src.pending_zeros_;
    pending_zeros_ = 0;
  } else if (policy_ == RangePolicy::kPowerOfTwo) {
    const int64_t n = num_bins();
    const int e = exponent_of_pow2_width(bin_width_, n);
    const int e_src = exponent_of_pow2_width(src.bin_width_, n);
    if (e_src > e) {
      counts_ = coarsen(counts_, e_src - e, counts_.size());
      bin_width_ = src.bin_width_;
    }
    const std::vector<uint64_t> add = coarsen(src.counts_, std::max(0, e - e_src), counts_.size());
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += add[i];
  } else if (src.bin_width_ == bin_width_) {  // kTwoPass (checked above) or kExtend, same grid
    if (src.counts_.size() > counts_.size()) counts_.resize(src.counts_.size(), 0);
    for (size_t i = 0; i < src.counts_.size(); ++i) counts_[i] += src.counts_[i];
  } else {  // kExtend, different widths: rebin the finer one by bin centre
    const bool keep_mine = bin_width_ > src.bin_width_;
    const std::vector<uint64_t>& fine = keep_mine ? src.counts_ : counts_;
    const float fine_width = keep_mine ? src.bin_width_ : bin_width_;
    std::vector<uint64_t> out = keep_mine ? counts_ : src.counts_;
    const float width = keep_mine ? bin_width_ : src.bin_width_;
    for (size_t i = 0; i < fine.size(); ++i) {
      if (fine[i] == 0) continue;
      const float centre = static_cast<float>((static_cast<double>(i) + 0.5) * fine_width);
      const size_t j = static_cast<size_t>(std::min<double>(raw_bin(centre, width), kMaxBins - 1));
      if (j >= out.size()) out.resize(j + 1, 0);
      out[j] += fine[i];
    }
    counts_ = std::move(out);
    bin_width_ = width;
  }
  nonfinite_skipped_ += src.nonfinite_skipped_;
  max_abs_ = std::max(max_abs_, src.max_abs_);
  range_observed_ = range_observed_ || src.range_observed_;
}

std::vector<float> Histogram::edges() const {
  std::vector<float> e(counts_.size() + 1);
  for (size_t i = 0; i < e.size(); ++i) e[i] = static_cast<float>(i) * bin_width_;
  return e;
}

uint64_t Histogram::total_count() const {
  return std::accumulate(counts_.begin(), counts_.end(), pending_zeros_);
}

Histogram Histogram::from_state(std::vector<uint64_t> counts, float bin_width, float max_abs,
                                RangePolicy policy, int64_t initial_num_bins,
                                NonFinitePolicy nonfinite, uint64_t nonfinite_skipped,
                                uint64_t pending_zeros) {
  const std::string what = "Histogram.from_state: ";
  const int64_t n = static_cast<int64_t>(counts.size());
  if (initial_num_bins == 0) initial_num_bins = n;
  Histogram h(initial_num_bins, policy, nonfinite);  // validates initial_num_bins
  if (n < initial_num_bins || n > kMaxBins || (policy != RangePolicy::kExtend && n != initial_num_bins)) {
    throw InvalidArgument(what + std::to_string(n) + " counts do not fit num_bins " +
                          std::to_string(initial_num_bins) + " under policy " + policy_name(policy));
  }
  if (!std::isfinite(bin_width) || !(bin_width == 0.0f || bin_width >= FLT_MIN)) {
    throw InvalidArgument(what + "bin_width must be 0 or a finite value >= FLT_MIN");
  }
  if (!std::isfinite(max_abs) || max_abs < 0.0f) {
    throw InvalidArgument(what + "max_abs must be finite and >= 0");
  }
  const bool any_count = std::any_of(counts.begin(), counts.end(), [](uint64_t c) { return c > 0; });
  if (bin_width == 0.0f) {
    if (any_count || n != initial_num_bins) {
      throw InvalidArgument(what + "bin_width 0 (no range yet) but counts are set");
    }
    if (max_abs > 0.0f && policy != RangePolicy::kTwoPass) {
      throw InvalidArgument(what + "max_abs > 0 needs a range (bin_width > 0)");
    }
  } else {
    if (pending_zeros != 0) {
      throw InvalidArgument(what + "pending_zeros must be 0 once a range is set");
    }
    if (policy == RangePolicy::kPowerOfTwo && exponent_of_pow2_width(bin_width, n) == INT32_MIN) {
      throw InvalidArgument(what + "bin_width * num_bins is not a power of two (power_of_two)");
    }
  }
  h.counts_ = std::move(counts);
  h.bin_width_ = bin_width;
  h.max_abs_ = max_abs;
  h.nonfinite_skipped_ = nonfinite_skipped;
  h.pending_zeros_ = pending_zeros;
  // A kTwoPass state records no flag for "observe_range() saw only zeros and
  // nothing was collected"; that one state comes back as not yet observed.
  h.range_observed_ = policy == RangePolicy::kTwoPass &&
                      (bin_width > 0.0f || max_abs > 0.0f || any_count || pending_zeros > 0);
  return h;
}

}  // namespace calib
}  // namespace int8rt
