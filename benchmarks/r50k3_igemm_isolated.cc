// The AVX512-VNNI igemm microkernels alone, data in cache, against the
// vpdpbusd ceiling (RESULTS.md section 121): thread CPU ns per call, minimum
// of 7 rounds, and that time over the ideal of two vpdpbusd per cycle at
// 4 GHz (the clock benchmarks/avx512vnni_epilogue_ports.c reads on this
// Zen 5: 24 independent vpdpbusd in 3.0 ns).
//   tile  TAPS KC      the 6 x 64 tile (igemm_u8_fn(6, 4)), one pixel tile
//                      called again and again (a 3x3 conv: TAPS 9)
//   strip KC M RES     igemm_strip_u8 over M rows against the 6 x 64 tile
//                      over the same rows (RES 1: with a residual)
// Build against a dev build's objects (one command line):
//   O=build/dev/csrc/kernels/x86/CMakeFiles/int8rt_x86_avx512vnni.dir/avx512vnni
//   g++ -O2 -std=c++17 -Icsrc benchmarks/r50k3_igemm_isolated.cc $O/igemm_6x64c4.cc.o
//       $O/igemm_strip_3x64c4.cc.o -o /tmp/igemm_isolated
//   /tmp/igemm_isolated tile 9 256; /tmp/igemm_isolated strip 64 96 1
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include "kernels/abi/conv_gemm_s8.h"

using namespace int8rt::kernels::x86;

namespace {

double now() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

constexpr double kIdealNsPerDp = 1.0 / (2 * 4.0);  // two vpdpbusd per cycle at 4 GHz

std::vector<int8_t> random_bytes(size_t n, int lo, int hi) {
  std::vector<int8_t> v(n);
  for (auto& b : v) b = static_cast<int8_t>(lo + rand() % (hi - lo + 1));
  return v;
}

// An int8 epilogue over 64 channels: scale, bias, clamp [0, 127], rows of
// 64 bytes from y.
TileEpilogue int8_epilogue(const float* scale, const float* bias, int8_t* y) {
  TileEpilogue ep;
  ep.scale = scale;
  ep.bias = bias;
  ep.lo = 0;
  ep.hi = 127;
  ep.y = y;
  ep.y_stride = 64;
  ep.residual_stride = 64;
  return ep;
}

// Minimum over 7 rounds of the seconds per call of f.
template <typename F>
double best_of(F f, int reps) {
  double best = 1e9;
  for (int round = 0; round < 7; ++round) {
    const double t0 = now();
    for (int r = 0; r < reps; ++r) f();
    best = std::min(best, (now() - t0) / reps);
  }
  return best;
}

void tile(int taps, int kc) {
  const int q = (kc + 3) / 4;
  const std::vector<int8_t> w = random_bytes(static_cast<size_t>(taps) * q * 256, -127, 127);
  const std::vector<int8_t> x = random_bytes(static_cast<size_t>(6) * taps * kc + 64, 0, 127);
  std::vector<const void*> rows(static_cast<size_t>(taps) * 6);
  for (int tap = 0; tap < taps; ++tap)
    for (int i = 0; i < 6; ++i) rows[tap * 6 + i] = x.data() + (static_cast<size_t>(i) * taps + tap) * kc;
  std::vector<float> scale(64, 0.001f), bias(64, 0.5f);
  std::vector<int8_t> y(6 * 64);
  IgemmTile t;
  t.taps = taps;
  t.kc = kc;
  t.a = rows.data();
  t.w = w.data();
  t.w_block_stride = 64;
  t.nc = 64;
  t.ep = int8_epilogue(scale.data(), bias.data(), y.data());
  const IgemmFn fn = avx512vnni::igemm_u8_fn(6, 4);
  const long dps = static_cast<long>(taps) * q * 24;
  const double s = best_of([&] { fn(t); }, static_cast<int>(std::max(1L, 20000000L / dps)));
  printf("tile taps %d kc %d: %.1f ns per call, %.2f x ideal\n", taps, kc, s * 1e9, s * 1e9 / (dps * kIdealNsPerDp));
}

void strip(int kc, int m, bool with_res) {
  const int q = kc / 4;
  const std::vector<int8_t> w = random_bytes(static_cast<size_t>(q) * 256, -127, 127);
  const std::vector<int8_t> x = random_bytes(static_cast<size_t>(m) * kc + 64, 0, 127);
  const std::vector<int8_t> r = random_bytes(static_cast<size_t>(m) * 64 + 4096, -128, 127);
  std::vector<float> scale(64, 0.0001f), bias(64, 0.5f);
  std::vector<int8_t> y(static_cast<size_t>(m) * 64 + 4096);
  IgemmStrip s;
  s.x = x.data();
  s.x_stride = kc;
  s.m = m;
  s.kc = kc;
  s.w = w.data();
  s.ep = int8_epilogue(scale.data(), bias.data(), y.data());
  s.ep.residual = with_res ? r.data() : nullptr;
  s.ep.residual_scale = 0.5f;
  IgemmTile t;
  t.taps = 1;
  t.kc = kc;
  t.w = w.data();
  t.nc = 64;
  t.ep = s.ep;
  std::vector<const void*> rows(6);
  const IgemmFn fn = avx512vnni::igemm_u8_fn(6, 4);
  const int reps = std::max(1, 20000000 / (m * kc * 16));
  const double a = best_of([&] { avx512vnni::igemm_strip_u8(s); }, reps);
  const double b = best_of([&] {
    for (int p = 0; p + 6 <= m; p += 6) {
      for (int j = 0; j < 6; ++j) rows[j] = x.data() + static_cast<size_t>(p + j) * kc;
      t.a = rows.data();
      t.ep.y = y.data() + static_cast<size_t>(p) * 64;
      t.ep.residual = with_res ? r.data() + static_cast<size_t>(p) * 64 : nullptr;
      fn(t);
    }
  }, reps);
  const double ideal = static_cast<double>(m) * q * 4 * kIdealNsPerDp;
  printf("strip kc %d m %d residual %d: strip %.1f ns (%.2f x ideal), 6x64 tiles %.1f ns (%.2f x ideal)\n", kc, m,
         with_res ? 1 : 0, a * 1e9, a * 1e9 / ideal, b * 1e9, b * 1e9 / ideal);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && !strcmp(argv[1], "tile")) {
    tile(atoi(argv[2]), atoi(argv[3]));
  } else if (argc == 5 && !strcmp(argv[1], "strip") && atoi(argv[2]) % 4 == 0 && atoi(argv[2]) >= 16) {
    strip(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]) != 0);
  } else {
    fprintf(stderr, "usage: %s tile TAPS KC | strip KC M RES (KC a multiple of 4, >= 16)\n", argv[0]);
    return 2;
  }
  return 0;
}
