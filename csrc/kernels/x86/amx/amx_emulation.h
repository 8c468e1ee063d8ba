// Intel AMX (palette 1) in portable C++: the tile state and the instructions
// int8rt's AMX kernels use, so the same kernel source runs on any CPU (tests
// only; the library itself never uses this header). Semantics follow the
// Intel SDM vol. 2 (LDTILECFG, TILELOADD/TILELOADDT1, TILESTORED, TILEZERO,
// TILERELEASE, TDPBSSD/TDPBSUD/TDPBUSD/TDPBUUD, TDPBF16PS) and vol. 1 ch. 3.
//
// State, per thread (each thread owns its tile registers, as on hardware):
// TILES_CONFIGURED, palette, start_row, and 8 tiles of up to 16 rows x 64
// bytes whose rows / colsb come from the configuration.
//
// Config (64 bytes): byte 0 palette_id, byte 1 start_row, bytes 2-15
// reserved (0), bytes 16-47 colsb[16] (uint16), bytes 48-63 rows[16].
// Palette 0 releases (init state); palette 1 has 8 tiles, max 16 rows and 64
// bytes per row; any other palette, a reserved byte set, a tile over the
// limits, rows == 0 xor colsb == 0, or tiles 8-15 configured is #GP. Loading
// a configuration zeroes every tile.
//
// Loads write rows [start_row, rows) of colsb bytes, zero the rest of each
// row and the rows past `rows`, then reset start_row to 0 (SDM's
// write_row_and_zero / zero_upper_rows / zero_tilecfg_start).
//
// TDPB[SU][SU]D C, A, B (M = C.rows, N = C.colsb / 4, K = A.colsb / 4):
//   C[m][n] += sum_{k<K} sum_{i<4} A[m][4k+i] * B[k][4n+i]   (mod 2^32)
// with bytes sign- or zero-extended as the mnemonic says (first letter: A).
// Shapes must agree: A.rows == M, B.rows == K, B.colsb == C.colsb, all colsb
// multiples of 4, and C, A, B three different tiles; else #UD.
//
// TDPBF16PS C, A, B: each dword is a BF16 pair. Per row m, two FP32
// partial sums (even and odd element of every pair) start at 0 and take one
// fused multiply-add per k, in order of k; then C[m][n] += even + odd. Every
// step rounds to nearest even, treats denormal inputs (BF16 operands and
// FP32 accumulators) as zero and flushes denormal results to zero; MXCSR is
// neither read nor written. This is the Operation section of the SDM's
// TDPBF16PS entry; x86/amx/gemm_bf16_32x32.cc uses it.
//
// Faults: a #GP or #UD calls fault_handler() with a message naming the
// instruction; the default prints it and aborts (like the signal a real
// fault raises). Tests install a throwing handler.
//
// Names: the intrinsics' names without the leading underscore
// (tile_loadd for _tile_loadd, ...), because GCC's <immintrin.h> defines
// _tile_loadd & co. as function-like macros on every x86-64 build, which
// would rewrite any function spelled that way. Kernels reach either these or
// the real intrinsics through kernels/x86/amx/amx_tile.h.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace int8rt {
namespace amx_emulation {

constexpr int kTiles = 8;        // palette 1
constexpr int kMaxRows = 16;
constexpr int kMaxColsb = 64;    // bytes per row

using FaultHandler = void (*)(const char* message);

inline void default_fault(const char* message) {
  std::fprintf(stderr, "amx_emulation: %s\n", message);
  std::abort();
}

// The handler called on a #GP / #UD. Not thread-safe to change while tiles
// are in use on other threads.
inline FaultHandler& fault_handler() {
  static FaultHandler handler = default_fault;
  return handler;
}

struct TileState {
  bool configured = false;
  int palette = 0;
  int start_row = 0;
  uint16_t colsb[kTiles] = {};
  uint8_t rows[kTiles] = {};
  uint8_t data[kTiles][kMaxRows][kMaxColsb] = {};
};

inline TileState& state() {
  static thread_local TileState s;
  return s;
}

namespace detail {

inline void fault(const char* message) {
  fault_handler()(message);
  // A handler that returns would let the instruction run on a bad state.
  default_fault(message);
}

inline void check_tile(const TileState& s, int t, const char* insn) {
  if (!s.configured) fault(insn);
  if (t < 0 || t >= kTiles) fault(insn);
}

// The shape checks of the dot-product instructions (#UD).
inline void check_dp(const TileState& s, int c, int a, int b, const char* insn) {
  check_tile(s, c, insn);
  check_tile(s, a, insn);
  check_tile(s, b, insn);
  if (c == a || c == b || a == b) fault(insn);
  if (s.colsb[c] % 4 || s.colsb[a] % 4 || s.colsb[b] % 4) fault(insn);
  if (s.rows[c] != s.rows[a] || s.colsb[b] != s.colsb[c] || s.rows[b] != s.colsb[a] / 4) {
    fault(insn);
  }
  if (s.rows[c] == 0 || s.rows[a] == 0 || s.rows[b] == 0) fault(insn);
}

// Zeroes columns past colsb in every row and rows past `rows`.
inline void zero_outside(TileState& s, int t) {
  for (int r = 0; r < kMaxRows; ++r) {
    const int from = r < s.rows[t] ? s.colsb[t] : 0;
    std::memset(s.data[t][r] + from, 0, static_cast<size_t>(kMaxColsb - from));
  }
}

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

template <bool kASigned, bool kBSigned>
void dot_bytes(int c, int a, int b, const char* insn) {
  TileState& s = state();
  check_dp(s, c, a, b, insn);
  const int M = s.rows[c], N = s.colsb[c] / 4, K = s.colsb[a] / 4;
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      uint32_t acc = load_u32(s.data[c][m] + 4 * n);
      for (int k = 0; k < K; ++k) {
        for (int i = 0; i < 4; ++i) {
          const uint8_t xa = s.data[a][m][4 * k + i], xb = s.data[b][k][4 * n + i];
          const int32_t va = kASigned ? static_cast<int8_t>(xa) : xa;
          const int32_t vb = kBSigned ? static_cast<int8_t>(xb) : xb;
          // |va * vb| <= 2^15: exact in int32; the sum wraps mod 2^32.
          acc += static_cast<uint32_t>(va * vb);
        }
      }
      store_u32(s.data[c][m] + 4 * n, acc);
    }
  }
  zero_outside(s, c);
  s.start_row = 0;
}

// FP32 with denormals treated as zero / flushed to zero (sign kept).
inline float flush_denormal(float x) {
  return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x;
}

// The BF16 `bits` as the FP32 it denotes (upper half of the dword), DAZ.
inline float bf16_to_f32(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return flush_denormal(f);
}

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace detail

// LDTILECFG m512.
inline void tile_loadconfig(const void* config) {
  const uint8_t* p = static_cast<const uint8_t*>(config);
  TileState& s = state();
  const int palette = p[0];
  if (palette == 0) {
    s = TileState{};
    return;
  }
  if (palette != 1) detail::fault("LDTILECFG: palette_id other than 0 or 1 (#GP)");
  for (int i = 2; i < 16; ++i) {
    if (p[i]) detail::fault("LDTILECFG: reserved byte set (#GP)");
  }
  TileState next;
  next.configured = true;
  next.palette = 1;
  next.start_row = p[1];
  for (int t = 0; t < 16; ++t) {
    const uint16_t colsb = detail::load_u16(p + 16 + 2 * t);
    const uint8_t rows = p[48 + t];
    if (t >= kTiles) {
      if (colsb || rows) detail::fault("LDTILECFG: tile 8-15 configured in palette 1 (#GP)");
      continue;
    }
    if (rows > kMaxRows || colsb > kMaxColsb) {
      detail::fault("LDTILECFG: tile over 16 rows or 64 bytes per row (#GP)");
    }
    if ((rows == 0) != (colsb == 0)) detail::fault("LDTILECFG: rows == 0 xor colsb == 0 (#GP)");
    next.rows[t] = rows;
    next.colsb[t] = colsb;
  }
  s = next;
}

// TILERELEASE: back to the init state (no configuration, tiles zero).
inline void tile_release() { state() = TileState{}; }

// TILELOADD tmm, [base + stride * row].
inline void tile_loadd(int t, const void* base, long stride) {
  TileState& s = state();
  detail::check_tile(s, t, "TILELOADD: tiles not configured or bad tile (#UD)");
  if (s.rows[t] == 0) detail::fault("TILELOADD: tile not configured (#UD)");
  const uint8_t* b = static_cast<const uint8_t*>(base);
  for (int r = s.start_row; r < s.rows[t]; ++r) {
    std::memcpy(s.data[t][r], b + static_cast<long>(r) * stride, s.colsb[t]);
  }
  detail::zero_outside(s, t);
  s.start_row = 0;
}

// TILELOADDT1: the same load with a non-temporal hint.
inline void tile_stream_loadd(int t, const void* base, long stride) { tile_loadd(t, base, stride); }

// TILESTORED [base + stride * row], tmm.
inline void tile_stored(int t, void* base, long stride) {
  TileState& s = state();
  detail::check_tile(s, t, "TILESTORED: tiles not configured or bad tile (#UD)");
  if (s.rows[t] == 0) detail::fault("TILESTORED: tile not configured (#UD)");
  uint8_t* b = static_cast<uint8_t*>(base);
  for (int r = s.start_row; r < s.rows[t]; ++r) {
    std::memcpy(b + static_cast<long>(r) * stride, s.data[t][r], s.colsb[t]);
  }
  s.start_row = 0;
}

// TILEZERO tmm.
inline void tile_zero(int t) {
  TileState& s = state();
  detail::check_tile(s, t, "TILEZERO: tiles not configured or bad tile (#UD)");
  std::memset(s.data[t], 0, sizeof(s.data[t]));
}

inline void tile_dpbssd(int c, int a, int b) {
  detail::dot_bytes<true, true>(c, a, b, "TDPBSSD: bad tiles or shapes (#UD)");
}
inline void tile_dpbsud(int c, int a, int b) {
  detail::dot_bytes<true, false>(c, a, b, "TDPBSUD: bad tiles or shapes (#UD)");
}
inline void tile_dpbusd(int c, int a, int b) {
  detail::dot_bytes<false, true>(c, a, b, "TDPBUSD: bad tiles or shapes (#UD)");
}
inline void tile_dpbuud(int c, int a, int b) {
  detail::dot_bytes<false, false>(c, a, b, "TDPBUUD: bad tiles or shapes (#UD)");
}

// TDPBF16PS tmm1, tmm2, tmm3 (see the top of the file). std::fma rounds
// once, to nearest even (the default mode, which int8rt never changes).
inline void tile_dpbf16ps(int c, int a, int b) {
  using detail::bf16_to_f32;
  using detail::flush_denormal;
  TileState& s = state();
  detail::check_dp(s, c, a, b, "TDPBF16PS: bad tiles or shapes (#UD)");
  const int M = s.rows[c], N = s.colsb[c] / 4, K = s.colsb[a] / 4;
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      float even = 0.0f, odd = 0.0f;
      for (int k = 0; k < K; ++k) {
        const uint8_t* pa = s.data[a][m] + 4 * k;
        const uint8_t* pb = s.data[b][k] + 4 * n;
        even = flush_denormal(std::fma(bf16_to_f32(detail::load_u16(pa)),
                                       bf16_to_f32(detail::load_u16(pb)), even));
        odd = flush_denormal(std::fma(bf16_to_f32(detail::load_u16(pa + 2)),
                                      bf16_to_f32(detail::load_u16(pb + 2)), odd));
      }
      float dst;
      std::memcpy(&dst, s.data[c][m] + 4 * n, 4);
      const float sum = flush_denormal(even + odd);
      dst = flush_denormal(flush_denormal(dst) + sum);
      std::memcpy(s.data[c][m] + 4 * n, &dst, 4);
    }
  }
  detail::zero_outside(s, c);
  s.start_row = 0;
}

}  // namespace amx_emulation
}  // namespace int8rt
