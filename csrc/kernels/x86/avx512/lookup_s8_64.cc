// 256-entry int8 table lookup, AVX-512 F/BW (contract in
// kernels/abi/eltwise_s8.h): y[i] = table[x[i] + 128], 64 values per step.
//
// vpshufb looks up 16 entries per 128-bit lane, so the table is split into 16
// rows of 16: u = x + 128 (as uint8), row = u >> 4, column = u & 15. For
// each row r, vpshufb with that row broadcast to all four lanes gives every
// lane's entry if its row were r; a compare on the row keeps the right one.
// 16 x (shuffle + compare + blend) per 64 values, no gathers, no VBMI.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/eltwise_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

struct Table {
  __m512i rows[16];  // row r broadcast to the four 128-bit lanes
};

__m512i lookup64(__m512i x, const Table& t) {
  const __m512i u = _mm512_xor_si512(x, _mm512_set1_epi8(static_cast<char>(0x80)));  // x + 128
  const __m512i col = _mm512_and_si512(u, _mm512_set1_epi8(0x0f));
  const __m512i row = _mm512_and_si512(_mm512_srli_epi16(u, 4), _mm512_set1_epi8(0x0f));
  __m512i y = _mm512_setzero_si512();
  for (int r = 0; r < 16; ++r) {
    const __mmask64 hit = _mm512_cmpeq_epi8_mask(row, _mm512_set1_epi8(static_cast<char>(r)));
    y = _mm512_mask_shuffle_epi8(y, hit, t.rows[r], col);
  }
  return y;
}

}  // namespace

void lookup(int64_t n, const int8_t* x, const int8_t* table, int8_t* y) {
  Table t;
  for (int r = 0; r < 16; ++r) {
    t.rows[r] = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * r)));
  }
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    _mm512_storeu_si512(y + i, lookup64(_mm512_loadu_si512(x + i), t));
  }
  if (i < n) {
    const __mmask64 m = n - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - i)) - 1;
    _mm512_mask_storeu_epi8(y + i, m, lookup64(_mm512_maskz_loadu_epi8(m, x + i), t));
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
