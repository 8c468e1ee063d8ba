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
#include <cstdint>
#include <cstring>
#include <vector>

#include "calib/search_common.h"
#include "core/thread_pool.h"
#include "int8rt/calibration.h"

namespace int8rt {
namespace calib {
namespace {

// The sums over the bins with a count (an empty bin adds exactly +0.0 to a
// non-negative double sum, so leaving it out changes no bit; histograms the
// "extend" policy grew are mostly empty past their body), divided by every
// bin, of kLanes candidates at once: lane l is candidate l's sum, left to
// right in double as for one candidate alone, and every operation is
// lane-wise IEEE float32 / float64 arithmetic (vector extensions, as
// kernels/ref/layernorm_f32.h), so its bits are those of the candidate on
// its own. One candidate's sum is a chain of dependent double additions
// and its float32 terms scalar divisions; kLanes candidates make both
// vector instructions: the exact search over every bin took a third of the
// time (RESULTS.md §39).
constexpr int kLanes = 8;
typedef float F4 __attribute__((vector_size(16)));
typedef float F2 __attribute__((vector_size(8)));
typedef double D2 __attribute__((vector_size(16)));
typedef int32_t M4 __attribute__((vector_size(16)));

inline F4 select(M4 mask, F4 a, F4 b) {  // mask ? a : b, lane by lane, as bits
  return reinterpret_cast<F4>((reinterpret_cast<M4>(a) & mask) | (reinterpret_cast<M4>(b) & ~mask));
}

inline F4 splat(float x) { return F4{x, x, x, x}; }

// nearbyint(v) in the default rounding mode (half to even) for 0 <= v <
// 2^23, without std::nearbyint's library call (the baseline build has no
// SSE4.1 roundss; the call was most of the search's time): past 2^23 a float
// has no fraction bits, so v + 2^23 rounds v to an integer as nearbyint
// does, and subtracting 2^23 back is exact.
inline F4 round_small(F4 v) {  // lane by lane
  const F4 k = splat(8388608.0f);
  return (v + k) - k;
}

inline D2 widen(F4 v, int half) {  // lanes 2 half, 2 half + 1 as double (exact)
  F2 h;
  std::memcpy(&h, reinterpret_cast<const char*>(&v) + 8 * half, sizeof h);
  return __builtin_convertvector(h, D2);
}

void mse_for_amaxes(const float* amax, double* mse, const std::vector<float>& centers,
                    const std::vector<float>& weights, float bound, int64_t nbins) {
  const float kZeroAmax = 1.0f / static_cast<float>(1 << 24);
  F4 scale[2];
  M4 zero[2];
  for (int h = 0; h < 2; ++h) {
    F4 a;
    std::memcpy(&a, amax + 4 * h, sizeof a);
    scale[h] = splat(bound) / a;
    zero[h] = a <= splat(kZeroAmax);
  }
  const F4 vbound = splat(bound), vzero = splat(0.0f);
  D2 sum[4] = {};
  for (size_t j = 0; j < centers.size(); ++j) {
    const F4 c = splat(centers[j]);
    const F4 w = splat(weights[j]);
    for (int h = 0; h < 2; ++h) {
      // The reference's clamp(nearbyint(v), lo, bound): centres are >= 0,
      // so v >= 0 and nearbyint(v) >= +0 >= lo; below bound, nearbyint(v)
      // <= bound; from bound on, the clamp gives bound. So r is that value
      // without the clamp's two selects.
      const F4 v = c * scale[h];
      const F4 r = select(v >= vbound, vbound, round_small(v));
      const F4 q = select(zero[h], vzero, r / scale[h]);
      const F4 d = q - c;
      const F4 term = (d * d) * w;
      sum[2 * h] += widen(term, 0);
      sum[2 * h + 1] += widen(term, 1);
    }
  }
  for (int l = 0; l < kLanes; ++l) mse[l] = sum[l / 2][l % 2] / static_cast<double>(nbins);
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

  // Candidates in groups of kLanes (the last group padded with the last
  // candidate, its extra results dropped).
  const int64_t groups = (num + kLanes - 1) / kLanes;
  std::vector<double> mse(groups * kLanes);
  const int64_t grain =
      std::max<int64_t>(1, 65536 / (kLanes * std::max<int64_t>(1, static_cast<int64_t>(filled.size()))));
  parallel_for(groups, grain, [&](int64_t begin, int64_t end) {
    float amax[kLanes];
    for (int64_t g = begin; g < end; ++g) {
      for (int l = 0; l < kLanes; ++l) {
        const int64_t k = std::min(g * kLanes + l, num - 1);
        amax[l] = centers[options.start_bin + k * options.stride];
      }
      mse_for_amaxes(amax, mse.data() + g * kLanes, filled, weights, bound, nbins);
    }
  });
  mse.resize(num);
  const int64_t best = std::min_element(mse.begin(), mse.end()) - mse.begin();
  return centers[options.start_bin + best * options.stride];
}

}  // namespace calib
}  // namespace int8rt
