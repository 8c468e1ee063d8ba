// The BF16 channel-blocked kernel file (csrc/kernels/x86/avx512bf16/nchw16c_bf16.cc)
// compiled against the AVX-512 emulation header (tests/cpp/CMakeLists.txt:
// namespace x86::emulated::avx512bf16, any x86-64 CPU) and, where the CPU
// has AVX512-BF16, the library's native build of it: both == (bits) the
// reference kernels (kernels/ref/nchw16c_bf16.cc, the contract of
// kernels/abi/nchw16c_bf16.h). Pointwise: C odd / even / one pair, M past a
// block, pixel runs that start inside the plane and leave tails of 1..7,
// one and two output blocks, bias or none, BF16 residual, clip, the 4 x 6
// tiles of C >= 128 (4 + 1 blocks), one-pass calls on planes of 2048+
// pixels (the input prefetched ahead). Depthwise:
// windows 1x1 .. 5x5 and 1x3, strides 1 and 2, padding, dilation 2, widths
// around the 8- and 4-pixel steps, a partial block, residual and clip; 3x3
// stride 1 (two output rows per step) over 1 row, odd row ranges, two
// padding rows, no padding, widths 1 and 3.
// Dense conv (avx512bf16/conv_nchw16c_bf16.cc): 3x3 at strides 1 / 2, the
// strided 1x1, a 7x7 / 2 stem of 3 channels, 2x3 with dilation and uneven
// pads, widths around the 6-pixel tile, 1..4 blocks per tile group, a
// group's last block of 8 live lanes or fewer on the 256-bit VDPBF16PS
// (8, 17, 24, 40, 72 outputs; 25 and 32 not), C odd /
// one pair / several input blocks, row and block ranges, bias or none,
// residual, clip; planes under 16 wide tile across rows; each case again
// with one weight +inf (a padded tap must be skipped, not added as zero
// products); odd-channel stems on rows 16+ wide (channel-tap pairs along
// the kernel row: within a stated bound of the reference, == at the padded
// edge columns, == where not finite). Max pool: 3x3 / 2 pad 1 (ResNet's), 2x2, dilation, a window
// with no tap inside (-inf, padded lanes still +0), partial blocks.
// A stem from the float image (ConvBf16x16c::xf): == the same call over the
// entry's conversion of it, 1-4 channels, row ranges inside the image.
// Entry conversion: 1..16 planes, pixel counts around the 16-pixel step,
// float32 with zeros of both signs, denormals, infinities and a NaN, and
// bfloat16 planes of any bits (copied).
// Guard values after every output; the padded lanes must be +0.
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/nchw16c_bf16.h"
#include "kernels/ref/bf16.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace emulated {
namespace avx512bf16 {
void pointwise_bf16x16c(const PointwiseBf16x16c& a);  // avx512bf16/nchw16c_bf16.cc, emulated
void depthwise_bf16x16c(const DepthwiseBf16x16c& a);
void block_mean_bf16(const uint16_t* x, int64_t blocks, int64_t P, float* means);
void conv_bf16x16c(const ConvBf16x16c& a);  // avx512bf16/conv_nchw16c_bf16.cc, emulated
void maxpool_bf16x16c(const MaxPoolBf16x16c& a);
void to_blocked_bf16(const float* xf, const uint16_t* xh, int64_t P, int64_t cw, uint16_t* y);
}  // namespace avx512bf16
}  // namespace emulated
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

namespace k = int8rt::kernels;

namespace {

constexpr uint16_t kGuard16 = 0xBEEF;

struct Tiers {
  std::vector<const k::Nchw16cBf16Kernel*> native;
  k::Nchw16cBf16Kernel emulated{"nchw16c_bf16_emulated", k::Isa::kRef, false,
                                k::x86::emulated::avx512bf16::pointwise_bf16x16c,
                                k::x86::emulated::avx512bf16::depthwise_bf16x16c,
                                k::x86::emulated::avx512bf16::block_mean_bf16,
                                k::x86::emulated::avx512bf16::conv_bf16x16c,
                                k::x86::emulated::avx512bf16::maxpool_bf16x16c,
                                k::x86::emulated::avx512bf16::to_blocked_bf16};
  std::vector<const k::Nchw16cBf16Kernel*> all() const {
    std::vector<const k::Nchw16cBf16Kernel*> v = {&emulated};
    v.insert(v.end(), native.begin(), native.end());
    return v;
  }
};

Tiers tiers() {
  Tiers t;
  for (const k::Nchw16cBf16Kernel* c : k::candidates<k::Nchw16cBf16Kernel>()) {
    if (std::string(c->name()) == "nchw16c_bf16_avx512bf16" && c->supports().empty()) t.native.push_back(c);
  }
  std::printf("BF16 channel-blocked: emulated twin ran; native %s\n",
              t.native.empty() ? "not run (no AVX512-BF16)" : "ran");
  return t;
}

// BF16 values of a few magnitudes, +0 past `real` lanes of each pixel.
std::vector<uint16_t> blocked(std::mt19937& gen, int64_t lines, int64_t real_lanes, int64_t slack) {
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<uint16_t> v(static_cast<size_t>(lines * 16 + slack), kGuard16);
  for (int64_t i = 0; i < lines * 16; ++i) v[i] = i % 16 < real_lanes ? k::bf16::from_f32(d(gen)) : 0;
  return v;
}

// A dense conv's weights as the blocked kernels read them, [ceil(M / 16)]
// [taps][ceil(C / 2)][16 outputs][2 channels] BF16 drawn from `d` (+0 past M
// and C); where `inf_weight` (and M > 1), +inf at output 1, channel 0, tap 0.
std::vector<uint16_t> dense_weights(std::mt19937& gen, std::normal_distribution<float>& d, int64_t M, int64_t C,
                                    int64_t taps, bool inf_weight) {
  const int64_t QP = (C + 1) / 2;
  std::vector<uint16_t> w(static_cast<size_t>((M + 15) / 16 * taps * QP * 32), 0);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t ch = 0; ch < C; ++ch) {
      for (int64_t tap = 0; tap < taps; ++tap) {
        w[(((m / 16 * taps + tap) * QP + ch / 2) * 16 + m % 16) * 2 + ch % 2] = k::bf16::from_f32(d(gen));
      }
    }
  }
  if (inf_weight && M > 1) w[2] = 0x7F80;  // [mb 0][tap 0][q 0][l 1][i 0]: +inf
  return w;
}

TEST(AvxBf16Emulated, BlockedPointwiseEqualsTheReference) {
  const Tiers t = tiers();
  std::mt19937 gen(77);
  std::normal_distribution<float> d(0.f, 1.f);
  struct Case { int64_t C, M, P, p0, p1, mb0, mb1; bool bias, residual, clip; };
  const std::vector<Case> cases = {{19, 37, 23, 0, 23, 0, 3, true, false, true},  {32, 16, 49, 0, 49, 0, 1, true, true, false},
                                   {2, 40, 17, 3, 17, 1, 3, false, true, true},  {45, 21, 9, 1, 8, 0, 2, true, true, true},
                                   {1, 5, 13, 0, 13, 0, 1, false, false, false}, {64, 48, 31, 5, 30, 1, 3, true, false, true},
                                   // 4 x 6 tiles (C >= 128): 4 + 1 blocks, a pair past the last full block, tails
                                   {160, 70, 37, 0, 37, 0, 5, true, true, true},  {130, 64, 13, 2, 13, 0, 4, false, false, true},
                                   // one-pass calls on planes of 2048+ pixels (input prefetched ahead)
                                   {24, 16, 2100, 5, 2100, 0, 1, true, true, true}, {40, 40, 2049, 0, 2049, 1, 3, true, false, true}};
  for (const Case& c : cases) {
    const int64_t CB = (c.C + 15) / 16, MB = (c.M + 15) / 16, QP = (c.C + 1) / 2;
    const std::vector<uint16_t> x = blocked(gen, CB * c.P, 16, 0);
    std::vector<uint16_t> x_real = x;  // lanes past C of the last block +0
    for (int64_t p = 0; p < c.P; ++p) {
      for (int64_t l = c.C - (CB - 1) * 16; l < 16; ++l) x_real[((CB - 1) * c.P + p) * 16 + l] = 0;
    }
    std::vector<uint16_t> w(static_cast<size_t>(MB * QP * 32), 0);
    for (int64_t m = 0; m < c.M; ++m) {
      for (int64_t ch = 0; ch < c.C; ++ch) w[((m / 16 * QP + ch / 2) * 16 + m % 16) * 2 + ch % 2] = k::bf16::from_f32(d(gen));
    }
    std::vector<float> bias(static_cast<size_t>(MB * 16), 0.f);
    for (int64_t m = 0; m < c.M; ++m) bias[m] = d(gen);
    const std::vector<uint16_t> res = blocked(gen, MB * c.P, c.M % 16 ? 16 : 16, 0);
    auto run = [&](k::PointwiseBf16x16cFn fn) {
      std::vector<uint16_t> y(static_cast<size_t>(MB * c.P * 16 + 19), kGuard16);
      k::PointwiseBf16x16c a;
      a.x = x_real.data(); a.w = w.data(); a.bias = c.bias ? bias.data() : nullptr;
      a.residual = c.residual ? res.data() : nullptr; a.y = y.data();
      a.C = c.C; a.M = c.M; a.P = c.P; a.mb0 = c.mb0; a.mb1 = c.mb1; a.p0 = c.p0; a.p1 = c.p1;
      a.clip = c.clip; a.lo = -0.5f; a.hi = 1.5f;
      fn(a);
      return y;
    };
    const std::vector<uint16_t> want = run(k::ref::pointwise_bf16x16c);
    for (int64_t mb = c.mb0; mb < c.mb1; ++mb) {
      for (int64_t p = c.p0; p < c.p1; ++p) {
        for (int64_t l = mb * 16 + 16 > c.M ? c.M - mb * 16 : 16; l < 16; ++l) {
          ASSERT_EQ(want[(mb * c.P + p) * 16 + l], 0) << "reference padded lane";
        }
      }
    }
    for (const k::Nchw16cBf16Kernel* kern : t.all()) {
      EXPECT_EQ(run(kern->pointwise), want) << kern->name() << " C" << c.C << " M" << c.M << " P" << c.P;
    }
  }
}

TEST(AvxBf16Emulated, BlockedDepthwiseAndMeanEqualTheReference) {
  const Tiers t = tiers();
  std::mt19937 gen(78);
  std::normal_distribution<float> d(0.f, 1.f);
  struct Case { int64_t H, W, kh, kw, sh, sw, ph, pw, dh, dw, lanes; bool residual, clip; };
  const std::vector<Case> cases = {
      {7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 16, false, true},   {14, 30, 3, 3, 1, 1, 1, 1, 1, 1, 5, true, true},
      {15, 31, 3, 3, 2, 2, 1, 1, 1, 1, 16, false, false}, {9, 21, 5, 5, 1, 1, 2, 2, 1, 1, 11, true, false},
      {8, 13, 1, 1, 1, 1, 0, 0, 1, 1, 16, false, true},  {6, 25, 1, 3, 1, 1, 0, 0, 1, 1, 16, true, true},
      {11, 19, 3, 3, 1, 2, 2, 2, 2, 2, 3, false, true},  {4, 12, 3, 3, 2, 1, 0, 1, 1, 1, 16, true, false},
      // 3x3 stride 1 (the two-row step): one row, no padding, two padding rows and no padding columns, widths 1, 3, 9
      {1, 12, 3, 3, 1, 1, 1, 1, 1, 1, 16, true, true},   {5, 17, 3, 3, 1, 1, 0, 0, 1, 1, 7, false, true},
      {6, 9, 3, 3, 1, 1, 2, 0, 1, 1, 16, true, false},   {4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 16, false, true},
      {3, 1, 3, 3, 1, 1, 1, 1, 1, 1, 2, true, true},
      // 5-wide windows (the row walk that widens each pixel once), strides 1 and 2, narrow and edge-only planes
      {12, 40, 5, 5, 1, 1, 2, 2, 1, 1, 9, false, true},  {19, 23, 5, 5, 2, 2, 2, 2, 1, 1, 16, true, false},
      {5, 6, 5, 5, 2, 2, 2, 2, 1, 1, 16, false, true},   {7, 4, 5, 5, 1, 1, 2, 2, 1, 1, 3, true, true},
      {8, 29, 3, 5, 1, 2, 1, 0, 1, 1, 16, false, false},
      // 5-wide windows of column stride 1 from the ring of widened rows (depthwise_nchw16c_bf16_ring.cc): PP-OCR
      // rec's 5 x 5 / (2, 1), its 3-row plane, 7 rows by stride 3, a 1 x 5; rows of 7 outputs or fewer and column
      // stride 2 (the old walk): windows taller than the plane, one column, no column padding
      {12, 80, 5, 5, 2, 1, 2, 2, 1, 1, 16, true, true},  {3, 80, 5, 5, 1, 1, 2, 2, 1, 1, 12, false, true},
      {2, 9, 5, 5, 1, 1, 2, 2, 1, 1, 16, true, false},   {6, 1, 5, 5, 1, 1, 2, 2, 1, 1, 16, false, true},
      {7, 17, 5, 5, 1, 2, 2, 0, 1, 1, 16, true, true},   {17, 11, 7, 5, 3, 1, 3, 2, 1, 1, 8, false, false},
      {9, 33, 1, 5, 1, 1, 0, 2, 1, 1, 16, true, true}};
  for (const Case& c : cases) {
    const int64_t oh = (c.H + 2 * c.ph - (c.kh - 1) * c.dh - 1) / c.sh + 1;
    const int64_t ow = (c.W + 2 * c.pw - (c.kw - 1) * c.dw - 1) / c.sw + 1;
    const std::vector<uint16_t> x = blocked(gen, c.H * c.W, c.lanes, 0);
    const std::vector<uint16_t> res = blocked(gen, oh * ow, c.lanes, 0);
    std::vector<float> w(static_cast<size_t>(c.kh * c.kw * 16), 0.f), bias(16, 0.f);
    for (int64_t i = 0; i < c.kh * c.kw * 16; ++i) w[i] = i % 16 < c.lanes ? k::bf16::to_f32(k::bf16::from_f32(d(gen))) : 0.f;
    for (int64_t l = 0; l < c.lanes; ++l) bias[l] = d(gen);
    auto run = [&](k::DepthwiseBf16x16cFn fn, int64_t oy0, int64_t oy1) {
      std::vector<uint16_t> y(static_cast<size_t>(oh * ow * 16 + 23), kGuard16);
      k::DepthwiseBf16x16c a;
      a.x = x.data(); a.w = w.data(); a.bias = bias.data(); a.residual = c.residual ? res.data() : nullptr;
      a.y = y.data(); a.lanes = c.lanes; a.H = c.H; a.W = c.W; a.oh = oh; a.ow = ow; a.kh = c.kh; a.kw = c.kw;
      a.sh = c.sh; a.sw = c.sw; a.dh = c.dh; a.dw = c.dw; a.ph = c.ph; a.pw = c.pw; a.oy0 = oy0; a.oy1 = oy1;
      a.clip = c.clip; a.lo = -0.25f; a.hi = 2.0f;
      fn(a);
      return y;
    };
    const std::vector<uint16_t> want = run(k::ref::depthwise_bf16x16c, 0, oh);
    const std::vector<uint16_t> want_part = run(k::ref::depthwise_bf16x16c, oh / 3, oh - oh / 4);
    const std::vector<uint16_t> want_top = run(k::ref::depthwise_bf16x16c, 0, (oh + 1) / 2);
    for (const k::Nchw16cBf16Kernel* kern : t.all()) {
      // The top half first: its call follows the last case's (another geometry) on this thread, so a scratch
      // row the kernel must clear (depthwise_nchw16c_bf16_ring.cc's row of +0, read above the image only)
      // still holds that call's data.
      EXPECT_EQ(run(kern->depthwise, 0, (oh + 1) / 2), want_top) << kern->name() << " top rows";
      EXPECT_EQ(run(kern->depthwise, oh / 3, oh - oh / 4), want_part) << kern->name() << " rows";
      EXPECT_EQ(run(kern->depthwise, 0, oh), want) << kern->name() << " H" << c.H << " W" << c.W << " k" << c.kh
                                                   << "x" << c.kw << " s" << c.sh << "," << c.sw;
    }
    std::vector<float> m_want(32, -1.f), m_got(32, -1.f);
    k::ref::block_mean_bf16(x.data(), 1, c.H * c.W, m_want.data());
    for (const k::Nchw16cBf16Kernel* kern : t.all()) {
      std::fill(m_got.begin(), m_got.end(), -1.f);
      kern->block_mean(x.data(), 1, c.H * c.W, m_got.data());
      EXPECT_EQ(m_got, m_want) << kern->name() << " mean";
    }
  }
}

int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d) {
  return (in + pb + pe - (k - 1) * d - 1) / s + 1;
}

TEST(AvxBf16Emulated, BlockedDenseConvEqualsTheReference) {
  const Tiers t = tiers();
  std::mt19937 gen(79);
  std::normal_distribution<float> d(0.f, 1.f);
  struct Case { int64_t C, M, H, W, kh, kw, sh, sw, ph, pw, pe, dh, dw, oy0, oy_end, mb0, mb1; bool bias, residual, clip; };
  // oy_end: rows left out at the end; mb1 = 0: every block
  const std::vector<Case> cases = {
      {32, 64, 9, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false, true},
      {19, 37, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, true, true},
      {48, 80, 11, 13, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 5, true, false, false},
      {64, 40, 12, 12, 1, 1, 2, 2, 0, 0, 0, 1, 1, 0, 0, 0, 0, false, false, false},
      {3, 64, 23, 29, 7, 7, 2, 2, 3, 3, 3, 1, 1, 0, 0, 0, 0, true, false, true},
      {1, 5, 6, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, true, false},
      {20, 33, 10, 19, 2, 3, 1, 2, 0, 1, 2, 2, 1, 2, 1, 0, 0, true, true, true},
      {16, 16, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false, true},
      {34, 112, 8, 31, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, true, false},
      // narrow planes by rows and columns (inner row tiles, edge columns down the rows):
      // 14 x 14 (inner 6 + 6) over rows 2 .. 10, a 3-block group last; 3x3/2 to 7 x 7
      // (only the left column padded) over blocks 1 .. 3; only the right column
      // padded; dilation 2 (two edge columns each side); column tiles of 2 and 1 rows
      {40, 33, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2, 3, 0, 0, true, true, true},
      {40, 33, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 5, 7, 0, 0, true, true, true},
      {21, 50, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 0, 0, 0, true, false, true},
      {36, 70, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 0, 1, 4, true, false, true},
      {24, 40, 9, 7, 3, 3, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, true, true, false},
      {17, 20, 9, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2, 1, 0, 0, 0, false, true, true},
      // odd-channel stems on output rows 16+ wide: channel-tap pairs along the kernel row
      // (bounded, below): ResNet's 7x7 / 2 of 3 channels over rows 1 .. oh - 2, widths
      // around the 6-pixel tile (23 / 16 / 17 outputs); one channel 7x7 / 1; 3 channels
      // 5x5 / (2, 1) with 3 blocks (the last partial), residual; 1..3 blocks from block 1
      {3, 64, 21, 45, 7, 7, 2, 2, 3, 3, 3, 1, 1, 1, 2, 0, 0, true, false, true},
      {3, 64, 9, 31, 7, 7, 2, 2, 3, 3, 2, 1, 1, 0, 0, 0, 0, false, true, false},
      {3, 16, 8, 33, 7, 7, 2, 2, 3, 3, 3, 1, 1, 0, 0, 0, 0, true, false, false},
      {1, 20, 9, 40, 7, 7, 1, 1, 3, 3, 3, 1, 1, 0, 0, 0, 0, true, true, true},
      {3, 37, 12, 35, 5, 5, 2, 1, 2, 2, 2, 1, 1, 2, 0, 0, 0, true, true, false},
      {3, 64, 10, 40, 7, 7, 2, 2, 3, 3, 3, 1, 1, 0, 0, 1, 4, true, false, true},
      // tile groups whose last block has 8 live lanes or fewer (its products on lanes 0-7):
      // 24 outputs from 6 input blocks on rows of 41; 17 (one lane) over rows 1 .. oh - 2,
      // 27 wide; 32 (two full blocks) and 25 (9 lanes: all 16 computed); 24 at stride 2; 40
      // over blocks 1 .. 2 at stride 2; 24 on a 9 x 9 plane (tiles across rows) and on
      // 14 x 14 (inner row tiles, edge columns); 8 outputs (one half block); 72 (4 + a half
      // block); the strided 1x1 to 24; dilation 2; a 3-channel stem to 24 (its edge pixels)
      {96, 24, 7, 41, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false, true},
      {40, 17, 6, 27, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, true, true, false},
      {33, 32, 5, 26, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, true, true},
      {30, 25, 7, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false, true},
      {24, 24, 11, 31, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false, true},
      {20, 40, 13, 50, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 0, 1, 3, true, true, true},
      {16, 24, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, true, false},
      {48, 24, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 2, 1, 0, 0, false, false, true},
      {8, 8, 6, 25, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false, false},
      {32, 72, 5, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, true, true},
      {64, 24, 12, 30, 1, 1, 2, 2, 0, 0, 0, 1, 1, 0, 0, 0, 0, true, false, false},
      {24, 20, 10, 30, 3, 3, 1, 1, 2, 2, 2, 2, 2, 1, 0, 0, 0, false, true, true},
      {3, 24, 12, 40, 7, 7, 2, 2, 3, 3, 3, 1, 1, 0, 0, 0, 0, true, false, true}};
  // inf_weight: weight (m 1, c 0, tap 0) +inf, so a kernel that adds a
  // padded tap's products (0 * inf = NaN) where the reference skips the tap
  // differs at the padded edge.
  for (const bool inf_weight : {false, true}) for (const Case& c : cases) {
    const int64_t CB = (c.C + 15) / 16, MB = (c.M + 15) / 16, QP = (c.C + 1) / 2, taps = c.kh * c.kw;
    const int64_t oh = out_dim(c.H, c.kh, c.sh, c.ph, c.pe, c.dh), ow = out_dim(c.W, c.kw, c.sw, c.pw, c.pe, c.dw);
    std::vector<uint16_t> x = blocked(gen, CB * c.H * c.W, 16, 0);
    for (int64_t p = 0; p < c.H * c.W; ++p) {  // lanes past C of the last block +0
      for (int64_t l = c.C - (CB - 1) * 16; l < 16; ++l) x[((CB - 1) * c.H * c.W + p) * 16 + l] = 0;
    }
    // The kernel's row-pair rule (conv_nchw16c_bf16.cc, row_pairs): C odd, one
    // block, no column dilation, rows 16+ wide, the row's pairs x0.8 or fewer.
    const bool paired = c.C % 2 == 1 && c.C < 16 && c.dw == 1 && ow >= 16 &&
                        (c.kw * c.C + 1) / 2 * 5 <= c.kw * QP * 4;
    if (paired) {  // inputs of 2^-12 .. 2^12 times N(0, 1): sums that round (order: the test below)
      std::uniform_int_distribution<int> e(-12, 12);
      for (uint16_t& v : x) v = k::bf16::from_f32(std::ldexp(k::bf16::to_f32(v), e(gen)));
    }
    const std::vector<uint16_t> w = dense_weights(gen, d, c.M, c.C, taps, inf_weight);
    std::vector<float> bias(static_cast<size_t>(MB * 16), 0.f);
    for (int64_t m = 0; m < c.M; ++m) bias[m] = d(gen);
    const std::vector<uint16_t> res = blocked(gen, MB * oh * ow, 16, 0);
    const int64_t mb1 = c.mb1 ? c.mb1 : MB;
    auto run = [&](k::ConvBf16x16cFn fn, uint16_t guard = kGuard16) {
      std::vector<uint16_t> y(static_cast<size_t>(MB * oh * ow * 16 + 21), guard);
      k::ConvBf16x16c a;
      a.x = x.data(); a.w = w.data(); a.bias = c.bias ? bias.data() : nullptr;
      a.residual = c.residual ? res.data() : nullptr; a.y = y.data();
      a.C = c.C; a.M = c.M; a.H = c.H; a.W = c.W; a.oh = oh; a.ow = ow; a.kh = c.kh; a.kw = c.kw;
      a.sh = c.sh; a.sw = c.sw; a.ph = c.ph; a.pw = c.pw; a.dh = c.dh; a.dw = c.dw;
      a.oy0 = c.oy0; a.oy1 = oh - c.oy_end; a.mb0 = c.mb0; a.mb1 = mb1;
      a.clip = c.clip; a.lo = -0.5f; a.hi = 1.5f;
      fn(a);
      return y;
    };
    const std::vector<uint16_t> want = run(k::ref::conv_bf16x16c);
    const std::vector<uint16_t> nan_guarded = run(k::ref::conv_bf16x16c, 0xFFFF);  // no output is this NaN
    size_t written = 0;
    for (int64_t mb = c.mb0; mb < mb1; ++mb) {
      for (int64_t p = c.oy0 * ow; p < (oh - c.oy_end) * ow; ++p) {
        for (int64_t l = 0; l < 16; ++l) {
          const uint16_t v = want[(mb * oh * ow + p) * 16 + l];
          if (mb * 16 + l >= c.M) {
            ASSERT_EQ(v, 0) << "reference padded lane";
          }
          written += nan_guarded[(mb * oh * ow + p) * 16 + l] != 0xFFFF;
        }
      }
    }
    ASSERT_EQ(written, static_cast<size_t>((mb1 - c.mb0) * (oh - c.oy_end - c.oy0) * ow * 16));
    for (const k::Nchw16cBf16Kernel* kern : t.all()) {
      const std::string what = std::string(kern->name()) + " C" + std::to_string(c.C) + " M" +
                               std::to_string(c.M) + " " + std::to_string(c.H) + "x" + std::to_string(c.W) + " k" +
                               std::to_string(c.kh) + "x" + std::to_string(c.kw) + (inf_weight ? " inf weight" : "");
      const std::vector<uint16_t> got = run(kern->conv);
      if (!paired) {
        EXPECT_EQ(got, want) << what;
        continue;
      }
      // Row pairs: the reference's BF16 products summed in another order.
      // Per output, S = sum |x w| over its K = 2 QP kh kw products (taps
      // inside), |bias|, |residual|: the FP32 values before rounding differ
      // by at most 2 (K + 2) 2^-24 (S + |bias| + |residual|) (each order
      // within (K + 1) 2^-24 of the exact sum), the BF16 roundings by half
      // a BF16 ulp each (<= 2^-8 |y|). Outputs whose taps reach a padded
      // column stay on the tap-major tiles: ==. Non-finite outputs: ==.
      const int64_t K = 2 * QP * taps;
      const int64_t cx0 = (c.pw + c.sw - 1) / c.sw, cx1 = std::min(ow, (c.W - 1 + c.pw - (c.kw - 1)) / c.sw + 1);
      int64_t differ = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        const int64_t line = static_cast<int64_t>(i) / 16, l = static_cast<int64_t>(i) % 16;
        const int64_t mb = line / (oh * ow), p = line % (oh * ow), oy = p / ow, ox = p % ow, m = mb * 16 + l;
        const bool out = i >= static_cast<size_t>(MB * oh * ow * 16) || mb < c.mb0 || mb >= mb1 || oy < c.oy0 ||
                         oy >= oh - c.oy_end || m >= c.M;
        const float g = k::bf16::to_f32(got[i]), r = k::bf16::to_f32(want[i]);
        if (out || ox < cx0 || ox >= cx1 || !std::isfinite(g) || !std::isfinite(r)) {
          ASSERT_EQ(got[i], want[i]) << what << " index " << i << (out ? " (not written / padded lane)" : " (edge)");
          continue;
        }
        double S = (c.bias ? std::fabs(bias[m]) : 0.0) + (c.residual ? std::fabs(k::bf16::to_f32(res[i])) : 0.0);
        for (int64_t ky = 0; ky < c.kh; ++ky) {
          const int64_t iy = oy * c.sh - c.ph + ky * c.dh;
          if (iy < 0 || iy >= c.H) continue;
          for (int64_t kx = 0; kx < c.kw; ++kx) {
            const int64_t ix = ox * c.sw - c.pw + kx;
            for (int64_t ch = 0; ch < c.C; ++ch) {
              S += std::fabs(static_cast<double>(k::bf16::to_f32(x[(iy * c.W + ix) * 16 + ch])) *
                             k::bf16::to_f32(w[(((mb * taps + ky * c.kw + kx) * QP + ch / 2) * 16 + l) * 2 + ch % 2]));
            }
          }
        }
        const double tol = 2.0 * (K + 2) * std::ldexp(S, -24) + std::ldexp(std::fabs(g) + std::fabs(r), -8);
        ASSERT_LE(std::fabs(static_cast<double>(g) - r), tol) << what << " index " << i << " oy " << oy << " ox "
                                                              << ox << " m " << m << " got " << g << " ref " << r;
        differ += got[i] != want[i];
      }
      std::printf("%s: %lld of %lld outputs differ from the reference's order\n", what.c_str(),
                  static_cast<long long>(differ), static_cast<long long>((mb1 - c.mb0) * oh * ow * 16));
    }
  }
}

// The row-pair order itself: a 1x7 window of 3 channels over x = 1 whose
// products are, in the reference's order (per tap c1, c0, c2), [0, 0, 2^24,
// 1, 1, -2^24, 0 ...] -> 2^24 + 1 + 1 rounds to 2^24 twice -> 0; in the
// row-pair order (pairs (c0@0, c1@0), (c2@0, c0@1), (c1@1, c2@1), odd
// element first) 1 + 2^24 -> 2^24, -2^24 -> 0, + 1 -> 1.
TEST(AvxBf16Emulated, BlockedStemSumsAlongTheKernelRow) {
  const Tiers t = tiers();
  const int64_t W = 40, ow = W - 6, QP = 2, taps = 7;
  std::vector<uint16_t> x(static_cast<size_t>(W * 16), 0);
  for (int64_t p = 0; p < W; ++p) {
    for (int64_t c = 0; c < 3; ++c) x[p * 16 + c] = k::bf16::from_f32(1.f);
  }
  std::vector<uint16_t> w(static_cast<size_t>(taps * QP * 32), 0);
  auto set = [&](int64_t tap, int64_t c, float v) {
    for (int64_t l = 0; l < 16; ++l) w[((tap * QP + c / 2) * 16 + l) * 2 + c % 2] = k::bf16::from_f32(v);
  };
  set(0, 2, 16777216.f);   // c2 @ kx 0: 2^24
  set(1, 0, 1.f);          // c0 @ kx 1
  set(1, 1, 1.f);          // c1 @ kx 1
  set(1, 2, -16777216.f);  // c2 @ kx 1
  auto run = [&](k::ConvBf16x16cFn fn) {
    std::vector<uint16_t> y(static_cast<size_t>(ow * 16 + 5), kGuard16);
    k::ConvBf16x16c a;
    a.x = x.data(); a.w = w.data(); a.y = y.data();
    a.C = 3; a.M = 16; a.H = 1; a.W = W; a.oh = 1; a.ow = ow; a.kh = 1; a.kw = 7;
    a.oy0 = 0; a.oy1 = 1; a.mb0 = 0; a.mb1 = 1;
    fn(a);
    return y;
  };
  const std::vector<uint16_t> want = run(k::ref::conv_bf16x16c);
  ASSERT_EQ(want[0], 0) << "the reference's order";
  for (const k::Nchw16cBf16Kernel* kern : t.all()) {
    const std::vector<uint16_t> y = run(kern->conv);
    for (int64_t i = 0; i < ow * 16; ++i) ASSERT_EQ(y[i], k::bf16::from_f32(1.f)) << kern->name() << " at " << i;
    for (int64_t i = ow * 16; i < ow * 16 + 5; ++i) ASSERT_EQ(y[i], kGuard16) << kern->name() << " guard";
  }
}

TEST(AvxBf16Emulated, BlockedMaxPoolEqualsTheReference) {
  const Tiers t = tiers();
  std::mt19937 gen(80);
  struct Case { int64_t H, W, kh, kw, sh, sw, ph, pw, dh, dw, lanes; };
  const std::vector<Case> cases = {{112, 112, 3, 3, 2, 2, 1, 1, 1, 1, 16}, {9, 13, 3, 3, 2, 2, 1, 1, 1, 1, 5},
                                   {8, 10, 2, 2, 2, 2, 0, 0, 1, 1, 16},    {11, 7, 3, 3, 1, 1, 2, 2, 2, 2, 9},
                                   {3, 4, 2, 2, 3, 3, 2, 2, 1, 1, 3}};  // the last: windows with no tap inside
  for (const Case& c : cases) {
    const int64_t oh = out_dim(c.H, c.kh, c.sh, c.ph, c.ph, c.dh), ow = out_dim(c.W, c.kw, c.sw, c.pw, c.pw, c.dw);
    const std::vector<uint16_t> x = blocked(gen, c.H * c.W, c.lanes, 0);
    auto run = [&](k::MaxPoolBf16x16cFn fn) {
      std::vector<uint16_t> y(static_cast<size_t>(oh * ow * 16 + 17), kGuard16);
      k::MaxPoolBf16x16c a;
      a.x = x.data(); a.y = y.data(); a.lanes = c.lanes; a.H = c.H; a.W = c.W; a.oh = oh; a.ow = ow;
      a.kh = c.kh; a.kw = c.kw; a.sh = c.sh; a.sw = c.sw; a.ph = c.ph; a.pw = c.pw; a.dh = c.dh; a.dw = c.dw;
      a.oy0 = 0; a.oy1 = oh;
      fn(a);
      return y;
    };
    const std::vector<uint16_t> want = run(k::ref::maxpool_bf16x16c);
    for (int64_t p = 0; p < oh * ow; ++p) {
      for (int64_t l = c.lanes; l < 16; ++l) ASSERT_EQ(want[p * 16 + l], 0) << "reference padded lane";
    }
    for (const k::Nchw16cBf16Kernel* kern : t.all()) {
      EXPECT_EQ(run(kern->maxpool), want) << kern->name() << " " << c.H << "x" << c.W << " k" << c.kh << "x" << c.kw;
    }
  }
}

TEST(AvxBf16Emulated, BlockedEntryConversionEqualsTheReference) {
  const Tiers t = tiers();
  std::mt19937 gen(81);
  std::normal_distribution<float> d(0.f, 1.f);
  std::uniform_int_distribution<int> bits(0, 0xFFFF);
  const float specials[] = {0.f, -0.f, 1e-40f, -3e-39f, 1.f / 0.f, -1.f / 0.f, std::nanf(""), 65504.f, 1.00390625f};
  for (const int64_t P : {1, 7, 15, 16, 17, 49, 100}) {
    for (const int64_t cw : {1, 2, 3, 8, 15, 16}) {
      std::vector<float> xf(static_cast<size_t>(cw * P));
      std::vector<uint16_t> xh(xf.size());
      for (size_t i = 0; i < xf.size(); ++i) {
        xf[i] = i % 7 == 3 ? specials[i / 7 % 9] : d(gen);
        xh[i] = static_cast<uint16_t>(bits(gen));  // any bits: copied as they are
      }
      for (const bool f32 : {true, false}) {
        auto run = [&](k::ToBlockedBf16Fn fn) {
          std::vector<uint16_t> y(static_cast<size_t>(P * 16 + 13), kGuard16);
          fn(f32 ? xf.data() : nullptr, f32 ? nullptr : xh.data(), P, cw, y.data());
          return y;
        };
        const std::vector<uint16_t> want = run(k::ref::to_blocked_bf16);
        ASSERT_EQ(want[P * 16], kGuard16);
        for (const k::Nchw16cBf16Kernel* kern : t.all()) {
          EXPECT_EQ(run(kern->to_blocked), want) << kern->name() << " P" << P << " cw" << cw << (f32 ? " f32" : " bf16");
        }
      }
    }
  }
}


// A stem reading the float image (ConvBf16x16c::xf, the family's
// conv_reads_f32; avx512bf16/conv_stem_f32_bf16.cc): the same bits as the
// same call over the region entry's conversion of the image
// (ref::to_blocked_bf16), for tap-row windows of 1-4 channels: MobileNet's
// 3x3 / 2 and ResNet's 7x7 / 2 of 3 channels (the row-pair order: rows 16+
// wide), 1, 2 and 4 channels, widths not a multiple of 16, pads on either
// side, calls over row ranges that start and end inside the image (the
// scratch holds only the rows they read) or past its last row, block
// ranges, bias, residual, clip; values with NaN, infinities, denormals,
// zeros of both signs and rounding ties among them, one weight +inf (a
// padded tap skipped, not added). Guard values after every output.
TEST(AvxBf16Emulated, BlockedStemFromTheFloatImageEqualsItsBlockedConversion) {
  const Tiers t = tiers();
  for (const k::Nchw16cBf16Kernel* kern : t.native) EXPECT_TRUE(kern->conv_reads_f32) << kern->name();
  std::mt19937 gen(268);
  std::normal_distribution<float> d(0.f, 1.f);
  const float specials[] = {0.f, -0.f, 1e-40f, -3e-39f, 65504.f, 1.00390625f};  // 1.00390625: a rounding tie
  const float nonfinite[] = {1.f / 0.f, -1.f / 0.f, std::nanf("")};
  struct Case { int64_t C, M, H, W, kh, kw, sh, sw, ph, pw, pe, oy0, oy_end, mb0, mb1; bool bias, residual, clip; };
  const std::vector<Case> cases = {
      {3, 16, 34, 37, 3, 3, 2, 2, 1, 1, 1, 0, 0, 0, 0, true, false, true},    // MobileNetV3's stem
      {3, 32, 33, 40, 3, 3, 2, 2, 1, 1, 1, 3, 5, 0, 0, true, true, false},    // rows 3 .. oh - 6
      {3, 64, 23, 45, 7, 7, 2, 2, 3, 3, 3, 0, 0, 0, 0, true, false, true},    // ResNet's (row pairs)
      {3, 64, 29, 45, 7, 7, 2, 2, 3, 3, 3, 4, 2, 1, 3, false, true, true},    // row pairs, rows and blocks
      {1, 16, 9, 21, 3, 3, 1, 1, 1, 1, 1, 2, 0, 0, 0, true, false, false},
      {2, 17, 7, 19, 5, 5, 1, 2, 2, 2, 2, 1, 1, 0, 0, true, true, true},
      {4, 20, 6, 18, 3, 4, 1, 1, 1, 1, 2, 0, 1, 0, 0, false, false, true},
      {3, 24, 8, 50, 3, 3, 1, 1, 0, 0, 0, 2, 1, 0, 0, true, false, false},   // no padding
      {3, 48, 4, 5, 7, 7, 2, 2, 3, 3, 3, 0, 0, 0, 0, true, true, false}};    // an image under one window
  for (const bool inf_weight : {false, true}) for (const Case& c : cases) {
    ASSERT_TRUE(k::bf16_tap_row_window(c.C, c.kw, 1) && c.C <= k::kBf16MaxF32Channels);
    const int64_t MB = (c.M + 15) / 16, taps = c.kh * c.kw;
    const int64_t oh = out_dim(c.H, c.kh, c.sh, c.ph, c.pe, 1), ow = out_dim(c.W, c.kw, c.sw, c.pw, c.pe, 1);
    std::vector<float> xf(static_cast<size_t>(c.C * c.H * c.W));
    // (1 value in 23 special, 1 in 401 not finite: most windows stay finite)
    for (size_t i = 0; i < xf.size(); ++i) {
      xf[i] = i % 401 == 5 ? nonfinite[i / 401 % 3] : i % 23 == 3 ? specials[i / 23 % 6] : d(gen);
    }
    std::vector<uint16_t> x(static_cast<size_t>(c.H * c.W * 16));
    k::ref::to_blocked_bf16(xf.data(), nullptr, c.H * c.W, c.C, x.data());
    const std::vector<uint16_t> w = dense_weights(gen, d, c.M, c.C, taps, inf_weight);
    std::vector<float> bias(static_cast<size_t>(MB * 16), 0.f);
    for (int64_t m = 0; m < c.M; ++m) bias[m] = d(gen);
    const std::vector<uint16_t> res = blocked(gen, MB * oh * ow, 16, 0);
    const int64_t mb1 = c.mb1 ? c.mb1 : MB;
    auto run = [&](k::ConvBf16x16cFn fn, bool from_f32) {
      std::vector<uint16_t> y(static_cast<size_t>(MB * oh * ow * 16 + 21), kGuard16);
      k::ConvBf16x16c a;
      if (from_f32) {
        a.xf = xf.data();
      } else {
        a.x = x.data();
      }
      a.w = w.data(); a.bias = c.bias ? bias.data() : nullptr;
      a.residual = c.residual ? res.data() : nullptr; a.y = y.data();
      a.C = c.C; a.M = c.M; a.H = c.H; a.W = c.W; a.oh = oh; a.ow = ow; a.kh = c.kh; a.kw = c.kw;
      a.sh = c.sh; a.sw = c.sw; a.ph = c.ph; a.pw = c.pw;
      a.oy0 = c.oy0; a.oy1 = oh - c.oy_end; a.mb0 = c.mb0; a.mb1 = mb1;
      a.clip = c.clip; a.lo = -0.5f; a.hi = 1.5f;
      fn(a);
      return y;
    };
    const std::string what = "C" + std::to_string(c.C) + " M" + std::to_string(c.M) + " " + std::to_string(c.H) +
                             "x" + std::to_string(c.W) + " k" + std::to_string(c.kh) + "x" + std::to_string(c.kw) +
                             " rows " + std::to_string(c.oy0) + ".." + std::to_string(oh - c.oy_end) +
                             (inf_weight ? " inf weight" : "");
    for (const k::Nchw16cBf16Kernel* kern : t.all()) {
      const std::vector<uint16_t> want = run(kern->conv, false), got = run(kern->conv, true);
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(got[i], want[i]) << kern->name() << " " << what << " index " << i << ": "
                                   << k::bf16::to_f32(got[i]) << " vs " << k::bf16::to_f32(want[i]);
      }
      for (size_t i = static_cast<size_t>(MB * oh * ow * 16); i < got.size(); ++i) {
        ASSERT_EQ(got[i], kGuard16) << kern->name() << " " << what << " guard " << i;
      }
    }
  }
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
