// int8 GEMM microkernel, AMX-INT8, tile 32 x 32: tdpbssd (s8 x s8) on int8
// codes (gemm_tile), tdpbusd (u8 x s8) on u8 codes q + 128 (gemm_tile_u8).
//
// Tile registers (palette 1, configured per call for mr rows):
//   tmm0 C[rows 0-15][ch 0-15]   tmm1 C[0-15][16-31]    (int32, 16 x 64 B)
//   tmm2 C[16-31][0-15]          tmm3 C[16-31][16-31]
//   tmm4 A rows 0-15, tmm5 A rows 16-31: 64 reduction bytes per row
//   tmm6 B block j, tmm7 B block j+1: 16 rows (groups of 4 reduction
//        bytes) x 16 channels x 4 bytes
// Rows past mr are not configured (rows = mr - 16, or tiles 2, 3, 5 unused),
// so no byte past the caller's rows is read.
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
// accumulators are exact. Accumulators go through a 32 x 32 int32 buffer to
// the AVX-512 epilogue of avx512vnni/epilogue.h (ref/requantize.h in vector
// form), so AMX adds no arithmetic of its own after the dot products.
// u8-coded residual and output (TileEpilogue::residual_xor / out_xor): the
// residual rows of each pair of blocks are read xor-ed into a 32 x 32 buffer
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
// stored to acc (row i at acc + i * 32, channel 16 * block + l); init: the
// first block's acc_init (kU8Rows).
template <bool kU8Rows, bool kTwoRows, bool kTwoBlocks>
void dot_tiles(const AmxTile& t, const int8_t* w, const int32_t* init, int32_t* acc) {
  INT8RT_AMX_START(0, init);
  if constexpr (kTwoBlocks) INT8RT_AMX_START(1, init + 16);
  if constexpr (kTwoRows) INT8RT_AMX_START(2, init);
  if constexpr (kTwoRows && kTwoBlocks) INT8RT_AMX_START(3, init + 16);
  const int8_t* a0 = t.a;
  const int8_t* a1 = t.a + 16 * t.a_stride;
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

// The epilogue of channels [c0, c0 + 32) of t's (pointers moved to c0), its
// residual rows xor-ed into `codes` (32 bytes apart) where u8-coded; no xors.
TileEpilogue pair_epilogue(const TileEpilogue& e, int c0, int mr, int n, int8_t* codes) {
  TileEpilogue pe = e;
  pe.scale = e.scale + c0;
  pe.bias = e.bias ? e.bias + c0 : nullptr;
  pe.y = e.out_f32 ? static_cast<void*>(static_cast<float*>(e.y) + c0)
                   : static_cast<void*>(static_cast<int8_t*>(e.y) + c0);
  if (e.residual && e.residual_xor) {
    xor_rows(e.residual + c0, e.residual_stride, mr, n, codes, 32);
    pe.residual = codes;
    pe.residual_stride = 32;
  } else if (e.residual) {
    pe.residual = e.residual + c0;
  }
  pe.out_xor = 0;
  pe.residual_xor = 0;
  return pe;
}

template <bool kU8Rows>
void gemm_tile_rows(const AmxTile& t) {
  const int m0 = t.mr < 16 ? t.mr : 16;
  const int m1 = t.mr - m0;
  configure_2x2(m0, m1, 64);
  alignas(64) int32_t acc[32 * 32];
  alignas(64) int8_t residual[32 * 32];  // a pair of blocks' u8-coded residual rows, as codes
  const bool xor_out = t.ep.out_xor && !t.ep.out_f32;
  const int blocks = (t.nc + 15) / 16;
  for (int j = 0; j < blocks; j += 2) {
    const bool two_blocks = j + 1 < blocks;
    const int8_t* w = t.w + j * t.w_block_stride;
    const int32_t* init = kU8Rows ? t.acc_init + 16 * j : nullptr;
    if (m1 > 0) {
      two_blocks ? dot_tiles<kU8Rows, true, true>(t, w, init, acc) : dot_tiles<kU8Rows, true, false>(t, w, init, acc);
    } else {
      two_blocks ? dot_tiles<kU8Rows, false, true>(t, w, init, acc) : dot_tiles<kU8Rows, false, false>(t, w, init, acc);
    }
    const int c0 = 16 * j;
    const int n = t.nc - c0 < 32 ? t.nc - c0 : 32;
    const TileEpilogue ep = pair_epilogue(t.ep, c0, t.mr, n, residual);
    for (int jj = 0; jj < (two_blocks ? 2 : 1); ++jj) {
      const int c = 16 * jj;
      const int valid = n - c < 16 ? n - c : 16;
      const avx512vnni::ChannelEpilogue ce = avx512vnni::load_channel_epilogue(ep, c, valid);
      for (int i = 0; i < t.mr; ++i) {
        avx512vnni::store_requantized(_mm512_load_si512(acc + 32 * i + 16 * jj), ce, ep, i, c);
      }
    }
    if (xor_out) xor_rows(static_cast<int8_t*>(ep.y), ep.y_stride, t.mr, n, static_cast<int8_t*>(ep.y), ep.y_stride);
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
