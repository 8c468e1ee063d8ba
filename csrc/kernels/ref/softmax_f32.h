// The softmax rules (kernels/softmax_f32.h, the "softmax" f32 family), one
// loop that every tier compiles with its own flags (no FMA contraction, no
// reassociation: -ffp-contract=off; the only fused multiply-adds are exp's
// explicit std::fma calls; so every tier gives the same bits):
//   softmax(x)_i = exp(x_i - max) * (1 / sum_j exp(x_j - max))
//   logsoftmax(x)_i = (x_i - max) - log(sum_j exp(x_j - max))
// over each of `rows` contiguous rows of n values. The maximum and the sum
// keep 8 partial lanes (lane l takes the values k = l mod 8 of the leading
// multiple of 8; the sum's tail goes to lane 0, the maximum's tail is
// compared after the lanes), held in a vector of 8 floats (a
// GCC/Clang vector extension: one ymm on AVX, two xmm on SSE2; lane-wise
// IEEE operations, so the bits do not depend on the width); exp is
// exp_fma_f32 (math_f32.h). y may be x for softmax, not for log-softmax. Every function
// is `static inline`, as in math_f32.h: each ISA translation unit keeps its
// own copies (STYLE.md, "ISA code is fenced").
//
// attention_rows_f32 is int8rt.QAttention's step from scores to
// probabilities (engine/ops/int8/contracts.h, QAttentionAttrs), each
// operation the one its unfused layer performs, in the same order:
//   s = s * factor  (or s / factor)   the float Mul / Div by a scalar
//   s = s + mask                      the float Add (mask broadcast)
//   p = softmax(s)                    the rule above
//   p = isnan(p) ? 0 : p              Where(IsNaN(p), 0, p)
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/ref/math_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

typedef float Lanes8 __attribute__((vector_size(32)));
typedef int32_t LaneMask8 __attribute__((vector_size(32)));

// y[l] = exp_fma_f32(x[l] - mx) for l < 16: the rule, one value at a time
// (GCC vectorises it per tier). A tier may pass its own Exp16 to the loops
// below (x86/avx512/softmax_f32.cc: vscalefps for the 2^n step) if it gives
// the same bits; tests/test_fp32_ops.py compares every tier with this one.
struct Exp16Rule {
  void operator()(const float* x, float mx, float* y) const {
    for (int l = 0; l < 16; ++l) y[l] = exp_fma_f32(x[l] - mx);
  }
};

// y[k] = exp_fma_f32(x[k] - mx), 16 values at a time; the last partial group
// goes through a copy padded with mx (exp(0) in the dead lanes), so a row
// whose length is not a multiple of the vector width (ViT's 197 tokens) pays
// no scalar exp per leftover value.
template <class Exp16>
static inline void exp_shifted_f32(const float* x, float mx, float* y, int64_t n, Exp16 exp16) {
  constexpr int kChunk = 16;
  int64_t k = 0;
  for (; k + kChunk <= n; k += kChunk) exp16(x + k, mx, y + k);
  if (k == n) return;
  float u[kChunk], t[kChunk];
  for (int l = 0; l < kChunk; ++l) u[l] = k + l < n ? x[k + l] : mx;
  exp16(u, mx, t);
  for (int64_t l = 0; k + l < n; ++l) y[k + l] = t[l];
}

// The sum of a row's exponentials, in the rule's order: 8 partial lanes
// (lane l adds the values k = l mod 8 of the leading multiple of 8, in k's
// order), the tail added to lane 0, then the lanes in turn from 0.0f. A
// tier may add 8 values at a time in any register width; the order is this.
// softmax_sum_f32_from continues it from value k (a multiple of 8) with the
// 8 partial lanes `lanes` of values 0 .. k - 1 (a tier that summed those
// itself; an array, not a vector argument, whose ABI differs between tiers).
static inline float softmax_sum_f32_from(const float* y, int64_t n, int64_t k, const float* lanes) {
  constexpr int kLanes = 8;
  Lanes8 s8;
  std::memcpy(&s8, lanes, sizeof s8);
  for (; k + kLanes <= n; k += kLanes) {
    Lanes8 v;
    std::memcpy(&v, y + k, sizeof v);
    s8 += v;
  }
  for (; k < n; ++k) s8[0] += y[k];
  float sum = 0.f;
  for (int l = 0; l < kLanes; ++l) sum += s8[l];
  return sum;
}

static inline float softmax_sum_f32(const float* y, int64_t n) {
  const float zero[8] = {};
  return softmax_sum_f32_from(y, n, 0, zero);
}

template <class Exp16 = Exp16Rule>
static inline void softmax_row_f32(const float* x, float* y, int64_t n, bool log, Exp16 exp16 = {}) {
  constexpr int kLanes = 8;
  Lanes8 m8 = {x[0], x[0], x[0], x[0], x[0], x[0], x[0], x[0]};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes) {  // m8 = x > m8 ? x : m8, lane by lane, as a bit select
    Lanes8 v;
    std::memcpy(&v, x + k, sizeof v);
    const LaneMask8 gt = v > m8;
    m8 = reinterpret_cast<Lanes8>((reinterpret_cast<LaneMask8>(v) & gt) | (reinterpret_cast<LaneMask8>(m8) & ~gt));
  }
  float mx = m8[0];
  for (int l = 1; l < kLanes; ++l) mx = mx < m8[l] ? m8[l] : mx;
  for (; k < n; ++k) mx = mx < x[k] ? x[k] : mx;  // the tail (a NaN never replaces mx here, as above)
  exp_shifted_f32(x, mx, y, n, exp16);
  const float sum = softmax_sum_f32(y, n);
  if (log) {
    const float ls = std::log(sum);
    for (k = 0; k < n; ++k) y[k] = (x[k] - mx) - ls;
  } else {
    const float inv = 1.0f / sum;  // one division per row, then products (within 1 ulp of y / sum)
    for (k = 0; k < n; ++k) y[k] = y[k] * inv;
  }
}

template <class Exp16 = Exp16Rule>
static inline void softmax_rows_loop(int64_t rows, int64_t n, const float* x, float* y, bool log, Exp16 exp16 = {}) {
  if (n <= 0) return;
  for (int64_t r = 0; r < rows; ++r) softmax_row_f32(x + r * n, y + r * n, n, log, exp16);
}

// The scores of one attention product, [rows][n], and what happens to them.
struct AttentionRows {
  float factor = 0.f;       // 0: no scaling
  bool divide = false;      // s / factor instead of s * factor
  const float* mask = nullptr;  // row r, column c at mask[r * mask_row_step + c * mask_col_step]
  int64_t mask_row_step = 0, mask_col_step = 0;
  bool nan_to_zero = false;
};

// Row r of s before its softmax: s = s * factor (or s / factor), then s + mask.
static inline void attention_row_scores(int64_t r, int64_t n, const AttentionRows& a, float* s) {
  if (a.factor != 0.f) {
    const float f = a.factor;
    if (a.divide) {
      for (int64_t c = 0; c < n; ++c) s[c] = s[c] / f;
    } else {
      for (int64_t c = 0; c < n; ++c) s[c] = s[c] * f;
    }
  }
  if (a.mask) {
    const float* m = a.mask + r * a.mask_row_step;
    if (a.mask_col_step == 1) {
      for (int64_t c = 0; c < n; ++c) s[c] = s[c] + m[c];
    } else if (a.mask_col_step == 0) {
      const float m0 = m[0];
      for (int64_t c = 0; c < n; ++c) s[c] = s[c] + m0;
    } else {
      for (int64_t c = 0; c < n; ++c) s[c] = s[c] + m[c * a.mask_col_step];
    }
  }
}

// The int8 grid of QAttention's probabilities: q = quantize_value(p,
// inv_scale, zero_point) (ref/requantize.h: p * inv_scale, + zero_point,
// clamp to [-128, 127], round half to even; NaN -> -128), which is
// int8rt.Quantize at scale 1 / inv_scale (inv_scale = 1.0f / scale) with that
// zero point, or without one (zero_point 0: adding 0 changes no code).
struct ProbsGrid {
  float inv_scale = 1.f;
  float zero_point = 0.f;
};

// A row of probabilities after its softmax: NaN to zero where asked.
static inline void attention_row_guard(int64_t n, const AttentionRows& a, float* s) {
  if (a.nan_to_zero) {
    for (int64_t c = 0; c < n; ++c) s[c] = s[c] != s[c] ? 0.f : s[c];
  }
}

template <class Exp16 = Exp16Rule>
static inline void attention_rows_loop(int64_t rows, int64_t n, const AttentionRows& a, float* s, Exp16 exp16 = {}) {
  if (n <= 0) return;
  for (int64_t r = 0; r < rows; ++r, s += n) {
    attention_row_scores(r, n, a, s);
    softmax_row_f32(s, s, n, false, exp16);
    attention_row_guard(n, a, s);
  }
}

// Talking-heads attention's mix over the heads (engine/ops/int8/head_mix.h,
// CaiT): the scores or probabilities of `heads` heads at the same n
// positions, x[h] [n], each -> y[o] [n] = the float MatMul of the values at
// one position, a row of `heads`, by the constant w [heads][heads] (row
// major, the MatMul's B), then the float Add of b[o] (none where b is null):
//   y[o] = ((x[0] * w[0][o] + x[1] * w[1][o]) + ...) + b[o]
// each product and each sum rounded on its own, h in order. The positions
// go kChunk at a time, each y[o] built over heads + 1 passes while the
// chunk of every x[h] and y[o] stays in L1 (CaiT: 4 heads, 4 KB per row).
// y[o] must not overlap any x[h].
static inline void head_mix_loop(int64_t heads, int64_t n, const float* w, const float* b, const float* const* x,
                                 float* const* y) {
  constexpr int64_t kChunk = 1024;
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t len = n - c0 < kChunk ? n - c0 : kChunk;
    for (int64_t o = 0; o < heads; ++o) {
      float* __restrict yo = y[o] + c0;
      const float* __restrict x0 = x[0] + c0;
      const float w0 = w[o];
      for (int64_t c = 0; c < len; ++c) yo[c] = x0[c] * w0;
      for (int64_t h = 1; h < heads; ++h) {
        const float* __restrict xh = x[h] + c0;
        const float wh = w[h * heads + o];
        for (int64_t c = 0; c < len; ++c) yo[c] = yo[c] + xh[c] * wh;
      }
      if (b) {
        const float bo = b[o];
        for (int64_t c = 0; c < len; ++c) yo[c] = yo[c] + bo;
      }
    }
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
