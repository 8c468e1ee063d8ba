// The microkernel ABI of the pair-tile static int8 GEMM (x86/gemm_s8_pairs.h
// has the arithmetic and the driver): what the baseline driver hands one
// register tile, compiled with its ISA's flags only.
#pragma once

#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

// One tile call: rows [0, mr) of A against one block of 16 columns.
struct GemmS8PairsTile {
  const int8_t* a = nullptr;          // row i at a + i * lda, K int8 bytes (the s8 tile)
  const uint8_t* u = nullptr;         // or, for the u8 tile, A already read as u = a + 128 in
                                      //   the block's k order, row i at u + i * lda
  int64_t lda = 0;
  int64_t K = 0;                      // a multiple of 4
  const int8_t* b = nullptr;          // the block: [K / 4][16 columns][4 k] int8, pair-safe
  const int32_t* acc_init = nullptr;  // 16: -128 * sum_k W[n][k] (wrapping), 0 past N
  const int32_t* res_k = nullptr;     // the block's residual rows: C[i][n] += (a[i][res_k[e]] + 128) *
  const int32_t* res_v = nullptr;     //   res_v[16 e + n], e in [0, res_count)
  int64_t res_count = 0;
  int nc = 16;                        // valid columns (1..16)
  TileEpilogue ep;                    // moved to the tile's first row and column
};
using GemmS8PairsFn = void (*)(const GemmS8PairsTile&);

// The permuted pair tile's copy of A (x86/gemm_s8_pairing.h): rows [0, rows) of a (s8, row i at
// a + i * lda, K bytes) to u (row i at u + i * ldu, Kp bytes, Kp = K rounded up to 16):
//   u[i][p] = a[i][k] + 128 with k = p - p % 16 + perm[p] when k < K, else 0.
using GemmS8PermuteAFn = void (*)(const int8_t* a, int64_t lda, int64_t rows, int64_t K, const uint8_t* perm,
                                  uint8_t* u, int64_t ldu);

namespace avx2 {
constexpr int kS8PairsMR = 6;
GemmS8PairsFn gemm_s8_pairs_fn(int mr);     // mr rows, 1..6; reads a
GemmS8PairsFn gemm_s8_pairs_u8_fn(int mr);  // mr rows, 1..6; reads u (res_k: positions in u)
void gemm_s8_permute_a(const int8_t* a, int64_t lda, int64_t rows, int64_t K, const uint8_t* perm, uint8_t* u,
                       int64_t ldu);
}  // namespace avx2

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
