// x86 kernels from C++, against the reference kernels: every candidate the
// CPU runs (and the cap allows) over shapes at the tile edges, with guard
// bytes after every output buffer (masked tails must not write past the
// last channel), every output element written (two differently pre-filled
// buffers agree), output equal to ref::conv2d_s8 / ref::gemm_s8 byte for
// byte (int8 and float32, residual or not); packing must not retain the
// caller's weights; one packed layer run from several threads at once.
// The wide NumPy sweeps live in tests/test_x86_kernels.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/registry.h"

namespace k = int8rt::kernels;

namespace {

using int8rt::testing::expect_same;
using int8rt::testing::random_s8;
using int8rt::testing::run_guarded;

std::vector<float> random_f32(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

k::ConvShape shape(int C, int H, int W, int K, int R, int S, int stride, int pad, int groups) {
  k::ConvShape s;
  s.C = C; s.H = H; s.W = W; s.K = K; s.R = R; s.S = S;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = pad;
  s.pad_bottom = pad + 1;  // asymmetric
  s.pad_right = pad;
  s.groups = groups;
  return s;
}

std::string describe(const k::ConvShape& s) {
  return "C" + std::to_string(s.C) + " H" + std::to_string(s.H) + " W" + std::to_string(s.W) +
         " K" + std::to_string(s.K) + " " + std::to_string(s.R) + "x" + std::to_string(s.S) +
         " stride" + std::to_string(s.stride_h) + " g" + std::to_string(s.groups);
}

std::vector<const k::ConvKernel*> usable_conv(const k::ConvShape& s, k::OutputType out) {
  std::vector<const k::ConvKernel*> v;
  for (const k::ConvKernel* c : k::candidates<k::ConvKernel>()) {
    if (c->isa() != k::Isa::kRef && k::decline_reason(*c, s, out).empty()) v.push_back(c);
  }
  return v;
}

}  // namespace

TEST(X86Kernels, ConvEqualsReferenceWithGuards) {
  const std::vector<k::ConvShape> shapes = {
      shape(1, 5, 7, 1, 1, 1, 1, 0, 1),    shape(17, 5, 7, 17, 1, 1, 1, 0, 1),
      shape(20, 3, 4, 65, 1, 1, 1, 0, 1),  shape(3, 11, 11, 64, 7, 7, 2, 3, 1),
      shape(13, 6, 5, 33, 3, 3, 1, 1, 1),  shape(16, 6, 5, 49, 3, 3, 2, 1, 1),
      shape(20, 5, 6, 68, 3, 3, 1, 1, 4),  shape(17, 7, 7, 17, 3, 3, 1, 1, 17),
      shape(33, 8, 7, 33, 5, 5, 2, 2, 33), shape(65, 4, 5, 65, 3, 3, 1, 1, 65),
  };
  uint32_t seed = 1;
  for (const k::ConvShape& s : shapes) {
    for (k::OutputType out : {k::OutputType::kInt8, k::OutputType::kFloat32}) {
      for (bool with_res : {false, true}) {
        const int N = 2, OH = s.out_h(), OW = s.out_w();
        const size_t n_out = static_cast<size_t>(N) * OH * OW * s.K;
        const size_t eb = out == k::OutputType::kInt8 ? 1 : 4;
        std::vector<int8_t> x = random_s8(static_cast<size_t>(N) * s.H * s.W * s.C, seed++);
        std::vector<int8_t> w = random_s8(static_cast<size_t>(s.weight_count()), seed++);
        // Weights in [-127, 127] with a residual (AVX2 packs its sign-trick
        // microkernel for them), holding -128 without (its int16 one).
        if (with_res) std::replace(w.begin(), w.end(), int8_t{-128}, int8_t{-127});
        std::vector<int8_t> res = random_s8(n_out, seed++);
        const float amax = 128.0f * 128.0f * (s.C / s.groups) * s.R * s.S;
        std::vector<float> scale = random_f32(s.K, 20.0f / amax, 60.0f / amax, seed++);
        std::vector<float> bias = random_f32(s.K, -10.0f, 10.0f, seed++);
        k::Epilogue ep;
        ep.scale = scale.data();
        ep.bias = bias.data();
        ep.out_type = out;
        ep.clamp_lo = out == k::OutputType::kInt8 ? -128.0f : -1e30f;
        ep.clamp_hi = out == k::OutputType::kInt8 ? 127.0f : 1e30f;
        if (with_res) {
          ep.residual = res.data();
          ep.residual_scale = 0.61f;
        }
        const std::vector<uint8_t> want = run_guarded("ref", n_out * eb, [&](void* y) {
          k::ref::conv2d_s8(s, N, x.data(), w.data(), ep, y);
        });
        for (const k::ConvKernel* kern : usable_conv(s, out)) {
          std::vector<int8_t> wcopy = w;
          auto packed = kern->pack(s, wcopy.data());
          std::fill(wcopy.begin(), wcopy.end(), int8_t{99});  // pack must not keep it
          const std::string what = std::string(kern->name()) + " " + describe(s) +
                                   (eb == 1 ? " int8" : " float32") +
                                   (with_res ? " residual" : "");
          const std::vector<uint8_t> got = run_guarded(
              what, n_out * eb, [&](void* y) { packed->run(N, x.data(), ep, y); });
          expect_same(what, got, want, eb);
        }
      }
    }
  }
}

TEST(X86Kernels, GemmEqualsReferenceWithGuards) {
  uint32_t seed = 100;
  for (int M : {1, 5, 6, 7, 13}) {
    for (int N : {1, 15, 16, 17, 63, 64, 65, 129}) {
      for (int K : {1, 3, 4, 5, 64, 257}) {
        const k::GemmShape s{N, K};
        std::vector<int8_t> a = random_s8(static_cast<size_t>(M) * K, seed++);
        std::vector<int8_t> b = random_s8(static_cast<size_t>(N) * K, seed++);
        std::vector<int8_t> res = random_s8(static_cast<size_t>(M) * N, seed++);
        std::vector<float> scale = random_f32(N, 20.0f / (16384.0f * K), 60.0f / (16384.0f * K),
                                              seed++);
        k::Epilogue ep;
        ep.scale = scale.data();
        ep.clamp_lo = 0.0f;  // ReLU
        ep.clamp_hi = 127.0f;
        ep.residual = res.data();
        ep.residual_scale = 0.37f;
        const size_t bytes = static_cast<size_t>(M) * N;
        const std::vector<uint8_t> want = run_guarded("ref", bytes, [&](void* y) {
          k::ref::gemm_s8(s, M, a.data(), b.data(), ep, y);
        });
        for (const k::GemmKernel* kern : k::candidates<k::GemmKernel>()) {
          if (kern->isa() == k::Isa::kRef || !k::decline_reason(*kern, s, ep.out_type).empty())
            continue;
          auto packed = kern->pack(s, b.data());
          const std::string what = std::string(kern->name()) + " M" + std::to_string(M) + " N" +
                                   std::to_string(N) + " K" + std::to_string(K);
          expect_same(what, run_guarded(what, bytes, [&](void* y) {
                        packed->run(M, a.data(), ep, y);
                      }), want, 1);
        }
      }
    }
  }
}

TEST(X86Kernels, PackedLayerRunsConcurrently) {
  const k::ConvShape s = shape(32, 12, 12, 48, 3, 3, 1, 1, 1);
  std::vector<int8_t> x = random_s8(static_cast<size_t>(s.H) * s.W * s.C, 7);
  std::vector<int8_t> w = random_s8(static_cast<size_t>(s.weight_count()), 8);
  std::vector<float> scale(s.K, 1e-4f);
  k::Epilogue ep;
  ep.scale = scale.data();
  ep.clamp_lo = -128.0f;
  ep.clamp_hi = 127.0f;
  const size_t n_out = static_cast<size_t>(s.out_h()) * s.out_w() * s.K;
  std::vector<int8_t> want(n_out);
  k::ref::conv2d_s8(s, 1, x.data(), w.data(), ep, want.data());
  for (const k::ConvKernel* kern : usable_conv(s, k::OutputType::kInt8)) {
    auto packed = kern->pack(s, w.data());
    std::vector<std::vector<int8_t>> outs(4, std::vector<int8_t>(n_out));
    std::vector<std::thread> threads;
    for (auto& o : outs) {
      threads.emplace_back([&packed, &x, &ep, &o] {
        for (int rep = 0; rep < 5; ++rep) packed->run(1, x.data(), ep, o.data());
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& o : outs) EXPECT_EQ(o, want) << kern->name();
  }
}
