// BF16 channel-blocked dense conv and max pool, AVX-512 with AVX512-BF16:
// contract in kernels/abi/nchw16c_bf16.h.
//
// Conv: a register tile of up to 6 pixels x 4 output blocks (24 zmm
// accumulators), after the FP32 blocked conv's tile
// (x86/avx512/conv_nchw16c_f32.cc) with VDPBF16PS for its FMA. Per tap
// (row-major) and input block, each pixel's line is found once; per
// channel pair one 64-byte weight load per output block ([MB][taps][QP]
// [16][2], packed once by the layer) and per pixel the pair's 32-bit word
// broadcast, one VDPBF16PS per accumulator: taps row-major, pairs
// ascending (k' = tap * Ce + c, the direct BF16 GEMM's order), so the NCHW
// BF16 conv's bits. A pixel whose tap falls outside the image has its
// accumulators masked off for that tap (the reference's skip, exact for
// any weights); window rows outside are skipped. No im2col, no packing of
// activations, no scratch (but for the odd-channel stems below).
// Tiles: each output row split evenly (14 = 5 + 5 + 4, 56 = 6 x 6 + 5 x
// 4); on planes narrower than kFlatBelow (the 14 x 14 and 7 x 7 stages)
// the task's pixels in plane order, tiles across rows (7 x 7 = 9 tiles of
// 5-6 pixels, not 7 rows of 4 + 3: each pass of a block group's weights
// through the registers serves more pixels, the FP32 blocked conv's trick;
// RESULTS.md sections 151 / 157); there, where the edge columns read
// padding (a 3x3 of pad 1 at 14 x 14 / 7 x 7), each row's inner columns
// are row tiles (7 x 7: 5 pixels) and each edge column is tiled down the
// rows, so a tap in the padding is skipped for the whole tile rather than
// masked pixel by pixel (7 x 7: 369 of 441 pixel-taps left, 361 inside the
// image; RESULTS.md section 246). A tile inside one row whose taps' columns
// are all inside takes the pixels' lines unchecked (conv_tile); any other
// (row edges, across rows, down a column) finds each pixel's line per tap
// and masks (conv_cross_tile). While a group's tiles run, the next
// group's weights are prefetched to L2, a few lines per step (WeightAhead),
// and row tiles of a task's first group prefetch the input rows the next
// output row adds (rows_ahead).
// Stems of an odd channel count (3: an image) on planes 16+ wide pair
// channel-taps along the kernel row instead (conv_row_pairs: ResNet's 7x7
// stem 11 pairs a window row, not 14; another summation order, bounded;
// RESULTS.md section 253).
// A group whose last block has 8 live lanes or fewer (24 or 40 channels,
// 8, 17) takes that block's products on lanes 0-7 only, the 256-bit
// VDPBF16PS (dpbf16_low8: the same sums, lane by lane; PP-OCR det's 3x3
// 96 -> 24 at 80 x 80 x0.75; RESULTS.md section 266).
// Then bias, the BF16 residual, the clip and VCVTNEPS2BF16 (the shared
// epilogue, nchw16c_bf16_epilogue.h).
// Max pool: 8 output pixels of a row per step, one zmm each (8 independent
// chains), VMAXPS(m, x) = m > x ? m : x over the taps inside the image,
// from -inf; the BF16 store is exact. The rows the next output row adds
// are prefetched while a row runs.
//
// Compiled twice from this text (kernels/x86/emulation/avx512.h): natively
// in the library (namespace avx512bf16) and, for tests, against the
// emulation header (namespace emulated::avx512bf16).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/avx512bf16/nchw16c_bf16_epilogue.h"
#include "kernels/x86/avx512bf16/stem_f32_bf16.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {
namespace {

constexpr int kPixels = 6, kBlocks = 4;  // the conv's register tile
constexpr int64_t kFlatBelow = 16;       // output widths whose tiles run across rows
// ... or, with padded edge columns, by rows and columns where the inner
// columns' row tiles hold this many pixels at least (3x3/2 256 @14, 13
// inner columns in tiles of 5 + 4 + 4, ran x1.00-1.035 by rows and columns)
constexpr int64_t kMinInner = 5;
constexpr int kPoolPixels = 8;           // the max pool's output pixels per step
alignas(64) const uint16_t kZeroLine[16] = {};  // what a masked-off pixel reads (its products unused)

// The next block group's weights brought to L2 while this group's tiles
// run: each tile takes its share of the group's lines, a few per
// (tap, input block) step, so the stream is spread over the tile's
// products (at batch 1 a group's weights come from memory once; the 7 x 7
// stage's 4.7 MB per conv do not fit L2).
struct WeightAhead {
  const char* at = nullptr;
  const char* end = nullptr;
  int64_t per_step = 0;  // lines per step
  inline void step() {
    for (int64_t k = 0; k < per_step && at < end; ++k, at += 64) __builtin_prefetch(at, 0, 2);
  }
};

// VDPBF16PS on lanes 0-7 only (its 256-bit form; lanes 8-15 of the result
// unused): a block whose live lanes are 8 or fewer (24 channels' second
// block). Zen 4 runs two of these a cycle against one of the 512-bit form.
inline __m512 dpbf16_low8(__m512 acc, __m512bh x, __m512bh w) {
  return _mm512_castps256_ps512(_mm256_dpbf16_ps(_mm512_castps512_ps256(acc),
                                                 (__m256bh)_mm512_castsi512_si256((__m512i)x),
                                                 (__m256bh)_mm512_castsi512_si256((__m512i)w)));
}

// The pairs [q0, q0 + n) of one tap and input block into the tile: per pair
// NB weight vectors, per pixel the pair's word px[i][2q] broadcast; with
// kMasked, pixel i's accumulators change only where keep[i] (0 or all): the
// product, then a blend; with kHalf, the last block's products on lanes
// 0-7 (dpbf16_low8). Not _mm512_mask_dpbf16_ps: GCC (12.2 here, still in
// 16.1) moves its __mmask16 with KMOVB when AVX512DQ is on, so lanes 8-15
// act as masked off whatever the mask says (RESULTS.md section 250).
template <int NB, int NP, bool kMasked, bool kHalf = false>
inline void pair_steps(__m512 (&acc)[NB][NP], const uint16_t* const (&px)[NP], const uint16_t* w, int64_t block_w,
                       int64_t n, const __mmask16 (&keep)[NP]) {
  for (int64_t q = 0; q < n; ++q) {
    __m512bh wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = (__m512bh)_mm512_loadu_si512(w + j * block_w + q * 32);
#pragma GCC unroll 6
    for (int i = 0; i < NP; ++i) {
      int32_t pair;
      std::memcpy(&pair, px[i] + 2 * q, 4);
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(pair);
      for (int j = 0; j < NB; ++j) {
        const __m512 sum = kHalf && j == NB - 1 ? dpbf16_low8(acc[j][i], xv, wv[j])
                                                : _mm512_dpbf16_ps(acc[j][i], xv, wv[j]);
        acc[j][i] = kMasked ? _mm512_mask_blend_ps(keep[i], acc[j][i], sum) : sum;
      }
    }
  }
}

// A tile's accumulators, NB output blocks x NP pixels, at +0.
template <int NB, int NP>
inline void zero_tile(__m512 (&acc)[NB][NP]) {
  for (int j = 0; j < NB; ++j) {
    for (int i = 0; i < NP; ++i) acc[j][i] = _mm512_setzero_ps();
  }
}

// Bias and the shared epilogue of the tile's pixels p0 + i * pstep (plane
// positions, i < NP) of output blocks mb .. mb + NB - 1.
template <int NB, int NP>
inline void store_tile(const ConvBf16x16c& a, int64_t mb, int64_t p0, __m512 (&acc)[NB][NP], int64_t pstep = 1) {
  const __m512 lo = _mm512_set1_ps(a.lo), hi = _mm512_set1_ps(a.hi);
  if (a.act.fn) {  // the tile's values through the fused activation, one call (acc's address never taken)
    float buf[NB * NP * 16];
    for (int j = 0; j < NB; ++j) {
      const __m512 b = a.bias ? _mm512_loadu_ps(a.bias + (mb + j) * 16) : _mm512_setzero_ps();
      for (int i = 0; i < NP; ++i) _mm512_storeu_ps(buf + (j * NP + i) * 16, _mm512_add_ps(acc[j][i], b));
    }
    a.act.fn(a.act.ctx, buf, NB * NP * 16);
    for (int j = 0; j < NB; ++j) {
      const __mmask16 keep = lanes_kept(a.M - (mb + j) * 16);
      for (int i = 0; i < NP; ++i) {
        const int64_t at = ((mb + j) * a.oh * a.ow + p0 + i * pstep) * 16;
        finish(_mm512_loadu_ps(buf + (j * NP + i) * 16), nullptr, false, lo, hi, keep, a.y + at);
      }
    }
    return;
  }
  for (int j = 0; j < NB; ++j) {
    const __mmask16 keep = lanes_kept(a.M - (mb + j) * 16);
    const __m512 b = a.bias ? _mm512_loadu_ps(a.bias + (mb + j) * 16) : _mm512_setzero_ps();
    for (int i = 0; i < NP; ++i) {
      const int64_t at = ((mb + j) * a.oh * a.ow + p0 + i * pstep) * 16;
      const __m512 v = a.bias ? _mm512_add_ps(acc[j][i], b) : acc[j][i];
      finish(v, a.residual ? a.residual + at : nullptr, a.clip, lo, hi, keep, a.y + at);
    }
  }
}

// NP pixels of output row oy from column ox, every tap's column inside the
// row (conv_run sends the others to conv_cross_tile): the pixels' lines
// without checks.
template <int NB, int NP, bool kHalf>
void conv_tile(const ConvBf16x16c& a, int64_t mb, int64_t oy, int64_t ox, WeightAhead& ahead) {
  const int64_t QP = (a.C + 1) / 2, taps = a.kh * a.kw, plane = a.H * a.W * 16;
  const int64_t block_w = taps * QP * 32;  // one output block's packed weights
  const __mmask16 all[NP] = {};             // unused: no masks here
  __m512 acc[NB][NP];
  zero_tile(acc);
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
    if (iy < 0 || iy >= a.H) continue;
    const uint16_t* row = a.x + iy * a.W * 16;
    for (int64_t kx = 0; kx < a.kw; ++kx) {
      const int64_t ix0 = ox * a.sw - a.pw + kx * a.dw;
      const uint16_t* w_tap = a.w + (mb * taps + ky * a.kw + kx) * QP * 32;
      for (int64_t q0 = 0; q0 < QP; q0 += 8) {
        const uint16_t* block = row + (q0 / 8) * plane;
        const uint16_t* px[NP];
        for (int i = 0; i < NP; ++i) px[i] = block + (ix0 + i * a.sw) * 16;
        pair_steps<NB, NP, false, kHalf>(acc, px, w_tap + q0 * 32, block_w, std::min<int64_t>(8, QP - q0), all);
        ahead.step();
      }
    }
  }
  store_tile<NB, NP>(a, mb, oy * a.ow + ox, acc);
}

// conv_tile for one input block (C <= 16: the stems, 2 pairs a tap for 3
// channels): per window row the pixels' lines once, then one step along
// the row per tap (the per-tap set-up cost as much as the tap's products).
template <int NB, int NP, bool kHalf>
void conv_tile_narrow(const ConvBf16x16c& a, int64_t mb, int64_t oy, int64_t ox, WeightAhead& ahead) {
  const int64_t QP = (a.C + 1) / 2, taps = a.kh * a.kw, step = a.dw * 16;
  const int64_t block_w = taps * QP * 32;
  const __mmask16 all[NP] = {};  // unused: no masks here
  __m512 acc[NB][NP];
  zero_tile(acc);
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
    if (iy < 0 || iy >= a.H) continue;
    const uint16_t* px[NP];
    for (int i = 0; i < NP; ++i) px[i] = a.x + (iy * a.W + (ox + i) * a.sw - a.pw) * 16;
    const uint16_t* w_tap = a.w + (mb * taps + ky * a.kw) * QP * 32;
    for (int64_t kx = 0; kx < a.kw; ++kx, w_tap += QP * 32) {
      if (QP == 2) {  // 3 or 4 channels (an image): the pair loop unrolled
        pair_steps<NB, NP, false, kHalf>(acc, px, w_tap, block_w, 2, all);
      } else {
        pair_steps<NB, NP, false, kHalf>(acc, px, w_tap, block_w, QP, all);
      }
      ahead.step();
      for (int i = 0; i < NP; ++i) px[i] += step;
    }
  }
  store_tile<NB, NP>(a, mb, oy * a.ow + ox, acc);
}

// NP pixels at plane positions p0 + i * pstep (across rows, or down a
// column): per tap each pixel's line, a pixel whose tap falls outside the
// image masked off (its accumulators keep their value, as the reference
// skips the tap); a tap outside for every pixel is skipped.
template <int NB, int NP, bool kHalf>
void conv_cross_tile(const ConvBf16x16c& a, int64_t mb, int64_t p0, WeightAhead& ahead, int64_t pstep = 1) {
  const int64_t QP = (a.C + 1) / 2, taps = a.kh * a.kw, plane = a.H * a.W * 16;
  const int64_t block_w = taps * QP * 32;
  int64_t iy0[NP], ix0[NP];
  for (int i = 0; i < NP; ++i) {
    const int64_t p = p0 + i * pstep, oy = p / a.ow;
    iy0[i] = oy * a.sh - a.ph;
    ix0[i] = (p - oy * a.ow) * a.sw - a.pw;
  }
  __m512 acc[NB][NP];
  zero_tile(acc);
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    for (int64_t kx = 0; kx < a.kw; ++kx) {
      int64_t line[NP];
      __mmask16 keep[NP];
      bool any = false, every = true;
      for (int i = 0; i < NP; ++i) {
        const int64_t iy = iy0[i] + ky * a.dh, ix = ix0[i] + kx * a.dw;
        const bool inside = iy >= 0 && iy < a.H && ix >= 0 && ix < a.W;
        line[i] = inside ? (iy * a.W + ix) * 16 : -1;
        keep[i] = inside ? 0xFFFF : 0;
        any |= inside;
        every &= inside;
      }
      if (!any) continue;
      const uint16_t* w_tap = a.w + (mb * taps + ky * a.kw + kx) * QP * 32;
      for (int64_t q0 = 0; q0 < QP; q0 += 8) {
        const uint16_t* block = a.x + (q0 / 8) * plane;
        const uint16_t* px[NP];
        for (int i = 0; i < NP; ++i) px[i] = line[i] >= 0 ? block + line[i] : kZeroLine;
        const int64_t n = std::min<int64_t>(8, QP - q0);
        if (every) {
          pair_steps<NB, NP, false, kHalf>(acc, px, w_tap + q0 * 32, block_w, n, keep);
        } else {
          pair_steps<NB, NP, true, kHalf>(acc, px, w_tap + q0 * 32, block_w, n, keep);
        }
        ahead.step();
      }
    }
  }
  store_tile<NB, NP>(a, mb, p0, acc, pstep);
}

// n pixels from plane position p (in one row: the row tile).
template <int NB, int NP, bool kHalf>
void conv_run(const ConvBf16x16c& a, int64_t mb, int64_t p, WeightAhead& ahead) {
  const int64_t oy = p / a.ow, ox = p - oy * a.ow;
  const int64_t first = ox * a.sw - a.pw, last = (ox + NP - 1) * a.sw - a.pw + (a.kw - 1) * a.dw;
  if (ox + NP <= a.ow && first >= 0 && last < a.W && a.C <= 16) {  // one row, every tap's column inside
    conv_tile_narrow<NB, NP, kHalf>(a, mb, oy, ox, ahead);
  } else if (ox + NP <= a.ow && first >= 0 && last < a.W) {
    conv_tile<NB, NP, kHalf>(a, mb, oy, ox, ahead);
  } else {
    conv_cross_tile<NB, NP, kHalf>(a, mb, p, ahead);
  }
}

// n pixels (1 .. kPixels) from plane position p in one row, or
// (column) down a column from p, one row apart.
template <int NB, bool kHalf, int NP = 1>
void conv_pixels(const ConvBf16x16c& a, int64_t mb, int64_t p, int64_t n, bool column, WeightAhead& ahead) {
  if constexpr (NP < kPixels) {
    if (n > NP) return conv_pixels<NB, kHalf, NP + 1>(a, mb, p, n, column, ahead);
  }
  if (column) {
    conv_cross_tile<NB, NP, kHalf>(a, mb, p, ahead, a.ow);
  } else {
    conv_run<NB, NP, kHalf>(a, mb, p, ahead);
  }
}

// conv_pixels, the group's last block on lanes 0-7 where no lane past 7 is live.
template <int NB>
void conv_pixels_of(const ConvBf16x16c& a, int64_t mb, int64_t p, int64_t n, bool column, WeightAhead& ahead) {
  if (a.M - (mb + NB - 1) * 16 <= 8) {
    conv_pixels<NB, true>(a, mb, p, n, column, ahead);
  } else {
    conv_pixels<NB, false>(a, mb, p, n, column, ahead);
  }
}

// NP output pixels of row oy, NP independent VMAXPS chains (one output's
// chain of kh * kw dependent maxima alone leaves the pipes idle), every
// chain over its own taps inside the image in row-major order.
template <int NP>
void maxpool_pixels(const MaxPoolBf16x16c& a, int64_t oy, int64_t ox, __mmask16 keep) {
  __m512 m[NP];
  for (int i = 0; i < NP; ++i) m[i] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
    if (iy < 0 || iy >= a.H) continue;
    const uint16_t* row = a.x + iy * a.W * 16;
    for (int64_t kx = 0; kx < a.kw; ++kx) {
      const int64_t ix0 = ox * a.sw - a.pw + kx * a.dw;
#pragma GCC unroll 8
      for (int i = 0; i < NP; ++i) {
        const int64_t ix = ix0 + i * a.sw;
        if (ix >= 0 && ix < a.W) m[i] = _mm512_max_ps(m[i], load16(row + ix * 16));
      }
    }
  }
  for (int i = 0; i < NP; ++i) finish(m[i], nullptr, false, m[i], m[i], keep, a.y + (oy * a.ow + ox + i) * 16);
}

// f(offset, n) over [0, len) in tiles of at most kPixels, as even as can
// be (the first len % tiles one pixel longer: 14 = 5 + 5 + 4).
template <typename F>
inline void evenly(int64_t len, F&& f) {
  const int64_t tiles = (len + kPixels - 1) / kPixels;
  if (tiles == 0) return;
  const int64_t base = len / tiles, longer = len % tiles;
  for (int64_t t = 0, off = 0; t < tiles; ++t) {
    const int64_t n = base + (t < longer);
    f(off, n);
    off += n;
  }
}

// n pixels of nb output blocks from mb: a row run from plane position p, or
// (column) down a column from p.
inline void group_tile(const ConvBf16x16c& a, int64_t nb, int64_t mb, int64_t p, int64_t n, bool column,
                       WeightAhead& ahead) {
  switch (nb) {
    case 1: conv_pixels_of<1>(a, mb, p, n, column, ahead); break;
    case 2: conv_pixels_of<2>(a, mb, p, n, column, ahead); break;
    case 3: conv_pixels_of<3>(a, mb, p, n, column, ahead); break;
    default: conv_pixels_of<kBlocks>(a, mb, p, n, column, ahead); break;
  }
}


// ---- Stems of an odd channel count: channel-tap pairs along the kernel row.
// A window row of a one-block conv of C odd channels holds kw * C values;
// by (tap, channel pair) it costs kw * QP pairs, each tap's last pair half
// the padded lane's zero (ResNet's 7x7 stem of 3 channels: 14 pairs, 7 of
// them half zero). Read from a copy of the rows packed [ix][c] (C values a
// pixel, no padded lane), the row's kw * C values are contiguous for an
// output pixel whose taps' columns are all inside, so it takes ceil(kw * C
// / 2) pairs (11 for the stem: x0.79 of the VDPBF16PS). Order: per window
// row inside the image (ky ascending), pairs k = 2q, 2q + 1 ascending over
// k = kx * C + c; an odd row's last value alone (its word's second half
// zero, not the next pixel's value: 0 * inf cannot enter). The same
// BF16 products as the reference's order, summed in another order (the
// FP32 sums differ by at most 2 (K + 2) 2^-24 S, S = sum |x w| over the K
// products: the AMX tap-row order's bound, abi/nchw16c_bf16.h).
// Pixels whose taps reach a padded column (2 + 1 of the stem's 112 a row)
// keep the tap-major tiles above, so a padded tap is skipped as there.
// Per call: the task's input rows packed into this thread's scratch and
// the task's weight blocks repacked [MB][kh][QR][16][2] (QR = ceil(kw C /
// 2); the pair's second weight 0 past kw * C).
bool row_pairs(const ConvBf16x16c& a) {
  const int64_t QP = (a.C + 1) / 2, QR = (a.kw * a.C + 1) / 2;
  return a.C % 2 == 1 && a.C < 16 && a.dw == 1 && a.ow >= kFlatBelow && QR * 5 <= a.kw * QP * 4;
}

struct RowPairs {
  const uint16_t* rows = nullptr;  // packed input rows [iy - iy0][W * C + slack]
  const uint16_t* w = nullptr;     // [mb - mb0][kh][QR][16][2]
  int64_t iy0 = 0, stride = 0, QR = 0;
};

// NP pixels of output row oy from column ox (every tap's column inside) of
// output blocks mb .. mb + NB - 1. Not inlined into conv_row_pairs: there
// GCC called pair_steps out of line, its accumulators in memory (x2 time).
template <int NB, int NP>
[[gnu::noinline]] void row_pairs_tile(const ConvBf16x16c& a, const RowPairs& r, int64_t mb, int64_t oy, int64_t ox) {
  const int64_t odd = (a.kw * a.C) % 2, full = r.QR - odd, block_w = a.kh * r.QR * 32;
  const __mmask16 all[NP] = {};  // unused: no masks here
  __m512 acc[NB][NP];
  zero_tile(acc);
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
    if (iy < 0 || iy >= a.H) continue;
    const uint16_t* px[NP];
    for (int i = 0; i < NP; ++i) px[i] = r.rows + (iy - r.iy0) * r.stride + ((ox + i) * a.sw - a.pw) * a.C;
    const uint16_t* w_row = r.w + ((mb - a.mb0) * a.kh + ky) * r.QR * 32;
    pair_steps<NB, NP, false>(acc, px, w_row, block_w, full, all);
    if (odd) {  // the row's last value alone
      __m512bh wv[NB];
      for (int j = 0; j < NB; ++j) wv[j] = (__m512bh)_mm512_loadu_si512(w_row + j * block_w + full * 32);
      for (int i = 0; i < NP; ++i) {
        const __m512bh xv = (__m512bh)_mm512_set1_epi32(px[i][2 * full]);
        for (int j = 0; j < NB; ++j) acc[j][i] = _mm512_dpbf16_ps(acc[j][i], xv, wv[j]);
      }
    }
  }
  store_tile<NB, NP>(a, mb, oy * a.ow + ox, acc);
}

template <int NB>
void row_pairs_pixels(const ConvBf16x16c& a, const RowPairs& r, int64_t mb, int64_t oy, int64_t ox, int64_t n) {
  switch (n) {
    case 1: row_pairs_tile<NB, 1>(a, r, mb, oy, ox); break;
    case 2: row_pairs_tile<NB, 2>(a, r, mb, oy, ox); break;
    case 3: row_pairs_tile<NB, 3>(a, r, mb, oy, ox); break;
    case 4: row_pairs_tile<NB, 4>(a, r, mb, oy, ox); break;
    case 5: row_pairs_tile<NB, 5>(a, r, mb, oy, ox); break;
    default: row_pairs_tile<NB, kPixels>(a, r, mb, oy, ox); break;
  }
}

void conv_row_pairs(const ConvBf16x16c& a) {
  const int64_t C = a.C, QP = (C + 1) / 2, QR = (a.kw * C + 1) / 2, taps = a.kh * a.kw;
  // inner columns [cx0, cx1): every tap's column inside
  const int64_t cx0 = std::min(a.ow, (a.pw + a.sw - 1) / a.sw);
  const int64_t last = a.W - 1 + a.pw - (a.kw - 1);
  const int64_t cx1 = last < 0 ? cx0 : std::max(cx0, std::min(a.ow, last / a.sw + 1));
  const int64_t iy0 = std::max<int64_t>(0, a.oy0 * a.sh - a.ph);
  const int64_t iy1 = std::min(a.H, (a.oy1 - 1) * a.sh - a.ph + (a.kh - 1) * a.dh + 1);
  thread_local std::vector<uint16_t> rows, wr;
  RowPairs r;
  r.iy0 = iy0;
  r.stride = a.W * C + 1;  // + the last pixel's padded lane (3 channels: 4 values copied)
  r.QR = QR;
  rows.resize(static_cast<size_t>(std::max<int64_t>(0, iy1 - iy0) * r.stride));
  for (int64_t iy = iy0; iy < iy1; ++iy) {
    const uint16_t* src = a.x + iy * a.W * 16;
    uint16_t* dst = rows.data() + (iy - iy0) * r.stride;
    if (C == 3) {  // lanes 0-3 (lane 3 +0), the next pixel's copy overwriting lane 3
      for (int64_t ix = 0; ix < a.W; ++ix) std::memcpy(dst + ix * 3, src + ix * 16, 8);
    } else {
      for (int64_t ix = 0; ix < a.W; ++ix) {
        for (int64_t c = 0; c < C; ++c) dst[ix * C + c] = src[ix * 16 + c];
      }
    }
  }
  wr.assign(static_cast<size_t>((a.mb1 - a.mb0) * a.kh * QR * 32), 0);
  for (int64_t mb = a.mb0; mb < a.mb1; ++mb) {
    for (int64_t ky = 0; ky < a.kh; ++ky) {
      for (int64_t k = 0; k < a.kw * C; ++k) {
        const int64_t kx = k / C, c = k % C;
        const uint16_t* from = a.w + ((mb * taps + ky * a.kw + kx) * QP + c / 2) * 32 + c % 2;
        uint16_t* to = wr.data() + (((mb - a.mb0) * a.kh + ky) * QR + k / 2) * 32 + k % 2;
        for (int64_t l = 0; l < 16; ++l) to[l * 2] = from[l * 2];
      }
    }
  }
  r.rows = rows.data();
  r.w = wr.data();
  WeightAhead none;  // the edge tiles' (every block's weights are in the call)
  for (int64_t mb = a.mb0; mb < a.mb1; mb += kBlocks) {
    const int64_t nb = std::min<int64_t>(kBlocks, a.mb1 - mb);
    for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
      for (int64_t ox = 0; ox < cx0; ++ox) group_tile(a, nb, mb, oy * a.ow + ox, 1, false, none);
      evenly(cx1 - cx0, [&](int64_t off, int64_t n) {
        switch (nb) {
          case 1: row_pairs_pixels<1>(a, r, mb, oy, cx0 + off, n); break;
          case 2: row_pairs_pixels<2>(a, r, mb, oy, cx0 + off, n); break;
          case 3: row_pairs_pixels<3>(a, r, mb, oy, cx0 + off, n); break;
          default: row_pairs_pixels<kBlocks>(a, r, mb, oy, cx0 + off, n); break;
        }
      });
      for (int64_t ox = cx1; ox < a.ow; ++ox) group_tile(a, nb, mb, oy * a.ow + ox, 1, false, none);
    }
  }
}

}  // namespace

// Row tiles: the input rows that output row oy + 1 adds to oy's window,
// the columns of pixels [ox, ox + n), every input block, prefetched (at
// batch 8 the stem and the 56 x 56 convs read their input from memory).
void rows_ahead(const ConvBf16x16c& a, int64_t oy, int64_t ox, int64_t n) {
  const int64_t last_now = oy * a.sh - a.ph + (a.kh - 1) * a.dh, plane = a.H * a.W * 16;
  const int64_t c0 = std::max<int64_t>(0, ox * a.sw - a.pw);
  const int64_t c1 = std::min(a.W, (ox + n - 1) * a.sw - a.pw + (a.kw - 1) * a.dw + 1);
  for (int64_t ky = a.kh - 1; ky >= 0; --ky) {
    const int64_t iy = (oy + 1) * a.sh - a.ph + ky * a.dh;
    if (iy <= last_now) break;
    if (iy >= a.H) continue;
    for (int64_t cb = 0; cb * 16 < a.C; ++cb) {
      const char* line = reinterpret_cast<const char*>(a.x + cb * plane + (iy * a.W + c0) * 16);
      for (int64_t at = 0; at < (c1 - c0) * 32; at += 64) __builtin_prefetch(line + at);
    }
  }
}

void conv_bf16x16c(const ConvBf16x16c& a) {
  if (a.xf) return conv_bf16x16c_f32(a);  // a stem from the float image (conv_stem_f32_bf16.cc)
  if (row_pairs(a)) {
    conv_row_pairs(a);
    return;
  }
  // Runs of pixels tiled evenly: each output row, or (narrow planes) the
  // task's rows as one run in plane order; or, on narrow planes whose edge
  // columns read padding, each row's inner columns [cx0, cx1) (every tap
  // inside: row tiles) and each edge column down the task's rows (column
  // tiles, whose padded taps are skipped for the whole tile).
  const bool flat = a.ow < kFlatBelow;
  const int64_t rows = a.oy1 - a.oy0;
  const int64_t cx0 = std::min(a.ow, (a.pw + a.sw - 1) / a.sw);
  const int64_t last = a.W - 1 + a.pw - (a.kw - 1) * a.dw;  // ox * sw at most this: the last tap inside
  const int64_t cx1 = last < 0 ? cx0 : std::max(cx0, std::min(a.ow, last / a.sw + 1));
  const int64_t inner = cx1 - cx0, inner_tiles = (inner + kPixels - 1) / kPixels;
  const bool columns = flat && (cx0 > 0 || cx1 < a.ow) && inner >= kMinInner && inner / inner_tiles >= kMinInner;
  const int64_t run = columns ? cx1 - cx0 : flat ? rows * a.ow : a.ow;
  const int64_t tiles = (run + kPixels - 1) / kPixels;
  const int64_t MB = (a.M + 15) / 16, QP = (a.C + 1) / 2, block_bytes = a.kh * a.kw * QP * 64;
  const int64_t group_tiles = columns ? rows * tiles + (a.ow - run) * ((rows + kPixels - 1) / kPixels)
                                      : tiles * rows * a.ow / run;  // tiles per pass of a group
  const int64_t steps = a.kh * a.kw * ((QP + 7) / 8);                  // (tap, input block) steps per tile
  for (int64_t mb = a.mb0; mb < a.mb1; mb += kBlocks) {
    const int64_t nb = std::min<int64_t>(kBlocks, a.mb1 - mb);
    // the group after this one (the next task's, past mb1), up to the last block
    const int64_t next = std::min(MB, mb + kBlocks), next_end = std::min(MB, next + kBlocks);
    const int64_t lines = (next_end - next) * block_bytes / 64;
    WeightAhead ahead;
    ahead.at = reinterpret_cast<const char*>(a.w) + next * block_bytes;
    ahead.end = ahead.at + lines * 64;
    ahead.per_step = (lines + group_tiles * steps - 1) / (group_tiles * steps);
    if (columns) {
      for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
        evenly(run, [&](int64_t off, int64_t n) { group_tile(a, nb, mb, oy * a.ow + cx0 + off, n, false, ahead); });
      }
      for (int64_t ox = cx0 > 0 ? 0 : cx1; ox < a.ow; ox = ox + 1 == cx0 ? cx1 : ox + 1) {
        evenly(rows, [&](int64_t off, int64_t n) { group_tile(a, nb, mb, (a.oy0 + off) * a.ow + ox, n, true, ahead); });
      }
      continue;
    }
    for (int64_t r0 = a.oy0 * a.ow; r0 < a.oy1 * a.ow; r0 += run) {
      evenly(run, [&](int64_t off, int64_t n) {
        if (!flat && mb == a.mb0) rows_ahead(a, r0 / a.ow, off, n);
        group_tile(a, nb, mb, r0 + off, n, false, ahead);
      });
    }
  }
}

void maxpool_bf16x16c(const MaxPoolBf16x16c& a) {
  const __mmask16 keep = lanes_kept(a.lanes);
  for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
    // The input rows the next output row adds (its window's last sh rows),
    // prefetched step by step over the columns this step reads: at batch 8
    // ResNet's pool reads the stem's output from memory.
    const int64_t new_last = (oy + 1) * a.sh - a.ph + (a.kh - 1) * a.dh;
    const int64_t new_first = std::max<int64_t>(0, new_last - a.sh + 1);
    int64_t ox = 0;
    for (; ox + kPoolPixels <= a.ow; ox += kPoolPixels) {
      const int64_t c0 = std::max<int64_t>(0, ox * a.sw - a.pw);
      const int64_t c1 = std::min(a.W, (ox + kPoolPixels) * a.sw - a.pw + (a.kw - 1) * a.dw);
      for (int64_t iy = new_first; iy <= new_last && iy < a.H; ++iy) {
        const char* line = reinterpret_cast<const char*>(a.x + (iy * a.W + c0) * 16);
        for (int64_t at = 0; at < (c1 - c0) * 32; at += 64) __builtin_prefetch(line + at);
      }
      maxpool_pixels<kPoolPixels>(a, oy, ox, keep);
    }
    for (; ox < a.ow; ++ox) maxpool_pixels<1>(a, oy, ox, keep);
  }
}

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
