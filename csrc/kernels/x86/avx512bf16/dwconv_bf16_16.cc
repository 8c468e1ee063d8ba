// BF16 depthwise convolution, AVX-512 with AVX512-BF16's store: contract in
// kernels/abi/dwconv_bf16.h.
//
// Per plane, each BF16 input row is widened once into the caller's
// workspace: zero-padded FP32 rows split into sw column phases (padded
// column j at phase j % sw, index j / sw), so that for every tap (ky, kx)
// the inputs of consecutive outputs ox are consecutive floats (stride-2
// BF16 rows split into phases with one shift and one mask per 32 inputs).
// The rows live in a ring of the (kh - 1) * dh + 1 + sh rows two output rows
// read (a few KiB: it stays in L1, where a whole 112 x 112 plane would not);
// output rows go two at a time, each padded row's vectors loaded once for
// both rows' FMAs.
// The padding columns are zeroed once per call and never written after.
// Small stride-1 planes (dwconv_bf16.h's `flat`) are walked as one run of
// oh x row_floats outputs (the padded width: kw - 1 columns per row computed
// and dropped), each zmm's outputs compressed out of it (VCOMPRESSPS; the
// residual expanded into it, VEXPANDPS) and stored at once.
// Register tile: a step of up to four zmm (64 outputs of one row) as
// independent FMA chains, taps outer: per tap one broadcast weight and one
// FMA per zmm, in the contract's tap order, starting from the bias. A
// padded tap multiplies +0, as the contract says. Then the residual add,
// the clip (compare + blend) and the store: FP32, or VCVTNEPS2BF16 (round
// to nearest even) for a BF16 output; the last partial zmm through a mask.
//
// Channel-blocked walk (planes of at most kDwBf16BlockedOutputs outputs,
// runs of 16 planes: MobileNetV2's 28 x 28, 14 x 14 and 7 x 7 stages), a
// band of output rows at a time: the 16 planes' BF16 rows the band reads
// (prefetched a few rows ahead) widened and transposed, 16 x 16 at a time
// (four VPERMT2PS butterfly levels), into a zero-padded [rows][cols][16]
// FP32 block, so one zmm holds one pixel of 16 channels; register tile:
// four output pixels (16 channels each) as independent FMA chains, per tap
// one weight vector (the 16 channels' tap) and four FMAs, in the contract's
// tap order from the bias (3-wide windows of stride 1 or 2: eight output
// pixels, each window row's pixels loaded once for its three taps); the
// band's [rows * ow][16] results transposed back and finished per plane
// (residual, clip, store) as above. Lane for lane the
// same arithmetic as the per-plane walks, so the same bits.
//
// Compiled twice from this text (kernels/x86/emulation/avx512.h): natively
// in the library (namespace avx512bf16) and, in the tests, against
// emulation/avx512_emulation.h (namespace emulated::avx512bf16).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/abi/dwconv_bf16.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {
namespace {

constexpr int kMaxTaps = 64;  // larger windows take the reference (dwconv_bf16.h)
constexpr int kMaxRows = 128;  // padded rows of two output rows' windows (more: one row at a time)
// The channel-blocked walk's input prefetch distance in rows (3 measured
// best against 6 and 10 at batch 8: RESULTS.md section 130).
constexpr int64_t kAheadRows = 3;

__mmask16 mask16(int64_t n) { return n >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << n) - 1); }

// BF16 bits in the low halves of 16 dwords -> the floats they denote.
__m512 widen(__m512i low_halves) { return _mm512_castsi512_ps(_mm512_slli_epi32(low_halves, 16)); }

// Input row `src` (W BF16 values) into padded row `dst` (its sw phases).
void convert_row(const DwConvBf16Plane& p, const uint16_t* src, float* dst) {
  if (p.sw == 1) {
    float* d = dst + p.pw;
    for (int64_t i = 0; i < p.W; i += 16) {
      const __mmask16 m = mask16(p.W - i);
      const __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i));
      _mm512_mask_storeu_ps(d + i, m, widen(v));
    }
  } else if (p.sw == 2) {
    // dword m of 32 inputs from i holds x[i + 2m] (low) and x[i + 2m + 1] (high)
    const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
    for (int64_t i = 0; i < p.W; i += 32) {
      const int64_t n = p.W - i < 32 ? p.W - i : 32;
      const __mmask32 m = n == 32 ? 0xFFFFFFFFu : static_cast<__mmask32>((1u << n) - 1);
      const __m512i v = _mm512_maskz_loadu_epi16(m, src + i);
      const int64_t je = i + p.pw, jo = je + 1;  // padded columns of x[i] and x[i + 1]
      _mm512_mask_storeu_ps(dst + (je % 2) * p.phase_w + je / 2, mask16((n + 1) / 2), widen(v));
      _mm512_mask_storeu_ps(dst + (jo % 2) * p.phase_w + jo / 2, mask16(n / 2),
                            _mm512_castsi512_ps(_mm512_and_si512(v, high)));
    }
  } else {
    for (int64_t i = 0; i < p.W; ++i) {
      const int64_t j = i + p.pw;
      const uint32_t bits = static_cast<uint32_t>(src[i]) << 16;
      std::memcpy(dst + (j % p.sw) * p.phase_w + j / p.sw, &bits, 4);
    }
  }
}

// The epilogue of one zmm of outputs (m: the valid lanes) and its store at
// output index o: residual add, clip, FP32 or BF16.
void finish(const DwConvBf16Plane& p, __m512 r, int64_t o, __mmask16 m) {
  if (p.residual) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, p.residual + o));
  if (p.clip) {  // v < lo ? lo : v, then hi < v ? hi : v (NaN stays NaN: ref/clip_f32.h)
    const __m512 lo = _mm512_set1_ps(p.lo), hi = _mm512_set1_ps(p.hi);
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(r, lo, _CMP_LT_OQ), r, lo);
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(r, hi, _CMP_GT_OQ), r, hi);
  }
  if (p.y16) {
    _mm256_mask_storeu_epi16(p.y16 + o, m, (__m256i)_mm512_cvtneps_pbh(r));
  } else {
    _mm512_mask_storeu_ps(p.y + o, m, r);
  }
}

// A flat walk's zmm (dwconv_bf16.h): the lanes in m are the outputs from
// index o on, in order (a row's end and the next row's start); the rest are
// the dropped columns. The residual is expanded into those lanes, the
// result compressed out of them and stored as popcount(m) outputs.
void finish_flat(const DwConvBf16Plane& p, __m512 r, int64_t o, __mmask16 m) {
  if (p.residual) r = _mm512_add_ps(r, _mm512_maskz_expandloadu_ps(m, p.residual + o));
  if (p.clip) {  // as finish()
    const __m512 lo = _mm512_set1_ps(p.lo), hi = _mm512_set1_ps(p.hi);
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(r, lo, _CMP_LT_OQ), r, lo);
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(r, hi, _CMP_GT_OQ), r, hi);
  }
  const int count = __builtin_popcount(m);
  const __mmask16 out = count == 16 ? 0xFFFF : static_cast<__mmask16>((1u << count) - 1);
  r = _mm512_maskz_compress_ps(m, r);
  if (p.y16) {
    _mm256_mask_storeu_epi16(p.y16 + o, out, (__m256i)_mm512_cvtneps_pbh(r));
  } else {
    _mm512_mask_storeu_ps(p.y + o, out, r);
  }
}

// Where each zmm of a flat walk stores: its lanes that are outputs and the
// index of the first (per plane, from the plane's first output).
struct FlatLanes {
  const __mmask16* mask;
  const int64_t* first;
};

// V zmm of consecutive outputs whose tap k reads src[k] + x0 onward: bias,
// then one FMA per tap in order. Then finished at output index `at` (n of
// them valid), or, with `flat`, through finish_flat at the plane's index `at`.
template <int V>
void step(const DwConvBf16Plane& p, const float* const* src, int64_t x0, const float* w, int64_t taps,
          float bias, int64_t at, int64_t n, const FlatLanes* flat) {
  __m512 acc[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) acc[v] = _mm512_set1_ps(bias);
  for (int64_t k = 0; k < taps; ++k) {
    const __m512 wv = _mm512_set1_ps(w[k]);
    const float* in = src[k] + x0;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[v] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(in + 16 * v), acc[v]);
  }
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    if (flat) {
      finish_flat(p, acc[v], at + flat->first[v], flat->mask[v]);
    } else {
      finish(p, acc[v], at + 16 * v, mask16(n - 16 * v));
    }
  }
}

// V zmm of two output rows sh apart: padded row d of `rows` (d = 0 ..
// (kh - 1) * dh + sh, the first output row's window from d = 0, the
// second's from d = sh) is loaded once per tap column and feeds both rows'
// FMAs. Each output's FMAs still run in its window's row-major tap order
// (d ascending, then kx), from the bias: the one-row step's arithmetic.
template <int V>
void step2(const DwConvBf16Plane& p, const float* const* rows, const int64_t* col, int64_t x0, const float* w,
           float bias, int64_t at0, int64_t at1, int64_t n) {
  __m512 acc0[V], acc1[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) acc0[v] = acc1[v] = _mm512_set1_ps(bias);
  const int64_t last = (p.kh - 1) * p.dh + p.sh;
  for (int64_t d = 0; d <= last; ++d) {
    const int64_t d1 = d - p.sh;
    const bool use0 = d % p.dh == 0 && d / p.dh < p.kh, use1 = d1 >= 0 && d1 % p.dh == 0 && d1 / p.dh < p.kh;
    if (!use0 && !use1) continue;
    const float* w0 = w + (d / p.dh) * p.kw;
    const float* w1 = w + (use1 ? d1 / p.dh : 0) * p.kw;
    for (int64_t kx = 0; kx < p.kw; ++kx) {
      const float* in = rows[d] + col[kx] + x0;
      __m512 x[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) x[v] = _mm512_loadu_ps(in + 16 * v);
      if (use0) {
        const __m512 wv = _mm512_set1_ps(w0[kx]);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc0[v] = _mm512_fmadd_ps(wv, x[v], acc0[v]);
      }
      if (use1) {
        const __m512 wv = _mm512_set1_ps(w1[kx]);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc1[v] = _mm512_fmadd_ps(wv, x[v], acc1[v]);
      }
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    finish(p, acc0[v], at0 + 16 * v, mask16(n - 16 * v));
    finish(p, acc1[v], at1 + 16 * v, mask16(n - 16 * v));
  }
}

// Up to kDwBf16Step outputs from x0 (n valid) through step<V>.
void steps(const DwConvBf16Plane& p, const float* const* src, int64_t x0, const float* w, int64_t taps,
           float bias, int64_t at, int64_t n, const FlatLanes* flat) {
  switch ((n + 15) / 16) {
    case 4: step<4>(p, src, x0, w, taps, bias, at, n, flat); break;
    case 3: step<3>(p, src, x0, w, taps, bias, at, n, flat); break;
    case 2: step<2>(p, src, x0, w, taps, bias, at, n, flat); break;
    default: step<1>(p, src, x0, w, taps, bias, at, n, flat); break;
  }
}

// Lane e of a butterfly level's lower / upper row (transpose16).
constexpr int lower_lane(int e, int d) { return (e & d) ? 16 + e - d : e; }
constexpr int upper_lane(int e, int d) { return (e & d) ? 16 + e : e + d; }

template <int D>
__attribute__((always_inline)) inline void butterfly(__m512* r) {
#define INT8RT_LANES(f) \
  _mm512_set_epi32(f(15, D), f(14, D), f(13, D), f(12, D), f(11, D), f(10, D), f(9, D), f(8, D), f(7, D), \
                   f(6, D), f(5, D), f(4, D), f(3, D), f(2, D), f(1, D), f(0, D))
  const __m512i lo = INT8RT_LANES(lower_lane), hi = INT8RT_LANES(upper_lane);
#undef INT8RT_LANES
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) {
    if (i & D) continue;
    const __m512 a = r[i], b = r[i + D];
    r[i] = _mm512_permutex2var_ps(a, lo, b);
    r[i + D] = _mm512_permutex2var_ps(a, hi, b);
  }
}

// r[i][j] -> r[j][i] for a 16 x 16 block of floats: four butterfly levels
// of VPERMT2PS, level d swapping the off-diagonal d x d sub-blocks of
// every 2d x 2d block (rows i and i + d: lane e of the lower row takes the
// upper row's lane e - d where bit d of e is set, the upper row the lower
// row's lane e + d where it is clear). Inlined, so r stays in registers.
__attribute__((always_inline)) inline void transpose16(__m512* r) {
  butterfly<8>(r);
  butterfly<4>(r);
  butterfly<2>(r);
  butterfly<1>(r);
}

// Four outputs (or fewer, V) of a 16-plane block side by side: lane j of
// each zmm is plane j's output. Per tap one weight vector, V FMAs, in the
// contract's tap order from the bias: each lane's arithmetic is the
// per-plane walks'.
template <int V>
void block_step(const float* in, int64_t step, const int64_t* tap_at, const float* wvec, int64_t taps, __m512 bias,
                float* out) {
  __m512 acc[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) acc[v] = bias;
  for (int64_t k = 0; k < taps; ++k) {
    const __m512 wv = _mm512_loadu_ps(wvec + 16 * k);
    const float* x = in + tap_at[k];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[v] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + v * step), acc[v]);
  }
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) _mm512_storeu_ps(out + 16 * v, acc[v]);
}

// V outputs of one block row (as block_step) for a window KW wide with
// column stride SW and dilation 1: per window row the (V - 1) * SW + KW
// pixels it reads loaded once, each feeding the FMAs of every output whose
// window covers it (block_step loads one per tap and output); per output
// the same FMAs in the same (ky, kx) order, so the same bits.
template <int V, int KW, int SW>
void block_row(const float* in, int64_t row_step, int64_t kh, const float* wvec, __m512 bias, float* out) {
  constexpr int X = (V - 1) * SW + KW;
  __m512 acc[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[v] = bias;
  for (int64_t ky = 0; ky < kh; ++ky) {
    const float* r = in + ky * row_step;
    __m512 x[X];
#pragma GCC unroll 17
    for (int i = 0; i < X; ++i) x[i] = _mm512_loadu_ps(r + 16 * i);
#pragma GCC unroll 3
    for (int kx = 0; kx < KW; ++kx) {
      const __m512 wv = _mm512_loadu_ps(wvec + 16 * (ky * KW + kx));
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[v] = _mm512_fmadd_ps(wv, x[v * SW + kx], acc[v]);
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) _mm512_storeu_ps(out + 16 * v, acc[v]);
}

// Output rows per band of the channel-blocked walk (blk_rows: one band's
// padded rows).
int64_t band_rows(const DwConvBf16Plane& p) { return (p.blk_rows - (p.kh - 1) * p.dh - 1) / p.sh + 1; }

// The block's border columns (left of pw, right of the input columns the
// window reads), which block16 never writes, zeroed once per call; and
// where the plane is one band, its padding rows (the same rows for every
// run of 16 planes); with several bands block16 zeroes each band's.
// One zmm store per pixel, no memset call: a 7 x 7 plane's block has 18
// border pixels in 9 rows.
void zero_border(const DwConvBf16Plane& p, float* blk) {
  const int64_t bc = p.blk_cols, right = p.pw + std::min(p.W, bc - p.pw);
  const bool one_band = band_rows(p) >= p.oh;
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t r = 0; r < p.blk_rows; ++r) {
    float* row = blk + r * bc * 16;
    if (one_band && (r < p.ph || r - p.ph >= p.H)) {  // a padding row: all of it
      for (int64_t c = 0; c < bc; ++c) _mm512_storeu_ps(row + 16 * c, zero);
      continue;
    }
    for (int64_t c = 0; c < p.pw; ++c) _mm512_storeu_ps(row + 16 * c, zero);
    for (int64_t c = right; c < bc; ++c) _mm512_storeu_ps(row + 16 * c, zero);
  }
}

// Planes [t, t + 16) through the channel-blocked walk (abi/dwconv_bf16.h),
// band by band of output rows (blk_rows: one band's padded rows): the band's
// input rows transposed in 16 x 16 blocks into the [blk_rows][blk_cols][16]
// block (its padding rows zeroed here, or by zero_border for a one-band
// plane; border columns by zero_border), its outputs computed 16 planes per
// zmm into [band * ow][16], transposed back and finished per plane. A
// band's outputs are consecutive in each plane.
void block16(const DwConvBf16Plane& p, int64_t t, float* blk, float* outs) {
  const int64_t taps = p.kh * p.kw, P = p.oh * p.ow, bc = p.blk_cols, span = (p.kh - 1) * p.dh + 1;
  const int64_t band = band_rows(p);
  alignas(64) float wvec[kMaxTaps * 16];
  alignas(64) float bias[16];
  for (int j = 0; j < 16; ++j) {
    const int64_t c = (t + j) % p.C;
    for (int64_t k = 0; k < taps; ++k) wvec[16 * k + j] = p.w[c * taps + k];
    bias[j] = p.bias ? p.bias[c] : 0.f;
  }
  int64_t tap_at[kMaxTaps];
  for (int64_t ky = 0, k = 0; ky < p.kh; ++ky) {
    for (int64_t kx = 0; kx < p.kw; ++kx, ++k) tap_at[k] = (ky * p.dh * bc + kx * p.dw) * 16;
  }
  const __m512 bv = _mm512_loadu_ps(bias);
  const int64_t step = p.sw * 16, cols = std::min(p.W, bc - p.pw);  // input columns the window reads
  __m512 r[16];
  const bool rows8 = p.kw == 3 && p.dw == 1 && p.sw <= 2;  // block_row's windows
  for (int64_t oy0 = 0; oy0 < p.oh; oy0 += band) {
    const int64_t b = std::min(band, p.oh - oy0), top = oy0 * p.sh;  // padded rows [top, top + rows)
    const int64_t rows = (b - 1) * p.sh + span;
    for (int64_t lr = 0; lr < rows; ++lr) {
      const int64_t iy = top + lr - p.ph;
      float* row = blk + (lr * bc + p.pw) * 16;
      if (iy < 0 || iy >= p.H) {  // a padding row (zero_border's, where the plane is one band)
        if (band < p.oh) std::memset(row, 0, static_cast<size_t>(cols * 16) * sizeof(float));
        continue;
      }
      if (iy + kAheadRows < p.H) {  // the 16 planes' row kAheadRows down: 16 streams, more than the L2 prefetcher follows
        for (int j = 0; j < 16; ++j) {
          const char* ahead = reinterpret_cast<const char*>(p.x + (t + j) * p.H * p.W + (iy + kAheadRows) * p.W);
          for (int64_t at = 0; at < cols * 2; at += 64) __builtin_prefetch(ahead + at);
        }
      }
      for (int64_t ix = 0; ix < cols; ix += 16) {
        const int64_t n = cols - ix < 16 ? cols - ix : 16;
#pragma GCC unroll 16
        for (int j = 0; j < 16; ++j) {
          const uint16_t* src = p.x + (t + j) * p.H * p.W + iy * p.W + ix;
          r[j] = widen(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask16(n), src)));
        }
        transpose16(r);
        for (int64_t i = 0; i < n; ++i) _mm512_storeu_ps(row + 16 * (ix + i), r[i]);
      }
    }
    for (int64_t oy = 0; oy < b; ++oy) {
      const float* row = blk + oy * p.sh * bc * 16;
      float* out = outs + oy * p.ow * 16;
      int64_t ox = 0;
      if (rows8) {
        for (; ox + 8 <= p.ow; ox += 8) {
          if (p.sw == 1) {
            block_row<8, 3, 1>(row + ox * step, p.dh * bc * 16, p.kh, wvec, bv, out + ox * 16);
          } else {
            block_row<8, 3, 2>(row + ox * step, p.dh * bc * 16, p.kh, wvec, bv, out + ox * 16);
          }
        }
      }
      for (; ox + 4 <= p.ow; ox += 4) block_step<4>(row + ox * step, step, tap_at, wvec, taps, bv, out + ox * 16);
      switch (p.ow - ox) {
        case 3: block_step<3>(row + ox * step, step, tap_at, wvec, taps, bv, out + ox * 16); break;
        case 2: block_step<2>(row + ox * step, step, tap_at, wvec, taps, bv, out + ox * 16); break;
        case 1: block_step<1>(row + ox * step, step, tap_at, wvec, taps, bv, out + ox * 16); break;
        default: break;
      }
    }
    const int64_t first = oy0 * p.ow, count = b * p.ow;
    for (int64_t o = 0; o < count; o += 16) {
      const int64_t n = count - o < 16 ? count - o : 16;
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) r[i] = i < n ? _mm512_loadu_ps(outs + (o + i) * 16) : _mm512_setzero_ps();
      transpose16(r);
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) finish(p, r[j], (t + j) * P + first + o, mask16(n));
    }
  }
}

}  // namespace

void dwconv_bf16_plane(const DwConvBf16Plane& p) {
  const int64_t taps = p.kh * p.kw, P = p.oh * p.ow, span = (p.kh - 1) * p.dh + 1;
  std::memset(p.work, 0, static_cast<size_t>(p.pad_rows * p.row_floats) * sizeof(float));
  int64_t col[kMaxTaps];  // tap kx's phase and offset within a padded row
  for (int64_t kx = 0; kx < p.kw; ++kx) col[kx] = (kx * p.dw % p.sw) * p.phase_w + kx * p.dw / p.sw;
  const float* src[kMaxTaps];
  // A flat walk's zmm q / 16 covers flat positions q .. q + 15 (output
  // (oy, ox) at oy * row_floats + ox): which lanes are outputs, and the
  // output index of the first.
  __mmask16 flat_mask[kDwBf16FlatMax / 16];
  int64_t flat_first[kDwBf16FlatMax / 16];
  const int64_t Q = p.flat ? p.oh * p.row_floats : 0;
  for (int64_t q = 0; q < Q; q += 16) {
    __mmask16 m = 0;
    for (int64_t j = 0; j < 16; ++j) {
      if (q + j < Q && (q + j) % p.row_floats < p.ow) m = static_cast<__mmask16>(m | (1u << j));
    }
    flat_mask[q / 16] = m;
    flat_first[q / 16] = q / p.row_floats * p.ow + (q % p.row_floats < p.ow ? q % p.row_floats : p.ow);
  }
  int64_t t = p.first;
  if (p.blk_rows > 0 && p.count >= 16) {
    float* blk = dwconv_bf16_block(p);
    float* outs = blk + p.blk_rows * p.blk_cols * 16;
    zero_border(p, blk);
    for (; t + 16 <= p.first + p.count; t += 16) block16(p, t, blk, outs);
  }
  for (; t < p.first + p.count; ++t) {
    const int64_t c = t % p.C;
    const uint16_t* x = p.x + t * p.H * p.W;
    const float* w = p.w + c * taps;
    const float bias = p.bias ? p.bias[c] : 0.f;
    if (p.flat) {  // the whole padded plane; one run over oh x row_floats, compressed into the outputs
      for (int64_t iy = 0; iy < p.H && iy + p.ph < p.pad_rows; ++iy) {
        convert_row(p, x + iy * p.W, p.work + (iy + p.ph) * p.row_floats);
      }
      for (int64_t ky = 0, k = 0; ky < p.kh; ++ky) {
        for (int64_t kx = 0; kx < p.kw; ++kx, ++k) src[k] = p.work + ky * p.dh * p.row_floats + col[kx];
      }
      for (int64_t q = 0; q < Q; q += kDwBf16Step) {
        const FlatLanes lanes{flat_mask + q / 16, flat_first + q / 16};
        steps(p, src, q, w, taps, bias, t * P, Q - q < kDwBf16Step ? Q - q : kDwBf16Step, &lanes);
      }
      continue;
    }
    // A ring of the span + sh padded rows two output rows read: padded row
    // r in slot r % ring, each input row converted once, padding rows zeroed.
    const int64_t ring = p.pad_rows;
    int64_t next = 0;
    auto fill_to = [&](int64_t last) {
      for (; next <= last; ++next) {
        float* slot = p.work + (next % ring) * p.row_floats;
        const int64_t iy = next - p.ph;
        if (iy >= 0 && iy < p.H) {
          convert_row(p, x + iy * p.W, slot);
        } else {
          std::memset(slot, 0, static_cast<size_t>(p.row_floats) * sizeof(float));
        }
      }
    };
    for (int64_t oy = 0; oy < p.oh;) {
      const int64_t top = oy * p.sh;
      if (oy + 1 < p.oh && span + p.sh <= kMaxRows) {  // two output rows per step, their windows' rows loaded once
        fill_to(top + span - 1 + p.sh);
        const float* rows[kMaxRows];
        for (int64_t d = 0; d < span + p.sh; ++d) rows[d] = p.work + ((top + d) % ring) * p.row_floats;
        for (int64_t ox = 0; ox < p.ow; ox += kDwBf16Step) {
          const int64_t n = p.ow - ox < kDwBf16Step ? p.ow - ox : kDwBf16Step;
          const int64_t at = t * P + oy * p.ow + ox;
          switch ((n + 15) / 16) {
            case 4: step2<4>(p, rows, col, ox, w, bias, at, at + p.ow, n); break;
            case 3: step2<3>(p, rows, col, ox, w, bias, at, at + p.ow, n); break;
            case 2: step2<2>(p, rows, col, ox, w, bias, at, at + p.ow, n); break;
            default: step2<1>(p, rows, col, ox, w, bias, at, at + p.ow, n); break;
          }
        }
        oy += 2;
        continue;
      }
      fill_to(top + span - 1);
      for (int64_t ky = 0, k = 0; ky < p.kh; ++ky) {  // kh divisions per output row, not one per tap
        const float* row = p.work + ((top + ky * p.dh) % ring) * p.row_floats;
        for (int64_t kx = 0; kx < p.kw; ++kx, ++k) src[k] = row + col[kx];
      }
      for (int64_t ox = 0; ox < p.ow; ox += kDwBf16Step) {
        const int64_t n = p.ow - ox < kDwBf16Step ? p.ow - ox : kDwBf16Step;
        steps(p, src, ox, w, taps, bias, t * P + oy * p.ow + ox, n, nullptr);
      }
      ++oy;
    }
  }
}

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
