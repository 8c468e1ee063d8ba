// The two data passes behind Histogram::collect (see histogram.cc for the
// semantics): a max/NaN scan, then binning of |x| into uint64 counts.
// Both split the elements into chunks of kChunk and run on the library pool.
#pragma once

#include <cstdint>
#include <vector>

#include "calib/array_iter.h"

namespace int8rt {
namespace calib {
namespace detail {

constexpr int64_t kChunk = int64_t{1} << 16;

struct Scan {
  float max_abs = 0.0f;    // largest finite |x| (0 for an empty array)
  int64_t nonfinite = 0;   // number of NaN / +-Inf values
  std::vector<uint8_t> chunk_nonfinite;  // per chunk: holds a NaN/Inf
};

Scan scan_abs(const FlatView& v);

// counts[min(num_bins-1, int(|x| * inv_width))] += 1 for every finite x
// (float32 arithmetic, the header's definition). `scan` is v's scan.
void bin_abs(const FlatView& v, const Scan& scan, float inv_width, uint64_t* counts,
             int64_t num_bins);

}  // namespace detail
}  // namespace calib
}  // namespace int8rt
