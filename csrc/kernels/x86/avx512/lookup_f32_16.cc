// Float table lookups over int8 codes, AVX-512 F/BW (contracts in
// kernels/eltwise_s8.h): lookup_f32 (y[i] = table[x[i] + 128],
// ref::lookup_f32_s8) and softmax_s8_rows (ref/softmax_s8.h's rule with this
// lookup). 16 values per step: 16 codes widened to int32, offset to 0..255,
// looked up in the 256-entry table held in 16 zmm (Table256: 8 two-table
// permutes and 7 blends), stored; the tail through a mask. Exact: values
// are moved, not computed. The rule's other loops (min / max, the exps of
// the row's levels, the lane sum, the product by 1 / sum) are the
// reference's, compiled here with this tier's flags.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/ref/softmax_s8.h"
#include "kernels/x86/avx512/s8_convert.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// y[i] = table[x[i] + bias] for i < n (every index in 0..255).
void lookup_loop(int64_t n, const int8_t* x, const float* table, int bias, float* y) {
  const Table256 lookup(table);
  const __m512i b = _mm512_set1_epi32(bias);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i idx = _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))), b);
    _mm512_storeu_ps(y + i, lookup(idx));
  }
  if (i < n) {
    const __mmask16 k = mask16(n - i);
    // Masked-off lanes look up whatever their index says; they are not stored.
    const __m512i idx = _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + i)), b);
    _mm512_mask_storeu_ps(y + i, k, lookup(idx));
  }
}

}  // namespace

void lookup_f32(int64_t n, const int8_t* x, const float* table, float* y) { lookup_loop(n, x, table, 128, y); }

void softmax_s8_rows(int64_t rows, int64_t n, const int8_t* x, float scale, float* y) {
  ref::softmax_s8_rows_loop(rows, n, x, scale, y, lookup_loop);
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
