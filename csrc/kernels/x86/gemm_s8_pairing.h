// Per-block k orders that make per-channel int8 weights pair-safe, for the
// permuted pair tile of the static int8 GEMM (x86/gemm_s8_pairs.h). Baseline
// code, run once when the weights are packed.
//
// vpmaddubsw sums the products of positions 2i and 2i + 1 in int16; with u8
// activations the pair (x, y) of one column never saturates when it obeys
// gemm_u8s8_pairs.h's rule (pair_excess(x, y) == 0). In K order, weights
// quantized per channel (scale = amax / 127, values spread over the whole
// range) break it in 1.6-2.6% of pairs, which leaves a residual row in about
// half of each 16-column block's groups (RESULTS.md section 73). But which k
// are paired is free: within each window of 16 k (k = 16 w .. 16 w + 15) of
// a block, any order of the 16 k works, provided the activations are read in
// the same order (the driver copies A per block, one vpshufb per 16 bytes).
// So each window's 16 k are matched: a pair (i, j) is compatible when it obeys
// the rule in all the block's columns, and the search below looks for a
// perfect matching of the compatibility graph (on BERT-base's and MiniLM's
// per-channel weights one exists in 99.4-99.99% of windows); where it gives
// up, it keeps the order with the fewest incompatible pairs found, which
// split_pairs then moves into the residual as before.
#pragma once

#include <cstdint>
#include <vector>

namespace int8rt {
namespace kernels {
namespace x86 {

constexpr int64_t kPairWindow = 16;  // k per window: one 128-bit lane of vpshufb

struct KPairing {
  int64_t Kp = 0;             // K rounded up to a multiple of kPairWindow
  int64_t block = 0;          // columns per block (a multiple of 16 for the pair tile)
  std::vector<uint8_t> perm;  // [blocks][Kp]: position p of block j reads k = p - p % 16 + perm[j * Kp + p];
                              // k >= K reads a zero weight (and a zero activation byte)
  int64_t incompatible = 0;   // pairs over the rule left in the orders (all blocks)
};

// The orders for W [N][K] (row n at w_nk + n * K) in blocks of `block` columns.
KPairing pair_k_by_block(const int8_t* w_nk, int64_t N, int64_t K, int64_t block);

// The best order of one window found within the search budget: pos[2 i], pos[2 i + 1] are the i-th
// pair's k (0..15); compat[i] has bit j set when (i, j) obeys the rule in every column. Returns the
// number of incompatible pairs in the order (0: a perfect matching).
int match_window(const uint16_t compat[kPairWindow], uint8_t pos[kPairWindow]);

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
