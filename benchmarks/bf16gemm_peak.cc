// Measured AMX-BF16 peak of one core: a loop of tdpbf16ps into 4 independent
// accumulator tiles (tmm0-3) from tiles 4-7, all 16 rows x 64 bytes, so each
// instruction is 16 x 16 x 32 multiply-adds (BF16 pairs into FP32). The
// tdpbf16ps twin of amx_peak.cc (same structure, same reasons); built and run
// by bf16gemm_shapes.py (g++ -O2 -mamx-tile -mamx-bf16) where the CPU has
// AMX-BF16. The tiles hold zeros, so no denormal or NaN slows the loop.
// Prints the best of many short runs in GMAC/s (one multiply-add per MAC).
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace {

constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtiledata = 18;

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

void loop(int64_t iters) {
  for (int64_t i = 0; i < iters; ++i) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
}

}  // namespace

int main() {
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
    std::printf("no-permission\n");
    return 1;
  }
  static const TileConfig cfg;
  __asm__ volatile("" ::: "memory");
  _tile_loadconfig(&cfg);
  _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
  _tile_zero(4); _tile_zero(5); _tile_zero(6); _tile_zero(7);
  constexpr int64_t kIters = 2000;
  double best = 0.0;
  for (int run = 0; run < 2000; ++run) {
    auto t0 = std::chrono::steady_clock::now();
    loop(kIters);
    auto t1 = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(t1 - t0).count();
    const double gmacs = 16.0 * 16.0 * 32.0 * 4.0 * static_cast<double>(kIters) / s / 1e9;
    if (gmacs > best) best = gmacs;
  }
  _tile_release();
  std::printf("%.2f\n", best);
  return 0;
}
