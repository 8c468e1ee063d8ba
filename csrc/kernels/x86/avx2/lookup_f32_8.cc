// Float table lookups over int8 codes, AVX2 (contracts in
// kernels/eltwise_s8.h): lookup_f32 (y[i] = table[x[i] + 128],
// ref::lookup_f32_s8) and softmax_s8_rows (ref/softmax_s8.h's rule with this
// lookup). 8 values per step: 8 codes widened to int32, offset to 0..255,
// one vgatherdps from the 256-entry table; the tail value by value. Exact:
// values are moved, not computed. The rule's other loops are the
// reference's, compiled here with this tier's flags.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/ref/softmax_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

// y[i] = table[x[i] + bias] for i < n (every index in 0..255).
void lookup_loop(int64_t n, const int8_t* x, const float* table, int bias, float* y) {
  const __m256i b = _mm256_set1_epi32(bias);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    int64_t bytes;
    std::memcpy(&bytes, x + i, sizeof bytes);
    const __m256i idx = _mm256_add_epi32(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(bytes)), b);
    _mm256_storeu_ps(y + i, _mm256_i32gather_ps(table, idx, 4));
  }
  for (; i < n; ++i) y[i] = table[x[i] + bias];
}

}  // namespace

void lookup_f32(int64_t n, const int8_t* x, const float* table, float* y) { lookup_loop(n, x, table, 128, y); }

void softmax_s8_rows(int64_t rows, int64_t n, const int8_t* x, float scale, float* y) {
  auto lookup_sum = [](int64_t count, const int8_t* codes, const float* table, int bias, float* out) {
    lookup_loop(count, codes, table, bias, out);
    return ref::softmax_sum_f32(out, count);
  };
  ref::softmax_s8_rows_loop(rows, n, x, scale, y, lookup_sum);
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
