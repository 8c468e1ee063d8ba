// B split for pair-safe gemm_u8s8 tiles (abi/gemm_u8s8.h, GemmU8S8Tile's res_*
// fields; avx2/gemm_u8s8_6x16c4p.cc), baseline code for the x86 driver
// (gemm_u8s8.cc).
//
// vpmaddubsw sums the products of k and k + 1 (k even) into int16, saturating.
// For any u8 a the sum a0 b0 + a1 b1 fits when pos(b0) + pos(b1) <= 128 and
// neg(b0) + neg(b1) >= -128 (pos, neg: the positive and negative parts;
// 255 * 128 = 32640 <= 32767). A pair that breaks the rule has both values of
// one sign; one of them is moved towards zero by the excess d, to sum exactly
// +128 or -128, and d goes to the residual R at that k, so B = B' + R exactly.
// Of the two k of a pair the one that already holds a residual in the same
// 16-column block is preferred: the residual is stored per block as rows of
// 16 int32 (one per k that holds any), and each row costs the tile one
// vpmulld per 8 columns per row of A.
// ONNX Runtime's quantize_dynamic int8 weights (BERT) have 0.01-0.3% of their
// pairs over the rule; full-range random bytes about a quarter.
#pragma once

#include <cstdint>
#include <vector>

namespace int8rt {
namespace kernels {
namespace x86 {

// The excess of the pair (x, y) over the rule: 0, or d of both values' sign (the value that
// moves one of them to sum exactly +128 or -128).
inline int32_t pair_excess(int32_t x, int32_t y) {
  const int32_t pos = (x > 0 ? x : 0) + (y > 0 ? y : 0), neg = (x < 0 ? x : 0) + (y < 0 ? y : 0);
  return pos > 128 ? pos - 128 : neg < -128 ? neg + 128 : 0;
}

struct PairSplitB {
  std::vector<int8_t> safe;          // B' [K][N], row k at k * N: every pair within the rule
  std::vector<int32_t> res_k;        // the residual rows, by 16-column block: the k of each
  std::vector<int32_t> res_v;        // and its 16 values (zero past N)
  std::vector<int64_t> block_begin;  // block j's rows: [block_begin[j], block_begin[j + 1])
};
// B (K x N at b, row k at b + k * ldb) as B' + R.
PairSplitB split_pairs(const int8_t* b, int64_t ldb, int64_t K, int64_t N);
// The same into *s, whose vectors keep their capacity (row_of: the split's scratch, K entries),
// so a B split again at one shape allocates nothing once *s has held as many residual rows.
void split_pairs_into(const int8_t* b, int64_t ldb, int64_t K, int64_t N, PairSplitB* s,
                      std::vector<int64_t>* row_of);

// A packed once (a convolution's weights; u8 storage) for the A-packed pair tile, which
// broadcasts A's bytes as the signed operand against the run-time B as u8: row m is stored as
// a - z[m] (s8), z[m] the candidate (the row's midrange, median or mean) leaving the fewest pairs
// over the rule, those pairs moved as for B and their residual kept as (k, d) per row.
struct PairSplitA {
  std::vector<int32_t> z;          // per row
  std::vector<int32_t> row_sum;    // per row: sum_k (a - z[m]) (wrapping), the residual included
  std::vector<int32_t> res_k;      // the residual by row: k and d, with A[m][k] - z = A'[m][k] + d
  std::vector<int32_t> res_d;
  std::vector<int64_t> row_begin;  // row m's: [row_begin[m], row_begin[m + 1])
};
// Writes row m of A' (s8 storage, K bytes) to dst + m * ldd.
PairSplitA split_pairs_a(int64_t M, int64_t K, const uint8_t* a, int64_t lda, uint8_t* dst, int64_t ldd);

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
