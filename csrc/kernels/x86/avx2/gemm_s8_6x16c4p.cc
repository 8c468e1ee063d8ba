// Static int8 GEMM microkernel, AVX2, tile MR x 16 (MR <= 6), reduction c4:
// s8 activations read as u8 (a + 128) against a pair-safe W plus a sparse
// residual (x86/gemm_s8_pairs.h has the arithmetic and the packing), the
// int8rt requantization fused into the store (avx2/epilogue.h).
//
// Register tile: MR rows x 16 columns = 2 MR int32 accumulators (acc[i][0]
// columns 0-7, acc[i][1] columns 8-15), two W registers, ones, the 0x80 flip
// and one broadcast: 16 ymm at MR = 6. The accumulators start at the block's
// -128 * column sums. Per row per group of 4 k: vpbroadcastd (a load), vpxor,
// then for each half vpmaddubsw(u, w) (int16 pair sums, never saturated on a
// pair-safe W), vpmaddwd(ones) and vpaddd. After the loop the residual rows:
// acc += (a[k] + 128) * res_v (vpmulld, exact modulo 2^32).
//
// Packed W per block of 16 columns: [K / 4][16 columns][4 consecutive k] int8.
#include <immintrin.h>

#include <cstdint>

#include "kernels/x86/avx2/epilogue.h"
#include "kernels/abi/gemm_s8_pairs.h"
#include "kernels/x86/tile_for_mr.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

inline __m256i broadcast4(const int8_t* p) {
  int32_t bytes;
  __builtin_memcpy(&bytes, p, 4);
  return _mm256_set1_epi32(bytes);
}

template <int MR>
void tile_s8_pairs(const GemmS8PairsTile& t) {
  __m256i acc[MR][2];
  const __m256i init_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.acc_init));
  const __m256i init_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.acc_init + 8));
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    acc[i][0] = init_lo;
    acc[i][1] = init_hi;
  }
  const __m256i ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const int64_t groups = t.K / 4;
  const int8_t* b = t.b;
  const int8_t* a = t.a;
  for (int64_t q = 0; q < groups; ++q, b += 64, a += 4) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256i u = _mm256_xor_si256(broadcast4(a + i * t.lda), flip);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(u, w0), ones));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(u, w1), ones));
    }
  }
  for (int64_t e = 0; e < t.res_count; ++e) {
    const int32_t k = t.res_k[e];
    const __m256i r_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.res_v + e * 16));
    const __m256i r_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.res_v + e * 16 + 8));
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256i u = _mm256_set1_epi32(int32_t{t.a[i * t.lda + k]} + 128);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_mullo_epi32(u, r_lo));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_mullo_epi32(u, r_hi));
    }
  }
  // A local copy of the epilogue (avx2/epilogue.h: int8 stores alias).
  const TileEpilogue ep = t.ep;
  store_tile<MR, 2>(acc, ep, t.nc);
}

}  // namespace

GemmS8PairsFn gemm_s8_pairs_fn(int mr) {
  return tile_for_mr<kS8PairsMR>(mr, [](auto rows) -> GemmS8PairsFn { return tile_s8_pairs<decltype(rows)::value>; });
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
