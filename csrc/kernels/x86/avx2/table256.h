// A 256-entry byte table looked up for 32 int8 codes in a ymm, AVX2, for
// this folder's lookups (eltwise_s8_32.cc's lookup, lookup_channels_s8_32x16.cc;
// compiled with the AVX2 flags only, in this ISA's namespace):
//   y[i] = table[x[i] + 128].
// The table is 16 rows of 16 (row = (x + 128) >> 4, column = x & 15); `row(r)`
// gives row r in both 128-bit lanes. vpshufb looks the column up in every row
// (16 shuffles), and a tree of 15 vpblendvb keeps the row the code names, one
// bit of it per level: x's sign bit (set: row < 8) picks between rows r + 8
// and r, then bits 6, 5 and 4 of x (the same in x + 128), moved into the sign
// bit by byte adds. 35 vector operations per 32 codes, against 48 for a
// compare and a blend per row (RESULTS.md section 236).
#pragma once

#include <immintrin.h>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

template <class Row>
inline __m256i look_up32(__m256i x, const Row& row) {
  const __m256i col = _mm256_and_si256(x, _mm256_set1_epi8(0x0f));
  __m256i s[8];
  for (int r = 0; r < 8; ++r) {  // x < 0: row r; else row r + 8
    s[r] = _mm256_blendv_epi8(_mm256_shuffle_epi8(row(r + 8), col), _mm256_shuffle_epi8(row(r), col), x);
  }
  __m256i m = _mm256_add_epi8(x, x);  // bit 6 (row bit 2) in the sign
  for (int r = 0; r < 4; ++r) s[r] = _mm256_blendv_epi8(s[r], s[r + 4], m);
  m = _mm256_add_epi8(m, m);  // bit 5
  for (int r = 0; r < 2; ++r) s[r] = _mm256_blendv_epi8(s[r], s[r + 2], m);
  m = _mm256_add_epi8(m, m);  // bit 4
  return _mm256_blendv_epi8(s[0], s[1], m);
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
