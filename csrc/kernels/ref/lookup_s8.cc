// Reference int8 table lookups (ref_kernels.h): y[i] = table[x[i] + 128],
// and with one table per channel of [pixels][channels] bytes,
// y[p][c] = tables[c][x[p][c] + 128], and to float32 through a float
// table (lookup_f32_s8). Memory bound and exact by construction; the
// per-channel one and the float one are also the engine's kernels.
#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/ref/ref_kernels.h"

namespace int8rt {
namespace kernels {
namespace ref {

void lookup_s8(int64_t n, const int8_t* x, const int8_t* table, int8_t* y) {
  parallel_for(n, int64_t{1} << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = table[static_cast<int>(x[i]) + 128];
  });
}

void lookup_s8_channels(int64_t pixels, int64_t channels, const int8_t* x, const int8_t* tables, int8_t* y) {
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, channels));
  parallel_for(pixels, grain, [&](int64_t begin, int64_t end) {
    // Four channels' loads before their stores: with the pointers declared
    // unaliased the compiler keeps them in flight (1.7x the one-at-a-time
    // loop on Zen 3, benchmarks/RESULTS_realnets.md "Per-channel activation grids").
    const int8_t* __restrict t = tables + 128;
    for (int64_t p = begin; p < end; ++p) {
      const int8_t* __restrict xp = x + p * channels;
      int8_t* __restrict yp = y + p * channels;
      int64_t c = 0;
      for (; c + 4 <= channels; c += 4) {
        const int8_t a = t[c * 256 + xp[c]], b = t[(c + 1) * 256 + xp[c + 1]];
        const int8_t d = t[(c + 2) * 256 + xp[c + 2]], e = t[(c + 3) * 256 + xp[c + 3]];
        yp[c] = a;
        yp[c + 1] = b;
        yp[c + 2] = d;
        yp[c + 3] = e;
      }
      for (; c < channels; ++c) yp[c] = t[c * 256 + xp[c]];
    }
  });
}

void lookup_f32_s8(int64_t n, const int8_t* x, const float* table, float* y) {
  const float* __restrict t = table + 128;
  for (int64_t i = 0; i < n; ++i) y[i] = t[x[i]];
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
