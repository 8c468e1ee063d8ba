// The two AVX512-VNNI conv kernels that registry.cc lists ahead of AMX,
// byte for byte against the reference conv on the codes, natively where the
// CPU runs AVX512-VNNI (skipped, saying so, elsewhere: they have no emulated
// twins): the narrow pointwise conv (conv_s8_igemm_narrow_16c4_avx512vnni:
// x86/conv_narrow.cc, avx512vnni/igemm_narrow_16c4.cc; 1x1, stride 1, no
// padding, K <= 16, C <= 32) and the one-pixel conv
// (conv_s8_igemv_8x32c4_avx512vnni: x86/conv_gemv.cc, igemv_8x32c4.cc;
// 1x1 over a 1 x 1 input, C x K up to 64K; batches 1..19 around its 8 rows,
// K around its 32-channel tiles); and the igemm tile under the small-channel
// rule (conv_s8_igemm_6x64c4_c16_avx512vnni, x86/conv_small_c.h: 1x1 over
// <= 16 unsigned input channels), which must take exactly those.
// Sweeps: C 1..32 around the c4 groups (tails 1-3) and K 1..16 (K == 16 takes
// the 4-pixel row store, the others the per-pixel one); pixel counts around
// the 8-pixel tile and the thread grain; batch 1 and 3;
// inputs int8 (shifted), promised non-negative (read raw) and u8-coded;
// output int8- or u8-coded and float; residuals int8- and u8-coded;
// extreme inputs and weights (all -128 / 127, -128 weights). It must also be
// the registry's choice for such convs and decline every other shape.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/ref/ref_kernels.h"

namespace {

namespace k = int8rt::kernels;
using int8rt::testing::expect_same;
using int8rt::testing::random_s8;
using int8rt::testing::run_guarded;
using int8rt::testing::uniform_f32;

constexpr const char* kNarrow = "conv_s8_igemm_narrow_16c4_avx512vnni";
constexpr const char* kGemv = "conv_s8_igemv_8x32c4_avx512vnni";
constexpr const char* kSmallC = "conv_s8_igemm_6x64c4_c16_avx512vnni";

const k::ConvKernel* by_name(const char* name) {
  for (const k::ConvKernel* c : k::candidates<k::ConvKernel>()) {
    if (std::string(c->name()) == name) return c;
  }
  return nullptr;
}
const k::ConvKernel* narrow() { return by_name(kNarrow); }

std::string skip_reason() {
  if (!narrow() || !by_name(kGemv) || !by_name(kSmallC)) {
    return std::string(kNarrow) + " / " + kGemv + " / " + kSmallC + " not built";
  }
  if (!k::isa_enabled(k::Isa::kAvx512Vnni)) return "AVX512-VNNI not usable here: " + k::isa_decline_reason(k::Isa::kAvx512Vnni);
  return "";
}

enum class Fill { kRandom, kMin, kMax };

struct Case {
  int C, H, W, K, batch;
  const char* kernel = kNarrow;
  bool nonneg = false;
  k::Codes in = k::Codes::kS8, out = k::Codes::kS8, res = k::Codes::kS8;
  bool residual = false;
  k::OutputType type = k::OutputType::kInt8;
  Fill fill = Fill::kRandom;
  bool min_weights = false;
};

std::string describe(const Case& c) {
  auto codes = [](k::Codes x) { return x == k::Codes::kU8 ? "u8" : "s8"; };
  return std::string(c.kernel) + " C=" + std::to_string(c.C) + " HxW=" + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " K=" + std::to_string(c.K) + " batch=" + std::to_string(c.batch) +
         (c.nonneg ? " nonneg" : "") + " in=" + codes(c.in) + " out=" + codes(c.out) +
         (c.residual ? std::string(" residual=") + codes(c.res) : "") +
         (c.type == k::OutputType::kInt8 ? " int8" : " float32") +
         (c.fill == Fill::kMin ? " all-min" : c.fill == Fill::kMax ? " all-max" : "") +
         (c.min_weights ? " weights -128" : "");
}

std::vector<int8_t> stored(std::vector<int8_t> q, k::Codes c) {
  for (int8_t& b : q) b = k::code_byte(b, c);
  return q;
}

void check(const Case& c, uint32_t seed) {
  const std::string what = describe(c);
  k::ConvShape s;
  s.C = c.C; s.H = c.H; s.W = c.W; s.K = c.K;
  s.nonneg_input = c.nonneg;
  s.input_codes = c.in;
  s.output_codes = c.out;
  s.residual_codes = c.res;
  const k::ConvKernel* conv = by_name(c.kernel);
  ASSERT_EQ(conv->supports(s, c.type), "") << what;
  const size_t n_in = static_cast<size_t>(c.batch) * c.H * c.W * c.C;
  const size_t n_out = static_cast<size_t>(c.batch) * c.H * c.W * c.K;
  const size_t eb = c.type == k::OutputType::kInt8 ? 1 : 4;
  std::vector<int8_t> x = c.fill == Fill::kRandom ? random_s8(n_in, seed)
                          : std::vector<int8_t>(n_in, c.fill == Fill::kMin ? -128 : 127);
  if (c.nonneg) {
    for (int8_t& v : x) v = static_cast<int8_t>(v < 0 ? -(v + 1) : v);
  }
  std::vector<int8_t> w = c.min_weights ? std::vector<int8_t>(static_cast<size_t>(c.K) * c.C, -128)
                                        : random_s8(static_cast<size_t>(c.K) * c.C, seed + 1);
  const std::vector<int8_t> res = random_s8(n_out, seed + 2);
  const float amax = 128.0f * 128.0f * c.C;
  std::vector<float> scale = uniform_f32(c.K, seed + 3, 20.0f / amax, 60.0f / amax);
  std::vector<float> bias = uniform_f32(c.K, seed + 4, -10.0f, 10.0f);
  k::Epilogue ep;
  ep.scale = scale.data();
  ep.bias = bias.data();
  ep.out_type = c.type;
  ep.clamp_lo = c.type == k::OutputType::kInt8 ? -128.0f : -3.0f;
  ep.clamp_hi = c.type == k::OutputType::kInt8 ? 127.0f : 6.0f;
  ep.residual_scale = 0.61f;
  k::ConvShape plain = s;
  plain.input_codes = plain.output_codes = plain.residual_codes = k::Codes::kS8;
  ep.residual = c.residual ? res.data() : nullptr;
  std::vector<uint8_t> want = run_guarded("ref", n_out * eb, [&](void* y) {
    k::ref::conv2d_s8(plain, c.batch, x.data(), w.data(), ep, y);
  });
  if (eb == 1 && c.out == k::Codes::kU8) {
    for (uint8_t& b : want) b ^= 0x80u;
  }
  const std::vector<int8_t> xs = stored(x, c.in);
  const std::vector<int8_t> rs = stored(res, c.res);
  ep.residual = c.residual ? rs.data() : nullptr;
  auto packed = conv->pack(s, w.data());
  std::fill(w.begin(), w.end(), int8_t{99});  // pack must not keep it
  expect_same(what, run_guarded(what, n_out * eb, [&](void* y) { packed->run(c.batch, xs.data(), ep, y); }), want,
              eb);
}

TEST(NarrowConvAvx512Vnni, EqualsReferenceOverChannelsAndPixels) {
  if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
  uint32_t seed = 1;
  for (int C : {1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 23, 24, 29, 31, 32}) {
    for (int K : {1, 3, 8, 15, 16}) {
      for (auto hw : {std::pair<int, int>{1, 1}, {1, 7}, {2, 4}, {3, 3}, {5, 13}, {9, 15}}) {
        Case c{C, hw.first, hw.second, K, (C + K) % 2 ? 3 : 1};
        check(c, seed++);
      }
    }
  }
}

TEST(NarrowConvAvx512Vnni, EqualsReferenceOverCodesResidualsAndOutputs) {
  if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
  constexpr k::Codes S8 = k::Codes::kS8, U8 = k::Codes::kU8;
  uint32_t seed = 1000;
  for (int C : {16, 32, 21}) {
    for (int K : {16, 12}) {
      for (auto hw : {std::pair<int, int>{11, 13}, {56, 40}}) {  // 143 pixels; 2240 (several threads' runs)
        for (k::OutputType type : {k::OutputType::kInt8, k::OutputType::kFloat32}) {
          for (bool residual : {false, true}) {
            for (int mode = 0; mode < 3; ++mode) {  // input: shifted s8, promised non-negative s8, u8 codes
              for (k::Codes out : {S8, U8}) {
                if (type == k::OutputType::kFloat32 && out == U8) continue;
                Case c{C, hw.first, hw.second, K, 2};
                c.nonneg = mode == 1;
                c.in = mode == 2 ? U8 : S8;
                c.out = out;
                c.residual = residual;
                c.res = residual && out == U8 ? U8 : S8;
                c.type = type;
                check(c, seed++);
              }
            }
          }
        }
      }
    }
  }
}

TEST(NarrowConvAvx512Vnni, ExtremeValues) {
  if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
  uint32_t seed = 5000;
  for (Fill fill : {Fill::kMin, Fill::kMax, Fill::kRandom}) {
    for (bool min_weights : {false, true}) {
      for (int mode = 0; mode < 2; ++mode) {
        Case c{32, 3, 7, 16, 2};
        c.fill = fill;
        c.min_weights = min_weights;
        c.in = mode ? k::Codes::kU8 : k::Codes::kS8;
        check(c, seed++);
      }
    }
  }
}

TEST(NarrowConvAvx512Vnni, ChosenForNarrowPointwiseOnlyAndDeclinesTheRest) {
  if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
  k::ConvShape s;
  s.C = 32; s.H = 112; s.W = 112; s.K = 16;
  EXPECT_EQ(k::choose<k::ConvKernel>(s, k::OutputType::kInt8).name(), std::string(kNarrow));
  auto declines = [](k::ConvShape t, const char* why) {
    EXPECT_NE(narrow()->supports(t, k::OutputType::kInt8), "") << why;
  };
  k::ConvShape t = s; t.K = 17; declines(t, "K 17");
  t = s; t.C = 33; declines(t, "C 33");
  t = s; t.R = t.S = 3; t.pad_top = t.pad_left = t.pad_bottom = t.pad_right = 1; declines(t, "3x3");
  t = s; t.stride_h = t.stride_w = 2; declines(t, "stride 2");
  t = s; t.pad_top = 1; declines(t, "padding");
  t = s; t.groups = 2; declines(t, "groups");
}

TEST(GemvConvAvx512Vnni, EqualsReferenceOverChannelsBatchesAndCodes) {
  if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
  constexpr k::Codes S8 = k::Codes::kS8, U8 = k::Codes::kU8;
  uint32_t seed = 7000;
  for (int C : {1, 3, 4, 5, 16, 33, 96, 255, 960}) {
    for (int K : {1, 8, 31, 32, 33, 64, 97, 240}) {
      if (int64_t{C} * K > (int64_t{1} << 16)) continue;
      for (int batch : {1, 2, 7, 8, 9, 16, 19}) {
        Case c{C, 1, 1, K, batch};
        c.kernel = kGemv;
        const int mode = static_cast<int>(seed % 3);  // input: shifted s8, promised non-negative s8, u8 codes
        c.nonneg = mode == 1;
        c.in = mode == 2 ? U8 : S8;
        c.out = seed % 2 ? U8 : S8;
        c.residual = seed % 5 == 0;
        c.res = seed % 7 == 0 ? U8 : S8;
        c.type = seed % 11 == 0 ? k::OutputType::kFloat32 : k::OutputType::kInt8;
        if (c.type == k::OutputType::kFloat32) c.out = S8;
        check(c, seed++);
      }
    }
  }
  for (Fill fill : {Fill::kMin, Fill::kMax}) {
    for (bool min_weights : {false, true}) {
      Case c{96, 1, 1, 40, 9};
      c.kernel = kGemv;
      c.fill = fill;
      c.min_weights = min_weights;
      check(c, seed++);
    }
  }
}

TEST(GemvConvAvx512Vnni, ChosenForOnePixelOnly) {
  if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
  k::ConvShape s;
  s.C = 480; s.H = 1; s.W = 1; s.K = 120;
  EXPECT_EQ(k::choose<k::ConvKernel>(s, k::OutputType::kInt8).name(), std::string(kGemv));
  k::ConvShape t = s; t.C = 960; t.K = 240;
  EXPECT_NE(by_name(kGemv)->supports(t, k::OutputType::kInt8), "") << "C x K over 64K";
  t = s; t.H = 2;
  EXPECT_NE(by_name(kGemv)->supports(t, k::OutputType::kInt8), "");
  t = s; t.groups = 2;
  EXPECT_NE(by_name(kGemv)->supports(t, k::OutputType::kInt8), "");
}

TEST(SmallChannelConvAvx512Vnni, EqualsReferenceOnUnsignedInputsAndDeclinesTheRest) {
  if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
  uint32_t seed = 9000;
  for (int C : {1, 3, 8, 13, 16}) {
    for (int K : {17, 64, 96, 130}) {
      for (int mode = 0; mode < 2; ++mode) {  // u8 codes, promised non-negative int8
        Case c{C, 9, 13, K, 2};
        c.kernel = kSmallC;
        c.in = mode == 0 ? k::Codes::kU8 : k::Codes::kS8;
        c.nonneg = mode == 1;
        c.out = seed % 2 ? k::Codes::kU8 : k::Codes::kS8;
        c.residual = seed % 3 == 0;
        check(c, seed++);
      }
    }
  }
  k::ConvShape s;
  s.C = 16; s.H = 112; s.W = 112; s.K = 64; s.input_codes = k::Codes::kU8;
  EXPECT_EQ(k::choose<k::ConvKernel>(s, k::OutputType::kInt8).name(), std::string(kSmallC));
  const k::ConvKernel* small_c = by_name(kSmallC);
  k::ConvShape t = s; t.input_codes = k::Codes::kS8;
  EXPECT_NE(small_c->supports(t, k::OutputType::kInt8), "") << "signed input";
  t = s; t.C = 17;
  EXPECT_NE(small_c->supports(t, k::OutputType::kInt8), "") << "C 17";
  t = s; t.R = t.S = 3; t.pad_top = t.pad_left = t.pad_bottom = t.pad_right = 1;
  EXPECT_NE(small_c->supports(t, k::OutputType::kInt8), "") << "3x3";
}

}  // namespace
