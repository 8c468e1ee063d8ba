// kernels/x86/emulation/avx512_emulation.h against the real instructions,
// where the CPU has them: each emulated intrinsic that the twins use and the
// hardware one on the same operands (random bit patterns, NaNs, infinities,
// denormals, out-of-range values, rounding ties), == on every output byte,
// except that two NaNs are equal whatever their payloads (which NaN of two
// propagates is not fixed for a scalar add the compiler may commute, and
// no int8rt kernel makes a NaN from finite data); VDPBF16PS takes finite
// operands away from underflow, as the BF16 kernels' data are.
// The native side is this file's functions compiled for AVX-512 by target
// attribute (the file itself is baseline code and calls them only after the
// CPU check); each pair of functions is one body written once (INT8RT_PAIR).
// On a CPU without AVX-512 F/BW/VL/DQ the test skips, saying so; the BF16
// intrinsics need AVX512-BF16 too. The SDM's known answers
// (test_avx512_emulation.cc) run everywhere.
#include <gtest/gtest.h>
#include <immintrin.h>

// GCC 12's AVX-512 headers trip -Wuninitialized (at -O1 under the sanitizers:
// -Wmaybe-uninitialized) on their own _mm512_undefined_*() placeholders (GCC
// bug 105593), not on this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "int8rt/isa.h"
#include "kernels/x86/emulation/avx512_emulation.h"

namespace emu = int8rt::kernels::x86::emulated;

namespace {

// Vectors move through memory only (no vector passed by value across the
// baseline / AVX-512 boundary).
template <typename V>
void ld(V* v, const uint8_t* p) {
  std::memcpy(static_cast<void*>(v), p, sizeof(V));
}
template <typename V>
void st(uint8_t* out, const V* v) {
  std::memcpy(out, static_cast<const void*>(v), sizeof(V));
}

using Fn = void (*)(const uint8_t* a, const uint8_t* b, const uint8_t* c, uint64_t m, uint8_t* out);

#define INT8RT_EMU(f) emu::f
#define INT8RT_NAT(f) f
#define INT8RT_PAIR(name, attr, body)                                                                        \
  void name##_emulated(const uint8_t* a, const uint8_t* b, const uint8_t* c, uint64_t m, uint8_t* out) {   \
    (void)a, (void)b, (void)c, (void)m;                                                                     \
    body(INT8RT_EMU, emu::__m512, emu::__m512i, emu::__m128i, emu::__m512bh, emu::__m256bh)                  \
  }                                                                                                         \
  __attribute__((target(attr))) void name##_native(const uint8_t* a, const uint8_t* b, const uint8_t* c,    \
                                                   uint64_t m, uint8_t* out) {                              \
    (void)a, (void)b, (void)c, (void)m;                                                                     \
    body(INT8RT_NAT, __m512, __m512i, __m128i, __m512bh, __m256bh)                                          \
  }

#define INT8RT_F2(P, F, op) \
  F x, y;             \
  ld(&x, a);          \
  ld(&y, b);          \
  F r = P(op)(x, y);  \
  st(out, &r);
#define ADD(P, F, I, Q, BH, H) INT8RT_F2(P, F, _mm512_add_ps)
#define MUL(P, F, I, Q, BH, H) INT8RT_F2(P, F, _mm512_mul_ps)
#define MAX(P, F, I, Q, BH, H) INT8RT_F2(P, F, _mm512_max_ps)
#define MIN(P, F, I, Q, BH, H) INT8RT_F2(P, F, _mm512_min_ps)
#define INT8RT_CMP(P, F, pred)                            \
  F x, y;                                             \
  ld(&x, a);                                          \
  ld(&y, b);                                          \
  const uint16_t k = P(_mm512_cmp_ps_mask)(x, y, pred); \
  std::memcpy(out, &k, 2);
#define CMP_LT(P, F, I, Q, BH, H) INT8RT_CMP(P, F, _CMP_LT_OQ)
#define CMP_LE(P, F, I, Q, BH, H) INT8RT_CMP(P, F, _CMP_LE_OQ)
#define CMP_GE(P, F, I, Q, BH, H) INT8RT_CMP(P, F, _CMP_GE_OQ)
#define CMP_GT(P, F, I, Q, BH, H) INT8RT_CMP(P, F, _CMP_GT_OQ)
#define BLEND(P, F, I, Q, BH, H)                                 \
  F x, y;                                                        \
  ld(&x, a);                                                     \
  ld(&y, b);                                                     \
  F r = P(_mm512_mask_blend_ps)(static_cast<uint16_t>(m), x, y); \
  st(out, &r);
#define CVT_I2F(P, F, I, Q, BH, H) \
  I x;                             \
  ld(&x, a);                       \
  F r = P(_mm512_cvtepi32_ps)(x);  \
  st(out, &r);
#define CVT_F2I(P, F, I, Q, BH, H) \
  F x;                             \
  ld(&x, a);                       \
  I r = P(_mm512_cvtps_epi32)(x);  \
  st(out, &r);
#define WIDEN8(P, F, I, Q, BH, H)                                                             \
  I r = P(_mm512_cvtepi8_epi32)(P(_mm_maskz_loadu_epi8)(static_cast<uint16_t>(m), a)); \
  st(out, &r);
#define SAT_STORE8(P, F, I, Q, BH, H) \
  I x;                                \
  ld(&x, a);                          \
  P(_mm512_mask_cvtsepi32_storeu_epi8)(out, static_cast<uint16_t>(m), x);
#define MASKZ_PS(P, F, I, Q, BH, H)                              \
  F r = P(_mm512_maskz_loadu_ps)(static_cast<uint16_t>(m), a); \
  st(out, &r);
#define STORE_PS(P, F, I, Q, BH, H) \
  F x;                              \
  ld(&x, a);                        \
  P(_mm512_mask_storeu_ps)(out, static_cast<uint16_t>(m), x);
#define STOREU_PS(P, F, I, Q, BH, H) \
  F x;                               \
  ld(&x, a);                         \
  P(_mm512_storeu_ps)(out, x);
#define STORE_EPI8(P, F, I, Q, BH, H) \
  I x;                                \
  ld(&x, a);                          \
  P(_mm512_mask_storeu_epi8)(out, m, x);
#define STORE_EPI16(P, F, I, Q, BH, H) \
  I x;                                 \
  ld(&x, a);                           \
  P(_mm512_mask_storeu_epi16)(out, static_cast<uint32_t>(m), x);
#define INT8RT_I2(P, I, op) \
  I x, y;             \
  ld(&x, a);          \
  ld(&y, b);          \
  I r = P(op)(x, y);  \
  st(out, &r);
#define PACKS32(P, F, I, Q, BH, H) INT8RT_I2(P, I, _mm512_packs_epi32)
#define PACKS16(P, F, I, Q, BH, H) INT8RT_I2(P, I, _mm512_packs_epi16)
#define PERM32(P, F, I, Q, BH, H) INT8RT_I2(P, I, _mm512_permutexvar_epi32)
#define PERM16(P, F, I, Q, BH, H) INT8RT_I2(P, I, _mm512_permutexvar_epi16)
#define OR512(P, F, I, Q, BH, H) INT8RT_I2(P, I, _mm512_or_si512)
#define STOREU512(P, F, I, Q, BH, H) \
  I x;                               \
  ld(&x, a);                         \
  P(_mm512_storeu_si512)(out, x);
#define CVTNE2(P, F, I, Q, BH, H)         \
  F x, y;                                 \
  ld(&x, a);                              \
  ld(&y, b);                              \
  BH r = P(_mm512_cvtne2ps_pbh)(x, y);    \
  st(out, &r);
#define CVTNE(P, F, I, Q, BH, H)  \
  F x;                            \
  ld(&x, a);                      \
  H r = P(_mm512_cvtneps_pbh)(x); \
  st(out, &r);
#define DPBF16(P, F, I, Q, BH, H)     \
  F acc;                              \
  BH x, y;                            \
  ld(&acc, a);                        \
  ld(&x, b);                          \
  ld(&y, c);                          \
  F r = P(_mm512_dpbf16_ps)(acc, x, y); \
  st(out, &r);

// The BF16 depthwise kernel's (avx512bf16/dwconv_bf16_16.cc).
#define FMADD(P, F, I, Q, BH, H)        \
  F x, y, z;                            \
  ld(&x, a);                            \
  ld(&y, b);                            \
  ld(&z, c);                            \
  F r = P(_mm512_fmadd_ps)(x, y, z);    \
  st(out, &r);
#define PERM2PS(P, F, I, Q, BH, H)                 \
  F x, z;                                          \
  I idx;                                           \
  ld(&x, a);                                       \
  ld(&idx, b);                                     \
  ld(&z, c);                                       \
  F r = P(_mm512_permutex2var_ps)(x, idx, z);      \
  st(out, &r);
#define WIDEN16(P, F, I, Q, BH, H)                                                                  \
  I r = P(_mm512_cvtepu16_epi32)(P(_mm256_maskz_loadu_epi16)(static_cast<uint16_t>(m), a));  \
  st(out, &r);
#define SHIFT_AND(P, F, I, Q, BH, H)                                                    \
  I x, y;                                                                               \
  ld(&x, a);                                                                            \
  ld(&y, b);                                                                            \
  F r = P(_mm512_castsi512_ps)(P(_mm512_and_si512)(P(_mm512_slli_epi32)(x, 16), y));  \
  st(out, &r);
#define MASKZ_EPI16(P, F, I, Q, BH, H)                                \
  I r = P(_mm512_maskz_loadu_epi16)(static_cast<uint32_t>(m), a);   \
  st(out, &r);
#define STORE_EPI16_256(P, F, I, Q, BH, H) \
  P(_mm256_mask_storeu_epi16)(out, static_cast<uint16_t>(m), P(_mm256_maskz_loadu_epi16)(0xFFFF, a));
#define COMPRESS(P, F, I, Q, BH, H)                                 \
  F x;                                                              \
  ld(&x, a);                                                        \
  F r = P(_mm512_maskz_compress_ps)(static_cast<uint16_t>(m), x);  \
  st(out, &r);
#define EXPAND(P, F, I, Q, BH, H)                                      \
  F r = P(_mm512_maskz_expandloadu_ps)(static_cast<uint16_t>(m), a);  \
  st(out, &r);

#define A512 "avx512f,avx512bw,avx512vl,avx512dq"
#define A512BF16 "avx512f,avx512bw,avx512vl,avx512dq,avx512bf16"

INT8RT_PAIR(add, A512, ADD)
INT8RT_PAIR(mul, A512, MUL)
INT8RT_PAIR(max, A512, MAX)
INT8RT_PAIR(min, A512, MIN)
INT8RT_PAIR(cmp_lt, A512, CMP_LT)
INT8RT_PAIR(cmp_le, A512, CMP_LE)
INT8RT_PAIR(cmp_ge, A512, CMP_GE)
INT8RT_PAIR(cmp_gt, A512, CMP_GT)
INT8RT_PAIR(blend, A512, BLEND)
INT8RT_PAIR(cvt_i2f, A512, CVT_I2F)
INT8RT_PAIR(cvt_f2i, A512, CVT_F2I)
INT8RT_PAIR(widen8, A512, WIDEN8)
INT8RT_PAIR(sat_store8, A512, SAT_STORE8)
INT8RT_PAIR(maskz_ps, A512, MASKZ_PS)
INT8RT_PAIR(store_ps, A512, STORE_PS)
INT8RT_PAIR(storeu_ps, A512, STOREU_PS)
INT8RT_PAIR(store_epi8, A512, STORE_EPI8)
INT8RT_PAIR(store_epi16, A512, STORE_EPI16)
INT8RT_PAIR(packs32, A512, PACKS32)
INT8RT_PAIR(packs16, A512, PACKS16)
INT8RT_PAIR(perm32, A512, PERM32)
INT8RT_PAIR(perm16, A512, PERM16)
INT8RT_PAIR(or512, A512, OR512)
INT8RT_PAIR(storeu512, A512, STOREU512)
INT8RT_PAIR(fmadd, A512, FMADD)
INT8RT_PAIR(perm2ps, A512, PERM2PS)
INT8RT_PAIR(widen16, A512, WIDEN16)
INT8RT_PAIR(shift_and, A512, SHIFT_AND)
INT8RT_PAIR(maskz_epi16, A512, MASKZ_EPI16)
INT8RT_PAIR(store_epi16_256, A512, STORE_EPI16_256)
INT8RT_PAIR(compress, A512, COMPRESS)
INT8RT_PAIR(expand, A512, EXPAND)
INT8RT_PAIR(cvtne2, A512BF16, CVTNE2)
INT8RT_PAIR(cvtne, A512BF16, CVTNE)
INT8RT_PAIR(dpbf16, A512BF16, DPBF16)

enum class Out { kBytes, kFloats };  // how outputs compare (see the top)

struct Pair {
  const char* name;
  Fn emulated, native;
  Out out;
  bool bf16;    // needs AVX512-BF16
  bool finite;  // operands finite and away from underflow
};

#define INT8RT_ENTRY(name, out, bf16, finite) {#name, name##_emulated, name##_native, out, bf16, finite}
const Pair kPairs[] = {
    INT8RT_ENTRY(add, Out::kFloats, false, false),     INT8RT_ENTRY(mul, Out::kFloats, false, false),
    INT8RT_ENTRY(max, Out::kBytes, false, false),      INT8RT_ENTRY(min, Out::kBytes, false, false),
    INT8RT_ENTRY(cmp_lt, Out::kBytes, false, false),   INT8RT_ENTRY(cmp_le, Out::kBytes, false, false),
    INT8RT_ENTRY(cmp_ge, Out::kBytes, false, false),   INT8RT_ENTRY(cmp_gt, Out::kBytes, false, false),
    INT8RT_ENTRY(blend, Out::kBytes, false, false),    INT8RT_ENTRY(cvt_i2f, Out::kBytes, false, false),
    INT8RT_ENTRY(cvt_f2i, Out::kBytes, false, false),  INT8RT_ENTRY(widen8, Out::kBytes, false, false),
    INT8RT_ENTRY(sat_store8, Out::kBytes, false, false), INT8RT_ENTRY(maskz_ps, Out::kBytes, false, false),
    INT8RT_ENTRY(store_ps, Out::kBytes, false, false), INT8RT_ENTRY(store_epi8, Out::kBytes, false, false),
    INT8RT_ENTRY(store_epi16, Out::kBytes, false, false), INT8RT_ENTRY(packs32, Out::kBytes, false, false),
    INT8RT_ENTRY(packs16, Out::kBytes, false, false),  INT8RT_ENTRY(perm32, Out::kBytes, false, false),
    INT8RT_ENTRY(perm16, Out::kBytes, false, false),   INT8RT_ENTRY(cvtne2, Out::kBytes, true, false),
    INT8RT_ENTRY(cvtne, Out::kBytes, true, false),     INT8RT_ENTRY(dpbf16, Out::kFloats, true, true),
    INT8RT_ENTRY(fmadd, Out::kFloats, false, false),   INT8RT_ENTRY(widen16, Out::kBytes, false, false),
    INT8RT_ENTRY(shift_and, Out::kBytes, false, false), INT8RT_ENTRY(maskz_epi16, Out::kBytes, false, false),
    INT8RT_ENTRY(store_epi16_256, Out::kBytes, false, false), INT8RT_ENTRY(compress, Out::kBytes, false, false),
    INT8RT_ENTRY(expand, Out::kBytes, false, false),   INT8RT_ENTRY(perm2ps, Out::kBytes, false, false),
    INT8RT_ENTRY(or512, Out::kBytes, false, false),    INT8RT_ENTRY(storeu512, Out::kBytes, false, false),
    INT8RT_ENTRY(storeu_ps, Out::kBytes, false, false),
};

// Output lane i (4 bytes) equal: same bits, or (floats) both NaN.
bool same_lane(const uint8_t* got, const uint8_t* want, int i, Out out) {
  if (std::memcmp(got + 4 * i, want + 4 * i, 4) == 0) return true;
  if (out == Out::kBytes) return false;
  float g, w;
  std::memcpy(&g, got + 4 * i, 4);
  std::memcpy(&w, want + 4 * i, 4);
  return std::isnan(g) && std::isnan(w);
}

// 16 floats: a mix of random bit patterns, rounding ties, values around
// the int32 and int16 limits, small values, and the specials.
void fill(std::mt19937& gen, uint8_t* p, bool finite) {
  std::uniform_int_distribution<int> kind(0, 4), small(-400, 400);
  const float specials[] = {0.0f, -0.0f, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                            1e-40f, -1e-41f, 2147483648.0f, -2147483648.0f, 2147483520.0f, 3.0e9f, 1.00390625f};
  for (int i = 0; i < 16; ++i) {
    float f;
    uint32_t u = static_cast<uint32_t>(gen());
    int k = kind(gen);
    if (finite && (k == 0 || k == 3)) k = 2;
    switch (k) {
      case 0: std::memcpy(&f, &u, 4); break;
      case 1: f = static_cast<float>(small(gen)) + 0.5f; break;
      case 2: f = static_cast<float>(small(gen)) * 97.25f; break;
      case 3: f = specials[u % (sizeof(specials) / sizeof(specials[0]))]; break;
      default: f = static_cast<float>(small(gen)) / 64.0f; break;
    }
    std::memcpy(p + 4 * i, &f, 4);
  }
}

TEST(Avx512EmulationNative, EveryIntrinsicEqualsTheHardware) {
  const int8rt::CpuFeatures& cpu = int8rt::cpu_features();
  if (!(cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq)) {
    GTEST_SKIP() << "CPU lacks AVX-512 F/BW/VL/DQ: the emulation is checked by known answers only";
  }
  std::mt19937 gen(64);
  int compared = 0;
  for (const Pair& p : kPairs) {
    if (p.bf16 && !cpu.avx512_bf16) continue;
    for (int trial = 0; trial < 2000; ++trial) {
      alignas(64) uint8_t a[64], b[64], c[64], want[64], got[64];
      fill(gen, a, p.finite);
      fill(gen, b, p.finite);
      fill(gen, c, p.finite);
      const uint64_t m = (uint64_t{gen()} << 32) | gen();
      std::memset(want, 0x5A, 64);
      std::memset(got, 0x5A, 64);
      p.native(a, b, c, m, want);
      p.emulated(a, b, c, m, got);
      for (int i = 0; i < 16; ++i) {
        uint32_t g, w;
        std::memcpy(&g, got + 4 * i, 4);
        std::memcpy(&w, want + 4 * i, 4);
        ASSERT_TRUE(same_lane(got, want, i, p.out))
            << p.name << " trial " << trial << " lane " << i << ": emulated 0x" << std::hex << g << " hardware 0x" << w;
      }
    }
    ++compared;
  }
  std::printf("avx512_emulation: %d intrinsics compared with the hardware%s\n", compared,
              cpu.avx512_bf16 ? "" : " (BF16 ones not: CPU lacks AVX512-BF16)");
}

}  // namespace
