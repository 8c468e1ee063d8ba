// The AMX-BF16 channel-blocked convs (csrc/kernels/x86/amx/conv_nchw16c_bf16_32x32.cc)
// compiled against the AMX emulation header (tests/cpp/CMakeLists.txt: the
// amx/*.cc twin, namespace x86::emulated::amx, any x86-64 CPU) and, where
// the CPU has AMX-BF16, the library's native build (nchw16c_bf16_amx; the
// test prints which ran):
//  - == (bits) the AMX order of kernels/abi/nchw16c_bf16.h written out here
//    from the SDM's TDPBF16PS (amx_acc: per tap whose input row is inside,
//    per input block pair, even and odd partial sums from 0 over the two
//    blocks' 16 pairs, then acc + (even + odd), DAZ / FTZ / RNE; a pixel
//    outside the row a line of zeros, a block past C zeros; one block and a
//    kernel row of at most 16 pairs: per kernel row, amx_acc_tap_rows) and the blocked
//    epilogue (bias, BF16 residual,
//    clip, from_f32, padded lanes +0);
//  - against the reference kernels (kernels/ref/nchw16c_bf16.cc, the
//    VDPBF16PS order) within the bound stated below, and differing from them
//    in some bit over the sweep (the two orders are really different).
// Shapes: the pointwise entry (pixel runs around the 16-pixel groups, row
// and block ranges) and the dense entry: flat 1x1 (groups across rows),
// strided 1x1, 3x3 at strides 1 / 2 with widths around 16, the 7x7 / 2 stem
// of 3 channels and the other tap-row windows (kernel rows of 6-16 pairs,
// row dilation, one-sided pads; just past them: per tap), 2x3 with dilation and uneven pads, width 1; C odd / one
// pair / a last block of fewer than 8 pairs / several blocks; M past a
// block, one and two blocks per step; bias or none, residual, clip; BF16
// denormals and zeros of both signs in the data. Guard values after every
// output and outside the written range. A stem reading the float image
// (ConvBf16x16c::xf): == the same stem from its blocked conversion.
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kernels/nchw16c_bf16.h"
#include "kernels/ref/bf16.h"
#include "kernels/registry.h"

namespace int8rt::kernels::x86::emulated::amx {  // amx/conv_nchw16c_bf16_32x32.cc, emulated
void pointwise_bf16x16c(const PointwiseBf16x16c& a);
void conv_bf16x16c(const ConvBf16x16c& a);
}  // namespace int8rt::kernels::x86::emulated::amx

namespace k = int8rt::kernels;
namespace bf = int8rt::kernels::bf16;

namespace {

constexpr uint16_t kGuard16 = 0xBEEF;

struct AmxKernel {
  std::string name;
  k::PointwiseBf16x16cFn pointwise;
  k::ConvBf16x16cFn conv;
};

std::vector<AmxKernel> amx_kernels() {
  std::vector<AmxKernel> v = {{"nchw16c_bf16_amx(emulated)", k::x86::emulated::amx::pointwise_bf16x16c,
                               k::x86::emulated::amx::conv_bf16x16c}};
  for (const k::Nchw16cBf16Kernel* c : k::candidates<k::Nchw16cBf16Kernel>()) {
    if (std::string(c->name()) == "nchw16c_bf16_amx" && k::decline_reason(*c).empty()) {
      v.push_back({c->name(), c->pointwise, c->conv});
    }
  }
  std::printf("BF16 blocked AMX: emulated twin ran; native %s\n", v.size() > 1 ? "ran" : "not run (no AMX-BF16)");
  return v;
}

float daz(uint16_t bits) { return bf::flush_denormal(bf::to_f32(bits)); }

int64_t out_dim(int64_t in, int64_t kk, int64_t s, int64_t pb, int64_t pe, int64_t d) {
  return (in + pb + pe - (kk - 1) * d - 1) / s + 1;
}

// A conv's operands in the blocked layouts; `a` holds their pointers.
struct Problem {
  k::ConvBf16x16c a;
  std::vector<uint16_t> x, w, res;
  std::vector<float> bias;
  int64_t MB = 0;
};

// BF16 data: normal values, and (1 in 23) a denormal or a zero of either sign.
uint16_t value(std::mt19937& gen) {
  std::normal_distribution<float> d(0.f, 1.f);
  const float v = d(gen);
  if (gen() % 23) return bf::from_f32(v);
  const uint16_t specials[] = {0x0001, 0x807F, 0x0000, 0x8000, 0x0040};
  return specials[gen() % 5];
}

Problem make(std::mt19937& gen, int64_t C, int64_t M, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh,
             int64_t sw, int64_t ph, int64_t pw, int64_t pe, int64_t dh, int64_t dw) {
  Problem p;
  k::ConvBf16x16c& a = p.a;
  a.C = C; a.M = M; a.H = H; a.W = W; a.kh = kh; a.kw = kw; a.sh = sh; a.sw = sw; a.ph = ph; a.pw = pw;
  a.dh = dh; a.dw = dw;
  a.oh = out_dim(H, kh, sh, ph, pe, dh);
  a.ow = out_dim(W, kw, sw, pw, pe, dw);
  const int64_t CB = (C + 15) / 16, QP = (C + 1) / 2, taps = kh * kw;
  p.MB = (M + 15) / 16;
  p.x.assign(static_cast<size_t>(CB * H * W * 16), 0);  // lanes past C +0 (the contract)
  for (size_t i = 0; i < p.x.size(); ++i) {
    if (static_cast<int64_t>(i / (H * W * 16)) * 16 + static_cast<int64_t>(i % 16) < C) p.x[i] = value(gen);
  }
  p.w.assign(static_cast<size_t>(p.MB * taps * QP * 32), 0);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t t = 0; t < taps; ++t) p.w[(((m / 16 * taps + t) * QP + c / 2) * 16 + m % 16) * 2 + c % 2] = value(gen);
    }
  }
  std::normal_distribution<float> d(0.f, 1.f);
  p.bias.assign(static_cast<size_t>(p.MB * 16), 0.f);
  for (int64_t m = 0; m < M; ++m) p.bias[m] = d(gen);
  p.res.resize(static_cast<size_t>(p.MB * a.oh * a.ow * 16));
  for (uint16_t& r : p.res) r = value(gen);
  a.x = p.x.data();
  a.w = p.w.data();
  a.oy0 = 0; a.oy1 = a.oh; a.mb0 = 0; a.mb1 = p.MB;
  a.lo = -0.5f;
  a.hi = 1.5f;
  return p;
}

// The epilogue's operands and the call's ranges: output rows [oy0, oh -
// oy_end), blocks [mb0, mb1) (mb1 0: every block).
void select(Problem& p, bool bias, bool residual, bool clip, int64_t oy0, int64_t oy_end, int64_t mb0, int64_t mb1) {
  p.a.bias = bias ? p.bias.data() : nullptr;
  p.a.residual = residual ? p.res.data() : nullptr;
  p.a.clip = clip;
  p.a.oy0 = oy0;
  p.a.oy1 = p.a.oh - oy_end;
  p.a.mb0 = mb0;
  p.a.mb1 = mb1 ? mb1 : p.MB;
}

// The tap-row order (one input block, kw > 1, no column dilation, kw QP <=
// 16): per kernel row whose input row is inside, even and odd partial sums
// from 0 over the row's kw taps' QP pairs (kx, then q, ascending; a column
// outside the image zeros), then acc + (even + odd).
float amx_acc_tap_rows(const k::ConvBf16x16c& a, int64_t mb, int64_t l, int64_t oy, int64_t ox) {
  const int64_t QP = (a.C + 1) / 2, taps = a.kh * a.kw;
  float acc = 0.f;
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
    if (iy < 0 || iy >= a.H) continue;
    float even = 0.f, odd = 0.f;
    for (int64_t kx = 0; kx < a.kw; ++kx) {
      const int64_t ix = ox * a.sw - a.pw + kx;
      for (int64_t q = 0; q < QP; ++q) {
        const uint16_t* xp = ix >= 0 && ix < a.W ? a.x + (iy * a.W + ix) * 16 + 2 * q : nullptr;
        const uint16_t* wp = a.w + (((mb * taps + ky * a.kw + kx) * QP + q) * 16 + l) * 2;
        even = bf::flush_denormal(std::fma(xp ? daz(xp[0]) : 0.f, daz(wp[0]), even));
        odd = bf::flush_denormal(std::fma(xp ? daz(xp[1]) : 0.f, daz(wp[1]), odd));
      }
    }
    acc = bf::flush_denormal(bf::flush_denormal(acc) + bf::flush_denormal(even + odd));
  }
  return acc;
}

// The AMX order's FP32 sum for output channel m (block mb, lane l) at (oy, ox).
float amx_acc(const k::ConvBf16x16c& a, int64_t mb, int64_t l, int64_t oy, int64_t ox) {
  const int64_t CB = (a.C + 15) / 16, QP = (a.C + 1) / 2, taps = a.kh * a.kw;
  if (CB == 1 && a.kw > 1 && a.dw == 1 && a.kw * QP <= 16) return amx_acc_tap_rows(a, mb, l, oy, ox);
  float acc = 0.f;
  for (int64_t t = 0; t < taps; ++t) {
    const int64_t iy = oy * a.sh - a.ph + (t / a.kw) * a.dh, ix = ox * a.sw - a.pw + (t % a.kw) * a.dw;
    if (iy < 0 || iy >= a.H) continue;
    const bool inside = ix >= 0 && ix < a.W;
    for (int64_t j = 0; 2 * j < CB; ++j) {  // input block pairs (2j, 2j + 1)
      float even = 0.f, odd = 0.f;
      for (int64_t q = 16 * j; q < 16 * j + 16; ++q) {
        const int64_t cb = q / 8;  // the pair's block (past CB: zeros)
        const uint16_t* xp = inside && cb < CB ? a.x + ((cb * a.H + iy) * a.W + ix) * 16 + (2 * q) % 16 : nullptr;
        const uint16_t* wp = q < QP ? a.w + (((mb * taps + t) * QP + q) * 16 + l) * 2 : nullptr;
        const float xe = xp ? daz(xp[0]) : 0.f, xo = xp ? daz(xp[1]) : 0.f;
        const float we = wp ? daz(wp[0]) : 0.f, wo = wp ? daz(wp[1]) : 0.f;
        even = bf::flush_denormal(std::fma(xe, we, even));
        odd = bf::flush_denormal(std::fma(xo, wo, odd));
      }
      acc = bf::flush_denormal(bf::flush_denormal(acc) + bf::flush_denormal(even + odd));
    }
  }
  return acc;
}

// The AMX order and the blocked epilogue over the call's range (abi header).
void amx_order(const k::ConvBf16x16c& a) {
  for (int64_t mb = a.mb0; mb < a.mb1; ++mb) {
    for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
      for (int64_t ox = 0; ox < a.ow; ++ox) {
        for (int64_t l = 0; l < 16; ++l) {
          const int64_t at = ((mb * a.oh + oy) * a.ow + ox) * 16 + l;
          float v = amx_acc(a, mb, l, oy, ox);
          if (a.bias) v = v + a.bias[mb * 16 + l];
          if (a.residual) v = v + bf::to_f32(a.residual[at]);
          if (a.clip) {
            v = v > a.lo ? v : a.lo;
            v = v < a.hi ? v : a.hi;
          }
          if (a.act.fn) a.act.fn(a.act.ctx, &v, 1);
          a.y[at] = mb * 16 + l < a.M ? bf::from_f32(v) : 0;
        }
      }
    }
  }
}

// The bound between the AMX order and the reference's (VDPBF16PS) order of
// one output: both add the same exact BF16 products (K = 2 QP kh kw of
// them, S the sum of their magnitudes plus |bias| and |residual|) in FP32,
// so their sums differ by at most 2 (K + 2) 2^-24 S (abi/gemm_bf16.h);
// each BF16 rounding of the result moves it by at most 2^-8 of itself.
double bound(const k::ConvBf16x16c& a, int64_t mb, int64_t l, int64_t oy, int64_t ox, float y1, float y2) {
  const int64_t CB = (a.C + 15) / 16, taps = a.kh * a.kw, K = 2 * ((a.C + 1) / 2) * taps;
  double S = a.bias ? std::fabs(a.bias[mb * 16 + l]) : 0.0;
  if (a.residual) S += std::fabs(bf::to_f32(a.residual[((mb * a.oh + oy) * a.ow + ox) * 16 + l]));
  for (int64_t t = 0; t < taps; ++t) {
    const int64_t iy = oy * a.sh - a.ph + (t / a.kw) * a.dh, ix = ox * a.sw - a.pw + (t % a.kw) * a.dw;
    if (iy < 0 || iy >= a.H || ix < 0 || ix >= a.W) continue;
    for (int64_t c = 0; c < CB * 16 && c < a.C; ++c) {
      const double xv = daz(a.x[((c / 16 * a.H + iy) * a.W + ix) * 16 + c % 16]);
      S += std::fabs(xv * daz(a.w[(((mb * taps + t) * ((a.C + 1) / 2) + c / 2) * 16 + l) * 2 + c % 2]));
    }
  }
  return 2.0 * (K + 2) * std::ldexp(S, -24) + (std::ldexp(1.0, -7) + std::ldexp(1.0, -14)) *
                                                  std::max(std::fabs(double(y1)), std::fabs(double(y2)));
}

// Runs `fn` on p (the given ranges, options) into a guarded output.
std::vector<uint16_t> run(const Problem& p, const std::function<void(const k::ConvBf16x16c&)>& fn) {
  std::vector<uint16_t> y(static_cast<size_t>(p.MB * p.a.oh * p.a.ow * 16 + 21), kGuard16);
  k::ConvBf16x16c a = p.a;
  a.y = y.data();
  fn(a);
  return y;
}

// One problem through every AMX kernel: == the AMX order, within the bound
// of the reference; adds to `differ` how many outputs differ from the
// reference's bits.
void check(const Problem& p, const std::vector<AmxKernel>& kernels, bool pointwise, const std::string& what,
           int64_t& differ) {
  const std::vector<uint16_t> want = run(p, amx_order);
  const std::vector<uint16_t> ref = run(p, k::ref::conv_bf16x16c);
  const k::ConvBf16x16c& a = p.a;
  for (const AmxKernel& kern : kernels) {
    const std::vector<uint16_t> got = run(p, [&](const k::ConvBf16x16c& c) {
      if (!pointwise) return kern.conv(c);
      k::PointwiseBf16x16c pw;  // the 1 x 1 conv as the pointwise entry: pixels [oy0 * ow, oy1 * ow)
      pw.x = c.x; pw.w = c.w; pw.bias = c.bias; pw.residual = c.residual; pw.y = c.y;
      pw.C = c.C; pw.M = c.M; pw.P = c.oh * c.ow; pw.mb0 = c.mb0; pw.mb1 = c.mb1;
      pw.p0 = c.oy0 * c.ow; pw.p1 = c.oy1 * c.ow; pw.clip = c.clip; pw.lo = c.lo; pw.hi = c.hi; pw.act = c.act;
      kern.pointwise(pw);
    });
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << kern.name << (pointwise ? " pointwise " : " conv ") << what << " index " << i
                                 << " (block " << i / 16 / (a.oh * a.ow) << ", pixel " << i / 16 % (a.oh * a.ow)
                                 << ", lane " << i % 16 << "): " << bf::to_f32(got[i]) << " vs " << bf::to_f32(want[i]);
    }
  }
  for (int64_t mb = a.mb0; mb < a.mb1; ++mb) {
    for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
      for (int64_t ox = 0; ox < a.ow; ++ox) {
        for (int64_t l = 0; l < 16; ++l) {
          const size_t i = static_cast<size_t>(((mb * a.oh + oy) * a.ow + ox) * 16 + l);
          const float g = bf::to_f32(want[i]), r = bf::to_f32(ref[i]);
          differ += want[i] != ref[i];
          EXPECT_LE(std::fabs(double(g) - r), bound(a, mb, l, oy, ox, g, r))
              << what << " block " << mb << " lane " << l << " at " << oy << "," << ox << ": amx " << g << " ref " << r;
        }
      }
    }
  }
}

TEST(AmxBf16BlockedEmulated, DenseConvEqualsTheAmxOrderWithinTheBoundOfTheReference) {
  const std::vector<AmxKernel> kernels = amx_kernels();
  std::mt19937 gen(162);
  struct Case { int64_t C, M, H, W, kh, kw, sh, sw, ph, pw, pe, dh, dw, oy0, oy_end, mb0, mb1; bool bias, residual, clip; };
  // oy_end: rows left out at the end; mb1 = 0: every block
  const std::vector<Case> cases = {
      {16, 32, 7, 8, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, true, false, true},    // flat 1x1: 56 = 4 x 14
      {17, 40, 5, 7, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, false, true, false},   // 1x1, row range, C odd
      {33, 33, 6, 6, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 3, true, true, true},     // 1x1, block range
      {1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, true, false, false},     // one pixel, one channel
      {64, 40, 12, 12, 1, 1, 2, 2, 0, 0, 0, 1, 1, 0, 0, 0, 0, false, false, false},  // strided 1x1
      {32, 64, 9, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false, true},
      {19, 37, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, true, true},
      {16, 16, 5, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false, true},   // ow 17 = 9 + 8
      {8, 16, 4, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, true, false},   // ow 33 = 3 x 11, C 8
      {34, 112, 8, 31, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, true, false},
      {48, 80, 11, 13, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 5, true, false, false},
      {3, 64, 23, 29, 7, 7, 2, 2, 3, 3, 3, 1, 1, 0, 0, 0, 0, true, false, true},   // stem: tap rows, 14 pairs
      {3, 48, 30, 37, 7, 7, 2, 2, 3, 3, 3, 1, 1, 2, 3, 1, 3, true, true, true},    // stem, row and block range
      {3, 32, 9, 35, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false, true},    // tap rows: 3x3 /2, 6 pairs
      {16, 20, 6, 18, 2, 2, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, false, true, false},  // tap rows: 2 x 8 = 16 pairs
      {5, 17, 8, 11, 3, 5, 1, 3, 1, 2, 0, 2, 1, 1, 0, 0, 0, true, false, true},    // tap rows: 5 x 3, row dilation
      {7, 24, 7, 9, 1, 4, 1, 1, 0, 3, 0, 1, 1, 0, 0, 0, 0, false, false, true},    // tap rows: 1x4, left pad only
      {9, 16, 7, 9, 3, 4, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false, false},    // 4 x 5 pairs > 16: per tap
      {3, 16, 6, 9, 3, 3, 1, 1, 2, 2, 2, 1, 2, 0, 0, 0, 0, true, false, false},    // column dilation: per tap
      {20, 33, 10, 19, 2, 3, 1, 2, 0, 1, 2, 2, 1, 2, 1, 0, 0, true, true, true},   // dilation, uneven pads
      {5, 9, 6, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false, false},     // width 1
      {40, 24, 9, 10, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, true, true, true},    // 1x1 /2 padded: every 2nd line
      {96, 40, 11, 9, 1, 1, 2, 3, 0, 0, 0, 1, 1, 1, 1, 1, 3, true, false, true},   // flat 1x1 /2,3, row, block range
      {72, 48, 6, 9, 3, 3, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, true, true}};   // CB 5: a last pair of one block
  int64_t differ = 0;
  for (const Case& c : cases) {
    Problem p = make(gen, c.C, c.M, c.H, c.W, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.pe, c.dh, c.dw);
    select(p, c.bias, c.residual, c.clip, c.oy0, c.oy_end, c.mb0, c.mb1);
    const std::string what = "C" + std::to_string(c.C) + " M" + std::to_string(c.M) + " " + std::to_string(c.H) +
                             "x" + std::to_string(c.W) + " k" + std::to_string(c.kh) + "x" + std::to_string(c.kw) +
                             " s" + std::to_string(c.sh) + "," + std::to_string(c.sw);
    check(p, kernels, false, what, differ);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(differ, 0) << "the AMX order should differ from the VDPBF16PS order in some output";
}

TEST(AmxBf16BlockedEmulated, PointwiseEqualsTheAmxOrderWithinTheBoundOfTheReference) {
  const std::vector<AmxKernel> kernels = amx_kernels();
  std::mt19937 gen(163);
  struct Case { int64_t C, M, H, W, oy0, oy_end, mb0, mb1; bool bias, residual, clip; };
  const std::vector<Case> cases = {{19, 37, 1, 23, 0, 0, 0, 3, true, false, true},  {32, 16, 7, 7, 0, 0, 0, 1, true, true, false},
                                   {2, 40, 17, 1, 3, 0, 1, 3, false, true, true},   {45, 21, 9, 1, 1, 1, 0, 2, true, true, true},
                                   {1, 5, 13, 1, 0, 0, 0, 1, false, false, false},  {64, 48, 31, 1, 5, 1, 1, 3, true, false, true},
                                   {128, 64, 10, 10, 0, 0, 0, 4, true, true, true}, {15, 17, 4, 4, 0, 0, 0, 2, true, false, false}};
  int64_t differ = 0;
  for (const Case& c : cases) {
    Problem p = make(gen, c.C, c.M, c.H, c.W, 1, 1, 1, 1, 0, 0, 0, 1, 1);
    select(p, c.bias, c.residual, c.clip, c.oy0, c.oy_end, c.mb0, c.mb1);
    check(p, kernels, true, "C" + std::to_string(c.C) + " M" + std::to_string(c.M) + " P" + std::to_string(c.H * c.W),
          differ);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// A fused activation (abi Bf16x16cAct: the engine's Swish / HardSwish /
// chain) on the FP32 values before the rounding, element by element: the
// AMX kernels' runs of lines through it == the AMX order with the function
// applied to each value, 1x1 and 3x3, bias or none, partial row and block
// ranges (the reference: ref/nchw16c_bf16.cc, per value, within the bound).
TEST(AmxBf16BlockedEmulated, ActivationRunsOnEachValueBeforeTheRounding) {
  const std::vector<AmxKernel> kernels = amx_kernels();
  std::mt19937 gen(167);
  const float slope = 0.25f;  // f(v) = 0.75 v or slope v by sign (the ctx read); Lipschitz 1 keeps the bound
  k::Bf16x16cAct act;
  act.ctx = &slope;
  act.fn = [](const void* ctx, float* v, int64_t n) {
    for (int64_t i = 0; i < n; ++i) v[i] = v[i] > 0.f ? v[i] * 0.75f : v[i] * *static_cast<const float*>(ctx);
  };
  struct Case { int64_t C, M, H, W, k, oy0, oy_end, mb0, mb1; bool bias; };
  const std::vector<Case> cases = {{19, 37, 5, 23, 1, 0, 0, 0, 3, true}, {45, 21, 9, 7, 1, 1, 1, 0, 2, false},
                                   {37, 19, 11, 9, 3, 0, 0, 0, 2, true}, {16, 40, 7, 7, 3, 2, 1, 1, 3, true}};
  int64_t differ = 0;
  for (const Case& c : cases) {
    const int64_t pad = c.k / 2;
    Problem p = make(gen, c.C, c.M, c.H, c.W, c.k, c.k, 1, 1, pad, pad, pad, 1, 1);
    select(p, c.bias, false, false, c.oy0, c.oy_end, c.mb0, c.mb1);
    p.a.act = act;
    check(p, kernels, c.k == 1, "act C" + std::to_string(c.C) + " M" + std::to_string(c.M) + " k" + std::to_string(c.k),
          differ);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// The batched pointwise entry (N images, pixels q of image q / P, ranges
// that start and end inside images and span several): == each image's AMX
// order over the pixels in range (guards elsewhere), for the AMX kernels;
// the reference's batched call == its image-by-image calls. One input
// block (read in place image by image) and several (the batch's lines
// copied into one GEMM), odd block counts, bias / residual / clip.
TEST(AmxBf16BlockedEmulated, BatchedPointwiseEqualsEachImagesAmxOrder) {
  const std::vector<AmxKernel> kernels = amx_kernels();
  std::mt19937 gen(187);
  struct Case { int64_t C, M, H, W, N, p0, p_end, mb0, mb1; bool bias, residual, clip; };  // p_end: pixels left out
  const std::vector<Case> cases = {{64, 48, 7, 7, 3, 0, 0, 0, 3, true, true, true},
                                   {40, 33, 5, 3, 4, 7, 8, 0, 3, true, false, false},
                                   {16, 32, 3, 3, 5, 4, 2, 0, 2, false, true, true},
                                   {130, 40, 2, 5, 7, 3, 2, 1, 3, true, true, false},
                                   {256, 64, 7, 7, 2, 17, 0, 0, 4, true, true, true},
                                   {33, 17, 1, 1, 40, 1, 3, 0, 2, true, false, true}};
  for (const Case& c : cases) {
    const int64_t P = c.H * c.W, MB = (c.M + 15) / 16;
    const std::string what = "C" + std::to_string(c.C) + " M" + std::to_string(c.M) + " P" + std::to_string(P) + " N" +
                             std::to_string(c.N);
    std::vector<Problem> images;
    std::vector<uint16_t> x, res;
    for (int64_t n = 0; n < c.N; ++n) {
      images.push_back(make(gen, c.C, c.M, c.H, c.W, 1, 1, 1, 1, 0, 0, 0, 1, 1));
      x.insert(x.end(), images.back().x.begin(), images.back().x.end());
      res.insert(res.end(), images.back().res.begin(), images.back().res.end());
    }
    k::PointwiseBf16x16c b;
    b.x = x.data(); b.w = images[0].w.data(); b.bias = c.bias ? images[0].bias.data() : nullptr;
    b.residual = c.residual ? res.data() : nullptr;
    b.C = c.C; b.M = c.M; b.P = P; b.N = c.N; b.mb0 = c.mb0; b.mb1 = c.mb1;
    b.p0 = c.p0; b.p1 = c.N * P - c.p_end; b.clip = c.clip; b.lo = -0.5f; b.hi = 1.5f;
    const size_t size = static_cast<size_t>(c.N * MB * P * 16);
    auto batched = [&](k::PointwiseBf16x16cFn fn) {
      std::vector<uint16_t> y(size + 21, kGuard16);
      k::PointwiseBf16x16c a = b;
      a.y = y.data();
      fn(a);
      return y;
    };
    // fn image by image on [p0, p1) of the batch, the others guards.
    auto per_image = [&](const std::function<void(const k::ConvBf16x16c&)>& fn) {
      std::vector<uint16_t> y(size + 21, kGuard16);
      for (int64_t n = 0; n < c.N; ++n) {
        Problem& p = images[n];
        p.w = images[0].w;
        p.bias = images[0].bias;
        select(p, c.bias, c.residual, c.clip, 0, 0, c.mb0, c.mb1);
        std::vector<uint16_t> one(static_cast<size_t>(MB * P * 16), kGuard16);
        k::ConvBf16x16c a = p.a;
        a.w = p.w.data();
        a.bias = c.bias ? p.bias.data() : nullptr;
        a.y = one.data();
        fn(a);
        for (int64_t mb = 0; mb < MB; ++mb) {
          for (int64_t q = std::max(b.p0, n * P); q < std::min(b.p1, (n + 1) * P); ++q) {
            for (int64_t l = 0; l < 16; ++l) y[((n * MB + mb) * P + q - n * P) * 16 + l] = one[(mb * P + q - n * P) * 16 + l];
          }
        }
      }
      return y;
    };
    const std::vector<uint16_t> want = per_image(amx_order), ref_want = per_image(k::ref::conv_bf16x16c);
    std::vector<std::pair<std::string, k::PointwiseBf16x16cFn>> fns = {{"ref", k::ref::pointwise_bf16x16c}};
    for (const AmxKernel& kern : kernels) fns.push_back({kern.name, kern.pointwise});
    for (const auto& [name, fn] : fns) {
      const std::vector<uint16_t> got = batched(fn);
      const std::vector<uint16_t>& w = name == "ref" ? ref_want : want;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i], w[i]) << name << " batched pointwise " << what << " index " << i << " (image "
                                << i / 16 / (MB * P) << ", block " << i / 16 / P % MB << ", pixel " << i / 16 % P
                                << ", lane " << i % 16 << ")";
      }
    }
  }
}

// Where FP32 rounding depends on the order, the kernels give the AMX
// order's result, not the reference's: channels (1, 1, 2^-25, 0) times
// weights (1, -1, 1, 0). TDPBF16PS: even = 1 + 2^-25 = 1 (rounded), odd =
// -1 + 0, acc = 0 + (1 - 1) = +0. VDPBF16PS: (-1 + 1) = 0, then 0 + 2^-25.
TEST(AmxBf16BlockedEmulated, TheOrderDecidesWhereFp32Rounds) {
  const std::vector<AmxKernel> kernels = amx_kernels();
  std::mt19937 gen(164);
  for (const bool pointwise : {true, false}) {
    Problem p = make(gen, 4, 1, 3, 5, 1, 1, 1, 1, 0, 0, 0, 1, 1);
    const uint16_t xs[4] = {bf::from_f32(1.f), bf::from_f32(1.f), bf::from_f32(std::ldexp(1.f, -25)), 0};
    for (int64_t px = 0; px < 15; ++px) std::copy(xs, xs + 4, p.x.begin() + px * 16);
    p.w[0] = bf::from_f32(1.f);  // output channel 0's pairs (w[q][lane 0][i] at q * 32 + i)
    p.w[1] = bf::from_f32(-1.f);
    p.w[32] = bf::from_f32(1.f);
    p.w[33] = 0;
    const std::vector<uint16_t> ref = run(p, k::ref::conv_bf16x16c);
    EXPECT_EQ(ref[0], bf::from_f32(std::ldexp(1.f, -25))) << "the reference order";
    int64_t differ = 0;
    check(p, kernels, pointwise, "crafted", differ);  // == the AMX order, within the bound
    EXPECT_EQ(run(p, amx_order)[0], 0) << "the AMX order";
    EXPECT_EQ(differ, 15) << "output channel 0 of each pixel";
  }
}

// A stem reading the float image (ConvBf16x16c::xf, the family's
// conv_reads_f32): the same bits as from the region entry's conversion of
// it (ref::to_blocked_bf16), over tap-row windows of 1-4 channels (2 and 4
// lanes), input rows wider than 16 pixels and not a multiple of 16 (masked
// tails), pads on either side; values with NaN, infinities, denormals,
// zeros of both signs and rounding ties among them.
TEST(AmxBf16BlockedEmulated, StemFromTheFloatImageEqualsItsBlockedConversion) {
  const std::vector<AmxKernel> kernels = amx_kernels();
  std::mt19937 gen(208);
  std::normal_distribution<float> d(0.f, 1.f);
  const float specials[] = {0.f, -0.f, 1e-40f, -3e-39f, 65504.f, 1.00390625f};  // 1.00390625: a rounding tie
  const float nonfinite[] = {1.f / 0.f, -1.f / 0.f, std::nanf("")};
  struct Case { int64_t C, M, H, W, kh, kw, sh, sw, ph, pw, pe; };
  const std::vector<Case> cases = {{3, 64, 23, 37, 7, 7, 2, 2, 3, 3, 3}, {3, 32, 9, 35, 3, 3, 2, 2, 1, 1, 1},
                                   {4, 20, 6, 18, 3, 4, 1, 1, 1, 1, 2},  {1, 16, 5, 21, 3, 3, 1, 1, 1, 1, 1},
                                   {2, 17, 7, 9, 5, 5, 1, 2, 2, 2, 2},   {3, 48, 4, 5, 7, 7, 2, 2, 3, 3, 3},
                                   {3, 24, 8, 50, 3, 3, 1, 1, 0, 0, 0}};
  for (const Case& c : cases) {
    ASSERT_TRUE(k::bf16_tap_row_window(c.C, c.kw, 1) && c.C <= k::kBf16MaxF32Channels);
    Problem p = make(gen, c.C, c.M, c.H, c.W, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.pe, 1, 1);
    select(p, true, c.C != 3, c.C != 2, 0, 0, 0, 0);
    std::vector<float> xf(static_cast<size_t>(c.C * c.H * c.W));
    // (1 value in 23 special, 1 in 401 not finite: most windows stay finite)
    for (size_t i = 0; i < xf.size(); ++i) {
      xf[i] = i % 401 == 5 ? nonfinite[i / 401 % 3] : i % 23 == 3 ? specials[i / 23 % 6] : d(gen);
    }
    k::ref::to_blocked_bf16(xf.data(), nullptr, c.H * c.W, c.C, p.x.data());
    Problem q = p;
    q.a.x = nullptr;
    q.a.xf = xf.data();
    const std::string what = "C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" + std::to_string(c.W) +
                             " k" + std::to_string(c.kh) + "x" + std::to_string(c.kw);
    for (const AmxKernel& kern : kernels) {
      const std::vector<uint16_t> want = run(p, kern.conv), got = run(q, kern.conv);
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(got[i], want[i]) << kern.name << " " << what << " index " << i << ": " << bf::to_f32(got[i])
                                   << " vs " << bf::to_f32(want[i]);
      }
    }
  }
}

// The family's walk: the AMX candidate comes first, declines without AMX
// (or above an INT8RT_MAX_ISA cap: kernels/registry.h's common check) and,
// where the CPU lacks only AMX-BF16, with its own reason.
TEST(AmxBf16BlockedEmulated, AmxCandidateComesFirstAndDeclinesWhereItCannotRun) {
  const std::vector<const k::Nchw16cBf16Kernel*> list = k::candidates<k::Nchw16cBf16Kernel>();
  auto at = [&](const std::string& name) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i]->name() == name) return static_cast<int>(i);
    }
    return -1;
  };
  const int amx = at("nchw16c_bf16_amx"), avx = at("nchw16c_bf16_avx512bf16");
  if (amx < 0) GTEST_SKIP() << "library built without the AMX and AVX512-BF16 kernels";
  EXPECT_EQ(amx, 0);
  EXPECT_LT(amx, avx);
  EXPECT_EQ(list[amx]->isa(), k::Isa::kAmx);
  const std::string why = k::decline_reason(*list[amx]);
  if (!k::cpu_supports_isa(k::Isa::kAmx)) {
    EXPECT_EQ(why, "CPU lacks amx");
  } else if (!k::isa_enabled(k::Isa::kAmx)) {
    EXPECT_NE(why.find("above cap"), std::string::npos) << why;
  }
  k::set_max_isa(k::Isa::kAvx512Vnni);
  EXPECT_NE(k::decline_reason(*list[amx]), "");
  EXPECT_NE(std::string(k::choose<k::Nchw16cBf16Kernel>().name()), "nchw16c_bf16_amx");
  k::set_max_isa(std::nullopt);
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
