// The AMX B-tile packers' GEMM case (kernels/x86/conv_amx_pack_gemm.h)
// against the byte-by-byte packers of conv_amx_pack.h on the same GEMM
// layout: every byte equal (==), zero padding included, over N and K around
// the tile edges (16-channel blocks, 64-byte chunks, K not a multiple of 4)
// and BERT's / MiniLM's heads. Each destination starts filled with a
// non-zero byte, so a byte the packer does not write shows; guard bytes
// after it must stay untouched. Baseline code: runs on every x86-64 CPU.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/x86/conv_amx_pack_gemm.h"
#include "kernels/x86/gemm_as_conv.h"

namespace k = int8rt::kernels;
namespace x = int8rt::kernels::x86;

namespace {

using int8rt::testing::kGuard;
using int8rt::testing::random_s8;
constexpr int8_t kFill = 0x5a;

// The packed bytes (plus guard) that `pack` writes into a buffer filled with kFill.
template <class Pack>
std::vector<int8_t> packed(const x::AmxLayout& L, Pack pack) {
  std::vector<int8_t> out(static_cast<size_t>(L.packed_bytes()) + kGuard, kFill);
  pack(out.data());
  return out;
}

void expect_same(const std::string& what, const std::vector<int8_t>& got, const std::vector<int8_t>& want) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(int{got[i]}, int{want[i]}) << what << ": byte " << i << (i >= got.size() - kGuard ? " (guard)" : "");
  }
}

TEST(AmxPackGemm, SameBytesAsByteLoops) {
  const std::vector<int> ns = {1, 3, 15, 16, 17, 31, 32, 33, 64, 128, 197};
  const std::vector<int> ks = {1, 2, 3, 4, 5, 7, 31, 32, 63, 64, 65, 100, 127, 128, 129, 197};
  uint32_t seed = 1;
  for (int n : ns) {
    for (int kk : ks) {
      const x::AmxLayout L(x::gemm_as_conv(k::GemmShape{n, kk}));
      ASSERT_TRUE(x::amx_gemm_layout(L));
      const std::vector<int8_t> b = random_s8(static_cast<size_t>(n) * kk, seed++);
      const std::string shape = " N" + std::to_string(n) + " K" + std::to_string(kk);
      // b read as [N][K] (keys) and as [K][N] (values): the same bytes, two operands
      expect_same("pack_amx_gemm_nk" + shape, packed(L, [&](int8_t* d) { x::pack_amx_gemm_nk(L, b.data(), d); }),
                  packed(L, [&](int8_t* d) { x::pack_amx_oihw(L, b.data(), d); }));
      expect_same("pack_amx_gemm_kn" + shape, packed(L, [&](int8_t* d) { x::pack_amx_gemm_kn(L, b.data(), d); }),
                  packed(L, [&](int8_t* d) { x::pack_amx_kn(L, b.data(), d); }));
    }
  }
}

TEST(AmxPackGemm, ExtremeValues) {
  for (int8_t v : {int8_t{-128}, int8_t{127}}) {
    const x::AmxLayout L(x::gemm_as_conv(k::GemmShape{33, 70}));
    const std::vector<int8_t> b(33 * 70, v);
    expect_same("nk all " + std::to_string(v), packed(L, [&](int8_t* d) { x::pack_amx_gemm_nk(L, b.data(), d); }),
                packed(L, [&](int8_t* d) { x::pack_amx_oihw(L, b.data(), d); }));
    expect_same("kn all " + std::to_string(v), packed(L, [&](int8_t* d) { x::pack_amx_gemm_kn(L, b.data(), d); }),
                packed(L, [&](int8_t* d) { x::pack_amx_kn(L, b.data(), d); }));
  }
}

}  // namespace
