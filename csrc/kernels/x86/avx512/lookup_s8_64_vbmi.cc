// 256-entry int8 table lookup, AVX-512 F/BW + VBMI (contract in
// kernels/abi/eltwise_s8.h): y[i] = table[x[i] + 128], 64 values per step.
//
// u = x + 128 (as uint8, an xor with 0x80). vpermi2b picks byte u & 127 of
// two registers' 128 bytes: once from the table's first half (entries
// 0..127) and once from its second (128..255); u's top bit (vpmovb2m)
// chooses between the two. Five instructions per 64 values where the
// vpshufb walk of lookup_s8_64.cc (CPUs without VBMI) takes 16 compares and
// 16 masked shuffles: the GELU table between BERT's FFN GEMMs (RESULTS.md
// section 103). Built with -mavx512vbmi (x86/CMakeLists.txt); its kernel
// declines on CPUs without it (LookupS8Kernel::supports).
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/eltwise_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// quarters[j]: the table's entries 64 j .. 64 j + 63.
inline __m512i lookup64(__m512i x, const __m512i* quarters) {
  const __m512i u = _mm512_xor_si512(x, _mm512_set1_epi8(static_cast<char>(0x80)));  // x + 128
  const __m512i lo = _mm512_permutex2var_epi8(quarters[0], u, quarters[1]);  // table[u & 127]
  const __m512i hi = _mm512_permutex2var_epi8(quarters[2], u, quarters[3]);  // table[128 + (u & 127)]
  return _mm512_mask_mov_epi8(lo, _mm512_movepi8_mask(u), hi);
}

}  // namespace

void lookup_vbmi(int64_t n, const int8_t* x, const int8_t* table, int8_t* y) {
  __m512i t[4];
  for (int j = 0; j < 4; ++j) t[j] = _mm512_loadu_si512(table + 64 * j);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    _mm512_storeu_si512(y + i, lookup64(_mm512_loadu_si512(x + i), t));
  }
  if (i < n) {
    const __mmask64 m = (__mmask64{1} << (n - i)) - 1;  // n - i < 64
    _mm512_mask_storeu_epi8(y + i, m, lookup64(_mm512_maskz_loadu_epi8(m, x + i), t));
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
