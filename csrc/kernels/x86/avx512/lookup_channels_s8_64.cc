// Per-channel int8 table lookup, AVX-512 F/BW (contract in
// kernels/abi/eltwise_s8.h LookupChannelsFn): y[p][c] = tables[c][x[p][c] + 128],
// 64 channels of one pixel per step.
//
// A per-channel table is a gather across lanes (each byte has its own
// table), so each step is four 16-lane dword gathers from the packed block
// (x86/lookup_channels_x86.h: row u = x + 128 holds the block's 64 entries
// u): offset = u * 64 + lane; vpmovdb keeps each dword's low byte. The
// last block's channels past C are masked off on load (u = 128, a row inside
// the block) and on store.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/eltwise_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// Channels [16k, 16k + 16) of the block: one 16-lane gather, low bytes kept.
template <int k>
__m128i lookup16(__m512i u, const int8_t* block) {
  const __m512i lane = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                        _mm512_set1_epi32(16 * k));
  const __m512i offset = _mm512_add_epi32(_mm512_slli_epi32(_mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(u, k)), 6), lane);
  return _mm512_cvtepi32_epi8(_mm512_i32gather_epi32(offset, block, 1));
}

__m512i lookup64(__m512i x, const int8_t* block) {
  const __m512i u = _mm512_xor_si512(x, _mm512_set1_epi8(static_cast<char>(0x80)));  // x + 128
  __m512i y = _mm512_castsi128_si512(lookup16<0>(u, block));
  y = _mm512_inserti32x4(y, lookup16<1>(u, block), 1);
  y = _mm512_inserti32x4(y, lookup16<2>(u, block), 2);
  return _mm512_inserti32x4(y, lookup16<3>(u, block), 3);
}

}  // namespace

void lookup_channels(int64_t pixels, int64_t C, const int8_t* x, const int8_t* packed, int8_t* y) {
  for (int64_t p = 0; p < pixels; ++p, x += C, y += C) {
    const int8_t* block = packed;
    int64_t c = 0;
    for (; c + 64 <= C; c += 64, block += 64 * 256) {
      _mm512_storeu_si512(y + c, lookup64(_mm512_loadu_si512(x + c), block));
    }
    if (c < C) {
      const __mmask64 m = (__mmask64{1} << (C - c)) - 1;
      _mm512_mask_storeu_epi8(y + c, m, lookup64(_mm512_maskz_loadu_epi8(m, x + c), block));
    }
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
