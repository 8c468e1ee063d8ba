// The CUDA kernels of csrc/kernels/cuda, compiled as C++ through
// simt_emulation.h (library int8rt_cuda_emulated in CMakeLists.txt: the real
// .cu sources, not a re-implementation), run on the CPU and compared with
// `==` against the reference kernels (csrc/kernels/ref) and against
// int8rt::calib::Histogram. Shapes sweep the awkward cases: channels not a
// multiple of 4 or of the 64-wide tile, stride 2, padding (asymmetric),
// dilation, 1x1, grouped (aligned and unaligned group starts), depthwise,
// batch > 1; every epilogue form (activations, residual, float output).
// Padding lanes of NC/4HW4 inputs hold random bytes, so a kernel that let
// them count would fail; guard bytes after every output must stay untouched.
// Also checks the emulator itself: barrier semantics, divergent barriers,
// the intrinsics' exact integer and rounding behaviour.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "int8rt/calibration.h"
#include "int8rt/error.h"
#include "kernel_test_util.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/ref/requantize.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/requant_params.h"

namespace k = int8rt::kernels;
namespace kc = int8rt::kernels::cuda;

namespace {

using int8rt::testing::kGuard;
using int8rt::testing::random_s8;
constexpr uint8_t kFill = 0xA5;

// NHWC [N][H][W][C] -> NC/4HW4 with random bytes in the padding lanes (plus guard room).
std::vector<int8_t> to_nc4hw4(const std::vector<int8_t>& nhwc, int N, int H, int W, int C, uint32_t seed) {
  const int C4 = (C + 3) / 4;
  std::vector<int8_t> out = random_s8(static_cast<size_t>(N) * C4 * H * W * 4, seed);
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w)
        for (int c = 0; c < C; ++c)
          out[kc::nc4hw4_offset(n, c, h, w, C4, H, W)] = nhwc[((static_cast<size_t>(n) * H + h) * W + w) * C + c];
  return out;
}

// NHWC -> NCHW for any element type.
template <typename T>
std::vector<T> nhwc_to_nchw(const std::vector<T>& x, int N, int H, int W, int C) {
  std::vector<T> out(x.size());
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w)
        for (int c = 0; c < C; ++c)
          out[((static_cast<size_t>(n) * C + c) * H + h) * W + w] = x[((static_cast<size_t>(n) * H + h) * W + w) * C + c];
  return out;
}

// An output buffer of `bytes` followed by guard bytes, all pre-filled.
struct Guarded {
  std::vector<uint8_t> buf;
  explicit Guarded(size_t bytes) : buf(bytes + kGuard, kFill) {}
  void* data() { return buf.data(); }
  bool guard_intact() const {
    for (size_t i = buf.size() - kGuard; i < buf.size(); ++i)
      if (buf[i] != kFill) return false;
    return true;
  }
};

// The epilogue forms every conv / GEMM sweep runs through.
struct EpilogueCase {
  const char* name;
  k::OutputType out;
  k::Activation act;
  bool residual;
  bool ties;  // scale 0.5, no bias: many exact .5 values (round half to even)
};
const EpilogueCase kEpilogues[] = {
    {"int8", k::OutputType::kInt8, k::Activation::kNone, false, false},
    {"int8_relu", k::OutputType::kInt8, k::Activation::kRelu, false, false},
    {"int8_relu6_residual", k::OutputType::kInt8, k::Activation::kRelu6, true, false},
    {"int8_ties", k::OutputType::kInt8, k::Activation::kNone, false, true},
    {"float", k::OutputType::kFloat32, k::Activation::kNone, false, false},
    {"float_relu_residual", k::OutputType::kFloat32, k::Activation::kRelu, true, false},
};

// Per-channel epilogue whose int8 outputs span the range for a reduction of
// `red` random int8 products (std of one product ~ 74^2). The ties case uses
// a power-of-two scale and no bias, so about 1 in 2^e outputs is an exact .5.
k::EpilogueStorage epilogue_for(const EpilogueCase& e, int channels, int64_t red, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.5f, 1.5f), b(-20.0f, 20.0f);
  const float base = 50.0f / (5476.0f * std::sqrt(static_cast<float>(red)));
  const float pow2 = std::ldexp(1.0f, std::ilogb(base));
  // Relu6 with s_in = s_out = 0.05 puts its bound at 6 / 0.05 = 120 (inside int8), so it clamps.
  const float s_io = e.act == k::Activation::kRelu6 ? 0.05f : 1.0f;
  std::vector<float> sw(channels), bias(channels);
  for (int i = 0; i < channels; ++i) {
    sw[i] = e.ties ? pow2 : base * u(gen);
    bias[i] = b(gen) * s_io;  // bias / s_out in [-20, 20]
  }
  return k::make_epilogue(s_io, sw.data(), channels, e.ties ? nullptr : bias.data(), s_io, e.out, e.act);
}

k::ConvShape conv(int C, int H, int W, int K, int R, int S, int stride, int pad, int groups,
                  int dilation = 1) {
  k::ConvShape s;
  s.C = C; s.H = H; s.W = W; s.K = K; s.R = R; s.S = S;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = pad;
  s.pad_bottom = pad + (pad > 0 ? 1 : 0);  // asymmetric when padded
  s.pad_right = pad;
  s.dilation_h = s.dilation_w = dilation;
  s.groups = groups;
  return s;
}

std::string describe(const k::ConvShape& s, int batch, const char* ep) {
  return "C" + std::to_string(s.C) + " H" + std::to_string(s.H) + " W" + std::to_string(s.W) + " K" +
         std::to_string(s.K) + " " + std::to_string(s.R) + "x" + std::to_string(s.S) + " stride" +
         std::to_string(s.stride_h) + " pad" + std::to_string(s.pad_top) + " dil" +
         std::to_string(s.dilation_h) + " groups" + std::to_string(s.groups) + " pad_value" +
         std::to_string(s.pad_value) + " batch" + std::to_string(batch) + " " + ep;
}

// Runs one conv through the CUDA kernel (emulated) and the reference; compares every output.
void check_conv(const k::ConvShape& s, int batch, const EpilogueCase& e, uint32_t seed) {
  const std::string what = describe(s, batch, e.name);
  const int OH = s.out_h(), OW = s.out_w(), K4 = (s.K + 3) / 4;
  const auto x = random_s8(static_cast<size_t>(batch) * s.H * s.W * s.C, seed);
  const auto w = random_s8(static_cast<size_t>(s.weight_count()), seed + 1);
  const size_t outs = static_cast<size_t>(batch) * OH * OW * s.K;
  const auto res_nhwc = random_s8(outs, seed + 2);
  const k::EpilogueStorage rq = epilogue_for(e, s.K, static_cast<int64_t>(s.c_per_group()) * s.R * s.S, seed + 3);
  const float res_scale = 0.75f;

  // Reference: NHWC output.
  const bool f32 = e.out == k::OutputType::kFloat32;
  std::vector<uint8_t> ref(outs * (f32 ? 4 : 1));
  k::ref::conv2d_s8(s, batch, x.data(), w.data(),
                    rq.epilogue(e.residual ? res_nhwc.data() : nullptr, res_scale), ref.data());

  // CUDA kernel: NC/4HW4 input, int8 NC/4HW4 or float NCHW output, residual in the output layout.
  const auto x4 = to_nc4hw4(x, batch, s.H, s.W, s.C, seed + 4);
  const std::vector<int8_t> res_dev = f32 ? nhwc_to_nchw(res_nhwc, batch, OH, OW, s.K)
                                          : to_nc4hw4(res_nhwc, batch, OH, OW, s.K, seed + 5);
  const size_t dev_bytes = f32 ? outs * 4 : static_cast<size_t>(batch) * K4 * OH * OW * 4;
  Guarded y(dev_bytes);
  const kc::ConvGeometry g = kc::conv_geometry(s, batch);
  const k::Epilogue ep = rq.epilogue(e.residual ? res_dev.data() : nullptr, res_scale);
  const bool depthwise = s.is_depthwise();
  const std::vector<int32_t> wp =
      depthwise ? kc::pack_depthwise_weights(s, w.data()) : kc::pack_conv_weights_dp4a(s, w.data());
  if (depthwise) {
    kc::launch_conv_s8_depthwise(g, x4.data(), wp.data(), ep, y.data(), nullptr);
  } else {
    kc::launch_conv_s8_dp4a(g, x4.data(), wp.data(), ep, y.data(), nullptr);
  }
  ASSERT_TRUE(y.guard_intact()) << what << ": guard bytes overwritten";

  int bad = 0;
  for (int n = 0; n < batch; ++n)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow)
        for (int kk = 0; kk < s.K; ++kk) {
          const size_t i_ref = ((static_cast<size_t>(n) * OH + oh) * OW + ow) * s.K + kk;
          if (f32) {
            float want, got;
            std::memcpy(&want, ref.data() + 4 * i_ref, 4);
            std::memcpy(&got, y.buf.data() + 4 * (((static_cast<size_t>(n) * s.K + kk) * OH + oh) * OW + ow), 4);
            if (std::memcmp(&want, &got, 4) != 0 && ++bad <= 5) {
              ADD_FAILURE() << what << ": n" << n << " oh" << oh << " ow" << ow << " k" << kk
                            << " ref " << want << " cuda " << got;
            }
          } else {
            const int want = static_cast<int8_t>(ref[i_ref]);
            const int got = static_cast<int8_t>(y.buf[kc::nc4hw4_offset(n, kk, oh, ow, K4, OH, OW)]);
            if (want != got && ++bad <= 5) {
              ADD_FAILURE() << what << ": n" << n << " oh" << oh << " ow" << ow << " k" << kk
                            << " ref " << want << " cuda " << got;
            }
          }
        }
  EXPECT_EQ(bad, 0) << what;
}

}  // namespace

// ---- the emulator itself ----

namespace {
constexpr int kBarrierThreads = 96;
__global__ void rotate_through_shared(int* out) {
  __shared__ int tile[kBarrierThreads];
  const int t = threadIdx.x + blockDim.x * threadIdx.y;
  tile[t] = t * 10 + static_cast<int>(blockIdx.x);
  __syncthreads();  // every write lands before any read
  const int v = tile[(t + 1) % kBarrierThreads];
  __syncthreads();  // every read done before the next write
  tile[t] = -1;
  out[blockIdx.x * kBarrierThreads + t] = v;
}
__global__ void divergent_barrier() {
  if (threadIdx.x % 2 == 0) return;
  __syncthreads();
}
}  // namespace

TEST(CudaEmulation, BarrierOrdersSharedMemoryAcrossThreadsAndBlocks) {
  std::vector<int> out(3 * kBarrierThreads, 0);
  int* p = out.data();
  simt::launch(dim3(3), dim3(32, 3), [&] { rotate_through_shared(p); });
  for (int b = 0; b < 3; ++b)
    for (int t = 0; t < kBarrierThreads; ++t)
      ASSERT_EQ(out[b * kBarrierThreads + t], ((t + 1) % kBarrierThreads) * 10 + b) << "block " << b << " thread " << t;
}

TEST(CudaEmulation, DivergentBarrierIsAnError) {
  EXPECT_THROW(simt::launch(dim3(1), dim3(8), [&] { divergent_barrier(); }), std::logic_error);
  // The scheduler is usable again afterwards.
  std::vector<int> out(kBarrierThreads, 0);
  int* p = out.data();
  simt::launch(dim3(1), dim3(kBarrierThreads), [&] { rotate_through_shared(p); });
  EXPECT_EQ(out[0], 10);
}

TEST(CudaEmulation, IntrinsicsExact) {
  // dp4a: signed bytes, accumulate, wrap modulo 2^32 (PTX dp4a.s32.s32).
  EXPECT_EQ(__dp4a(static_cast<int>(0x80808080u), static_cast<int>(0x80808080u), 0), 4 * 16384);
  EXPECT_EQ(__dp4a(0x7f7f7f7f, static_cast<int>(0x80808080u), 5), 5 - 4 * 127 * 128);
  EXPECT_EQ(__dp4a(0x01020304, 0x05060708, -1), 1 * 5 + 2 * 6 + 3 * 7 + 4 * 8 - 1);
  EXPECT_EQ(__dp4a(static_cast<int>(0x000000ffu), 0x00000001, 0), -1);
  EXPECT_EQ(__dp4a(0x7f000000, 0x7f000000, std::numeric_limits<int>::max()),
            static_cast<int>(static_cast<uint32_t>(std::numeric_limits<int>::max()) + 127u * 127u));
  // __float2int_rn: round half to even, saturating, NaN -> 0.
  EXPECT_EQ(__float2int_rn(2.5f), 2);
  EXPECT_EQ(__float2int_rn(3.5f), 4);
  EXPECT_EQ(__float2int_rn(-2.5f), -2);
  EXPECT_EQ(__float2int_rn(-0.5f), 0);
  EXPECT_EQ(__float2int_rn(1e10f), std::numeric_limits<int>::max());
  EXPECT_EQ(__float2int_rn(-1e10f), std::numeric_limits<int>::min());
  EXPECT_EQ(__float2int_rn(std::nanf("")), 0);
  EXPECT_EQ(__float2int_rz(2.99f), 2);
  EXPECT_EQ(__float2int_rz(-2.99f), -2);
  // One rounding per operation: (1 + 2^-23) * (1 + 2^-23) rounds away the 2^-46 term.
  const float a = 1.0f + std::ldexp(1.0f, -23);
  EXPECT_EQ(__fadd_rn(__fmul_rn(a, a), -1.0f), std::ldexp(1.0f, -22));
}

TEST(CudaEmulation, MisalignedWordAccessIsReported) {
  // A GEMM with K % 4 == 0 reads A by 32-bit words: an A one byte off alignment must fault.
  k::GemmShape s;
  s.N = 4;
  s.K = 8;
  std::vector<int8_t> a(2 * 8 + 4, 1), b(4 * 8, 1), y(2 * 4);
  const std::vector<float> scale(4, 1.0f);
  k::Epilogue ep;
  ep.scale = scale.data();
  ep.clamp_lo = -128.0f;
  ep.clamp_hi = 127.0f;
  const auto bp = kc::pack_gemm_weights_dp4a(s, b.data());
  EXPECT_THROW(kc::launch_gemm_s8_dp4a(s, 2, a.data() + 1, bp.data(), ep, y.data(), nullptr), std::logic_error);
  EXPECT_NO_THROW(kc::launch_gemm_s8_dp4a(s, 2, a.data(), bp.data(), ep, y.data(), nullptr));
  EXPECT_EQ(y[0], 8);
}

// ---- quantize / dequantize ----

TEST(CudaEmulated, QuantizeDequantizeNc4hw4MatchesReference) {
  struct Case { int batch, C, H, W; };
  for (const Case& c : {Case{1, 1, 1, 1}, Case{2, 3, 5, 7}, Case{1, 4, 8, 8}, Case{3, 13, 4, 9}, Case{1, 64, 3, 3}}) {
    const int64_t HW = static_cast<int64_t>(c.H) * c.W;
    const size_t n = static_cast<size_t>(c.batch) * c.C * HW;
    const float scale = 0.037f;
    std::mt19937 gen(c.C * 31 + c.W);
    std::uniform_real_distribution<float> d(-6.0f, 6.0f);
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i) x[i] = d(gen);
    // Exact halves (ties), saturation, NaN and infinities.
    const float specials[] = {0.5f * scale, 1.5f * scale, -2.5f * scale, 1e6f, -1e6f,
                              std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(), -0.0f};
    for (size_t i = 0; i < n && i < 9; ++i) x[i * 7 % n] = specials[i];

    std::vector<int8_t> ref_q(n);
    k::ref::quantize_s8(static_cast<int64_t>(n), x.data(), scale, 0, ref_q.data());
    const int C4 = (c.C + 3) / 4;
    const size_t words = static_cast<size_t>(c.batch) * C4 * HW;
    Guarded q(words * 4);
    kc::launch_quantize_nc4hw4(c.batch, c.C, HW, x.data(), scale, static_cast<int8_t*>(q.data()), nullptr);
    ASSERT_TRUE(q.guard_intact());
    for (int b = 0; b < c.batch; ++b)
      for (int ch = 0; ch < C4 * 4; ++ch)
        for (int64_t hw = 0; hw < HW; ++hw) {
          const int h = static_cast<int>(hw / c.W), w = static_cast<int>(hw % c.W);
          const int got = static_cast<int8_t>(q.buf[kc::nc4hw4_offset(b, ch, h, w, C4, c.H, c.W)]);
          const int want = ch < c.C ? ref_q[(static_cast<size_t>(b) * c.C + ch) * HW + hw] : 0;
          ASSERT_EQ(got, want) << "quantize C" << c.C << " n" << b << " c" << ch << " hw" << hw;
        }

    std::vector<float> ref_x(n);
    k::ref::dequantize_s8(static_cast<int64_t>(n), ref_q.data(), scale, ref_x.data());
    Guarded back(n * 4);
    kc::launch_dequantize_nc4hw4(c.batch, c.C, HW, static_cast<const int8_t*>(q.data()), scale,
                                 static_cast<float*>(back.data()), nullptr);
    ASSERT_TRUE(back.guard_intact());
    EXPECT_EQ(std::memcmp(back.data(), ref_x.data(), n * 4), 0) << "dequantize C" << c.C;
  }
}

// ---- convolution ----

TEST(CudaEmulated, ConvDp4aMatchesReference) {
  const k::ConvShape shapes[] = {
      conv(3, 9, 9, 8, 3, 3, 1, 1, 1),      // C % 4 != 0 (RGB stem)
      conv(16, 8, 8, 16, 1, 1, 1, 0, 1),    // 1x1
      conv(5, 7, 6, 9, 3, 3, 2, 1, 1),      // stride 2, asymmetric pad
      conv(8, 10, 10, 70, 3, 3, 1, 1, 1),   // K past one 64-column tile; M past one 64-pixel tile
      conv(37, 5, 6, 65, 3, 3, 1, 1, 1),    // reduction of many 8-word steps, K = tile + 1
      conv(33, 9, 7, 17, 1, 1, 2, 0, 1),    // 1x1 stride 2
      conv(7, 9, 9, 5, 3, 3, 1, 2, 1, 2),   // dilation 2
      conv(4, 11, 11, 3, 5, 5, 2, 2, 1),    // 5x5 stride 2
      conv(6, 6, 9, 10, 1, 3, 1, 1, 1),     // 1x3 window, H != W
      conv(8, 9, 9, 12, 3, 3, 1, 1, 2),     // groups 2, group starts aligned to 4
      conv(6, 8, 8, 6, 3, 3, 2, 1, 3),      // groups 3, Cg = 2: unaligned group starts (gather)
      conv(5, 6, 6, 10, 3, 3, 1, 1, 5),     // Cg = 1, Kg = 2 (channel multiplier 2)
      conv(12, 5, 5, 132, 3, 3, 1, 1, 2),   // groups with Kg = 66: two column tiles per group
      conv(10, 7, 5, 4, 3, 3, 1, 1, 2),     // Cg = 5: group 1 starts at channel 5, its last word past C
  };
  uint32_t seed = 100;
  for (const k::ConvShape& s : shapes) {
    for (int batch : {1, 2}) {
      for (const EpilogueCase& e : kEpilogues) check_conv(s, batch, e, seed += 10);
    }
  }
}

TEST(CudaEmulated, ConvDepthwiseMatchesReference) {
  const k::ConvShape shapes[] = {
      conv(3, 7, 7, 3, 3, 3, 1, 1, 3),     // C < 4
      conv(8, 9, 8, 8, 3, 3, 1, 1, 8),
      conv(13, 9, 9, 13, 3, 3, 2, 1, 13),  // stride 2, C % 4 == 1
      conv(6, 10, 10, 6, 5, 5, 1, 2, 6),   // 5x5
      conv(7, 12, 11, 7, 3, 3, 1, 2, 7, 2),  // dilation 2
      conv(4, 5, 5, 4, 1, 1, 1, 0, 4),     // 1x1
  };
  uint32_t seed = 900;
  for (const k::ConvShape& s : shapes) {
    ASSERT_TRUE(s.is_depthwise());
    for (int batch : {1, 3}) {
      for (const EpilogueCase& e : kEpilogues) check_conv(s, batch, e, seed += 10);
    }
  }
}

// Padding that reads the input's zero point (ConvShape::pad_value): the
// int8 forms of the uint8 zero points 0, 1 and 255, on padded implicit-GEMM
// (aligned and gathered group starts) and depthwise shapes.
TEST(CudaEmulated, ConvPadValueMatchesReference) {
  const k::ConvShape shapes[] = {
      conv(3, 9, 9, 8, 3, 3, 1, 1, 1),      // RGB stem, C % 4 != 0
      conv(5, 7, 6, 9, 3, 3, 2, 1, 1),      // stride 2, asymmetric pad
      conv(7, 9, 9, 5, 3, 3, 1, 2, 1, 2),   // dilation 2
      conv(6, 8, 8, 6, 3, 3, 2, 1, 3),      // groups 3, unaligned group starts (gather)
      conv(13, 9, 9, 13, 3, 3, 2, 1, 13),   // depthwise stride 2
      conv(6, 10, 10, 6, 5, 5, 1, 2, 6),    // depthwise 5x5
  };
  uint32_t seed = 1700;
  for (k::ConvShape s : shapes) {
    for (int pad_value : {-128, -127, 127}) {
      s.pad_value = static_cast<int8_t>(pad_value);
      check_conv(s, 2, kEpilogues[0], seed += 10);  // int8
      check_conv(s, 1, kEpilogues[4], seed += 10);  // float
    }
  }
}

// ---- GEMM ----

TEST(CudaEmulated, GemmDp4aMatchesReference) {
  struct Case { int64_t M; int N, K; };
  const Case cases[] = {{1, 1, 1},    {3, 5, 7},     {17, 64, 16}, {65, 65, 33},
                        {64, 130, 200}, {130, 3, 4}, {5, 17, 129}, {2, 200, 64}};
  uint32_t seed = 500;
  for (const Case& c : cases) {
    for (const EpilogueCase& e : kEpilogues) {
      seed += 10;
      const std::string what = "M" + std::to_string(c.M) + " N" + std::to_string(c.N) + " K" +
                               std::to_string(c.K) + " " + e.name;
      k::GemmShape s;
      s.N = c.N;
      s.K = c.K;
      const auto a = random_s8(static_cast<size_t>(c.M) * c.K, seed);
      const auto b = random_s8(static_cast<size_t>(c.N) * c.K, seed + 1);
      const auto res = random_s8(static_cast<size_t>(c.M) * c.N, seed + 2);
      const k::EpilogueStorage rq = epilogue_for(e, c.N, c.K, seed + 3);
      const k::Epilogue ep = rq.epilogue(e.residual ? res.data() : nullptr, 0.75f);
      const size_t bytes = static_cast<size_t>(c.M) * c.N * (e.out == k::OutputType::kFloat32 ? 4 : 1);
      std::vector<uint8_t> ref(bytes);
      k::ref::gemm_s8(s, c.M, a.data(), b.data(), ep, ref.data());
      const std::vector<int32_t> bp = kc::pack_gemm_weights_dp4a(s, b.data());
      Guarded y(bytes);
      kc::launch_gemm_s8_dp4a(s, c.M, a.data(), bp.data(), ep, y.data(), nullptr);
      ASSERT_TRUE(y.guard_intact()) << what;
      for (size_t i = 0; i < bytes; ++i) {
        ASSERT_EQ(y.buf[i], ref[i]) << what << ": byte " << i << " differs";
      }
    }
  }
}

// ---- non-finite values in the int8 epilogue ----

// The float clamps of the CUDA kernels are all int8 epilogues: requantize_dev
// (conv / GEMM, int8 or float output), quantize_dev, the add's and the
// average pools' clamps. Each is the int8 reference's two selects
// (ref/requantize.h: NaN takes clamp_lo, +-inf the bounds), not the FP32 /
// BF16 layers' Relu / Clip rule (ref/clip_f32.h, NaN kept), and stays so:
// a NaN cannot be rounded to int8, and the float output is the int8 engine's
// dequantized conv, whose x86 kernels follow the same reference. No CUDA
// kernel applies a float Relu / Clip. Pinned here on the value level,
// -0 and the non-finite values included.
TEST(CudaEmulated, RequantizeNonFiniteFollowsInt8Reference) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float scale[] = {1.0f};
  for (float lo : {-inf, 0.0f, -128.0f}) {
    for (float hi : {inf, 6.0f, 127.0f}) {
      for (float bias : {nan, -nan, inf, -inf, -0.0f, 0.0f, 3.5f}) {
        const float biases[] = {bias};
        k::Epilogue ep;
        ep.scale = scale;
        ep.bias = biases;
        ep.clamp_lo = lo;
        ep.clamp_hi = hi;
        ep.out_type = k::OutputType::kFloat32;
        const float want = k::ref::requantize(0, 0, ep, 0), got = kc::requantize_dev(0, 0, ep, 0);
        EXPECT_EQ(0, std::memcmp(&want, &got, 4)) << "bias " << bias << " lo " << lo << " hi " << hi
                                                  << ": ref " << want << " cuda " << got;
        if (std::isnan(bias)) {
          EXPECT_EQ(got, lo) << "NaN takes the lower bound";
        }
      }
    }
  }
  for (float x : {nan, -nan, inf, -inf}) {
    EXPECT_EQ(kc::quantize_dev(x, 1.0f), k::ref::quantize_value(x, 1.0f)) << x;
  }
}

// And no non-finite value reaches them: the accumulator is an int32 sum, the
// residual int8, and make_epilogue refuses a NaN or infinite bias or scale.
TEST(CudaEmulated, NonFiniteBiasRefusedBeforeAnyKernel) {
  const float scale[] = {1.0f, 1.0f};
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    const float bias[] = {0.5f, bad};
    for (k::OutputType out : {k::OutputType::kInt8, k::OutputType::kFloat32}) {
      EXPECT_THROW(k::make_epilogue(1.0f, scale, 2, bias, 1.0f, out, k::Activation::kRelu), int8rt::InvalidArgument)
          << bad;
    }
    EXPECT_THROW(k::make_epilogue(1.0f, bias, 2, nullptr, 1.0f, k::OutputType::kFloat32, k::Activation::kNone),
                 int8rt::InvalidArgument)
        << "weight scale " << bad;
  }
}

// ---- pooling and flatten ----

// Reads channel c < C of every pixel of an NC/4HW4 result back to NHWC.
std::vector<int8_t> from_nc4hw4(const uint8_t* q, int N, int H, int W, int C) {
  const int C4 = (C + 3) / 4;
  std::vector<int8_t> out(static_cast<size_t>(N) * H * W * C);
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w)
        for (int c = 0; c < C; ++c)
          out[((static_cast<size_t>(n) * H + h) * W + w) * C + c] =
              static_cast<int8_t>(q[kc::nc4hw4_offset(n, c, h, w, C4, H, W)]);
  return out;
}

TEST(CudaEmulated, PoolingMatchesReference) {
  struct Case { int N, H, W, C, R, S, stride, pad; };
  const Case cases[] = {{1, 7, 7, 3, 3, 3, 2, 1}, {2, 8, 9, 8, 2, 2, 2, 0}, {1, 5, 6, 13, 3, 2, 1, 1},
                        {3, 4, 4, 4, 4, 4, 1, 0}, {1, 1, 1, 5, 1, 1, 1, 0}};
  uint32_t seed = 950;
  for (const Case& c : cases) {
    const std::string what = "N" + std::to_string(c.N) + " " + std::to_string(c.H) + "x" + std::to_string(c.W) +
                             " C" + std::to_string(c.C) + " k" + std::to_string(c.R) + "x" + std::to_string(c.S);
    k::PoolShape p;
    p.H = c.H; p.W = c.W; p.C = c.C; p.R = c.R; p.S = c.S;
    p.stride_h = p.stride_w = c.stride;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = c.pad;
    const auto x = random_s8(static_cast<size_t>(c.N) * c.H * c.W * c.C, ++seed);
    const auto x4 = to_nc4hw4(x, c.N, c.H, c.W, c.C, ++seed);
    // max pool
    std::vector<int8_t> want(static_cast<size_t>(c.N) * p.out_h() * p.out_w() * c.C);
    k::ref::maxpool_s8(p, c.N, x.data(), want.data());
    Guarded y(static_cast<size_t>(c.N) * ((c.C + 3) / 4) * p.out_h() * p.out_w() * 4);
    kc::launch_maxpool_nc4hw4(p, c.N, x4.data(), reinterpret_cast<int8_t*>(y.data()), nullptr);
    ASSERT_TRUE(y.guard_intact()) << what;
    EXPECT_EQ(from_nc4hw4(y.buf.data(), c.N, p.out_h(), p.out_w(), c.C), want) << "maxpool " << what;
    // average pool, counting and not counting the padding
    for (bool include_pad : {false, true}) {
      p.count_include_pad = include_pad;
      k::ref::avgpool_s8(p, c.N, x.data(), 0.3f, 0.11f, want.data());
      Guarded a(static_cast<size_t>(c.N) * ((c.C + 3) / 4) * p.out_h() * p.out_w() * 4);
      kc::launch_avgpool_nc4hw4(p, c.N, x4.data(), 0.3f, 0.11f, reinterpret_cast<int8_t*>(a.data()), nullptr);
      ASSERT_TRUE(a.guard_intact()) << what;
      EXPECT_EQ(from_nc4hw4(a.buf.data(), c.N, p.out_h(), p.out_w(), c.C), want)
          << "avgpool " << what << (include_pad ? " count_include_pad" : "");
    }
    // global average pool (scales with ties: 0.5 multipliers give exact .5 values)
    for (float s_out : {0.07f, 0.5f / (c.H * c.W)}) {
      std::vector<int8_t> gwant(static_cast<size_t>(c.N) * c.C);
      k::ref::global_avgpool_s8(c.N, static_cast<int64_t>(c.H) * c.W, c.C, x.data(), 0.25f, s_out, gwant.data());
      Guarded g(static_cast<size_t>(c.N) * ((c.C + 3) / 4) * 4);
      kc::launch_global_avgpool_nc4hw4(c.N, static_cast<int64_t>(c.H) * c.W, c.C, x4.data(),
                                       k::ref::avgpool_multiplier(0.25f, s_out, static_cast<int64_t>(c.H) * c.W),
                                       reinterpret_cast<int8_t*>(g.data()), nullptr);
      ASSERT_TRUE(g.guard_intact()) << what;
      const auto got = from_nc4hw4(g.buf.data(), c.N, 1, 1, c.C);
      EXPECT_EQ(got, gwant) << "global_avgpool " << what << " s_out " << s_out;
      // flatten of that [N, C, 1, 1] result
      Guarded f(static_cast<size_t>(c.N) * c.C);
      kc::launch_flatten_nc4(c.N, c.C, reinterpret_cast<const int8_t*>(g.data()), reinterpret_cast<int8_t*>(f.data()),
                             nullptr);
      ASSERT_TRUE(f.guard_intact()) << what;
      EXPECT_EQ(std::vector<int8_t>(f.buf.begin(), f.buf.begin() + c.N * c.C), gwant) << "flatten " << what;
    }
  }
}

TEST(CudaEmulated, AddGateAndConcatMatchReference) {
  const int N = 2, H = 3, W = 5;
  // add: the same NC/4HW4 layout for a, b and y; relu and plain; scales with ties
  for (int C : {3, 8, 13}) {
    for (bool relu : {false, true}) {
      const size_t n = static_cast<size_t>(N) * H * W * C;
      const auto a = random_s8(n, 970 + C), b = random_s8(n, 971 + C);
      const k::AddParams p = k::make_add_params(0.5f, 0.25f, 1.0f, relu);
      std::vector<int8_t> want(n);
      k::ref::add_s8(static_cast<int64_t>(n), a.data(), b.data(), p, want.data());
      const auto a4 = to_nc4hw4(a, N, H, W, C, 972), b4 = to_nc4hw4(b, N, H, W, C, 973);
      Guarded y(a4.size());
      kc::launch_add_s8(static_cast<int64_t>(a4.size()), a4.data(), b4.data(), p, reinterpret_cast<int8_t*>(y.data()),
                        nullptr);
      ASSERT_TRUE(y.guard_intact());
      EXPECT_EQ(from_nc4hw4(y.buf.data(), N, H, W, C), want) << "add C" << C << (relu ? " relu" : "");
    }
  }
  // channel gate: one gate row and one per image, products with ties and overflow
  for (int C : {5, 8}) {
    for (int gate_batch : {1, N}) {
      const size_t n = static_cast<size_t>(N) * H * W * C;
      const auto x = random_s8(n, 975 + C);
      std::vector<float> gate(static_cast<size_t>(gate_batch) * C);
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = i % 3 == 0 ? 1.25f : 0.07f * static_cast<float>(i) - 0.3f;
      std::vector<int8_t> want(n);
      k::ref::channel_mul_s8(N, static_cast<int64_t>(H) * W, C, x.data(), gate.data(), gate_batch, 0.4f, 0.2f,
                             want.data());
      const auto x4 = to_nc4hw4(x, N, H, W, C, 976);
      Guarded y(x4.size());
      kc::launch_channel_mul_nc4hw4(N, static_cast<int64_t>(H) * W, C, x4.data(), gate.data(), gate_batch,
                                    0.4f / 0.2f, reinterpret_cast<int8_t*>(y.data()), nullptr);
      ASSERT_TRUE(y.guard_intact());
      EXPECT_EQ(from_nc4hw4(y.buf.data(), N, H, W, C), want) << "channel_mul C" << C << " gate_batch " << gate_batch;
    }
  }
  // concat: channel counts that split words, multipliers 1 (copy) and not
  const int channels[] = {3, 5, 8, 1};
  const float mults[] = {1.0f, 0.5f, 1.5f, 1.0f};
  std::vector<std::vector<int8_t>> nhwc, packed;
  std::vector<k::ref::ConcatInput> ref_in;
  kc::ConcatArgs args;
  int C = 0;
  for (int i = 0; i < 4; ++i) {
    nhwc.push_back(random_s8(static_cast<size_t>(N) * H * W * channels[i], 980 + i));
    packed.push_back(to_nc4hw4(nhwc.back(), N, H, W, channels[i], 990 + i));
    C += channels[i];
  }
  for (int i = 0; i < 4; ++i) {
    ref_in.push_back({nhwc[i].data(), channels[i], mults[i]});
    args.data[i] = packed[i].data();
    args.channels[i] = channels[i];
    args.multiplier[i] = mults[i];
  }
  args.count = 4;
  std::vector<int8_t> want(static_cast<size_t>(N) * H * W * C);
  k::ref::concat_s8(static_cast<int64_t>(N) * H * W, ref_in, want.data());
  Guarded y(static_cast<size_t>(N) * ((C + 3) / 4) * H * W * 4);
  kc::launch_concat_nc4hw4(N, static_cast<int64_t>(H) * W, args, reinterpret_cast<int8_t*>(y.data()), nullptr);
  ASSERT_TRUE(y.guard_intact());
  EXPECT_EQ(from_nc4hw4(y.buf.data(), N, H, W, C), want) << "concat";
}

// ---- table lookup ----

TEST(CudaEmulated, LookupMatchesReference) {
  for (int64_t n : {0, 1, 3, 4, 5, 255, 256, 1023, 1029}) {
    auto x = random_s8(static_cast<size_t>(n), 900 + static_cast<uint32_t>(n));
    for (int64_t i = 0; i < n && i < 256; ++i) x[i] = static_cast<int8_t>(i - 128);
    const auto table = random_s8(256, 901);
    std::vector<int8_t> ref(static_cast<size_t>(n));
    k::ref::lookup_s8(n, x.data(), table.data(), ref.data());
    Guarded y(static_cast<size_t>(n));
    kc::launch_lookup_s8(n, x.data(), table.data(), reinterpret_cast<int8_t*>(y.data()), nullptr);
    ASSERT_TRUE(y.guard_intact()) << "n=" << n;
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(static_cast<int8_t>(y.buf[i]), ref[i]) << "n=" << n << " byte " << i;
  }
}

// ---- histogram ----

namespace {
// Collects x with the GPU kernels (emulated) using the CPU histogram's bin width.
struct GpuHistogram {
  std::vector<unsigned long long> counts;
  uint32_t max_bits = 0;
  unsigned long long nonfinite = 0;
};
GpuHistogram gpu_histogram(const std::vector<float>& x, float bin_width, int num_bins) {
  GpuHistogram h;
  h.counts.assign(static_cast<size_t>(num_bins), 0);
  kc::launch_abs_max_scan(static_cast<int64_t>(x.size()), x.data(), &h.max_bits, &h.nonfinite, nullptr);
  kc::launch_histogram_abs(static_cast<int64_t>(x.size()), x.data(), 1.0f / bin_width, num_bins,
                           h.counts.data(), nullptr);
  return h;
}
}  // namespace

TEST(CudaEmulated, HistogramMatchesCpuHistogram) {
  namespace calib = int8rt::calib;
  struct Case { size_t n; int bins; int dist; bool nonfinite; };
  // sizes: under one block, not a multiple of 256, past 1024 blocks (grid-stride loop);
  // bins: default, small, past the shared-memory histogram (global atomics).
  const Case cases[] = {{100, 2048, 0, false}, {4099, 2048, 1, false}, {5000, 16, 2, false},
                        {20000, 5000, 0, false}, {300000, 2048, 1, false}, {7777, 2048, 2, true}};
  for (const Case& c : cases) {
    std::mt19937 gen(static_cast<uint32_t>(c.n + c.bins));
    std::normal_distribution<float> normal(0.0f, 1.5f);
    std::exponential_distribution<float> expo(0.7f);
    std::uniform_int_distribution<int> small(-40, 40);
    std::vector<float> x(c.n);
    for (float& v : x) {
      v = c.dist == 0 ? normal(gen) : c.dist == 1 ? expo(gen) : static_cast<float>(small(gen)) * 0.125f;
    }
    if (c.nonfinite) {
      x[3] = std::numeric_limits<float>::quiet_NaN();
      x[100] = std::numeric_limits<float>::infinity();
      x[c.n - 1] = -std::numeric_limits<float>::infinity();
    }
    calib::Histogram cpu(c.bins, calib::RangePolicy::kExtend,
                         c.nonfinite ? calib::NonFinitePolicy::kSkip : calib::NonFinitePolicy::kError);
    cpu.collect(calib::ArrayView::contiguous(x.data(), static_cast<int64_t>(x.size())));
    const float cpu_max = cpu.max_abs();
    // Values on the bin edges i * w of the range just set (the float32 rounding matters there).
    const float w = cpu.bin_width();
    std::vector<float> edges;
    for (int i = 0; i < c.bins; i += 7) edges.push_back(static_cast<float>(i) * w);
    cpu.collect(calib::ArrayView::contiguous(edges.data(), static_cast<int64_t>(edges.size())));
    ASSERT_EQ(cpu.bin_width(), w);  // same range: a single grid for both batches

    GpuHistogram g = gpu_histogram(x, w, c.bins);
    float max_abs;
    std::memcpy(&max_abs, &g.max_bits, 4);
    GpuHistogram ge = gpu_histogram(edges, w, c.bins);
    for (size_t i = 0; i < g.counts.size(); ++i) g.counts[i] += ge.counts[i];
    const std::string what = "n" + std::to_string(c.n) + " bins" + std::to_string(c.bins);
    EXPECT_EQ(max_abs, cpu_max) << what;
    EXPECT_EQ(g.nonfinite, cpu.nonfinite_skipped()) << what;
    ASSERT_EQ(g.counts.size(), cpu.counts().size()) << what;
    for (size_t i = 0; i < g.counts.size(); ++i) {
      ASSERT_EQ(g.counts[i], cpu.counts()[i]) << what << ": bin " << i;
    }
  }
}
