// Packs a run-time B for the 6 x 64 u8 x s8 tile (abi/gemm_u8s8.h, GemmU8S8PackBFn),
// AVX512-VNNI (the 128-bit VL forms).
//
// Per block of 16 columns and group of 4 rows: four 16-byte row loads (masked
// past n), the sign bit flipped when B is u8 storage, then two rounds of byte
// and word unpacks turn [4 rows][16 columns] into [16 columns][4 rows], four
// xmm stores = the block's 64 bytes of that group. vpdpbusd of ones with each
// stored xmm adds the four rows of four columns into that group of the
// column sums, so the sums cost one instruction per 16 bytes.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/gemm_u8s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {

void gemm_u8s8_pack_b(const uint8_t* b, int64_t ldb, int64_t K, int n, uint8_t flip, int8_t* dst,
                      int32_t* col_sums) {
  const int64_t groups = (K + 3) / 4;
  const __m128i flip_v = _mm_set1_epi8(static_cast<char>(flip));
  const __m128i ones = _mm_set1_epi8(1);
  const int blocks = (n + 15) / 16;
  for (int j = 0; j < blocks; ++j) {
    const int width = n - 16 * j < 16 ? n - 16 * j : 16;
    const __mmask16 cols = static_cast<__mmask16>((1u << width) - 1u);
    const uint8_t* bj = b + 16 * j;
    int8_t* out = dst + j * groups * 64;
    __m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t q = 0; q < groups; ++q, out += 64) {
      __m128i r[4];
      for (int i = 0; i < 4; ++i) {
        const int64_t k = 4 * q + i;
        // Rows past K stay zero (not flipped): they must add nothing to the sums.
        // Columns past n too (the masked load reads nothing past them; the flip is masked off).
        r[i] = k < K ? _mm_maskz_mov_epi8(cols, _mm_xor_si128(_mm_maskz_loadu_epi8(cols, bj + k * ldb), flip_v))
                     : _mm_setzero_si128();
      }
      const __m128i t0 = _mm_unpacklo_epi8(r[0], r[1]), t1 = _mm_unpackhi_epi8(r[0], r[1]);
      const __m128i t2 = _mm_unpacklo_epi8(r[2], r[3]), t3 = _mm_unpackhi_epi8(r[2], r[3]);
      const __m128i o0 = _mm_unpacklo_epi16(t0, t2), o1 = _mm_unpackhi_epi16(t0, t2);
      const __m128i o2 = _mm_unpacklo_epi16(t1, t3), o3 = _mm_unpackhi_epi16(t1, t3);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), o0);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), o1);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32), o2);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 48), o3);
      s0 = _mm_dpbusd_epi32(s0, ones, o0);
      s1 = _mm_dpbusd_epi32(s1, ones, o1);
      s2 = _mm_dpbusd_epi32(s2, ones, o2);
      s3 = _mm_dpbusd_epi32(s3, ones, o3);
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

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
