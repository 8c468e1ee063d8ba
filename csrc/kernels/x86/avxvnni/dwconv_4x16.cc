// Depthwise int8 conv microkernel, AVX-VNNI (VEX, 256-bit): one output row,
// 4 pixels x 16 channels (2 ymm blocks of 8) at a time. The 256-bit port of
// avx512vnni/dwconv_64c.cc for CPUs with AVX-VNNI but no AVX-512.
//
// Register tile: 4 output pixels (interior) or 1 (near the borders) x 2
// blocks of 8 channels = up to 8 int32 accumulators; per tap and block one
// weight register shared by the pixels (16 ymm in all, see below).
//
// Packed weights (pack_dw_weights in x86/packing.cc, block 8):
// [C/8][tap][8] int32, each the weight in the low int16 and 0 in the high
// int16. Activations are sign-extended to int32 (vpmovsxbd), so each int32
// lane is the int16 pair (x, sign(x)) and vpdpwssd adds x * w + sign * 0 =
// x * w exactly. Padding taps read DwRow::pad_value, as in the reference:
// each pixel runs over the filter rows and columns inside the input; with
// pad_value != 0 the filter rows outside come from the driver as the
// accumulators' start (DwRow::acc_init) and edge pixels add pad_value * w
// for their columns outside (add_padding_columns; interior pixels pay
// nothing). A partial last block (C % 8) is read through avx2::load_s8x8 and
// stored through the epilogue's partial path, so nothing past C is touched.
//
// Interior tiles of 3-wide filters with stride 1 or 2 and no column dilation
// (MobileNet's depthwise layers) read only (4 - 1) * stride + 3 distinct
// input columns per filter row (6 or 9 instead of 12). Each column is
// widened once and fed to every (pixel, tap) pair that reads it, with the
// row's 3 weights held in registers: 8 accumulators + 3 weights + 1 column.
// Integer sums, so the order of the taps does not change any result.
// Epilogue: avx2/epilogue.h (ref/requantize.h on 8 lanes).
#include <immintrin.h>

#include <cstdint>

#include "kernels/x86/avx2/epilogue.h"
#include "kernels/x86/avxvnni/dpbusd.h"
#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AVXVNNI_NS {
namespace {

constexpr int kMP = 4;  // interior pixels per call
constexpr int kNB = 2;  // blocks of 8 channels per group

// The row's geometry in locals (the DwRow fields would otherwise be reloaded
// after every store, the compiler being unable to rule out aliasing).
struct Geometry {
  const int8_t* x;
  int64_t row_stride;  // W * C
  int C, R, S, taps, stride_w, dilation_w;
  const int32_t* w;
  int pad_value;
  const int32_t* acc_init;  // DwRow::acc_init
};

// The accumulators of MP pixels, blocks [cb0, cb0 + NB), at their start:
// the padding rows' share (DwRow::acc_init) or 0.
template <int MP, int NB>
inline void start_accumulators(__m256i (&acc)[MP][NB], const Geometry& g, int cb0) {
#pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const __m256i a = g.acc_init
                          ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.acc_init + cb0 * 8 + 8 * j))
                          : _mm256_setzero_si256();
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
inline void add_padding_columns(__m256i (&acc)[MP][NB], const Geometry& g, int cb0, int r_begin, int r_end,
                                int s_begin, int s_end) {
  const __m256i pv = _mm256_set1_epi32(g.pad_value);
  const int32_t* wblock = g.w + static_cast<int64_t>(cb0) * g.taps * 8;
  const int64_t wstride = static_cast<int64_t>(g.taps) * 8;  // between blocks
  for (int r = r_begin; r < r_end; ++r) {
    for (int s = 0; s < g.S; ++s) {
      if (s >= s_begin && s < s_end) continue;
      const int32_t* wp = wblock + (r * g.S + s) * 8;
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + j * wstride));
#pragma GCC unroll 8
        for (int p = 0; p < MP; ++p) acc[p][j] = INT8RT_DPWSSD256(acc[p][j], pv, wv);
      }
    }
  }
}

// 8 channels at p, sign-extended to int32; the last, partial block of a
// row (valid < 8) reads only its valid bytes.
template <bool kPartial>
inline __m256i widen(const int8_t* p, int valid) {
  if constexpr (kPartial) return avx2::load_s8x8(p, valid);
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// Channels [cb0*8, cb0*8 + NB*8) of MP output pixels ow0, ow0 + 1, ... whose
// filter windows all cover columns [s_begin, s_end) inside the input (MP > 1
// only for interior pixels), filter rows [r_begin, r_end). kTail: the last
// block is partial.
template <int MP, int NB, bool kTail>
void pixel_blocks(const Geometry& g, const TileEpilogue& ep, int64_t out_row, int iw0,
                  int64_t row0, int64_t dil_row, int r_begin, int r_end, int s_begin, int s_end,
                  int cb0) {
  const int c0 = cb0 * 8;
  const int tail_valid = g.C - c0 - 8 * (NB - 1);
  const int64_t pixel_step = static_cast<int64_t>(g.stride_w) * g.C;
  __m256i acc[MP][NB];
  start_accumulators<MP, NB>(acc, g, cb0);
  const int32_t* wblock = g.w + static_cast<int64_t>(cb0) * g.taps * 8;
  const int64_t wstride = static_cast<int64_t>(g.taps) * 8;  // between blocks
  for (int r = r_begin; r < r_end; ++r) {
    const int8_t* xr = g.x + row0 + r * dil_row + c0;  // in bounds: row r is inside
    for (int s = s_begin; s < s_end; ++s) {
      const int8_t* xp = xr + static_cast<int64_t>(iw0 + s * g.dilation_w) * g.C;
      const int32_t* wp = wblock + (r * g.S + s) * 8;
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + j * wstride));
#pragma GCC unroll 8
        for (int p = 0; p < MP; ++p) {
          const int8_t* xj = xp + p * pixel_step + 8 * j;
          const __m256i xv = (kTail && j == NB - 1) ? widen<true>(xj, tail_valid)
                                                    : widen<false>(xj, 8);
          acc[p][j] = INT8RT_DPWSSD256(acc[p][j], xv, wv);
        }
      }
    }
  }
  if (reads_padding_columns(g, s_begin, s_end)) {
    add_padding_columns<MP, NB>(acc, g, cb0, r_begin, r_end, s_begin, s_end);
  }
  // A local copy of the epilogue (avx2/epilogue.h: int8 stores alias).
  const TileEpilogue e = ep;
#pragma GCC unroll 8
  for (int p = 0; p < MP; ++p) {
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      avx2::store_requantized(acc[p][j], e, out_row + p, c0 + 8 * j, g.C - c0 - 8 * j);
    }
  }
}

// pixel_blocks for 3-wide filters, column stride KST, column dilation 1, all
// taps inside the input: per filter row and block, input column q (of the
// NCOL the MP pixels read) is widened once and accumulated into pixel p
// with tap s wherever p * KST + s == q.
template <int MP, int NB, bool kTail, int KST>
void pixel_blocks_shared(const Geometry& g, const TileEpilogue& ep, int64_t out_row, int iw0,
                         int64_t row0, int64_t dil_row, int r_begin, int r_end, int cb0) {
  constexpr int KS = 3;
  constexpr int NCOL = (MP - 1) * KST + KS;
  const int c0 = cb0 * 8;
  const int tail_valid = g.C - c0 - 8 * (NB - 1);
  __m256i acc[MP][NB];
  start_accumulators<MP, NB>(acc, g, cb0);
  const int32_t* wblock = g.w + static_cast<int64_t>(cb0) * g.taps * 8;
  const int64_t wstride = static_cast<int64_t>(g.taps) * 8;  // between blocks
  for (int r = r_begin; r < r_end; ++r) {
    const int8_t* xr = g.x + row0 + r * dil_row + c0 + static_cast<int64_t>(iw0) * g.C;
    const int32_t* wr = wblock + r * KS * 8;
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      __m256i wv[KS];
#pragma GCC unroll 8
      for (int s = 0; s < KS; ++s) {
        wv[s] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + s * 8 + j * wstride));
      }
#pragma GCC unroll 16
      for (int q = 0; q < NCOL; ++q) {
        const int8_t* xq = xr + static_cast<int64_t>(q) * g.C + 8 * j;
        const __m256i col = (kTail && j == NB - 1) ? widen<true>(xq, tail_valid)
                                                   : widen<false>(xq, 8);
#pragma GCC unroll 8
        for (int s = 0; s < KS; ++s) {
          const int p = (q - s) / KST;
          if (q >= s && (q - s) % KST == 0 && p < MP) {
            acc[p][j] = INT8RT_DPWSSD256(acc[p][j], col, wv[s]);
          }
        }
      }
    }
  }
  // A local copy of the epilogue (avx2/epilogue.h: int8 stores alias).
  const TileEpilogue e = ep;
#pragma GCC unroll 8
  for (int p = 0; p < MP; ++p) {
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      avx2::store_requantized(acc[p][j], e, out_row + p, c0 + 8 * j, g.C - c0 - 8 * j);
    }
  }
}

// One group of NB blocks through the general kernel (KST == 0) or the
// shared-columns one (3-wide filter, column stride KST).
template <int MP, int NB, bool kTail, int KST>
void blocks(const Geometry& g, const TileEpilogue& ep, int64_t out_row, int iw0, int64_t row0,
            int64_t dil_row, int r_begin, int r_end, int s_begin, int s_end, int cb0) {
  if constexpr (KST > 0) {
    pixel_blocks_shared<MP, NB, kTail, KST>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end,
                                            cb0);
  } else {
    pixel_blocks<MP, NB, kTail>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, s_begin,
                                s_end, cb0);
  }
}

// All channels of MP pixels: groups of kNB full blocks, then the rest (one
// block, or a full block and a partial one, or a partial one).
template <int MP, int KST = 0>
void pixels(const Geometry& g, const TileEpilogue& ep, int64_t out_row, int iw0, int64_t row0,
            int64_t dil_row, int r_begin, int r_end, int s_begin, int s_end) {
  const int full_blocks = g.C / 8;
  const bool partial = g.C % 8 != 0;
  int cb = 0;
  for (; cb + kNB <= full_blocks; cb += kNB) {
    blocks<MP, kNB, false, KST>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, s_begin,
                                s_end, cb);
  }
  const int rest = full_blocks - cb + (partial ? 1 : 0);  // 0, 1 or 2 blocks
  if (rest == 2) {
    if (partial) {
      blocks<MP, 2, true, KST>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, s_begin,
                               s_end, cb);
    } else {
      blocks<MP, 2, false, KST>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, s_begin,
                                s_end, cb);
    }
  } else if (rest == 1) {
    if (partial) {
      blocks<MP, 1, true, KST>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, s_begin,
                               s_end, cb);
    } else {
      blocks<MP, 1, false, KST>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, s_begin,
                                s_end, cb);
    }
  }
}

}  // namespace

void dwconv_row(const DwRow& d) {
  const Geometry g{d.x, static_cast<int64_t>(d.W) * d.C, d.C, d.R, d.S, d.R * d.S,
                   d.stride_w, d.dilation_w, d.w, d.pad_value, d.acc_init};
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
  for (int ow = d.ow_begin; ow < d.ow_end;) {
    const int iw0 = ow * g.stride_w - d.pad_left;
    const int64_t out_row = ow - d.ow_begin;
    const int iw_last = iw0 + (kMP - 1) * g.stride_w;
    if (iw0 >= 0 && ow + kMP <= d.ow_end && iw_last + span < d.W) {
      if (shared_s1) {
        pixels<kMP, 1>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, 0, d.S);
      } else if (shared_s2) {
        pixels<kMP, 2>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, 0, d.S);
      } else {
        pixels<kMP>(g, ep, out_row, iw0, row0, dil_row, r_begin, r_end, 0, d.S);
      }
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

}  // namespace INT8RT_AVXVNNI_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
