// Reference kernels and the registry, from C++: every output buffer is
// followed by guard bytes that must stay untouched and every output element
// must be written (two runs over differently pre-filled buffers agree); the
// epilogue arithmetic on hand-computed values; dispatch over a candidate list
// with declining fakes (log captured); one packed layer run from several
// threads at once. Numeric sweeps against NumPy live in tests/test_ref_kernels.py.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/cpu_features.h"
#include "int8rt/error.h"
#include "kernel_test_util.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"
#include "kernels/registry.h"
#include "kernels/requant_params.h"

namespace k = int8rt::kernels;

namespace {

using int8rt::testing::kGuard;
using int8rt::testing::random_s8;

// Runs `fn(out)` on a buffer of `bytes` + guard, twice with different fills;
// checks the guards and that both runs produced the same bytes.
void check_guarded(const std::string& what, size_t bytes, const std::function<void(void*)>& fn) {
  std::vector<std::vector<uint8_t>> runs;
  for (uint8_t fill : {uint8_t{0xA5}, uint8_t{0x5A}}) {
    std::vector<uint8_t> buf(bytes + kGuard, fill);
    fn(buf.data());
    for (size_t i = bytes; i < buf.size(); ++i) {
      ASSERT_EQ(buf[i], fill) << what << ": guard byte " << i - bytes << " overwritten";
    }
    buf.resize(bytes);
    runs.push_back(buf);
  }
  EXPECT_EQ(runs[0], runs[1]) << what << ": some output element was not written";
}

k::ConvShape conv_shape(int C, int H, int W, int K, int R, int S, int stride, int pad, int groups) {
  k::ConvShape s;
  s.C = C; s.H = H; s.W = W; s.K = K; s.R = R; s.S = S;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = pad;
  s.pad_bottom = pad + 1;  // asymmetric
  s.pad_right = pad;
  s.groups = groups;
  return s;
}

TEST(RefKernels, GuardBytesAndFullWrites) {
  const int N = 3;
  for (const k::ConvShape& s : {conv_shape(5, 7, 6, 9, 3, 3, 1, 1, 1),
                                conv_shape(8, 9, 9, 8, 3, 3, 2, 1, 8),
                                conv_shape(17, 4, 5, 3, 1, 1, 1, 0, 1)}) {
    auto x = random_s8(static_cast<size_t>(N) * s.H * s.W * s.C, 1);
    auto w = random_s8(s.weight_count(), 2);
    std::vector<float> sw(s.K, 0.01f), bias(s.K, 0.5f);
    auto res = random_s8(static_cast<size_t>(N) * s.out_h() * s.out_w() * s.K, 3);
    k::EpilogueStorage rq = k::make_epilogue(0.05f, sw.data(), s.K, bias.data(), 0.2f, k::OutputType::kInt8);
    const size_t outs = res.size();
    check_guarded("conv2d_s8 int8", outs, [&](void* y) {
      k::ref::conv2d_s8(s, N, x.data(), w.data(), rq.epilogue(res.data(), 0.5f), y);
    });
    k::EpilogueStorage rf = k::make_epilogue(0.05f, sw.data(), s.K, nullptr, 0.0f, k::OutputType::kFloat32);
    check_guarded("conv2d_s8 float", outs * 4, [&](void* y) {
      k::ref::conv2d_s8(s, N, x.data(), w.data(), rf.epilogue(), y);
    });
    std::vector<float> xf(x.begin(), x.end()), wf(w.begin(), w.end());
    check_guarded("conv2d_f32", outs * 4, [&](void* y) {
      k::ref::conv2d_f32(s, N, xf.data(), wf.data(), bias.data(), static_cast<float*>(y));
    });
  }

  const int M = 5;
  k::GemmShape g{13, 33};
  auto a = random_s8(M * g.K, 4), b = random_s8(g.N * g.K, 5);
  std::vector<float> sw(g.N, 0.003f);
  k::EpilogueStorage rq = k::make_epilogue(0.1f, sw.data(), g.N, nullptr, 0.05f, k::OutputType::kInt8,
                                  k::Activation::kRelu);
  check_guarded("gemm_s8", M * g.N, [&](void* y) {
    k::ref::gemm_s8(g, M, a.data(), b.data(), rq.epilogue(), y);
  });
  std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
  check_guarded("gemm_f32", M * g.N * 4, [&](void* y) {
    k::ref::gemm_f32(g, M, af.data(), bf.data(), nullptr, static_cast<float*>(y));
  });

  k::PoolShape p;
  p.C = 7; p.H = 9; p.W = 8; p.R = 3; p.S = 3; p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = 1; p.pad_bottom = 2; p.pad_right = 0;
  auto px = random_s8(static_cast<size_t>(N) * p.H * p.W * p.C, 6);
  const size_t pool_out = static_cast<size_t>(N) * p.out_h() * p.out_w() * p.C;
  check_guarded("maxpool_s8", pool_out, [&](void* y) {
    k::ref::maxpool_s8(p, N, px.data(), static_cast<int8_t*>(y));
  });
  check_guarded("avgpool_s8", pool_out, [&](void* y) {
    k::ref::avgpool_s8(p, N, px.data(), 0.1f, 0.03f, static_cast<int8_t*>(y));
  });
  check_guarded("global_avgpool_s8", N * p.C, [&](void* y) {
    k::ref::global_avgpool_s8(N, p.H * p.W, p.C, px.data(), 0.1f, 0.01f, static_cast<int8_t*>(y));
  });
  std::vector<float> pxf(px.begin(), px.end());
  check_guarded("maxpool_f32", pool_out * 4, [&](void* y) {
    k::ref::maxpool_f32(p, N, pxf.data(), static_cast<float*>(y));
  });
  check_guarded("avgpool_f32", pool_out * 4, [&](void* y) {
    k::ref::avgpool_f32(p, N, pxf.data(), static_cast<float*>(y));
  });

  const int64_t n = 1000;
  auto ea = random_s8(n, 7), eb = random_s8(n, 8);
  k::AddParams ap = k::make_add_params(0.1f, 0.07f, 0.15f, false);
  check_guarded("add_s8", n, [&](void* y) {
    k::ref::add_s8(n, ea.data(), eb.data(), ap, static_cast<int8_t*>(y));
  });
  std::vector<k::ref::ConcatInput> in = {{ea.data(), 10, 1.0f},
                                         {eb.data(), 3, k::rescale_multiplier(0.2f, 0.1f)}};
  check_guarded("concat_s8", 13 * 50, [&](void* y) {
    k::ref::concat_s8(50, in, static_cast<int8_t*>(y));
  });
  std::vector<float> fx(n);
  for (int64_t i = 0; i < n; ++i) fx[i] = static_cast<float>(i - 500) * 0.37f;
  check_guarded("quantize_s8", n, [&](void* y) {
    k::ref::quantize_s8(n, fx.data(), 0.9f, 0, static_cast<int8_t*>(y));
  });
  check_guarded("dequantize_s8", n * 4, [&](void* y) {
    k::ref::dequantize_s8(n, ea.data(), 0.9f, static_cast<float*>(y));
  });
}

TEST(RefKernels, EpilogueArithmetic) {
  const float scale[2] = {0.5f, 0.25f}, bias[2] = {0.0f, 1.0f};
  k::Epilogue ep;
  ep.scale = scale;
  ep.bias = bias;
  ep.clamp_lo = -128.0f;
  ep.clamp_hi = 127.0f;
  // Ties go to even: 1.5 -> 2, 2.5 -> 2, -2.5 -> -2; 0.25*6 + 1 = 2.5 -> 2.
  EXPECT_EQ(k::ref::round_to_s8(k::ref::requantize(3, 0, ep, 0)), 2);
  EXPECT_EQ(k::ref::round_to_s8(k::ref::requantize(5, 0, ep, 0)), 2);
  EXPECT_EQ(k::ref::round_to_s8(k::ref::requantize(-5, 0, ep, 0)), -2);
  EXPECT_EQ(k::ref::round_to_s8(k::ref::requantize(6, 1, ep, 0)), 2);
  EXPECT_EQ(k::ref::requantize(100000, 0, ep, 0), 127.0f);
  EXPECT_EQ(k::ref::requantize(-100000, 0, ep, 0), -128.0f);
  const int8_t residual = -7;
  ep.residual = &residual;
  ep.residual_scale = 0.5f;
  EXPECT_EQ(k::ref::requantize(10, 0, ep, residual), 5.0f - 3.5f);
  EXPECT_EQ(k::ref::quantize_value(0.25f, 1.0f / 0.5f), 0);  // 0.5 -> 0
  EXPECT_EQ(k::ref::quantize_value(1e9f, 1.0f), 127);
  EXPECT_EQ(k::ref::quantize_value(std::nanf(""), 1.0f), -128);
}

TEST(RefKernels, EpilogueAndShapeValidation) {
  const float scale[1] = {1.0f};
  k::Epilogue ep;
  ep.scale = scale;
  ep.clamp_lo = -129.0f;
  ep.clamp_hi = 127.0f;
  EXPECT_THROW(k::check_epilogue(ep, "t"), int8rt::InvalidArgument);
  ep.out_type = k::OutputType::kFloat32;
  EXPECT_NO_THROW(k::check_epilogue(ep, "t"));
  k::ConvShape s = conv_shape(6, 5, 5, 4, 3, 3, 1, 1, 4);
  try {
    s.validate();
    FAIL() << "C=6 with groups=4 accepted";
  } catch (const int8rt::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("C=6 is not divisible by groups=4"), std::string::npos);
  }
  s.groups = 2;
  EXPECT_EQ(s.out_h(), 6);  // (5 + 1 + 2 - 3) / 1 + 1, pad_bottom = pad + 1
  EXPECT_EQ(s.out_w(), 5);
  s.C = 2 * 16000;
  s.groups = 1;  // reduction 32000 * 9 > 131071
  EXPECT_THROW(s.validate(), int8rt::InvalidArgument);
}

// A candidate with a fixed ISA that declines with `reason` ("" accepts).
class FakeConv final : public k::ConvKernel {
 public:
  FakeConv(const char* name, k::Isa isa, std::string reason)
      : name_(name), isa_(isa), reason_(std::move(reason)) {}
  const char* name() const override { return name_; }
  k::Isa isa() const override { return isa_; }
  std::string supports(const k::ConvShape&, k::OutputType) const override { return reason_; }
  std::unique_ptr<k::PackedConv> pack(const k::ConvShape&, const int8_t*) const override {
    throw int8rt::NotSupported("fake");
  }

 private:
  const char* name_;
  k::Isa isa_;
  std::string reason_;
};

TEST(Registry, WalksListInOrderAndLogs) {
  FakeConv declines("conv_s8_fake_1x1_ref", k::Isa::kRef, "only 1x1 kernels");
  FakeConv amx("conv_s8_fake_amx", k::Isa::kAmx, "");
  FakeConv avx2("conv_s8_fake_avx2", k::Isa::kAvx2, "");
  const k::ConvKernel* ref = &k::reference_kernel<k::ConvKernel>();
  ASSERT_STREQ(ref->name(), "conv_s8_ref");
  std::vector<const k::ConvKernel*> list = {&amx, &avx2, &declines, ref};
  k::ConvShape s = conv_shape(4, 5, 5, 4, 3, 3, 1, 1, 1);

  k::set_max_isa(k::Isa::kRef);
  setenv("INT8RT_LOG", "dispatch", 1);
  testing::internal::CaptureStderr();
  const k::ConvKernel& chosen = k::choose_from<k::ConvKernel>(list, s, k::OutputType::kInt8);
  std::string log = testing::internal::GetCapturedStderr();
  unsetenv("INT8RT_LOG");
  k::set_max_isa(std::nullopt);

  EXPECT_EQ(&chosen, ref);
  const std::string avx2_reason =
      k::cpu_supports_isa(k::Isa::kAvx2) ? "ISA avx2 above cap ref" : "CPU lacks avx2";
  const std::string amx_reason =
      k::cpu_supports_isa(k::Isa::kAmx) ? "ISA amx above cap ref" : "CPU lacks amx";
  EXPECT_EQ(log, "int8rt dispatch: conv_s8 [C=4 H=5 W=5 K=4 R=3 S=3 stride=1x1 pads=1,1,2,1 "
                 "dilation=1x1 groups=1 out=int8] -> conv_s8_ref (ref); passed over: "
                 "conv_s8_fake_amx: " + amx_reason + "; conv_s8_fake_avx2: " + avx2_reason +
                 "; conv_s8_fake_1x1_ref: only 1x1 kernels\n");

  // Without the cap, avx2 wins where the CPU has it.
  const k::ConvKernel& uncapped = k::choose_from<k::ConvKernel>(list, s, k::OutputType::kInt8);
  if (k::cpu_supports_isa(k::Isa::kAvx2) && !k::cpu_supports_isa(k::Isa::kAmx)) {
    EXPECT_EQ(&uncapped, &avx2);
  }
  EXPECT_THROW(k::choose_from<k::ConvKernel>({&declines}, s, k::OutputType::kInt8), int8rt::NotSupported);
  EXPECT_THROW(k::parse_isa("avx-512"), int8rt::InvalidArgument);
  for (k::Isa isa : k::kAllIsas) EXPECT_EQ(k::parse_isa(k::isa_name(isa)), isa);
}

TEST(Registry, PackedConvRunsConcurrently) {
  k::ConvShape s = conv_shape(12, 10, 9, 16, 3, 3, 1, 1, 2);
  auto w = random_s8(s.weight_count(), 9);
  std::vector<float> sw(s.K, 0.004f);
  k::EpilogueStorage rq = k::make_epilogue(0.1f, sw.data(), s.K, nullptr, 0.3f, k::OutputType::kInt8);
  const k::ConvKernel& kernel = k::choose<k::ConvKernel>(s, k::OutputType::kInt8);
  auto packed = kernel.pack(s, w.data());
  const int batch = 2;
  const size_t in_n = static_cast<size_t>(batch) * s.H * s.W * s.C;
  const size_t out_n = static_cast<size_t>(batch) * s.out_h() * s.out_w() * s.K;
  constexpr int kThreads = 4;
  std::vector<std::vector<int8_t>> xs, expected(kThreads, std::vector<int8_t>(out_n)),
      got(kThreads, std::vector<int8_t>(out_n));
  for (int t = 0; t < kThreads; ++t) {
    xs.push_back(random_s8(in_n, 100 + t));
    k::ref::conv2d_s8(s, batch, xs[t].data(), w.data(), rq.epilogue(), expected[t].data());
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) {
        packed->run(batch, xs[t].data(), rq.epilogue(), got[t].data());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(got[t], expected[t]) << "thread " << t;
}

TEST(CpuFeatures, Implications) {
  const int8rt::CpuFeatures& f = int8rt::cpu_features();
  if (f.avx512bw || f.avx512vl || f.avx512dq || f.avx512_vnni) {
    EXPECT_TRUE(f.avx512f);
  }
  if (f.avx512f) {
    EXPECT_TRUE(f.os_saves_zmm);
  }
  if (f.avx2) {
    EXPECT_TRUE(f.os_saves_ymm);
  }
  if (f.amx_int8 || f.amx_bf16) {
    EXPECT_TRUE(f.amx_tile);
  }
  if (f.amx_tile) {
    EXPECT_TRUE(f.amx_permission && f.os_saves_tiles);
  }
#if defined(__x86_64__)
  EXPECT_FALSE(f.vendor.empty());
#endif
  EXPECT_TRUE(k::cpu_supports_isa(k::cpu_max_isa()));
}

}  // namespace
