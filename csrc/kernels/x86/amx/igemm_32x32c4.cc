// int8 GEMM microkernel, AMX-INT8, tile 32 x 32: tdpbssd (s8 x s8) on int8
// codes (gemm_tile), tdpbusd (u8 x s8) on u8 codes q + 128 (gemm_tile_u8).
//
// One call: rows [0, mr) (any mr >= 1, in row tiles of 32) x all channel
// blocks, as steps of one row tile x one pair of blocks (gemm_tile_rows).
// Tile registers (palette 1, configured per call, again for a partial last
// row tile):
//   tmm0 C[rows 0-15][ch 0-15]   tmm1 C[0-15][16-31]    (int32, 16 x 64 B)
//   tmm2 C[16-31][0-15]          tmm3 C[16-31][16-31]
//   tmm4 A rows 0-15, tmm5 A rows 16-31: 64 reduction bytes per row
//   tmm6 B block j, tmm7 B block j+1: 16 rows (groups of 4 reduction
//        bytes) x 16 channels x 4 bytes
// Rows past mr are not configured (rows = mr - 16, or tiles 2, 3, 5 unused),
// so no byte past the caller's rows is read. The A rows of a tile must be
// 64-byte aligned to run at speed (a tile row over two lines: ~25% slower,
// RESULTS.md section 168).
//
// Packed B (x86/conv_amx.cc, pack_amx_weights), per block of 16 channels and
// 64-byte reduction chunk kk, one 1 KiB tile in tdpbssd's B layout:
//   w[block][kk][q][l][e] = weight of channel l at reduction index
//   kk*64 + 4q + e (zero past the reduction and past the last channel),
// blocks w_block_stride = kchunks * 1 KiB apart.
//
// A: a + i * a_stride holds reduction bytes [0, kchunks * 64) of row i.
// tdpbssd multiplies signed by signed bytes: no +128 shift, no weight sums.
// Rows of u8 codes (ConvShape::input_codes, the driver's padding bytes
// code_byte(pad_value) too) take tdpbusd, u8 by s8, as they are: the C tiles
// start at acc_init's -128 * sum(w) (one tileloadd of stride 0 per tile in
// place of tilezero), so the sums are exactly sum(q * w), as tdpbssd's.
// The int32 sums wrap mod 2^32 and the true sum fits (kMaxReduction), so the
// accumulators are exact. Accumulators go through two 32 x 32 int32 buffers
// (one filled while the other is requantized) to the AVX-512 epilogue of
// avx512vnni/epilogue.h (ref/requantize.h in vector form), so AMX adds no
// arithmetic of its own after the dot products.
// u8-coded residual and output (TileEpilogue::residual_xor / out_xor): the
// residual rows of each step are read xor-ed into a 32 x 32 buffer
// and the stored output rows xor-ed in place, here rather than in that
// epilogue, whose emulated build (the twins' AVX-512 emulation) takes no xors,
// so that the one source behaves alike in both builds.
//
// Compiled twice from this text (kernels/x86/amx/amx_tile.h): natively in
// the library (namespace amx) and, in the tests, against amx_emulation.h
// and, for the epilogue's AVX-512, emulation/avx512_emulation.h (namespace
// emulated::amx, baseline flags: runs on any x86-64 CPU).
#include <cstdint>

#include "kernels/x86/amx/amx_tile.h"
#include "kernels/x86/amx/table_rows.h"
#include "kernels/x86/avx512vnni/epilogue.h"
#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AMX_NS {
namespace {

constexpr int kTileBytes = 16 * 64;
constexpr int kAccStride = 32 * 4;  // bytes per row of the accumulator buffer

// The dot product of C tile c, A tile a, B tile b: tdpbusd on rows of u8
// codes, tdpbssd on int8 codes. Its C tile's start: acc_init's 16 channels
// on every row (stride 0), or zero. (Tile numbers must be literals.)
#define INT8RT_AMX_DOT(c, a, b)   \
  do {                            \
    if constexpr (kU8Rows) {      \
      INT8RT_TILE_DPBUSD(c, a, b); \
    } else {                      \
      INT8RT_TILE_DPBSSD(c, a, b); \
    }                             \
  } while (0)
#define INT8RT_AMX_START(c, init)           \
  do {                                      \
    if constexpr (kU8Rows) {                \
      INT8RT_TILE_LOADD(c, init, 0);        \
    } else {                                \
      INT8RT_TILE_ZERO(c);                  \
    }                                       \
  } while (0)

// C = A x B over all chunks for one or two row tiles and one or two blocks,
// left in tmm0-3 (stored by store_tiles); init: the first block's acc_init
// (kU8Rows).
template <bool kU8Rows, bool kTwoRows, bool kTwoBlocks>
void dot_tiles(const AmxTile& t, const int8_t* a, const int8_t* w, const int32_t* init) {
  INT8RT_AMX_START(0, init);
  if constexpr (kTwoBlocks) INT8RT_AMX_START(1, init + 16);
  if constexpr (kTwoRows) INT8RT_AMX_START(2, init);
  if constexpr (kTwoRows && kTwoBlocks) INT8RT_AMX_START(3, init + 16);
  const int8_t* a0 = a;
  const int8_t* a1 = a + 16 * t.a_stride;
  const int8_t* w1 = w + t.w_block_stride;
  for (int kk = 0; kk < t.kchunks; ++kk) {
    INT8RT_TILE_LOADD(4, a0 + 64 * kk, t.a_stride);
    INT8RT_TILE_LOADD(6, w + kTileBytes * kk, 64);
    INT8RT_AMX_DOT(0, 4, 6);
    if constexpr (kTwoBlocks) {
      INT8RT_TILE_LOADD(7, w1 + kTileBytes * kk, 64);
      INT8RT_AMX_DOT(1, 4, 7);
    }
    if constexpr (kTwoRows) {
      INT8RT_TILE_LOADD(5, a1 + 64 * kk, t.a_stride);
      INT8RT_AMX_DOT(2, 5, 6);
      if constexpr (kTwoBlocks) INT8RT_AMX_DOT(3, 5, 7);
    }
  }
}

// tmm0-3 to acc (row i at acc + i * 32, channel 16 * block + l).
template <bool kTwoRows, bool kTwoBlocks>
void store_tiles(int32_t* acc) {
  INT8RT_TILE_STORED(0, acc, kAccStride);
  if constexpr (kTwoBlocks) INT8RT_TILE_STORED(1, acc + 16, kAccStride);
  if constexpr (kTwoRows) INT8RT_TILE_STORED(2, acc + 16 * 32, kAccStride);
  if constexpr (kTwoRows && kTwoBlocks) INT8RT_TILE_STORED(3, acc + 16 * 32 + 16, kAccStride);
}

#undef INT8RT_AMX_DOT
#undef INT8RT_AMX_START

// Bytes [0, n) of `rows` rows (src_stride apart) xor 0x80 into dst (dst_stride apart).
void xor_rows(const int8_t* src, int64_t src_stride, int rows, int n, int8_t* dst, int64_t dst_stride) {
  for (int i = 0; i < rows; ++i) {
    const int8_t* s = src + i * src_stride;
    int8_t* d = dst + i * dst_stride;
    for (int l = 0; l < n; ++l) d[l] = static_cast<int8_t>(s[l] ^ 0x80);
  }
}

// The epilogue of rows [r0, r0 + mr) and channels [c0, c0 + n) of t's
// (pointers moved there), its residual rows xor-ed into `codes` (32 bytes
// apart) where u8-coded; no xors.
TileEpilogue step_epilogue(const TileEpilogue& e, int r0, int mr, int c0, int n, int8_t* codes) {
  TileEpilogue pe = e;
  pe.scale = e.scale + c0;
  pe.bias = e.bias ? e.bias + c0 : nullptr;
  const int64_t at = r0 * e.y_stride + c0;
  pe.y = e.out_f32 ? static_cast<void*>(static_cast<float*>(e.y) + at) : static_cast<void*>(static_cast<int8_t*>(e.y) + at);
  if (e.residual && e.residual_xor) {
    xor_rows(e.residual + r0 * e.residual_stride + c0, e.residual_stride, mr, n, codes, 32);
    pe.residual = codes;
    pe.residual_stride = 32;
  } else if (e.residual) {
    pe.residual = e.residual + r0 * e.residual_stride + c0;
  }
  pe.out_xor = 0;
  pe.residual_xor = 0;
  return pe;
}

// One step of a call: row tile r (rows [32r, 32r + mr)) x pair of blocks p.
struct Step {
  int r, p, mr;
  bool two_rows, two_blocks;
};

Step step_at(const AmxTile& t, int s, int pairs, int blocks) {
  const int r = s / pairs, p = s % pairs;
  const int left = t.mr - 32 * r;
  return {r, p, left < 32 ? left : 32, left > 16, 2 * p + 1 < blocks};
}

// Loads the tile shapes of a row tile of mr rows.
void configure_rows(int mr) { configure_2x2(mr < 16 ? mr : 16, mr > 16 ? mr - 16 : 0, 64); }

// Issues step st's dot products.
template <bool kU8Rows>
void dot_step(const AmxTile& t, const Step& st) {
  const int8_t* a = t.a + int64_t{32} * st.r * t.a_stride;
  const int8_t* w = t.w + 2 * st.p * t.w_block_stride;
  const int32_t* init = kU8Rows ? t.acc_init + 32 * st.p : nullptr;
  if (st.two_rows) {
    st.two_blocks ? dot_tiles<kU8Rows, true, true>(t, a, w, init) : dot_tiles<kU8Rows, true, false>(t, a, w, init);
  } else {
    st.two_blocks ? dot_tiles<kU8Rows, false, true>(t, a, w, init) : dot_tiles<kU8Rows, false, false>(t, a, w, init);
  }
}

void store_step(const Step& st, int32_t* acc) {
  if (st.two_rows) {
    st.two_blocks ? store_tiles<true, true>(acc) : store_tiles<true, false>(acc);
  } else {
    st.two_blocks ? store_tiles<false, true>(acc) : store_tiles<false, false>(acc);
  }
}

// Requantizes and stores step st's sums (acc, rows 32 apart).
void epilogue_step(const AmxTile& t, const Step& st, const int32_t* acc, int8_t* residual) {
  const int c0 = 32 * st.p;
  const int n = t.nc - c0 < 32 ? t.nc - c0 : 32;
  const TileEpilogue ep = step_epilogue(t.ep, 32 * st.r, st.mr, c0, n, residual);
  const avx512vnni::ChannelEpilogue ce[2] = {avx512vnni::load_channel_epilogue(ep, 0, n < 16 ? n : 16),
                                             avx512vnni::load_channel_epilogue(ep, 16, n > 16 ? n - 16 : 1)};
  if (ep.out_f32) {
    for (int jj = 0; jj < (n > 16 ? 2 : 1); ++jj) {
      for (int i = 0; i < st.mr; ++i) {
        avx512vnni::store_requantized(_mm512_load_si512(acc + 32 * i + 16 * jj), ce[jj], ep, i, 16 * jj);
      }
    }
    return;
  }
  // int8: both blocks of a row narrowed together, one masked store per row.
  const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
  int8_t* y = static_cast<int8_t*>(ep.y);
  for (int i = 0; i < st.mr; ++i) {
    __m512i rows[2] = {_mm512_load_si512(acc + 32 * i), _mm512_setzero_si512()};
    if (n > 16) rows[1] = _mm512_load_si512(acc + 32 * i + 16);
    avx512vnni::store_requantized_row<2>(rows, ce, n, ep.residual ? ep.residual + i * ep.residual_stride : nullptr,
                                         ep.residual_scale, lo, hi, y + i * ep.y_stride);
  }
  if (ep.table) table_rows(y, ep.y_stride, st.mr, n, ep.table);  // Epilogue::table (amx/table_rows.h)
  if (t.ep.out_xor) xor_rows(y, ep.y_stride, st.mr, n, y, ep.y_stride);
}

// Steps (row tile, pair of blocks), row tile outer, software-pipelined: step
// s + 1's dot products are issued before step s's epilogue, so the tile unit
// computes while the AVX-512 ports requantize. Tile registers are not
// renamed: step s's sums leave tmm0-3 for acc[s % 2] first (a partial last
// row tile's LDTILECFG, which zeroes the tiles, comes after that store).
template <bool kU8Rows>
void gemm_tile_rows(const AmxTile& t) {
  alignas(64) int32_t acc[2][32 * 32];
  alignas(64) int8_t residual[32 * 32];  // a step's u8-coded residual rows, as codes
  const int blocks = (t.nc + 15) / 16;
  const int pairs = (blocks + 1) / 2;
  const int steps = (t.mr + 31) / 32 * pairs;
  Step st = step_at(t, 0, pairs, blocks);
  configure_rows(st.mr);
  dot_step<kU8Rows>(t, st);
  for (int s = 0; s < steps; ++s) {
    store_step(st, acc[s & 1]);
    const Step done = st;
    if (s + 1 < steps) {
      st = step_at(t, s + 1, pairs, blocks);
      if (st.mr != done.mr) configure_rows(st.mr);
      dot_step<kU8Rows>(t, st);
    }
    epilogue_step(t, done, acc[s & 1], residual);
  }
  INT8RT_TILE_RELEASE();
}

}  // namespace

void gemm_tile(const AmxTile& t) { gemm_tile_rows<false>(t); }
void gemm_tile_u8(const AmxTile& t) { gemm_tile_rows<true>(t); }

}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
