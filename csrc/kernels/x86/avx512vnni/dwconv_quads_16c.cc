// Depthwise int8 conv microkernels, AVX512-VNNI, on quad rows
// (abi/dwconv_pairs_s8.h; x86/conv_dw_pairs.cc drives them with
// DwPairsUkernel::taps 4): dw_quad_build rewrites an input row as u8 tap
// quads, dw_quad_row computes an output row from R of them.
//
// Register tile (dw_quad_row): kPix output columns x up to kBlocks zmm
// blocks of 16 channels = up to 16 int32 accumulators, each started at its
// channels' -128 * sum(w); per filter row and tap quad one weight register
// per block (w[4q..4q + 3] per channel, int8) serves the kPix columns, and
// each column's quad vector (four taps of 16 channels, u8 = v + 128) is
// vpdpbusd's memory operand: one instruction per 64 multiply-adds, where the
// pair kernel (dwconv_pairs_16c.cc) does 32 and the one-tap kernel
// (dwconv_64c.cc) 16. A 3x3 filter row takes one vpdpbusd, a 5x5 row two
// (against 3 vpdpwssd on pair rows), a 7x7 row two.
//
// Packed weights (conv_dw_pairs.cc's pack_quads): per block of 16 channels,
// 16 int32 compensations, then [R][P][16][4] int8, zero past S and for
// channels >= C. Quad rows: [cols][cb][4] uint8; padding taps hold
// pad_value + 128, so the inner loop has no bounds checks and a padding tap
// adds pad_value * w as the reference's. vpdpbusd adds four u8 x s8
// products to an int32 lane without saturation; the window's sums fit
// int32 with room to spare: exact. The epilogue is dw_tile_store.h's.
#include <immintrin.h>

#include <cstdint>

#include "kernels/abi/dwconv_pairs_s8.h"
#include "kernels/x86/avx512vnni/dw_tile_store.h"
#include "kernels/x86/dw_pair_loops.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {
namespace {

constexpr int kPix = 4, kBlocks = 4;
static_assert(kDwPairBlock == 16, "one zmm of u8 quads per block");

// Output columns [ow, ow + NPIX) x blocks [b0, b0 + NB) of 16 channels
// (ce: the blocks' epilogue operands, nc: channels of the group inside C).
template <int NPIX, int NB>
inline void tile(const DwPairRow& d, const TileEpilogue& ep, const ChannelEpilogue* ce, int nc, int ow, int b0) {
  const int64_t col = int64_t{d.cb} * 4;  // bytes per quad-row column
  const int64_t w_block = (1 + int64_t{d.R} * d.P) * 64;
  const auto* wb = reinterpret_cast<const int8_t*>(d.w) + int64_t{b0} * w_block;
  __m512i acc[NPIX][NB];
  #pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const __m512i comp = _mm512_load_si512(wb + j * w_block);
    #pragma GCC unroll 8
    for (int i = 0; i < NPIX; ++i) acc[i][j] = comp;
  }
  const int64_t pix = int64_t{d.col_per_ow} * col;
  for (int r = 0; r < d.R; ++r) {
    const auto* x0 = reinterpret_cast<const uint8_t*>(d.rows[r]) + ow * pix + int64_t{b0} * 64;
    const int8_t* w0 = wb + 64 + int64_t{r} * d.P * 64;
    for (int q = 0; q < d.P; ++q) {
      const uint8_t* xq = x0 + int64_t{q} * d.col_per_pair * col;
      #pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        const __m512i w = _mm512_load_si512(w0 + j * w_block + q * 64);
        #pragma GCC unroll 8
        for (int i = 0; i < NPIX; ++i) {
          const __m512i x = _mm512_loadu_si512(xq + i * pix + j * 64);
          acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], x, w);
        }
      }
    }
  }
  store_dw_tile<NPIX, NB>(acc, ep, ce, nc, ow, b0 * 16);
}

// Every output column of blocks [b0, b0 + NB), the blocks' epilogue
// operands loaded once for the row.
template <int NB>
void block_group(const DwPairRow& d, const TileEpilogue& ep, int b0) {
  ChannelEpilogue ce[NB];
  const int nc = load_dw_group_epilogue<NB>(ep, d.C, b0, ce);
  int ow = 0;
  for (; ow + kPix <= d.OW; ow += kPix) tile<kPix, NB>(d, ep, ce, nc, ow, b0);
  // The last 1-3 columns as one tile (7 x 7 planes: 4 + 3), sharing its weight loads.
  switch (d.OW - ow) {
    case 3: tile<3, NB>(d, ep, ce, nc, ow, b0); break;
    case 2: tile<2, NB>(d, ep, ce, nc, ow, b0); break;
    case 1: tile<1, NB>(d, ep, ce, nc, ow, b0); break;
    default: break;
  }
}

}  // namespace

void dw_quad_build(const DwPairSource& s) {
  const __m512i pad = _mm512_set1_epi8(static_cast<char>(s.pad_value));
  const __m512i shift = _mm512_set1_epi8(static_cast<char>(0x80));
  for_each_quad_column(s, [&](int16_t* column, const int8_t* const* src) {
    auto* o = reinterpret_cast<int8_t*>(column);
    for (int c = 0; c < s.cb; c += 64) {
      // Channels [c, c + 64) inside C (those past it meet zero weights).
      const int n = s.C - c;
      const __mmask64 m = n >= 64 ? ~__mmask64{0} : n <= 0 ? __mmask64{0} : (__mmask64{1} << n) - 1;
      __m512i v[4];
      for (int t = 0; t < 4; ++t) v[t] = src[t] == nullptr ? pad : _mm512_maskz_loadu_epi8(m, src[t] + c);
      // Per 128-bit lane k: bytes of taps (0, 1) and (2, 3) interleaved,
      // then quads of channels 16k + 0..3, 4..7, 8..11, 12..15.
      const __m512i ab_lo = _mm512_unpacklo_epi8(v[0], v[1]), ab_hi = _mm512_unpackhi_epi8(v[0], v[1]);
      const __m512i cd_lo = _mm512_unpacklo_epi8(v[2], v[3]), cd_hi = _mm512_unpackhi_epi8(v[2], v[3]);
      const __m512i q0 = _mm512_unpacklo_epi16(ab_lo, cd_lo), q1 = _mm512_unpackhi_epi16(ab_lo, cd_lo);
      const __m512i q2 = _mm512_unpacklo_epi16(ab_hi, cd_hi), q3 = _mm512_unpackhi_epi16(ab_hi, cd_hi);
      // The 4 x 4 transpose of 128-bit lanes: block k = lane k of q0..q3.
      const __m512i t0 = _mm512_shuffle_i64x2(q0, q1, _MM_SHUFFLE(1, 0, 1, 0));
      const __m512i t1 = _mm512_shuffle_i64x2(q2, q3, _MM_SHUFFLE(1, 0, 1, 0));
      const __m512i t2 = _mm512_shuffle_i64x2(q0, q1, _MM_SHUFFLE(3, 2, 3, 2));
      const __m512i t3 = _mm512_shuffle_i64x2(q2, q3, _MM_SHUFFLE(3, 2, 3, 2));
      const __m512i blocks[4] = {_mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(3, 1, 3, 1)),
                                 _mm512_shuffle_i64x2(t2, t3, _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_i64x2(t2, t3, _MM_SHUFFLE(3, 1, 3, 1))};
      #pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        if (c + 16 * k < s.cb) _mm512_storeu_si512(o + int64_t{c + 16 * k} * 4, _mm512_xor_si512(blocks[k], shift));
      }
    }
  });
}

void dw_quad_row(const DwPairRow& d) {
  // A local copy of the epilogue (int8 stores could alias its fields).
  const TileEpilogue ep = d.ep;
  for_block_groups<kBlocks>(d.cb / 16, [&](auto nb, int b0) { block_group<decltype(nb)::value>(d, ep, b0); });
}

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
