// The byte pattern that interleaves three 16-byte channel vectors (16 pixels
// of channels 0, 1, 2) into 48 pixel-major bytes, as three output vectors
// each the OR of one byte shuffle (pshufb) per channel: the NCHW -> NHWC
// quantize of an RGB image in the AVX2 and AVX-512 tiers (SSSE3 shuffles,
// which both have; included only by those ISA translation units).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace int8rt {
namespace kernels {
namespace x86 {

struct Interleave3 {
  // pick[k][c][i]: output vector k's byte i is channel c's byte pick[k][c][i]
  // (the pixel) where that byte belongs to channel c, else -128 (pshufb
  // writes a zero).
  alignas(16) int8_t pick[3][3][16] = {};
  constexpr Interleave3() {
    for (int k = 0; k < 3; ++k) {
      for (int c = 0; c < 3; ++c) {
        for (int i = 0; i < 16; ++i) {
          const int g = 16 * k + i;
          pick[k][c][i] = static_cast<int8_t>(g % 3 == c ? g / 3 : -128);
        }
      }
    }
  }
};

// Output vector k (bytes 16k .. 16k + 15 of the 48) of 16 pixels whose
// channel bytes are c[0], c[1], c[2].
static constexpr Interleave3 kInterleave3{};

static inline __m128i interleave3(const __m128i c[3], int k) {
  const Interleave3& t = kInterleave3;
  __m128i v = _mm_setzero_si128();
  for (int ch = 0; ch < 3; ++ch) {
    v = _mm_or_si128(v, _mm_shuffle_epi8(c[ch], _mm_load_si128(reinterpret_cast<const __m128i*>(t.pick[k][ch]))));
  }
  return v;
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
