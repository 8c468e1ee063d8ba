// FP32 GEMM microkernel, AVX2+FMA: contract in kernels/abi/sgemm_f32.h.
//
// Register tile: 6 rows x 16 columns = 12 ymm accumulators (2 per row).
// Per k: two B loads (16 floats of the B panel), then per row one broadcast
// of a[k][r] and two FMAs. Layout: A panel [kc][6] (packed) or A in place
// at a + a_rows[k] + r * lda (the NHWC conv's pixels), B panel kc rows
// of 16 floats ldb apart (packed, or in place; driver: kernels/sgemm_f32.cc). Partial tiles: `rows` < 6 runs a
// shorter instantiation; `cols` < 16 computes the full (zero-padded) width
// and copies the valid columns out of a stack buffer.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/sgemm_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

// How the tile finds its operands (SgemmTile): packed A and B rows ldb
// apart; B rows at b_rows; A in place at a_rows and lda.
enum Mode { kPacked, kBRows, kARows };

template <int R, Mode kMode>
void tile(const SgemmTile& t) {
  __m256 acc0[R], acc1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  const float* a = t.a;
  const float* b = t.b;
  const int64_t lda = t.lda;
  for (int64_t k = 0; k < t.kc; ++k) {
    if (kMode == kBRows) b = t.b + t.b_rows[k];
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    const float* ar = kMode == kARows ? t.a + t.a_rows[k] : a;
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(kMode == kARows ? ar + r * lda : a + r);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
    a += kSgemmMR;
    if (kMode != kBRows) b += t.ldb;
  }
  if (t.cols == kSgemmNR) {
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      float* c = t.c + r * t.ldc;
      __m256 v0 = acc0[r], v1 = acc1[r];
      if (t.accumulate) {
        v0 = _mm256_add_ps(_mm256_loadu_ps(c), v0);
        v1 = _mm256_add_ps(_mm256_loadu_ps(c + 8), v1);
      }
      _mm256_storeu_ps(c, v0);
      _mm256_storeu_ps(c + 8, v1);
    }
    return;
  }
  alignas(32) float buf[kSgemmNR];
  for (int r = 0; r < R; ++r) {
    float* c = t.c + r * t.ldc;
    _mm256_store_ps(buf, acc0[r]);
    _mm256_store_ps(buf + 8, acc1[r]);
    // The same single add per element as the full-width path.
    for (int j = 0; j < t.cols; ++j) c[j] = t.accumulate ? c[j] + buf[j] : buf[j];
  }
}

template <int R>
void rows(const SgemmTile& t) {
  if (t.a_rows) {
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
