// The AMX GEMM's table epilogue (Epilogue::table, kernel_types.h; the step
// in amx/table_rows.h, called from amx/igemm_32x32c4.cc): a GEMM run with a
// 256-entry table gives, byte for byte, the same GEMM run without it and
// then looked up (table[q + 128]: int8rt.QLut's rule), through the emulated
// twin (any x86-64 CPU) and the library's native AMX kernel where the CPU
// and OS grant AMX. Shapes around the driver's edges: rows 1..517 (a
// call's several 32-row tiles, the last partial), channels 1..100 (a step's
// 32 and the pair's 64, partial blocks), reductions read in place (64) and
// gathered (5, 130); guard bytes after every output.
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "int8rt/error.h"
#include "kernel_test_util.h"
#include "kernels/registry.h"
#include "kernels/x86/x86_kernels.h"
#include "twins/x86_twins.h"

namespace k = int8rt::kernels;

namespace {

using int8rt::testing::expect_same;
using int8rt::testing::random_s8;
using int8rt::testing::run_guarded;
using int8rt::testing::uniform_f32;

std::vector<const k::GemmKernel*> amx_gemms() {
  static const k::x86::AmxGemmKernel emulated(x86_twins::kAmxEmulated);
  std::vector<const k::GemmKernel*> v = {&emulated};
  if (x86_twins::native_reason(k::Isa::kAmx).empty()) v.push_back(x86_twins::native(k::Isa::kAmx).gemm);
  return v;
}

void check_table(const k::GemmKernel& g, int M, int N, int K, uint32_t seed) {
  const k::GemmShape s{N, K};
  const std::vector<int8_t> a = random_s8(static_cast<size_t>(M) * K, seed);
  const std::vector<int8_t> w = random_s8(static_cast<size_t>(N) * K, seed + 1);
  const std::vector<int8_t> table = random_s8(256, seed + 2);
  // Outputs spread over the int8 range (not saturated): |acc| is about 128 * 128 * sqrt(K) / 3.
  const float amax = 128.0f * 128.0f * static_cast<float>(K);
  const std::vector<float> scale = uniform_f32(N, seed + 3, 40.0f / amax, 160.0f / amax);
  const std::vector<float> bias = uniform_f32(N, seed + 4, -20.0f, 20.0f);
  k::Epilogue ep;
  ep.scale = scale.data();
  ep.bias = bias.data();
  ep.clamp_lo = -128.0f;
  ep.clamp_hi = 127.0f;
  const auto packed = g.pack(s, w.data());
  ASSERT_TRUE(packed->applies_table()) << g.name();
  const size_t n_out = static_cast<size_t>(M) * N;
  const std::string what = std::string(g.name()) + " M=" + std::to_string(M) + " N=" + std::to_string(N) +
                           " K=" + std::to_string(K) + " table";
  std::vector<uint8_t> want = run_guarded(what + " (unfused)", n_out, [&](void* y) {
    packed->run(M, a.data(), ep, y);
  });
  for (uint8_t& q : want) q = static_cast<uint8_t>(table[static_cast<uint8_t>(q ^ 0x80)]);
  k::Epilogue with = ep;
  with.table = table.data();
  expect_same(what, run_guarded(what, n_out, [&](void* y) { packed->run(M, a.data(), with, y); }), want, 1);
}

TEST(AmxGemmTable, EqualsTheGemmThenTheLookup) {
  if (!int8rt::cpu_features().avx512vbmi) GTEST_SKIP() << "CPU lacks AVX512-VBMI: the AMX driver takes no table";
  uint32_t seed = 700;
  for (const k::GemmKernel* g : amx_gemms()) {
    for (int M : {1, 17, 33, 130, 517}) {
      for (int N : {1, 17, 32, 33, 64, 100}) {
        for (int K : {5, 64, 130}) {
          check_table(*g, M, N, K, seed += 5);
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST(AmxGemmTable, OnlyAnIntOutputTakesATable) {
  const int8_t table[256] = {};
  const float scale = 1.0f;
  k::Epilogue ep;
  ep.scale = &scale;
  ep.table = table;
  ep.out_type = k::OutputType::kFloat32;
  EXPECT_THROW(k::check_epilogue(ep, "gemm"), int8rt::InvalidArgument);
  ep.out_type = k::OutputType::kInt8;
  ep.clamp_lo = -128.0f;
  ep.clamp_hi = 127.0f;
  EXPECT_NO_THROW(k::check_epilogue(ep, "gemm"));
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
