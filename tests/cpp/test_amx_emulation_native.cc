// kernels/x86/amx/amx_emulation.h against the real AMX instructions, where
// the CPU and the OS grant them (RESULTS.md section 172, the first AMX
// machine): every machine without AMX tests the AMX kernels through that
// header, so each instruction the kernels use must give the hardware's
// bytes. Per instruction, random tile shapes (rows 1-16, K and N dwords
// 1-16) are configured, C / A / B loaded with strides wider than a row, the
// product run and C stored, on the header and natively; == on every byte.
//  - TDPBSSD / TDPBSUD / TDPBUSD / TDPBUUD: random bytes and random int32
//    accumulators (wrap-around included).
//  - TDPBF16PS, two data sets: the kernels' (finite BF16 of moderate
//    magnitude, random FP32 accumulators), == on the bits; and random BF16
//    bit patterns with denormals, zeros, infinities and NaNs against
//    accumulators with the same specials (DAZ / FTZ, overflow), == except
//    that two NaNs are equal whatever their sign and payload (as in
//    test_avx512_emulation_native.cc: which NaN propagates is not the
//    contract, and no int8rt kernel makes a NaN from finite data).
// The native side is this file's functions compiled for AMX by target
// attribute (the file itself is baseline code and calls them only after the
// check); the tile numbers are literals, as GCC's intrinsics require. On a
// CPU without AMX-INT8 / AMX-BF16 (or without the Linux permission) the
// test skips, saying which; test_amx_emulation.cc's known answers run
// everywhere.
#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "int8rt/isa.h"
#include "kernels/x86/amx/amx_emulation.h"

namespace emu = int8rt::amx_emulation;

namespace {

enum class Op { kSsd, kSud, kUsd, kUud, kBf16 };
const char* const kNames[] = {"TDPBSSD", "TDPBSUD", "TDPBUSD", "TDPBUUD", "TDPBF16PS"};

constexpr long kStride = 80;  // bytes between rows in memory: wider than any tile row

// tmm0 = C (rows x 4n), tmm1 = A (rows x 4k), tmm2 = B (k x 4n), palette 1.
struct alignas(64) Config {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

Config config(int rows, int k, int n) {
  Config c;
  c.colsb[0] = static_cast<uint16_t>(4 * n), c.rows[0] = static_cast<uint8_t>(rows);
  c.colsb[1] = static_cast<uint16_t>(4 * k), c.rows[1] = static_cast<uint8_t>(rows);
  c.colsb[2] = static_cast<uint16_t>(4 * n), c.rows[2] = static_cast<uint8_t>(k);
  return c;
}

void emulated(Op op, const Config& cfg, uint8_t* c, const uint8_t* a, const uint8_t* b) {
  emu::tile_loadconfig(&cfg);
  emu::tile_loadd(0, c, kStride);
  emu::tile_loadd(1, a, kStride);
  emu::tile_loadd(2, b, kStride);
  switch (op) {
    case Op::kSsd: emu::tile_dpbssd(0, 1, 2); break;
    case Op::kSud: emu::tile_dpbsud(0, 1, 2); break;
    case Op::kUsd: emu::tile_dpbusd(0, 1, 2); break;
    case Op::kUud: emu::tile_dpbuud(0, 1, 2); break;
    case Op::kBf16: emu::tile_dpbf16ps(0, 1, 2); break;
  }
  emu::tile_stored(0, c, kStride);
  emu::tile_release();
}

__attribute__((target("amx-tile,amx-int8,amx-bf16"))) void native(Op op, const Config& cfg, uint8_t* c,
                                                                   const uint8_t* a, const uint8_t* b) {
  __asm__ volatile("" : : "r"(&cfg) : "memory");  // the config's bytes are read (amx_tile.h)
  _tile_loadconfig(&cfg);
  _tile_loadd(0, c, kStride);
  _tile_loadd(1, a, kStride);
  _tile_loadd(2, b, kStride);
  switch (op) {
    case Op::kSsd: _tile_dpbssd(0, 1, 2); break;
    case Op::kSud: _tile_dpbsud(0, 1, 2); break;
    case Op::kUsd: _tile_dpbusd(0, 1, 2); break;
    case Op::kUud: _tile_dpbuud(0, 1, 2); break;
    case Op::kBf16: _tile_dpbf16ps(0, 1, 2); break;
  }
  _tile_stored(0, c, kStride);
  _tile_release();
  __asm__ volatile("" : : : "memory");
}

std::string skip_reason() {
  const int8rt::CpuFeatures& f = int8rt::cpu_features();
  if (!f.amx_int8 || !f.amx_bf16) return "CPU lacks AMX-INT8 / AMX-BF16";
  if (!f.os_saves_tiles || !f.amx_permission) return "OS does not grant the AMX tile data";
  return "";
}

// A BF16 pattern: moderate finite (special == false), or any of the specials.
uint16_t bf16(std::mt19937& gen, bool special) {
  std::uniform_int_distribution<int> any(0, 0xFFFF), sign(0, 1), pick(0, 7), exp(120, 131), mant(0, 127);
  const uint16_t s = static_cast<uint16_t>(sign(gen) << 15);
  if (!special) return static_cast<uint16_t>(s | exp(gen) << 7 | mant(gen));
  switch (pick(gen)) {
    case 0: return static_cast<uint16_t>(s | mant(gen));               // denormal or zero
    case 1: return static_cast<uint16_t>(s | 0x7F80);                  // infinity
    case 2: return static_cast<uint16_t>(s | 0x7F80 | (mant(gen) | 1));  // NaN
    case 3: return static_cast<uint16_t>(s | 0x7F00 | mant(gen));       // near the top: products overflow
    default: return static_cast<uint16_t>(any(gen));
  }
}

uint32_t f32_pattern(std::mt19937& gen, bool special) {
  std::uniform_real_distribution<float> d(-4.0f, 4.0f);
  std::uniform_int_distribution<uint32_t> any(0, 0xFFFFFFFFu);
  std::uniform_int_distribution<int> pick(0, 5);
  float x = d(gen);
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if (!special) return u;
  switch (pick(gen)) {
    case 0: return u & 0x807FFFFFu;  // denormal
    case 1: return (u & 0x80000000u) | 0x7F800000u;  // infinity
    case 2: return any(gen);
    default: return u;
  }
}

bool same(Op op, const uint8_t* x, const uint8_t* y, bool nan_equal) {
  uint32_t u, v;
  std::memcpy(&u, x, 4), std::memcpy(&v, y, 4);
  if (u == v) return true;
  if (op != Op::kBf16 || !nan_equal) return false;
  float f, g;
  std::memcpy(&f, x, 4), std::memcpy(&g, y, 4);
  return std::isnan(f) && std::isnan(g);
}

// `shapes` random shapes of `op`; returns how many outputs were compared.
long compare(Op op, bool special, int shapes, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dim(1, 16), byte(0, 255);
  std::uniform_int_distribution<uint32_t> word(0, 0xFFFFFFFFu);
  long compared = 0;
  for (int s = 0; s < shapes; ++s) {
    const int rows = s < 3 ? 16 : dim(gen), k = s < 3 ? 16 : dim(gen), n = s < 3 ? 16 : dim(gen);
    std::vector<uint8_t> a(16 * kStride), b(16 * kStride), c(16 * kStride);
    for (size_t i = 0; i < a.size(); ++i) {
      a[i] = static_cast<uint8_t>(byte(gen));
      b[i] = static_cast<uint8_t>(byte(gen));
    }
    for (size_t i = 0; i + 4 <= c.size(); i += 4) {
      const uint32_t v = op == Op::kBf16 ? f32_pattern(gen, special) : word(gen);
      std::memcpy(&c[i], &v, 4);
    }
    if (op == Op::kBf16) {
      for (size_t i = 0; i + 2 <= a.size(); i += 2) {
        const uint16_t x = bf16(gen, special), y = bf16(gen, special);
        std::memcpy(&a[i], &x, 2), std::memcpy(&b[i], &y, 2);
      }
    }
    const Config cfg = config(rows, k, n);
    std::vector<uint8_t> want = c, got = c;
    emulated(op, cfg, want.data(), a.data(), b.data());
    native(op, cfg, got.data(), a.data(), b.data());
    for (int m = 0; m < 16; ++m) {
      for (int j = 0; j < kStride; j += 4) {
        const size_t at = static_cast<size_t>(m) * kStride + j;
        const bool inside = m < rows && j < 4 * n;
        ++compared;
        if (inside ? same(op, &got[at], &want[at], special) : std::memcmp(&got[at], &c[at], 4) == 0) continue;
        uint32_t g, w;
        std::memcpy(&g, &got[at], 4), std::memcpy(&w, inside ? &want[at] : &c[at], 4);
        ADD_FAILURE() << kNames[static_cast<int>(op)] << (special ? " (specials)" : "") << " rows=" << rows
                      << " K=" << k << " N=" << n << " C[" << m << "][" << j / 4 << "]"
                      << (inside ? "" : " (outside the tile: memory must be unchanged)") << ": native 0x" << std::hex
                      << g << " vs " << (inside ? "emulated" : "before") << " 0x" << w;
        return compared;
      }
    }
  }
  return compared;
}

TEST(AmxEmulationNative, EveryInstructionEqualsTheHardware) {
  const std::string why = skip_reason();
  if (!why.empty()) GTEST_SKIP() << why << ": the header's known answers (test_amx_emulation.cc) ran instead";
  long total = 0;
  for (Op op : {Op::kSsd, Op::kSud, Op::kUsd, Op::kUud}) {
    total += compare(op, false, 300, 11 + static_cast<uint32_t>(op));
    if (HasFailure()) return;
  }
  total += compare(Op::kBf16, false, 300, 21);
  if (HasFailure()) return;
  total += compare(Op::kBf16, true, 600, 22);
  std::printf("AMX emulation vs native: 5 instructions, %ld output dwords compared natively\n", total);
}

}  // namespace
