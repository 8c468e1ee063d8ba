// BF16 GEMM microkernel and activation converter, AVX512-BF16: contract in
// kernels/abi/gemm_bf16.h.
//
// Register tile: 8 rows x 32 columns = 16 zmm FP32 accumulators (2 per row).
// Per k pair: two B loads (32 columns x one BF16 pair each: the B panel
// [pairs][32][2], or image rows b_step apart for a direct convolution), then per row one broadcast of the row's pair from the A
// panel [pairs][8][2] (or, Bf16Tile::a_ld > 0, from A's rows: the driver's
// row-major A, read in place) and two VDPBF16PS. VDPBF16PS is the reference's
// dot_pair (odd element first, DAZ, FTZ, RNE) in hardware, so the tile is
// bit-exact with ref::gemm_bf16_tile. Partial tiles: `rows` < 8 runs a
// shorter instantiation, `cols` < 32 stores through a mask, and `cols` <= 16
// runs a one-vector instantiation (one B load and R VDPBF16PS per pair step); padded columns
// are zero pairs in B. The tile epilogue (bias add, residual add (FP32, or BF16 widened by
// VPMOVZXWD + VPSLLD), clip as compare + blend)
// runs in registers before the store (FP32, or VCVTNEPS2BF16 into c16);
// with col_keep, each half's kept columns are compressed (VCOMPRESSPS) and
// stored one after another.
// Bf16Tile::prefetch: one PREFETCHT0 per pair step, 64 bytes apart.
//
// Converter: 16 columns at a time, VCVTNE2PS2BF16 of the even and odd k
// rows (bf16::from_f32 in hardware), then one VPERMW interleaving them into
// pairs; a tail of fewer than 16 columns through masks. One column (n == 1:
// a row's values, whose pairs are the values in order, as the driver
// converts a row-major A row or a run of C) 16 values per VCVTNEPS2BF16. Row converter:
// VCVTNEPS2BF16 per k row, then a scalar transpose into the rows; one
// column (n == 1: a row-major A row) 16 k per VCVTNEPS2BF16, no transpose.
// Interleave (BF16 bits into pairs): 16 pairs at a time, each 32-bit lane
// the even word zero-extended (VPMOVZXWD) OR the odd one shifted up 16.
//
// Compiled twice from this text (kernels/x86/emulation/avx512.h): natively
// in the library (namespace avx512bf16) and, in the tests, against
// emulation/avx512_emulation.h (namespace emulated::avx512bf16, baseline
// flags: runs on any x86-64 CPU).
#include <cstdint>
#include <cstring>

#include "kernels/abi/gemm_bf16.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {
namespace {

// The panel tile of abi/gemm_bf16.h (named in full for the emulated twin).
using x86::avx512bf16::kBf16MR;
using x86::avx512bf16::kBf16NR;

// 16 BF16 values as the FP32 values they are (bf16::to_f32).
inline __m512 widen(__m256i bits) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

// V: column vectors of 16 (2: the 8 x 32 tile; 1: a tile of at most 16
// columns, which loads and multiplies one B vector per pair step instead
// of computing 16 dropped columns; the same arithmetic per output).
// Rows: A is rows t.a_ld apart (row r's pair p at a + r * a_ld + 2 p, the
// driver's row-major A) instead of the panel; the same pairs broadcast.
template <int R, int V, bool Rows>
void tile(const Bf16Tile& t) {
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  const uint16_t* a = t.a;
  // Runs of pairs whose B rows are `step` apart: one run over the panel, or
  // the image runs of a direct convolution (Bf16Tile::b_step).
  const int64_t step = t.b_step ? t.b_step : 2 * kBf16NR;
  const int64_t run = t.b_step ? t.run_pairs : t.pairs;
  const char* pf = reinterpret_cast<const char*>(t.prefetch);
  for (int64_t p0 = 0, q = 0; p0 < t.pairs; p0 += run, ++q) {
    const uint16_t* b = t.b_step ? t.b + t.b_offsets[q] : t.b;
    for (int64_t i = 0; i < run; ++i) {
      const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);
      const __m512bh b1 = V == 2 ? (__m512bh)_mm512_loadu_si512(b + 32) : b0;
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        int32_t pair;
        std::memcpy(&pair, Rows ? a + r * t.a_ld : a + 2 * r, 4);
        const __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
        acc0[r] = _mm512_dpbf16_ps(acc0[r], av, b0);
        if (V == 2) acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b1);
      }
      a += Rows ? 2 : 2 * kBf16MR;
      b += step;
      if (pf) {
        __builtin_prefetch(pf);
        pf += 64;
      }
    }
  }
  const __mmask16 m0 = t.cols >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << t.cols) - 1);
  const __mmask16 m1 = t.cols > 16 ? static_cast<__mmask16>((1u << (t.cols - 16)) - 1) : 0;
  const __m512 lo = _mm512_set1_ps(t.lo), hi = _mm512_set1_ps(t.hi);
  // Bf16Tile::col_keep: each half's kept columns moved to its front
  // (VCOMPRESSPS, register form), stored as n0 then n1 columns.
  const __mmask16 k0 = static_cast<__mmask16>(t.col_keep), k1 = static_cast<__mmask16>(t.col_keep >> 16);
  const int n0 = __builtin_popcount(k0);
  const __mmask16 s0 = t.col_keep ? static_cast<__mmask16>((1u << n0) - 1) : m0;
  const __mmask16 s1 = t.col_keep ? static_cast<__mmask16>((1u << __builtin_popcount(k1)) - 1) : m1;
  const int at1 = t.col_keep ? n0 : 16;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* c = t.c16 ? nullptr : t.c + r * t.ldc;
    __m512 v0 = acc0[r], v1 = acc1[r];
    if (t.accumulate) {
      v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), v0);
      if (V == 2) v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), v1);
    }
    if (t.bias) {
      const __m512 b = _mm512_set1_ps(t.bias[r]);
      v0 = _mm512_add_ps(v0, b);
      if (V == 2) v1 = _mm512_add_ps(v1, b);
    }
    if (t.residual) {
      const float* res = t.residual + r * t.ldr;
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, res));
      if (V == 2) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, res + 16));
    }
    if (t.residual16) {  // BF16 bits widened exactly: zero-extended, shifted into the high half
      const uint16_t* res = t.residual16 + r * t.ldr;
      v0 = _mm512_add_ps(v0, widen(_mm256_maskz_loadu_epi16(m0, res)));
      if (V == 2) v1 = _mm512_add_ps(v1, widen(_mm256_maskz_loadu_epi16(m1, res + 16)));
    }
    if (t.clip) {  // v < lo ? lo : v, then hi < v ? hi : v (NaN stays NaN: ref/clip_f32.h)
      v0 = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v0, lo, _CMP_LT_OQ), v0, lo);
      if (V == 2) v1 = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v1, lo, _CMP_LT_OQ), v1, lo);
      v0 = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v0, hi, _CMP_GT_OQ), v0, hi);
      if (V == 2) v1 = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v1, hi, _CMP_GT_OQ), v1, hi);
    }
    if (t.col_keep) {
      v0 = _mm512_maskz_compress_ps(k0, v0);
      if (V == 2) v1 = _mm512_maskz_compress_ps(k1, v1);
    }
    if (t.c16) {  // VCVTNEPS2BF16: bf16::from_f32 per element
      uint16_t* c16 = t.c16 + r * t.ldc;
      _mm256_mask_storeu_epi16(c16, s0, (__m256i)_mm512_cvtneps_pbh(v0));
      if (V == 2) _mm256_mask_storeu_epi16(c16 + at1, s1, (__m256i)_mm512_cvtneps_pbh(v1));
      continue;
    }
    _mm512_mask_storeu_ps(c, s0, v0);
    if (V == 2) _mm512_mask_storeu_ps(c + at1, s1, v1);
  }
}

template <int V, bool Rows>
void row_dispatch(const Bf16Tile& t) {
  switch (t.rows) {
    case 8: tile<8, V, Rows>(t); break;
    case 7: tile<7, V, Rows>(t); break;
    case 6: tile<6, V, Rows>(t); break;
    case 5: tile<5, V, Rows>(t); break;
    case 4: tile<4, V, Rows>(t); break;
    case 3: tile<3, V, Rows>(t); break;
    case 2: tile<2, V, Rows>(t); break;
    default: tile<1, V, Rows>(t); break;
  }
}

}  // namespace

void gemm_bf16_8x32(const Bf16Tile& t) {
  if (t.a_ld > 0) {
    t.cols <= 16 ? row_dispatch<1, true>(t) : row_dispatch<2, true>(t);
  } else {
    t.cols <= 16 ? row_dispatch<1, false>(t) : row_dispatch<2, false>(t);
  }
}

void bf16_pairs(const float* src, int64_t kc, int n, uint16_t* dst) {
  if (n == 1) {  // one column: the pairs are src's values in order, 16 per VCVTNEPS2BF16
    int64_t k = 0;
    for (; k + 16 <= kc; k += 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + k)));
    }
    const int64_t end = (kc + 1) / 2 * 2;  // an odd kc's missing odd value is a zero
    if (k < end) {
      const __mmask16 m = static_cast<__mmask16>((1u << (kc - k)) - 1);
      _mm256_mask_storeu_epi16(dst + k, static_cast<__mmask16>((1u << (end - k)) - 1),
                               (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + k)));
    }
    return;
  }
  // Word 2i of the result is even[i], word 2i + 1 is odd[i]: VCVTNE2PS2BF16
  // puts its second operand (even) in words 0..15 and its first in 16..31.
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                              24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17,
                                              1, 16, 0);
  for (int64_t p = 0; p < (kc + 1) / 2; ++p) {
    const float* even = src + 2 * p * n;
    const bool has_odd = 2 * p + 1 < kc;
    const float* odd = even + n;
    uint16_t* d = dst + p * n * 2;
    for (int j = 0; j < n; j += 16) {
      const int w = n - j < 16 ? n - j : 16;
      const __mmask16 m = w == 16 ? 0xFFFF : static_cast<__mmask16>((1u << w) - 1);
      const __m512 e = _mm512_maskz_loadu_ps(m, even + j);
      const __m512 o = has_odd ? _mm512_maskz_loadu_ps(m, odd + j) : _mm512_setzero_ps();
      const __m512i words = _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(o, e));
      const __mmask32 mw = w == 16 ? 0xFFFFFFFFu : static_cast<__mmask32>((1u << (2 * w)) - 1);
      _mm512_mask_storeu_epi16(d + 2 * j, mw, words);
    }
  }
}

void bf16_rows(const float* src, int64_t kc, int n, uint16_t* dst, int64_t ld) {
  alignas(64) uint16_t row[16];
  if (n == 1) {  // one row, contiguous both sides (the AMX GEMM's row-major A): 16 k per conversion
    // Stored straight to dst[0 * ld + k] (j = 0), the tail masked: a variable-length memcpy per 16 values
    // through a stack row was a libc call each (RESULTS.md section 193).
    int64_t k = 0;
    for (; k + 16 <= kc; k += 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + k)));
    }
    if (k < kc) {
      const __mmask16 m = static_cast<__mmask16>((1u << (kc - k)) - 1);
      _mm256_mask_storeu_epi16(dst + k, m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + k)));
    }
    return;
  }
  for (int64_t k = 0; k < kc; ++k) {
    for (int j = 0; j < n; j += 16) {
      const int w = n - j < 16 ? n - j : 16;
      const __mmask16 m = w == 16 ? 0xFFFF : static_cast<__mmask16>((1u << w) - 1);
      _mm256_store_si256(reinterpret_cast<__m256i*>(row),
                         (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + k * n + j)));
      for (int i = 0; i < w; ++i) dst[(j + i) * ld + k] = row[i];
    }
  }
}

void bf16_interleave(const uint16_t* even, const uint16_t* odd, int64_t n, uint16_t* dst) {
  // Whole 16-pair chunks store unmasked (a masked store cost the 1x1 convs
  // reading bfloat16 tensors 5-15%, RESULTS.md section 125); the tail masked.
  for (int64_t i = 0; i < n; i += 16) {
    const int w = n - i < 16 ? static_cast<int>(n - i) : 16;
    const __mmask16 m = w == 16 ? 0xFFFF : static_cast<__mmask16>((1u << w) - 1);
    const __m512i e = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, even + i));
    const __m512i o = odd ? _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, odd + i)), 16)
                          : _mm512_setzero_si512();
    if (w == 16) {
      _mm512_storeu_si512(dst + 2 * i, _mm512_or_si512(e, o));
    } else {
      _mm512_mask_storeu_epi16(dst + 2 * i, static_cast<__mmask32>((1u << (2 * w)) - 1), _mm512_or_si512(e, o));
    }
  }
}

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
