// The static int8 GEMM (gemm_s8 family: int8rt.QGemm, y = requant(A W^T))
// on a u8 x s8 pair tile, for CPUs whose best int8 product is AVX2's
// vpmaddubsw (no VNNI). Baseline code: packing, tiling, the registry class;
// the tile (abi below) lives in the ISA folder (avx2/gemm_s8_6x16c4p.cc).
//
// The arithmetic, exact: a signed activation a (s8) is read as the u8 byte
// u = a + 128 (one vpxor with 0x80 per broadcast), so
//   sum_k a[k] w[k] = sum_k u[k] w[k] - 128 sum_k w[k],
// the second term a per-column constant the tile starts its accumulators
// from. u x w goes through vpmaddubsw on a pair-safe W' (x86/gemm_u8s8_pairs.h:
// the few pairs whose int16 sum could saturate moved into range, W = W' + R)
// and vpmaddwd(ones), the loop ONNX Runtime runs on AVX2; R (sparse, a few
// rows of 16 columns per block) is added after the loop in int32. Every step
// is exact modulo 2^32, so the int32 accumulator equals ref::gemm_s8's, and
// the requantization is avx2/epilogue.h's, bit for bit the reference's.
// Per 32 products: vpmaddubsw, vpmaddwd, vpaddd, and one vpxor per row per
// 4 k; the sign-trick tile (avx2/igemm_6x16c4s.cc) adds a vpsignb per block
// and a vpabsb per row, and ran 0.75-0.85x these products per second on the
// BERT shapes (RESULTS.md section 73).
//
// The kernel packs W this way ("pairs") when the residual rows number at
// most 1/32 of the blocks' groups and K is a multiple of 4. Weights
// quantized per channel mostly are not (BERT's: a residual row in half the
// groups), and for them the kernel tries the permuted form ("pairs-permuted", gemm_s8_pairs_permuted.cc): each block
// reads K in an order that pairs its k safely (gemm_s8_pairing.h), from a
// per-block copy of A, residual rows within 1/8 of the groups (gemm_u8s8's
// pair form's budget); any K; never for B given per run (pack_per_run), for
// which, as where the permuted form declines, the K-order form's budget is
// 1/8 of the groups too. Otherwise, and for B given per run as [K][N] (pack_kn),
// it hands the problem to the fallback kernel it was built with. PackedGemm::form() says which form.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/abi/gemm_s8_pairs.h"
#include "kernels/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

// An ISA's pieces of the kernel.
struct GemmS8PairsTiles {
  GemmS8PairsFn (*fn)(int) = nullptr;     // the tile for mr rows (1..mr_max) reading s8 A
  GemmS8PairsFn (*u8_fn)(int) = nullptr;  // the same reading u8 A in a block's order
  GemmS8PermuteAFn permute_a = nullptr;   // that copy of A
  int mr_max = 0;
};

// The residual rows the pair forms accept for `blocks` blocks of K = k: 1/8 of the groups (each
// row costs the tile about one group), and one per block whatever K (short products, K < 32).
inline int64_t pair_residual_budget(int64_t blocks, int64_t k) {
  const int64_t eighth = (k / 4) * blocks / 8;
  return eighth > blocks ? eighth : blocks;
}

// The accumulator start of a column whose products read A shifted to u8 (a + 128):
// sum_k (a + 128) w = sum_k a w + 128 sum_k w, so it starts at -128 * sum_k w[k]
// (unsigned arithmetic: exact modulo 2^32, as the int32 accumulator wraps).
inline int32_t shift_compensation(const int8_t* w_row, int64_t k) {
  uint32_t sum = 0;
  for (int64_t i = 0; i < k; ++i) sum += static_cast<uint32_t>(static_cast<int32_t>(w_row[i]));
  return static_cast<int32_t>(0u - 128u * sum);
}

// The permuted form of W [N][K] (gemm_s8_pairs_permuted.cc); nullptr past the budget.
std::unique_ptr<PackedGemm> pack_pairs_permuted(const GemmShape& shape, const int8_t* w_nk,
                                                const GemmS8PairsTiles& tiles);

class PairsGemmS8Kernel final : public NamedKernel<GemmKernel> {
 public:
  // fallback: the kernel that takes what this one hands on.
  PairsGemmS8Kernel(const char* name, Isa isa, const GemmS8PairsTiles& tiles, const GemmKernel& fallback)
      : NamedKernel(name, isa), tiles_(tiles), fallback_(fallback) {}
  std::string supports(const GemmShape& shape, OutputType out) const override;
  std::unique_ptr<PackedGemm> pack(const GemmShape& shape, const int8_t* w_nk) const override;
  std::unique_ptr<PackedGemm> pack_kn(const GemmShape& shape, const int8_t* w_kn) const override;
  // [K][N] goes to the fallback (as pack_kn), [N][K] as pack_per_run, both through a slot object
  // kept per (kernel, N, K) that holds the K-order form's buffers (room for its whole residual
  // budget) and the fallback's packing, rewritten run after run (gemm_s8_pairs.cc, PerRunPairsGemm).
  void pack_per_run_into(const GemmShape& shape, const int8_t* b, bool kn,
                         std::unique_ptr<PackedGemm>* slot) const override;
  // The K-order form or the fallback: the permuted form's matching is paid once for constant weights.
  std::unique_ptr<PackedGemm> pack_per_run(const GemmShape& shape, const int8_t* w_nk) const override;

 private:
  // The K-order form if its residual rows number at most `rows`; nullptr otherwise.
  std::unique_ptr<PackedGemm> pack_k_order(const GemmShape& shape, const int8_t* w_nk, int64_t rows) const;

  GemmS8PairsTiles tiles_;
  const GemmKernel& fallback_;
};

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
