// What bounds the AMX-BF16 GEMM's 2 x 2 tile loop on one core (RESULTS.md
// section 186): one 32 x 32 C block (tmm0-3) over K, per 16-pair step two A
// tiles (rows K * 2 bytes apart, as the driver's converted rows) and two B
// tiles (the packed panel [pairs][32][2], rows 128 B apart), computed again
// and again on the same A / B so they stay in L1 (K = 256: 32 KiB) or in L2
// (K = 768, 3072: 96 KiB, 384 KiB); each with the buffers 64-byte aligned
// and 16 bytes off (every tile row across two cache lines, what std::vector
// storage gave the driver before). Build: g++ -O2 -mamx-tile -mamx-bf16;
// prints the best of 200 runs of 20 blocks in GMAC/s, thread CPU time.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

double now() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

void block(const uint16_t* a, int64_t pairs, const uint16_t* b, float* acc) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  const long as = pairs * 4;
  for (int64_t p = 0; p < pairs; p += 16) {
    const uint16_t* bb = b + p * 64;
    const uint16_t* a0 = a + 2 * p;
    _tile_loadd(4, a0, as);
    _tile_loadd(6, bb, 128);
    _tile_loadd(7, bb + 32, 128);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(5, a0 + 16 * pairs * 2, as);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, acc, 128);
  _tile_stored(1, acc + 16, 128);
  _tile_stored(2, acc + 512, 128);
  _tile_stored(3, acc + 528, 128);
}

}  // namespace

int main() {
  if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) {
    std::printf("no-permission\n");
    return 1;
  }
  static const TileConfig cfg;
  __asm__ volatile("" ::: "memory");
  _tile_loadconfig(&cfg);
  alignas(64) static float acc[1024];
  for (int K : {256, 768, 3072}) {
    const int64_t pairs = K / 2;
    for (int off : {0, 16}) {
      char* abuf = static_cast<char*>(std::aligned_alloc(64, 32 * K * 2 + 64));
      char* bbuf = static_cast<char*>(std::aligned_alloc(64, K * 64 + 64));
      uint16_t* A = reinterpret_cast<uint16_t*>(abuf + off);
      uint16_t* B = reinterpret_cast<uint16_t*>(bbuf + off);
      for (long i = 0; i < 32L * K; ++i) A[i] = B[i] = static_cast<uint16_t>(0x3f00 | (std::rand() & 0x7f));
      double best = 0;
      for (int rep = 0; rep < 200; ++rep) {
        const double t0 = now();
        for (int i = 0; i < 20; ++i) block(A, pairs, B, acc);
        best = std::max(best, 20.0 * 32 * 32 * K / (now() - t0) / 1e9);
      }
      std::printf("K=%d (A + B %d KiB), buffers %s: %.0f GMAC/s\n", K, K * 128 / 1024,
                  off ? "16 B off 64" : "64-byte aligned", best);
      std::free(abuf);
      std::free(bbuf);
    }
  }
  _tile_release();
  return 0;
}
