// u8 x s8 -> int32 GEMM microkernels, AVX2, tile 4 x 16, reduction c4, on
// shifted operands (abi/gemm_u8s8.h: the packed layout, and what the driver
// guarantees for GemmU8S8SignTiles).
//
// vpmaddubsw multiplies u8 by s8 and sums pairs into int16 with saturation:
// exact only while |x0 y0 + x1 y1| <= 32767, and u8 x s8 pairs reach
// 2 * 255 * 128. The sign trick keeps them in range: for s8 values u and v
// with v != -128, u * v = |u| * (sign(u) v), and |u| <= 128 fits the
// unsigned operand, sign(u) v in [-127, 127] the signed one, so every pair
// sum is at most 2 * 128 * 127 = 32512. Per 32 products: vpsignb,
// vpmaddubsw, vpmaddwd with ones, vpaddd (1.2-1.5x the products per second
// of the int16 vpmaddwd scheme in registers on Zen 3,
// benchmarks/avx2_u8s8_loops.c, RESULTS.md section 61).
//   tile_b (B packed once, no byte -128): u = a - 128 and |u|, both formed
//     by the driver (broadcasts from memory: 1.07-1.17x the products per
//     second of a vpxor and vpabsb per broadcast), v = B.
//   tile_a (A packed once as a - z, bytes in [-127, 127]): u = B (any s8,
//     its absolute value taken once per load), v = the broadcast A bytes.
// Both add row_shift[i] * col_sums[n] (vpmulld, wrapping) when they store:
// then C == ref::gemm_u8s8 bit for bit.
//
// Register tile: MR (<= 4) rows x one block of 16 columns = 8 int32
// accumulators, two B registers (tile_a: and their absolute values), ones,
// one broadcast and its absolute value: at most 15 of 16 ymm (6 rows
// spilled the accumulators). K is a multiple of 4 (the driver pads A).
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

// 32 products of |u| (u8) and the signed bytes s, summed by fours into 8 int32 lanes, added to acc.
inline __m256i dot4(__m256i acc, __m256i abs_u, __m256i s, __m256i ones) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(abs_u, s), ones));
}

template <int MR>
void store(const GemmU8S8Tile& t, __m256i (&lo)[MR], __m256i (&hi)[MR]) {
  const __m256i s_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.col_sums));
  const __m256i s_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.col_sums + 8));
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i) {
    const __m256i z = _mm256_set1_epi32(t.row_shift[i]);
    const __m256i r_lo = _mm256_add_epi32(lo[i], _mm256_mullo_epi32(z, s_lo));
    const __m256i r_hi = _mm256_add_epi32(hi[i], _mm256_mullo_epi32(z, s_hi));
    int32_t* c = t.c + i * t.ldc;
    if (t.n_last == 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), r_lo);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 8), r_hi);
    } else {
      alignas(32) int32_t row[16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(row), r_lo);
      _mm256_store_si256(reinterpret_cast<__m256i*>(row + 8), r_hi);
      for (int n = 0; n < t.n_last; ++n) c[n] = row[n];
    }
  }
}

template <int MR>
void tile_b(const GemmU8S8Tile& t) {
  __m256i lo[MR], hi[MR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t groups = t.K / 4;
  const int8_t* b = t.b;
  const uint8_t* a = t.a;
  for (int64_t q = 0; q < groups; ++q, b += 64, a += 4) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m256i u = broadcast4(a + i * t.lda);            // a - 128
      const __m256i abs_u = broadcast4(a + i * t.lda + t.K);  // |a - 128|
      lo[i] = dot4(lo[i], abs_u, _mm256_sign_epi8(w0, u), ones);
      hi[i] = dot4(hi[i], abs_u, _mm256_sign_epi8(w1, u), ones);
    }
  }
  store<MR>(t, lo, hi);
}

template <int MR>
void tile_a(const GemmU8S8Tile& t) {
  __m256i lo[MR], hi[MR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t groups = t.K / 4;
  const int8_t* b = t.b;
  const uint8_t* a = t.a;
  for (int64_t q = 0; q < groups; ++q, b += 64, a += 4) {
    const __m256i u0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i u1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
    const __m256i abs_u0 = _mm256_abs_epi8(u0), abs_u1 = _mm256_abs_epi8(u1);
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m256i v = broadcast4(a + i * t.lda);  // a - z, in [-127, 127]
      lo[i] = dot4(lo[i], abs_u0, _mm256_sign_epi8(v, u0), ones);
      hi[i] = dot4(hi[i], abs_u1, _mm256_sign_epi8(v, u1), ones);
    }
  }
  store<MR>(t, lo, hi);
}

}  // namespace

GemmU8S8Fn gemm_u8s8_shifted_b_fn(int mr, int /*nb: always 1*/) {
  return tile_for_mr<4>(mr, [](auto rows) -> GemmU8S8Fn { return tile_b<decltype(rows)::value>; });
}

GemmU8S8Fn gemm_u8s8_shifted_a_fn(int mr, int /*nb: always 1*/) {
  return tile_for_mr<4>(mr, [](auto rows) -> GemmU8S8Fn { return tile_a<decltype(rows)::value>; });
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
