// Per-channel int8 table lookup, AVX2 (contract in kernels/abi/eltwise_s8.h
// LookupChannelsFn): y[p][c] = tables[c][x[p][c] + 128], 32 channels of one
// pixel per step.
//
// Four 8-lane dword gathers from the packed block (x86/lookup_channels_x86.h:
// row u = x + 128 holds the block's 64 entries u; offset = u * 64 + lane),
// each dword's low byte kept by two unsigned packs and a lane permute. The
// channels past the last multiple of 32 go through a 32-byte scratch row
// (zeros there: u = 128, a row inside the block).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/abi/eltwise_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

// Channels [8k, 8k + 8) of the 32 at `first` (within the block): entries as dwords 0..255.
__m256i gather8(__m128i u8, int first, const int8_t* block) {
  const __m256i lane = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(first));
  const __m256i offset = _mm256_add_epi32(_mm256_slli_epi32(_mm256_cvtepu8_epi32(u8), 6), lane);
  const __m256i g = _mm256_i32gather_epi32(reinterpret_cast<const int*>(block), offset, 1);
  return _mm256_and_si256(g, _mm256_set1_epi32(0xff));
}

// 32 channels starting at `first` (0 or 32) of the block.
__m256i lookup32(__m256i x, int first, const int8_t* block) {
  const __m256i u = _mm256_xor_si256(x, _mm256_set1_epi8(static_cast<char>(0x80)));  // x + 128
  const __m128i lo = _mm256_castsi256_si128(u), hi = _mm256_extracti128_si256(u, 1);
  const __m256i a = gather8(lo, first, block), b = gather8(_mm_srli_si128(lo, 8), first + 8, block);
  const __m256i c = gather8(hi, first + 16, block), d = gather8(_mm_srli_si128(hi, 8), first + 24, block);
  // Packs work per 128-bit lane: bytes come out as a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7.
  const __m256i bytes = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, d));
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace

void lookup_channels(int64_t pixels, int64_t C, const int8_t* x, const int8_t* packed, int8_t* y) {
  for (int64_t p = 0; p < pixels; ++p, x += C, y += C) {
    int64_t c = 0;
    for (; c + 32 <= C; c += 32) {
      const int8_t* block = packed + (c / 64) * 64 * 256;
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + c));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + c), lookup32(v, static_cast<int>(c % 64), block));
    }
    if (c < C) {
      alignas(32) int8_t row[32] = {};
      std::memcpy(row, x + c, static_cast<size_t>(C - c));
      const __m256i v = lookup32(_mm256_load_si256(reinterpret_cast<const __m256i*>(row)), static_cast<int>(c % 64),
                                 packed + (c / 64) * 64 * 256);
      _mm256_store_si256(reinterpret_cast<__m256i*>(row), v);
      std::memcpy(y + c, row, static_cast<size_t>(C - c));
    }
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
