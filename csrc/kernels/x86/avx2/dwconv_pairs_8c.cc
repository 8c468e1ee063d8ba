// Depthwise int8 conv microkernels, AVX2, on pair rows (abi/dwconv_pairs_s8.h):
// dw_pair_build rewrites an input row as int16 tap pairs, dw_pair_row
// computes an output row from R of them.
//
// Register tile (dw_pair_row): kPix output columns x kBlocks blocks of 8
// channels = up to 8 int32 accumulators; per filter row and tap pair one
// weight register per block (a pair (w[2p], w[2p + 1]) per channel, int16)
// serves the kPix columns, and each column's pair vector (two taps of 8
// channels, int16) is vpmaddwd's memory operand: one multiply and one add
// per 16 multiply-adds, where the one-tap kernel it replaced (int8 rows,
// RESULTS.md section 63) took a sign extension, a multiply and an add per 8. Blocks outer, columns
// inner: a block group's weights (kBlocks * R * P * 32 bytes) stay in
// registers or L1 while the pair rows stream past.
//
// Packed weights: [cb / 8][R][P][8 channels][2] int16, zero for the tap
// past an odd S and for channels >= C (x86/conv_dw_pairs.cc packs them).
// Pair rows: [cols][cb][2] int16, columns of padding hold pad_value, so
// the inner loop has no bounds checks; a padding tap adds pad_value * w as
// the reference's. Sums are exact (abi/dwconv_pairs_s8.h); the epilogue is
// avx2/epilogue.h's: pairs of full blocks of an int8 output as one 16-byte
// store, partial last blocks through its masked path.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/dwconv_pairs_s8.h"
#include "kernels/x86/avx2/epilogue.h"
#include "kernels/x86/dw_pair_loops.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

constexpr int kPix = 4, kBlocks = 2;

// The value a pair row holds for channel c of input column p (null:
// padding); 0 past the input's C channels.
inline int16_t pair_value(const DwPairSource& s, const int8_t* p, int c) {
  if (c >= s.C) return 0;
  return p == nullptr ? static_cast<int16_t>(s.pad_value) : p[c];
}

// Output columns [ow, ow + NPIX) x blocks [b0, b0 + NB) of 8 channels.
template <int NPIX, int NB>
inline void tile(const DwPairRow& d, const TileEpilogue& ep, int ow, int b0) {
  __m256i acc[NPIX][NB];
  #pragma GCC unroll 8
  for (int i = 0; i < NPIX; ++i) {
    #pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_setzero_si256();
  }
  const int64_t col = int64_t{d.cb} * 2;  // int16 values per pair-row column
  const int64_t w_block = int64_t{d.R} * d.P * 16;
  for (int r = 0; r < d.R; ++r) {
    const int16_t* x0 = d.rows[r] + int64_t{ow} * d.col_per_ow * col + int64_t{b0} * 16;
    const int16_t* w0 = d.w + int64_t{b0} * w_block + int64_t{r} * d.P * 16;
    for (int p = 0; p < d.P; ++p) {
      const int16_t* xp = x0 + int64_t{p} * d.col_per_pair * col;
      #pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w0 + j * w_block + p * 16));
        #pragma GCC unroll 8
        for (int i = 0; i < NPIX; ++i) {
          const __m256i x = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(xp + int64_t{i} * d.col_per_ow * col + j * 16));
          acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(x, w));
        }
      }
    }
  }
  // Two full blocks of an int8 output narrow into one 16-byte store.
  const bool pairs = !ep.out_f32 && d.C >= (b0 + NB) * 8;
  #pragma GCC unroll 8
  for (int i = 0; i < NPIX; ++i) {
    int j = 0;
    if (pairs) {
      #pragma GCC unroll 8
      for (; j + 2 <= NB; j += 2) store_requantized_s8x16(acc[i][j], acc[i][j + 1], ep, ow + i, (b0 + j) * 8);
    }
    #pragma GCC unroll 8
    for (; j < NB; ++j) store_requantized(acc[i][j], ep, ow + i, (b0 + j) * 8, d.C - (b0 + j) * 8);
  }
}

// Every output column of blocks [b0, b0 + NB).
template <int NB>
void block_group(const DwPairRow& d, const TileEpilogue& ep, int b0) {
  int ow = 0;
  for (; ow + kPix <= d.OW; ow += kPix) tile<kPix, NB>(d, ep, ow, b0);
  for (; ow < d.OW; ++ow) tile<1, NB>(d, ep, ow, b0);
}

}  // namespace

void dw_pair_build(const DwPairSource& s) {
  const __m256i pad16 = _mm256_set1_epi16(static_cast<int16_t>(s.pad_value));
  const __m128i pad8 = _mm256_castsi256_si128(pad16);
  for_each_pair_column(s, [&](int16_t* o, const int8_t* a, const int8_t* b) {
    int c = 0;
    // Sign-extended, qwords reordered (0, 2, 1, 3) so that the in-lane
    // unpacks give channels 0-7 and 8-15 in order.
    auto load16 = [&](const int8_t* p) {
      return p == nullptr ? pad16
                          : _mm256_permute4x64_epi64(
                                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + c))), 0xD8);
    };
    auto load8 = [&](const int8_t* p) {
      return p == nullptr ? pad8 : _mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + c)));
    };
    for (; c + 16 <= s.C; c += 16) {
      const __m256i va = load16(a), vb = load16(b);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 2 * c), _mm256_unpacklo_epi16(va, vb));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 2 * c + 16), _mm256_unpackhi_epi16(va, vb));
    }
    for (; c + 8 <= s.C; c += 8) {
      const __m128i va = load8(a), vb = load8(b);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 2 * c), _mm_unpacklo_epi16(va, vb));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 2 * c + 8), _mm_unpackhi_epi16(va, vb));
    }
    for (; c < s.cb; ++c) {
      o[2 * c] = pair_value(s, a, c);
      o[2 * c + 1] = pair_value(s, b, c);
    }
  });
}

void dw_pair_row(const DwPairRow& d) {
  // A local copy of the epilogue (avx2/epilogue.h: int8 stores alias).
  const TileEpilogue ep = d.ep;
  for_block_groups<kBlocks>(d.cb / 8, [&](auto nb, int b0) { block_group<decltype(nb)::value>(d, ep, b0); });
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
