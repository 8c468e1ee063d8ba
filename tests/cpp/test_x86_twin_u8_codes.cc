// u8-coded tensors (kernel_types.h, Codes: the byte of code q is q + 128)
// through the AVX-VNNI igemm conv (its unshifted vpdpbusd tile, igemm_u8_fn)
// and the AMX conv (tdpbusd, gemm_tile_u8), byte for byte against the
// reference kernel on the int8 codes, through their twins
// (twins/x86_twins.h: AMX emulated only where the CPU lacks AMX; AVX-VNNI
// emulated, EVEX, and native where the CPU has it). For a conv reading,
// writing or adding u8 codes the arithmetic is that of the codes, so its
// outputs are the reference's bytes, xor 0x80 where the output is u8-coded,
// and the same floats for a float output.
// Sweeps: pixels, channels and reductions around the tiles (6 x 16 c4 for
// AVX-VNNI, 32 x 32 with 64-byte chunks for AMX), 1x1 read in place and
// gathered, 3x3 / 5x3 / 7x7 windows, strides, asymmetric padding read as the
// input's pad code (zero points of u8 0, 1, 255 and one between),
// dilation, groups, batch 1 and 3, residuals u8- and int8-coded, int8 and
// float outputs, all-0 and all-255 input codes. A kernel must take u8 codes
// wherever it takes the shape on int8 codes (the premise of the rule that
// holds tensors as u8 codes, engine/ops/int8/u8_codes.h), except that the
// AVX-VNNI igemm must decline u8-coded inputs where it merges rows (few
// input channels, the stems: conv_igemm_weights.cc, use_merged_rows), saying
// so; shapes a kernel declines on int8 codes too (AMX: tile utilisation) are
// left out and counted.
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"
#include "twins/x86_twins.h"

namespace {

using namespace x86_twins;
using int8rt::testing::expect_same;
using int8rt::testing::random_s8;
using int8rt::testing::run_guarded;

// Which tensors are u8-coded: input, output, residual.
struct Coding {
  k::Codes in, out, res;
};

enum class Fill { kRandom, kAllZeroCodes, kAll255Codes };

k::ConvShape make(const Conv& c, int8_t pad_value, const Coding& cd) {
  k::ConvShape s = x86_twins::make(c);
  s.pad_value = pad_value;
  s.input_codes = cd.in;
  s.output_codes = cd.out;
  s.residual_codes = cd.res;
  return s;
}

std::string describe(const k::ConvShape& s, int batch, k::OutputType out, bool res, Fill fill) {
  auto codes = [](k::Codes c) { return c == k::Codes::kU8 ? "u8" : "s8"; };
  return x86_twins::describe(s, batch) + " input=" + codes(s.input_codes) + " output=" + codes(s.output_codes) +
         (res ? std::string(" residual=") + codes(s.residual_codes) : "") +
         (out == k::OutputType::kInt8 ? " int8" : " float32") +
         (fill == Fill::kAllZeroCodes ? " all-0 codes" : fill == Fill::kAll255Codes ? " all-255 codes" : "");
}

// Bytes of the codes q in storage c.
std::vector<int8_t> stored(std::vector<int8_t> q, k::Codes c) {
  for (int8_t& b : q) b = k::code_byte(b, c);
  return q;
}

bool is_avxvnni(const k::ConvKernel& c) { return c.isa() == k::Isa::kAvxVnni; }

// Whether `conv` must decline `s` (file comment): the AVX-VNNI igemm's merged rows on a u8-coded input.
bool must_decline(const k::ConvKernel& conv, const k::ConvShape& s) {
  return is_avxvnni(conv) && s.input_codes == k::Codes::kU8 && s.groups == 1 && s.dilation_w == 1 && s.S > 1 &&
         s.C < 16;
}

k::ConvShape int8_coded(k::ConvShape s) {
  s.input_codes = s.output_codes = s.residual_codes = k::Codes::kS8;
  return s;
}

// Runs conv `s` (codes as it says) through `conv` and compares with the
// reference on the codes; where the kernel declines it, checks that it must
// (must_decline) and says why. Returns whether it ran; false without a check
// where the kernel declines the shape on int8 codes too.
bool check(const k::ConvKernel& conv, const k::ConvShape& s, int batch, k::OutputType out, bool with_res,
           Fill fill, uint32_t seed) {
  if (!conv.supports(int8_coded(s), out).empty()) return false;
  const std::string what = std::string(conv.name()) + " " + describe(s, batch, out, with_res, fill);
  const std::string why = conv.supports(s, out);
  if (must_decline(conv, s)) {
    EXPECT_NE(why.find("merged"), std::string::npos) << what << ": declined with '" << why << "'";
    return false;
  }
  EXPECT_EQ(why, "") << what;
  if (!why.empty()) return false;
  const size_t n_in = static_cast<size_t>(batch) * s.H * s.W * s.C;
  const size_t n_out = static_cast<size_t>(batch) * s.out_h() * s.out_w() * s.K;
  const size_t eb = out == k::OutputType::kInt8 ? 1 : 4;
  // Input codes q; all-0 / all-255 u8 bytes are the codes -128 / 127.
  const std::vector<int8_t> x = fill == Fill::kRandom        ? random_s8(n_in, seed)
                                : fill == Fill::kAllZeroCodes ? std::vector<int8_t>(n_in, -128)
                                                              : std::vector<int8_t>(n_in, 127);
  const std::vector<int8_t> w = random_s8(static_cast<size_t>(s.weight_count()), seed + 1);
  const std::vector<int8_t> res = random_s8(n_out, seed + 2);
  SweepEpilogue sweep(s, out, seed + 3);
  k::Epilogue& ep = sweep.ep;
  ep.residual_scale = 0.61f;
  // The reference on the codes, every tensor int8-coded.
  const k::ConvShape plain = int8_coded(s);
  ep.residual = with_res ? res.data() : nullptr;
  std::vector<uint8_t> want = run_guarded("ref", n_out * eb, [&](void* y) {
    k::ref::conv2d_s8(plain, batch, x.data(), w.data(), ep, y);
  });
  if (eb == 1 && s.output_codes == k::Codes::kU8) {
    for (uint8_t& b : want) b ^= 0x80u;
  }
  // The kernel on the stored bytes.
  const std::vector<int8_t> xs = stored(x, s.input_codes);
  const std::vector<int8_t> rs = stored(res, s.residual_codes);
  ep.residual = with_res ? rs.data() : nullptr;
  std::vector<int8_t> wcopy = w;
  auto packed = conv.pack(s, wcopy.data());
  std::fill(wcopy.begin(), wcopy.end(), int8_t{99});  // pack must not keep it
  expect_same(what, run_guarded(what, n_out * eb, [&](void* y) { packed->run(batch, xs.data(), ep, y); }), want,
              eb);
  return true;
}

constexpr k::Codes U8 = k::Codes::kU8, S8 = k::Codes::kS8;

// Dense shapes, each with the input u8-coded and the output and residual
// codings in turn.
TEST(X86TwinsU8Codes, ConvEqualsReference) {
  const std::vector<Under> under = kernels_under_test();
  const std::vector<Conv> shapes = {
      // C, H, W, K, R, S, stride, pad, dilation, groups
      {64, 5, 7, 16, 1, 1, 1, 0, 1, 1},    // 1x1 in place (AMX: channels a multiple of 64), 35 pixels
      {128, 4, 8, 33, 1, 1, 1, 0, 1, 1},   // in place, 32 pixels, K 33
      {128, 3, 5, 34, 1, 1, 1, 0, 1, 2},   // in place per group
      {17, 4, 4, 17, 1, 1, 1, 0, 1, 1},    // gathered, reduction 17 (c4 tail 1)
      {65, 3, 11, 47, 1, 1, 1, 0, 1, 1},   // 33 pixels, reduction 65 (AMX: 2 chunks)
      {64, 9, 9, 64, 1, 1, 2, 0, 1, 1},    // 1x1 stride 2
      {96, 5, 69, 33, 1, 1, 2, 0, 1, 1},   // 1x1 stride 2, AMX output rows of 35 in place, the last gathered
      {13, 6, 5, 32, 3, 3, 1, 1, 1, 1},    // 3x3 padded, reduction 117
      {64, 9, 9, 64, 3, 3, 1, 1, 1, 1},    // 3x3 64 -> 64 (ResNet-50's), 9 chunks
      {16, 7, 6, 49, 3, 3, 2, 1, 1, 1},    // stride 2, K 49
      {8, 9, 10, 24, 3, 3, 1, 2, 2, 1},    // dilation 2
      {20, 5, 6, 68, 3, 3, 1, 1, 1, 4},    // groups 4 (5 in, 17 out each)
      {12, 6, 9, 20, 5, 3, 1, 2, 1, 1},    // 5x3 window
      {67, 5, 5, 15, 2, 2, 1, 0, 1, 1},    // 2x2, K 15
      {9, 5, 7, 9, 3, 3, 1, 1, 1, 1},      // K 9: one block of 8 + 1
      {128, 5, 4, 72, 3, 3, 1, 1, 1, 1},   // AVX-VNNI runs of channel tiles
      {64, 16, 16, 64, 3, 3, 1, 1, 1, 1},  // threaded work items
  };
  const std::vector<Coding> codings = {{U8, U8, U8}, {U8, S8, U8}, {U8, U8, S8}, {S8, U8, U8}};
  uint32_t seed = 13700;
  for (const Under& u : under) {
    int ran = 0;
    for (const Conv& c : shapes) {
      for (size_t i = 0; i < codings.size(); ++i) {
        const int8_t pad_value = static_cast<int8_t>(i % 2 ? -128 : 37);
        const k::ConvShape s = make(c, pad_value, codings[i]);
        for (int batch : {1, 3}) {
          ran += check(*u.conv, s, batch, k::OutputType::kInt8, batch == 3 || i == 2, Fill::kRandom, seed += 10);
        }
        ran += check(*u.conv, s, 2, k::OutputType::kFloat32, true, Fill::kRandom, seed += 10);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    std::printf("%s: %d of %d u8-coded convs ran\n", u.conv->name(), ran,
                static_cast<int>(shapes.size() * codings.size() * 3));
    EXPECT_GE(ran, static_cast<int>(shapes.size() * codings.size() * 3 / 2)) << u.conv->name();
  }
}

// Padding read as the input's pad code: the u8 zero points 0, 1, 255 and
// one between (int8 codes -128, -127, 127, 37; stored as bytes 0, 1, 255,
// 165), on padded shapes and the stems. AVX-VNNI declines the stems with
// few input channels (merged rows pad with the code itself: conv_igemm.cc).
TEST(X86TwinsU8Codes, PadCodeEqualsReference) {
  const std::vector<Under> under = kernels_under_test();
  const std::vector<Conv> shapes = {{13, 6, 5, 32, 3, 3, 1, 1, 1, 1}, {16, 7, 6, 49, 3, 3, 2, 1, 1, 1},
                                    {8, 9, 10, 24, 3, 3, 1, 2, 2, 1}, {20, 5, 6, 68, 3, 3, 1, 1, 1, 4},
                                    {5, 4, 4, 33, 1, 1, 1, 1, 1, 1},  {3, 13, 13, 32, 3, 3, 2, 1, 1, 1},
                                    {3, 11, 11, 16, 7, 7, 2, 3, 1, 1}};
  uint32_t seed = 15000;
  for (const Under& u : under) {
    int ran = 0;
    for (const Conv& c : shapes) {
      for (int pad_value : {-128, -127, 127, 37}) {
        const k::ConvShape s = make(c, static_cast<int8_t>(pad_value), {U8, U8, U8});
        ran += check(*u.conv, s, 2, k::OutputType::kInt8, pad_value == 37, Fill::kRandom, seed += 10);
        ran += check(*u.conv, s, 1, k::OutputType::kFloat32, false, Fill::kRandom, seed += 10);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    std::printf("%s: %d of %d padded u8-coded convs ran\n", u.conv->name(), ran, static_cast<int>(shapes.size() * 8));
    EXPECT_GE(ran, 2 * 4 * 3) << u.conv->name();  // AVX-VNNI: the 4 shapes it does not merge
  }
}

// Every input byte 0 or every one 255 (codes -128 / 127), against weights
// of both signs: the largest u8 x s8 products and sums.
TEST(X86TwinsU8Codes, ExtremeCodes) {
  const std::vector<Under> under = kernels_under_test();
  for (const Under& u : under) {
    for (const Conv& c : {Conv{64, 6, 6, 32, 3, 3, 1, 1, 1, 1}, Conv{192, 4, 4, 40, 1, 1, 1, 0, 1, 1}}) {
      for (Fill f : {Fill::kAllZeroCodes, Fill::kAll255Codes}) {
        for (int8_t pad_value : {int8_t{-128}, int8_t{127}}) {
          const k::ConvShape s = make(c, pad_value, {U8, U8, U8});
          EXPECT_TRUE(check(*u.conv, s, 2, k::OutputType::kFloat32, false, f, 7));
          EXPECT_TRUE(check(*u.conv, s, 1, k::OutputType::kInt8, true, f, 8));
        }
      }
    }
  }
}

// 1x1 convs read in place over many rows (2 and 4 row tiles of 32 per AMX
// microkernel call, partial last tiles), channels around the 16-channel
// blocks and their pairs, reductions of 1-33 chunks of 64 (C 130: the last
// rows gathered), B over 32 KiB (tileloaddt1), every coding with a u8-coded
// input, a residual, int8 and float outputs: the AMX epilogue's u8 xors
// (natively in its registers, emulated by byte loops: amx/igemm_32x32c4.cc)
// and its -128 * sum(w) against the reference.
TEST(X86TwinsU8Codes, ManyRowsEqualsReference) {
  const std::vector<Under> under = kernels_under_test();
  // C, H, W, K, 1x1; batch: 37 x 37 x 2 = 2738 rows (4 tiles per call), 23 x 23 x 3 = 1587 (2 tiles).
  const std::vector<std::pair<Conv, int>> shapes = {
      {{64, 37, 37, 17, 1, 1, 1, 0, 1, 1}, 2},  {{64, 37, 37, 80, 1, 1, 1, 0, 1, 1}, 2},
      {{128, 23, 23, 48, 1, 1, 1, 0, 1, 1}, 3}, {{192, 23, 23, 33, 1, 1, 1, 0, 1, 1}, 3},
      {{130, 23, 23, 64, 1, 1, 1, 0, 1, 1}, 3}, {{64, 37, 37, 256, 1, 1, 1, 0, 1, 1}, 2},
      {{576, 12, 12, 80, 1, 1, 1, 0, 1, 1}, 3}, {{1024, 7, 7, 64, 1, 1, 1, 0, 1, 1}, 3},  // B of 45 / 64 KiB: streamed
      // Over 16 chunks: a step's epilogue issues the next step's chunks 2-3 per row pair (147 rows: calls
      // of 32, the last 19 = 9 pairs and an odd row; 75 rows: the last call 11).
      {{1280, 7, 7, 80, 1, 1, 1, 0, 1, 1}, 3}, {{2112, 5, 5, 33, 1, 1, 1, 0, 1, 1}, 3}};
  const std::vector<Coding> codings = {{U8, U8, U8}, {U8, S8, U8}, {U8, U8, S8}};
  uint32_t seed = 17700;
  for (const Under& u : under) {
    int ran = 0;
    for (const auto& [c, batch] : shapes) {
      for (const Coding& cd : codings) {
        const k::ConvShape s = make(c, 0, cd);
        ran += check(*u.conv, s, batch, k::OutputType::kInt8, true, Fill::kRandom, seed += 10);
        if (cd.out == U8) ran += check(*u.conv, s, batch, k::OutputType::kFloat32, true, Fill::kRandom, seed += 10);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    std::printf("%s: %d of %d many-row u8-coded 1x1s ran\n", u.conv->name(), ran, static_cast<int>(shapes.size() * 5));
    EXPECT_EQ(ran, static_cast<int>(shapes.size() * 5)) << u.conv->name();
  }
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
