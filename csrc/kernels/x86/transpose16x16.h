// The 16 x 16 byte transpose by unpack stages (bytes, words, dwords, qwords:
// r[i] byte j -> r[j] byte i, its own inverse), for the kernels that turn
// pixel-major rows into channel-major ones and back: the AVX2 and AVX-512
// NCHW <-> NHWC quantizers (one 16 x 16 block per call, SSE2 unpacks) and
// the AVX2 per-channel lookup (two blocks at once, one per 128-bit lane of
// a ymm: AVX2's unpacks work within lanes). One template over the register
// type; the ymm overloads exist where the translation unit targets AVX2.
// Included only by those ISA translation units.
#pragma once

#include <immintrin.h>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace transpose16x16_detail {

inline __m128i lo8(__m128i a, __m128i b) { return _mm_unpacklo_epi8(a, b); }
inline __m128i hi8(__m128i a, __m128i b) { return _mm_unpackhi_epi8(a, b); }
inline __m128i lo16(__m128i a, __m128i b) { return _mm_unpacklo_epi16(a, b); }
inline __m128i hi16(__m128i a, __m128i b) { return _mm_unpackhi_epi16(a, b); }
inline __m128i lo32(__m128i a, __m128i b) { return _mm_unpacklo_epi32(a, b); }
inline __m128i hi32(__m128i a, __m128i b) { return _mm_unpackhi_epi32(a, b); }
inline __m128i lo64(__m128i a, __m128i b) { return _mm_unpacklo_epi64(a, b); }
inline __m128i hi64(__m128i a, __m128i b) { return _mm_unpackhi_epi64(a, b); }
#ifdef __AVX2__
inline __m256i lo8(__m256i a, __m256i b) { return _mm256_unpacklo_epi8(a, b); }
inline __m256i hi8(__m256i a, __m256i b) { return _mm256_unpackhi_epi8(a, b); }
inline __m256i lo16(__m256i a, __m256i b) { return _mm256_unpacklo_epi16(a, b); }
inline __m256i hi16(__m256i a, __m256i b) { return _mm256_unpackhi_epi16(a, b); }
inline __m256i lo32(__m256i a, __m256i b) { return _mm256_unpacklo_epi32(a, b); }
inline __m256i hi32(__m256i a, __m256i b) { return _mm256_unpackhi_epi32(a, b); }
inline __m256i lo64(__m256i a, __m256i b) { return _mm256_unpacklo_epi64(a, b); }
inline __m256i hi64(__m256i a, __m256i b) { return _mm256_unpackhi_epi64(a, b); }
#endif

}  // namespace transpose16x16_detail

// r[i] byte j -> r[j] byte i, per 128-bit lane.
template <class V>
inline void transpose16x16(V r[16]) {
  using namespace transpose16x16_detail;
  V a[16], b[16], c[16];
  for (int i = 0; i < 8; ++i) {
    a[2 * i] = lo8(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = hi8(r[2 * i], r[2 * i + 1]);
  }
  // b[4g + q]: rows 4g..4g+3, columns 4q..4q+3.
  for (int g = 0; g < 4; ++g) {
    b[4 * g + 0] = lo16(a[4 * g + 0], a[4 * g + 2]);
    b[4 * g + 1] = hi16(a[4 * g + 0], a[4 * g + 2]);
    b[4 * g + 2] = lo16(a[4 * g + 1], a[4 * g + 3]);
    b[4 * g + 3] = hi16(a[4 * g + 1], a[4 * g + 3]);
  }
  // c[8h + q]: rows 8h..8h+7, columns 2q, 2q+1.
  for (int h = 0; h < 2; ++h) {
    for (int q = 0; q < 4; ++q) {
      c[8 * h + 2 * q] = lo32(b[8 * h + q], b[8 * h + 4 + q]);
      c[8 * h + 2 * q + 1] = hi32(b[8 * h + q], b[8 * h + 4 + q]);
    }
  }
  for (int k = 0; k < 8; ++k) {
    r[2 * k] = lo64(c[k], c[k + 8]);
    r[2 * k + 1] = hi64(c[k], c[k + 8]);
  }
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
