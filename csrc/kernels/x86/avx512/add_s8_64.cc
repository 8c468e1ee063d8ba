// Quantized add, rescale and channel-gate microkernels (the gate's rows and
// its per-channel tables), AVX-512 F/BW/VL
// (contract and formulas in kernels/abi/eltwise_s8.h): 64 values per
// iteration, 16 per zmm (int8 -> int32 -> float, multiply, add, clamp,
// round, narrow), the tail through masks.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/x86/avx512/s8_convert.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

struct AddConsts {
  __m512 am, bm, lo, hi, offset;
};

// ta = (float)a * am; tb = (float)b * bm; t = (ta + tb) + offset; clamp; round.
__m128i add16(__m128i a, __m128i b, const AddConsts& k) {
  const __m512 ta = _mm512_mul_ps(s8_to_ps(a), k.am);
  const __m512 tb = _mm512_mul_ps(s8_to_ps(b), k.bm);
  return to_s8(clamp_ps(_mm512_add_ps(_mm512_add_ps(ta, tb), k.offset), k.lo, k.hi));
}

__m128i rescale16(__m128i x, __m512 m, __m512 lo, __m512 hi) {
  return to_s8(clamp_ps(_mm512_mul_ps(s8_to_ps(x), m), lo, hi));
}

void rescale_row(int cols, const int8_t* x, __m512 m, __m512 lo, __m512 hi, int8_t* y) {
  int c = 0;
  for (; c + 16 <= cols; c += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + c));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + c), rescale16(v, m, lo, hi));
  }
  if (c < cols) {
    const __mmask16 mk = mask16(cols - c);
    _mm_mask_storeu_epi8(y + c, mk, rescale16(_mm_maskz_loadu_epi8(mk, x + c), m, lo, hi));
  }
}

}  // namespace

void add(int64_t n, const int8_t* a, const int8_t* b, const AddArgs& p, int8_t* y) {
  const AddConsts k{_mm512_set1_ps(p.a_mult), _mm512_set1_ps(p.b_mult), _mm512_set1_ps(p.lo),
                    _mm512_set1_ps(p.hi), _mm512_set1_ps(p.offset)};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int v = 0; v < 4; ++v) {
      const int64_t o = i + 16 * v;
      const __m128i av = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + o));
      const __m128i bv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + o));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + o), add16(av, bv, k));
    }
  }
  for (; i < n; i += 16) {
    const __mmask16 m = mask16(n - i);
    _mm_mask_storeu_epi8(
        y + i, m, add16(_mm_maskz_loadu_epi8(m, a + i), _mm_maskz_loadu_epi8(m, b + i), k));
  }
}

void rescale(int64_t rows, int cols, const int8_t* x, int64_t x_stride, float mult, int8_t* y,
             int64_t y_stride) {
  const __m512 m = _mm512_set1_ps(mult);
  const __m512 lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(127.0f);
  for (int64_t r = 0; r < rows; ++r) rescale_row(cols, x + r * x_stride, m, lo, hi, y + r * y_stride);
}

void channel_mul_row(int64_t C, const int8_t* x, const float* m, int8_t* y) {
  const __m512 lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(127.0f);
  for (int64_t c = 0; c < C; c += 16) {
    const __mmask16 k = mask16(C - c);
    const __m512 t = _mm512_mul_ps(s8_to_ps(_mm_maskz_loadu_epi8(k, x + c)), _mm512_maskz_loadu_ps(k, m + c));
    _mm_mask_storeu_epi8(y + c, k, to_s8(clamp_ps(t, lo, hi)));
  }
}

// The table form: 16 table entries looked up by x + 128 (Table256), times
// the gate, times 1/s_y (two roundings, as the float path's Mul then
// Quantize); the table stays in registers across the rows.
void channel_mul_table_rows(int64_t rows, int64_t C, const int8_t* x, const float* table, const float* g,
                            float inv_scale, int8_t* y) {
  const Table256 lookup(table);
  const __m512 lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(127.0f);
  const __m512 inv = _mm512_set1_ps(inv_scale);
  const __m512i bias = _mm512_set1_epi32(128);
  for (int64_t r = 0; r < rows; ++r, x += C, y += C) {
    for (int64_t c = 0; c < C; c += 16) {
      const __mmask16 k = mask16(C - c);
      const __m512i idx = _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + c)), bias);
      const __m512 t = _mm512_mul_ps(_mm512_mul_ps(lookup(idx), _mm512_maskz_loadu_ps(k, g + c)), inv);
      _mm_mask_storeu_epi8(y + c, k, to_s8(clamp_ps(t, lo, hi)));
    }
  }
}

// The per-channel tables of the table form: the 256 table entries (16 zmm,
// loaded once) times g[c], times 1/s_y, then to_s8_x4_packed (the clamp and
// rounding above, 64 codes a step), one channel's 256 codes per pass. The
// entries are loaded in the order the packs undo (zmm 4G + m, dword 4L + j
// holds entry 64G + 16L + 4m + j), so the codes come out in table order.
void channel_mul_tables(int64_t C, const float* table, const float* g, float inv_scale, int8_t* tables) {
  alignas(64) float order[256];
  for (int G = 0; G < 4; ++G) to_pack_order(table + 64 * G, 64, order + 64 * G);
  __m512 t[16];
  for (int k = 0; k < 16; ++k) t[k] = _mm512_load_ps(order + 16 * k);
  const __m512 inv = _mm512_set1_ps(inv_scale);
  for (int64_t c = 0; c < C; ++c, tables += 256) {
    const __m512 gc = _mm512_set1_ps(g[c]);
    for (int G = 0; G < 4; ++G) {
      __m512 v[4];
      for (int m = 0; m < 4; ++m) v[m] = _mm512_mul_ps(_mm512_mul_ps(t[4 * G + m], gc), inv);
      _mm512_storeu_si512(tables + 64 * G, to_s8_x4_packed(v));
    }
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
