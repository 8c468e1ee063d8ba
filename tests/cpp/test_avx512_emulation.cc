// kernels/x86/emulation/avx512_emulation.h, the AVX-512 subset that the AMX
// and AVX512-BF16 kernels' emulated twins run on, against answers written
// here from the Intel SDM: VCVTPS2DQ's ties to even and integer indefinite,
// VMAXPS / VMINPS returning the second operand on ties and NaN, the ordered
// compare predicates, VPACKSS* lane order and saturation, VPERMD / VPERMW,
// VPMOVSDB saturation under a mask, masked loads that leave masked-off
// elements zero, VCVTNE2PS2BF16's word order. Then the AVX-512 epilogue
// shared by the AVX512-VNNI and AMX kernels (avx512vnni/epilogue.h, this TU
// compiles it against the emulation as the AMX twin does) == the reference
// epilogue (ref/requantize.h) on accumulators that hit rounding ties,
// saturate, and take residuals, for int8 and float outputs, whole and
// partial channel blocks. The header runs on any CPU, so these always run.
#define INT8RT_X86_EMULATED 1  // this TU: the emulated epilogue (x86::emulated::avx512vnni)

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel_types.h"
#include "kernels/ref/requantize.h"
#include "kernels/x86/avx512vnni/epilogue.h"

namespace emu = int8rt::kernels::x86::emulated;
namespace k = int8rt::kernels;

namespace {

emu::__m512 ps(const float (&v)[16]) {
  emu::__m512 r;
  std::memcpy(r.bytes, v, 64);
  return r;
}

emu::__m512i epi32(const int32_t (&v)[16]) {
  emu::__m512i r;
  std::memcpy(r.bytes, v, 64);
  return r;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(Avx512Emulation, CvtpsRoundsHalfToEvenAndGivesIndefiniteOutOfRange) {
  const float in[16] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4999998f, 3.5f,
                        1e10f, -1e10f, kNaN, 2147483520.0f, -2147483648.0f, -0.0f, 127.5f, -128.5f};
  const int32_t want[16] = {0, 2, 2, 0, -2, -2, 2, 4, INT32_MIN, INT32_MIN, INT32_MIN, 2147483520,
                            INT32_MIN, 0, 128, -128};
  const emu::__m512i got = emu::_mm512_cvtps_epi32(ps(in));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(got.get<int32_t>(i), want[i]) << "element " << i << " of " << in[i];
}

TEST(Avx512Emulation, MaxMinReturnTheSecondOperandUnlessStrictlyOrdered) {
  const float a[16] = {-0.0f, 0.0f, kNaN, 1.0f, 2.0f, -3.0f, 5.0f, 5.0f, 0, 0, 0, 0, 0, 0, 0, 0};
  const float b[16] = {0.0f, -0.0f, 1.0f, kNaN, 1.0f, 4.0f, 5.0f, -5.0f, 0, 0, 0, 0, 0, 0, 0, 0};
  const emu::__m512 mx = emu::_mm512_max_ps(ps(a), ps(b)), mn = emu::_mm512_min_ps(ps(a), ps(b));
  // max: a > b ? a : b; min: a < b ? a : b (bits: signed zeros, NaN).
  const uint32_t want_max[8] = {bits(0.0f), bits(-0.0f), bits(1.0f), bits(kNaN), bits(2.0f), bits(4.0f),
                                bits(5.0f), bits(5.0f)};
  const uint32_t want_min[8] = {bits(0.0f), bits(-0.0f), bits(1.0f), bits(kNaN), bits(1.0f), bits(-3.0f),
                                bits(5.0f), bits(-5.0f)};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(bits(mx.get<float>(i)), want_max[i]) << "max element " << i;
    EXPECT_EQ(bits(mn.get<float>(i)), want_min[i]) << "min element " << i;
  }
}

TEST(Avx512Emulation, OrderedComparesAreFalseOnNaN) {
  const float a[16] = {1, 2, 3, kNaN, 1, -0.0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const float b[16] = {2, 2, 2, 1, kNaN, 0.0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  // bits 0..5 per predicate; elements 6..15 are 0 vs 0 (equal).
  EXPECT_EQ(emu::_mm512_cmp_ps_mask(ps(a), ps(b), _CMP_LT_OQ), 0x0001);
  EXPECT_EQ(emu::_mm512_cmp_ps_mask(ps(a), ps(b), _CMP_LE_OQ), 0xFFE3);
  EXPECT_EQ(emu::_mm512_cmp_ps_mask(ps(a), ps(b), _CMP_GE_OQ), 0xFFE6);
  EXPECT_EQ(emu::_mm512_cmp_ps_mask(ps(a), ps(b), _CMP_GT_OQ), 0x0004);
  const emu::__m512 blend = emu::_mm512_mask_blend_ps(0x0002, ps(a), ps(b));  // bit set: b
  EXPECT_EQ(blend.get<float>(0), 1.0f);
  EXPECT_EQ(blend.get<float>(1), 2.0f);
  EXPECT_EQ(blend.get<float>(2), 3.0f);
}

TEST(Avx512Emulation, PacksSaturateWithinEach128BitLane) {
  int32_t a[16], b[16];
  for (int i = 0; i < 16; ++i) {
    a[i] = i;
    b[i] = 100 + i;
  }
  a[1] = 40000;
  b[2] = -40000;
  const emu::__m512i w = emu::_mm512_packs_epi32(epi32(a), epi32(b));
  for (int lane = 0; lane < 4; ++lane) {
    for (int i = 0; i < 4; ++i) {
      const int32_t wa = a[4 * lane + i], wb = b[4 * lane + i];
      EXPECT_EQ(w.get<int16_t>(8 * lane + i), wa > 32767 ? 32767 : wa) << "lane " << lane;
      EXPECT_EQ(w.get<int16_t>(8 * lane + 4 + i), wb < -32768 ? -32768 : wb) << "lane " << lane;
    }
  }
  emu::__m512i x, y;
  for (int i = 0; i < 32; ++i) {
    x.set<int16_t>(i, static_cast<int16_t>(i * 9 - 140));  // -140 .. 139
    y.set<int16_t>(i, static_cast<int16_t>(-i));
  }
  const emu::__m512i bb = emu::_mm512_packs_epi16(x, y);
  for (int lane = 0; lane < 4; ++lane) {
    for (int i = 0; i < 8; ++i) {
      const int v = (8 * lane + i) * 9 - 140;
      EXPECT_EQ(bb.get<int8_t>(16 * lane + i), v < -128 ? -128 : v > 127 ? 127 : v);
      EXPECT_EQ(bb.get<int8_t>(16 * lane + 8 + i), -(8 * lane + i));
    }
  }
}

TEST(Avx512Emulation, PermutesIndexModuloTheElementCount) {
  int32_t idx[16], val[16];
  for (int i = 0; i < 16; ++i) {
    idx[i] = 15 - i + (i % 2 ? 16 : 0);  // high bits ignored
    val[i] = 1000 + i;
  }
  const emu::__m512i p = emu::_mm512_permutexvar_epi32(epi32(idx), epi32(val));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(p.get<int32_t>(i), 1000 + 15 - i);
  emu::__m512i wi, wv;
  for (int i = 0; i < 32; ++i) {
    wi.set<int16_t>(i, static_cast<int16_t>((i * 7) % 32 + 32));
    wv.set<int16_t>(i, static_cast<int16_t>(-i));
  }
  const emu::__m512i q = emu::_mm512_permutexvar_epi16(wi, wv);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(q.get<int16_t>(i), -((i * 7) % 32));
}

TEST(Avx512Emulation, MaskedMovesTouchOnlySelectedElements) {
  int32_t v[16];
  for (int i = 0; i < 16; ++i) v[i] = (i - 8) * 40;  // -320 .. 280
  int8_t out[16];
  std::memset(out, 0x55, sizeof(out));
  emu::_mm512_mask_cvtsepi32_storeu_epi8(out, 0x7FFE, epi32(v));
  for (int i = 0; i < 16; ++i) {
    const int want = (i == 0 || i == 15) ? 0x55 : (v[i] < -128 ? -128 : v[i] > 127 ? 127 : v[i]);
    EXPECT_EQ(out[i], want) << "element " << i;
  }
  const int8_t src[16] = {-1, -2, -3, -4, -5, -6, -7, -8, 9, 10, 11, 12, 13, 14, 15, 16};
  const emu::__m512i widened = emu::_mm512_cvtepi8_epi32(emu::_mm_maskz_loadu_epi8(0x00F0, src));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(widened.get<int32_t>(i), i >= 4 && i < 8 ? src[i] : 0);
  const float f[3] = {1.0f, 2.0f, 3.0f};  // a 3-element buffer: the mask keeps reads inside it
  const emu::__m512 lf = emu::_mm512_maskz_loadu_ps(0x0007, f);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(lf.get<float>(i), i < 3 ? f[i] : 0.0f);
}

TEST(Avx512Emulation, UnmaskedStoreuPsWritesAll64BytesAtAnyAlignment) {
  float v[16];
  for (int i = 0; i < 16; ++i) v[i] = i == 5 ? kNaN : (i - 7) * 0.375f;
  alignas(64) uint8_t buf[64 + 3 + 8];
  std::memset(buf, 0x55, sizeof(buf));
  emu::_mm512_storeu_ps(buf + 3, ps(v));  // misaligned: VMOVUPS does not fault
  for (int i = 0; i < 3; ++i) EXPECT_EQ(buf[i], 0x55) << "byte " << i << " before the store";
  for (int i = 0; i < 16; ++i) {
    float got;
    std::memcpy(&got, buf + 3 + 4 * i, 4);
    EXPECT_EQ(bits(got), bits(v[i])) << "element " << i;
  }
  for (size_t i = 3 + 64; i < sizeof(buf); ++i) EXPECT_EQ(buf[i], 0x55) << "byte " << i << " after the store";
}

TEST(Avx512Emulation, Cvtne2psPutsTheSecondOperandInTheLowWords) {
  float a[16], b[16];
  for (int i = 0; i < 16; ++i) {
    a[i] = static_cast<float>(i + 1);
    b[i] = -static_cast<float>(i + 1);
  }
  a[0] = 1.00390625f;  // 1 + 2^-8: a tie between BF16 1.0 and 1.0078125, to even: 1.0
  const emu::__m512bh h = emu::_mm512_cvtne2ps_pbh(ps(a), ps(b));
  EXPECT_EQ(h.get<uint16_t>(0), 0xBF80);   // -1.0, from b
  EXPECT_EQ(h.get<uint16_t>(16), 0x3F80);  // a[0] rounded to even
  EXPECT_EQ(h.get<uint16_t>(17), 0x4000);  // 2.0
}

// --- The AVX-512 epilogue (emulated) against ref/requantize.h ---

struct EpilogueCase {
  std::vector<int32_t> acc;
  std::vector<float> scale, bias;
  std::vector<int8_t> residual;
  float residual_scale;
};

// Accumulators over the whole int32 range and small odd values whose
// products with scale 0.5 are exact halves (rounding ties).
EpilogueCase make_case(uint32_t seed, int n) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int32_t> small(-300, 300), any(INT32_MIN, INT32_MAX);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  EpilogueCase c;
  for (int i = 0; i < n; ++i) {
    c.acc.push_back(i % 5 == 4 ? any(gen) : small(gen));
    c.scale.push_back(i % 3 == 0 ? 0.5f : 0.37f + 0.1f * u(gen));
    c.bias.push_back(i % 3 == 0 ? 0.0f : 3.0f * u(gen));
    c.residual.push_back(static_cast<int8_t>(small(gen) % 128));
  }
  c.residual_scale = 0.5f;
  return c;
}

k::Epilogue reference_epilogue(const EpilogueCase& c, bool residual, bool f32) {
  k::Epilogue ep;
  ep.scale = c.scale.data();
  ep.bias = c.bias.data();
  ep.residual = residual ? c.residual.data() : nullptr;
  ep.residual_scale = c.residual_scale;
  ep.clamp_lo = f32 ? -250.0f : -128.0f;  // float: wide, so most sums reach the store unclamped
  ep.clamp_hi = f32 ? 250.0f : 127.0f;
  ep.out_type = f32 ? k::OutputType::kFloat32 : k::OutputType::kInt8;
  return ep;
}

k::x86::TileEpilogue tile_epilogue(const k::Epilogue& ep, void* y) {
  k::x86::TileEpilogue t;
  t.scale = ep.scale;
  t.bias = ep.bias;
  t.lo = ep.clamp_lo;
  t.hi = ep.clamp_hi;
  t.residual = ep.residual;
  t.residual_stride = 0;
  t.residual_scale = ep.residual_scale;
  t.y = y;
  t.y_stride = 0;
  t.out_f32 = ep.out_type == k::OutputType::kFloat32;
  return t;
}

TEST(Avx512Emulation, EpilogueEqualsTheReference) {
  for (bool f32 : {false, true}) {
    for (bool residual : {false, true}) {
      for (int valid : {16, 13, 1}) {
        for (uint32_t seed = 0; seed < 20; ++seed) {
          const EpilogueCase c = make_case(100 * seed + valid + 7 * residual + 13 * f32, 16);
          const k::Epilogue ep = reference_epilogue(c, residual, f32);
          std::vector<uint8_t> want(64, 0xEE), got(64, 0xEE);
          for (int i = 0; i < valid; ++i) k::ref::store_output(c.acc[i], i, i, ep, want.data());
          emu::__m512i v;
          std::memcpy(v.bytes, c.acc.data(), 64);
          emu::avx512vnni::store_requantized(v, tile_epilogue(ep, got.data()), 0, 0, valid);
          ASSERT_EQ(got, want) << (f32 ? "float" : "int8") << " residual " << residual << " valid " << valid
                               << " seed " << seed;
        }
      }
    }
  }
}

TEST(Avx512Emulation, EpilogueRowEqualsTheReference) {
  for (int nc : {64, 63, 40, 17, 16, 5}) {
    for (bool residual : {false, true}) {
      const EpilogueCase c = make_case(200 + nc + residual, 64);
      const k::Epilogue ep = reference_epilogue(c, residual, false);
      std::vector<int8_t> want(72, 0x33), got(72, 0x33);
      for (int i = 0; i < nc; ++i) k::ref::store_output(c.acc[i], i, i, ep, want.data());
      const k::x86::TileEpilogue te = tile_epilogue(ep, got.data());
      emu::__m512i acc[4];
      emu::avx512vnni::ChannelEpilogue ce[4];
      for (int j = 0; j < 4; ++j) {
        std::memcpy(acc[j].bytes, c.acc.data() + 16 * j, 64);
        const int valid = nc - 16 * j;
        if (valid > 0) ce[j] = emu::avx512vnni::load_channel_epilogue(te, 16 * j, valid < 16 ? valid : 16);
      }
      emu::avx512vnni::store_requantized_row<4>(acc, ce, nc, residual ? c.residual.data() : nullptr,
                                                c.residual_scale, emu::_mm512_set1_ps(ep.clamp_lo),
                                                emu::_mm512_set1_ps(ep.clamp_hi), got.data());
      EXPECT_EQ(got, want) << "nc " << nc << " residual " << residual;
    }
  }
}

}  // namespace
