// int8 GEMM microkernel, AMX-INT8 (tdpbssd, s8 x s8), tile 32 x 32.
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
// Its int32 sums wrap mod 2^32 and the true sum fits (kMaxReduction), so the
// accumulators are exact. Accumulators go through a 32 x 32 int32 buffer to
// the AVX-512 epilogue of avx512vnni/epilogue.h (ref/requantize.h in vector
// form), so AMX adds no arithmetic of its own after the dot products.
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

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

void set_tile(TileConfig& cfg, int t, int rows) {
  cfg.rows[t] = static_cast<uint8_t>(rows);
  cfg.colsb[t] = 64;
}

// Tiles for m0 (1..16) rows in tmm0/1/4 and m1 (0..16) rows in tmm2/3/5.
void configure(int m0, int m1) {
  TileConfig cfg = {};
  cfg.palette_id = 1;
  set_tile(cfg, 0, m0);
  set_tile(cfg, 1, m0);
  set_tile(cfg, 4, m0);
  if (m1 > 0) {
    set_tile(cfg, 2, m1);
    set_tile(cfg, 3, m1);
    set_tile(cfg, 5, m1);
  }
  set_tile(cfg, 6, 16);
  set_tile(cfg, 7, 16);
  INT8RT_TILE_LOADCONFIG(&cfg);
}

// C = A x B over all chunks for one or two row tiles and one or two blocks,
// stored to acc (row i at acc + i * 32, channel 16 * block + l).
template <bool kTwoRows, bool kTwoBlocks>
void dot_tiles(const AmxTile& t, const int8_t* w, int32_t* acc) {
  INT8RT_TILE_ZERO(0);
  if constexpr (kTwoBlocks) INT8RT_TILE_ZERO(1);
  if constexpr (kTwoRows) INT8RT_TILE_ZERO(2);
  if constexpr (kTwoRows && kTwoBlocks) INT8RT_TILE_ZERO(3);
  const int8_t* a0 = t.a;
  const int8_t* a1 = t.a + 16 * t.a_stride;
  const int8_t* w1 = w + t.w_block_stride;
  for (int kk = 0; kk < t.kchunks; ++kk) {
    INT8RT_TILE_LOADD(4, a0 + 64 * kk, t.a_stride);
    INT8RT_TILE_LOADD(6, w + kTileBytes * kk, 64);
    INT8RT_TILE_DPBSSD(0, 4, 6);
    if constexpr (kTwoBlocks) {
      INT8RT_TILE_LOADD(7, w1 + kTileBytes * kk, 64);
      INT8RT_TILE_DPBSSD(1, 4, 7);
    }
    if constexpr (kTwoRows) {
      INT8RT_TILE_LOADD(5, a1 + 64 * kk, t.a_stride);
      INT8RT_TILE_DPBSSD(2, 5, 6);
      if constexpr (kTwoBlocks) INT8RT_TILE_DPBSSD(3, 5, 7);
    }
  }
  INT8RT_TILE_STORED(0, acc, kAccStride);
  if constexpr (kTwoBlocks) INT8RT_TILE_STORED(1, acc + 16, kAccStride);
  if constexpr (kTwoRows) INT8RT_TILE_STORED(2, acc + 16 * 32, kAccStride);
  if constexpr (kTwoRows && kTwoBlocks) INT8RT_TILE_STORED(3, acc + 16 * 32 + 16, kAccStride);
}

}  // namespace

void gemm_tile(const AmxTile& t) {
  const int m0 = t.mr < 16 ? t.mr : 16;
  const int m1 = t.mr - m0;
  configure(m0, m1);
  alignas(64) int32_t acc[32 * 32];
  const int blocks = (t.nc + 15) / 16;
  for (int j = 0; j < blocks; j += 2) {
    const bool two_blocks = j + 1 < blocks;
    const int8_t* w = t.w + j * t.w_block_stride;
    if (m1 > 0) {
      two_blocks ? dot_tiles<true, true>(t, w, acc) : dot_tiles<true, false>(t, w, acc);
    } else {
      two_blocks ? dot_tiles<false, true>(t, w, acc) : dot_tiles<false, false>(t, w, acc);
    }
    for (int jj = 0; jj < (two_blocks ? 2 : 1); ++jj) {
      const int c = 16 * (j + jj);
      const int valid = t.nc - c < 16 ? t.nc - c : 16;
      const avx512vnni::ChannelEpilogue ce = avx512vnni::load_channel_epilogue(t.ep, c, valid);
      for (int i = 0; i < t.mr; ++i) {
        avx512vnni::store_requantized(_mm512_load_si512(acc + 32 * i + 16 * jj), ce, t.ep, i, c);
      }
    }
  }
  INT8RT_TILE_RELEASE();
}

}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
