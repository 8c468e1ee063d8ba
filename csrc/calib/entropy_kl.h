// The KL divergences of the entropy search (definition: entropy.cc), in two
// evaluations: a fast one from prefix sums, O(levels) per candidate and run in
// parallel, and the term-by-term one that spells the reference out, used by
// the golden tests (MethodOptions::reference_order). Internal to csrc/calib.
#pragma once

#include <cstdint>
#include <vector>

namespace int8rt {
namespace calib {
namespace detail {

struct EntropySearch {
  std::vector<uint64_t> bins;  // the histogram's counts with bins[0] = bins[1]
  uint64_t total = 0;          // sum(bins), > 0
  int64_t levels = 128;        // quantization levels, a power of two
  int64_t start_bin = 128;     // first candidate i (>= 1)
  int64_t stride = 1;
  int64_t num_candidates = 0;  // candidates start_bin + k * stride <= bins.size()

  int64_t candidate(int64_t k) const { return start_bin + k * stride; }
};

// result[k]: KL(P_i || Q_i) for i = search.candidate(k), +inf where P has mass
// Q lacks. Both return the same values up to rounding (~1e-14 nats apart).
std::vector<double> entropy_kl_fast(const EntropySearch& search);
std::vector<double> entropy_kl_reference(const EntropySearch& search);

}  // namespace detail
}  // namespace calib
}  // namespace int8rt
