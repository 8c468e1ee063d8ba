// The softmax family (kernels/abi/softmax_f32.h), the avx512 tier: the loops
// of kernels/ref/softmax_f32.h compiled with this folder's flags (16 lanes;
// -ffp-contract=off keeps the reference's bits), with exp_fma_f32 written out
// in intrinsics (Exp16Avx512). GCC's vectorisation of the rule spends about
// 45 instructions per 16 values, a third of them on the 2^n step (the signed
// halving of n, two exponent fields, two products) and on select chains.
// Here 2^n is one vscalefps: p * 2^n rounded once. The rule's p * s1 * s2
// also rounds once, since p * s1 is exact (s1 = 2^(n/2) keeps it normal), so
// the bits are the rule's, overflow to inf and the one rounding of a denormal
// result included; the range selects become masked moves. About 22
// instructions per 16 values.
//
// Softmax rows (not log-softmax) run softmax_rows16, the rule's steps with
// 16 lanes, the sum taken in the exp pass and partial groups through masks
// (the rule's padded copy of the last group stalled on store forwarding):
// ViT's 197-value rows 102 -> 66 ns on a Zen 5 (RESULTS.md section 45), the
// same bits (tests/test_fp32_ops.py compares every tier with the reference).
// QAttention's attention rows use it too, and all run several rows at a time
// (section 50: two; section 79: four); attention_rows_s8 quantizes the
// probabilities in the last pass instead of storing them (section 79) and
// runs the scores' scaling and mask in the maximum's pass (ScoresSteps,
// section 103). The exp pass takes x - max, never above 0, through
// exp16_nonpositive: exp16 without the upper clamp that no such value meets.
// head_mix (talking heads' mix over the heads, CaiT) builds 16 positions of
// each mixed head in a register, the rule's operations in its order.
#include <immintrin.h>

#include <type_traits>

#include "kernels/abi/softmax_f32.h"
#include "kernels/x86/avx512/exp16.h"
#include "kernels/x86/avx512/s8_convert.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// exp16 for t <= 0 or NaN, the softmax's x - max (see softmax_rows16): the
// same bits as exp16 there, without its upper clamp (t < kHi always holds
// for such t, so v = min(v, kHi) and the x < kHi blend change nothing; a
// NaN takes the last blend either way).
inline __m512 exp16_nonpositive(__m512 t) {
  const __m512 kLo = _mm512_set1_ps(-87.3365479f);
  const __mmask16 above_lo = _mm512_cmp_ps_mask(t, kLo, _CMP_GT_OQ);  // false for NaN
  const __mmask16 nan = _mm512_cmp_ps_mask(t, t, _CMP_UNORD_Q);
  const __m512 e = _mm512_maskz_mov_ps(above_lo, exp_core16(_mm512_maskz_mov_ps(above_lo, t)));
  return _mm512_mask_mov_ps(e, nan, t);
}

struct Exp16Avx512 {
  // y[l] = exp_fma_f32(x[l] - mx).
  void operator()(const float* x, float mx, float* y) const {
    _mm512_storeu_ps(y, exp16(_mm512_sub_ps(_mm512_loadu_ps(x), _mm512_set1_ps(mx))));
  }
};

// The largest of the 32 lanes of a and b (vmaxps: as the rule's compare, see
// softmax_rows16). The zero-masking forms with every lane set are the plain
// instructions; the plain intrinsics (and the 512 -> 256 cast) pass GCC 12's
// _mm512_undefined_* through, which warned (-Wuninitialized) once inlined
// into softmax_rows16's loops over rows.
inline float max_of(__m512 a, __m512 b) {
  const __m512 m = _mm512_maskz_max_ps(0xFFFF, b, a);
  const __m256 h = _mm256_max_ps(_mm512_maskz_extractf32x8_ps(0xFF, m, 1), _mm512_maskz_extractf32x8_ps(0xFF, m, 0));
  __m128 q = _mm_max_ps(_mm256_extractf128_ps(h, 1), _mm256_castps256_ps128(h));
  q = _mm_max_ps(_mm_movehl_ps(q, q), q);
  q = _mm_max_ss(_mm_movehdup_ps(q), q);
  return _mm_cvtss_f32(q);
}

inline __mmask16 first(int64_t count) {  // the first min(count, 16) lanes
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

// softmax_row_f32 (kernels/ref/softmax_f32.h) without log on kRows rows at
// once (row r from x[r] to y[r], which may be x[r]): each row's steps as
// the rule orders them, the rows' dependency chains interleaved (the sum's
// one accumulator per row waits on two adds per 16 values; two rows share
// that wait).
// The rule's last step, y = e * (1 / sum), goes to a sink: StoreF32 (the
// softmax's and attention rows' float output) or StoreProbsS8 (those
// probabilities quantized, attention_rows_s8).
struct StoreF32 {
  float* const* y;
  void operator()(int r, int64_t k, __mmask16 m, __m512 p) const { _mm512_mask_storeu_ps(y[r] + k, m, p); }
};

// ref::attention_row_guard (p != p ? 0 : p, where asked), then
// ref::quantize_value(p, inv_scale, zero_point): p * inv, + z, the clamps
// as compare + blend (clamp_ps: NaN takes -128, as the reference), cvtps2dq
// (round half to even) and an exact narrow.
struct StoreProbsS8 {
  int8_t* const* q;
  bool nan_to_zero;
  __m512 inv, z;
  void operator()(int r, int64_t k, __mmask16 m, __m512 p) const {
    if (nan_to_zero) p = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(p, p, _CMP_ORD_Q), p);
    const __m512 t = _mm512_add_ps(_mm512_mul_ps(p, inv), z);
    _mm_mask_storeu_epi8(q[r] + k, m, to_s8(clamp_ps(t, _mm512_set1_ps(-128.0f), _mm512_set1_ps(127.0f))));
  }
};

// What the maximum's pass does to the values it reads before comparing
// them: nothing (softmax rows), or QAttention's scores steps
// (ScoresSteps), whose results it writes back for the exp pass to read.
struct NoSteps {
  float first(int r, const float* const* x) const { return x[r][0]; }
  __m512 operator()(int, int64_t, __mmask16, __m512 v) const { return v; }
};

// ref::attention_row_scores on 16 values of row r from column k (lanes m),
// in the maximum's pass instead of a pass of its own: s * f or s / f, then
// s + mask (one IEEE operation each, as the rule), stored back into s.
// Masks read with column step 0 or 1 (the others run the rule's loop first).
struct ScoresSteps {
  float* const* s;
  const float* const* mask;  // row r's mask row, or null rows where none
  bool mask_broadcast;       // column step 0: one value per row
  float factor;
  bool divide;
  float first(int r, const float* const*) const {
    float v = s[r][0];
    if (factor != 0.f) v = divide ? v / factor : v * factor;
    return mask[r] ? v + mask[r][0] : v;
  }
  __m512 operator()(int r, int64_t k, __mmask16 m, __m512 v) const {
    if (factor != 0.f) {
      const __m512 f = _mm512_set1_ps(factor);
      v = divide ? _mm512_div_ps(v, f) : _mm512_mul_ps(v, f);
    }
    if (mask[r]) {
      v = _mm512_add_ps(v, mask_broadcast ? _mm512_set1_ps(mask[r][0]) : _mm512_maskz_loadu_ps(m, mask[r] + k));
    }
    _mm512_mask_storeu_ps(s[r] + k, m, v);
    return v;
  }
};

template <int kRows, class Sink, class Steps = NoSteps>
void softmax_rows16(const float* const* x, float* const* y, int64_t n, const Sink& sink, const Steps& steps = {}) {
  // The maximum: per lane v > m ? v : m (vmaxps), over two accumulators and
  // reduced in any order. Its value is the rule's; only the sign of a zero
  // maximum may differ, which no softmax value sees (x - mx differs only for
  // x = +-0, whose exp is 1 either way). A NaN x[0] stays in every lane and
  // so in mx, and a later NaN never enters, as in the rule. So x - mx is
  // <= 0 or NaN (exp16_nonpositive's domain).
  __m512 m0[kRows], m1[kRows], mx[kRows];
  for (int r = 0; r < kRows; ++r) m1[r] = m0[r] = _mm512_set1_ps(steps.first(r, x));
  constexpr __mmask16 kAll = 0xFFFF;
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    for (int r = 0; r < kRows; ++r) {
      m0[r] = _mm512_max_ps(steps(r, k, kAll, _mm512_loadu_ps(x[r] + k)), m0[r]);
      m1[r] = _mm512_max_ps(steps(r, k + 16, kAll, _mm512_loadu_ps(x[r] + k + 16)), m1[r]);
    }
  }
  for (; k < n; k += 16) {
    const __mmask16 m = first(n - k);
    for (int r = 0; r < kRows; ++r) {
      m0[r] = _mm512_mask_max_ps(m0[r], m, steps(r, k, m, _mm512_maskz_loadu_ps(m, x[r] + k)), m0[r]);
    }
  }
  for (int r = 0; r < kRows; ++r) mx[r] = _mm512_set1_ps(max_of(m0[r], m1[r]));
  // exp(x - mx) and the rule's sum: lane l of 8 adds the values 8 j + l of
  // the leading multiple of 8 in order (each 16-group's low then high half),
  // the rest go to lane 0 one by one; then the 8 lanes in order.
  __m256 s8[kRows];
  for (int r = 0; r < kRows; ++r) s8[r] = _mm256_setzero_ps();
  for (k = 0; k + 16 <= n; k += 16) {
    for (int r = 0; r < kRows; ++r) {
      const __m512 e = exp16_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(x[r] + k), mx[r]));
      _mm512_storeu_ps(y[r] + k, e);
      s8[r] = _mm256_add_ps(s8[r], _mm512_castps512_ps256(e));
      s8[r] = _mm256_add_ps(s8[r], _mm512_extractf32x8_ps(e, 1));
    }
  }
  __m512 inv[kRows];
  for (int r = 0; r < kRows; ++r) {
    alignas(32) float lanes[8];
    if (k < n) {  // the last partial group, padded with mx (exp(0) in the dead lanes) as the rule pads it
      const __mmask16 m = first(n - k);
      const __m512 e = exp16_nonpositive(_mm512_sub_ps(_mm512_mask_loadu_ps(mx[r], m, x[r] + k), mx[r]));
      _mm512_mask_storeu_ps(y[r] + k, m, e);
      __m256 rest = _mm512_castps512_ps256(e);
      int64_t left = n - k;
      if (left >= 8) {
        s8[r] = _mm256_add_ps(s8[r], rest);
        rest = _mm512_extractf32x8_ps(e, 1);
        left -= 8;
      }
      alignas(32) float t[8];
      _mm256_store_ps(t, rest);
      _mm256_store_ps(lanes, s8[r]);
      for (int64_t l = 0; l < left; ++l) lanes[0] += t[l];
    } else {
      _mm256_store_ps(lanes, s8[r]);
    }
    float sum = 0.f;
    for (int l = 0; l < 8; ++l) sum += lanes[l];
    inv[r] = _mm512_set1_ps(1.0f / sum);
  }
  for (k = 0; k < n; k += 16) {
    const __mmask16 m = first(n - k);
    for (int r = 0; r < kRows; ++r) {
      sink(r, k, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y[r] + k), inv[r]));
    }
  }
}

// Rows [0, rows) in groups of 4, then 2, then 1 (group(first row,
// std::integral_constant<int, size>)): each row's reductions end in serial
// steps (the 8-lane sum in order, then 1 / sum), which the group's rows
// overlap (BERT's 128-key attention rows 0.68 -> 0.61 ns per value from 2 to
// 4 rows, RESULTS.md section 79).
template <class Group>
void in_row_groups(int64_t rows, Group group) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) group(r, std::integral_constant<int, 4>{});
  for (; r + 2 <= rows; r += 2) group(r, std::integral_constant<int, 2>{});
  if (r < rows) group(r, std::integral_constant<int, 1>{});
}

}  // namespace

void softmax_rows(int64_t rows, int64_t n, const float* x, float* y, bool log) {
  if (log || n <= 0) {
    ref::softmax_rows_loop(rows, n, x, y, log, Exp16Avx512{});
    return;
  }
  in_row_groups(rows, [&](int64_t r, auto group) {
    constexpr int kRows = decltype(group)::value;
    const float* xs[kRows];
    float* ys[kRows];
    for (int i = 0; i < kRows; ++i) {
      xs[i] = x + (r + i) * n;
      ys[i] = y + (r + i) * n;
    }
    softmax_rows16<kRows>(xs, ys, n, StoreF32{ys});
  });
}

// The rule's steps per row (ref::attention_rows_loop) with the softmax as
// softmax_rows16: QAttention's rows are softmax rows (ViT's 197 keys).
void attention_rows(int64_t rows, int64_t n, const ref::AttentionRows& a, float* s) {
  if (n <= 0) return;
  in_row_groups(rows, [&](int64_t r, auto group) {
    constexpr int kRows = decltype(group)::value;
    float* rs[kRows];
    for (int i = 0; i < kRows; ++i) {
      rs[i] = s + (r + i) * n;
      ref::attention_row_scores(r + i, n, a, rs[i]);
    }
    softmax_rows16<kRows>(rs, rs, n, StoreF32{rs});
    for (int i = 0; i < kRows; ++i) ref::attention_row_guard(n, a, rs[i]);
  });
}

// attention_rows' rows with their probabilities quantized in the softmax's
// last pass (StoreProbsS8): no float probabilities written or read again.
void attention_rows_s8(int64_t rows, int64_t n, const ref::AttentionRows& a, const ref::ProbsGrid& g, float* s,
                       int8_t* q) {
  if (n <= 0) return;
  const __m512 inv = _mm512_set1_ps(g.inv_scale), z = _mm512_set1_ps(g.zero_point);
  // The scores steps in the maximum's pass where the mask's columns are
  // contiguous or broadcast (BERT's [b, 1, 1, s] padding mask), else first.
  const bool fused = (a.mask || a.factor != 0.f) && (!a.mask || a.mask_col_step == 0 || a.mask_col_step == 1);
  in_row_groups(rows, [&](int64_t r, auto group) {
    constexpr int kRows = decltype(group)::value;
    float* rs[kRows];
    int8_t* qs[kRows];
    const float* masks[kRows];
    for (int i = 0; i < kRows; ++i) {
      rs[i] = s + (r + i) * n;
      qs[i] = q + (r + i) * n;
      masks[i] = a.mask ? a.mask + (r + i) * a.mask_row_step : nullptr;
      if (!fused) ref::attention_row_scores(r + i, n, a, rs[i]);  // (nothing without factor and mask)
    }
    const StoreProbsS8 sink{qs, a.nan_to_zero, inv, z};
    if (fused) {
      softmax_rows16<kRows>(rs, rs, n, sink, ScoresSteps{rs, masks, a.mask_col_step == 0, a.factor, a.divide});
    } else {
      softmax_rows16<kRows>(rs, rs, n, sink);
    }
  });
}

// ref::head_mix_loop with each 16 positions' y[o] built in a register:
// x[h]'s 16 values loaded once for every o (up to kMaxHeads heads; more run
// the rule's loop), then the rule's products and sums in its order, one
// IEEE operation each (no FMA), so the same bits.
void head_mix(int64_t heads, int64_t n, const float* w, const float* b, const float* const* x, float* const* y) {
  constexpr int64_t kMaxHeads = 16;
  if (heads > kMaxHeads || heads < 1) {
    ref::head_mix_loop(heads, n, w, b, x, y);
    return;
  }
  for (int64_t k = 0; k < n; k += 16) {
    const __mmask16 m = first(n - k);
    __m512 xs[kMaxHeads];
    for (int64_t h = 0; h < heads; ++h) xs[h] = _mm512_maskz_loadu_ps(m, x[h] + k);
    for (int64_t o = 0; o < heads; ++o) {
      __m512 acc = _mm512_mul_ps(xs[0], _mm512_set1_ps(w[o]));
      for (int64_t h = 1; h < heads; ++h) {
        acc = _mm512_add_ps(acc, _mm512_mul_ps(xs[h], _mm512_set1_ps(w[h * heads + o])));
      }
      if (b) acc = _mm512_add_ps(acc, _mm512_set1_ps(b[o]));
      _mm512_mask_storeu_ps(y[o] + k, m, acc);
    }
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
