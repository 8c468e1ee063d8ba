// The loop of the AVX2 6 x 16 igemm tiles that multiply groups of 4 int8
// activations with vpmaddubsw (avx2/igemm_6x16c4u.cc: inputs in [0, 127];
// avx2/igemm_6x16c4s.cc: any sign, the sign trick), written once: the tiles
// differ only in how one broadcast group meets one weight vector, which
// their Product says:
//   Product(t)               made once per call from the tile (its constants)
//   row(x)                   once per row and group (x: the broadcast group)
//   pairs(r, x, w)           the int16 pair sums of that group with a
//                            weight vector w (vpmaddubsw; never saturates
//                            under the tile's contract)
// vpmaddwd with ones then adds each group's two pair sums into int32, onto
// the tile's acc_init where it has one (else 0).
//
// Register tile: MR (<= 6) rows x NB (<= 2) ymm blocks of 8 output channels
// (avx2/igemm_3x24c4s.cc: 3 x 3), row pointers RowStride apart per tap (the
// tile's rows: kMR, or 3 for the 3 x 24 tile), packed weights per tap and group q at w + 32 q + j * w_block_stride
// (pack_igemm_weights, block 8, c4). An incomplete last group (kc % 4) is
// read by broadcast4 without reading past a row. Epilogue: avx2/epilogue.h.
// Included by AVX2-level files only.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/x86/avx2/broadcast4.h"
#include "kernels/x86/avx2/epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

template <class Product, int MR, int NB, int RowStride = kMR>
void igemm_c4(const IgemmTile& t) {
  const int64_t bs = t.w_block_stride;
  const Product product(t);
  __m256i acc[MR][NB];
  #pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const __m256i a0 = t.acc_init ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.acc_init + 8 * j))
                                  : _mm256_setzero_si256();
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i][j] = a0;
  }
  const __m256i ones = _mm256_set1_epi16(1);
  const int q_full = t.kc / 4;
  const int tail = t.kc % 4;
  const int q_total = q_full + (tail ? 1 : 0);
  const int8_t* w = t.w;
  const int8_t* const* rows = reinterpret_cast<const int8_t* const*>(t.a);
  for (int tap = 0; tap < t.taps; ++tap, w += q_total * 32) {
    const int8_t* a[MR];
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = rows[tap * RowStride + i];
    // One group of 4 (n = 4) or the last, shorter one (n = kc % 4).
    auto step = [&](int q, int n) {
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i x = broadcast4(a[i] + 4 * q, n);
        const __m256i r = product.row(x);
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) {
          const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32 * q + j * bs));
          acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(product.pairs(r, x, wv), ones));
        }
      }
    };
    for (int q = 0; q < q_full; ++q) step(q, 4);
    if (tail) step(q_full, tail);
  }
  // A local copy of the epilogue (avx2/epilogue.h: int8 stores alias).
  const TileEpilogue ep = t.ep;
  store_tile<MR, NB>(acc, ep, t.nc);
}

// The tile for mr (1..6) rows and nb (1..2) blocks.
template <class Product>
IgemmFn igemm_c4_fn(int mr, int nb) {
  using Row = IgemmFn[kNB];
  static constexpr Row kTable[kMR] = {
      {igemm_c4<Product, 1, 1>, igemm_c4<Product, 1, 2>}, {igemm_c4<Product, 2, 1>, igemm_c4<Product, 2, 2>},
      {igemm_c4<Product, 3, 1>, igemm_c4<Product, 3, 2>}, {igemm_c4<Product, 4, 1>, igemm_c4<Product, 4, 2>},
      {igemm_c4<Product, 5, 1>, igemm_c4<Product, 5, 2>}, {igemm_c4<Product, 6, 1>, igemm_c4<Product, 6, 2>}};
  return kTable[mr - 1][nb - 1];
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
