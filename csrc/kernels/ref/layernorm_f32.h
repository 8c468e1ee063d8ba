// The normalisation rules (the layernorm_f32 family, kernels/layernorm_f32.h),
// loops every tier compiles with its own flags (no FMA contraction, no
// reassociation: -ffp-contract=off, so every tier gives the same bits).
//
// moments: the statistics of the normalisation layers (LayerNormalization,
// InstanceNormalization, GroupNormalization): mean and 1 / sqrt(var + eps)
// of n floats, accumulated in double in two passes and rounded to float
// once. Each pass keeps 16 partial sums (lane l takes the elements
// i = l mod 16, the tail included), held in vectors of doubles (a GCC/Clang
// vector extension: lane-wise IEEE operations, so the bits do not depend on
// the vector width), and adds them at the end as a fixed tree (lane l + lane l + 8, then + 4, + 2,
// + 1). Sixteen lanes are independent dependency chains: with four, each
// pass waited on one vector add's latency per four values (a LayerNorm of
// BERT's 256 values took 1.3 cycles per value).
//
// layernorm_rows: per row of n values, y = (x - mean) * inv_std * scale + bias
// (bias optional), the LayerNormalization layer's arithmetic in that order.
// int8 operands (LayerNormRows::x_s8, residual_s8, y_s8: the INT8
// lowering's) are dequantized into the row and quantized from it as
// int8rt.Dequantize / Quantize do, a row at a time while it is in L1, so
// the fused layer is the chain Dequantize -> LayerNorm -> Quantize bit for
// bit with no block of float rows materialised beside it.
// With a residual (graph/passes fuse_add_layernorm: Add -> LayerNormalization
// as one layer) the row normalised is first s = x + residual, the float Add
// (operands in that order), kept in sum_out when the sum has other readers.
//
// Every function is `static inline` (STYLE.md, "ISA code is fenced"): each
// ISA translation unit keeps its own copies.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace int8rt {
namespace kernels {
namespace ref {

struct Moments {
  float mean = 0.f;
  float inv_std = 0.f;  // 1 / sqrt(variance + eps), variance = sum((x - mean)^2) / n
};

// The 16 lanes as vectors of doubles: two of 8 where the translation unit
// has AVX-512 (one zmm each), four of 4 elsewhere (GCC keeps a generic
// vector wider than the machine's in memory across loop iterations, so one
// 16-double vector would be loaded and stored per step). Lane l is lane l
// either way, and every operation is lane-wise: the width changes the
// instruction count, not the bits.
#if defined(__AVX512F__)
constexpr int kMomentLanes = 8;
#else
constexpr int kMomentLanes = 4;
#endif
constexpr int kMomentParts = 16 / kMomentLanes;
typedef double MomentVec __attribute__((vector_size(kMomentLanes * 8)));
typedef float MomentVecF __attribute__((vector_size(kMomentLanes * 4)));
typedef int64_t MomentMask __attribute__((vector_size(kMomentLanes * 8)));
struct Lanes16d {
  MomentVec part[kMomentParts];  // lanes kMomentLanes * k .. in part k
};

// x[0 .. kMomentLanes) widened to double (exact), into v. GCC's generic
// tuning splits an 8-wide __builtin_convertvector into two 4-wide halves and
// an insert, so the AVX-512 width names its one instruction.
// Vectors go through references, never by value: four doubles are an AVX
// register, and a translation unit compiled without AVX (the reference tier,
// the providers) would return one in memory where an AVX one returns it in
// ymm0, a signature whose ABI depends on the flags (GCC's -Wpsabi warning).
// The functions are static inline, so no call crossed translation units and
// the warning named no real mismatch; by reference there is none to name.
static inline void load_lanes(const float* x, MomentVec& v) {
#if defined(__AVX512F__)
  v = reinterpret_cast<MomentVec>(_mm512_cvtps_pd(_mm256_loadu_ps(x)));
#else
  MomentVecF f;
  std::memcpy(&f, x, sizeof f);
  v = __builtin_convertvector(f, MomentVec);
#endif
}

// acc += x[0 .. kMomentLanes) (the first pass's sums).
static inline void add_lanes(MomentVec& acc, const float* x) {
  MomentVec v;
  load_lanes(x, v);
  acc += v;
}

// d = x[0 .. kMomentLanes) - m (the second pass's deviations).
static inline void deviation_lanes(const float* x, const MomentVec& m, MomentVec& d) {
  load_lanes(x, d);
  d -= m;
}

// lane 0 + ... + lane 15 as the fixed tree above.
static inline double lane_tree_sum(const Lanes16d& v) {
  double l[16];
  std::memcpy(l, v.part, sizeof l);
  for (int i = 0; i < 8; ++i) l[i] += l[i + 8];  // lane l + lane l + 8
  for (int i = 0; i < 4; ++i) l[i] += l[i + 4];  // + 4
  for (int i = 0; i < 2; ++i) l[i] += l[i + 2];  // + 2
  return l[0] + l[1];                            // + 1
}

static inline Moments moments(const float* x, int64_t n, double eps) {
  const int64_t full = n - n % 16;
  float tail[16] = {};  // the last n % 16 values in lanes 0 .., zeros after
  if (full < n) std::memcpy(tail, x + full, static_cast<size_t>(n - full) * sizeof(float));
  Lanes16d s = {};
  for (int64_t i = 0; i < full; i += 16) {
    for (int k = 0; k < kMomentParts; ++k) add_lanes(s.part[k], x + i + kMomentLanes * k);
  }
  if (full < n) {
    for (int k = 0; k < kMomentParts; ++k) add_lanes(s.part[k], tail + kMomentLanes * k);  // + 0.0: dead lanes
  }
  const double mean = lane_tree_sum(s) / static_cast<double>(n);
  const MomentVec m = MomentVec{} + mean;
  Lanes16d q = {};
  for (int64_t i = 0; i < full; i += 16) {
    for (int k = 0; k < kMomentParts; ++k) {
      MomentVec d;
      deviation_lanes(x + i + kMomentLanes * k, m, d);
      q.part[k] += d * d;
    }
  }
  if (full < n) {
    const int64_t rem = n - full;
    for (int k = 0; k < kMomentParts; ++k) {
      MomentMask lane = {};
      for (int j = 0; j < kMomentLanes; ++j) lane[j] = kMomentLanes * k + j;
      const MomentMask live = lane < rem;
      MomentVec d;
      deviation_lanes(tail + kMomentLanes * k, m, d);
      q.part[k] += reinterpret_cast<MomentVec>(reinterpret_cast<MomentMask>(d * d) & live);
    }
  }
  return {static_cast<float>(mean),
          static_cast<float>(1.0 / std::sqrt(lane_tree_sum(q) / static_cast<double>(n) + eps))};
}

// moments() of kRows rows at once (row r's n values at x[r]): each row's
// operations exactly as moments() does them, the rows' dependency chains
// interleaved. A row of 192 values (ViT's LayerNorm) waited about 100
// cycles on the chains of its two passes; kRows rows share that wait.
template <int kRows>
static inline void moments_rows(const float* const* x, int64_t n, double eps, Moments* out) {
  const int64_t full = n - n % 16;
  float tail[kRows][16] = {};
  if (full < n) {
    for (int r = 0; r < kRows; ++r) std::memcpy(tail[r], x[r] + full, static_cast<size_t>(n - full) * sizeof(float));
  }
  Lanes16d s[kRows] = {};
  for (int64_t i = 0; i < full; i += 16) {
    for (int r = 0; r < kRows; ++r) {
      for (int k = 0; k < kMomentParts; ++k) add_lanes(s[r].part[k], x[r] + i + kMomentLanes * k);
    }
  }
  if (full < n) {
    for (int r = 0; r < kRows; ++r) {
      for (int k = 0; k < kMomentParts; ++k) add_lanes(s[r].part[k], tail[r] + kMomentLanes * k);
    }
  }
  double mean[kRows];
  MomentVec m[kRows];
  for (int r = 0; r < kRows; ++r) {
    mean[r] = lane_tree_sum(s[r]) / static_cast<double>(n);
    m[r] = MomentVec{} + mean[r];
  }
  Lanes16d q[kRows] = {};
  for (int64_t i = 0; i < full; i += 16) {
    for (int r = 0; r < kRows; ++r) {
      for (int k = 0; k < kMomentParts; ++k) {
        MomentVec d;
        deviation_lanes(x[r] + i + kMomentLanes * k, m[r], d);
        q[r].part[k] += d * d;
      }
    }
  }
  if (full < n) {
    const int64_t rem = n - full;
    for (int r = 0; r < kRows; ++r) {
      for (int k = 0; k < kMomentParts; ++k) {
        MomentMask lane = {};
        for (int j = 0; j < kMomentLanes; ++j) lane[j] = kMomentLanes * k + j;
        const MomentMask live = lane < rem;
        MomentVec d;
        deviation_lanes(tail[r] + kMomentLanes * k, m[r], d);
        q[r].part[k] += reinterpret_cast<MomentVec>(reinterpret_cast<MomentMask>(d * d) & live);
      }
    }
  }
  for (int r = 0; r < kRows; ++r) {
    out[r] = {static_cast<float>(mean[r]),
              static_cast<float>(1.0 / std::sqrt(lane_tree_sum(q[r]) / static_cast<double>(n) + eps))};
  }
}

// rows x [rows][n] -> y; scale [n]; bias [n] or null; mean_out / inv_out
// [rows] or null.
struct LayerNormRows {
  const float* scale = nullptr;
  const float* bias = nullptr;
  double eps = 0.0;
  float* mean_out = nullptr;
  float* inv_out = nullptr;
  const float* residual = nullptr;  // [rows][n] (indexed from row 0, as mean_out) or null
  float* sum_out = nullptr;         // [rows][n] x + residual, or null (then y holds it first)
  // int8 operands (the INT8 lowering's boundaries), each indexed from row 0
  // as mean_out, each the Dequantize / Quantize layer's arithmetic on the
  // row while it is in L1 (s8_dequantize / s8_quantize below):
  const int8_t* x_s8 = nullptr;         // [rows][n] the input at x_scale, read in place of x (then null)
  float x_scale = 0.f;
  const int8_t* residual_s8 = nullptr;  // [rows][n] the residual at residual_scale, in place of residual
  float residual_scale = 0.f;
  int8_t* y_s8 = nullptr;               // [rows][n] y quantized at 1 / y_inv_scale, as well as y (or instead)
  float y_inv_scale = 0.f;
  float* scratch = nullptr;             // [4][n] the rows normalised when y is null (the int8 output alone)
};

// The element rules of ref/requantize.h (dequantize_value, quantize_value),
// copied static inline so every ISA translation unit keeps its own:
// x = (float)q * s; q = rne(min(max(x * inv, -128), 127)), NaN -> -128.
static inline float s8_dequantize(int8_t q, float s) { return static_cast<float>(q) * s; }
static inline void s8_quantize_row(const float* y, int64_t n, float inv, int8_t* q) {
  int64_t i = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
  // The same operations 16 at a time: compare + blend clamps (NaN takes
  // -128), cvtps2dq rounds half to even (default MXCSR), the narrow is exact.
  const __m512 lo = _mm512_set1_ps(-128.f), hi = _mm512_set1_ps(127.f), vinv = _mm512_set1_ps(inv);
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1u);
    __m512 t = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), vinv);
    t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, lo, _CMP_GE_OQ), lo, t);
    t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, hi, _CMP_LE_OQ), hi, t);
    _mm_mask_storeu_epi8(q + i, m, _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(t)));
  }
#endif
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
  for (; i < n; ++i) {
    float v = y[i] * inv;
    v = v >= -128.0f ? v : -128.0f;
    v = v <= 127.0f ? v : 127.0f;
    q[i] = static_cast<int8_t>((v + kRound) - kRound);
  }
}

// Row r of layernorm_rows once its moments are known: y = (x - mean) * inv_std
// * scale + bias from the row s (x's row, or the sum x + residual).
static inline void layernorm_normalize_row(const float* s, int64_t n, const LayerNormRows& a, Moments st, float* d,
                                           int64_t row) {
  const float* scale = a.scale;
  const float* bias = a.bias;
  const float m = st.mean, f = st.inv_std;
  // In place (s is d) through d alone: GCC's overlap check would send a
  // loop reading s and writing d to its scalar version when they coincide.
  if (s == d && bias) {
    for (int64_t i = 0; i < n; ++i) d[i] = (d[i] - m) * f * scale[i] + bias[i];
  } else if (s == d) {
    for (int64_t i = 0; i < n; ++i) d[i] = (d[i] - m) * f * scale[i];
  } else if (bias) {
    for (int64_t i = 0; i < n; ++i) d[i] = (s[i] - m) * f * scale[i] + bias[i];
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = (s[i] - m) * f * scale[i];
  }
  if (a.mean_out) a.mean_out[row] = m;
  if (a.inv_out) a.inv_out[row] = f;
}

// The row layernorm_rows normalises: x's row (the float one, or x_s8's
// dequantized), plus the residual's (float or residual_s8's dequantized:
// the float Add), written to sum_out's row or to d (y's row or scratch).
static inline const float* layernorm_source_row(const float* x, int64_t n, const LayerNormRows& a, float* d,
                                                int64_t row) {
  if (!a.residual && !a.residual_s8 && !a.x_s8) return x;
  float* t = a.sum_out ? a.sum_out + row * n : d;
  const int8_t* xq = a.x_s8 ? a.x_s8 + row * n : nullptr;
  const float xs = a.x_scale, rs = a.residual_scale;
  if (a.residual) {
    const float* q = a.residual + row * n;
    if (xq) {
      for (int64_t i = 0; i < n; ++i) t[i] = s8_dequantize(xq[i], xs) + q[i];
    } else {
      for (int64_t i = 0; i < n; ++i) t[i] = x[i] + q[i];
    }
  } else if (a.residual_s8) {
    const int8_t* q = a.residual_s8 + row * n;
    if (xq) {
      for (int64_t i = 0; i < n; ++i) t[i] = s8_dequantize(xq[i], xs) + s8_dequantize(q[i], rs);
    } else {
      for (int64_t i = 0; i < n; ++i) t[i] = x[i] + s8_dequantize(q[i], rs);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) t[i] = s8_dequantize(xq[i], xs);
  }
  return t;  // normalised in place when t is d: each y[i] reads s[i] only
}

// Row r's float destination: y's row, or scratch slot j when y is null.
static inline float* layernorm_dest_row(float* y, int64_t r, int64_t n, const LayerNormRows& a, int j) {
  return y ? y + r * n : a.scratch + j * n;
}

// layernorm_normalize_row, then y_s8's row quantized from d. With AVX-512
// (and an int8 output) the two in one pass: each 16 values normalised by the
// same operations (mul, mul, add: no FMA), stored to d and quantized from
// the register as s8_quantize_row does.
static inline void layernorm_finish_row(const float* s, int64_t n, const LayerNormRows& a, Moments st, float* d,
                                        int64_t row) {
#if defined(__AVX512F__) && defined(__AVX512BW__)
  if (a.y_s8) {
    int8_t* q = a.y_s8 + row * n;
    const float* scale = a.scale;
    const float* bias = a.bias;
    const __m512 m = _mm512_set1_ps(st.mean), f = _mm512_set1_ps(st.inv_std), vinv = _mm512_set1_ps(a.y_inv_scale);
    const __m512 lo = _mm512_set1_ps(-128.f), hi = _mm512_set1_ps(127.f);
    // 16 values from i under mask k (all 16 in the loop, the tail's after it).
    auto step = [&](int64_t i, __mmask16 k) {
      __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + i), m), f),
                               _mm512_maskz_loadu_ps(k, scale + i));
      if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias + i));
      _mm512_mask_storeu_ps(d + i, k, v);
      __m512 t = _mm512_mul_ps(v, vinv);
      t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, lo, _CMP_GE_OQ), lo, t);
      t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, hi, _CMP_LE_OQ), hi, t);
      _mm_mask_storeu_epi8(q + i, k, _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(t)));
    };
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) step(i, static_cast<__mmask16>(0xFFFF));
    if (i < n) step(i, static_cast<__mmask16>((1u << (n - i)) - 1u));
    if (a.mean_out) a.mean_out[row] = st.mean;
    if (a.inv_out) a.inv_out[row] = st.inv_std;
    return;
  }
#endif
  layernorm_normalize_row(s, n, a, st, d, row);
  if (a.y_s8) s8_quantize_row(d, n, a.y_inv_scale, a.y_s8 + row * n);
}

static inline void layernorm_rows_loop(int64_t rows, int64_t n, const float* x, const LayerNormRows& a, float* y,
                                       int64_t first_row) {
  for (int64_t r = 0; r < rows; ++r) {
    float* d = layernorm_dest_row(y, r, n, a, 0);
    const float* s = layernorm_source_row(x ? x + r * n : nullptr, n, a, d, first_row + r);
    layernorm_finish_row(s, n, a, moments(s, n, a.eps), d, first_row + r);
  }
}

// layernorm_rows_loop with the moments of four rows at a time
// (moments_rows): the same bits. For tiers with 32 vector registers (four
// rows' accumulators and means take 12 of them).
static inline void layernorm_rows_loop4(int64_t rows, int64_t n, const float* x, const LayerNormRows& a, float* y,
                                        int64_t first_row) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* s[4];
    float* d[4];
    for (int j = 0; j < 4; ++j) {
      d[j] = layernorm_dest_row(y, r + j, n, a, j);
      s[j] = layernorm_source_row(x ? x + (r + j) * n : nullptr, n, a, d[j], first_row + r + j);
    }
    Moments st[4];
    moments_rows<4>(s, n, a.eps, st);
    for (int j = 0; j < 4; ++j) layernorm_finish_row(s[j], n, a, st[j], d[j], first_row + r + j);
  }
  layernorm_rows_loop(rows - r, n, x ? x + r * n : nullptr, a, y ? y + r * n : nullptr, first_row + r);
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
