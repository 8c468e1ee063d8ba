// nchw16c_f32, AVX-512F tier (contract: kernels/abi/nchw16c_f32.h): the
// reference's operations in its order, one zmm per 16-channel block, so the
// same bits.
//
// Pointwise: a register tile of R = 6 pixels x B = 4 output blocks (24 zmm
// accumulators); per input channel c, B weight vectors (the packed
// [MB][C][16] rows) and one broadcast of x[c][p] per pixel, which reads lane
// c % 16 of the pixel's line of block c / 16 (MLAS's NCHWc pointwise walk).
// Input channels run in slices of kSlice: a slice's 4-block weight panel
// (kSlice x 256 bytes) stays in L1 while the task's pixel tiles run over it,
// the partial sums stored in y and reloaded for the next slice (a float
// store and load: the same fma chain, the same bits). Pixels run in
// sub-runs of kSubRun, each finished (all slices, then the PostOp) before
// the next.
// Depthwise: up to 8 output pixels of one row per tile (8 independent fma
// chains), each tap one weight vector and one aligned load per pixel (3x3 /
// 5x5 inner tiles: each pixel vector of a row loaded once, dw_tile_window); in the
// tiles whose taps reach the padding each tap is tested and the taps outside
// the image skipped as the reference skips them.
#include <immintrin.h>

#include <algorithm>

#include "kernels/abi/nchw16c_f32.h"
#include "kernels/x86/avx512/nchw16c_epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// Pointwise pixels per sub-run: a block group's outputs of one sub-run
// (4 x 192 x 64 bytes) are still in L1 / L2 when the PostOp reads them.
constexpr int64_t kSubRun = 192;
constexpr int64_t kRowTile = 8;  // depthwise output pixels per tile

// One input channel of a pointwise tile: B weight vectors (wc, wstride
// floats between blocks) and one broadcast of xc[r * 16] per pixel r.
template <int R, int B>
__attribute__((always_inline)) inline void pw_step(__m512 (&acc)[R][B], const float* wc, int64_t wstride,
                                                   const float* xc) {
  __m512 wv[B];
#pragma GCC unroll 4
  for (int b = 0; b < B; ++b) wv[b] = _mm512_loadu_ps(wc + b * wstride);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512 xv = _mm512_set1_ps(xc[r * kBlock16]);
#pragma GCC unroll 4
    for (int b = 0; b < B; ++b) acc[r][b] = _mm512_fmadd_ps(xv, wv[b], acc[r][b]);
  }
}

// Pixels [p, p + R) x blocks [mb, mb + B), input channels [c0, c1).
template <int R, int B>
void pw_tile(const PointwiseNchw16c& a, const Finish& f, int64_t mb, int64_t p, int64_t c0, int64_t c1) {
  const int64_t P = a.P, C = a.C;
  __m512 acc[R][B];
  float* y = a.y + (mb * P + p) * kBlock16;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int b = 0; b < B; ++b) {
      acc[r][b] = c0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(y + (b * P + r) * kBlock16);
    }
  }
  const float* w = a.w + (mb * C) * kBlock16;
  for (int64_t c = c0; c < c1;) {
    const float* xb = a.x + ((c / kBlock16) * P + p) * kBlock16;
    const int64_t end = std::min(c1, (c / kBlock16 + 1) * kBlock16);
    // This block's lines of the tile two ahead: a cold input (batch 8: the
    // tensor left the caches) is CB streams, more than the hardware
    // prefetcher follows.
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) _mm_prefetch(reinterpret_cast<const char*>(xb + (2 * R + r) * kBlock16), _MM_HINT_T0);
    // The lane pointer steps with c (c % 16 once per block, not per
    // channel: a signed modulo was 5 of the loop's ~43 instructions) and
    // the loop is unrolled by 4 by hand (GCC 12 ignored `#pragma GCC
    // unroll 4` here: one channel per iteration, 4 scalar ops per 24 fmas
    // on the fma ports' schedulers), so the broadcasts and weight loads
    // address by displacement; the same fmas in the same order.
    const float* xc = xb + c % kBlock16;
    const float* wc = w + c * kBlock16;
    for (; c + 4 <= end; c += 4, xc += 4, wc += 4 * kBlock16) {
      pw_step<R, B>(acc, wc, C * kBlock16, xc);
      pw_step<R, B>(acc, wc + kBlock16, C * kBlock16, xc + 1);
      pw_step<R, B>(acc, wc + 2 * kBlock16, C * kBlock16, xc + 2);
      pw_step<R, B>(acc, wc + 3 * kBlock16, C * kBlock16, xc + 3);
    }
    for (; c < end; ++c, ++xc, wc += kBlock16) pw_step<R, B>(acc, wc, C * kBlock16, xc);
  }
  const bool last = c1 == C;
#pragma GCC unroll 4
  for (int b = 0; b < B; ++b) {
    const __m512 bias = last ? _mm512_loadu_ps(a.bias + (mb + b) * kBlock16) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const int64_t o = (b * P + r) * kBlock16;
      const __m512 v = last ? f.apply(acc[r][b], bias, a.residual ? a.residual + (mb * P + p) * kBlock16 + o : nullptr)
                            : acc[r][b];
      _mm512_storeu_ps(y + o, v);
    }
  }
}

template <int B>
void pw_blocks(const PointwiseNchw16c& a, const Finish& f, int64_t mb, int64_t c0, int64_t c1) {
  int64_t p = a.p0;
  for (; p + kPixels <= a.p1; p += kPixels) pw_tile<kPixels, B>(a, f, mb, p, c0, c1);
  switch (a.p1 - p) {
    case 5: pw_tile<5, B>(a, f, mb, p, c0, c1); break;
    case 4: pw_tile<4, B>(a, f, mb, p, c0, c1); break;
    case 3: pw_tile<3, B>(a, f, mb, p, c0, c1); break;
    case 2: pw_tile<2, B>(a, f, mb, p, c0, c1); break;
    case 1: pw_tile<1, B>(a, f, mb, p, c0, c1); break;
    default: break;
  }
}

// A depthwise tile's stores: pixels [ox0, ox0 + R) of output row oy.
template <int R>
void dw_store(const DepthwiseNchw16c& a, const Finish& f, __m512 bias, int64_t oy, int64_t ox0, const __m512* acc) {
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const int64_t o = (oy * a.ow + ox0 + r) * kBlock16;
    _mm512_storeu_ps(a.y + o, f.apply(acc[r], bias, a.residual ? a.residual + o : nullptr));
  }
}

// The input row of tap row ky for output row oy, or nullptr in the padding.
inline const float* dw_row(const DepthwiseNchw16c& a, int64_t oy, int64_t ky) {
  const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
  return iy < 0 || iy >= a.H ? nullptr : a.x + iy * a.W * kBlock16;
}

// Pixels [ox0, ox0 + R) of output row oy, taps all inside the image
// (kCheck false) or tested one by one (kCheck true).
template <int R, bool kCheck>
void dw_tile(const DepthwiseNchw16c& a, const Finish& f, __m512 bias, int64_t oy, int64_t ox0) {
  __m512 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const float* row = dw_row(a, oy, ky);
    if (!row) continue;
    for (int64_t kx = 0; kx < a.kw; ++kx) {
      const __m512 wv = _mm512_loadu_ps(a.w + (ky * a.kw + kx) * kBlock16);
      const int64_t ix0 = ox0 * a.sw - a.pw + kx * a.dw;
      for (int r = 0; r < R; ++r) {
        const int64_t ix = ix0 + r * a.sw;
        if (kCheck && (ix < 0 || ix >= a.W)) continue;
        acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(row + ix * kBlock16), wv, acc[r]);
      }
    }
  }
  dw_store<R>(a, f, bias, oy, ox0, acc);
}

// An inner tile of 3x3 / 5x5 taps at stride 1 / 2 without dilation: per
// input row, the (R - 1) * S + KW pixel vectors the tile reads are loaded
// once and each used by every tap column that reads it (the plain tile
// loads R per tap); the same fmas in the same order.
template <int R, int KW, int S>
void dw_tile_window(const DepthwiseNchw16c& a, const Finish& f, __m512 bias, int64_t oy, int64_t ox0) {
  constexpr int kSpan = (R - 1) * S + KW;
  __m512 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const float* row = dw_row(a, oy, ky);
    if (!row) continue;
    row += (ox0 * S - a.pw) * kBlock16;
    __m512 xs[kSpan];
#pragma GCC unroll 24
    for (int j = 0; j < kSpan; ++j) xs[j] = _mm512_loadu_ps(row + j * kBlock16);
    const float* w = a.w + ky * KW * kBlock16;
#pragma GCC unroll 5
    for (int kx = 0; kx < KW; ++kx) {
      const __m512 wv = _mm512_loadu_ps(w + kx * kBlock16);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(xs[r * S + kx], wv, acc[r]);
    }
  }
  dw_store<R>(a, f, bias, oy, ox0, acc);
}

// The windowed tile for a full inner tile of a geometry it has; false otherwise.
bool dw_window(const DepthwiseNchw16c& a, const Finish& f, __m512 bias, int64_t oy, int64_t ox, int64_t n) {
  if (n != kRowTile || a.dw != 1 || a.kw != a.kh) return false;
  const int64_t key = a.kw * 10 + a.sw;
  switch (key) {
    case 31: dw_tile_window<kRowTile, 3, 1>(a, f, bias, oy, ox); return true;
    case 32: dw_tile_window<kRowTile, 3, 2>(a, f, bias, oy, ox); return true;
    case 51: dw_tile_window<kRowTile, 5, 1>(a, f, bias, oy, ox); return true;
    case 52: dw_tile_window<kRowTile, 5, 2>(a, f, bias, oy, ox); return true;
    default: return false;
  }
}

template <bool kCheck>
void dw_tiles(const DepthwiseNchw16c& a, const Finish& f, __m512 bias, int64_t oy, int64_t ox, int64_t n) {
  switch (n) {
    case 8: dw_tile<8, kCheck>(a, f, bias, oy, ox); break;
    case 7: dw_tile<7, kCheck>(a, f, bias, oy, ox); break;
    case 6: dw_tile<6, kCheck>(a, f, bias, oy, ox); break;
    case 5: dw_tile<5, kCheck>(a, f, bias, oy, ox); break;
    case 4: dw_tile<4, kCheck>(a, f, bias, oy, ox); break;
    case 3: dw_tile<3, kCheck>(a, f, bias, oy, ox); break;
    case 2: dw_tile<2, kCheck>(a, f, bias, oy, ox); break;
    case 1: dw_tile<1, kCheck>(a, f, bias, oy, ox); break;
    default: break;
  }
}

// Dense: pixels [ox0, ox0 + R) of row oy x blocks [mb, mb + B); per input
// channel and tap, B weight vectors and R broadcasts of the NCHW image's
// pixels (the stem's 3 channels: no blocked input to read).
template <int R, int B, bool kCheck>
void dense_tile(const DenseNchw16c& a, const Finish& f, int64_t mb, int64_t oy, int64_t ox0) {
  const int64_t K = a.C * a.kh * a.kw;
  __m512 acc[R][B];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int b = 0; b < B; ++b) acc[r][b] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < a.C; ++c) {
    for (int64_t ky = 0; ky < a.kh; ++ky) {
      const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
      if (iy < 0 || iy >= a.H) continue;
      const float* row = a.x + (c * a.H + iy) * a.W;
      for (int64_t kx = 0; kx < a.kw; ++kx) {
        const int64_t k = (c * a.kh + ky) * a.kw + kx, ix0 = ox0 * a.sw - a.pw + kx * a.dw;
        __m512 wv[B];
#pragma GCC unroll 4
        for (int b = 0; b < B; ++b) wv[b] = _mm512_loadu_ps(a.w + ((mb + b) * K + k) * kBlock16);
#pragma GCC unroll 12
        for (int r = 0; r < R; ++r) {
          const int64_t ix = ix0 + r * a.sw;
          if (kCheck && (ix < 0 || ix >= a.W)) continue;
          const __m512 xv = _mm512_set1_ps(row[ix]);
#pragma GCC unroll 4
          for (int b = 0; b < B; ++b) acc[r][b] = _mm512_fmadd_ps(xv, wv[b], acc[r][b]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int b = 0; b < B; ++b) {
    const __m512 bias = _mm512_loadu_ps(a.bias + (mb + b) * kBlock16);
    float* y = a.y + (((mb + b) * a.oh + oy) * a.ow + ox0) * kBlock16;
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) _mm512_storeu_ps(y + r * kBlock16, f.apply(acc[r][b], bias, nullptr));
  }
}

template <int B, bool kCheck>
void dense_tiles(const DenseNchw16c& a, const Finish& f, int64_t mb, int64_t oy, int64_t ox, int64_t n) {
  constexpr int kR = B <= 2 ? 12 : 6;
  for (; n >= kR; n -= kR, ox += kR) dense_tile<kR, B, kCheck>(a, f, mb, oy, ox);
  for (; n > 0; --n, ++ox) dense_tile<1, B, kCheck>(a, f, mb, oy, ox);
}

template <int B>
void dense_rows(const DenseNchw16c& a, const Finish& f, int64_t mb, int64_t left, int64_t right) {
  for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
    dense_tiles<B, true>(a, f, mb, oy, 0, left);
    dense_tiles<B, false>(a, f, mb, oy, left, right - left);
    dense_tiles<B, true>(a, f, mb, oy, right, a.ow - right);
    if (a.post.apply) {
      for (int64_t b = mb; b < mb + B; ++b) a.post.apply(a.post.ctx, a.y + (b * a.oh + oy) * a.ow * kBlock16, a.ow * kBlock16);
    }
  }
}

}  // namespace

void pointwise_nchw16c(const PointwiseNchw16c& a) {
  const Finish f{a.clip, _mm512_set1_ps(a.lo), _mm512_set1_ps(a.hi)};
  // One slice when the whole reduction is short; else slices of kSlice.
  const int64_t slice = a.C <= 2 * kSlice ? a.C : kSlice;
  for (int64_t mb = a.mb0; mb < a.mb1; mb += kBlocks) {
    const int64_t nb = std::min<int64_t>(kBlocks, a.mb1 - mb);
    for (int64_t sp = a.p0; sp < a.p1; sp += kSubRun) {
      PointwiseNchw16c part = a;
      part.p0 = sp;
      part.p1 = std::min(a.p1, sp + kSubRun);
      for (int64_t c0 = 0; c0 < a.C; c0 += slice) {
        const int64_t c1 = std::min(a.C, c0 + slice);
        switch (nb) {
          case 4: pw_blocks<4>(part, f, mb, c0, c1); break;
          case 3: pw_blocks<3>(part, f, mb, c0, c1); break;
          case 2: pw_blocks<2>(part, f, mb, c0, c1); break;
          default: pw_blocks<1>(part, f, mb, c0, c1); break;
        }
      }
      if (a.post.apply) {
        for (int64_t b = mb; b < mb + nb; ++b) {
          a.post.apply(a.post.ctx, a.y + (b * a.P + part.p0) * kBlock16, (part.p1 - part.p0) * kBlock16);
        }
      }
    }
  }
}

void depthwise_nchw16c(const DepthwiseNchw16c& a) {
  const Finish f{a.clip, _mm512_set1_ps(a.lo), _mm512_set1_ps(a.hi)};
  const __m512 bias = _mm512_loadu_ps(a.bias);
  int64_t left, right;
  inner_columns(a.ow, a.sw, a.pw, a.kw, a.dw, a.W, &left, &right);
  for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
    for (int64_t ox = 0; ox < a.ow; ox += kRowTile) {
      const int64_t n = std::min(kRowTile, a.ow - ox);
      if (ox < left || ox + n > right) {
        dw_tiles<true>(a, f, bias, oy, ox, n);
      } else if (!dw_window(a, f, bias, oy, ox, n)) {
        dw_tiles<false>(a, f, bias, oy, ox, n);
      }
    }
    if (a.post.apply) a.post.apply(a.post.ctx, a.y + oy * a.ow * kBlock16, a.ow * kBlock16);
  }
}

void dense_nchw16c(const DenseNchw16c& a) {
  const Finish f{a.clip, _mm512_set1_ps(a.lo), _mm512_set1_ps(a.hi)};
  int64_t left, right;
  inner_columns(a.ow, a.sw, a.pw, a.kw, a.dw, a.W, &left, &right);
  for (int64_t mb = a.mb0; mb < a.mb1;) {
    const int64_t nb = a.mb1 - mb;
    if (nb >= 4) {
      dense_rows<4>(a, f, mb, left, right);
      mb += 4;
    } else if (nb >= 2) {
      dense_rows<2>(a, f, mb, left, right);
      mb += 2;
    } else {
      dense_rows<1>(a, f, mb, left, right);
      mb += 1;
    }
  }
}

void block_mean_f32(const float* x, int64_t blocks, int64_t P, float* means) {
  const __m512 n = _mm512_set1_ps(static_cast<float>(P));
  int64_t b = 0;
  for (; b + 4 <= blocks; b += 4) {  // four independent add chains
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const float* x0 = x + b * P * kBlock16;
    for (int64_t p = 0; p < P; ++p) {
      s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x0 + p * kBlock16));
      s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x0 + (P + p) * kBlock16));
      s2 = _mm512_add_ps(s2, _mm512_loadu_ps(x0 + (2 * P + p) * kBlock16));
      s3 = _mm512_add_ps(s3, _mm512_loadu_ps(x0 + (3 * P + p) * kBlock16));
    }
    _mm512_storeu_ps(means + b * kBlock16, _mm512_div_ps(s0, n));
    _mm512_storeu_ps(means + (b + 1) * kBlock16, _mm512_div_ps(s1, n));
    _mm512_storeu_ps(means + (b + 2) * kBlock16, _mm512_div_ps(s2, n));
    _mm512_storeu_ps(means + (b + 3) * kBlock16, _mm512_div_ps(s3, n));
  }
  for (; b < blocks; ++b) {
    __m512 s = _mm512_setzero_ps();
    for (int64_t p = 0; p < P; ++p) s = _mm512_add_ps(s, _mm512_loadu_ps(x + (b * P + p) * kBlock16));
    _mm512_storeu_ps(means + b * kBlock16, _mm512_div_ps(s, n));
  }
}

void block_scale_f32(const float* x, const float* s, int64_t blocks, int64_t P, float* y) {
  for (int64_t b = 0; b < blocks; ++b) {
    const __m512 sv = _mm512_loadu_ps(s + b * kBlock16);
    const float* xb = x + b * P * kBlock16;
    float* yb = y + b * P * kBlock16;
    for (int64_t p = 0; p < P; ++p) _mm512_storeu_ps(yb + p * kBlock16, _mm512_mul_ps(_mm512_loadu_ps(xb + p * kBlock16), sv));
  }
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
