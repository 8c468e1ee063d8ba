// The x86 kernels of ISAs this CPU may lack, against the reference kernels,
// byte for byte, through their twins (tests/cpp/CMakeLists.txt):
//   AMX, emulated      - amx/*.cc compiled against amx_emulation.h, its
//                        AVX-512 epilogue against avx512_emulation.h; runs on
//                        any x86-64 CPU;
//   AVX-VNNI, emulated - avxvnni/*.cc with the exact AVX2 vpdpbusd /
//                        vpdpwssd of avxvnni_emulation.h; runs on any AVX2
//                        CPU;
//   AVX-VNNI, EVEX     - avxvnni/*.cc with the EVEX twins of VEX vpdpbusd /
//                        vpdpwssd; runs where AVX512-VNNI does;
// each driven by the library's AMX, igemm and depthwise drivers; and the
// library's native AMX / AVX-VNNI kernels where the CPU and OS grant them.
// X86Twins.WhichRan prints which ran (and skips with the reason when a
// native kernel cannot). Shapes sweep the tile edges (pixels, channels and
// reduction around 6 / 8 / 16 / 32 / 64, primes), 1x1 read in place and
// gathered, RxS windows with strides, asymmetric padding, dilation, groups,
// the C = 3 stem, batch 1 and 3, all -128 / all 127 data, residual, int8
// and float outputs, with guard bytes after every output; and GEMMs whose B
// is an activation (attention's products), packed per run into a reused slot.
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/registry.h"
#include "kernels/x86/x86_kernels.h"
#include "twins/x86_twins.h"

namespace k = int8rt::kernels;

namespace {

using namespace x86_twins;

using int8rt::testing::expect_same;
using int8rt::testing::random_s8;
using int8rt::testing::run_guarded;
using int8rt::testing::uniform_f32;

#define REQUIRE_KERNELS(list) \
  if ((list).empty()) GTEST_SKIP() << "CPU lacks AVX2 (the AVX-VNNI twins' ISA) and AVX-VNNI"

enum class Fill { kRandom, kAllMin, kAllMax };

std::vector<int8_t> data(size_t n, uint32_t seed, Fill fill, int8_t extreme) {
  if (fill == Fill::kRandom) return random_s8(n, seed);
  return std::vector<int8_t>(n, extreme);
}

void check_conv(const Under& u, const k::ConvShape& s, int batch, k::OutputType out,
                bool with_res, Fill fill, uint32_t seed) {
  const size_t n_out = static_cast<size_t>(batch) * s.out_h() * s.out_w() * s.K;
  const size_t eb = out == k::OutputType::kInt8 ? 1 : 4;
  const std::vector<int8_t> x =
      data(static_cast<size_t>(batch) * s.H * s.W * s.C, seed, fill, -128);
  const std::vector<int8_t> w = data(static_cast<size_t>(s.weight_count()), seed + 1, fill,
                                     fill == Fill::kAllMax ? 127 : -128);
  const std::vector<int8_t> res = random_s8(n_out, seed + 2);
  SweepEpilogue sweep(s, out, seed + 3);
  k::Epilogue& ep = sweep.ep;
  if (with_res) {
    ep.residual = res.data();
    ep.residual_scale = 0.61f;
  }
  const std::vector<uint8_t> want = run_guarded("ref", n_out * eb, [&](void* y) {
    k::ref::conv2d_s8(s, batch, x.data(), w.data(), ep, y);
  });
  std::vector<int8_t> wcopy = w;
  auto packed = u.conv->pack(s, wcopy.data());
  std::fill(wcopy.begin(), wcopy.end(), int8_t{99});  // pack must not keep it
  const std::string what = std::string(u.conv->name()) + " " + describe(s, batch) +
                           (eb == 1 ? " int8" : " float32") + (with_res ? " residual" : "") +
                           (fill == Fill::kAllMin ? " all-128" : fill == Fill::kAllMax ? " 127x-128" : "");
  expect_same(what, run_guarded(what, n_out * eb, [&](void* y) {
                packed->run(batch, x.data(), ep, y);
              }), want, eb);
}

TEST(X86Twins, WhichRan) {
  std::string skipped;
  for (k::Isa isa : {k::Isa::kAmx, k::Isa::kAvxVnni}) {
    const std::string why = native_reason(isa);
    if (isa == k::Isa::kAmx) {
      std::printf("amx: emulated twin ran; ");
    } else {
      std::printf("avxvnni: emulated twin %s; evex twin %s; ",
                  emulated_avxvnni_runs() ? "ran" : "not run (CPU lacks AVX2)",
                  evex_twin_runs() ? "ran" : "not run (CPU lacks AVX512-VNNI)");
    }
    std::printf("native %s\n", why.empty() ? "ran" : ("not run: " + why).c_str());
    if (!why.empty()) skipped += std::string(k::isa_name(isa)) + ": " + why + "; ";
    else EXPECT_NE(native(isa).conv, nullptr);
  }
  if (!skipped.empty()) GTEST_SKIP() << "native kernels not run: " << skipped;
}

TEST(X86Twins, ConvEqualsReference) {
  const std::vector<Under> under = kernels_under_test();
  REQUIRE_KERNELS(under);
  const std::vector<Conv> shapes = {
      // C, H, W, K, R, S, stride, pad, dilation, groups
      {64, 5, 7, 16, 1, 1, 1, 0, 1, 1},     // 1x1 read in place, 35 pixels (32 + 3)
      {128, 4, 8, 33, 1, 1, 1, 0, 1, 1},    // in place, 32 pixels, 2 chunks, K 33
      {128, 3, 5, 34, 1, 1, 1, 0, 1, 2},    // in place per group (64 in, 17 out each)
      {17, 4, 4, 17, 1, 1, 1, 0, 1, 1},     // gathered: 16 pixels, K 17
      {65, 3, 11, 47, 1, 1, 1, 0, 1, 1},    // 33 pixels, reduction 65 (2 chunks)
      {64, 9, 9, 64, 1, 1, 2, 0, 1, 1},     // 1x1 stride 2: gathered
      {64, 33, 34, 40, 1, 1, 2, 0, 1, 1},   // 1x1 stride 2, 17 x 17 out: AMX output rows in place (16 + 1)
      {96, 5, 69, 33, 1, 1, 2, 0, 1, 1},    // in place rows of 35 (32 + 3), C 96 reads on; the last row gathered
      {32, 4, 50, 20, 1, 1, 3, 0, 1, 1},    // stride 3, 2 x 17 out, C 32 (a chunk over two pixels)
      {13, 6, 5, 32, 3, 3, 1, 1, 1, 1},     // 3x3, reduction 117
      {64, 9, 9, 64, 3, 3, 1, 1, 1, 1},     // reduction 576 = 9 chunks
      {16, 7, 6, 49, 3, 3, 2, 1, 1, 1},     // stride 2
      {3, 23, 23, 64, 7, 7, 2, 3, 1, 1},    // the C = 3 stem (147 = 3 chunks)
      {3, 13, 13, 32, 3, 3, 2, 1, 1, 1},    // MobileNet stem (27)
      {8, 9, 10, 24, 3, 3, 1, 2, 2, 1},     // dilation 2
      {20, 5, 6, 68, 3, 3, 1, 1, 1, 4},     // groups 4 (5 in, 17 out each)
      {12, 6, 9, 20, 5, 3, 1, 2, 1, 1},     // 5x3 window
      {67, 5, 5, 15, 2, 2, 1, 0, 1, 1},     // 2x2, K 15, reduction 268
      {9, 5, 7, 9, 3, 3, 1, 1, 1, 1},       // K 9: one block of 8 + 1
      {64, 8, 8, 64, 3, 3, 1, 1, 1, 64},    // depthwise (kernels decline it; still exact)
      {64, 16, 16, 64, 3, 3, 1, 1, 1, 1},   // over 4M multiply-adds: threaded work items
      {128, 5, 4, 72, 3, 3, 1, 1, 1, 1},    // AVX-VNNI runs of 3 + 2 channel tiles (kRunWeightBytes)
      {64, 33, 31, 40, 1, 1, 1, 0, 1, 1},   // in place, 1023 pixels a batch: AMX calls of 2 or 4 tiles, the last partial
  };
  uint32_t seed = 1;
  for (const Under& u : under) {
    for (const Conv& c : shapes) {
      const k::ConvShape s = make(c);
      for (int batch : {1, 3}) {
        check_conv(u, s, batch, k::OutputType::kInt8, batch == 3, Fill::kRandom, seed += 10);
      }
      check_conv(u, s, 2, k::OutputType::kFloat32, true, Fill::kRandom, seed += 10);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// Depthwise through the AVX-VNNI kernel (twin and native): channels around
// its 8-wide blocks and 16-wide groups, 3x3 stride 1 and 2 (the shared
// column tiles), 5x5, dilation, 1-wide rows (border pixels only), widths
// around the 4-pixel tile, asymmetric padding, residual, float output.
TEST(X86Twins, DepthwiseEqualsReference) {
  const std::vector<const k::ConvKernel*> dws = dw_kernels_under_test();
  if (dws.empty()) GTEST_SKIP() << "CPU lacks AVX2 (the AVX-VNNI twins' ISA) and AVX-VNNI";
  uint32_t seed = 900;
  for (const k::ConvKernel* dw : dws) {
    const Under u{dw, nullptr};
    for (int c : {1, 7, 8, 9, 15, 16, 17, 24, 31, 33, 144}) {
      for (const Conv& g : {Conv{c, 7, 13, c, 3, 3, 1, 1, 1, c}, Conv{c, 9, 10, c, 3, 3, 2, 1, 1, c},
                            Conv{c, 8, 11, c, 5, 5, 1, 2, 1, c}, Conv{c, 7, 9, c, 3, 3, 1, 2, 2, c},
                            Conv{c, 5, 1, c, 3, 3, 1, 1, 1, c}, Conv{c, 6, 6, c, 3, 3, 2, 0, 1, c}}) {
        const k::ConvShape s = make(g);
        check_conv(u, s, 1, k::OutputType::kInt8, false, Fill::kRandom, seed += 10);
        check_conv(u, s, 2, k::OutputType::kInt8, true, Fill::kRandom, seed += 10);
        check_conv(u, s, 1, k::OutputType::kFloat32, true, Fill::kRandom, seed += 10);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    for (Fill f : {Fill::kAllMin, Fill::kAllMax}) {
      check_conv(u, make({40, 9, 9, 40, 3, 3, 1, 1, 1, 40}), 1, k::OutputType::kFloat32, false, f, 3);
      check_conv(u, make({40, 9, 9, 40, 3, 3, 2, 1, 1, 40}), 1, k::OutputType::kInt8, true, f, 4);
    }
  }
}

// Padding that reads the input's zero point (ConvShape::pad_value): the
// AMX gather and the AVX-VNNI igemm and depthwise kernels, at the int8 forms
// of the uint8 zero points 0, 1, 255 (-128, -127, 127) and one between, on
// padded shapes: borders, strides, dilation, groups, the merged-row stem,
// depthwise edge pixels and 4-pixel tiles.
TEST(X86Twins, PadValueEqualsReference) {
  std::vector<Under> under = kernels_under_test();
  for (const k::ConvKernel* dw : dw_kernels_under_test()) under.push_back({dw, nullptr});
  REQUIRE_KERNELS(under);
  const std::vector<Conv> dense = {
      {13, 6, 5, 32, 3, 3, 1, 1, 1, 1}, {16, 7, 6, 49, 3, 3, 2, 1, 1, 1}, {3, 13, 13, 32, 3, 3, 2, 1, 1, 1},
      {8, 9, 10, 24, 3, 3, 1, 2, 2, 1}, {20, 5, 6, 68, 3, 3, 1, 1, 1, 4}, {5, 4, 4, 33, 1, 1, 1, 1, 1, 1},
      {3, 11, 11, 16, 7, 7, 2, 3, 1, 1}};
  uint32_t seed = 5000;
  for (const Under& u : under) {
    const bool dw = std::string(u.conv->name()).find("_dw_") != std::string::npos;
    std::vector<Conv> shapes = dense;
    if (dw) {
      shapes.clear();
      for (int c : {7, 16, 17, 33}) {
        shapes.insert(shapes.end(), {Conv{c, 7, 13, c, 3, 3, 1, 1, 1, c}, Conv{c, 9, 10, c, 3, 3, 2, 1, 1, c},
                                     Conv{c, 8, 11, c, 5, 5, 1, 2, 1, c}, Conv{c, 7, 9, c, 3, 3, 1, 2, 2, c},
                                     Conv{c, 5, 1, c, 3, 3, 1, 1, 1, c}});
      }
    }
    for (const Conv& c : shapes) {
      for (int pad_value : {-128, -127, 127, 37}) {
        k::ConvShape s = make(c);
        s.pad_value = static_cast<int8_t>(pad_value);
        check_conv(u, s, 2, k::OutputType::kInt8, pad_value == 37, Fill::kRandom, seed += 10);
        check_conv(u, s, 1, k::OutputType::kFloat32, false, Fill::kRandom, seed += 10);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(X86Twins, ConvExtremeData) {
  const std::vector<Under> under = kernels_under_test();
  REQUIRE_KERNELS(under);
  for (const Under& u : under) {
    for (const Conv& c : {Conv{64, 6, 6, 32, 3, 3, 1, 1, 1, 1}, Conv{3, 9, 9, 16, 7, 7, 2, 3, 1, 1}}) {
      for (Fill f : {Fill::kAllMin, Fill::kAllMax}) {
        check_conv(u, make(c), 2, k::OutputType::kFloat32, false, f, 7);
        check_conv(u, make(c), 1, k::OutputType::kInt8, true, f, 8);
      }
    }
  }
}

void check_gemm(const Under& u, int M, int N, int K, k::OutputType out, uint32_t seed) {
  const k::GemmShape s{N, K};
  const std::vector<int8_t> a = random_s8(static_cast<size_t>(M) * K, seed);
  const std::vector<int8_t> b = random_s8(static_cast<size_t>(N) * K, seed + 1);
  const std::vector<int8_t> res = random_s8(static_cast<size_t>(M) * N, seed + 2);
  const std::vector<float> scale = uniform_f32(N, seed + 3, 20.0f / (16384.0f * K), 60.0f / (16384.0f * K));
  k::Epilogue ep;
  ep.scale = scale.data();
  ep.out_type = out;
  ep.clamp_lo = 0.0f;  // ReLU
  ep.clamp_hi = 127.0f;
  ep.residual = M % 2 ? res.data() : nullptr;
  ep.residual_scale = 0.37f;
  const size_t eb = out == k::OutputType::kInt8 ? 1 : 4;
  const size_t bytes = static_cast<size_t>(M) * N * eb;
  const std::vector<uint8_t> want = run_guarded("ref", bytes, [&](void* y) {
    k::ref::gemm_s8(s, M, a.data(), b.data(), ep, y);
  });
  // pack() directly: supports() is a speed policy; every shape must be right.
  auto packed = u.gemm->pack(s, b.data());
  const std::string what = std::string(u.gemm->name()) + " M" + std::to_string(M) + " N" + std::to_string(N) +
                           " K" + std::to_string(K) + (eb == 1 ? " int8" : " float32");
  expect_same(what, run_guarded(what, bytes, [&](void* y) { packed->run(M, a.data(), ep, y); }), want, eb);
}

TEST(X86Twins, GemmEqualsReference) {
  const std::vector<Under> under = kernels_under_test();
  REQUIRE_KERNELS(under);
  uint32_t seed = 500;
  for (const Under& u : under) {
    for (int M : {1, 6, 7, 15, 16, 17, 31, 32, 33, 67}) {
      for (int N : {1, 8, 9, 16, 17, 33, 64}) {
        for (int K : {1, 5, 63, 64, 65, 130}) {
          check_gemm(u, M, N, K, k::OutputType::kInt8, seed += 4);
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
}

// Enough rows that the AMX driver hands a call several tiles of 32 rows
// (A read in place: K a multiple of 64), the microkernel's steps pipelined
// across them: 517 rows (calls of 64, the last 5), 1064 (the last call 32 +
// 8: a second tile of 8 rows, tiles 2, 3, 5 unconfigured), 2085 (calls of
// 128, the last 32 + 5); K 130 is gathered (one tile per call) for contrast.
// And weights over the driver's 768 KiB (N 1040 x K 832: 845 KiB packed),
// taken in runs of channel blocks, run-major.
TEST(X86Twins, GemmManyRowsEqualsReference) {
  const std::vector<Under> under = kernels_under_test();
  REQUIRE_KERNELS(under);
  uint32_t seed = 3100;
  for (const Under& u : under) {
    for (int M : {517, 1064, 2085}) {
      for (int N : {17, 64, 80}) {
        for (int K : {64, 128, 130}) {
          check_gemm(u, M, N, K, (M + N) % 2 ? k::OutputType::kInt8 : k::OutputType::kFloat32, seed += 4);
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
    check_gemm(u, 70, 1040, 832, k::OutputType::kInt8, seed += 4);
    check_gemm(u, 33, 1040, 832, k::OutputType::kFloat32, seed += 4);
  }
}

// One packed layer run from several threads at once (each thread's tiles
// and panels are its own).
TEST(X86Twins, PackedLayerRunsConcurrently) {
  const std::vector<Under> under = kernels_under_test();
  REQUIRE_KERNELS(under);
  const k::ConvShape s = make({32, 12, 12, 48, 3, 3, 1, 1, 1, 1});
  const std::vector<int8_t> x = random_s8(static_cast<size_t>(s.H) * s.W * s.C, 7);
  const std::vector<int8_t> w = random_s8(static_cast<size_t>(s.weight_count()), 8);
  const std::vector<float> scale(s.K, 1e-4f);
  k::Epilogue ep;
  ep.scale = scale.data();
  ep.clamp_lo = -128.0f;
  ep.clamp_hi = 127.0f;
  const size_t n_out = static_cast<size_t>(s.out_h()) * s.out_w() * s.K;
  std::vector<int8_t> want(n_out);
  k::ref::conv2d_s8(s, 1, x.data(), w.data(), ep, want.data());
  for (const Under& u : under) {
    auto packed = u.conv->pack(s, w.data());
    std::vector<std::vector<int8_t>> outs(4, std::vector<int8_t>(n_out));
    std::vector<std::thread> threads;
    for (auto& o : outs) {
      threads.emplace_back([&packed, &x, &ep, &o] {
        for (int rep = 0; rep < 3; ++rep) packed->run(1, x.data(), ep, o.data());
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& o : outs) EXPECT_EQ(o, want) << u.conv->name();
  }
}

// Products of two activations as int8rt.QMatMul / QAttention run them
// (engine/ops/int8/int8_products.cc): B given per run as [K][N] (values) or
// [N][K] (keys), packed through GemmKernel::pack_per_run_into into one slot
// that every product of the sweep reuses, as a thread's slot is reused head
// after head; each head has its own data, so a slot whose buffer were not
// repacked would give the previous head's product. M, N, K around the AMX
// tile edges (16, 32 rows; 16-channel blocks; 64-byte chunks), K not a
// multiple of 4, int8 and float outputs, a per-column bias (the zero-point
// correction's form), against ref::gemm_s8 of B as [N][K].
void check_product(const k::GemmKernel& g, std::unique_ptr<k::PackedGemm>& slot, int M, int N, int K, bool kn,
                   k::OutputType out, Fill fill, uint32_t seed) {
  const std::vector<int8_t> a = data(static_cast<size_t>(M) * K, seed, fill, -128);
  const std::vector<int8_t> b = data(static_cast<size_t>(N) * K, seed + 1, fill, fill == Fill::kAllMax ? 127 : -128);
  std::vector<int8_t> b_nk = b;  // the reference's layout
  if (kn) {
    for (int n = 0; n < N; ++n)
      for (int kk = 0; kk < K; ++kk) b_nk[static_cast<size_t>(n) * K + kk] = b[static_cast<size_t>(kk) * N + n];
  }
  const float amax = 16384.0f * K;
  const std::vector<float> scale = uniform_f32(N, seed + 2, 20.0f / amax, 60.0f / amax);
  const std::vector<float> bias = uniform_f32(N, seed + 3, -10.0f, 10.0f);
  k::Epilogue ep;
  ep.scale = scale.data();
  ep.bias = bias.data();
  ep.out_type = out;
  ep.clamp_lo = -128.0f;
  ep.clamp_hi = 127.0f;
  const size_t eb = out == k::OutputType::kInt8 ? 1 : 4;
  const size_t bytes = static_cast<size_t>(M) * N * eb;
  const std::vector<uint8_t> want = run_guarded("ref", bytes, [&](void* y) {
    k::ref::gemm_s8(k::GemmShape{N, K}, M, a.data(), b_nk.data(), ep, y);
  });
  std::vector<int8_t> bcopy = b;
  g.pack_per_run_into(k::GemmShape{N, K}, bcopy.data(), kn, &slot);
  std::fill(bcopy.begin(), bcopy.end(), int8_t{99});  // packing must not keep it
  const std::string what = std::string(g.name()) + " per-run B " + (kn ? "[K][N]" : "[N][K]") + " M" +
                           std::to_string(M) + " N" + std::to_string(N) + " K" + std::to_string(K) +
                           (eb == 1 ? " int8" : " float32") +
                           (fill == Fill::kAllMin ? " all-128" : fill == Fill::kAllMax ? " 127x-128" : "");
  expect_same(what, run_guarded(what, bytes, [&](void* y) { slot->run(M, a.data(), ep, y); }), want, eb);
}

TEST(X86Twins, ActivationProductsEqualReference) {
  const std::vector<Under> under = kernels_under_test();
  REQUIRE_KERNELS(under);
  uint32_t seed = 7000;
  for (const Under& u : under) {
    std::unique_ptr<k::PackedGemm> slot;
    for (int M : {1, 15, 16, 17, 32, 33, 50}) {
      for (int N : {1, 15, 16, 17, 33, 64, 65}) {
        for (int K : {1, 3, 4, 63, 64, 65, 128, 197}) {
          for (bool kn : {true, false}) {
            for (int head = 0; head < 2; ++head) {
              const k::OutputType out = (M + head) % 2 ? k::OutputType::kInt8 : k::OutputType::kFloat32;
              check_product(*u.gemm, slot, M, N, K, kn, out, Fill::kRandom, seed += 10);
              if (::testing::Test::HasFatalFailure()) return;
            }
          }
        }
      }
    }
    for (Fill f : {Fill::kAllMin, Fill::kAllMax}) {
      for (int K : {64, 197, 256}) {
        check_product(*u.gemm, slot, 33, 64, K, true, k::OutputType::kFloat32, f, 11);
        check_product(*u.gemm, slot, 17, 65, K, false, k::OutputType::kInt8, f, 12);
      }
    }
    // Over the drivers' 4M multiply-adds: the product's own work items run threaded.
    for (bool kn : {true, false}) {
      check_product(*u.gemm, slot, 130, 128, 256, kn, k::OutputType::kInt8, Fill::kRandom, seed += 10);
    }
  }
}

// Heads on several threads at once, each thread with its own slot (the
// layer's parallel_for over products; per-thread tiles, panels and slots),
// shapes alternating between the scores' and the context's (N, K).
TEST(X86Twins, ActivationProductsRunConcurrently) {
  const std::vector<Under> under = kernels_under_test();
  REQUIRE_KERNELS(under);
  for (const Under& u : under) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&u, t] {
        std::unique_ptr<k::PackedGemm> slot;
        for (int head = 0; head < 6; ++head) {
          const bool scores = head % 2 == 0;
          check_product(*u.gemm, slot, 40, scores ? 40 : 64, scores ? 64 : 40, !scores, k::OutputType::kInt8,
                        Fill::kRandom, 9000 + 100 * t + head);
        }
      });
    }
    for (auto& th : threads) th.join();
  }
}

// The AMX per-run packing allocates once per (N, K): a thread's slot keeps
// its buffer from head to head and across the two B layouts.
TEST(X86Twins, AmxActivationSlotIsReused) {
  const k::x86::AmxGemmKernel gemm(kAmxEmulated);
  const k::GemmShape s{64, 197};
  const std::vector<int8_t> b = random_s8(static_cast<size_t>(s.N) * (s.K + 1), 3);
  std::unique_ptr<k::PackedGemm> slot;
  gemm.pack_per_run_into(s, b.data(), true, &slot);
  const k::PackedGemm* first = slot.get();
  gemm.pack_per_run_into(s, b.data(), false, &slot);
  gemm.pack_per_run_into(s, b.data(), true, &slot);
  EXPECT_EQ(slot.get(), first);
  gemm.pack_per_run_into(k::GemmShape{64, 198}, b.data(), true, &slot);  // another K: packed anew
  EXPECT_EQ(slot->shape().K, 198);
}

TEST(X86Twins, SupportsDeclinesWithReasons) {
  const k::x86::AmxConvKernel conv(kAmxEmulated);
  const k::x86::AmxGemmKernel gemm(kAmxEmulated);
  const k::x86::IgemmConvKernel vnni(kAvxVnniEmulated);
  const auto out = k::OutputType::kInt8;
  const std::string dw = conv.supports(make({32, 8, 8, 32, 3, 3, 1, 1, 1, 32}), out);
  EXPECT_NE(dw.find("depthwise"), std::string::npos) << dw;
  const std::string vdw = vnni.supports(make({32, 8, 8, 32, 3, 3, 1, 1, 1, 32}), out);
  EXPECT_NE(vdw.find("depthwise"), std::string::npos) << vdw;
  EXPECT_EQ(vnni.supports(make({20, 5, 6, 68, 3, 3, 1, 1, 1, 4}), out), "");
  const std::string tiny = conv.supports(make({4, 8, 8, 2, 1, 1, 1, 0, 1, 1}), out);
  EXPECT_NE(tiny.find("utilisation"), std::string::npos) << tiny;
  EXPECT_NE(gemm.supports(k::GemmShape{1, 8}, out), "");
  // ResNet-50 / BERT shapes and the stem are taken.
  EXPECT_EQ(conv.supports(make({64, 56, 56, 64, 3, 3, 1, 1, 1, 1}), out), "");
  EXPECT_EQ(conv.supports(make({256, 56, 56, 64, 1, 1, 1, 0, 1, 1}), out), "");
  EXPECT_EQ(conv.supports(make({3, 224, 224, 64, 7, 7, 2, 3, 1, 1}), out), "");
  EXPECT_EQ(gemm.supports(k::GemmShape{3072, 768}, out), "");
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
