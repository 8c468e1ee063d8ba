// The AMX int8 GEMM microkernel's epilogue (amx/igemm_32x32c4.cc) on int8
// outputs whose clamp bounds are not -128 / 127, byte for byte against the
// reference (ref/requantize.h: clamp in float, then round half to even):
// its two-row store clamps the narrowed bytes at round(lo) / round(hi)
// instead (amx/requant_rows2.h), which must give the same bytes for every
// bound, half-way ones included (-0.5, 2.5, 3.5: round half to even), lo ==
// hi, and bounds below / above every value. Calls whose |t| may reach 2^30
// (large scales) keep the float clamps: a layer with such scales, and one
// with a single such channel (checked once per call), too.
// 1x1 convs through the emulated AMX twin (any x86-64 CPU) and the native
// kernel where AMX runs: an odd pixel count (the last row alone), channel
// counts of 16 / 32 / 33 / 40 / 48 / 80 (steps of 1, 8, 16, 32 channels: 32
// exactly is the full-pair row loop alone, 48 one full pair and a half
// one), 9 pixels, int8- and u8-coded input, output and residual, no residual.
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

std::vector<const k::ConvKernel*> amx_convs() {
  std::vector<const k::ConvKernel*> v;
  for (const Under& u : kernels_under_test())
    if (u.conv->isa() == k::Isa::kAmx) v.push_back(u.conv);
  return v;
}

// Conv s (codes as it says) with clamp [lo, hi], int8 output, against the
// reference on the codes. scale_mul multiplies every scale (huge_channel:
// channel 0's only, by 1e9).
void check(const k::ConvKernel& conv, const k::ConvShape& s, int batch, float lo, float hi, bool with_res,
           float scale_mul, bool huge_channel, uint32_t seed) {
  ASSERT_EQ(conv.supports(s, k::OutputType::kInt8), "") << describe(s, batch);
  const std::string what = std::string(conv.name()) + " " + describe(s, batch) + " clamp [" + std::to_string(lo) +
                           ", " + std::to_string(hi) + "]" + (with_res ? " residual" : "") +
                           (s.input_codes == k::Codes::kU8 ? " in=u8" : "") +
                           (s.output_codes == k::Codes::kU8 ? " out=u8" : "") +
                           (s.residual_codes == k::Codes::kU8 ? " res=u8" : "") + " scale x" +
                           std::to_string(scale_mul) + (huge_channel ? " (channel 0 x1e9)" : "");
  const size_t n_in = static_cast<size_t>(batch) * s.H * s.W * s.C;
  const size_t n_out = static_cast<size_t>(batch) * s.out_h() * s.out_w() * s.K;
  const std::vector<int8_t> x = random_s8(n_in, seed);
  const std::vector<int8_t> w = random_s8(static_cast<size_t>(s.weight_count()), seed + 1);
  const std::vector<int8_t> res = random_s8(n_out, seed + 2);
  SweepEpilogue sweep(s, k::OutputType::kInt8, seed + 3);
  for (float& f : sweep.scale) f *= scale_mul;
  if (huge_channel) sweep.scale[0] *= 1e9f;
  k::Epilogue& ep = sweep.ep;
  ep.clamp_lo = lo;
  ep.clamp_hi = hi;
  ep.residual_scale = 0.61f;
  k::ConvShape plain = s;
  plain.input_codes = plain.output_codes = plain.residual_codes = k::Codes::kS8;
  ep.residual = with_res ? res.data() : nullptr;
  std::vector<uint8_t> want = run_guarded("ref", n_out, [&](void* y) {
    k::ref::conv2d_s8(plain, batch, x.data(), w.data(), ep, y);
  });
  if (s.output_codes == k::Codes::kU8) {
    for (uint8_t& b : want) b ^= 0x80u;
  }
  std::vector<int8_t> xs = x, rs = res;
  for (int8_t& b : xs) b = k::code_byte(b, s.input_codes);
  for (int8_t& b : rs) b = k::code_byte(b, s.residual_codes);
  ep.residual = with_res ? rs.data() : nullptr;
  std::vector<int8_t> wcopy = w;
  auto packed = conv.pack(s, wcopy.data());
  expect_same(what, run_guarded(what, n_out, [&](void* y) { packed->run(batch, xs.data(), ep, y); }), want, 1);
}

constexpr k::Codes U8 = k::Codes::kU8, S8 = k::Codes::kS8;

TEST(AmxEpilogueClamps, BoundsEqualReference) {
  // C, H, W, K (1x1); batch 1: 35 / 9 / 33 pixels (rows in pairs, the last alone), 32 (pairs only).
  const std::vector<Conv> shapes = {{64, 5, 7, 33, 1, 1, 1, 0, 1, 1},  {128, 4, 8, 16, 1, 1, 1, 0, 1, 1},
                                    {256, 3, 3, 40, 1, 1, 1, 0, 1, 1}, {192, 3, 11, 80, 1, 1, 1, 0, 1, 1},
                                    {64, 5, 7, 32, 1, 1, 1, 0, 1, 1},  {128, 3, 11, 48, 1, 1, 1, 0, 1, 1},
                                    {64, 4, 8, 32, 1, 1, 1, 0, 1, 1}};
  const std::vector<std::pair<float, float>> clamps = {
      {-128.0f, 127.0f}, {0.0f, 127.0f}, {-0.5f, 127.0f}, {0.5f, 6.5f},    {2.5f, 3.5f},
      {-3.7f, 100.2f},   {-128.0f, -100.5f}, {5.0f, 5.0f}, {-127.5f, 126.5f}, {126.6f, 127.0f}};
  struct Coding {
    k::Codes in, out, res;
  };
  const std::vector<Coding> codings = {{S8, S8, S8}, {U8, U8, U8}, {U8, S8, U8}, {S8, U8, S8}};
  uint32_t seed = 19500;
  for (const k::ConvKernel* conv : amx_convs()) {
    for (const Conv& c : shapes) {
      for (size_t ci = 0; ci < codings.size(); ++ci) {
        k::ConvShape s = make(c);
        s.input_codes = codings[ci].in;
        s.output_codes = codings[ci].out;
        s.residual_codes = codings[ci].res;
        s.pad_value = 0;
        for (const auto& [lo, hi] : clamps) {
          for (bool with_res : {false, true}) {
            check(*conv, s, 1, lo, hi, with_res, 1.0f, false, seed += 10);
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
        // Scales whose |t| may pass 2^30 (the float clamps), for the whole layer and for one channel.
        check(*conv, s, 1, 0.0f, 127.0f, true, 1e9f, false, seed += 10);
        check(*conv, s, 1, -3.5f, 6.5f, false, 1.0f, true, seed += 10);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    std::printf("%s: clamps checked\n", conv->name());
  }
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
