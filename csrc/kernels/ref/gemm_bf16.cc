// The reference BF16 GEMM tile and activation converter (contract in
// kernels/abi/gemm_bf16.h): plain loops over kernels/ref/bf16.h, so this IS
// the arithmetic every BF16 kernel reproduces:
//   C[r][j] (+)= sum over pairs p ascending of
//                dot_pair(., A[p][r][0..1], B[p][j][0..1])   (odd, then even)
// then + bias[r], + residual[r][j] (FP32, or BF16 widened) and the clip when the tile asks for them,
// stored as FP32 or (c16) rounded to BF16.
#include "kernels/abi/gemm_bf16.h"
#include "kernels/ref/bf16.h"
#include "kernels/ref/clip_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

void gemm_bf16_tile(const Bf16Tile& t) {
  // Pair p's B row: packed after the previous one, or read from an image (b_step).
  auto b_row = [&t](int64_t p) {
    if (t.b_step == 0) return t.b + p * t.nr * 2;
    return t.b + t.b_offsets[p / t.run_pairs] + (p % t.run_pairs) * t.b_step;
  };
  for (int r = 0; r < t.rows; ++r) {
    float* cr = t.c16 ? nullptr : t.c + r * t.ldc;
    int kept = 0;  // the store's column: j, or with col_keep the set columns before j
    for (int j = 0; j < t.cols; ++j) {
      const int at = t.col_keep ? kept : j;
      if (t.col_keep && !((t.col_keep >> j) & 1u)) continue;
      ++kept;
      float acc = 0.0f;
      for (int64_t p = 0; p < t.pairs; ++p) {
        acc = bf16::dot_pair(acc, t.a_ld ? t.a + r * t.a_ld + 2 * p : t.a + (p * t.mr + r) * 2, b_row(p) + j * 2);
      }
      float v = t.accumulate ? cr[at] + acc : acc;
      if (t.bias) v = v + t.bias[r];
      if (t.residual) v = v + t.residual[r * t.ldr + j];
      if (t.residual16) v = v + bf16::to_f32(t.residual16[r * t.ldr + j]);
      if (t.clip) v = clip_f32(v, t.lo, t.hi);
      if (t.c16) {
        t.c16[r * t.ldc + at] = bf16::from_f32(v);
      } else {
        cr[at] = v;
      }
    }
  }
}

void bf16_pairs(const float* src, int64_t kc, int n, uint16_t* dst) {
  for (int64_t p = 0; p < (kc + 1) / 2; ++p) {
    const float* even = src + 2 * p * n;
    const float* odd = 2 * p + 1 < kc ? even + n : nullptr;
    uint16_t* d = dst + p * n * 2;
    for (int j = 0; j < n; ++j) {
      d[2 * j] = bf16::from_f32(even[j]);
      d[2 * j + 1] = odd ? bf16::from_f32(odd[j]) : 0;
    }
  }
}

void bf16_rows(const float* src, int64_t kc, int n, uint16_t* dst, int64_t ld) {
  for (int64_t k = 0; k < kc; ++k) {
    for (int j = 0; j < n; ++j) dst[j * ld + k] = bf16::from_f32(src[k * n + j]);
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
