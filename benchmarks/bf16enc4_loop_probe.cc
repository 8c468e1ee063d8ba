// The AMX-BF16 GEMM's chunk loop, variants of its order on one core
// (RESULTS.md section 214): a column chunk's weight panels (the driver's
// [pairs][32][2] panels, at most 512 KiB, as kernels/gemm_bf16.cc forms them)
// against 256 A rows (rows K * 2 bytes apart), one 32-row panel per kernel
// call, no epilogue: v0 the library's order (per column tile, C in tmm0-3
// over the whole of k); v1kN k blocks of N pairs over all of the chunk's
// tiles, C parked in memory between blocks (A's block stays in L1); v2 the
// step's loads reordered; v3 two row panels per B panel. Build:
// g++ -O2 -mamx-tile -mamx-bf16 -mavx512f benchmarks/bf16enc4_loop_probe.cc; run with K N [nc];
// prints the median of 9 rounds in GMAC/s (thread CPU time).
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>
struct alignas(64) TileConfig {
  uint8_t palette_id = 1; uint8_t start_row = 0; uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};
double now() { timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
alignas(64) static float acc[64 * 1024];
alignas(64) static float out[1024 * 4096];
// One k step of 16 pairs in the library's order: two A tiles (rows 0-15,
// 16-31, `pairs` * 4 bytes apart) against two B tiles into C in tmm0-3.
static inline void step16(const uint16_t* a0, const uint16_t* bb, int64_t pairs) {
  const long as = pairs * 4;
  _tile_loadd(4, a0, as); _tile_loadd(6, bb, 128); _tile_loadd(7, bb + 32, 128);
  _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
  _tile_loadd(5, a0 + 16 * pairs * 2, as);
  _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
}
// One 32-row A panel (rows `pairs` * 4 bytes apart) against one column
// tile's B panel over the whole of k, C (32 x 32 floats) stored at c.
static inline void panel32(const uint16_t* a, int64_t pairs, const uint16_t* bq, float* c) {
  _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
  for (int64_t p = 0; p < pairs; p += 16) {
    const uint16_t* bb = bq + p * 64; const uint16_t* a0 = a + 2 * p;
    step16(a0, bb, pairs);
  }
  _tile_stored(0, c, 128); _tile_stored(1, c + 16, 128); _tile_stored(2, c + 512, 128); _tile_stored(3, c + 528, 128);
}
// V0: per col tile, whole K
void v0(const uint16_t* a, int64_t pairs, const uint16_t* b, int64_t bpanel, int tiles) {
  for (int q = 0; q < tiles; ++q) panel32(a, pairs, b + q * bpanel, acc + q * 1024);
}
// V1: k-blocked, C through acc between chunks
void v1(const uint16_t* a, int64_t pairs, const uint16_t* b, int64_t bpanel, int tiles, int64_t kc) {
  for (int64_t p0 = 0; p0 < pairs; p0 += kc) {
    const int64_t p1 = std::min(pairs, p0 + kc);
    for (int q = 0; q < tiles; ++q) {
      const uint16_t* bq = b + q * bpanel;
      float* c = acc + q * 1024;
      if (p0 == 0) { _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3); }
      else { _tile_loadd(0, c, 128); _tile_loadd(1, c + 16, 128); _tile_loadd(2, c + 512, 128); _tile_loadd(3, c + 528, 128); }
      for (int64_t p = p0; p < p1; p += 16) {
        const uint16_t* bb = bq + p * 64; const uint16_t* a0 = a + 2 * p;
        step16(a0, bb, pairs);
      }
      _tile_stored(0, c, 128); _tile_stored(1, c + 16, 128); _tile_stored(2, c + 512, 128); _tile_stored(3, c + 528, 128);
    }
  }
}
// V2: B-order within step: load B6, A4, dp, B7 dp, A5 dp dp (different issue order)
void v2(const uint16_t* a, int64_t pairs, const uint16_t* b, int64_t bpanel, int tiles) {
  const long as = pairs * 4;
  for (int q = 0; q < tiles; ++q) {
    const uint16_t* bq = b + q * bpanel;
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    for (int64_t p = 0; p < pairs; p += 16) {
      const uint16_t* bb = bq + p * 64; const uint16_t* a0 = a + 2 * p;
      _tile_loadd(4, a0, as); _tile_loadd(6, bb, 128);
      _tile_dpbf16ps(0, 4, 6);
      _tile_loadd(5, a0 + 16 * pairs * 2, as);
      _tile_dpbf16ps(2, 5, 6);
      _tile_loadd(7, bb + 32, 128);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(3, 5, 7);
    }
    float* c = acc + q * 1024;
    _tile_stored(0, c, 128); _tile_stored(1, c + 16, 128); _tile_stored(2, c + 512, 128); _tile_stored(3, c + 528, 128);
  }
}
// V3: pair of col tiles sharing A (1x? no): two row panels per B sweep: rows 0-31 then 32-63 for same tile
void v3(const uint16_t* a, int64_t pairs, const uint16_t* b, int64_t bpanel, int tiles) {
  for (int q = 0; q < tiles; ++q) {
    for (int h = 0; h < 2; ++h) panel32(a + h * 32 * pairs * 2, pairs, b + q * bpanel, acc + q * 1024);
  }
}
int main(int argc, char** argv) {
  if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) { std::printf("no-permission\n"); return 1; }
  static const TileConfig cfg; _tile_loadconfig(&cfg);
  const int M = 256, K = atoi(argv[1]), N = atoi(argv[2]);
  const int64_t pairs = K / 2, bpanel = pairs * 64;
  int64_t nc = std::min<int64_t>(N, std::max<int64_t>(128, (512 << 10) / (K * 2) / 32 * 32)); if (argc > 3) nc = atoi(argv[3]);
  uint16_t* A = (uint16_t*)aligned_alloc(64, (size_t)M * K * 2);
  uint16_t* B = (uint16_t*)aligned_alloc(64, (size_t)N * K * 2);
  for (long i = 0; i < (long)M * K; ++i) A[i] = 0x3f00 | (rand() & 0x7f);
  for (long i = 0; i < (long)N * K; ++i) B[i] = 0x3f00 | (rand() & 0x7f);
  const char* names[] = {"v0", "v1k32", "v1k64", "v1k128", "v1k192", "v2", "v3"};
  const int nv = 7; std::vector<std::vector<double>> t(nv);
  for (int rep = 0; rep < 9; ++rep) for (int v = 0; v < nv; ++v) {
    const double t0 = now();
    for (int64_t j0 = 0; j0 < N; j0 += nc) {
      const int tiles = (int)(std::min<int64_t>(nc, N - j0) / 32);
      const uint16_t* bj = B + (j0 / 32) * bpanel;
      for (int i = 0; i < M; i += (v == 6 ? 64 : 32)) {
        const uint16_t* ai = A + (long)i * K;
        switch (v) { case 0: v0(ai, pairs, bj, bpanel, tiles); break;
          case 1: v1(ai, pairs, bj, bpanel, tiles, 32); break; case 2: v1(ai, pairs, bj, bpanel, tiles, 64); break;
          case 3: v1(ai, pairs, bj, bpanel, tiles, 128); break; case 4: v1(ai, pairs, bj, bpanel, tiles, 192); break;
          case 5: v2(ai, pairs, bj, bpanel, tiles); break; case 6: v3(ai, pairs, bj, bpanel, tiles); break; }
      }
    }
    t[v].push_back((double)M * N * K / (now() - t0) / 1e9);
  }
  std::printf("M=%d K=%d N=%d nc=%ld:", M, K, N, (long)nc);
  for (int v = 0; v < nv; ++v) { std::sort(t[v].begin(), t[v].end()); std::printf(" %s %.0f", names[v], t[v][4]); }
  std::printf(" GMAC/s (median of 9)\n");
}
