// nchw16c_f32 dense conv from blocked tensors and the blocked max / average pools,
// AVX-512F tier (contract: kernels/abi/nchw16c_f32.h): the reference's
// operations in its order, so the same bits.
//
// Conv: a register tile of R <= 6 pixels of one output row (a row split in
// even tiles) x B = 4 output
// blocks (24 zmm accumulators); per tap (ky, kx) and input channel c, B
// weight vectors (the packed [MB][taps][C][16] rows, read in order) and one
// broadcast of x[c] per pixel, lane c % 16 of the pixel's line in block
// c / 16 (MLAS's NCHWc direct conv walk: no im2col, no packing of the
// activations). Tiles whose taps reach the padding columns test each pixel
// per tap and skip it as the reference does; padding rows are skipped whole.
// The reduction (k = tap x C + input channel, the reference's order) runs
// in slices of kSlice steps over all of the call's tiles, so that a slice's
// weights stay in L1; the partial sums are stored in y and reloaded (a float
// store and load: the same fma chain, the same bits). A call of several
// images (DenseNchw16c::images) runs each slice over all of them.
// Max and average pools: one pixel at a time, one aligned load and one
// vmaxps / vaddps per tap, then (average) one vdivps by the tap count; the
// window's rows inside the image found once per output row.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "kernels/abi/nchw16c_f32.h"
#include "kernels/x86/avx512/nchw16c_epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512 {
namespace {

// Pixels [ox0, ox0 + R) of output row oy x blocks [mb, mb + B), the
// reduction steps [k0, k1) of k = t * C + c (t = ky * kw + kx): the
// reference's order, sliced.
template <int R, int B, bool kCheck>
void conv_tile(const DenseNchw16c& a, const Finish& f, int64_t mb, int64_t oy, int64_t ox0, int64_t k0, int64_t k1) {
  const int64_t taps = a.kh * a.kw, C = a.C, plane = a.oh * a.ow * kBlock16, in_plane = a.H * a.W * kBlock16;
  const int64_t wstride = taps * C * kBlock16;  // between output blocks
  const int64_t o0 = ((mb * a.oh + oy) * a.ow + ox0) * kBlock16;
  float* y = a.y + o0;
  __m512 acc[R][B];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int b = 0; b < B; ++b) {
      acc[r][b] = k0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(y + b * plane + r * kBlock16);
    }
  }
  const float* w = a.w + mb * taps * C * kBlock16;
  for (int64_t k = k0; k < k1;) {
    const int64_t t = k / C, ky = t / a.kw, kx = t % a.kw, kend = std::min(k1, (t + 1) * C);
    const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
    if (iy < 0 || iy >= a.H) {  // a padding row: its taps skipped
      k = kend;
      continue;
    }
    const int64_t ix0 = ox0 * a.sw - a.pw + kx * a.dw;
    int rl = 0, rh = R;  // pixels whose tap is inside the row: [rl, rh)
    if (kCheck) {
      while (rl < R && ix0 + rl * a.sw < 0) ++rl;
      rh = rl;
      while (rh < R && ix0 + rh * a.sw < a.W) ++rh;
    }
    const float* row = a.x + iy * a.W * kBlock16;
    while (k < kend) {  // runs of one input block
      const int64_t c = k - t * C, cb = c / kBlock16, n = std::min(kend - k, kBlock16 - c % kBlock16);
      const float* xb = row + cb * in_plane + ix0 * kBlock16 + c % kBlock16;
      const float* wk = w + k * kBlock16;
      // The next block's lines of these pixels (a plane apart: more streams
      // than the hardware prefetcher follows).
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(xb + in_plane + r * a.sw * kBlock16), _MM_HINT_T0);
      }
      for (int64_t j = 0; j < n; ++j) {
        __m512 wv[B];
#pragma GCC unroll 4
        for (int b = 0; b < B; ++b) wv[b] = _mm512_loadu_ps(wk + b * wstride + j * kBlock16);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          if (kCheck && (r < rl || r >= rh)) continue;
          const __m512 xv = _mm512_set1_ps(xb[r * a.sw * kBlock16 + j]);
#pragma GCC unroll 4
          for (int b = 0; b < B; ++b) acc[r][b] = _mm512_fmadd_ps(xv, wv[b], acc[r][b]);
        }
      }
      k += n;
    }
  }
  const bool last = k1 == taps * C;
#pragma GCC unroll 4
  for (int b = 0; b < B; ++b) {
    const __m512 bias = _mm512_loadu_ps(a.bias + (mb + b) * kBlock16);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const int64_t o = b * plane + r * kBlock16;
      const __m512 v = last ? f.apply(acc[r][b], bias, a.residual ? a.residual + o0 + o : nullptr) : acc[r][b];
      _mm512_storeu_ps(y + o, v);
    }
  }
}

template <int B, bool kCheck>
void conv_tiles(const DenseNchw16c& a, const Finish& f, int64_t mb, int64_t oy, int64_t ox, int64_t n, int64_t k0,
                int64_t k1) {
  switch (n) {
    case 6: conv_tile<6, B, kCheck>(a, f, mb, oy, ox, k0, k1); break;
    case 5: conv_tile<5, B, kCheck>(a, f, mb, oy, ox, k0, k1); break;
    case 4: conv_tile<4, B, kCheck>(a, f, mb, oy, ox, k0, k1); break;
    case 3: conv_tile<3, B, kCheck>(a, f, mb, oy, ox, k0, k1); break;
    case 2: conv_tile<2, B, kCheck>(a, f, mb, oy, ox, k0, k1); break;
    case 1: conv_tile<1, B, kCheck>(a, f, mb, oy, ox, k0, k1); break;
    default: break;
  }
}

// The width of tile i of a row of ow pixels: ceil(ow / kPixels) tiles as
// even as can be (14 = 5 + 5 + 4, not 6 + 6 + 2: a tile of 1 or 2 pixels
// has too few accumulator chains to cover the fma latency).
inline int64_t tile(int64_t ow, int64_t i) {
  const int64_t tiles = (ow + kPixels - 1) / kPixels, base = ow / tiles;
  return base + (i < ow % tiles ? 1 : 0);
}

// The call's rows of every image for blocks [mb, mb + B): per reduction
// slice (its weights read once for all the call's images), tiles of kPixels
// along each row, the tiles that reach a padding column checked.
template <int B>
void conv_rows(const DenseNchw16c& batch, const Finish& f, int64_t mb, int64_t left, int64_t right) {
  const int64_t K = batch.kh * batch.kw * batch.C, slice = K <= 2 * kSlice ? K : kSlice;
  for (int64_t k0 = 0; k0 < K; k0 += slice) {
    const int64_t k1 = std::min(K, k0 + slice);
    for (int64_t img = 0; img < batch.images; ++img) {
      const DenseNchw16c a = conv_image(batch, img);
      for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
        for (int64_t ox = 0, i = 0; ox < a.ow; ox += tile(a.ow, i++)) {
          const int64_t n = tile(a.ow, i);
          if (ox < left || ox + n > right) {
            conv_tiles<B, true>(a, f, mb, oy, ox, n, k0, k1);
          } else {
            conv_tiles<B, false>(a, f, mb, oy, ox, n, k0, k1);
          }
        }
      }
    }
  }
  if (batch.post.apply) {
    for (int64_t img = 0; img < batch.images; ++img) {
      const DenseNchw16c a = conv_image(batch, img);
      for (int64_t b = mb; b < mb + B; ++b) {
        a.post.apply(a.post.ctx, a.y + (b * a.oh + a.oy0) * a.ow * kBlock16, (a.oy1 - a.oy0) * a.ow * kBlock16);
      }
    }
  }
}

}  // namespace

void conv_nchw16c(const DenseNchw16c& a) {
  const Finish f{a.clip, _mm512_set1_ps(a.lo), _mm512_set1_ps(a.hi)};
  int64_t left, right;
  inner_columns(a.ow, a.sw, a.pw, a.kw, a.dw, a.W, &left, &right);
  for (int64_t mb = a.mb0; mb < a.mb1; mb += kBlocks) {
    switch (std::min<int64_t>(kBlocks, a.mb1 - mb)) {
      case 4: conv_rows<4>(a, f, mb, left, right); break;
      case 3: conv_rows<3>(a, f, mb, left, right); break;
      case 2: conv_rows<2>(a, f, mb, left, right); break;
      default: conv_rows<1>(a, f, mb, left, right); break;
    }
  }
}

// One pool over rows [oy0, oy1): acc = init; per tap inside the image,
// row-major, acc = step(acc, x); y = finish(acc, oy, ox). The window's rows
// inside the image are found once per output row; inner columns of a 3-wide
// window are unrolled (no tests).
template <class Step, class Finish>
void pool_rows(const PoolNchw16c& a, __m512 init, Step step, Finish finish) {
  int64_t left, right;
  inner_columns(a.ow, a.sw, a.pw, a.kw, a.dw, a.W, &left, &right);
  for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
    // The window's rows inside the image: ky in [ky0, ky1) (iy grows with ky).
    int64_t ky0 = 0, ky1 = a.kh;
    while (ky0 < a.kh && oy * a.sh - a.ph + ky0 * a.dh < 0) ++ky0;
    while (ky1 > ky0 && oy * a.sh - a.ph + (ky1 - 1) * a.dh >= a.H) --ky1;
    const float* row0 = a.x + (oy * a.sh - a.ph + ky0 * a.dh) * a.W * kBlock16;
    const int64_t nrows = ky1 - ky0, row_step = a.dh * a.W * kBlock16;
    float* y = a.y + oy * a.ow * kBlock16;
    for (int64_t ox = 0; ox < a.ow; ++ox) {
      const int64_t ix0 = ox * a.sw - a.pw;
      __m512 m = init;
      if (ox >= left && ox < right && a.kw == 3) {  // GoogLeNet's and ResNet's 3x3: unrolled, no tests
        for (int64_t i = 0; i < nrows; ++i) {
          const float* r = row0 + i * row_step + ix0 * kBlock16;
          m = step(m, _mm512_loadu_ps(r));
          m = step(m, _mm512_loadu_ps(r + a.dw * kBlock16));
          m = step(m, _mm512_loadu_ps(r + 2 * a.dw * kBlock16));
        }
      } else {
        for (int64_t i = 0; i < nrows; ++i) {
          for (int64_t kx = 0; kx < a.kw; ++kx) {
            const int64_t ix = ix0 + kx * a.dw;
            if (ix >= 0 && ix < a.W) m = step(m, _mm512_loadu_ps(row0 + i * row_step + ix * kBlock16));
          }
        }
      }
      _mm512_storeu_ps(y + ox * kBlock16, finish(m, oy, ox));
    }
  }
}

void maxpool_nchw16c(const PoolNchw16c& a) {
  pool_rows(a, _mm512_set1_ps(-std::numeric_limits<float>::infinity()),
            [](__m512 m, __m512 x) { return _mm512_max_ps(m, x); }, [](__m512 m, int64_t, int64_t) { return m; });
}

void avgpool_nchw16c(const PoolNchw16c& a) {
  pool_rows(a, _mm512_setzero_ps(), [](__m512 s, __m512 x) { return _mm512_add_ps(s, x); },
            [&a](__m512 s, int64_t oy, int64_t ox) {
              return _mm512_div_ps(s, _mm512_set1_ps(a.count_h[oy] * a.count_w[ox]));
            });
}

}  // namespace avx512
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
