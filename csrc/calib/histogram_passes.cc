// Max scan and binning kernels for Histogram::collect.
//
// Scan: max over the bits of |x| read as int32. For non-negative floats the
// integer order is the float order, and NaN/Inf are exactly the bit patterns
// >= 0x7f800000, so one branch-free, vectorisable pass yields both max |x| and
// "contains NaN/Inf"; only a chunk that does contain one is rescanned
// scalar-wise to count them and take the finite max.
//
// Binning: per block of 256 values the bin indices are computed in a loop the
// compiler vectorises with baseline SSE2 (andps, mulps, minps, cvttps2dq; the
// clamp is done in float before the conversion, so huge products never reach
// an out-of-range float->int conversion), then scattered into 4 interleaved
// count arrays so that runs of equal indices (common: many values in bin 0)
// do not serialise on store-to-load forwarding. Threads ("lanes") claim
// chunks dynamically and each sums into its own local counts, added to the
// histogram at the end; small inputs go straight into the histogram.
#include "calib/histogram_passes.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/thread_pool.h"
#include "int8rt/threading.h"

namespace int8rt {
namespace calib {
namespace detail {
namespace {

constexpr int32_t kNonFiniteBits = 0x7f800000;

inline int32_t abs_bits(const float* p) {
  uint32_t b;
  std::memcpy(&b, p, sizeof(b));
  return static_cast<int32_t>(b & 0x7fffffffu);
}

int32_t max_abs_bits(const float* p, int64_t n) {
  int32_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    int32_t a = abs_bits(p + i);
    m = a > m ? a : m;
  }
  return m;
}

// Number of NaN/Inf values in p[0, n) and the max |x| of the others.
int64_t count_nonfinite(const float* p, int64_t n, int32_t* finite_max) {
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    int32_t a = abs_bits(p + i);
    if (a >= kNonFiniteBits) {
      ++bad;
    } else if (a > *finite_max) {
      *finite_max = a;
    }
  }
  return bad;
}

// Calls fn(chunk, begin, end) for each kChunk-aligned chunk inside [b, e).
template <typename Fn>
void for_chunks(int64_t b, int64_t e, const Fn& fn) {
  for (int64_t c = b / kChunk; c * kChunk < e; ++c) {
    fn(c, std::max(b, c * kChunk), std::min(e, (c + 1) * kChunk));
  }
}

constexpr int64_t kIndexBlock = 256;

template <typename Count>
void bin_block(const float* p, int64_t n, float inv_width, float last, Count* counts,
               int64_t num_bins, int copies) {
  int32_t index[kIndexBlock];
  while (n > 0) {
    const int64_t m = std::min(n, kIndexBlock);
    for (int64_t i = 0; i < m; ++i) {
      float t = std::fabs(p[i]) * inv_width;
      t = t < last ? t : last;
      index[i] = static_cast<int32_t>(t);
    }
    int64_t i = 0;
    if (copies == 4) {
      Count* c1 = counts + num_bins;
      Count* c2 = c1 + num_bins;
      Count* c3 = c2 + num_bins;
      for (; i + 4 <= m; i += 4) {
        ++counts[index[i]];
        ++c1[index[i + 1]];
        ++c2[index[i + 2]];
        ++c3[index[i + 3]];
      }
    }
    for (; i < m; ++i) ++counts[index[i]];
    p += m;
    n -= m;
  }
}

// The same for data holding NaN/Inf (kSkip): those are left out.
template <typename Count>
void bin_block_skipping(const float* p, int64_t n, float inv_width, float last, Count* counts) {
  for (int64_t i = 0; i < n; ++i) {
    if (abs_bits(p + i) >= kNonFiniteBits) continue;
    float t = std::fabs(p[i]) * inv_width;
    t = t < last ? t : last;
    ++counts[static_cast<int32_t>(t)];
  }
}

template <typename Count>
void bin_chunk(const FlatView& v, const Scan& scan, int64_t chunk, float inv_width,
               Count* counts, int64_t num_bins, int copies) {
  const float last = static_cast<float>(num_bins - 1);
  const bool skipping = scan.chunk_nonfinite[chunk] != 0;
  for_each_block(v, chunk * kChunk, (chunk + 1) * kChunk, [&](const float* p, int64_t n) {
    if (skipping) {
      bin_block_skipping(p, n, inv_width, last, counts);
    } else {
      bin_block(p, n, inv_width, last, counts, num_bins, copies);
    }
  });
}

// Lanes with their own counts; Count is uint32 unless one lane could see 2^32 values.
template <typename Count>
void bin_in_lanes(const FlatView& v, const Scan& scan, float inv_width, uint64_t* counts,
                  int64_t num_bins, int lanes, int copies) {
  const int64_t num_chunks = static_cast<int64_t>(scan.chunk_nonfinite.size());
  std::vector<std::vector<Count>> lane_counts(lanes);
  std::atomic<int64_t> next_chunk{0};
  parallel_for(lanes, 1, [&](int64_t lane_begin, int64_t lane_end) {
    for (int64_t lane = lane_begin; lane < lane_end; ++lane) {
      std::vector<Count>& local = lane_counts[lane];
      for (;;) {
        int64_t c = next_chunk.fetch_add(1, std::memory_order_relaxed);
        if (c >= num_chunks) break;
        if (local.empty()) local.assign(static_cast<size_t>(copies * num_bins), 0);
        bin_chunk(v, scan, c, inv_width, local.data(), num_bins, copies);
      }
    }
  });
  for (const std::vector<Count>& local : lane_counts) {
    for (size_t k = 0; k < local.size(); k += static_cast<size_t>(num_bins)) {
      for (int64_t i = 0; i < num_bins; ++i) counts[i] += local[k + static_cast<size_t>(i)];
    }
  }
}

}  // namespace

Scan scan_abs(const FlatView& v) {
  const int64_t num_chunks = (v.size + kChunk - 1) / kChunk;
  std::vector<int32_t> chunk_max(num_chunks, 0);
  std::vector<int64_t> chunk_bad(num_chunks, 0);
  parallel_for(v.size, kChunk, [&](int64_t b, int64_t e) {
    for_chunks(b, e, [&](int64_t c, int64_t cb, int64_t ce) {
      int32_t m = 0;
      for_each_block(v, cb, ce, [&](const float* p, int64_t n) {
        m = std::max(m, max_abs_bits(p, n));
      });
      if (m >= kNonFiniteBits) {  // rare: count them and take the max of the rest
        m = 0;
        int64_t bad = 0;
        for_each_block(v, cb, ce, [&](const float* p, int64_t n) {
          bad += count_nonfinite(p, n, &m);
        });
        chunk_bad[c] = bad;
      }
      chunk_max[c] = m;
    });
  });
  Scan s;
  s.chunk_nonfinite.resize(num_chunks);
  int32_t m = 0;
  for (int64_t c = 0; c < num_chunks; ++c) {
    m = std::max(m, chunk_max[c]);
    s.nonfinite += chunk_bad[c];
    s.chunk_nonfinite[c] = chunk_bad[c] > 0;
  }
  std::memcpy(&s.max_abs, &m, sizeof(m));
  return s;
}

void bin_abs(const FlatView& v, const Scan& scan, float inv_width, uint64_t* counts,
             int64_t num_bins) {
  const int64_t num_chunks = static_cast<int64_t>(scan.chunk_nonfinite.size());
  if (num_chunks == 0) return;
  const int lanes = static_cast<int>(std::min<int64_t>(get_num_threads(), num_chunks));
  // Interleaved copies pay for their zeroing and summing only on long inputs.
  const int copies = v.size >= 16 * num_bins ? 4 : 1;
  if (lanes == 1 && copies == 1) {
    for (int64_t c = 0; c < num_chunks; ++c) bin_chunk(v, scan, c, inv_width, counts, num_bins, 1);
  } else if (v.size <= static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) {
    bin_in_lanes<uint32_t>(v, scan, inv_width, counts, num_bins, lanes, copies);
  } else {
    bin_in_lanes<uint64_t>(v, scan, inv_width, counts, num_bins, lanes, copies);
  }
}

}  // namespace detail
}  // namespace calib
}  // namespace int8rt
