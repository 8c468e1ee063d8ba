// Packs a run-time B for the AVX2 gemm_u8s8 tiles (abi/gemm_u8s8.h, GemmU8S8PackBFn):
// avx512vnni/gemm_u8s8_pack_b.cc's byte and word unpacks in SSE registers,
// without its masks. Per block of 16 columns and group of 4 rows: four
// 16-byte row loads (a block narrower than 16 columns is first copied into a
// zeroed row), the sign bit flipped when B is u8 storage, two rounds of
// unpacks turn [4 rows][16 columns] into [16 columns][4 rows], four stores.
// Column sums: vpmaddubsw of ones with each stored 16 bytes (pairs of s8,
// |sum| <= 256, exact) then vpmaddwd with ones: the four rows of four
// columns per group, int32, wrapping as the reference's.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/abi/gemm_u8s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

void gemm_u8s8_pack_b(const uint8_t* b, int64_t ldb, int64_t K, int n, uint8_t flip, int8_t* dst,
                      int32_t* col_sums) {
  const int64_t groups = (K + 3) / 4;
  const __m128i flip_v = _mm_set1_epi8(static_cast<char>(flip));
  const __m128i ones8 = _mm_set1_epi8(1), ones16 = _mm_set1_epi16(1);
  const int blocks = (n + 15) / 16;
  for (int j = 0; j < blocks; ++j) {
    const int width = n - 16 * j < 16 ? n - 16 * j : 16;
    const uint8_t* bj = b + 16 * j;
    int8_t* out = dst + j * groups * 64;
    __m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0;
    auto sum4 = [&](__m128i acc, __m128i o) {
      return _mm_add_epi32(acc, _mm_madd_epi16(_mm_maddubs_epi16(ones8, o), ones16));
    };
    for (int64_t q = 0; q < groups; ++q, out += 64) {
      __m128i r[4];
      for (int i = 0; i < 4; ++i) {
        const int64_t k = 4 * q + i;
        if (k >= K) {  // rows past K stay zero (not flipped): they add nothing to the sums
          r[i] = _mm_setzero_si128();
        } else if (width == 16) {
          r[i] = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bj + k * ldb)), flip_v);
        } else {  // columns past n zero, not flipped, nothing read past them
          alignas(16) uint8_t row[16] = {};
          std::memcpy(row, bj + k * ldb, static_cast<size_t>(width));
          for (int c = 0; c < width; ++c) row[c] ^= flip;
          r[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(row));
        }
      }
      const __m128i t0 = _mm_unpacklo_epi8(r[0], r[1]), t1 = _mm_unpackhi_epi8(r[0], r[1]);
      const __m128i t2 = _mm_unpacklo_epi8(r[2], r[3]), t3 = _mm_unpackhi_epi8(r[2], r[3]);
      const __m128i o0 = _mm_unpacklo_epi16(t0, t2), o1 = _mm_unpackhi_epi16(t0, t2);
      const __m128i o2 = _mm_unpacklo_epi16(t1, t3), o3 = _mm_unpackhi_epi16(t1, t3);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), o0);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), o1);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32), o2);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 48), o3);
      s0 = sum4(s0, o0);
      s1 = sum4(s1, o1);
      s2 = sum4(s2, o2);
      s3 = sum4(s3, o3);
    }
    if (col_sums) {
      alignas(16) int32_t sums[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(sums), s0);
      _mm_store_si128(reinterpret_cast<__m128i*>(sums + 4), s1);
      _mm_store_si128(reinterpret_cast<__m128i*>(sums + 8), s2);
      _mm_store_si128(reinterpret_cast<__m128i*>(sums + 12), s3);
      for (int c = 0; c < width; ++c) col_sums[16 * j + c] = sums[c];
    }
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
