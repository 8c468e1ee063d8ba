// The blocked SGEMM (kernels/sgemm_f32.h), with every
// microkernel this CPU runs (AVX-512, AVX2+FMA, portable: FMA or not, the
// bound below holds for all), against a double precision triple loop, over sizes around the register tile (6 x 8), the
// K slice (256) and the M block (96), all four transpose combinations,
// accumulate, and ldc > N. Bound: the standard float summation bound
// |err| <= K * 2^-24 * sum_k |a_ik * b_kj| (times 2 for the final C add),
// which any summation order meets. Results must also be bit-identical for
// 1 and 2 threads (the k order is fixed per output element).
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <random>
#include <vector>

#include "int8rt/threading.h"
#include "kernels/registry.h"
#include "kernels/sgemm_f32.h"

namespace int8rt {
namespace kernels {
namespace {

struct Case {
  int64_t M, N, K;
  bool ta, tb, acc;
};

std::vector<const SgemmKernel*> runnable() {
  std::vector<const SgemmKernel*> out;
  for (const SgemmKernel* k : candidates<SgemmKernel>()) {
    if (isa_enabled(k->isa())) out.push_back(k);
  }
  return out;
}

void check_one(const SgemmKernel& uk, const Case& c) {
  std::mt19937 gen(static_cast<unsigned>(c.M * 131 + c.N * 17 + c.K));
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> a(c.M * c.K), b(c.K * c.N);
  for (float& v : a) v = dist(gen);
  for (float& v : b) v = dist(gen);
  const int64_t ldc = c.N + 3;
  std::vector<float> c0(c.M * ldc);
  for (float& v : c0) v = dist(gen);
  auto A = [&](int64_t i, int64_t k) { return c.ta ? a[k * c.M + i] : a[i * c.K + k]; };
  auto B = [&](int64_t k, int64_t j) { return c.tb ? b[j * c.K + k] : b[k * c.N + j]; };
  GemmOperand ga{a.data(), c.ta ? c.M : c.K, c.ta}, gb{b.data(), c.tb ? c.K : c.N, c.tb};

  std::vector<float> y1 = c0, y2 = c0;
  set_num_threads(1);
  sgemm(uk, c.M, c.N, c.K, ga, gb, y1.data(), ldc, c.acc);
  set_num_threads(2);
  sgemm(uk, c.M, c.N, c.K, ga, gb, y2.data(), ldc, c.acc);
  set_num_threads(0);
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const float got = y1[i * ldc + j];
      ASSERT_EQ(got, y2[i * ldc + j]) << "threads differ at " << i << "," << j;
      if (j >= c.N) {
        ASSERT_EQ(got, c0[i * ldc + j]) << "wrote past N at " << i << "," << j;
        continue;
      }
      double ref = c.acc ? c0[i * ldc + j] : 0.0, mag = c.acc ? std::fabs(ref) : 0.0;
      for (int64_t k = 0; k < c.K; ++k) {
        ref += static_cast<double>(A(i, k)) * B(k, j);
        mag += std::fabs(static_cast<double>(A(i, k)) * B(k, j));
      }
      const double bound = 2.0 * (c.K + 1) * std::ldexp(1.0, -24) * mag + 1e-30;
      ASSERT_LE(std::fabs(got - ref), bound) << uk.name() << " M=" << c.M << " N=" << c.N << " K=" << c.K << " ta=" << c.ta
                                             << " tb=" << c.tb << " acc=" << c.acc << " at " << i << "," << j;
    }
  }
}

void check(const Case& c) {
  for (const SgemmKernel* uk : runnable()) check_one(*uk, c);
}

TEST(Fp32Gemm, EveryTierIsCompiledAndTheRefTierIsPortable) {
  const std::vector<const SgemmKernel*> list = candidates<SgemmKernel>();
  ASSERT_GE(list.size(), 1u);
  EXPECT_STREQ(list.back()->name(), "sgemm_6x8_portable");
  EXPECT_EQ(list.back()->isa(), Isa::kRef);
  set_max_isa(Isa::kRef);
  EXPECT_STREQ(choose<SgemmKernel>().name(), "sgemm_6x8_portable");
  set_max_isa(std::nullopt);
}

TEST(Fp32Gemm, MatchesTripleLoop) {
  for (int64_t M : {1, 5, 6, 7, 8, 9, 13, 96, 97, 200}) {
    for (int64_t N : {1, 7, 8, 9, 16, 17, 31, 33, 65, 130}) {
      for (int64_t K : {1, 3, 255, 257}) {
        for (int t = 0; t < 4; ++t) check({M, N, K, (t & 1) != 0, (t & 2) != 0, ((M + N + K + t) & 1) != 0});
      }
    }
  }
}

TEST(Fp32Gemm, LargeParallelShapes) {
  check({300, 600, 520, false, false, false});
  check({64, 3136, 576, false, false, true});
}

TEST(Fp32Gemm, ZeroK) {
  std::vector<float> y(6, 5.f);
  sgemm(choose<SgemmKernel>(), 2, 3, 0, {nullptr, 0, false}, {nullptr, 3, false}, y.data(), 3, false);
  for (float v : y) EXPECT_EQ(v, 0.f);
}

}  // namespace
}  // namespace kernels
}  // namespace int8rt
