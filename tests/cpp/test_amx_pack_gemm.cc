// The AMX int8 B-tile packers (kernels/x86/conv_amx_pack.h) on GEMM layouts
// (gemm_as_conv: one group, 1 x 1), against the tile layout written out
// here byte by byte: (reduction index k, channel n) at block n / 16, byte
// k / 4 * 64 + (n % 16) * 4 + k % 4, zero elsewhere. pack_amx_oihw takes B
// as [N][K] (attention's keys, constant weights), pack_amx_kn as [K][N]
// (values; its SSE2 interleave). Every byte equal (==), zero padding
// included, over N and K around the tile edges (16-channel blocks, 64-byte
// chunks, K not a multiple of 4) and BERT's / MiniLM's heads; each
// destination starts filled with a non-zero byte, so a byte the packer does
// not write shows, and guard bytes after it must stay untouched. Baseline
// code: runs on every x86-64 CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/x86/conv_amx_pack.h"
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

// The layout above, from B's element (n, k) = b_nk[n * K + k].
std::vector<int8_t> spec(const x::AmxLayout& L, const std::vector<int8_t>& b_nk) {
  std::vector<int8_t> out(static_cast<size_t>(L.packed_bytes()) + kGuard, kFill);
  std::fill(out.begin(), out.end() - kGuard, int8_t{0});
  const int64_t K = L.kred;
  for (int n = 0; n < L.kg; ++n) {
    for (int64_t kk = 0; kk < K; ++kk) {
      out[static_cast<size_t>(n / 16 * L.block_stride + kk / 4 * 64 + n % 16 * 4 + kk % 4)] = b_nk[n * K + kk];
    }
  }
  return out;
}

std::vector<int8_t> transpose(const std::vector<int8_t>& b_nk, int n, int kk) {
  std::vector<int8_t> t(b_nk.size());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < kk; ++j) t[static_cast<size_t>(j) * n + i] = b_nk[static_cast<size_t>(i) * kk + j];
  return t;
}

void expect_same(const std::string& what, const std::vector<int8_t>& got, const std::vector<int8_t>& want) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(int{got[i]}, int{want[i]}) << what << ": byte " << i << (i >= got.size() - kGuard ? " (guard)" : "");
  }
}

void expect_both(const std::string& what, int n, int kk, const std::vector<int8_t>& b_nk) {
  const x::AmxLayout L(x::gemm_as_conv(k::GemmShape{n, kk}));
  const std::vector<int8_t> want = spec(L, b_nk), b_kn = transpose(b_nk, n, kk);
  expect_same("pack_amx_oihw" + what, packed(L, [&](int8_t* d) { x::pack_amx_oihw(L, b_nk.data(), d); }), want);
  expect_same("pack_amx_kn" + what, packed(L, [&](int8_t* d) { x::pack_amx_kn(L, b_kn.data(), d); }), want);
}

TEST(AmxPackGemm, EqualsTheTileLayout) {
  const std::vector<int> ns = {1, 3, 15, 16, 17, 31, 32, 33, 64, 128, 197};
  const std::vector<int> ks = {1, 2, 3, 4, 5, 7, 31, 32, 63, 64, 65, 100, 127, 128, 129, 197};
  uint32_t seed = 1;
  for (int n : ns) {
    for (int kk : ks) {
      expect_both(" N" + std::to_string(n) + " K" + std::to_string(kk), n, kk,
                  random_s8(static_cast<size_t>(n) * kk, seed++));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(AmxPackGemm, ExtremeValues) {
  for (int8_t v : {int8_t{-128}, int8_t{127}}) {
    expect_both(" all " + std::to_string(v), 33, 70, std::vector<int8_t>(33 * 70, v));
  }
}

}  // namespace
