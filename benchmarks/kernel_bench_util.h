// Helpers of the stand-alone kernel benchmarks (benchmarks/*_kernels.cc,
// built with g++ against the dev tree's installed library): the calling
// thread's CPU clock and deterministic int8 inputs.
#pragma once

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bench {

// The calling thread's CPU time in ms.
inline double thread_ms() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

// n codes of a multiplicative hash: spread over all 256 values, no RNG state.
inline std::vector<int8_t> codes(size_t n, uint32_t seed) {
  std::vector<int8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<int8_t>(((i + seed) * 2654435761u) >> 24);
  return v;
}

}  // namespace bench
