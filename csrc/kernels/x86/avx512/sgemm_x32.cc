// FP32 GEMM microkernels, AVX-512F only (the avx512 tier): contract in
// kernels/abi/sgemm_f32.h. Two tile heights over one body:
//
//   sgemm_12x32: 12 rows x 32 columns = 24 zmm accumulators (2 per row), the
//     tier's kernel. Per k: two B loads (32 floats of the B panel), then per
//     row one broadcast of a[k][r] and two FMAs: 24 FMAs against 2 + 12
//     loads, each B row loaded serving 12 rows (MLAS's AVX-512 SGEMM uses
//     the same 12 x 32 tile). Measured 1-3.5% faster than 8 rows on
//     ResNet-50 FP32 (RESULTS.md section 26).
//   sgemm_8x32: 8 rows, 16 accumulators, the tile this tier used before;
//     kept as the 12-row tile's arithmetic twin (per output the same FMAs
//     in the same k order), so the tests compare the two with ==.
//
// Layout: A panel [kc][MR] (packed), or A in place at a + a_rows[k] + r * lda
// (the NHWC conv's pixels, one broadcast per row from the image); B panel kc
// rows of 32 floats ldb apart (packed, or in place) or at the offsets b_rows
// (the tap conv's slices over several taps), from the driver in
// kernels/sgemm_f32.cc, the tap conv or the NHWC conv. Partial
// tiles: `rows` < MR runs a shorter instantiation (fewer broadcasts and
// chains), `cols` < 32 loads and stores C through a mask; the padded
// columns are zeros in B; a tile of 16 columns or fewer (the last panel
// of a 14 x 14 plane's 196 pixels: 4 columns) runs the one-vector
// instantiation (kWide false), which skips the upper half's B loads, FMAs
// and stores: the lower half's FMAs are the same, in the same order, so
// the same bits. The tile epilogue (bias, column bias, residual, clip) is
// applied in registers before the one store.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/sgemm_f32.h"
#include "kernels/x86/clip_lanes.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// How the tile finds its operands (SgemmTile): packed A and B rows ldb
// apart; B rows at b_rows; A in place at a_rows and lda. kWide: both
// 16-column halves (else the lower one only, for tiles of <= 16 columns).
// kALinear: A in place with a_rows[k] = a_rows[0] + k (SgemmTile::a_linear,
// a row-major A): the four row bases step one float per k and the k loop is
// unrolled by 4, so the broadcasts address A by displacement, without a
// table load and base arithmetic per k (MLAS's AVX-512 SGEMM walks A the
// same way). The same values into the same FMAs in the same order as kARows.
enum Mode { kPacked, kBRows, kARows, kALinear };

template <int MR, int R, Mode kMode, bool kWide>
void tile(const SgemmTile& t) {
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  const float* a = t.a;
  const float* b = t.b;
  // A in place: row r at base r / 3 (p, p + 3 lda, p + 6 lda, p + 9 lda)
  // plus (r % 3) lda, addresses the CPU forms from four independent bases
  // instead of a serial chain of adds (measured: the chain bounded the tile).
  const int64_t lda = t.lda, l3 = 3 * lda;
  if (kMode == kALinear) {
    const float* p = t.a + t.a_rows[0];
    const float* base[4] = {p, p + l3, p + 2 * l3, p + 3 * l3};
#pragma GCC unroll 4
    for (int64_t k = 0; k < t.kc; ++k) {
      const __m512 b0 = _mm512_loadu_ps(b), b1 = kWide ? _mm512_loadu_ps(b + 16) : b0;
#pragma GCC unroll 12
      for (int r = 0; r < R; ++r) {
        const __m512 av = _mm512_set1_ps(base[r / 3][(r % 3) * lda + k]);
        acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
        if (kWide) acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
      }
      b += t.ldb;
    }
  }
  for (int64_t k = 0; kMode != kALinear && k < t.kc; ++k) {
    if (kMode == kBRows) b = t.b + t.b_rows[k];
    const __m512 b0 = _mm512_loadu_ps(b), b1 = kWide ? _mm512_loadu_ps(b + 16) : b0;
    const float* p = kMode == kARows ? t.a + t.a_rows[k] : a;
    const float* base[4] = {p, p + l3, p + 2 * l3, p + 3 * l3};
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(kMode == kARows ? base[r / 3][(r % 3) * lda] : a[r]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      if (kWide) acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
    a += MR;
    if (kMode != kBRows) b += t.ldb;
  }
  const int lo_cols = t.cols < 16 ? t.cols : 16;
  const int hi_cols = t.cols - lo_cols;
  const __mmask16 m0 = static_cast<__mmask16>(lo_cols >= 16 ? 0xFFFFu : (1u << lo_cols) - 1u);
  const __mmask16 m1 = static_cast<__mmask16>(hi_cols >= 16 ? 0xFFFFu : (1u << hi_cols) - 1u);
  const __m512 lo = _mm512_set1_ps(t.lo), hi = _mm512_set1_ps(t.hi);
  // Both halves' steps interleaved (two independent chains per row: one
  // half after the other measured 10% slower on K = 24 expansions); the
  // upper half compiles away in the one-vector instantiation.
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    float* c = t.c + r * t.ldc;
    __m512 v0 = acc0[r], v1 = acc1[r];
    if (t.accumulate) {
      v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), v0);
      if (kWide) v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), v1);
    }
    if (t.bias) {  // first K slice, not accumulating: acc + bias
      const __m512 b = _mm512_set1_ps(t.bias[r]);
      v0 = _mm512_add_ps(v0, b);
      if (kWide) v1 = _mm512_add_ps(v1, b);
    }
    if (t.col_bias) {  // first K slice, not accumulating: acc + bias of each column
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, t.col_bias));
      if (kWide) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, t.col_bias + 16));
    }
    if (t.residual) {  // last slice: v + residual, before the clip
      const float* q = t.residual + r * t.ldr;
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, q));
      if (kWide) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, q + 16));
    }
    if (t.clip) {  // the reference's clip_f32 lane by lane (NaN stays NaN)
      v0 = clip_lanes(v0, lo, hi);
      if (kWide) v1 = clip_lanes(v1, lo, hi);
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    if (kWide) _mm512_mask_storeu_ps(c + 16, m1, v1);
  }
}

template <int MR, int R, bool kWide>
void modes(const SgemmTile& t) {
  if (t.a_rows && t.a_linear) {
    tile<MR, R, kALinear, kWide>(t);
  } else if (t.a_rows) {
    tile<MR, R, kARows, kWide>(t);
  } else if (t.b_rows) {
    tile<MR, R, kBRows, kWide>(t);
  } else {
    tile<MR, R, kPacked, kWide>(t);
  }
}

template <int MR, int R>
void rows(const SgemmTile& t) {
  if (t.cols > 16) {
    modes<MR, R, true>(t);
  } else {
    modes<MR, R, false>(t);
  }
}

}  // namespace

void sgemm_8x32(const SgemmTile& t) {
  switch (t.rows) {
    case 1: rows<8, 1>(t); break;
    case 2: rows<8, 2>(t); break;
    case 3: rows<8, 3>(t); break;
    case 4: rows<8, 4>(t); break;
    case 5: rows<8, 5>(t); break;
    case 6: rows<8, 6>(t); break;
    case 7: rows<8, 7>(t); break;
    default: rows<8, 8>(t); break;
  }
}

void sgemm_12x32(const SgemmTile& t) {
  switch (t.rows) {
    case 1: rows<12, 1>(t); break;
    case 2: rows<12, 2>(t); break;
    case 3: rows<12, 3>(t); break;
    case 4: rows<12, 4>(t); break;
    case 5: rows<12, 5>(t); break;
    case 6: rows<12, 6>(t); break;
    case 7: rows<12, 7>(t); break;
    case 8: rows<12, 8>(t); break;
    case 9: rows<12, 9>(t); break;
    case 10: rows<12, 10>(t); break;
    case 11: rows<12, 11>(t); break;
    default: rows<12, 12>(t); break;
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
