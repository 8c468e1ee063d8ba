// BF16 channel-blocked dense conv and max pool, AVX-512 with AVX512-BF16:
// contract in kernels/abi/nchw16c_bf16.h.
//
// Conv: a register tile of up to 6 pixels of one output row x 4 output
// blocks (24 zmm accumulators), after the FP32 blocked conv's tile
// (x86/avx512/conv_nchw16c_f32.cc) with VDPBF16PS for its FMA. Per tap
// (row-major) and input block, each pixel's line is found once (a pixel
// outside the image reads a line of zeros: the direct path's zero-padded
// image, same value, abi header); per channel pair one 64-byte weight
// load per output block ([MB][taps][QP][16][2], packed once by the layer)
// and per pixel the pair's 32-bit word broadcast, one VDPBF16PS per
// accumulator: taps row-major, pairs ascending (k' = tap * Ce + c, the
// direct BF16 GEMM's order), so the NCHW BF16 conv's bits. Window rows
// outside the image are skipped. No im2col, no packing of activations, no
// scratch. Rows are split in even tiles (14 = 5 + 5 + 4, 7 = 4 + 3).
// Then bias, the BF16 residual, the clip and VCVTNEPS2BF16 (the shared
// epilogue, nchw16c_bf16_epilogue.h).
// Max pool: 8 output pixels of a row per step, one zmm each (8 independent
// chains), VMAXPS(m, x) = m > x ? m : x over the taps inside the image,
// from -inf; the BF16 store is exact.
//
// Compiled twice from this text (kernels/x86/emulation/avx512.h): natively
// in the library (namespace avx512bf16) and, for tests, against the
// emulation header (namespace emulated::avx512bf16).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/avx512bf16/nchw16c_bf16_epilogue.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {
namespace {

constexpr int kPixels = 6, kBlocks = 4;  // the conv's register tile
constexpr int kPoolPixels = 8;           // the max pool's output pixels per step
alignas(64) const uint16_t kZeroLine[16] = {};  // a pixel outside the image

// The pairs [q0, q0 + n) of one tap and input block into the tile: per pair
// NB weight vectors, per pixel the pair's word px[i][2q] broadcast.
template <int NB, int NP>
inline void pair_steps(__m512 (&acc)[NB][NP], const uint16_t* const (&px)[NP], const uint16_t* w, int64_t block_w,
                       int64_t n) {
  for (int64_t q = 0; q < n; ++q) {
    __m512bh wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = (__m512bh)_mm512_loadu_si512(w + j * block_w + q * 32);
#pragma GCC unroll 6
    for (int i = 0; i < NP; ++i) {
      int32_t pair;
      std::memcpy(&pair, px[i] + 2 * q, 4);
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(pair);
      for (int j = 0; j < NB; ++j) acc[j][i] = _mm512_dpbf16_ps(acc[j][i], xv, wv[j]);
    }
  }
}

template <int NB, int NP>
void conv_tile(const ConvBf16x16c& a, int64_t mb, int64_t oy, int64_t ox) {
  const int64_t QP = (a.C + 1) / 2, taps = a.kh * a.kw, plane = a.H * a.W * 16;
  const int64_t block_w = taps * QP * 32;  // one output block's packed weights
  const int64_t first = ox * a.sw - a.pw, last = (ox + NP - 1) * a.sw - a.pw + (a.kw - 1) * a.dw;
  const bool interior = first >= 0 && last < a.W;  // every tap of the tile's pixels inside its row
  __m512 acc[NB][NP];
  for (int j = 0; j < NB; ++j) {
    for (int i = 0; i < NP; ++i) acc[j][i] = _mm512_setzero_ps();
  }
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const int64_t iy = oy * a.sh - a.ph + ky * a.dh;
    if (iy < 0 || iy >= a.H) continue;
    const uint16_t* row = a.x + iy * a.W * 16;
    for (int64_t kx = 0; kx < a.kw; ++kx) {
      const int64_t ix0 = first + kx * a.dw;
      const uint16_t* w_tap = a.w + (mb * taps + ky * a.kw + kx) * QP * 32;
      for (int64_t q0 = 0; q0 < QP; q0 += 8) {
        const uint16_t* block = row + (q0 / 8) * plane;
        const uint16_t* px[NP];
        for (int i = 0; i < NP; ++i) {
          const int64_t ix = ix0 + i * a.sw;
          px[i] = interior || (ix >= 0 && ix < a.W) ? block + ix * 16 : kZeroLine;
        }
        pair_steps<NB, NP>(acc, px, w_tap + q0 * 32, block_w, std::min<int64_t>(8, QP - q0));
      }
    }
  }
  const __m512 lo = _mm512_set1_ps(a.lo), hi = _mm512_set1_ps(a.hi);
  for (int j = 0; j < NB; ++j) {
    const __mmask16 keep = lanes_kept(a.M - (mb + j) * 16);
    const __m512 b = a.bias ? _mm512_loadu_ps(a.bias + (mb + j) * 16) : _mm512_setzero_ps();
    for (int i = 0; i < NP; ++i) {
      const int64_t at = (((mb + j) * a.oh + oy) * a.ow + ox + i) * 16;
      const __m512 v = a.bias ? _mm512_add_ps(acc[j][i], b) : acc[j][i];
      finish(v, a.residual ? a.residual + at : nullptr, a.clip, lo, hi, keep, a.y + at);
    }
  }
}

template <int NB>
void conv_pixels(const ConvBf16x16c& a, int64_t mb, int64_t oy, int64_t ox, int64_t n) {
  switch (n) {
    case 1: conv_tile<NB, 1>(a, mb, oy, ox); break;
    case 2: conv_tile<NB, 2>(a, mb, oy, ox); break;
    case 3: conv_tile<NB, 3>(a, mb, oy, ox); break;
    case 4: conv_tile<NB, 4>(a, mb, oy, ox); break;
    case 5: conv_tile<NB, 5>(a, mb, oy, ox); break;
    default: conv_tile<NB, kPixels>(a, mb, oy, ox); break;
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

}  // namespace

void conv_bf16x16c(const ConvBf16x16c& a) {
  const int64_t tiles = (a.ow + kPixels - 1) / kPixels, np = (a.ow + tiles - 1) / tiles;
  for (int64_t mb = a.mb0; mb < a.mb1; mb += kBlocks) {
    const int64_t nb = std::min<int64_t>(kBlocks, a.mb1 - mb);
    for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
      for (int64_t ox = 0; ox < a.ow; ox += np) {
        const int64_t n = std::min(np, a.ow - ox);
        switch (nb) {
          case 1: conv_pixels<1>(a, mb, oy, ox, n); break;
          case 2: conv_pixels<2>(a, mb, oy, ox, n); break;
          case 3: conv_pixels<3>(a, mb, oy, ox, n); break;
          default: conv_pixels<kBlocks>(a, mb, oy, ox, n); break;
        }
      }
    }
  }
}

void maxpool_bf16x16c(const MaxPoolBf16x16c& a) {
  const __mmask16 keep = lanes_kept(a.lanes);
  for (int64_t oy = a.oy0; oy < a.oy1; ++oy) {
    int64_t ox = 0;
    for (; ox + kPoolPixels <= a.ow; ox += kPoolPixels) maxpool_pixels<kPoolPixels>(a, oy, ox, keep);
    for (; ox < a.ow; ++ox) maxpool_pixels<1>(a, oy, ox, keep);
  }
}

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
