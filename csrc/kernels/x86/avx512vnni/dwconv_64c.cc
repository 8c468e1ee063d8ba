// Depthwise int8 conv microkernel, AVX512-VNNI: one output row, 4 pixels x
// 64 channels (4 zmm blocks of 16) at a time.
//
// Register tile: 4 output pixels (interior) or 1 (near the borders) x up to
// 4 blocks of 16 channels = up to 16 int32 accumulators; per tap and block
// one weight register shared by the pixels.
//
// Packed weights (pack_dw_weights, block 16): [C/16][tap][16] int32, each
// the weight in the low int16 and 0 in the high int16. Activations are
// sign-extended to int32 (vpmovsxbd), so each int32 lane is the int16 pair
// (x, sign(x)) and vpdpwssd adds x * w + sign * 0 = x * w exactly.
// Padding taps are skipped (they contribute 0, as in the reference): each
// pixel runs over the filter rows and columns inside the input. Full blocks
// use plain loads; only a partial last block goes through a channel mask.
#include <immintrin.h>

#include <cstdint>

#include "kernels/x86/avx512vnni/epilogue.h"
#include "kernels/x86/ukernel_abi.h"

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
  int C, W, S, taps, stride_w, pad_left, dilation_w;
  const int32_t* w;
};

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
#pragma GCC unroll 8
  for (int p = 0; p < MP; ++p) {
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) acc[p][j] = _mm512_setzero_si512();
  }
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
#pragma GCC unroll 8
  for (int p = 0; p < MP; ++p) {
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      store_requantized(acc[p][j], ep, out_row + p, c0 + 16 * j, g.C - c0 - 16 * j);
    }
  }
}

// All channels of MP pixels: groups of 4 blocks, then the rest (the last
// block maybe partial).
template <int MP>
void pixels(const Geometry& g, const TileEpilogue& ep, int64_t out_row, int iw0, int64_t row0,
            int64_t dil_row, int r_begin, int r_end, int s_begin, int s_end) {
  const int blocks = (g.C + 15) / 16;
  const bool partial = g.C % 16 != 0;
  const int full_groups = (blocks - (partial ? 1 : 0)) / 4;
  const int rest = blocks - 4 * full_groups;
  const int cb = 4 * full_groups;
  for (int q = 0; q < full_groups; ++q) {
    pixel_blocks<MP, 4, false>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, s_begin,
                               s_end, 4 * q);
  }
#define INT8RT_DW_REST(NB)                                                                   \
  (partial ? pixel_blocks<MP, NB, true>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, \
                                        s_begin, s_end, cb)                                 \
           : pixel_blocks<MP, NB, false>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, \
                                         s_begin, s_end, cb))
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
  const Geometry g{d.x, static_cast<int64_t>(d.W) * d.C, d.C, d.W, d.S, d.R * d.S,
                   d.stride_w, d.pad_left, d.dilation_w, d.w};
  const TileEpilogue ep = d.ep;
  // Filter rows inside the input are the same for the whole output row.
  const int ih0 = d.oh * d.stride_h - d.pad_top;
  int r_begin = 0, r_end = d.R;
  while (r_begin < d.R && ih0 + r_begin * d.dilation_h < 0) ++r_begin;
  while (r_end > r_begin && ih0 + (r_end - 1) * d.dilation_h >= d.H) --r_end;
  const int64_t row0 = ih0 * g.row_stride;  // offset of filter row 0 (may be < 0)
  const int64_t dil_row = d.dilation_h * g.row_stride;
  const int span = (d.S - 1) * g.dilation_w;  // last filter column
  for (int ow = d.ow_begin; ow < d.ow_end;) {
    const int iw0 = ow * g.stride_w - g.pad_left;
    const int64_t out_row = ow - d.ow_begin;
    const int iw_last = iw0 + (kMP - 1) * g.stride_w;
    if (iw0 >= 0 && ow + kMP <= d.ow_end && iw_last + span < d.W) {
      pixels<kMP>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, 0, d.S);
      ow += kMP;
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
