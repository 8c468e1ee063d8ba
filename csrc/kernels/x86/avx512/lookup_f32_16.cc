// Float table lookups over int8 codes, AVX-512 F/BW (contracts in
// kernels/eltwise_s8.h): lookup_f32 (y[i] = table[x[i] + 128],
// ref::lookup_f32_s8) and softmax_s8_rows (ref/softmax_s8.h's rule with this
// lookup, which also adds the rule's lane sum as it stores). 16 values per
// step: 16 codes widened to int32, offset to 0..255, looked up in the
// 256-entry table held in 16 zmm (Table256: 8 two-table permutes and 7
// blends), stored; the tail through a mask. Exact: values are moved, not
// computed, and the sum is the rule's adds in its order. The rule's other
// loops (min / max, the exps of the row's levels, the product by 1 / sum)
// are the reference's, compiled here with this tier's flags.
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

// y[i] = table[x[i] + bias] for i < n (every index in 0..255); with kSum
// also their sum in ref::softmax_sum_f32's order: each step of 16 adds its
// two halves to the 8 partial lanes in turn (the rule's two steps of 8,
// overlapping the adds' latency chain with the lookups), and the reference
// goes on from the last whole 16 over the stored values.
template <bool kSum>
float lookup_loop(int64_t n, const int8_t* x, const float* table, int bias, float* y) {
  const Table256 lookup(table);
  const __m512i b = _mm512_set1_epi32(bias);
  __m256 s8 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i idx = _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))), b);
    const __m512 v = lookup(idx);
    _mm512_storeu_ps(y + i, v);
    if (kSum) {
      s8 = _mm256_add_ps(s8, _mm512_castps512_ps256(v));
      s8 = _mm256_add_ps(s8, _mm512_extractf32x8_ps(v, 1));
    }
  }
  const int64_t summed = i;
  if (i < n) {
    const __mmask16 k = mask16(n - i);
    // Masked-off lanes look up whatever their index says; they are not stored.
    const __m512i idx = _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + i)), b);
    _mm512_mask_storeu_ps(y + i, k, lookup(idx));
  }
  if (!kSum) return 0.f;
  float lanes[8];
  _mm256_storeu_ps(lanes, s8);
  return ref::softmax_sum_f32_from(y, n, summed, lanes);
}

}  // namespace

void lookup_f32(int64_t n, const int8_t* x, const float* table, float* y) { lookup_loop<false>(n, x, table, 128, y); }

void softmax_s8_rows(int64_t rows, int64_t n, const int8_t* x, float scale, float* y) {
  ref::softmax_s8_rows_loop(rows, n, x, scale, y, lookup_loop<true>);
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
