// The BF16 depthwise kernel file (csrc/kernels/x86/avx512bf16/dwconv_bf16_16.cc)
// compiled against the AVX-512 emulation header (tests/cpp/CMakeLists.txt:
// namespace x86::emulated::avx512bf16, baseline flags, any x86-64 CPU) and,
// where the CPU has AVX512-BF16, the library's native build of it: both ==
// (bits) the reference kernel (kernels/ref/dwconv_bf16.cc, the contract of
// kernels/abi/dwconv_bf16.h) over windows 1x1 .. 5x5 and 2x3, small stride-1
// planes (the flat walk) and a large one (the row walk), strides 1, 2
// and 3 (the kernel's three row converters), padding, dilation, widths
// around its 16- and 64-output steps, a run of planes that starts inside
// the tensor, FP32 and BF16 outputs, bias, residual and clip, and the
// channel-blocked walk of small planes (runs of 16 planes, blocks that
// cross an image, leftovers; planes up to 1024 outputs, strided ones up to 4096, in bands of rows); guard values
// after every output. The workspace is filled with garbage first (the
// kernel must zero what it reads as padding).
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/dwconv_bf16.h"
#include "kernels/ref/bf16.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace emulated {
namespace avx512bf16 {
void dwconv_bf16_plane(const DwConvBf16Plane& p);  // avx512bf16/dwconv_bf16_16.cc, emulated
}  // namespace avx512bf16
}  // namespace emulated
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

namespace k = int8rt::kernels;

namespace {

struct Case {
  int64_t C, H, W, kh, kw, sh, sw, ph, pw, dh, dw;
};

constexpr uint16_t kGuard16 = 0xBEEF;
constexpr float kGuard = -1234.5f;

struct Out {
  std::vector<float> y;
  std::vector<uint16_t> y16;
};

Out run(k::DwConvBf16Fn fn, k::DwConvBf16Plane p, bool bf16_out, int64_t total) {
  Out o;
  const int64_t guard = 33;
  if (bf16_out) {
    o.y16.assign(static_cast<size_t>(total + guard), kGuard16);
    p.y16 = o.y16.data();
  } else {
    o.y.assign(static_cast<size_t>(total + guard), kGuard);
    p.y = o.y.data();
  }
  std::vector<float> work(static_cast<size_t>(k::dwconv_bf16_work_floats(p)), 7.0f);  // garbage
  p.work = work.data();
  fn(p);
  return o;
}

TEST(AvxBf16Emulated, DepthwiseEqualsTheReference) {
  std::vector<k::DwConvBf16Fn> under = {k::x86::emulated::avx512bf16::dwconv_bf16_plane};
  for (const k::DwConvBf16Kernel* c : k::candidates<k::DwConvBf16Kernel>()) {
    if (std::string(c->name()) == "dwconv_bf16_avx512bf16" && k::decline_reason(*c, int64_t{9}).empty()) {
      under.push_back(c->plane);
    }
  }
  std::printf("BF16 depthwise: emulated twin ran; native %s\n",
              under.size() > 1 ? "ran" : "not run (no AVX512-BF16 or capped)");
  const std::vector<Case> cases = {
      {3, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},      // MobileNetV2's 7 x 7 stage
      {5, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1},    // stride 2, odd padding: phases swap
      {2, 17, 70, 3, 3, 1, 1, 1, 1, 1, 1},    // 70 wide: a 64-step and a 6-wide step (row walk)
      {2, 9, 33, 3, 3, 2, 2, 0, 0, 1, 1},     // stride 2, no padding, odd width
      {3, 11, 12, 5, 5, 1, 1, 2, 2, 1, 1},    // 5 x 5 (EfficientNet)
      {2, 13, 31, 5, 5, 2, 2, 2, 2, 1, 1},    // 5 x 5 stride 2, 31 wide: 32-wide conversion tail
      {2, 10, 19, 3, 3, 3, 3, 1, 1, 1, 1},    // stride 3: the scalar converter
      {2, 12, 16, 3, 3, 1, 1, 2, 2, 2, 2},    // dilation 2
      {4, 6, 9, 2, 3, 1, 1, 0, 2, 1, 1},      // a 2 x 3 window, asymmetric effect
      {3, 5, 1, 1, 1, 1, 1, 0, 0, 1, 1},      // 1 x 1 on a column
      {2, 3, 129, 3, 3, 1, 2, 1, 1, 1, 1},    // sh 1, sw 2, three steps
      {1, 40, 110, 3, 3, 1, 1, 1, 1, 1, 1},   // stride 1 past the flat walk's 1024: the row walk, row pairs
      {2, 31, 150, 3, 3, 1, 1, 2, 2, 2, 2},   // dilation 2 on the row walk, an odd last row
      // the channel-blocked walk (16 planes per zmm): runs past 16 planes, blocks across images,
      // leftover planes on the flat walk
      {24, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1},   // MobileNetV2's 14 x 14: 13 outputs per 16-transpose tail
      {19, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},     // 7 x 7: 49 outputs, ow 7 (a 4-step and a 3-step)
      {17, 28, 28, 3, 3, 2, 2, 1, 1, 1, 1},   // stride 2 into 14 x 14: input columns past 16
      {33, 9, 13, 5, 5, 1, 1, 2, 2, 1, 1},    // 5 x 5, 13 wide (a 1-step), no sw phases
      {16, 12, 11, 3, 3, 1, 1, 2, 2, 2, 2},   // dilation 2, exactly one block per image
      {20, 10, 10, 3, 3, 2, 2, 0, 0, 1, 1},   // stride 2 without padding: input rows the window never reads
      {18, 6, 5, 2, 3, 1, 1, 0, 2, 1, 1},     // a 2 x 3 window, asymmetric padding
      // blocked up to 28 x 28 outputs (kDwBf16BlockedOutputs 1024, blocks up to 64K floats)
      {17, 56, 56, 3, 3, 2, 2, 1, 1, 1, 1},   // MobileNetV2's stride 2 into 28 x 28: a 57 x 57 block
      {18, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1},   // its 28 x 28 stride 1 (was the flat walk)
      {16, 30, 33, 3, 3, 1, 1, 1, 1, 1, 1},   // 30 x 33 = 990 outputs: blocked in 2 bands, a bottom padding row
      {16, 80, 79, 3, 3, 2, 2, 1, 1, 1, 1},   // stride 2 into 40 x 40 (past 1024 outputs): 8 bands of 5 rows
  };
  std::mt19937 gen(41);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  int variant = 0;
  for (const Case& c : cases) {
    for (int64_t N : {1, 2}) {
      ++variant;
      const int64_t oh = (c.H + 2 * c.ph - c.dh * (c.kh - 1) - 1) / c.sh + 1;
      const int64_t ow = (c.W + 2 * c.pw - c.dw * (c.kw - 1) - 1) / c.sw + 1;
      const int64_t planes = N * c.C, P = oh * ow, total = planes * P;
      std::vector<uint16_t> x(static_cast<size_t>(planes * c.H * c.W));
      for (uint16_t& v : x) v = k::bf16::from_f32(d(gen));
      std::vector<float> w(static_cast<size_t>(c.C * c.kh * c.kw)), bias(static_cast<size_t>(c.C)),
          res(static_cast<size_t>(total));
      for (float& v : w) v = k::bf16::to_f32(k::bf16::from_f32(d(gen)));
      for (float& v : bias) v = d(gen);
      for (float& v : res) v = d(gen);
      k::DwConvBf16Plane p;
      p.x = x.data(); p.w = w.data(); p.C = c.C;
      p.bias = variant % 3 ? bias.data() : nullptr;
      p.residual = variant % 2 ? res.data() : nullptr;
      p.clip = variant % 4 != 1;
      p.lo = -0.5f; p.hi = 0.75f;
      p.H = c.H; p.W = c.W; p.oh = oh; p.ow = ow; p.kh = c.kh; p.kw = c.kw;
      p.sh = c.sh; p.sw = c.sw; p.dh = c.dh; p.dw = c.dw; p.ph = c.ph; p.pw = c.pw;
      p.first = planes > 2 ? 1 : 0;  // a run that starts inside the tensor
      p.count = planes - p.first;
      const std::string what = "C" + std::to_string(c.C) + " N" + std::to_string(N) + " " + std::to_string(c.H) +
                               "x" + std::to_string(c.W) + " k" + std::to_string(c.kh) + "x" + std::to_string(c.kw) +
                               " s" + std::to_string(c.sh) + "," + std::to_string(c.sw) + " p" +
                               std::to_string(c.ph) + "," + std::to_string(c.pw) + " d" + std::to_string(c.dh);
      for (bool bf16_out : {false, true}) {
        const Out want = run(k::ref::dwconv_bf16_plane, p, bf16_out, total);
        for (size_t i = 0; i < static_cast<size_t>(p.first * P); ++i) {  // planes before the run untouched
          ASSERT_TRUE(bf16_out ? want.y16[i] == kGuard16 : want.y[i] == kGuard) << what;
        }
        for (size_t u = 0; u < under.size(); ++u) {
          const Out got = run(under[u], p, bf16_out, total);
          const size_t n = bf16_out ? got.y16.size() : got.y.size();
          for (size_t i = 0; i < n; ++i) {  // guards included: nothing written outside the run
            uint32_t g, e;
            if (bf16_out) {
              g = got.y16[i];
              e = want.y16[i];
            } else {
              std::memcpy(&g, &got.y[i], 4);
              std::memcpy(&e, &want.y[i], 4);
            }
            ASSERT_EQ(g, e) << (u ? "native " : "emulated ") << what << (bf16_out ? " bf16 out" : " fp32 out")
                            << " index " << i;
          }
        }
      }
    }
  }
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
