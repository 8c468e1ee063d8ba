// BF16 channel-blocked kernels, AVX-512 with AVX512-BF16: contract in
// kernels/abi/nchw16c_bf16.h.
//
// Pointwise: a register tile of up to 8 pixels x 2 output blocks (16 zmm
// accumulators; 6 pixels x 4 blocks, 24, where the reduction has 128
// channels or more); per input channel pair one 64-byte weight load per
// block and, per pixel, the pair's 32-bit word broadcast (the two channels
// are adjacent in a blocked line; a block's 8 pairs at constant offsets),
// one VDPBF16PS per accumulator: pairs ascending from 0, as the BF16 GEMM's
// tile does, so the same bits. Then bias, the BF16 residual (widened
// exactly), the clip (VMAXPS / VMINPS) and VCVTNEPS2BF16. Calls that read
// their input once on large planes prefetch it ahead (RESULTS.md section 156).
// Depthwise: straight from the BF16 rows (no copy: each tap's 16 inputs
// widened as they are loaded, +0 outside the image; steps whose taps all
// fall inside the image skip the column checks). 3x3 windows of stride 1 or
// 2: two output rows per step (8 / 6 pixels each), every input row of the
// pair widened once for both rows' taps (section 156); 5-wide windows of
// column stride 1 on rows of 8+ outputs: each input row widened once into a
// ring of FP32 rows (depthwise_nchw16c_bf16_ring.cc, section 280); other
// windows: up to 8 output pixels of one row (one zmm of 16 channels each)
// per step, per tap one weight vector and one FMA per pixel (3- and 5-wide
// windows: each window row's pixels loaded once for their taps). Every tap
// in row-major order from the bias: the reference's bits. The rows the
// window two output rows ahead adds are prefetched (at batch 8 MobileNetV2's
// 112 x 112 planes stream from memory: 1.2-1.6x the NCHW kernel without,
// 0.61-0.72x with; section 140). Mean: one zmm sum per block.
// Padded lanes of every output are stored +0.
//
// Compiled twice from this text (kernels/x86/emulation/avx512.h): natively
// in the library (namespace avx512bf16) and, for tests, against the
// emulation header (namespace emulated::avx512bf16).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/avx512bf16/depthwise_nchw16c_bf16_ring.h"
#include "kernels/x86/avx512bf16/nchw16c_bf16_epilogue.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {
namespace {

constexpr int64_t kAheadRows = 2;  // depthwise input rows prefetched this many output rows ahead
constexpr int64_t kAheadPixels = 32;  // pointwise input prefetched this many pixels ahead (one-pass calls)
constexpr int64_t kPrefetchPlane = 2048;  // ... on planes of at least this many pixels

// The pairs [q0, q0 + NQ) of one input block (q0 a multiple of 8: the
// block's words at constant offsets from the tile's first pixel's line).
template <int NB, int NP, int NQ>
inline void pointwise_pairs(const uint16_t* w0, int64_t QP, int64_t q0, int64_t nq,
                            const uint16_t* xb, __m512 (&acc)[NB][NP]) {
#pragma GCC unroll 8
  for (int64_t k = 0; k < (NQ ? NQ : nq); ++k) {
    __m512bh wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = (__m512bh)_mm512_loadu_si512(w0 + (j * QP + q0 + k) * 32);
#pragma GCC unroll 16
    for (int i = 0; i < NP; ++i) {
      int32_t pair;
      std::memcpy(&pair, xb + i * 16 + 2 * k, 4);
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(pair);
      for (int j = 0; j < NB; ++j) acc[j][i] = _mm512_dpbf16_ps(acc[j][i], xv, wv[j]);
    }
  }
}

template <int NB, int NP>
void pointwise_tile(const PointwiseBf16x16c& a, int64_t mb, int64_t p) {
  const int64_t QP = (a.C + 1) / 2;
  __m512 acc[NB][NP];
  for (int j = 0; j < NB; ++j) {
    for (int i = 0; i < NP; ++i) acc[j][i] = _mm512_setzero_ps();
  }
  const uint16_t* w0 = a.w + mb * QP * 32;
  // Input block by block, its pairs ascending: the contract's order.
  for (int64_t q0 = 0; q0 < QP; q0 += 8) {
    const uint16_t* xb = a.x + ((q0 / 8) * a.P + p) * 16;
    if (QP - q0 >= 8) {
      pointwise_pairs<NB, NP, 8>(w0, QP, q0, 8, xb, acc);
    } else {
      pointwise_pairs<NB, NP, 0>(w0, QP, q0, QP - q0, xb, acc);
    }
  }
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
        const int64_t at = ((mb + j) * a.P + p + i) * 16;
        finish(_mm512_loadu_ps(buf + (j * NP + i) * 16), nullptr, false, lo, hi, keep, a.y + at);
      }
    }
    return;
  }
#pragma GCC unroll 2
  for (int j = 0; j < NB; ++j) {
    const __mmask16 keep = lanes_kept(a.M - (mb + j) * 16);
    const __m512 b = a.bias ? _mm512_loadu_ps(a.bias + (mb + j) * 16) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int i = 0; i < NP; ++i) {
      const int64_t at = ((mb + j) * a.P + p + i) * 16;
      const __m512 v = a.bias ? _mm512_add_ps(acc[j][i], b) : acc[j][i];
      finish(v, a.residual ? a.residual + at : nullptr, a.clip, lo, hi, keep, a.y + at);
    }
  }
}

template <int NB>
void pointwise_pixels(const PointwiseBf16x16c& a, int64_t mb, int64_t p, int64_t n) {
  switch (n) {
    case 1: pointwise_tile<NB, 1>(a, mb, p); break;
    case 2: pointwise_tile<NB, 2>(a, mb, p); break;
    case 3: pointwise_tile<NB, 3>(a, mb, p); break;
    case 4: pointwise_tile<NB, 4>(a, mb, p); break;
    case 5: pointwise_tile<NB, 5>(a, mb, p); break;
    case 6: pointwise_tile<NB, 6>(a, mb, p); break;
    case 7: if constexpr (NB * 7 <= 16) pointwise_tile<NB, 7>(a, mb, p); break;
    case 8: if constexpr (NB * 8 <= 16) pointwise_tile<NB, 8>(a, mb, p); break;
    default:  // one block: 16 pixels (8 accumulators are fewer than the VDPBF16PS chains need)
      if constexpr (NB == 1) {
        if (n >= 16) {
          pointwise_tile<1, 16>(a, mb, p);
        } else {
          pointwise_tile<1, 8>(a, mb, p);
          pointwise_pixels<1>(a, mb, p + 8, n - 8);
        }
      }
      break;
  }
}

// Output blocks [mb, mb + NB) over the pixels [p0, p1) in even tiles of at
// most NPMAX pixels (49 pixels by 8: 7 x 7, not 6 x 8 + 1).
// Where the call's blocks are one group, its input is read once, straight
// from memory at batch > 1 on planes of kPrefetchPlane pixels and more
// (MobileNetV2's 32 -> 16 projection at 112 x 112 read 1.4x base's time at
// batch 8 without, 1.03x with; its 96 -> 24 / 144 -> 24 at 56 x 56 0.8x /
// 0.68x): each tile then prefetches the input lines kAheadPixels ahead. The
// 28 x 28 projections read 1.02-1.08x with it: not there.
template <int NB, int NPMAX>
void pointwise_blocks(const PointwiseBf16x16c& a, int64_t mb) {
  const int64_t tiles = (a.p1 - a.p0 + NPMAX - 1) / NPMAX, np = tiles ? (a.p1 - a.p0 + tiles - 1) / tiles : 0;
  const bool once = a.mb1 - a.mb0 <= NB && a.P >= kPrefetchPlane;
  const int64_t CB = (a.C + 15) / 16;
  for (int64_t p = a.p0; p < a.p1; p += np) {
    if (once && p + kAheadPixels < a.p1) {
      const int64_t last = std::min(a.p1, p + kAheadPixels + np);
      for (int64_t cb = 0; cb < CB; ++cb) {
        const char* x = reinterpret_cast<const char*>(a.x + (cb * a.P) * 16);
        for (int64_t b = (p + kAheadPixels) * 32 / 64 * 64; b < last * 32; b += 64) __builtin_prefetch(x + b);
      }
    }
    pointwise_pixels<NB>(a, mb, p, std::min<int64_t>(np, a.p1 - p));
  }
}

// Input pixel ix of `row` widened (+0 when the row is outside the image,
// null, or, with EDGE, when ix is outside it).
template <bool EDGE>
inline __m512 pixel(const uint16_t* row, int64_t ix, int64_t W) {
  if (!row || (EDGE && (ix < 0 || ix >= W))) return _mm512_setzero_ps();
  return load16(row + ix * 16);
}

// NP output pixels of one row, rows[ky] the window's input rows (null
// outside the image), every tap in row-major order from the bias.
template <int NP, bool EDGE>
void depthwise_pixels(const DepthwiseBf16x16c& a, const uint16_t* const* rows, int64_t ox, __m512* acc) {
  const __m512 bias = _mm512_loadu_ps(a.bias);
  for (int i = 0; i < NP; ++i) acc[i] = bias;
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    for (int64_t kx = 0; kx < a.kw; ++kx) {
      const __m512 w = _mm512_loadu_ps(a.w + (ky * a.kw + kx) * 16);
      const int64_t ix = ox * a.sw - a.pw + kx * a.dw;
#pragma GCC unroll 8
      for (int i = 0; i < NP; ++i) acc[i] = _mm512_fmadd_ps(w, pixel<EDGE>(rows[ky], ix + i * a.sw, a.W), acc[i]);
    }
  }
}

// K-wide windows (K = 3, 5; dilation 1) of stride SW: per window row the
// (NP - 1) * SW + K pixels widened once, each feeding its K taps' FMAs
// (each accumulator's FMAs still in the contract's tap order).
template <int K, int NP, int SW, bool EDGE>
void depthwise_pixels_k(const DepthwiseBf16x16c& a, const uint16_t* const* rows, int64_t ox, __m512* acc) {
  constexpr int kPx = (NP - 1) * SW + K;
  const __m512 bias = _mm512_loadu_ps(a.bias);
  for (int i = 0; i < NP; ++i) acc[i] = bias;
  const int64_t ix0 = ox * SW - a.pw;
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    __m512 px[kPx];
#pragma GCC unroll 32
    for (int j = 0; j < kPx; ++j) px[j] = pixel<EDGE>(rows[ky], ix0 + j, a.W);
#pragma GCC unroll 5
    for (int kx = 0; kx < K; ++kx) {
      const __m512 w = _mm512_loadu_ps(a.w + (ky * K + kx) * 16);
#pragma GCC unroll 8
      for (int i = 0; i < NP; ++i) acc[i] = _mm512_fmadd_ps(w, px[i * SW + kx], acc[i]);
    }
  }
}

// NP pixels by the widest walk the window allows; EDGE when a tap of the
// step reads a column outside the image.
template <int NP, bool EDGE>
void depthwise_step(const DepthwiseBf16x16c& a, const uint16_t* const* rows, int64_t ox, __m512* acc) {
  if (a.kw == 3 && a.dw == 1 && a.sw == 1) {
    depthwise_pixels_k<3, NP, 1, EDGE>(a, rows, ox, acc);
  } else if (a.kw == 3 && a.dw == 1 && a.sw == 2) {
    depthwise_pixels_k<3, NP, 2, EDGE>(a, rows, ox, acc);
  } else if (a.kw == 5 && a.dw == 1 && a.sw == 1) {  // rows of 7 outputs or fewer (depthwise_ring)
    depthwise_pixels_k<5, NP, 1, EDGE>(a, rows, ox, acc);
  } else if (a.kw == 5 && a.dw == 1 && a.sw == 2) {
    depthwise_pixels_k<5, NP, 2, EDGE>(a, rows, ox, acc);
  } else {
    depthwise_pixels<NP, EDGE>(a, rows, ox, acc);
  }
}

template <int NP>
void depthwise_tile(const DepthwiseBf16x16c& a, const uint16_t* const* rows, int64_t ox, __m512* acc) {
  const int64_t first = ox * a.sw - a.pw, last = (ox + NP - 1) * a.sw - a.pw + (a.kw - 1) * a.dw;
  if (first >= 0 && last < a.W) {
    depthwise_step<NP, false>(a, rows, ox, acc);
  } else {
    depthwise_step<NP, true>(a, rows, ox, acc);
  }
}

// Two output rows (oy, oy + 1) of a 3x3 window of stride S (both axes) and
// dilation 1, NP pixels each, finished in registers: rows[0 .. S + 2] the
// input rows oy * S - ph .. (null outside the image: +0 taps, as every walk
// here), each widened once and feeding both output rows' taps (input row r
// is tap row r of output row oy and r - S of oy + 1). Each accumulator's
// FMAs stay in the contract's row-major tap order. 2 x NP accumulators +
// (NP - 1) * S + 3 pixels (8 pixels at stride 1, 6 at stride 2).
template <int NP, int S, bool EDGE>
void depthwise_rows2(const DepthwiseBf16x16c& a, const uint16_t* const* rows, int64_t oy, int64_t ox, __m512 lo,
                     __m512 hi, __mmask16 keep) {
  constexpr int kPx = (NP - 1) * S + 3;
  __m512 acc[2][NP];
  const __m512 bias = _mm512_loadu_ps(a.bias);
  for (int i = 0; i < NP; ++i) acc[0][i] = acc[1][i] = bias;
  const int64_t ix0 = ox * S - a.pw;
#pragma GCC unroll 5
  for (int r = 0; r < S + 3; ++r) {
    __m512 px[kPx];
#pragma GCC unroll 16
    for (int j = 0; j < kPx; ++j) px[j] = pixel<EDGE>(rows[r], ix0 + j, a.W);
    if (r < 3) {
#pragma GCC unroll 3
      for (int kx = 0; kx < 3; ++kx) {
        const __m512 w = _mm512_loadu_ps(a.w + (r * 3 + kx) * 16);
#pragma GCC unroll 8
        for (int i = 0; i < NP; ++i) acc[0][i] = _mm512_fmadd_ps(w, px[i * S + kx], acc[0][i]);
      }
    }
    if (r >= S) {
#pragma GCC unroll 3
      for (int kx = 0; kx < 3; ++kx) {
        const __m512 w = _mm512_loadu_ps(a.w + ((r - S) * 3 + kx) * 16);
#pragma GCC unroll 8
        for (int i = 0; i < NP; ++i) acc[1][i] = _mm512_fmadd_ps(w, px[i * S + kx], acc[1][i]);
      }
    }
  }
  if (a.act.fn) {  // both rows through the fused activation, one call (acc's address never taken)
    float buf[2 * NP * 16];
    for (int k = 0; k < 2; ++k) {
      for (int i = 0; i < NP; ++i) _mm512_storeu_ps(buf + (k * NP + i) * 16, acc[k][i]);
    }
    a.act.fn(a.act.ctx, buf, 2 * NP * 16);
    for (int k = 0; k < 2; ++k) {
      for (int i = 0; i < NP; ++i) {
        finish(_mm512_loadu_ps(buf + (k * NP + i) * 16), nullptr, false, lo, hi, keep,
               a.y + ((oy + k) * a.ow + ox + i) * 16);
      }
    }
    return;
  }
#pragma GCC unroll 2
  for (int k = 0; k < 2; ++k) {
    const int64_t at = ((oy + k) * a.ow + ox) * 16;
#pragma GCC unroll 8
    for (int i = 0; i < NP; ++i) {
      finish(acc[k][i], a.residual ? a.residual + at + i * 16 : nullptr, a.clip, lo, hi, keep, a.y + at + i * 16);
    }
  }
}

template <int NP, int S>
void depthwise_rows2_tile(const DepthwiseBf16x16c& a, const uint16_t* const* rows, int64_t oy, int64_t ox, __m512 lo,
                          __m512 hi, __mmask16 keep) {
  if (ox * S - a.pw >= 0 && (ox + NP - 1) * S + 2 - a.pw < a.W) {
    depthwise_rows2<NP, S, false>(a, rows, oy, ox, lo, hi, keep);
  } else {
    depthwise_rows2<NP, S, true>(a, rows, oy, ox, lo, hi, keep);
  }
}

// One row pair of a 3x3 window of stride S, the widest tiles first.
template <int S>
void depthwise_row_pair(const DepthwiseBf16x16c& a, const uint16_t* const* rows, int64_t oy, __m512 lo, __m512 hi,
                        __mmask16 keep) {
  constexpr int64_t kWide = S == 1 ? 8 : 6;
  for (int64_t ox = 0; ox < a.ow;) {
    if (a.ow - ox >= kWide) {
      depthwise_rows2_tile<kWide, S>(a, rows, oy, ox, lo, hi, keep);
      ox += kWide;
    } else if (a.ow - ox >= 4) {
      depthwise_rows2_tile<4, S>(a, rows, oy, ox, lo, hi, keep);
      ox += 4;
    } else {
      depthwise_rows2_tile<1, S>(a, rows, oy, ox, lo, hi, keep);
      ox += 1;
    }
  }
}

// Tiles of 4 output blocks x 6 pixels for reductions of at least
// kWideTileC channels (MobileNetV2's 160 -> 960 expansions, 960 -> 160 /
// 320 projections and 320 -> 1280 head: 0.92-0.96x the 2 x 8 tile's time),
// 2 x 8 below (the 16 -> 96 expansion ran 1.37x, 24 -> 144 1.13x with 4 x 6).
constexpr int64_t kWideTileC = 128;

}  // namespace

void pointwise_bf16x16c(const PointwiseBf16x16c& a) {
  if (a.N > 1) return pointwise_bf16x16c_per_image(a, pointwise_bf16x16c);
  for (int64_t mb = a.mb0; mb < a.mb1;) {
    if (a.C >= kWideTileC && a.mb1 - mb >= 4) {
      pointwise_blocks<4, 6>(a, mb);
      mb += 4;
    } else if (a.mb1 - mb >= 2) {
      pointwise_blocks<2, 8>(a, mb);
      mb += 2;
    } else {
      pointwise_blocks<1, 16>(a, mb);
      mb += 1;
    }
  }
}

void depthwise_bf16x16c(const DepthwiseBf16x16c& a) {
  if (depthwise_ring(a)) return depthwise_bf16x16c_ring(a);  // rows widened once (depthwise_nchw16c_bf16_ring.cc)
  const __m512 lo = _mm512_set1_ps(a.lo), hi = _mm512_set1_ps(a.hi);
  const __mmask16 keep = lanes_kept(a.lanes);
  const uint16_t* rows[kBf16BlockedMaxRows + 2];  // the window's input rows (kh <= kBf16BlockedMaxRows), +2: two rows
  const bool two_rows = a.kh == 3 && a.kw == 3 && a.sh == a.sw && a.sh <= 2 && a.dh == 1 && a.dw == 1;
  __m512 acc[8];
  for (int64_t oy = a.oy0; oy < a.oy1;) {
    const int64_t step = two_rows && oy + 1 < a.oy1 ? 2 : 1;
    for (int64_t ky = 0; ky < a.kh + (step - 1) * a.sh; ++ky) {
      const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
      rows[ky] = iy >= 0 && iy < a.H ? a.x + iy * a.W * 16 : nullptr;
    }
    // The rows the windows of output rows oy + kAheadRows .. add (a plane
    // larger than L2 at batch > 1 streams from memory), one line per 64 bytes.
    for (int64_t r = 0; r < a.sh * step; ++r) {
      const int64_t iy = (oy + step - 1 + kAheadRows) * a.sh - a.ph + (a.kh - 1) * a.dh - r;
      if (iy < 0 || iy >= a.H) continue;
      const char* line = reinterpret_cast<const char*>(a.x + iy * a.W * 16);
      for (int64_t b = 0; b < a.W * 32; b += 64) __builtin_prefetch(line + b);
    }
    if (step == 2) {
      if (a.sh == 1) {
        depthwise_row_pair<1>(a, rows, oy, lo, hi, keep);
      } else {
        depthwise_row_pair<2>(a, rows, oy, lo, hi, keep);
      }
      oy += 2;
      continue;
    }
    uint16_t* y = a.y + oy * a.ow * 16;
    const uint16_t* res = a.residual ? a.residual + oy * a.ow * 16 : nullptr;
    for (int64_t ox = 0; ox < a.ow;) {
      const int64_t n = a.ow - ox >= 8 ? 8 : a.ow - ox >= 4 ? 4 : 1;
      if (n == 8) {
        depthwise_tile<8>(a, rows, ox, acc);
      } else if (n == 4) {
        depthwise_tile<4>(a, rows, ox, acc);
      } else {
        depthwise_tile<1>(a, rows, ox, acc);
      }
      if (a.act.fn) activate(a.act, acc, static_cast<int>(n));
      for (int64_t i = 0; i < n; ++i) {
        finish(acc[i], res ? res + (ox + i) * 16 : nullptr, a.clip, lo, hi, keep, y + (ox + i) * 16);
      }
      ox += n;
    }
    ++oy;
  }
}

void block_mean_bf16(const uint16_t* x, int64_t blocks, int64_t P, float* means) {
  for (int64_t b = 0; b < blocks; ++b) {
    __m512 s = _mm512_setzero_ps();
    for (int64_t p = 0; p < P; ++p) s = _mm512_add_ps(s, load16(x + (b * P + p) * 16));
    _mm512_storeu_ps(means + b * 16, s);
    for (int l = 0; l < 16; ++l) means[b * 16 + l] = means[b * 16 + l] / static_cast<float>(P);
  }
}

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
