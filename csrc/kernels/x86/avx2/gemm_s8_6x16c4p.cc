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
// The u8 variant (kU8, the permuted pair tile) reads A already as u8 in the
// block's k order (gemm_s8_permute_a below, one vpshufb and one vpxor per 16
// bytes of A per block), so it spends no vpxor per broadcast.
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

// A row's 4 bytes at p as u8: flipped from s8 (a + 128) unless already u8.
template <bool kU8>
inline __m256i broadcast_u(const uint8_t* p, __m256i flip) {
  const __m256i v = broadcast4(reinterpret_cast<const int8_t*>(p));
  return kU8 ? v : _mm256_xor_si256(v, flip);
}

template <int MR, bool kU8>
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
  const uint8_t* const a0 = kU8 ? t.u : reinterpret_cast<const uint8_t*>(t.a);
  const uint8_t* a = a0;
  for (int64_t q = 0; q < groups; ++q, b += 64, a += 4) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      // W is read by each row's vpmaddubsw from L1 (a memory operand): held in two registers it
      // made 17 live ymm and the compiler spilled an accumulator. The empty asm hides that the
      // rows read the same bytes, so the loads are not merged back into registers.
      const int8_t* bw = b;
      __asm__ volatile("" : "+r"(bw));
      const __m256i u = broadcast_u<kU8>(a + i * t.lda, flip);
      const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bw));
      const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bw + 32));
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
      const int32_t byte = a0[i * t.lda + k];
      const __m256i u = _mm256_set1_epi32(kU8 ? byte : (byte ^ 0x80));
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
  return tile_for_mr<kS8PairsMR>(mr, [](auto rows) -> GemmS8PairsFn {
    return tile_s8_pairs<decltype(rows)::value, false>;
  });
}

GemmS8PairsFn gemm_s8_pairs_u8_fn(int mr) {
  return tile_for_mr<kS8PairsMR>(mr, [](auto rows) -> GemmS8PairsFn {
    return tile_s8_pairs<decltype(rows)::value, true>;
  });
}

void gemm_s8_permute_a(const int8_t* a, int64_t lda, int64_t rows, int64_t K, const uint8_t* perm, uint8_t* u,
                       int64_t ldu) {
  const int64_t full = K / 16 * 16;  // whole windows; the last, partial one byte by byte
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = 0; i < rows; ++i) {
    const int8_t* src = a + i * lda;
    uint8_t* dst = u + i * ldu;
    int64_t k = 0;
    for (; k + 32 <= full; k += 32) {  // two windows, one per 128-bit lane
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + k));
      const __m256i ctrl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(perm + k));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), _mm256_xor_si256(_mm256_shuffle_epi8(v, ctrl), flip));
    }
    for (; k < full; k += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k));
      const __m128i ctrl = _mm_loadu_si128(reinterpret_cast<const __m128i*>(perm + k));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + k),
                       _mm_xor_si128(_mm_shuffle_epi8(v, ctrl), _mm256_castsi256_si128(flip)));
    }
    if (full < K) {
      for (; k < full + 16; ++k) {
        const int64_t from = full + perm[k];
        dst[k] = from < K ? static_cast<uint8_t>(src[from] ^ 0x80) : uint8_t{0};
      }
    }
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
