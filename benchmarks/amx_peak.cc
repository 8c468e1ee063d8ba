// Measured AMX peak of one core: a loop of tdpbusd (AMX-INT8, the default)
// or, given the argument "bf16", tdpbf16ps (AMX-BF16) into 4 independent
// accumulator tiles (tmm0-3) from tiles 4-7, all 16 rows x 64 bytes, so each
// instruction is 16 x 16 x 64 int8 multiply-adds or 16 x 16 x 32 BF16 pair
// products into FP32 (the tiles hold zeros: no denormal or NaN slows it).
// Built and run (g++ -O2 -mamx-tile -mamx-int8 -mamx-bf16) by
// x86_kernels_bench.py (int8) and bf16gemm_shapes.py (bf16) only where the
// CPU has AMX; asks Linux for the tile-data permission first (arch_prctl
// ARCH_REQ_XCOMP_PERM) and prints "no-permission" if refused. Prints the
// best of many short runs, for the same reason as vnni_peak.cc: int8 in GOPS
// (2 ops per multiply-add), bf16 in GMAC/s (one per multiply-add).
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>

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

void loop_int8(int64_t iters) {
  for (int64_t i = 0; i < iters; ++i) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
}

void loop_bf16(int64_t iters) {
  for (int64_t i = 0; i < iters; ++i) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool bf16 = argc > 1 && std::strcmp(argv[1], "bf16") == 0;
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
    bf16 ? loop_bf16(kIters) : loop_int8(kIters);
    auto t1 = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(t1 - t0).count();
    const double per_call = bf16 ? 16.0 * 16.0 * 32.0 : 2.0 * 16.0 * 16.0 * 64.0;  // MACs / ops per instruction
    const double rate = per_call * 4.0 * static_cast<double>(kIters) / s / 1e9;
    if (rate > best) best = rate;
  }
  _tile_release();
  std::printf("%.2f\n", best);
  return 0;
}
