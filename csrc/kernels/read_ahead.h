// Fetching memory a caller reads next into the cache while a kernel's
// register tiles run (SgemmEpilogue::ahead): a batch's next image, written a
// whole layer earlier and likely in L3 or DRAM at batch 8, or the residual
// a transpose reads right after the product. Each task takes its share of
// the region and issues a few line fetches per step (register tile), so the
// fetches overlap the FMAs instead of stalling the copy or transpose that
// reads the region. Order of fetches only: never a result.
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

struct ReadAhead {
  const char* p = nullptr;
  int64_t lines = 0;     // cache lines left to fetch
  int64_t per_step = 0;  // lines fetched by each step()

  // Part `part` of `parts` of the `bytes` at `base` (none when base is null
  // or bytes <= 0), spread evenly over `steps` calls of step().
  static ReadAhead share(const void* base, int64_t bytes, int64_t part, int64_t parts, int64_t steps) {
    ReadAhead r;
    if (!base || bytes <= 0 || parts < 1) return r;
    const int64_t all = (bytes + 63) / 64, first = all * part / parts;
    r.p = static_cast<const char*>(base) + first * 64;
    r.lines = all * (part + 1) / parts - first;
    r.per_step = steps > 0 ? (r.lines + steps - 1) / steps : r.lines;
    return r;
  }

  void step() {
    for (int64_t l = 0; l < per_step && lines > 0; ++l, --lines, p += 64) __builtin_prefetch(p);
  }
};

}  // namespace kernels
}  // namespace int8rt
