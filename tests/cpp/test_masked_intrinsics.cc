// Masked AVX-512 intrinsics AS THE PROJECT COMPILES THEM, against their
// Intel-defined semantics (the Intrinsics Guide / SDM operation, written out
// here in scalar code): tests/cpp/masked/masked_probes.cc holds one probe per
// masked intrinsic the kernels use, compiled by masked_probes.cmake for
// every kernel flag set (csrc/kernels/x86/CMakeLists.txt), at -O0 / -Og /
// -O2 / -O3, by GCC and (where installed) clang. Each probe runs on masks
// that exercise every lane group (none, all, each half, each byte of the
// mask, first + last, alternating, top bit, bits above the width, random)
// and operands drawn for the operation (bit patterns, specials and NaNs,
// saturating int32), and must equal the reference byte for byte, guard
// bytes after the output included. The class of bug this hunts: GCC 12 with
// AVX512DQ moves _mm512_mask_dpbf16_ps's __mmask16 with KMOVB, so lanes 8-15
// act as masked off (docs/reliability.md, RESULTS.md 250 and 259). That
// intrinsic is banned from the kernels; its probe stays, and
// OldDpbf16MaskUseIsCaught shows this check fails on it under GCC.
// A variant whose flag set the CPU lacks is skipped, saying so; the AMX flag
// sets' probes execute AVX-512 instructions only (no compiler emits tile
// code unasked), so they run wherever AVX-512 (and BF16 / VBMI / VNNI) does.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "int8rt/isa.h"
#include "masked/masked_probes.h"

namespace {

struct Variant {
  const char* name;  // compiler_flagset_O
  Int8rtMaskedProbeSet (*table)(void);
  bool avx512, vbmi, bf16, vnni;  // what its flag set needs of the CPU to run
};

#define INT8RT_MASKED_VARIANT(sym, vbmi, bf16, vnni) extern "C" Int8rtMaskedProbeSet sym(void);
#include "masked_probe_variants.inc"
#undef INT8RT_MASKED_VARIANT
#define INT8RT_MASKED_VARIANT(sym, vbmi, bf16, vnni) {#sym, sym, true, vbmi, bf16, vnni},
const Variant kVariants[] = {
#include "masked_probe_variants.inc"
};
#undef INT8RT_MASKED_VARIANT

// ---- operands -------------------------------------------------------------
enum class Data { kBits, kFloats, kFinite, kBf16Small, kInt32Mixed, kBytesFew };

void fill(std::mt19937& gen, Data d, uint8_t* p) {
  const float fl[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.5f, -3.0f, 1e30f, -1e-40f,
                      std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                      std::numeric_limits<float>::quiet_NaN(), 1.0f};
  const int32_t i32[] = {0, 1, -1, 127, 128, -128, -129, 255, 256, 40000, -40000,
                         std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min()};
  const int8_t b8[] = {0, 1, -1, 127, -128};
  for (int i = 0; i < 16; ++i) {
    const uint32_t u = static_cast<uint32_t>(gen());
    switch (d) {
      case Data::kBits: std::memcpy(p + 4 * i, &u, 4); break;
      case Data::kFloats: std::memcpy(p + 4 * i, &fl[u % 12], 4); break;
      case Data::kFinite: {
        const float f = static_cast<float>(static_cast<int>(u % 801) - 400) / 16.0f;
        std::memcpy(p + 4 * i, &f, 4);
        break;
      }
      case Data::kBf16Small:  // two bfloat16 small integers (products and sums exact)
        for (int h = 0; h < 2; ++h) {
          const float f = static_cast<float>(static_cast<int>((u >> (8 * h)) % 9) - 4);
          uint32_t bits;
          std::memcpy(&bits, &f, 4);
          const uint16_t w = static_cast<uint16_t>(bits >> 16);
          std::memcpy(p + 4 * i + 2 * h, &w, 2);
        }
        break;
      case Data::kInt32Mixed: std::memcpy(p + 4 * i, &i32[u % 13], 4); break;
      case Data::kBytesFew:
        for (int h = 0; h < 4; ++h) p[4 * i + h] = static_cast<uint8_t>(b8[(u >> (8 * h)) % 5]);
        break;
    }
  }
}

// ---- reference semantics --------------------------------------------------
// Each takes the probe's operands and writes what the intrinsic defines into
// out, which holds c on entry (so a masked store's untouched lanes stay c).
using Ref = std::function<void(const uint8_t*, const uint8_t*, const uint8_t*, uint64_t, uint8_t*)>;

bool bit(uint64_t m, int i) { return (m >> i) & 1; }
float f32(const uint8_t* p, int i) {
  float f;
  std::memcpy(&f, p + 4 * i, 4);
  return f;
}
int32_t i32(const uint8_t* p, int i) {
  int32_t v;
  std::memcpy(&v, p + 4 * i, 4);
  return v;
}
void put_mask(uint8_t* out, uint64_t r) { std::memcpy(out, &r, 8); }
float bf16_value(const uint8_t* p, int j) {  // bfloat16 element j
  uint16_t w;
  std::memcpy(&w, p + 2 * j, 2);
  const uint32_t bits = static_cast<uint32_t>(w) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Lane-wise select of `bytes`-wide elements: where the mask bit is set the
// lane is on(i); elsewhere off(i) (merge: src's lane; zero: 0; store: keep).
enum class Off { kZero, kKeep, kSrcB, kSrcA, kSrcC };
Ref select_lanes(int lanes, int bytes, Off off, std::function<void(const uint8_t*, const uint8_t*, const uint8_t*, int, uint8_t*)> on) {
  return [=](const uint8_t* a, const uint8_t* b, const uint8_t* c, uint64_t m, uint8_t* out) {
    for (int i = 0; i < lanes; ++i) {
      uint8_t* o = out + bytes * i;
      if (bit(m, i)) {
        on(a, b, c, i, o);
      } else if (off == Off::kZero) {
        std::memset(o, 0, bytes);
      } else if (off == Off::kSrcA) {
        std::memcpy(o, a + bytes * i, bytes);
      } else if (off == Off::kSrcB) {
        std::memcpy(o, b + bytes * i, bytes);
      } else if (off == Off::kSrcC) {
        std::memcpy(o, c + bytes * i, bytes);
      }
    }
  };
}
std::function<void(const uint8_t*, const uint8_t*, const uint8_t*, int, uint8_t*)> copy_from(int which, int bytes) {
  return [=](const uint8_t* a, const uint8_t* b, const uint8_t* c, int i, uint8_t* o) {
    const uint8_t* s = which == 0 ? a : which == 1 ? b : c;
    std::memcpy(o, s + bytes * i, bytes);
  };
}
std::function<void(const uint8_t*, const uint8_t*, const uint8_t*, int, uint8_t*)> float_op(
    std::function<float(float, float, float)> f) {
  return [=](const uint8_t* a, const uint8_t* b, const uint8_t* c, int i, uint8_t* o) {
    const float r = f(f32(a, i), f32(b, i), f32(c, i));
    std::memcpy(o, &r, 4);
  };
}
Ref mask_of(int lanes, std::function<bool(const uint8_t*, const uint8_t*, int)> pred) {
  return [=](const uint8_t* a, const uint8_t* b, const uint8_t*, uint64_t, uint8_t* out) {
    uint64_t r = 0;
    for (int i = 0; i < lanes; ++i) r |= static_cast<uint64_t>(pred(a, b, i)) << i;
    put_mask(out, r);
  };
}
Ref cmp_ps(std::function<bool(float, float)> p) {
  return mask_of(16, [=](const uint8_t* a, const uint8_t* b, int i) { return p(f32(a, i), f32(b, i)); });
}

struct Spec {
  int width;       // mask bits the intrinsic reads (0: it reads none)
  int lane_bytes;  // bytes of out per mask bit
  Data data;
  Ref ref;
};

std::map<std::string, Spec> specs() {
  std::map<std::string, Spec> s;
  // 16 x 32-bit.
  s["_mm512_maskz_loadu_ps"] = {16, 4, Data::kBits, select_lanes(16, 4, Off::kZero, copy_from(0, 4))};
  s["_mm512_mask_loadu_ps"] = {16, 4, Data::kBits, select_lanes(16, 4, Off::kSrcB, copy_from(0, 4))};
  s["_mm512_mask_storeu_ps"] = {16, 4, Data::kBits, select_lanes(16, 4, Off::kKeep, copy_from(0, 4))};
  s["_mm512_mask_blend_ps"] = {16, 4, Data::kBits, select_lanes(16, 4, Off::kSrcA, copy_from(1, 4))};
  s["_mm512_mask_mov_ps"] = {16, 4, Data::kBits, select_lanes(16, 4, Off::kSrcA, copy_from(1, 4))};
  s["_mm512_maskz_mov_ps"] = {16, 4, Data::kBits, select_lanes(16, 4, Off::kZero, copy_from(0, 4))};
  // MAXPS: a > b ? a : b (the second operand on NaN or equal zeros).
  const auto maxf = [](float a, float b, float) { return a > b ? a : b; };
  s["_mm512_mask_max_ps"] = {16, 4, Data::kFloats, select_lanes(16, 4, Off::kSrcC, float_op(maxf))};
  s["_mm512_maskz_max_ps"] = {16, 4, Data::kFloats, select_lanes(16, 4, Off::kZero, float_op(maxf))};
  s["_mm512_mask_add_ps"] = {16, 4, Data::kFinite, select_lanes(16, 4, Off::kSrcC, float_op([](float a, float b, float) { return a + b; }))};
  s["_mm512_mask3_fmadd_ps"] = {16, 4, Data::kFinite, select_lanes(16, 4, Off::kSrcC, float_op([](float a, float b, float c) { return std::fma(a, b, c); }))};
  s["_mm512_maskz_compress_ps"] = {16, 4, Data::kBits, [](const uint8_t* a, const uint8_t*, const uint8_t*, uint64_t m, uint8_t* out) {
    int j = 0;
    for (int i = 0; i < 16; ++i) if (bit(m, i)) std::memcpy(out + 4 * j++, a + 4 * i, 4);
    std::memset(out + 4 * j, 0, 4 * (16 - j));
  }};
  s["_mm512_maskz_expandloadu_ps"] = {16, 4, Data::kBits, [](const uint8_t* a, const uint8_t*, const uint8_t*, uint64_t m, uint8_t* out) {
    int j = 0;
    for (int i = 0; i < 16; ++i) {
      if (bit(m, i)) std::memcpy(out + 4 * i, a + 4 * j++, 4);
      else std::memset(out + 4 * i, 0, 4);
    }
  }};
  // VALIGND: the 32 dwords b (low) : a (high) shifted right by imm[3:0] dwords.
  for (int imm : {1, 15}) {
    s["_mm512_maskz_alignr_epi32/" + std::to_string(imm)] = {16, 4, Data::kBits, select_lanes(16, 4, Off::kZero,
        [imm](const uint8_t* a, const uint8_t* b, const uint8_t*, int i, uint8_t* o) {
          const int j = i + (imm & 15);
          std::memcpy(o, j < 16 ? b + 4 * j : a + 4 * (j - 16), 4);
        })};
  }
  s["_mm512_mask_storeu_epi32"] = {16, 4, Data::kBits, select_lanes(16, 4, Off::kKeep, copy_from(0, 4))};
  s["_mm512_maskz_extractf32x8_ps/1"] = {8, 4, Data::kBits, select_lanes(8, 4, Off::kZero,
      [](const uint8_t* a, const uint8_t*, const uint8_t*, int i, uint8_t* o) { std::memcpy(o, a + 32 + 4 * i, 4); })};
  s["_mm512_mask_cvtepi32_storeu_epi8"] = {16, 1, Data::kInt32Mixed, select_lanes(16, 1, Off::kKeep,
      [](const uint8_t* a, const uint8_t*, const uint8_t*, int i, uint8_t* o) { *o = static_cast<uint8_t>(i32(a, i) & 0xFF); })};
  s["_mm512_mask_cvtsepi32_storeu_epi8"] = {16, 1, Data::kInt32Mixed, select_lanes(16, 1, Off::kKeep,
      [](const uint8_t* a, const uint8_t*, const uint8_t*, int i, uint8_t* o) {
        const int32_t v = i32(a, i);
        *o = static_cast<uint8_t>(static_cast<int8_t>(v < -128 ? -128 : v > 127 ? 127 : v));
      })};
  // Masks as results.
  s["_mm512_cmp_ps_mask/_CMP_EQ_OQ"] = {0, 0, Data::kFloats, cmp_ps([](float x, float y) { return x == y; })};
  s["_mm512_cmp_ps_mask/_CMP_LT_OQ"] = {0, 0, Data::kFloats, cmp_ps([](float x, float y) { return x < y; })};
  s["_mm512_cmp_ps_mask/_CMP_LE_OQ"] = {0, 0, Data::kFloats, cmp_ps([](float x, float y) { return x <= y; })};
  s["_mm512_cmp_ps_mask/_CMP_GT_OQ"] = {0, 0, Data::kFloats, cmp_ps([](float x, float y) { return x > y; })};
  s["_mm512_cmp_ps_mask/_CMP_GE_OQ"] = {0, 0, Data::kFloats, cmp_ps([](float x, float y) { return x >= y; })};
  s["_mm512_cmp_ps_mask/_CMP_ORD_Q"] = {0, 0, Data::kFloats, cmp_ps([](float x, float y) { return !std::isnan(x) && !std::isnan(y); })};
  s["_mm512_cmp_ps_mask/_CMP_UNORD_Q"] = {0, 0, Data::kFloats, cmp_ps([](float x, float y) { return std::isnan(x) || std::isnan(y); })};
  s["_mm512_cmp_ps_mask/_CMP_LT_OQ+_mm512_mask_blend_ps"] = {0, 0, Data::kFloats, [](const uint8_t* a, const uint8_t* b, const uint8_t* c, uint64_t, uint8_t* out) {
    for (int i = 0; i < 16; ++i) std::memcpy(out + 4 * i, (f32(a, i) < f32(b, i) ? a : c) + 4 * i, 4);
  }};
  s["_mm512_test_epi32_mask"] = {0, 0, Data::kBytesFew, mask_of(16, [](const uint8_t* a, const uint8_t* b, int i) { return (i32(a, i) & i32(b, i)) != 0; })};
  s["_mm512_movepi8_mask"] = {0, 0, Data::kBits, mask_of(64, [](const uint8_t* a, const uint8_t*, int i) { return (a[i] & 0x80) != 0; })};
  s["_mm512_cmpeq_epi8_mask"] = {0, 0, Data::kBytesFew, mask_of(64, [](const uint8_t* a, const uint8_t* b, int i) { return a[i] == b[i]; })};
  // 64 x 8-bit, 32 x 16-bit.
  s["_mm512_maskz_loadu_epi8"] = {64, 1, Data::kBits, select_lanes(64, 1, Off::kZero, copy_from(0, 1))};
  s["_mm512_mask_storeu_epi8"] = {64, 1, Data::kBits, select_lanes(64, 1, Off::kKeep, copy_from(0, 1))};
  s["_mm512_mask_blend_epi8"] = {64, 1, Data::kBits, select_lanes(64, 1, Off::kSrcA, copy_from(1, 1))};
  s["_mm512_mask_mov_epi8"] = {64, 1, Data::kBits, select_lanes(64, 1, Off::kSrcA, copy_from(1, 1))};
  // VPSHUFB: per 16-byte lane, b[i] < 0 gives 0, else a[lane + (b[i] & 15)].
  s["_mm512_mask_shuffle_epi8"] = {64, 1, Data::kBits, select_lanes(64, 1, Off::kSrcC,
      [](const uint8_t* a, const uint8_t* b, const uint8_t*, int i, uint8_t* o) {
        *o = (b[i] & 0x80) ? 0 : a[(i & ~15) + (b[i] & 15)];
      })};
  s["_mm512_maskz_loadu_epi16"] = {32, 2, Data::kBits, select_lanes(32, 2, Off::kZero, copy_from(0, 2))};
  s["_mm512_mask_storeu_epi16"] = {32, 2, Data::kBits, select_lanes(32, 2, Off::kKeep, copy_from(0, 2))};
  s["_mm512_maskz_mov_epi16"] = {32, 2, Data::kBits, select_lanes(32, 2, Off::kZero, copy_from(0, 2))};
  // 256 / 128 bits: the rest of out (c) is left as it was.
  s["_mm256_maskz_loadu_epi16"] = {16, 2, Data::kBits, select_lanes(16, 2, Off::kZero, copy_from(0, 2))};
  s["_mm256_mask_storeu_epi16"] = {16, 2, Data::kBits, select_lanes(16, 2, Off::kKeep, copy_from(0, 2))};
  s["_mm256_maskz_loadu_epi8"] = {32, 1, Data::kBits, select_lanes(32, 1, Off::kZero, copy_from(0, 1))};
  s["_mm_maskz_loadu_epi8"] = {16, 1, Data::kBits, select_lanes(16, 1, Off::kZero, copy_from(0, 1))};
  s["_mm_mask_loadu_epi8"] = {16, 1, Data::kBits, select_lanes(16, 1, Off::kSrcB, copy_from(0, 1))};
  s["_mm_mask_storeu_epi8"] = {16, 1, Data::kBits, select_lanes(16, 1, Off::kKeep, copy_from(0, 1))};
  s["_mm_maskz_mov_epi8"] = {16, 1, Data::kBits, select_lanes(16, 1, Off::kZero, copy_from(0, 1))};
  // VDPBF16PS, merge-masked: c + a_odd * b_odd + a_even * b_even (exact on
  // the small integers and sixteenths drawn).
  s["_mm512_mask_dpbf16_ps"] = {16, 4, Data::kBf16Small, select_lanes(16, 4, Off::kSrcC,
      [](const uint8_t* a, const uint8_t* b, const uint8_t* c, int i, uint8_t* o) {
        const float r = f32(c, i) + bf16_value(a, 2 * i + 1) * bf16_value(b, 2 * i + 1) +
                        bf16_value(a, 2 * i) * bf16_value(b, 2 * i);
        std::memcpy(o, &r, 4);
      })};
  return s;
}

// Masks for a `width`-bit intrinsic: none, all, each half, each byte, first
// and last lane, alternating, the top lane, random; each also with every
// bit above the width set (the kernels pass a __mmask64 to narrower ones).
std::vector<uint64_t> masks(int width, std::mt19937& gen) {
  const uint64_t all = width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
  std::vector<uint64_t> v = {0, all, all >> (width / 2), all & ~(all >> (width / 2)),
                             1 | (uint64_t{1} << (width - 1)), all & 0x5555555555555555u, all & 0xAAAAAAAAAAAAAAAAu,
                             uint64_t{1} << (width - 1)};
  for (int j = 0; j < width / 8; ++j) v.push_back(uint64_t{0xFF} << (8 * j));
  for (int r = 0; r < 4; ++r) v.push_back(((uint64_t{gen()} << 32) | gen()) & all);
  const size_t n = v.size();
  if (width < 64)
    for (size_t i = 0; i < n; ++i) v.push_back(v[i] | ~all);
  return v;
}

bool runs_here(const Variant& v, std::string* why) {
  const int8rt::CpuFeatures& cpu = int8rt::cpu_features();
  if (!(cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq)) *why = "AVX-512 F/BW/VL/DQ";
  else if (v.vbmi && !cpu.avx512vbmi) *why = "AVX512-VBMI";
  else if (v.bf16 && !cpu.avx512_bf16) *why = "AVX512-BF16";
  else if (v.vnni && !cpu.avx512_vnni) *why = "AVX512-VNNI";
  else return true;
  return false;
}

// Runs one probe over every mask and a few operand draws; returns the first
// mismatch ("" when it matches everywhere) and sets wrong_lanes to the
// union of the mask bits of the lanes found wrong (elements of the width).
std::string check(const Int8rtMaskedProbe& p, const Spec& s, uint64_t* wrong_lanes) {
  std::mt19937 gen(259);
  *wrong_lanes = 0;
  std::string first;
  const std::vector<uint64_t> ms = s.width ? masks(s.width, gen) : std::vector<uint64_t>{0};
  const int draws = s.width ? 4 : 64;
  for (uint64_t m : ms) {
    for (int d = 0; d < draws; ++d) {
      alignas(64) uint8_t a[64], b[64], c[64], got[128], want[128];
      fill(gen, s.data, a);
      fill(gen, s.data, b);
      fill(gen, s.data == Data::kBf16Small ? Data::kFinite : s.data, c);  // accumulators: sums stay exact
      std::memcpy(got, c, 64);
      std::memset(got + 64, 0xA5, 64);
      std::memcpy(want, got, 128);
      p.fn(a, b, c, m, got);
      s.ref(a, b, c, m, want);
      for (int i = 0; i < 128; ++i) {
        if (got[i] == want[i]) continue;
        if (s.width && i < s.width * s.lane_bytes) *wrong_lanes |= uint64_t{1} << (i / s.lane_bytes);
        if (first.empty()) {
          char msg[200];
          std::snprintf(msg, sizeof msg, "mask 0x%llx, byte %d%s: got 0x%02x, want 0x%02x",
                        static_cast<unsigned long long>(m), i, i >= 64 ? " (guard)" : "", got[i], want[i]);
          first = msg;
        }
      }
    }
  }
  return first;
}

const char* kBanned = "_mm512_mask_dpbf16_ps";

TEST(MaskedIntrinsics, EveryProbeEqualsIntelSemanticsInEveryBuild) {
  const auto sp = specs();
  int ran = 0, checked = 0;
  std::set<std::string> skipped;
  for (const Variant& v : kVariants) {
    std::string why;
    if (!runs_here(v, &why)) {
      skipped.insert(std::string(v.name) + " (CPU lacks " + why + ")");
      continue;
    }
    const Int8rtMaskedProbeSet set = v.table();
    ASSERT_GT(set.count, 40) << v.name;
    ++ran;
    for (int i = 0; i < set.count; ++i) {
      const Int8rtMaskedProbe& p = set.probes[i];
      const auto it = sp.find(p.name);
      ASSERT_NE(it, sp.end()) << "no reference semantics for probe " << p.name;
      if (p.name == std::string(kBanned)) continue;  // OldDpbf16MaskUseIsCaught
      uint64_t lanes;
      const std::string err = check(p, it->second, &lanes);
      EXPECT_EQ(err, "") << v.name << " (" << set.compiler << "): " << p.name << " wrong in lanes mask 0x"
                         << std::hex << lanes;
      ++checked;
    }
  }
  std::printf("masked intrinsics: %d builds ran natively, %d probe runs checked\n", ran, checked);
  for (const std::string& s : skipped) std::printf("  skipped %s\n", s.c_str());
  if (ran == 0) GTEST_SKIP() << "no probe build runs on this CPU (it lacks AVX-512 F/BW/VL/DQ)";
}

// Last session's bug, rebuilt: _mm512_mask_dpbf16_ps under the AVX512-BF16
// flag sets (all with AVX512DQ). GCC (12.2 here) moves its __mmask16 with
// KMOVB: the check above must fail, in lanes 8-15 only; clang compiles it
// right and must pass. If a GCC passes, its bug is fixed and this canary
// needs another known-bad case to prove the check can fail.
TEST(MaskedIntrinsics, OldDpbf16MaskUseIsCaught) {
  const auto sp = specs();
  int seen = 0, caught = 0;
  for (const Variant& v : kVariants) {
    std::string why;
    if (!v.bf16 || !runs_here(v, &why)) continue;
    const Int8rtMaskedProbeSet set = v.table();
    for (int i = 0; i < set.count; ++i) {
      if (set.probes[i].name != std::string(kBanned)) continue;
      uint64_t lanes;
      const std::string err = check(set.probes[i], sp.at(kBanned), &lanes);
      if (set.is_clang) {
        EXPECT_EQ(err, "") << v.name << " (" << set.compiler << ")";
      } else {
        EXPECT_NE(err, "") << v.name << " (GCC " << set.compiler << ") compiled " << kBanned
                           << " right: the canary no longer proves the check fails";
        EXPECT_EQ(lanes, 0xFF00u) << v.name << ": expected lanes 8-15 lost to KMOVB";
      }
      caught += !err.empty();
      ++seen;
    }
  }
  if (seen == 0) GTEST_SKIP() << "CPU lacks AVX-512 F/BW/VL/DQ + BF16: the canary cannot run";
  std::printf("masked intrinsics: %s checked in %d builds, wrong (lanes 8-15) in %d\n", kBanned, seen, caught);
}

}  // namespace
