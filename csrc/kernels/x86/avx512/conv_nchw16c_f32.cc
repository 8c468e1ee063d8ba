// nchw16c_f32 dense conv from blocked tensors and the blocked max / average pools,
// AVX-512F tier (contract: kernels/abi/nchw16c_f32.h): the reference's
// operations in its order, so the same bits.
//
// Conv: a register tile of R <= 6 consecutive pixels of the output plane
// (a row split in even tiles; on planes narrower than kWideRow a task's
// rows taken as one run, so a 7 x 7 plane fills the tile) x B = 4
// output blocks (24 zmm accumulators); per tap (ky, kx) and input channel
// c, B weight vectors (the packed [MB][taps][C][16] rows, read in order)
// and one broadcast of x[c] per pixel, lane c % 16 of the pixel's line in
// block c / 16 (MLAS's NCHWc direct conv walk: no im2col, no packing of the
// activations). Each pixel's line is found per tap; a tap that falls in the
// padding for some of the tile's pixels runs masked fmas (their
// accumulators pass through: the reference's skip), for all of them it is
// skipped.
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

// n reduction steps of a tile: per step, B weight vectors (wk, wstride
// floats between blocks) and per pixel r one broadcast of line[r][xo + j];
// kMasked: pixel r's fmas under m[r] (0: its accumulators pass through).
template <int R, int B, bool kMasked>
__attribute__((always_inline)) inline void fma_step(__m512 (&acc)[R][B], const float* const* line,
                                                    const __mmask16* m, int64_t xo, const float* wk,
                                                    int64_t wstride) {
  __m512 wv[B];
#pragma GCC unroll 4
  for (int b = 0; b < B; ++b) wv[b] = _mm512_loadu_ps(wk + b * wstride);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512 xv = _mm512_set1_ps(line[r][xo]);
#pragma GCC unroll 4
    for (int b = 0; b < B; ++b) {
      acc[r][b] = kMasked ? _mm512_mask3_fmadd_ps(xv, wv[b], acc[r][b], m[r]) : _mm512_fmadd_ps(xv, wv[b], acc[r][b]);
    }
  }
}

// The steps four at a time by hand (GCC 12 does not unroll this loop: 4
// scalar ops per 24 fmas), the rest one at a time; the same fmas in order.
template <int R, int B, bool kMasked>
inline void fma_run(__m512 (&acc)[R][B], const float* const* line, const __mmask16* m, int64_t xo,
                    const float* wk, int64_t wstride, int64_t n) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4, wk += 4 * kBlock16) {
    fma_step<R, B, kMasked>(acc, line, m, xo + j, wk, wstride);
    fma_step<R, B, kMasked>(acc, line, m, xo + j + 1, wk + kBlock16, wstride);
    fma_step<R, B, kMasked>(acc, line, m, xo + j + 2, wk + 2 * kBlock16, wstride);
    fma_step<R, B, kMasked>(acc, line, m, xo + j + 3, wk + 3 * kBlock16, wstride);
  }
  for (; j < n; ++j, wk += kBlock16) fma_step<R, B, kMasked>(acc, line, m, xo + j, wk, wstride);
}

// Pixels [p0, p0 + R) of the output plane (p = oy * ow + ox: a tile may
// span rows) x blocks [mb, mb + B), the reduction steps [k0, k1) of
// k = t * C + c (t = ky * kw + kx): the reference's order, sliced. Per tap,
// each pixel's input line (a pixel whose tap falls in the padding reads
// the image's first line, masked off: its accumulators pass through, the
// reference's skip); a tap inside for every pixel runs without masks.
template <int R, int B>
void conv_tile(const DenseNchw16c& a, const Finish& f, int64_t mb, int64_t p0, int64_t k0, int64_t k1) {
  const int64_t taps = a.kh * a.kw, C = a.C, plane = a.oh * a.ow * kBlock16, in_plane = a.H * a.W * kBlock16;
  const int64_t wstride = taps * C * kBlock16;  // between output blocks
  const int64_t o0 = (mb * a.oh * a.ow + p0) * kBlock16;
  float* y = a.y + o0;
  __m512 acc[R][B];
  int64_t iy0[R], ix0[R];  // each pixel's tap (0, 0)
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    iy0[r] = (p0 + r) / a.ow * a.sh - a.ph;
    ix0[r] = (p0 + r) % a.ow * a.sw - a.pw;
#pragma GCC unroll 4
    for (int b = 0; b < B; ++b) {
      acc[r][b] = k0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(y + b * plane + r * kBlock16);
    }
  }
  const float* w = a.w + mb * taps * C * kBlock16;
  for (int64_t k = k0; k < k1;) {
    const int64_t t = k / C, ky = t / a.kw, kx = t % a.kw, kend = std::min(k1, (t + 1) * C);
    const float* line[R];  // the pixel's input line in block 0
    __mmask16 m[R];
    bool all = true, any = false;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const int64_t iy = iy0[r] + ky * a.dh, ix = ix0[r] + kx * a.dw;
      const bool in = iy >= 0 && iy < a.H && ix >= 0 && ix < a.W;
      line[r] = a.x + (in ? (iy * a.W + ix) * kBlock16 : 0);
      m[r] = in ? 0xFFFF : 0;
      all = all && in;
      any = any || in;
    }
    if (!any) {  // the tap in the padding for every pixel: skipped
      k = kend;
      continue;
    }
    while (k < kend) {  // runs of one input block
      const int64_t c = k - t * C, n = std::min(kend - k, kBlock16 - c % kBlock16);
      const int64_t xo = c / kBlock16 * in_plane + c % kBlock16;
      const float* wk = w + k * kBlock16;
      // The next block's lines of these pixels (a plane apart: more streams
      // than the hardware prefetcher follows).
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) _mm_prefetch(reinterpret_cast<const char*>(line[r] + xo + in_plane), _MM_HINT_T0);
      if (all) {
        fma_run<R, B, false>(acc, line, m, xo, wk, wstride, n);
      } else {
        fma_run<R, B, true>(acc, line, m, xo, wk, wstride, n);
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

template <int B>
void conv_tiles(const DenseNchw16c& a, const Finish& f, int64_t mb, int64_t p, int64_t n, int64_t k0, int64_t k1) {
  switch (n) {
    case 6: conv_tile<6, B>(a, f, mb, p, k0, k1); break;
    case 5: conv_tile<5, B>(a, f, mb, p, k0, k1); break;
    case 4: conv_tile<4, B>(a, f, mb, p, k0, k1); break;
    case 3: conv_tile<3, B>(a, f, mb, p, k0, k1); break;
    case 2: conv_tile<2, B>(a, f, mb, p, k0, k1); break;
    case 1: conv_tile<1, B>(a, f, mb, p, k0, k1); break;
    default: break;
  }
}

// The width of tile i of a run of n pixels: ceil(n / kPixels) tiles as
// even as can be (14 = 5 + 5 + 4, not 6 + 6 + 2: a tile of 1 or 2 pixels
// has too few accumulator chains to cover the fma latency).
inline int64_t tile(int64_t n, int64_t i) {
  const int64_t tiles = (n + kPixels - 1) / kPixels, base = n / tiles;
  return base + (i < n % tiles ? 1 : 0);
}

// The call's rows of every image for blocks [mb, mb + B): per reduction
// slice (its weights read once for all the call's images), tiles of kPixels
// along runs of pixels: each row where rows hold kWideRow pixels or more,
// else all of the call's rows as one run (a 7 x 7 plane: 9 tiles of 5-6
// pixels, not 7 rows of 4 + 3; RESULTS.md section 151: ResNet-50's 7 x 7
// stride-2 3x3 ~1.2 -> ~0.85 of the NCHW engine's time, while runs across
// the 14 / 28 / 56 planes' rows measured no gain).
constexpr int64_t kWideRow = 14;

template <int B>
void conv_rows(const DenseNchw16c& batch, const Finish& f, int64_t mb) {
  const int64_t K = batch.kh * batch.kw * batch.C, slice = K <= 2 * kSlice ? K : kSlice;
  const int64_t run = batch.ow >= kWideRow ? batch.ow : (batch.oy1 - batch.oy0) * batch.ow;
  const int64_t p0 = batch.oy0 * batch.ow, pixels = (batch.oy1 - batch.oy0) * batch.ow;
  for (int64_t k0 = 0; k0 < K; k0 += slice) {
    const int64_t k1 = std::min(K, k0 + slice);
    for (int64_t img = 0; img < batch.images; ++img) {
      const DenseNchw16c a = conv_image(batch, img);
      for (int64_t r0 = 0; r0 < pixels; r0 += run) {
        for (int64_t p = 0, i = 0; p < run; p += tile(run, i++)) {
          conv_tiles<B>(a, f, mb, p0 + r0 + p, tile(run, i), k0, k1);
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
  for (int64_t mb = a.mb0; mb < a.mb1; mb += kBlocks) {
    switch (std::min<int64_t>(kBlocks, a.mb1 - mb)) {
      case 4: conv_rows<4>(a, f, mb); break;
      case 3: conv_rows<3>(a, f, mb); break;
      case 2: conv_rows<2>(a, f, mb); break;
      default: conv_rows<1>(a, f, mb); break;
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
