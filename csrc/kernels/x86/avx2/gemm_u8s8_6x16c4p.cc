// u8 x s8 -> int32 GEMM microkernel, AVX2, tile MR x 16 (MR <= 6), reduction
// c4, B packed once as pair-safe bytes plus a sparse residual (abi/gemm_u8s8.h,
// GemmU8S8Tile's res_* fields; x86/gemm_u8s8_pairs.h makes the split).
//
// vpmaddubsw multiplies the u8 bytes of A by the s8 bytes of B and sums each
// pair (k, k + 1) into int16 with saturation. For a in [0, 255] the sum
// a0 b0 + a1 b1 stays in [-32768, 32767] whenever the positive parts of b0 and
// b1 sum to at most 128 and the negative parts to at least -128
// (255 * 128 = 32640): a "pair-safe" B. Such a B needs no shifted copy of A
// and no vpsignb: per 32 products vpmaddubsw, vpmaddwd with ones, vpaddd,
// the loop ONNX Runtime's AVX2 path runs unchecked (1.3x the products per
// second of the sign trick in registers on Zen 3, RESULTS.md section 61). The
// few pairs of a real B that are not safe are moved into range when B is
// packed, and the residual (one k per such pair, 16 columns wide) is added
// after the loop in int32: C[i][n] += a[i][k] * res_v[n] (vpmulld, exact
// modulo 2^32). Then C == ref::gemm_u8s8 bit for bit, for any u8 A.
//
// Register tile: MR rows x one block of 16 columns = 2 MR int32 accumulators,
// two B registers, ones and one broadcast: 16 ymm at MR = 6. K is a multiple
// of 4 (the driver pads A). The store applies the caller's epilogue
// (kernels/gemm_u8s8.h, GemmU8S8Epilogue: two rank-1 zero-point terms, then
// float(C) * scale + bias, MatMulIntegerToFloat's output) to the accumulators,
// so C is written once, as int32 or as float32.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/gemm_u8s8.h"
#include "kernels/x86/tile_for_mr.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

inline __m256i broadcast4(const uint8_t* p) {
  int32_t bytes;
  __builtin_memcpy(&bytes, p, 4);
  return _mm256_set1_epi32(bytes);
}

// acc[i][n] += row[i] * col[n] over the tile's 16 columns (vpmulld, wrapping).
template <int MR>
inline void add_rank1(__m256i (&lo)[MR], __m256i (&hi)[MR], const int32_t* row, const int32_t* col) {
  const __m256i c_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(col));
  const __m256i c_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(col + 8));
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    const __m256i r = _mm256_set1_epi32(row[i]);
    lo[i] = _mm256_add_epi32(lo[i], _mm256_mullo_epi32(r, c_lo));
    hi[i] = _mm256_add_epi32(hi[i], _mm256_mullo_epi32(r, c_hi));
  }
}

// The epilogue's steps on the accumulators (header comment), then the store of MR rows.
template <int MR>
void finish(const GemmU8S8Tile& t, __m256i (&lo)[MR], __m256i (&hi)[MR]) {
  if (t.row_shift) add_rank1<MR>(lo, hi, t.row_shift, t.col_sums);
  if (t.row_b) add_rank1<MR>(lo, hi, t.row_b, t.col_b);
  if (t.scale) {
    const __m256 s_lo = _mm256_loadu_ps(t.scale), s_hi = _mm256_loadu_ps(t.scale + 8);
    const __m256 b_lo = t.bias ? _mm256_loadu_ps(t.bias) : _mm256_setzero_ps();
    const __m256 b_hi = t.bias ? _mm256_loadu_ps(t.bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {  // float(C) * scale (+ bias): two roundings, no FMA (-ffp-contract=off)
      __m256 y_lo = _mm256_mul_ps(_mm256_cvtepi32_ps(lo[i]), s_lo);
      __m256 y_hi = _mm256_mul_ps(_mm256_cvtepi32_ps(hi[i]), s_hi);
      if (t.bias) {
        y_lo = _mm256_add_ps(y_lo, b_lo);
        y_hi = _mm256_add_ps(y_hi, b_hi);
      }
      lo[i] = _mm256_castps_si256(y_lo);
      hi[i] = _mm256_castps_si256(y_hi);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    int32_t* c = t.c + i * t.ldc;
    if (t.n_last == 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), lo[i]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 8), hi[i]);
    } else {
      alignas(32) int32_t row[16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(row), lo[i]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(row + 8), hi[i]);
      for (int n = 0; n < t.n_last; ++n) c[n] = row[n];
    }
  }
}

template <int MR>
void tile_pairs(const GemmU8S8Tile& t) {
  __m256i lo[MR], hi[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t groups = t.K / 4;
  const int8_t* b = t.b;
  const uint8_t* a = t.a;
  for (int64_t q = 0; q < groups; ++q, b += 64, a += 4) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256i x = broadcast4(a + i * t.lda);
      lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(_mm256_maddubs_epi16(x, w0), ones));
      hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(_mm256_maddubs_epi16(x, w1), ones));
    }
  }
  for (int64_t e = 0; e < t.res_count; ++e) {
    const int32_t k = t.res_k[e];
    const __m256i r_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.res_v + e * 16));
    const __m256i r_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.res_v + e * 16 + 8));
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256i x = _mm256_set1_epi32(t.a[i * t.lda + k]);
      lo[i] = _mm256_add_epi32(lo[i], _mm256_mullo_epi32(x, r_lo));
      hi[i] = _mm256_add_epi32(hi[i], _mm256_mullo_epi32(x, r_hi));
    }
  }
  finish<MR>(t, lo, hi);
}

// A packed once (a - z, pair-safe, s8), B per run (s8 storage of u8 values: the sign bit flipped
// back per load): vpmaddubsw(B as u8, A broadcast); the residual d * B[k][n] per row after the loop,
// B[k][n] picked from the packed strip (byte k % 4 of each column's 4).
template <int MR>
void tile_pairs_a(const GemmU8S8Tile& t) {
  __m256i lo[MR], hi[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const int64_t groups = t.K / 4;
  const int8_t* b = t.b;
  const uint8_t* a = t.a;
  for (int64_t q = 0; q < groups; ++q, b += 64, a += 4) {
    const __m256i x0 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), flip);
    const __m256i x1 = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32)), flip);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256i v = broadcast4(a + i * t.lda);
      lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(_mm256_maddubs_epi16(x0, v), ones));
      hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(_mm256_maddubs_epi16(x1, v), ones));
    }
  }
  const __m256i low_byte = _mm256_set1_epi32(0xFF), flip32 = _mm256_set1_epi32(0x80);
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    for (int64_t e = t.res_rows[i]; e < t.res_rows[i + 1]; ++e) {
      const int32_t k = t.res_k[e];
      const int8_t* g = t.b + (k / 4) * 64;
      const __m128i shift = _mm_cvtsi32_si128(8 * (k % 4));
      const __m256i b_lo = _mm256_xor_si256(
          _mm256_and_si256(_mm256_srl_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g)), shift), low_byte),
          flip32);
      const __m256i b_hi = _mm256_xor_si256(
          _mm256_and_si256(_mm256_srl_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + 32)), shift),
                           low_byte),
          flip32);
      const __m256i d = _mm256_set1_epi32(t.res_v[e]);
      lo[i] = _mm256_add_epi32(lo[i], _mm256_mullo_epi32(d, b_lo));
      hi[i] = _mm256_add_epi32(hi[i], _mm256_mullo_epi32(d, b_hi));
    }
  }
  finish<MR>(t, lo, hi);
}

}  // namespace

GemmU8S8Fn gemm_u8s8_pairs_fn(int mr, int /*nb: always 1*/) {
  return tile_for_mr<6>(mr, [](auto rows) -> GemmU8S8Fn { return tile_pairs<decltype(rows)::value>; });
}

GemmU8S8Fn gemm_u8s8_pairs_a_fn(int mr, int /*nb: always 1*/) {
  return tile_for_mr<6>(mr, [](auto rows) -> GemmU8S8Fn { return tile_pairs_a<decltype(rows)::value>; });
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
