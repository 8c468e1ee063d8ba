// The AMX operations as the kernels in this folder write them: one spelling,
// two back ends chosen at compile time.
//
//   native (the library, compiled with -mamx-tile -mamx-int8): GCC's
//     _tile_* intrinsics. Those are macros that paste the tile number into
//     the instruction text, so tile arguments must be integer literals (or
//     macros expanding to them), never variables or constexpr names.
//   INT8RT_X86_EMULATED (tests, any x86-64 CPU, baseline flags):
//     kernels/x86/amx/amx_emulation.h, the SDM semantics in C++; the
//     AVX-512 epilogue the int8 kernel shares with avx512vnni then runs
//     against kernels/x86/emulation/avx512_emulation.h (emulation/avx512.h).
//
// The kernels' namespace is INT8RT_AMX_NS (amx, or emulated::amx beside
// emulated::avx512vnni), so the emulated copy that a test links never
// collides with the library's native one.
//
// GCC's ldtilecfg asm names only the first 8 bytes of the config as its
// input and tileloadd takes its address as a plain register, so the compiler
// does not know those instructions read memory: INT8RT_TILE_LOADCONFIG first
// hands the config's address to an empty asm with a memory clobber (the
// whole 64-byte object then counts as read, so no store to it is dropped or
// sunk), and kernels call INT8RT_AMX_BARRIER() between writing a buffer and
// loading it into a tile in the same function.
//
// Every kernel here uses one register layout, a 2 x 2 grid of C tiles
// (configure_2x2 below): tmm0 / tmm1 C rows of the first row group (m0 rows)
// x two column blocks, tmm2 / tmm3 the second row group's (m1 rows, 0: not
// configured), tmm4 / tmm5 their A rows (a_colsb bytes each), tmm6 / tmm7
// the two column blocks' B tiles (a_colsb / 4 rows of 64 bytes); C rows are
// 64 bytes (16 int32 or FP32).
#pragma once

#include <cstdint>

#if defined(INT8RT_X86_EMULATED)

#include "kernels/x86/amx/amx_emulation.h"

#define INT8RT_AMX_NS emulated::amx
#define INT8RT_AMX_BARRIER() ((void)0)
#define INT8RT_TILE_LOADCONFIG(cfg) ::int8rt::amx_emulation::tile_loadconfig(cfg)
#define INT8RT_TILE_RELEASE() ::int8rt::amx_emulation::tile_release()
#define INT8RT_TILE_LOADD(t, base, stride) ::int8rt::amx_emulation::tile_loadd(t, base, stride)
#define INT8RT_TILE_STREAM_LOADD(t, base, stride) \
  ::int8rt::amx_emulation::tile_stream_loadd(t, base, stride)
#define INT8RT_TILE_STORED(t, base, stride) ::int8rt::amx_emulation::tile_stored(t, base, stride)
#define INT8RT_TILE_ZERO(t) ::int8rt::amx_emulation::tile_zero(t)
#define INT8RT_TILE_DPBSSD(c, a, b) ::int8rt::amx_emulation::tile_dpbssd(c, a, b)
#define INT8RT_TILE_DPBUSD(c, a, b) ::int8rt::amx_emulation::tile_dpbusd(c, a, b)
#define INT8RT_TILE_DPBF16PS(c, a, b) ::int8rt::amx_emulation::tile_dpbf16ps(c, a, b)

#else

#include <immintrin.h>

#define INT8RT_AMX_NS amx
#define INT8RT_AMX_BARRIER() __asm__ volatile("" ::: "memory")
#define INT8RT_TILE_LOADCONFIG(cfg)                 \
  do {                                              \
    __asm__ volatile("" : : "r"(cfg) : "memory");   \
    _tile_loadconfig(cfg);                          \
  } while (0)
#define INT8RT_TILE_RELEASE() _tile_release()
#define INT8RT_TILE_LOADD(t, base, stride) _tile_loadd(t, base, stride)
#define INT8RT_TILE_STREAM_LOADD(t, base, stride) _tile_stream_loadd(t, base, stride)
#define INT8RT_TILE_STORED(t, base, stride) _tile_stored(t, base, stride)
#define INT8RT_TILE_ZERO(t) _tile_zero(t)
#define INT8RT_TILE_DPBSSD(c, a, b) _tile_dpbssd(c, a, b)
#define INT8RT_TILE_DPBUSD(c, a, b) _tile_dpbusd(c, a, b)
#define INT8RT_TILE_DPBF16PS(c, a, b) _tile_dpbf16ps(c, a, b)

#endif

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AMX_NS {

// LDTILECFG's 64-byte operand (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

// Loads the 2 x 2 layout of the top of the file: m0 in 1..16, m1 in 0..16,
// a_colsb a multiple of 4 in 4..64. Zeroes every tile (LDTILECFG does).
inline void configure_2x2(int m0, int m1, int a_colsb) {
  TileConfig cfg = {};
  cfg.palette_id = 1;
  auto set = [&cfg](int t, int rows, int colsb) {
    cfg.rows[t] = static_cast<uint8_t>(rows);
    cfg.colsb[t] = static_cast<uint16_t>(colsb);
  };
  set(0, m0, 64);
  set(1, m0, 64);
  set(4, m0, a_colsb);
  if (m1 > 0) {
    set(2, m1, 64);
    set(3, m1, 64);
    set(5, m1, a_colsb);
  }
  set(6, a_colsb / 4, 64);
  set(7, a_colsb / 4, 64);
  INT8RT_TILE_LOADCONFIG(&cfg);
}

}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
