// The timing loop of the TDPBF16PS probes (bf16cnn3_k_probe.cc, RESULTS.md
// section 208; bf16r50c_m_probe.cc, section 221): a tile configuration, and
// the best of 30 runs of `iters` rounds of 4 independent TDPBF16PS (C tiles
// 0-3, A tiles 4-5, B tiles 6-7, all from zero tiles), in ns per TDPBF16PS.
// The caller sets the tiles' shapes; this loads, times and releases.
#pragma once
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <chrono>
#include <cstdint>

struct alignas(64) Cfg { uint8_t p = 1, s = 0; uint8_t r[14] = {}; uint16_t colsb[16] = {}; uint8_t rows[16] = {}; };

// Asks Linux for the AMX tile state (ARCH_REQ_XCOMP_PERM, XFEATURE 18).
inline void request_amx() { syscall(SYS_arch_prctl, 0x1023, 18); }

inline double tdpbf16ps_ns(const Cfg& c, int64_t iters) {
  _tile_loadconfig(&c);
  _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3); _tile_zero(4); _tile_zero(5); _tile_zero(6); _tile_zero(7);
  double best = 1e9;
  for (int rep = 0; rep < 30; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < iters; ++i) {
      _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7); _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / (4.0 * iters);
    if (ns < best) best = ns;
  }
  _tile_release();
  return best;
}
