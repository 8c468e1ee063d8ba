// The epilogue of ref/requantize.h on 8 channels in a ymm register, for the
// AVX2 microkernels only (included from this folder's files, compiled with
// the AVX2 flags; the functions live in this ISA's namespace).
//
// Same float operations, same order, one rounding each:
//   t = cvt(acc) * scale;  t = t + bias (or + 0.0f);  t = t + cvt(res) * rs;
//   t = t >= lo ? t : lo;  t = t <= hi ? t : hi;      int8: cvtps2dq (RNE).
// Clamps are compare + blend for float outputs and max/min for int8 ones,
// as in avx512vnni/epilogue.h (clamp_round_s8 says why both are exact).
// Partial blocks (valid < 8) load and store through masks or a small stack
// buffer, so nothing past the valid channels is read or written.
// u8 codes (kernel_types.h, Codes): with kCodes (the AVX-VNNI igemm tile,
// whose driver hands it u8-coded tensors) int8 outputs are stored xor
// ep.out_xor and a residual's bytes read xor ep.residual_xor (0x80 each for
// u8-coded tensors, 0 otherwise), as avx512vnni/epilogue.h does; without it
// (every AVX2 kernel: their drivers decline u8 codes) the xors fold away.
// Callers pass a local copy of their TileEpilogue: an int8 store may alias
// any object, so with `ep` in the caller's argument struct every store
// made the compiler reload the fields (pointers, bounds, flags) of the next
// block's epilogue.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

inline __m256i lane_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Loads `valid` (1..8) int8 values, each byte xor `flip` (the codes of a
// u8-coded tensor; 0: as they are), sign-extended to int32 lanes (0 beyond).
// A full block is one vpmovsxbd from memory; the copy of `valid` bytes
// (a variable-length sequence through the stack) only for partial blocks.
inline __m256i load_s8x8(const int8_t* p, int valid, uint8_t flip = 0) {
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  if (valid >= 8) {
    return _mm256_cvtepi8_epi32(_mm_xor_si128(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), f));
  }
  int64_t v = 0;
  std::memcpy(&v, p, static_cast<size_t>(valid) & 7u);  // valid is 1..7 here; the mask says so to GCC
  return _mm256_cvtepi8_epi32(_mm_xor_si128(_mm_cvtsi64_si128(v), f));
}

// t = cvt(acc) * scale + bias + cvt(res) * rs, as the reference orders it.
template <bool kCodes = false>
inline __m256 requantize_f32(__m256i acc, const TileEpilogue& ep, int64_t row, int c, int valid,
                             __m256i m) {
  const bool full = valid >= 8;
  __m256 t = _mm256_cvtepi32_ps(acc);
  t = _mm256_mul_ps(t, full ? _mm256_loadu_ps(ep.scale + c) : _mm256_maskload_ps(ep.scale + c, m));
  __m256 b = _mm256_setzero_ps();
  if (ep.bias) b = full ? _mm256_loadu_ps(ep.bias + c) : _mm256_maskload_ps(ep.bias + c, m);
  t = _mm256_add_ps(t, b);
  if (ep.residual) {
    __m256 r = _mm256_cvtepi32_ps(load_s8x8(ep.residual + row * ep.residual_stride + c, valid, kCodes ? ep.residual_xor : 0));
    r = _mm256_mul_ps(r, _mm256_set1_ps(ep.residual_scale));
    t = _mm256_add_ps(t, r);
  }
  return t;
}

// The clamp of an int8 output, and its rounding (RNE): max/min, one
// instruction each. They differ from the reference's selects only where t
// equals a bound (they return the bound, e.g. +0.0 for t = -0.0), and equal
// values round to the same integer; t is never NaN (finite accumulator,
// scale, bias and residual). Float outputs keep compare + blend.
inline __m256i clamp_round_s8(__m256 t, const TileEpilogue& ep) {
  return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(ep.lo)), _mm256_set1_ps(ep.hi)));
}

template <bool kCodes = false>
inline void store_requantized(__m256i acc, const TileEpilogue& ep, int64_t row, int c,
                              int valid) {
  const bool full = valid >= 8;
  const __m256i m = lane_mask(valid);
  const __m256 t = requantize_f32<kCodes>(acc, ep, row, c, valid, m);
  if (ep.out_f32) {
    const __m256 lo = _mm256_set1_ps(ep.lo), hi = _mm256_set1_ps(ep.hi);
    __m256 u = _mm256_blendv_ps(lo, t, _mm256_cmp_ps(t, lo, _CMP_GE_OQ));
    u = _mm256_blendv_ps(hi, u, _mm256_cmp_ps(u, hi, _CMP_LE_OQ));
    float* yp = static_cast<float*>(ep.y) + row * ep.y_stride + c;
    if (full) {
      _mm256_storeu_ps(yp, u);
    } else {
      _mm256_maskstore_ps(yp, m, u);
    }
  } else {
    // Within [-128, 127] after the clamp (check_epilogue): the saturating packs are exact.
    const __m256i v = clamp_round_s8(t, ep);
    const __m128i v16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i out_xor = _mm_set1_epi8(static_cast<char>(kCodes ? ep.out_xor : 0));
    const __m128i v8 = _mm_xor_si128(_mm_packs_epi16(v16, v16), out_xor);
    int8_t* yp = static_cast<int8_t*>(ep.y) + row * ep.y_stride + c;
    if (full) {
      // A fixed 8-byte store: the copy of `full ? 8 : valid` bytes compiled
      // to a generic variable-length sequence on the hot path.
      _mm_storel_epi64(reinterpret_cast<__m128i*>(yp), v8);
    } else {
      const int64_t v = _mm_cvtsi128_si64(v8);
      std::memcpy(yp, &v, static_cast<size_t>(valid));
    }
  }
}

// Two full blocks of one row (channels c .. c + 15), int8 output only: the
// two results narrow together (packssdw, packsswb, one vpermd to undo the
// 128-bit lanes' interleave) and one xor (ep.out_xor) into one 16-byte
// store, 7 instructions where two store_requantized calls take 12. Same
// values as those two calls.
template <bool kCodes = false>
inline void store_requantized_s8x16(__m256i acc0, __m256i acc1, const TileEpilogue& ep, int64_t row, int c) {
  const __m256i m = _mm256_set1_epi32(-1);
  const __m256i v0 = clamp_round_s8(requantize_f32<kCodes>(acc0, ep, row, c, 8, m), ep);
  const __m256i v1 = clamp_round_s8(requantize_f32<kCodes>(acc1, ep, row, c + 8, 8, m), ep);
  // int16 lanes [v0 0-3, v1 0-3 | v0 4-7, v1 4-7]; int8 dwords d0 = v0 0-3,
  // d1 = v1 0-3 (low lane), d4 = v0 4-7, d5 = v1 4-7 (high lane).
  const __m256i v8 = _mm256_packs_epi16(_mm256_packs_epi32(v0, v1), _mm256_setzero_si256());
  const __m256i ordered = _mm256_permutevar8x32_epi32(v8, _mm256_setr_epi32(0, 4, 1, 5, 2, 3, 6, 7));
  const __m128i out_xor = _mm_set1_epi8(static_cast<char>(kCodes ? ep.out_xor : 0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<int8_t*>(ep.y) + row * ep.y_stride + c),
                   _mm_xor_si128(_mm256_castsi256_si128(ordered), out_xor));
}

// An MR x (8 * NB) tile of int32 sums through the epilogue, rows 0..MR-1 of
// ep, channels 0..nc-1: where both blocks are full and the output is int8,
// each row narrows and stores as one 16-byte write (store_requantized_s8x16);
// otherwise block by block, the last one masked to its valid channels.
// kCodes: u8-coded outputs and residuals (file comment).
template <int MR, int NB, bool kCodes = false>
inline void store_tile(const __m256i (&acc)[MR][NB], const TileEpilogue& ep, int nc) {
  const bool pairs = NB == 2 && nc >= 16 && !ep.out_f32;
  #pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    if (pairs) {
      store_requantized_s8x16<kCodes>(acc[i][0], acc[i][NB - 1], ep, i, 0);
      continue;
    }
    #pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      const int valid = nc - 8 * j;
      if (valid > 0) store_requantized<kCodes>(acc[i][j], ep, i, 8 * j, valid);
    }
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
