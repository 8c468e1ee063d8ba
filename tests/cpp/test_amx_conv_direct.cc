// The AMX direct spatial conv (x86/conv_amx_direct.cc, amx/conv_direct_32x32c4.cc)
// against ref::conv2d_s8, byte for byte: the microkernel's emulated twin
// (amx_emulation.h, any x86-64 CPU) and the library's native AMX conv where
// the CPU and OS grant AMX (it takes the direct path for these shapes).
// Sweeps: H / W 1..17, 56 and the 224 stem; C around 32 / 64 / 128 (not
// multiples of 64 too) and C < 32; rows mode, space-to-depth (C = 3 stems)
// and (dilation_w 2) channel mode; the batch in groups of images; K around 16 / 32; strides 1, 2, 3; symmetric and asymmetric
// padding; dilation; batch 1 and 3; all -128 / all 127 data; residual; int8
// and float outputs; u8-coded input, output and residual; pad_value != 0;
// int8 clamp bounds other than -128 / 127 (ReLU, half-way, lo == hi) and
// scales that reach 2^30; guard bytes after every output (kernel_test_util.h).
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/x86/conv_amx_direct.h"
#include "twins/x86_twins.h"

namespace {

using namespace x86_twins;
using int8rt::testing::expect_same;
using int8rt::testing::random_s8;
using int8rt::testing::run_guarded;

constexpr k::x86::AmxUkernel kDirectEmulated = {
    k::Isa::kAmx, "conv_s8_igemm_32x32c4_amx(direct, emulated)", "gemm_s8_32x32c4_amx(emulated)",
    k::x86::emulated::amx::gemm_tile, k::x86::emulated::amx::gemm_tile_u8,
    k::x86::emulated::amx::conv_direct_strip, k::x86::emulated::amx::conv_direct_strip_u8};

std::vector<const k::ConvKernel*> kernels() {
  static const k::x86::AmxConvKernel emulated(kDirectEmulated);
  std::vector<const k::ConvKernel*> v = {&emulated};
  if (native_reason(k::Isa::kAmx).empty()) v.push_back(native(k::Isa::kAmx).conv);
  return v;
}

enum class Fill { kRandom, kAllMin, kAllMax };

struct Case {
  Conv c;
  int batch = 1;
  k::OutputType out = k::OutputType::kInt8;
  bool residual = false;
  Fill fill = Fill::kRandom;
  int8_t pad_value = 0;
  bool u8_in = false, u8_out = false, u8_res = false;
  // int8 outputs: the clamp (default SweepEpilogue's -128 / 127), every
  // scale times scale_mul, channel 0's times 1e9 more where huge_channel.
  float lo = -128.0f, hi = 127.0f, scale_mul = 1.0f;
  bool huge_channel = false;
};

std::string describe(const k::ConvShape& s, const Case& cs) {
  return x86_twins::describe(s, cs.batch) + (cs.out == k::OutputType::kInt8 ? " int8" : " float32") +
         (cs.residual ? " residual" : "") + (cs.fill == Fill::kAllMin ? " all-128" : "") +
         (cs.fill == Fill::kAllMax ? " all127" : "") + (cs.u8_in ? " u8-in" : "") + (cs.u8_out ? " u8-out" : "") +
         (cs.u8_res ? " u8-res" : "") + " clamp [" + std::to_string(cs.lo) + ", " + std::to_string(cs.hi) +
         "] scale x" + std::to_string(cs.scale_mul) + (cs.huge_channel ? " (channel 0 x1e9)" : "");
}

std::vector<int8_t> stored(std::vector<int8_t> q, bool u8) {
  if (u8) {
    for (int8_t& b : q) b = k::code_byte(b, k::Codes::kU8);
  }
  return q;
}

// Runs case cs through conv and compares with the reference on the codes.
void check(const k::ConvKernel& conv, const Case& cs, uint32_t seed) {
  k::ConvShape s = make(cs.c);
  s.pad_value = cs.pad_value;
  const k::ConvShape plain = s;
  s.input_codes = cs.u8_in ? k::Codes::kU8 : k::Codes::kS8;
  s.output_codes = cs.u8_out ? k::Codes::kU8 : k::Codes::kS8;
  s.residual_codes = cs.u8_res ? k::Codes::kU8 : k::Codes::kS8;
  const std::string what = std::string(conv.name()) + " " + describe(s, cs);
  ASSERT_TRUE(k::x86::amx_direct_applies(s)) << what;
  ASSERT_EQ(conv.supports(s, cs.out), "") << what;
  const size_t n_in = static_cast<size_t>(cs.batch) * s.H * s.W * s.C;
  const size_t n_out = static_cast<size_t>(cs.batch) * s.out_h() * s.out_w() * s.K;
  const size_t eb = cs.out == k::OutputType::kInt8 ? 1 : 4;
  const std::vector<int8_t> x = cs.fill == Fill::kRandom   ? random_s8(n_in, seed)
                                : cs.fill == Fill::kAllMin ? std::vector<int8_t>(n_in, -128)
                                                           : std::vector<int8_t>(n_in, 127);
  const std::vector<int8_t> w = cs.fill == Fill::kRandom
                                    ? random_s8(static_cast<size_t>(s.weight_count()), seed + 1)
                                    : std::vector<int8_t>(static_cast<size_t>(s.weight_count()),
                                                          cs.fill == Fill::kAllMax ? 127 : -128);
  const std::vector<int8_t> res = random_s8(n_out, seed + 2);
  SweepEpilogue sweep(s, cs.out, seed + 3);
  k::Epilogue& ep = sweep.ep;
  ep.residual_scale = 0.61f;
  if (cs.out == k::OutputType::kInt8) {
    ep.clamp_lo = cs.lo;
    ep.clamp_hi = cs.hi;
    for (float& f : sweep.scale) f *= cs.scale_mul;
    if (cs.huge_channel) sweep.scale[0] *= 1e9f;
  }
  ep.residual = cs.residual ? res.data() : nullptr;
  std::vector<uint8_t> want = run_guarded("ref", n_out * eb, [&](void* y) {
    k::ref::conv2d_s8(plain, cs.batch, x.data(), w.data(), ep, y);
  });
  if (eb == 1 && cs.u8_out) {
    for (uint8_t& b : want) b ^= 0x80u;
  }
  const std::vector<int8_t> xs = stored(x, cs.u8_in);
  const std::vector<int8_t> rs = stored(res, cs.u8_res);
  ep.residual = cs.residual ? rs.data() : nullptr;
  std::vector<int8_t> wcopy = w;
  auto packed = conv.pack(s, wcopy.data());
  std::fill(wcopy.begin(), wcopy.end(), int8_t{99});  // pack must not keep it
  expect_same(what, run_guarded(what, n_out * eb, [&](void* y) { packed->run(cs.batch, xs.data(), ep, y); }),
              want, eb);
}

TEST(AmxConvDirect, WhichRan) {
  const std::string why = native_reason(k::Isa::kAmx);
  std::printf("amx direct conv: emulated twin ran; native %s\n", why.empty() ? "ran" : ("not run: " + why).c_str());
  if (!why.empty()) GTEST_SKIP() << "native AMX not run: " << why;
}

// Every output size 1..17 (grid tiles of 32 rows around the edges, junk
// columns) at stride 1 and 2 with 3x3 windows, C 64 and K 17.
TEST(AmxConvDirect, SizesOneToSeventeen) {
  for (const k::ConvKernel* conv : kernels()) {
    uint32_t seed = 100;
    for (int hw = 1; hw <= 17; ++hw) {
      for (int stride : {1, 2}) {
        Case cs;
        cs.c = {64, hw, hw + (hw % 3), 17, 3, 3, stride, 1, 1, 1};
        check(*conv, cs, seed++);
        cs.c = {3, hw, hw + (hw % 2), 16, 3, 3, stride, 1, 1, 1};  // rows mode
        check(*conv, cs, seed++);
      }
    }
  }
}

// Channels and output channels off the tile edges, windows, pads, dilation.
TEST(AmxConvDirect, ShapesEqualReference) {
  const std::vector<Conv> shapes = {
      // C, H, W, K, R, S, stride, pad, dilation, groups
      {32, 6, 7, 16, 3, 3, 1, 1, 1, 1},    // C 32: Cp 64, half the chunk zero
      {40, 9, 5, 33, 3, 3, 1, 1, 1, 1},    // K 33: three blocks (pair + single)
      {65, 7, 8, 5, 3, 3, 1, 0, 1, 1},     // C 65: two chunks per tap; K 5; no padding
      {100, 5, 11, 47, 3, 3, 2, 1, 1, 1},  // stride 2, C 100
      {128, 8, 8, 64, 3, 3, 2, 1, 1, 1},   // ResNet-50 stride-2 3x3 in small
      {64, 12, 10, 32, 5, 5, 1, 2, 1, 1},  // 5x5, pad 2 (asymmetric: bottom 3)
      {64, 11, 13, 48, 3, 3, 1, 2, 2, 1},  // dilation 2
      {48, 13, 9, 24, 3, 3, 2, 2, 2, 1},   // stride 2 with dilation 2 (channel mode: dilation_w 2)
      {100, 12, 11, 40, 3, 3, 2, 2, 2, 1}, // channel mode, C 100: two chunks per tap, stride 2
      {32, 9, 10, 17, 5, 5, 1, 4, 2, 1},   // channel mode, C 32: half of each chunk zero
      {64, 9, 9, 16, 1, 3, 1, 1, 1, 1},    // 1x3
      {64, 10, 7, 16, 3, 1, 2, 1, 1, 1},   // 3x1 stride 2
      {64, 23, 23, 64, 7, 7, 2, 3, 1, 1},  // 7x7 stride 2 (a stem with C 64)
      {256, 7, 7, 80, 3, 3, 1, 1, 1, 1},   // 7x7 output, C 256: 4 chunks per tap
      // rows mode (C < 32): filter rows of S * C bytes, the width stride the pixel stride
      {3, 23, 23, 64, 7, 7, 2, 3, 1, 1},   // the C = 3 stem (21-byte rows)
      {3, 13, 13, 32, 3, 3, 2, 1, 1, 1},   // MobileNet stem (9-byte rows)
      {16, 9, 11, 24, 3, 3, 1, 1, 1, 1},   // 48-byte rows
      {24, 8, 7, 17, 5, 5, 1, 2, 1, 1},    // 120-byte rows: 2 chunks
      {5, 10, 12, 16, 3, 5, 2, 1, 1, 1},   // 3x5 stride 2
      {3, 12, 9, 12, 3, 3, 3, 1, 1, 1},    // stride 3: padded width rounded to 3
      {31, 6, 6, 20, 3, 3, 1, 1, 1, 1},    // C 31: 93-byte rows
  };
  for (const k::ConvKernel* conv : kernels()) {
    uint32_t seed = 500;
    for (const Conv& c : shapes) {
      for (int batch : {1, 3}) {
        Case cs;
        cs.c = c;
        cs.batch = batch;
        check(*conv, cs, seed++);
        cs.out = k::OutputType::kFloat32;
        check(*conv, cs, seed++);
      }
    }
  }
}

// ResNet-50's 3x3 at 56 (stride 1) and 56 -> 28 (stride 2), batch 1.
TEST(AmxConvDirect, ResNetSizes) {
  for (const k::ConvKernel* conv : kernels()) {
    Case cs;
    cs.c = {64, 56, 56, 64, 3, 3, 1, 1, 1, 1};
    cs.residual = true;
    check(*conv, cs, 900);
    cs.c = {128, 56, 56, 32, 3, 3, 2, 1, 1, 1};
    cs.residual = false;
    check(*conv, cs, 901);
    cs.c = {3, 224, 224, 64, 7, 7, 2, 3, 1, 1};  // the stem
    check(*conv, cs, 902);
  }
}

// Space-to-depth (stride-st rows-mode convs where st * st * C <= 64 and it
// takes fewer steps: the C = 3 stems): odd and even windows and sizes, a
// 64-byte window exactly (C 4, 7x7/2), pad 0, stride 3; and the batch in
// groups of images (planes over 512 KiB: a 56 x 56 x 64 layer at batch 3, a
// 160 x 160 stem at batch 7), u8 codes with a pad value on the stem.
TEST(AmxConvDirect, SpaceToDepthAndImageGroups) {
  for (const k::ConvKernel* conv : kernels()) {
    uint32_t seed = 1000;
    const std::vector<Conv> shapes = {
        {3, 24, 21, 64, 7, 7, 2, 3, 1, 1},  // the stem, odd / even sizes
        {3, 9, 30, 20, 7, 7, 2, 3, 1, 1},   // output narrower than a tile row
        {4, 17, 19, 16, 7, 7, 2, 3, 1, 1},  // 4 taps of 64 bytes
        {3, 14, 13, 33, 4, 4, 2, 1, 1, 1},  // even window
        {3, 15, 17, 40, 3, 3, 2, 0, 1, 1},  // pad 0, odd sizes
        {6, 10, 10, 32, 2, 2, 2, 0, 1, 1},  // 2x2/2: one tap
        {2, 16, 11, 12, 5, 5, 3, 2, 1, 1},  // stride 3, 18-byte pixels
    };
    for (const Conv& c : shapes) {
      for (int batch : {1, 2}) {
        Case cs;
        cs.c = c;
        cs.batch = batch;
        cs.residual = batch == 2;
        check(*conv, cs, seed++);
      }
    }
    Case cs;
    cs.c = {64, 56, 56, 16, 3, 3, 1, 1, 1, 1};
    cs.batch = 3;
    check(*conv, cs, seed++);
    cs.c = {3, 160, 160, 16, 7, 7, 2, 3, 1, 1};
    cs.batch = 7;
    cs.residual = true;
    cs.pad_value = -5;
    cs.u8_in = cs.u8_out = true;
    check(*conv, cs, seed++);
  }
}

// Extremes: all -128 inputs and weights, all 127 inputs against 127
// weights, with and without a residual; pad_value != 0.
TEST(AmxConvDirect, ExtremesAndPadValue) {
  for (const k::ConvKernel* conv : kernels()) {
    uint32_t seed = 700;
    for (Fill fill : {Fill::kAllMin, Fill::kAllMax}) {
      for (bool residual : {false, true}) {
        Case cs;
        cs.c = {64, 6, 9, 40, 3, 3, 1, 1, 1, 1};
        cs.fill = fill;
        cs.residual = residual;
        check(*conv, cs, seed++);
      }
    }
    Case cs;
    cs.c = {72, 7, 7, 20, 3, 3, 2, 1, 1, 1};
    cs.pad_value = -37;
    check(*conv, cs, seed++);
  }
}

// u8 codes: input (tdpbusd from -128 * sum(w)), output and residual xors,
// with padding and pad_value.
TEST(AmxConvDirect, U8Codes) {
  for (const k::ConvKernel* conv : kernels()) {
    uint32_t seed = 800;
    for (int mask = 1; mask < 8; ++mask) {
      for (int batch : {1, 3}) {
        Case cs;
        cs.c = {80, 7, 10, 35, 3, 3, 1 + (mask & 1), 1, 1, 1};
        cs.batch = batch;
        cs.residual = true;
        cs.pad_value = static_cast<int8_t>(mask * 11 - 40);
        cs.u8_in = mask & 1;
        cs.u8_out = mask & 2;
        cs.u8_res = mask & 4;
        check(*conv, cs, seed++);
      }
    }
    for (int mask : {1, 7}) {  // rows mode
      Case cs;
      cs.c = {3, 11, 11, 24, 7, 7, 2, 3, 1, 1};
      cs.residual = true;
      cs.pad_value = 9;
      cs.u8_in = mask & 1;
      cs.u8_out = mask & 2;
      cs.u8_res = mask & 4;
      check(*conv, cs, seed++);
    }
    Case cs;
    cs.c = {64, 5, 5, 16, 3, 3, 1, 1, 1, 1};
    cs.u8_in = true;
    cs.out = k::OutputType::kFloat32;
    check(*conv, cs, seed++);
    cs.fill = Fill::kAllMin;
    cs.out = k::OutputType::kInt8;
    check(*conv, cs, seed++);
  }
}

// Clamp bounds other than -128 / 127 on int8 outputs, byte for byte with
// the reference's float clamp then round half to even (half-way bounds,
// lo == hi, bounds past every value), with and without a residual, in the
// u8 codings; scales whose |t| may pass 2^30 (the whole layer, one channel).
// Shapes: 5 x 7 outputs (grid 9 wide: junk columns, 43 grid rows: an odd
// last job), 56-wide rows, the 7x7/2 stem (space-to-depth), K 17 / 40 / 64.
TEST(AmxConvDirect, ClampBoundsEqualReference) {
  const std::vector<Conv> shapes = {{64, 5, 7, 40, 3, 3, 1, 1, 1, 1}, {64, 3, 56, 64, 3, 3, 1, 1, 1, 1},
                                    {128, 6, 6, 17, 3, 3, 1, 1, 1, 1}, {3, 13, 11, 64, 7, 7, 2, 3, 1, 1}};
  const std::vector<std::pair<float, float>> clamps = {{0.0f, 127.0f}, {-0.5f, 127.0f}, {0.5f, 6.5f},
                                                       {2.5f, 3.5f},   {-3.7f, 100.2f}, {-128.0f, -100.5f},
                                                       {5.0f, 5.0f},   {126.6f, 127.0f}};
  for (const k::ConvKernel* conv : kernels()) {
    uint32_t seed = 900;
    for (const Conv& c : shapes) {
      for (int coding = 0; coding < 4; ++coding) {  // all s8, all u8, u8 in / res, u8 out
        Case cs;
        cs.c = c;
        cs.u8_in = cs.u8_res = coding == 1 || coding == 2;
        cs.u8_out = coding == 1 || coding == 3;
        for (const auto& [lo, hi] : clamps) {
          for (bool residual : {false, true}) {
            cs.lo = lo;
            cs.hi = hi;
            cs.residual = residual;
            check(*conv, cs, seed++);
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
        cs.lo = 0.0f;
        cs.hi = 127.0f;
        cs.residual = true;
        cs.scale_mul = 1e9f;
        check(*conv, cs, seed++);
        cs.scale_mul = 1.0f;
        cs.huge_channel = true;
        cs.lo = -3.5f;
        cs.hi = 6.5f;
        check(*conv, cs, seed++);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

// Which convs take the direct path: one group, a window, channel mode or
// (C < 32) rows mode, whose filter rows must be contiguous (dilation_w 1).
TEST(AmxConvDirect, Applies) {
  EXPECT_TRUE(k::x86::amx_direct_applies(make({64, 8, 8, 16, 3, 3, 1, 1, 2, 1})));
  EXPECT_TRUE(k::x86::amx_direct_applies(make({3, 8, 8, 16, 7, 7, 2, 3, 1, 1})));
  EXPECT_FALSE(k::x86::amx_direct_applies(make({3, 8, 8, 16, 3, 3, 1, 1, 2, 1})));  // rows mode, dilation
  EXPECT_FALSE(k::x86::amx_direct_applies(make({64, 8, 8, 16, 1, 1, 1, 0, 1, 1})));  // 1x1
  EXPECT_FALSE(k::x86::amx_direct_applies(make({64, 8, 8, 64, 3, 3, 1, 1, 1, 2})));  // groups
}

// The packed conv's copies for another input size and for a row window
// recompute the planes' geometry.
TEST(AmxConvDirect, WithInputSizeAndRowWindow) {
  for (const k::ConvKernel* conv : kernels()) {
    k::ConvShape s = make({64, 9, 9, 32, 3, 3, 1, 1, 1, 1});
    const std::vector<int8_t> w = random_s8(static_cast<size_t>(s.weight_count()), 41);
    auto packed = conv->pack(s, w.data());
    for (int variant = 0; variant < 2; ++variant) {
      auto copy = variant == 0 ? packed->with_input_size(14, 5) : packed->with_row_window(6, 0, 1);
      const k::ConvShape t = copy->shape();
      const size_t n_out = static_cast<size_t>(2) * t.out_h() * t.out_w() * t.K;
      const std::vector<int8_t> x = random_s8(static_cast<size_t>(2) * t.H * t.W * t.C, 42 + variant);
      SweepEpilogue sweep(t, k::OutputType::kInt8, 43);
      const auto want = run_guarded("ref", n_out, [&](void* y) {
        k::ref::conv2d_s8(t, 2, x.data(), w.data(), sweep.ep, y);
      });
      const std::string what = std::string(conv->name()) + " copy " + x86_twins::describe(t, 2);
      expect_same(what, run_guarded(what, n_out, [&](void* y) { copy->run(2, x.data(), sweep.ep, y); }), want, 1);
    }
  }
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
