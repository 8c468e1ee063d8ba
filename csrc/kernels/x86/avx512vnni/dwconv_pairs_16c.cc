// Depthwise int8 conv microkernels, AVX512-VNNI, on pair rows
// (abi/dwconv_pairs_s8.h; x86/conv_dw_pairs.cc drives them, as it drives
// the AVX2 twin avx2/dwconv_pairs_8c.cc): dw_pair_build rewrites an input
// row as int16 tap pairs, dw_pair_row computes an output row from R of them.
//
// Register tile (dw_pair_row): kPix output columns x up to kBlocks zmm
// blocks of 16 channels = up to 16 int32 accumulators; per filter row and
// tap pair one weight register per block (the pair (w[2p], w[2p + 1]) per
// channel, int16) serves the kPix columns, and each column's pair vector
// (two taps of 16 channels, int16) is vpdpwssd's memory operand: one
// instruction per 32 multiply-adds, where the one-tap kernel dwconv_64c.cc
// takes a sign extension and a vpdpwssd per 16 (its int32 lanes hold
// (x, sign(x)) against (w, 0)). Blocks outer, columns inner: a block
// group's weights stay in L1 while the pair rows stream past.
//
// Packed weights: [cb / 16][R][P][16 channels][2] int16 (kDwPairBlock),
// zero for the tap past an odd S and for channels >= C. Pair rows:
// [cols][cb][2] int16, padding columns hold pad_value, so the inner loop has
// no bounds checks; a padding tap adds pad_value * w as the reference's.
// vpdpwssd adds two int8 x int8 products to an int32 lane (|sum| <= 2^15
// per step; the whole window fits int32): exact. The epilogue is
// avx512vnni/epilogue.h's (int8 rows of up to 64 channels as one masked
// store, float outputs per block: dw_tile_store.h, shared with the quad-row
// kernel dwconv_quads_16c.cc).
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/dwconv_pairs_s8.h"
#include "kernels/x86/avx512vnni/dw_tile_store.h"
#include "kernels/x86/dw_pair_loops.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {
namespace {

constexpr int kPix = 4, kBlocks = 4;
static_assert(kDwPairBlock == 16, "one zmm of int16 pairs per block");

// Output columns [ow, ow + NPIX) x blocks [b0, b0 + NB) of 16 channels
// (ce: the blocks' epilogue operands, nc: channels of the group inside C).
template <int NPIX, int NB>
inline void tile(const DwPairRow& d, const TileEpilogue& ep, const ChannelEpilogue* ce, int nc, int ow, int b0) {
  __m512i acc[NPIX][NB];
  #pragma GCC unroll 8
  for (int i = 0; i < NPIX; ++i) {
    #pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_setzero_si512();
  }
  const int64_t col = int64_t{d.cb} * 2;  // int16 values per pair-row column
  const int64_t w_block = int64_t{d.R} * d.P * 32;
  for (int r = 0; r < d.R; ++r) {
    const int16_t* x0 = d.rows[r] + int64_t{ow} * d.col_per_ow * col + int64_t{b0} * 32;
    const int16_t* w0 = d.w + int64_t{b0} * w_block + int64_t{r} * d.P * 32;
    for (int p = 0; p < d.P; ++p) {
      const int16_t* xp = x0 + int64_t{p} * d.col_per_pair * col;
      #pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        const __m512i w = _mm512_loadu_si512(w0 + j * w_block + p * 32);
        #pragma GCC unroll 8
        for (int i = 0; i < NPIX; ++i) {
          const __m512i x = _mm512_loadu_si512(xp + int64_t{i} * d.col_per_ow * col + j * 32);
          acc[i][j] = _mm512_dpwssd_epi32(acc[i][j], x, w);
        }
      }
    }
  }
  store_dw_tile<NPIX, NB>(acc, ep, ce, nc, ow, b0 * 16);
}

// Every output column of blocks [b0, b0 + NB), the blocks' epilogue
// operands loaded once for the row.
template <int NB>
void block_group(const DwPairRow& d, const TileEpilogue& ep, int b0) {
  ChannelEpilogue ce[NB];
  const int nc = load_dw_group_epilogue<NB>(ep, d.C, b0, ce);
  int ow = 0;
  for (; ow + kPix <= d.OW; ow += kPix) tile<kPix, NB>(d, ep, ce, nc, ow, b0);
  for (; ow < d.OW; ++ow) tile<1, NB>(d, ep, ce, nc, ow, b0);
}

}  // namespace

void dw_pair_build(const DwPairSource& s) {
  // vpermt2w picks (a[k], b[k]) for k = 0..15 (lo) and 16..31 (hi).
  alignas(64) static const int16_t kLo[32] = {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
                                              8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
  alignas(64) static const int16_t kHi[32] = {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
                                              24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};
  const __m512i lo_idx = _mm512_load_si512(kLo), hi_idx = _mm512_load_si512(kHi);
  const __m512i pad16 = _mm512_set1_epi16(static_cast<int16_t>(s.pad_value));
  for_each_pair_column(s, [&](int16_t* o, const int8_t* a, const int8_t* b) {
    for (int c = 0; c < s.cb; c += 32) {
      // Channels [c, c + 32) inside C; 0 for those past it (they meet zero weights).
      const int n = s.C - c;
      const __mmask32 m = n >= 32 ? ~__mmask32{0} : n <= 0 ? __mmask32{0} : (__mmask32{1} << n) - 1;
      auto load = [&](const int8_t* p) {
        return p == nullptr ? _mm512_maskz_mov_epi16(m, pad16) : _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p + c));
      };
      const __m512i va = load(a), vb = load(b);
      _mm512_storeu_si512(o + 2 * c, _mm512_permutex2var_epi16(va, lo_idx, vb));
      if (c + 16 < s.cb) _mm512_storeu_si512(o + 2 * c + 32, _mm512_permutex2var_epi16(va, hi_idx, vb));
    }
  });
}

void dw_pair_row(const DwPairRow& d) {
  // A local copy of the epilogue (int8 stores could alias its fields).
  const TileEpilogue ep = d.ep;
  for_block_groups<kBlocks>(d.cb / 16, [&](auto nb, int b0) { block_group<decltype(nb)::value>(d, ep, b0); });
}

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
