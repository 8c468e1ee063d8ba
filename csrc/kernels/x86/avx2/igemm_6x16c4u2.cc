// int8 indirect-GEMM microkernel, AVX2, tile 6 x 16, reduction c4 taken two
// groups at a time, for inputs with no negative value (the u8 tile's
// contract, igemm_6x16c4u.cc) and weights packed by pack_pair_residuals
// (x86/packing_pairs.cc): exact.
//
// Register tile: MR (<= 6) rows x NB (<= 2) ymm blocks of 8 output channels
// = up to 12 int32 accumulators, two broadcasts, the int16 ones constant and
// a product register; the weights are vpmaddubsw's memory operand.
//
// Packed weights: the u8 tile's layout (block 8, c4, int8, not compensated),
// groups q = 2p and 2p + 1 of a tap forming pair p. Rows: a[tap * 6 + i]
// points at kc raw int8 activations in [0, 127] (checked per run by
// x86/conv_igemm_nonneg.cc), read as u8.
//
// Why two groups: the u8 tile spends two multiplier instructions per 32
// products (vpmaddubsw, then vpmaddwd with ones to widen each group's two
// pair sums into int32), and Zen 3 issues two of them per cycle: its loop
// is bound there (~91 GMAC/s). Here the int16 pair sums of groups 2p and
// 2p + 1 are added with vpaddw first, so one vpmaddwd widens eight products
// of a channel: three multiplier instructions per 64 products instead of
// four (benchmarks/avx2_igemm_loops.c, `u8x2`). Each int16 lane then holds
// x0 w0 + x1 w1 + x2 w2 + x3 w3 (two weights of each group, the same pair
// position), which stays in [-32766, 32766] for any x in [0, 127] when the
// positive weights of those four sum to <= 258 and the negative ones to
// >= -258 (127 * 258 = 32766). The packer moves the excess of every
// four that breaks that rule into residual groups (IgemmTile::res), which
// this kernel adds after its main loop with the u8 tile's one-group step
// (a residual weight is in [-127, 127]: its pair sums never saturate), so
// the packed weights plus the residuals are the layer's weights exactly.
// vpaddw wraps, and the true sum is in range, so the int16 lane is exact;
// vpmaddwd(ones) then adds two lanes into int32.
// A tap with an odd number of groups takes its last group alone (the u8
// step); an incomplete last group (kc % 4) is read by broadcast4 without
// reading past a row. Epilogue: avx2/epilogue.h.
#include <immintrin.h>

#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/x86/avx2/broadcast4.h"
#include "kernels/x86/avx2/epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

inline __m256i load32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

template <int MR, int NB>
void igemm_pairs(const IgemmTile& t) {
  const int64_t bs = t.w_block_stride;
  __m256i acc[MR][NB];
  #pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    #pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_setzero_si256();
  }
  const __m256i ones = _mm256_set1_epi16(1);
  const int q_full = t.kc / 4;
  const int tail = t.kc % 4;
  const int q_total = q_full + (tail ? 1 : 0);
  const int pairs = q_total / 2;
  const int full_pairs = tail && q_total % 2 == 0 ? pairs - 1 : pairs;  // pairs of two whole groups
  const int8_t* w = t.w;
  const int8_t* const* rows = reinterpret_cast<const int8_t* const*>(t.a);
  for (int tap = 0; tap < t.taps; ++tap, w += q_total * 32) {
    const int8_t* a[MR];
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = rows[tap * kMR + i];
    // Groups q and q + 1 (the second n1 long): int16 sums of both, widened once.
    auto pair_step = [&](int q, int n1) {
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i x0 = broadcast4(a[i] + 4 * q, 4);
        const __m256i x1 = broadcast4(a[i] + 4 * q + 4, n1);
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) {
          const int8_t* wq = w + 32 * q + j * bs;
          const __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(x0, load32(wq)),
                                             _mm256_maddubs_epi16(x1, load32(wq + 32)));
          acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(s, ones));
        }
      }
    };
    for (int p = 0; p < full_pairs; ++p) pair_step(2 * p, 4);
    if (full_pairs < pairs) pair_step(2 * full_pairs, tail);  // its second group is the short last one
    if (q_total % 2) {  // the last group alone
      const int q = q_total - 1, n = q < q_full ? 4 : tail;
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i x = broadcast4(a[i] + 4 * q, n);
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) {
          const __m256i s = _mm256_maddubs_epi16(x, load32(w + 32 * q + j * bs));
          acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(s, ones));
        }
      }
    }
  }
  // The residual groups of each block (rare: the packer keeps them within a
  // sixteenth of the groups).
  const IgemmResidual* r = t.res;
  #pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    for (const IgemmResidual* end = r + t.res_count[j]; r < end; ++r) {
      const __m256i wr = load32(r->w);
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i x = broadcast4(rows[r->tap * kMR + i] + r->offset, r->n);
        acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(_mm256_maddubs_epi16(x, wr), ones));
      }
    }
  }
  // A local copy of the epilogue (avx2/epilogue.h: int8 stores alias).
  const TileEpilogue ep = t.ep;
  store_tile<MR, NB>(acc, ep, t.nc);
}

}  // namespace

IgemmFn igemm_u8_pairs_fn(int mr, int nb) {
  using Row = IgemmFn[kNB];
  static constexpr Row kTable[kMR] = {
      {igemm_pairs<1, 1>, igemm_pairs<1, 2>}, {igemm_pairs<2, 1>, igemm_pairs<2, 2>},
      {igemm_pairs<3, 1>, igemm_pairs<3, 2>}, {igemm_pairs<4, 1>, igemm_pairs<4, 2>},
      {igemm_pairs<5, 1>, igemm_pairs<5, 2>}, {igemm_pairs<6, 1>, igemm_pairs<6, 2>}};
  return kTable[mr - 1][nb - 1];
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
