// FP32 GEMM microkernel, AVX2+FMA: contract in kernels/abi/sgemm_f32.h;
// the AVX-512 tile's structure (x86/avx512/sgemm_x32.cc) at half the width.
//
// Register tile: 6 rows x 16 columns = 12 ymm accumulators (2 per row).
// Per k: two B loads (16 floats of the B panel), then per row one broadcast
// of a[k][r] and two FMAs. Layout: A panel [kc][6] (packed) or A in place
// at a + a_rows[k] + r * lda (the NHWC conv's pixels, a row-major A) or at
// a + a_pix[r] + a_rows[k] (pixels across output rows: six row pointers), B
// panel kc rows of 16 floats ldb apart (packed, or in place; driver:
// kernels/sgemm_f32.cc). Partial tiles: `rows` < 6 runs a shorter
// instantiation; `cols` < 16 computes the full (zero-padded) width and
// loads / stores the valid columns under a lane mask (a whole first half
// with a plain store, an empty second half not at all: the grouped NHWC
// conv's 8-column tiles).
//
// The tile epilogue (SgemmTile's bias, col_bias, residual, clip) is applied
// in registers before the one store, in the order sgemm_tile_epilogue
// applies it to a stored tile: the same IEEE operations, so the same bits.
//
// Every loop over the tile's rows is fully unrolled, so the accumulators
// live in registers only: with one loop left rolled (the partial-column
// store) GCC kept acc[] in memory and stored all 12 accumulators on every
// k step, which bound the tile at half its FMA rate (RESULTS.md section 59).
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/sgemm_f32.h"
#include "kernels/x86/clip_lanes.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

// How the tile finds its operands (SgemmTile): packed A and B rows ldb
// apart; B rows at b_rows; A in place at a_rows and lda, or at a_rows and
// a row base per pixel (a_pix).
enum Mode { kPacked, kBRows, kARows, kAPix };

// Lanes [0, n) of a ymm mask, n in 0..8.
inline __m256i lane_mask(int n) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
}

// acc + the epilogue, then the store of row r's 16 columns (m0 / m1: the
// valid lanes of each half, used only when !full).
template <bool kFull>
inline void finish_row(const SgemmTile& t, int r, __m256 v0, __m256 v1, __m256i m0, __m256i m1, __m256 lo,
                       __m256 hi) {
  float* c = t.c + r * t.ldc;
  auto load = [&](const float* p, int half) {
    if (kFull) return _mm256_loadu_ps(p + 8 * half);
    return _mm256_maskload_ps(p + 8 * half, half ? m1 : m0);
  };
  if (t.accumulate) {
    v0 = _mm256_add_ps(load(c, 0), v0);
    v1 = _mm256_add_ps(load(c, 1), v1);
  }
  if (t.bias) {  // first K slice, not accumulating: acc + bias
    const __m256 b = _mm256_broadcast_ss(t.bias + r);
    v0 = _mm256_add_ps(v0, b);
    v1 = _mm256_add_ps(v1, b);
  }
  if (t.col_bias) {  // first K slice, not accumulating: acc + bias of each column
    v0 = _mm256_add_ps(v0, load(t.col_bias, 0));
    v1 = _mm256_add_ps(v1, load(t.col_bias, 1));
  }
  if (t.residual) {  // last slice: v + residual, before the clip
    const float* q = t.residual + r * t.ldr;
    v0 = _mm256_add_ps(v0, load(q, 0));
    v1 = _mm256_add_ps(v1, load(q, 1));
  }
  if (t.clip) {  // the reference's clip_f32 lane by lane (NaN stays NaN)
    v0 = clip_lanes(v0, lo, hi);
    v1 = clip_lanes(v1, lo, hi);
  }
  if (kFull) {
    _mm256_storeu_ps(c, v0);
    _mm256_storeu_ps(c + 8, v1);
  } else if (t.cols >= 8) {  // a whole first half: a plain store (masked stores measured slow on Zen 3)
    _mm256_storeu_ps(c, v0);
    if (t.cols > 8) _mm256_maskstore_ps(c + 8, m1, v1);
  } else {
    _mm256_maskstore_ps(c, m0, v0);
  }
}

template <int R, Mode kMode>
void tile(const SgemmTile& t) {
  __m256 acc0[R], acc1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  const float* a = t.a;
  const float* b = t.b;
  const int64_t kc = t.kc, ldb = t.ldb;
  // A in place: row r at base r / 3 (p, p + 3 lda) plus (r % 3) lda,
  // addresses formed from two independent bases (as the AVX-512 tile).
  const int64_t lda = t.lda, l3 = 3 * lda;
  // Pixel rows: each row's own base pointer, held in a register.
  const float* pix[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) pix[r] = kMode == kAPix ? t.a + t.a_pix[r] : nullptr;
  for (int64_t k = 0; k < kc; ++k) {
    if (kMode == kBRows) b = t.b + t.b_rows[k];
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    const int64_t off = kMode == kARows || kMode == kAPix ? t.a_rows[k] : 0;
    const float* p = t.a + off;
    const float* base[2] = {p, p + l3};
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const float* src = kMode == kAPix ? pix[r] + off : kMode == kARows ? base[r / 3] + (r % 3) * lda : a + r;
      const __m256 av = _mm256_broadcast_ss(src);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
    a += kSgemmMR;
    if (kMode != kBRows) b += ldb;
  }
  const __m256 lo = _mm256_set1_ps(t.lo), hi = _mm256_set1_ps(t.hi);
  if (t.cols == kSgemmNR) {
    const __m256i all = _mm256_set1_epi32(-1);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) finish_row<true>(t, r, acc0[r], acc1[r], all, all, lo, hi);
    return;
  }
  const int lo_cols = t.cols < 8 ? t.cols : 8;
  const __m256i m0 = lane_mask(lo_cols), m1 = lane_mask(t.cols - lo_cols);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) finish_row<false>(t, r, acc0[r], acc1[r], m0, m1, lo, hi);
}

template <int R>
void rows(const SgemmTile& t) {
  if (t.a_pix) {
    tile<R, kAPix>(t);
  } else if (t.a_rows) {
    tile<R, kARows>(t);
  } else if (t.b_rows) {
    tile<R, kBRows>(t);
  } else {
    tile<R, kPacked>(t);
  }
}

}  // namespace

void sgemm_6x16(const SgemmTile& t) {
  switch (t.rows) {
    case 1: rows<1>(t); break;
    case 2: rows<2>(t); break;
    case 3: rows<3>(t); break;
    case 4: rows<4>(t); break;
    case 5: rows<5>(t); break;
    default: rows<6>(t); break;
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
