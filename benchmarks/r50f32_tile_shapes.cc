// FP32 register-tile shapes on this core, operands in L1: GFLOP/s of the
// 12 x 32 tile (sgemm_12x32_avx512's shape, MLAS's SGEMM: per k 2 B vector
// loads and 12 broadcasts for 24 FMAs) against 6 x 64 (MLAS's NCHWc conv
// kernel's shape: 4 B vector loads and 6 broadcasts for 24 FMAs) and 8 x 48
// (3 loads, 8 broadcasts, 24 FMAs), each with B in registers. Tells whether
// the broadcasts, not the FMAs, bound the 12 x 32 tile (a broadcast that
// takes an FP pipe on this core would cost 12 of 36 slots against 6 of 30).
// Build and run: g++ -O2 -mavx512f -o /tmp/tile_shapes r50f32_tile_shapes.cc && /tmp/tile_shapes
// Prints the best of many short runs per shape (short, so one fits in a
// scheduler slice on a shared machine), as fma_peak.cc.
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace {

constexpr int kK = 128;  // k steps per call: A and B panels stay in L1

template <int R, int V>
__attribute__((noinline)) void tile(const float* a, const float* b, float* c, int reps) {
  for (int rep = 0; rep < reps; ++rep) {
    __m512 acc[R][V];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
    }
    const float* pa = a;
    const float* pb = b;
    for (int k = 0; k < kK; ++k) {
      __m512 bv[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) bv[v] = _mm512_loadu_ps(pb + 16 * v);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 av = _mm512_set1_ps(pa[r]);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
      }
      pa += R;
      pb += 16 * V;
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) _mm512_storeu_ps(c + (r * V + v) * 16, acc[r][v]);
    }
  }
}

template <int R, int V>
double best_gflops(const float* a, const float* b, float* c) {
  constexpr int kReps = 40;
  double best = 0.0;
  for (int run = 0; run < 3000; ++run) {
    auto t0 = std::chrono::steady_clock::now();
    tile<R, V>(a, b, c, kReps);
    auto t1 = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(t1 - t0).count();
    const double g = 2.0 * 16.0 * R * V * kK * kReps / s / 1e9;
    if (g > best) best = g;
  }
  return best;
}

}  // namespace

int main() {
  alignas(64) static float a[kK * 12], b[kK * 64], c[12 * 64];
  for (int i = 0; i < kK * 12; ++i) a[i] = 1e-3f * static_cast<float>(i % 7);
  for (int i = 0; i < kK * 64; ++i) b[i] = 1e-3f * static_cast<float>(i % 5);
  for (int pass = 0; pass < 3; ++pass) {
    std::printf("12x32 %.1f  6x64 %.1f  8x48 %.1f  GFLOP/s\n", best_gflops<12, 2>(a, b, c),
                best_gflops<6, 4>(a, b, c), best_gflops<8, 3>(a, b, c));
  }
  return 0;
}
