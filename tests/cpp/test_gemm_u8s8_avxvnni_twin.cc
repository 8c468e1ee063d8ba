// The AVX-VNNI gemm_u8s8 tile (csrc/kernels/x86/avxvnni/gemm_u8s8_6x16c4.cc)
// through its twins (tests/cpp/CMakeLists.txt): the exact AVX2 emulation of
// vpdpbusd (any AVX2 CPU) and the EVEX encoding (AVX512-VNNI CPUs), driven
// by the library's gemm_u8s8 driver (x86/gemm_u8s8_driver.h), == the
// reference triple loop (ref::gemm_u8s8, int32 wrapping) over M, N, K
// around the 6 x 16 tile and the groups of 4 k, random and extreme bytes
// (255 x -128, 255 x 127), B packed once (pack) and B given per call
// (pack_a, int8 and uint8 B, with column sums).
#if defined(INT8RT_TEST_X86_TWINS)

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/abi/gemm_u8s8.h"
#include "kernels/gemm_u8s8.h"
#include "kernels/registry.h"
#include "kernels/x86/gemm_u8s8_driver.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace emulated {
namespace avxvnni {
GemmU8S8Fn gemm_u8s8_fn(int mr, int nb);  // avxvnni/gemm_u8s8_6x16c4.cc, emulated vpdpbusd
}  // namespace avxvnni
}  // namespace emulated
namespace avxvnni_evex {
GemmU8S8Fn gemm_u8s8_fn(int mr, int nb);  // the EVEX twin
}  // namespace avxvnni_evex
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

namespace k = int8rt::kernels;

namespace {

std::vector<const k::GemmU8S8Kernel*> twins() {
  static const k::x86::X86GemmU8S8Kernel emulated("gemm_u8s8_6x16c4_avxvnni(emulated)", k::Isa::kAvxVnni,
                                                  k::x86::emulated::avxvnni::gemm_u8s8_fn,
                                                  k::x86::avxvnni::kU8S8MR, k::x86::avxvnni::kU8S8NB);
  static const k::x86::X86GemmU8S8Kernel evex("gemm_u8s8_6x16c4_avxvnni(evex twin)", k::Isa::kAvxVnni,
                                              k::x86::avxvnni_evex::gemm_u8s8_fn, k::x86::avxvnni::kU8S8MR,
                                              k::x86::avxvnni::kU8S8NB);
  std::vector<const k::GemmU8S8Kernel*> v;
  if (k::cpu_supports_isa(k::Isa::kAvx2)) v.push_back(&emulated);
  if (k::cpu_supports_isa(k::Isa::kAvx512Vnni)) v.push_back(&evex);
  return v;
}

template <typename T>
std::vector<T> bytes(size_t n, std::mt19937& gen, int fill) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(fill >= 0 ? fill : d(gen));
  return v;
}

TEST(AvxVnniGemmU8S8Twins, PackedBEqualsTheReference) {
  const std::vector<const k::GemmU8S8Kernel*> ks = twins();
  if (ks.empty()) GTEST_SKIP() << "CPU lacks AVX2 (the emulated twin's ISA)";
  std::mt19937 gen(31);
  for (const k::GemmU8S8Kernel* kernel : ks) {
    for (int M : {1, 5, 6, 7, 13}) {
      for (int N : {1, 15, 16, 17, 33}) {
        for (int K : {1, 3, 4, 5, 64, 67}) {
          for (int extreme : {-1, 0, 1}) {  // random; 255 x -128; 255 x 127
            const std::vector<uint8_t> a = bytes<uint8_t>(static_cast<size_t>(M) * (K + 2), gen, extreme < 0 ? -1 : 255);
            const std::vector<int8_t> b =
                bytes<int8_t>(static_cast<size_t>(K) * N, gen, extreme < 0 ? -1 : extreme == 0 ? 0x80 : 0x7F);
            std::vector<int32_t> want(static_cast<size_t>(M) * (N + 1), -7), got = want;
            k::ref::gemm_u8s8(M, N, K, a.data(), K + 2, b.data(), N, want.data(), N + 1);
            kernel->pack({K, N}, b.data(), N)->run(M, a.data(), K + 2, got.data(), N + 1);
            ASSERT_EQ(got, want) << kernel->name() << " M=" << M << " N=" << N << " K=" << K << " fill " << extreme;
          }
        }
      }
    }
  }
}

TEST(AvxVnniGemmU8S8Twins, BPerCallEqualsTheReference) {
  const std::vector<const k::GemmU8S8Kernel*> ks = twins();
  if (ks.empty()) GTEST_SKIP() << "CPU lacks AVX2 (the emulated twin's ISA)";
  std::mt19937 gen(32);
  for (const k::GemmU8S8Kernel* kernel : ks) {
    for (int M : {1, 6, 7, 17}) {
      for (int N : {1, 16, 19}) {
        for (int K : {2, 4, 33}) {
          for (bool b_u8 : {false, true}) {
            const std::vector<uint8_t> a = bytes<uint8_t>(static_cast<size_t>(M) * K, gen, -1);
            const std::vector<uint8_t> braw = bytes<uint8_t>(static_cast<size_t>(K) * N, gen, -1);
            // The B values as read: int8, or uint8 read as value - 128 (the sign bit flipped).
            std::vector<int8_t> bval(braw.size());
            for (size_t i = 0; i < braw.size(); ++i) {
              bval[i] = static_cast<int8_t>(b_u8 ? static_cast<uint8_t>(braw[i] ^ 0x80) : braw[i]);
            }
            std::vector<int32_t> want(static_cast<size_t>(M) * N), got(want.size(), -7);
            k::ref::gemm_u8s8(M, N, K, a.data(), K, bval.data(), N, want.data(), N);
            std::vector<int32_t> sums(N, -7), want_sums(N, 0);
            for (int kk = 0; kk < K; ++kk)
              for (int n = 0; n < N; ++n) want_sums[n] += bval[static_cast<size_t>(kk) * N + n];
            kernel->pack_a(M, K, a.data(), K)->run(N, braw.data(), N, b_u8, got.data(), N, sums.data());
            const std::string what = std::string(kernel->name()) + " M=" + std::to_string(M) + " N=" +
                                     std::to_string(N) + " K=" + std::to_string(K) + " b_u8=" + std::to_string(b_u8);
            ASSERT_EQ(got, want) << what;
            ASSERT_EQ(sums, want_sums) << what;
          }
        }
      }
    }
  }
}

}  // namespace

#endif  // INT8RT_TEST_X86_TWINS
