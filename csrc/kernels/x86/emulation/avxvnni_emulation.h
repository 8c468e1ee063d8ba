// VEX vpdpbusd / vpdpwssd (AVX-VNNI, 256-bit) in AVX2, exact, so that the
// AVX-VNNI kernel files run on any AVX2 CPU (tests only: the emulated twin
// of avxvnni/*.cc that kernels/x86/avxvnni/dpbusd.h selects with
// INT8RT_X86_EMULATED; the library never includes this header).
//
// Intel SDM vol. 2, VPDPBUSD: for each dword i,
//   acc[i] += sum_{j<4} ZeroExtend(u8.byte[4i+j]) * SignExtend(s8.byte[4i+j])
// and VPDPWSSD:
//   acc[i] += SignExtend(a.word[2i]) * SignExtend(b.word[2i])
//           + SignExtend(a.word[2i+1]) * SignExtend(b.word[2i+1]),
// both without saturation: sums wrap mod 2^32.
//
// How AVX2 does it exactly: vpmaddwd multiplies int16 pairs and adds the two
// products into an int32. The bytes of each dword are split into its even
// bytes (0, 2) and odd bytes (1, 3), widened in place to int16 (u8 by
// zero-extension: mask / logical shift; s8 by sign-extension: arithmetic
// shift); each product is at most 255 * 128 in magnitude, so vpmaddwd's
// pair sums are exact, and the two pair sums plus acc wrap mod 2^32 as the
// instruction's sum does. vpdpwssd is vpmaddwd plus the add: vpmaddwd's only
// overflow (four words of -32768) yields 0x80000000, which is 2^31 mod 2^32.
// (vpmaddubsw is never used: it saturates its int16 pair sums.)
// tests/cpp/test_avxvnni_emulation.cc checks both against the formulas above.
#pragma once

#include <immintrin.h>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace emulated {

inline __m256i dpbusd256(__m256i acc, __m256i u8, __m256i s8) {
  const __m256i low_bytes = _mm256_set1_epi16(0x00FF);
  const __m256i u_even = _mm256_and_si256(u8, low_bytes);  // zero-extended
  const __m256i u_odd = _mm256_srli_epi16(u8, 8);
  const __m256i s_even = _mm256_srai_epi16(_mm256_slli_epi16(s8, 8), 8);  // sign-extended
  const __m256i s_odd = _mm256_srai_epi16(s8, 8);
  const __m256i even = _mm256_madd_epi16(u_even, s_even);
  const __m256i odd = _mm256_madd_epi16(u_odd, s_odd);
  return _mm256_add_epi32(acc, _mm256_add_epi32(even, odd));
}

inline __m256i dpwssd256(__m256i acc, __m256i a, __m256i b) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
}

}  // namespace emulated
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
