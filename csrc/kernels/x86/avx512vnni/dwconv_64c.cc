// Depthwise int8 conv microkernel, AVX512-VNNI: one output row, 4 pixels x
// 64 channels (4 zmm blocks of 16) at a time.
//
// Register tile: 4 output pixels x up to 4 blocks of 16 channels = up to 16
// int32 accumulators; per tap and block one weight register shared by the
// pixels. Runs of 4 or more pixels near the row's ends go through tiles
// that mask the columns outside the input (pixel_blocks_edge); shorter runs
// and rows go one pixel at a time.
//
// Packed weights (pack_dw_weights, block 16): [C/16][tap][16] int32, each
// the weight in the low int16 and 0 in the high int16. Activations are
// sign-extended to int32 (vpmovsxbd), so each int32 lane is the int16 pair
// (x, sign(x)) and vpdpwssd adds x * w + sign * 0 = x * w exactly.
// Padding taps read DwRow::pad_value (the input's zero point; 0 for a
// symmetric input), as in the reference: each pixel runs over the filter
// rows and columns inside the input. With pad_value != 0 the filter rows
// outside the input come from the driver as one vector per channel block
// (DwRow::acc_init, the accumulators' start), the edge tiles' masked loads
// leave pad_value in the lanes outside, and single edge pixels add
// pad_value * w for their columns outside (add_padding_columns, a sign-extended
// pad_value vector through the same vpdpwssd). Interior pixels pay nothing
// for it. Full blocks use plain loads; only a partial last block goes
// through a channel mask.
//
// Interior tiles of 3-wide filters with stride 1 or 2 and no column dilation
// (MobileNet's depthwise layers) share the sign extension: the 4 pixels'
// 3 taps of a filter row read only (4 - 1) * stride + 3 distinct input
// columns (6 or 9 instead of 12), which are widened once per row and block
// and kept in registers (pixel_blocks_shared). Integer sums, so the order of
// the taps does not change any result. There, scale and bias are loaded
// once per block for all 4 pixels (the int8 stores could alias them, so the
// compiler would reload them per pixel); in the general kernel the same
// hoisting measured slower (32@112: 116 -> 159 us), so it stays per pixel.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/x86/avx512vnni/epilogue.h"
#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {
namespace {

// The row's geometry in locals (the DwRow fields would otherwise be reloaded
// after every store, the compiler being unable to rule out aliasing).
struct Geometry {
  const int8_t* x;
  int64_t row_stride;  // W * C
  int C, W, R, S, taps, stride_w, pad_left, dilation_w;
  const int32_t* w;
  int pad_value;
  const int32_t* acc_init;  // DwRow::acc_init
};

// The accumulators of MP pixels, blocks [cb0, cb0 + NB), at their start:
// the padding rows' share (DwRow::acc_init) or 0.
template <int MP, int NB>
inline void start_accumulators(__m512i (&acc)[MP][NB], const Geometry& g, int cb0) {
#pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const __m512i a = g.acc_init ? _mm512_loadu_si512(g.acc_init + cb0 * 16 + 16 * j) : _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int p = 0; p < MP; ++p) acc[p][j] = a;
  }
}

// Whether pixels whose windows cover columns [s_begin, s_end) inside the
// input have padding columns that add something.
inline bool reads_padding_columns(const Geometry& g, int s_begin, int s_end) {
  return g.pad_value != 0 && (s_begin > 0 || s_end < g.S);
}

// The padding columns of those pixels on the filter rows inside the input,
// [r_begin, r_end), blocks [cb0, cb0 + NB): each such tap adds pad_value * w
// to each pixel (pad_value sign-extended to int32, the int16 pair
// (pad_value, sign) against (w, 0), as the input taps).
template <int MP, int NB>
inline void add_padding_columns(__m512i (&acc)[MP][NB], const Geometry& g, int cb0, int r_begin, int r_end,
                                int s_begin, int s_end) {
  const __m512i pv = _mm512_set1_epi32(g.pad_value);
  const int32_t* wblock = g.w + static_cast<int64_t>(cb0) * g.taps * 16;
  const int64_t wstride = static_cast<int64_t>(g.taps) * 16;  // between blocks
  for (int r = r_begin; r < r_end; ++r) {
    for (int s = 0; s < g.S; ++s) {
      if (s >= s_begin && s < s_end) continue;
      const int32_t* wp = wblock + (r * g.S + s) * 16;
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        const __m512i wv = _mm512_loadu_si512(wp + j * wstride);
#pragma GCC unroll 8
        for (int p = 0; p < MP; ++p) acc[p][j] = _mm512_dpwssd_epi32(acc[p][j], pv, wv);
      }
    }
  }
}

// Channels [cb0*16, cb0*16 + NB*16) of MP output pixels ow0, ow0 + 1, ...
// whose filter windows all cover columns [s_begin, s_end) inside the input
// (MP > 1 only for interior pixels), filter rows [r_begin, r_end). MP
// pixels at once keep MP*NB accumulator chains in flight (one pixel alone
// waits on vpdpwssd latency) and share each weight load. kTail: the last
// block is partial and goes through the channel mask.
template <int MP, int NB, bool kTail>
void pixel_blocks(const Geometry& g, const TileEpilogue& ep, int64_t out_row, int iw0,
                  int64_t row0, int64_t dil_row, int r_begin, int r_end, int s_begin, int s_end,
                  int cb0) {
  const int c0 = cb0 * 16;
  const __mmask16 tail_mask = kTail ? channel_mask(g.C - c0 - 16 * (NB - 1)) : 0;
  const int64_t pixel_step = static_cast<int64_t>(g.stride_w) * g.C;
  __m512i acc[MP][NB];
  start_accumulators<MP, NB>(acc, g, cb0);
  const int32_t* wblock = g.w + static_cast<int64_t>(cb0) * g.taps * 16;
  const int64_t wstride = static_cast<int64_t>(g.taps) * 16;  // between blocks
  for (int r = r_begin; r < r_end; ++r) {
    const int8_t* xr = g.x + row0 + r * dil_row + c0;  // in bounds: row r is inside
    for (int s = s_begin; s < s_end; ++s) {
      const int8_t* xp = xr + static_cast<int64_t>(iw0 + s * g.dilation_w) * g.C;
      const int32_t* wp = wblock + (r * g.S + s) * 16;
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        const __m512i wv = _mm512_loadu_si512(wp + j * wstride);
#pragma GCC unroll 8
        for (int p = 0; p < MP; ++p) {
          const int8_t* xj = xp + p * pixel_step + 16 * j;
          const __m128i x8 = (kTail && j == NB - 1)
                                 ? _mm_maskz_loadu_epi8(tail_mask, xj)
                                 : _mm_loadu_si128(reinterpret_cast<const __m128i*>(xj));
          acc[p][j] = _mm512_dpwssd_epi32(acc[p][j], _mm512_cvtepi8_epi32(x8), wv);
        }
      }
    }
  }
  if (reads_padding_columns(g, s_begin, s_end)) {
    add_padding_columns<MP, NB>(acc, g, cb0, r_begin, r_end, s_begin, s_end);
  }
#pragma GCC unroll 8
  for (int p = 0; p < MP; ++p) {
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      store_requantized(acc[p][j], ep, out_row + p, c0 + 16 * j, g.C - c0 - 16 * j);
    }
  }
}

// pixel_blocks for MP pixels near the row's ends, where the pixels' windows
// reach past the input's left or right edge by different numbers of
// columns: every tap of the filter row, each pixel's column loaded through a
// mask that is empty where the column lies outside the input (a masked-off
// load reads nothing and leaves pad_value in every lane), so the padding
// columns add pad_value * w. Small images are mostly such pixels (7x7 with
// a 5x5 filter: all 49), which one pixel at a time left latency-bound on one
// chain per block.
template <int MP, int NB, bool kTail>
void pixel_blocks_edge(const Geometry& g, const TileEpilogue& ep, int64_t out_row, int iw0, int64_t row0,
                       int64_t dil_row, int r_begin, int r_end, int cb0) {
  const int c0 = cb0 * 16;
  const __mmask16 tail_mask = kTail ? channel_mask(g.C - c0 - 16 * (NB - 1)) : 0;
  const int64_t pixel_step = static_cast<int64_t>(g.stride_w) * g.C;
  __m512i acc[MP][NB];
  start_accumulators<MP, NB>(acc, g, cb0);
  const int32_t* wblock = g.w + static_cast<int64_t>(cb0) * g.taps * 16;
  const int64_t wstride = static_cast<int64_t>(g.taps) * 16;  // between blocks
  const __m128i pad8 = _mm_set1_epi8(static_cast<char>(g.pad_value));
  for (int r = r_begin; r < r_end; ++r) {
    const int8_t* xr = g.x + row0 + r * dil_row + c0;  // in bounds: row r is inside
    for (int s = 0; s < g.S; ++s) {
      const int iw = iw0 + s * g.dilation_w;
      const int8_t* xp = xr + static_cast<int64_t>(iw) * g.C;
      const int32_t* wp = wblock + (r * g.S + s) * 16;
      __mmask16 inside[MP];
#pragma GCC unroll 8
      for (int p = 0; p < MP; ++p) {
        inside[p] = static_cast<unsigned>(iw + p * g.stride_w) < static_cast<unsigned>(g.W) ? 0xffff : 0;
      }
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        const __m512i wv = _mm512_loadu_si512(wp + j * wstride);
#pragma GCC unroll 8
        for (int p = 0; p < MP; ++p) {
          const __mmask16 m = (kTail && j == NB - 1) ? static_cast<__mmask16>(inside[p] & tail_mask) : inside[p];
          const __m128i x8 = _mm_mask_loadu_epi8(pad8, m, xp + p * pixel_step + 16 * j);
          acc[p][j] = _mm512_dpwssd_epi32(acc[p][j], _mm512_cvtepi8_epi32(x8), wv);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int p = 0; p < MP; ++p) {
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      store_requantized(acc[p][j], ep, out_row + p, c0 + 16 * j, g.C - c0 - 16 * j);
    }
  }
}

// pixel_blocks for KS-wide filters, column stride KST, column dilation 1,
// all taps inside the input: per filter row and block, the NCOL input
// columns the MP pixels read are sign-extended once into registers, then
// tap s of pixel p uses column p * KST + s.
template <int MP, int NB, bool kTail, int KS, int KST>
void pixel_blocks_shared(const Geometry& g, const TileEpilogue& ep, int64_t out_row, int iw0,
                         int64_t row0, int64_t dil_row, int r_begin, int r_end, int cb0) {
  constexpr int NCOL = (MP - 1) * KST + KS;
  const int c0 = cb0 * 16;
  const __mmask16 tail_mask = kTail ? channel_mask(g.C - c0 - 16 * (NB - 1)) : 0;
  __m512i acc[MP][NB];
  start_accumulators<MP, NB>(acc, g, cb0);
  const int32_t* wblock = g.w + static_cast<int64_t>(cb0) * g.taps * 16;
  const int64_t wstride = static_cast<int64_t>(g.taps) * 16;  // between blocks
  for (int r = r_begin; r < r_end; ++r) {
    const int8_t* xr = g.x + row0 + r * dil_row + c0 + static_cast<int64_t>(iw0) * g.C;
    const int32_t* wr = wblock + r * KS * 16;
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      __m512i col[NCOL];
#pragma GCC unroll 16
      for (int q = 0; q < NCOL; ++q) {
        const int8_t* xq = xr + static_cast<int64_t>(q) * g.C + 16 * j;
        const __m128i x8 = (kTail && j == NB - 1)
                               ? _mm_maskz_loadu_epi8(tail_mask, xq)
                               : _mm_loadu_si128(reinterpret_cast<const __m128i*>(xq));
        col[q] = _mm512_cvtepi8_epi32(x8);
      }
#pragma GCC unroll 8
      for (int s = 0; s < KS; ++s) {
        const __m512i wv = _mm512_loadu_si512(wr + s * 16 + j * wstride);
#pragma GCC unroll 8
        for (int p = 0; p < MP; ++p) {
          acc[p][j] = _mm512_dpwssd_epi32(acc[p][j], col[p * KST + s], wv);
        }
      }
    }
  }
  if (NB >= 3 && !ep.out_f32) {
    // int8 output of 3 or 4 blocks: each pixel's blocks packed into one
    // masked store (store_requantized_row, as the igemm kernel does); with 1
    // or 2 blocks the packing cost more than the stores it saves (32
    // channels at 112x112: 0.48 -> 0.56 ms).
    ChannelEpilogue ce[NB];
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) ce[j] = load_channel_epilogue(ep, c0 + 16 * j, g.C - c0 - 16 * j);
    const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
    const int nc = g.C - c0 < 16 * NB ? g.C - c0 : 16 * NB;
    const int64_t y_stride = ep.y_stride, res_stride = ep.residual_stride;
    const float res_scale = ep.residual_scale;
    int8_t* y = static_cast<int8_t*>(ep.y) + out_row * y_stride + c0;
    const int8_t* res = ep.residual ? ep.residual + out_row * res_stride + c0 : nullptr;
#pragma GCC unroll 8
    for (int p = 0; p < MP; ++p) {
      store_requantized_row<NB>(acc[p], ce, nc, res ? res + p * res_stride : nullptr, res_scale, lo, hi,
                                y + p * y_stride);
    }
    return;
  }
#pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const ChannelEpilogue ce = load_channel_epilogue(ep, c0 + 16 * j, g.C - c0 - 16 * j);
#pragma GCC unroll 8
    for (int p = 0; p < MP; ++p) store_requantized(acc[p][j], ce, ep, out_row + p, c0 + 16 * j);
  }
}

// One group of NB blocks through the general kernel (KS == 0), the edge
// one (KS == kEdge) or the shared columns one (KS-wide filter, column stride
// KST).
constexpr int kEdge = -1;
template <int MP, int NB, bool kTail, int KS, int KST>
void blocks(const Geometry& g, const TileEpilogue& ep, int64_t out_row, int iw0, int64_t row0,
            int64_t dil_row, int r_begin, int r_end, int s_begin, int s_end, int cb0) {
  if constexpr (KS == kEdge) {
    pixel_blocks_edge<MP, NB, kTail>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, cb0);
  } else if constexpr (KS > 0) {
    pixel_blocks_shared<MP, NB, kTail, KS, KST>(g, ep, out_row, iw0, row0, dil_row, r_begin,
                                               r_end, cb0);
  } else {
    pixel_blocks<MP, NB, kTail>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, s_begin,
                                s_end, cb0);
  }
}

// All channels of MP pixels: groups of 4 blocks, then the rest (the last
// block maybe partial).
template <int MP, int KS = 0, int KST = 0>
void pixels(const Geometry& g, const TileEpilogue& ep, int64_t out_row, int iw0, int64_t row0,
            int64_t dil_row, int r_begin, int r_end, int s_begin, int s_end) {
  const int blocks_total = (g.C + 15) / 16;
  const bool partial = g.C % 16 != 0;
  const int full_groups = (blocks_total - (partial ? 1 : 0)) / 4;
  const int rest = blocks_total - 4 * full_groups;
  const int cb = 4 * full_groups;
  for (int q = 0; q < full_groups; ++q) {
    blocks<MP, 4, false, KS, KST>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, s_begin,
                                  s_end, 4 * q);
  }
#define INT8RT_DW_REST(NB)                                                                     \
  (partial ? blocks<MP, NB, true, KS, KST>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, \
                                           s_begin, s_end, cb)                                 \
           : blocks<MP, NB, false, KS, KST>(g, ep, out_row, iw0, row0, dil_row, r_begin,       \
                                            r_end, s_begin, s_end, cb))
  switch (rest) {
    case 4: INT8RT_DW_REST(4); break;
    case 3: INT8RT_DW_REST(3); break;
    case 2: INT8RT_DW_REST(2); break;
    case 1: INT8RT_DW_REST(1); break;
    default: break;
  }
#undef INT8RT_DW_REST
}

}  // namespace

void dwconv_row(const DwRow& d) {
  constexpr int kMP = 4;  // interior pixels per call
  const Geometry g{d.x, static_cast<int64_t>(d.W) * d.C, d.C, d.W, d.R, d.S, d.R * d.S,
                   d.stride_w, d.pad_left, d.dilation_w, d.w, d.pad_value, d.acc_init};
  const TileEpilogue ep = d.ep;
  // Filter rows inside the input are the same for the whole output row.
  const int ih0 = d.oh * d.stride_h - d.pad_top;
  int r_begin = 0, r_end = d.R;
  while (r_begin < d.R && ih0 + r_begin * d.dilation_h < 0) ++r_begin;
  while (r_end > r_begin && ih0 + (r_end - 1) * d.dilation_h >= d.H) --r_end;
  const int64_t row0 = ih0 * g.row_stride;  // offset of filter row 0 (may be < 0)
  const int64_t dil_row = d.dilation_h * g.row_stride;
  const int span = (d.S - 1) * g.dilation_w;  // last filter column
  const bool shared_s1 = d.S == 3 && g.dilation_w == 1 && g.stride_w == 1;
  const bool shared_s2 = d.S == 3 && g.dilation_w == 1 && g.stride_w == 2;
  // Whether the kMP pixels from ow have their whole windows inside the input.
  auto interior = [&](int ow) {
    const int iw0 = ow * g.stride_w - g.pad_left;
    return iw0 >= 0 && ow + kMP <= d.ow_end && iw0 + (kMP - 1) * g.stride_w + span < d.W;
  };
  int first_tile = d.ow_begin;  // where the interior tiles start (d.ow_end: none)
  while (first_tile < d.ow_end && !interior(first_tile)) ++first_tile;
  int run_begin = d.ow_begin;  // the first pixel of the current run of edge pixels
  for (int ow = d.ow_begin; ow < d.ow_end;) {
    const int iw0 = ow * g.stride_w - g.pad_left;
    const int64_t out_row = ow - d.ow_begin;
    if (interior(ow)) {
      if (shared_s1) {
        pixels<kMP, 3, 1>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, 0, d.S);
      } else if (shared_s2) {
        pixels<kMP, 3, 2>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, 0, d.S);
      } else {
        pixels<kMP>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, 0, d.S);
      }
      ow += kMP;
      run_begin = ow;
      continue;
    }
    // A run of at least kMP edge pixels (the left or right end of the row,
    // or all of it: a 7x7 image with a 5x5 filter) goes kMP at a time
    // through the edge kernel; its last tile starts kMP before the run's
    // end and may recompute pixels the tile before it wrote (the same
    // values). Shorter runs go one pixel at a time: there the edge tile's
    // masked taps measured slower than single pixels (EfficientNet-Lite0
    // batch 8: 3x3 at 14x14 0.7x, 5x5 at 28x28 0.93x; 5x5 at 7x7 1.3x).
    const int run_end = ow < first_tile ? first_tile : d.ow_end;
    if (run_end - run_begin >= kMP) {
      const int t0 = std::min(ow, run_end - kMP);
      pixels<kMP, kEdge>(g, ep, t0 - d.ow_begin, t0 * g.stride_w - g.pad_left, row0, dil_row, r_begin, r_end, 0,
                         d.S);
      ow = t0 + kMP;
      continue;
    }
    int s_begin = 0, s_end = d.S;
    while (s_begin < d.S && iw0 + s_begin * g.dilation_w < 0) ++s_begin;
    while (s_end > s_begin && iw0 + (s_end - 1) * g.dilation_w >= d.W) --s_end;
    pixels<1>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, s_begin, s_end);
    ++ow;
  }
}

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
