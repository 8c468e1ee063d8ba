// BF16 attention operand converters, AVX512-BF16, for the 8 x 32 pair tile
// (gemm_bf16_8x32.cc): contract in kernels/abi/attention_bf16.h, the same
// bits as kernels/ref/attention_bf16.cc.
//
// Rows: 16 values per VMULPS (the scale, when given) + VCVTNEPS2BF16, the
// tail through masks, an odd row's zero pad stored apart.
// Panel, k-major (kt, v): per pair and 16 columns, the even and odd k rows
// loaded (zero past n or k), scaled, VCVTNE2PS2BF16 into one vector and
// interleaved into pairs by one VPERMW (gemm_bf16_8x32.cc's converter, with
// a row stride and the scale).
// Panel of keys ([N][K] rows): a key's pairs are its values in order, so 32
// values of 16 keys (two loads each) become 16 pairs per VCVTNE2PS2BF16,
// one vector per key; a 16 x 16 transpose of those 32-bit pairs (four
// stages of VPERMT2PS, each swapping one bit of the key index with one of
// the pair index) gives 16 keys' lanes per pair, stored as a panel row.
// Lanes past n or k are zero (a blend after the scale, so an infinite scale
// still gives a zero there, as the reference).
//
// Compiled twice from this text (kernels/x86/emulation/avx512.h): natively
// in the library (namespace avx512bf16) and, in the tests, against
// emulation/avx512_emulation.h (namespace emulated::avx512bf16).
#include <cstdint>

#include "kernels/abi/attention_bf16.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {
namespace {

inline __mmask16 first(int64_t count) {  // the first min(max(count, 0), 16) lanes
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : count <= 0 ? 0 : static_cast<__mmask16>((1u << count) - 1u);
}

// m's lanes of x (times the scale), zero elsewhere.
inline __m512 scaled(const float* x, __mmask16 m, const float* scale) {
  __m512 v = _mm512_maskz_loadu_ps(m, x);
  if (scale) v = _mm512_mask_blend_ps(m, _mm512_setzero_ps(), _mm512_mul_ps(v, _mm512_set1_ps(*scale)));
  return v;
}

// Lanes of a and b swapped across bit `d` of the row and of the lane: the
// stage of the 16 x 16 transpose for that bit (r[i] and r[i + d], i & d == 0).
template <int d>
inline void swap_bit(__m512* r) {
  const __m512i lo = _mm512_set_epi32(15 & d ? 16 + 15 - d : 15, 14 & d ? 16 + 14 - d : 14, 13 & d ? 16 + 13 - d : 13,
                                      12 & d ? 16 + 12 - d : 12, 11 & d ? 16 + 11 - d : 11, 10 & d ? 16 + 10 - d : 10,
                                      9 & d ? 16 + 9 - d : 9, 8 & d ? 16 + 8 - d : 8, 7 & d ? 16 + 7 - d : 7,
                                      6 & d ? 16 + 6 - d : 6, 5 & d ? 16 + 5 - d : 5, 4 & d ? 16 + 4 - d : 4,
                                      3 & d ? 16 + 3 - d : 3, 2 & d ? 16 + 2 - d : 2, 1 & d ? 16 + 1 - d : 1,
                                      0 & d ? 16 + 0 - d : 0);
  const __m512i hi = _mm512_set_epi32(15 & d ? 31 : 15 + d, 14 & d ? 30 : 14 + d, 13 & d ? 29 : 13 + d,
                                      12 & d ? 28 : 12 + d, 11 & d ? 27 : 11 + d, 10 & d ? 26 : 10 + d,
                                      9 & d ? 25 : 9 + d, 8 & d ? 24 : 8 + d, 7 & d ? 23 : 7 + d, 6 & d ? 22 : 6 + d,
                                      5 & d ? 21 : 5 + d, 4 & d ? 20 : 4 + d, 3 & d ? 19 : 3 + d, 2 & d ? 18 : 2 + d,
                                      1 & d ? 17 : 1 + d, 0 & d ? 16 : 0 + d);
  for (int i = 0; i < 16; ++i) {
    if (i & d) continue;
    const __m512 a = r[i], b = r[i + d];
    r[i] = _mm512_permutex2var_ps(a, lo, b);
    r[i + d] = _mm512_permutex2var_ps(a, hi, b);
  }
}

// Keys j0 .. j0 + 15 (those < n), pairs p0 .. p0 + 15 (those < pairs) into
// the panel at lane offset `lane` (0 or 16) of an nr = 32 panel.
void keys_block(const float* src, int64_t ld, int64_t k, int64_t n, const float* scale, int64_t j0, int64_t p0,
                int64_t pairs, uint16_t* panel, int lane) {
  __m512 r[16];
  const __mmask16 m0 = first(k - 2 * p0), m1 = first(k - 2 * p0 - 16);
  for (int i = 0; i < 16; ++i) {
    if (j0 + i >= n) {
      r[i] = _mm512_setzero_ps();
      continue;
    }
    const float* x = src + (j0 + i) * ld + 2 * p0;
    r[i] = (__m512)_mm512_cvtne2ps_pbh(scaled(x + 16, m1, scale), scaled(x, m0, scale));
  }
  swap_bit<8>(r);
  swap_bit<4>(r);
  swap_bit<2>(r);
  swap_bit<1>(r);
  for (int i = 0; i < 16 && p0 + i < pairs; ++i) _mm512_storeu_ps(panel + ((p0 + i) * 32 + lane) * 2, r[i]);
}

}  // namespace

void bf16_scaled_rows(const float* src, int64_t ld, int64_t rows, int64_t cols, const float* scale, uint16_t* dst,
                      int64_t dst_ld) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = src + r * ld;
    uint16_t* d = dst + r * dst_ld;
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + c), (__m256i)_mm512_cvtneps_pbh(scaled(x + c, 0xFFFF, scale)));
    }
    if (c < cols) {
      const __mmask16 m = first(cols - c);
      _mm256_mask_storeu_epi16(d + c, m, (__m256i)_mm512_cvtneps_pbh(scaled(x + c, m, scale)));
    }
    if (cols % 2) d[cols] = 0;
  }
}

void bf16_scaled_panel(const float* src, int64_t ld, int64_t k, int64_t n, bool keys, const float* scale, int nr,
                       uint16_t* dst) {
  (void)nr;  // 32: the tile's
  const int64_t pairs = (k + 1) / 2, panels = (n + 31) / 32;
  if (keys) {
    for (int64_t q = 0; q < panels; ++q) {
      uint16_t* panel = dst + q * pairs * 64;
      for (int64_t p0 = 0; p0 < pairs; p0 += 16) {
        keys_block(src, ld, k, n, scale, q * 32, p0, pairs, panel, 0);
        keys_block(src, ld, k, n, scale, q * 32 + 16, p0, pairs, panel, 16);
      }
    }
    return;
  }
  // Word 2i of the result is even[i], word 2i + 1 is odd[i]: VCVTNE2PS2BF16
  // puts its second operand (even) in words 0..15 and its first in 16..31.
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                              24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17,
                                              1, 16, 0);
  for (int64_t q = 0; q < panels; ++q) {
    uint16_t* panel = dst + q * pairs * 64;
    for (int64_t p = 0; p < pairs; ++p) {
      const float* even = src + 2 * p * ld + q * 32;
      const bool has_odd = 2 * p + 1 < k;
      for (int h = 0; h < 2; ++h) {
        const __mmask16 m = first(n - q * 32 - h * 16);
        const __m512 e = scaled(even + h * 16, m, scale);
        const __m512 o = has_odd ? scaled(even + ld + h * 16, m, scale) : _mm512_setzero_ps();
        _mm512_storeu_si512(panel + (p * 32 + h * 16) * 2,
                            _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(o, e)));
      }
    }
  }
}

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
