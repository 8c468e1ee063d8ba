// BF16 GEMM microkernel, AMX-BF16 (tdpbf16ps), tile 32 x 32: contract in
// kernels/abi/gemm_bf16.h (the AMX order).
//
// Tile registers (palette 1, configured once per call for `rows`):
//   tmm0 C[rows 0-15][cols 0-15]   tmm1 C[0-15][16-31]    (FP32, 16 x 64 B)
//   tmm2 C[16-31][0-15]            tmm3 C[16-31][16-31]
//   tmm4 A rows 0-15, tmm5 A rows 16-31: 16 BF16 pairs (64 B) per row,
//        read in place from the rows_a panel (rows t.a_ld elements apart)
//   tmm6 B cols 0-15, tmm7 B cols 16-31: 16 pairs x 16 columns x 2 BF16,
//        read in place from the B panel [pairs][32][2] (rows 128 B apart)
// Rows past `rows` are not configured (tiles 2, 3, 5 unused below 17 rows),
// so no A row past the caller's is read; padded columns are zero pairs in B.
// A call covers t.col_tiles column tiles side by side (one A row panel, B
// panels t.b_panel elements apart: a GEMM's row panel against a run of
// weight panels), configuring and releasing the tiles once, not per tile.
// Per tile, C starts at zero in tmm0-3 and stays there over the whole of k
// (per block of 16 pairs TDPBF16PS adds (even sum + odd sum) to C); then
// the four tiles go through a 32 x 32 FP32 buffer to the valid part of the
// output (stored, or added with one FP32 add when accumulate), with the tile
// epilogue (bias, residual, clip) of the contract, 16 columns per AVX-512
// step (the emulated twin: kernels/x86/emulation/avx512.h).
//
// Compiled twice from this text (kernels/x86/amx/amx_tile.h): natively in
// the library (namespace amx) and against amx_emulation.h in the tests
// (namespace emulated::amx, baseline flags: runs on any x86-64 CPU).
#include <cstdint>

#include "kernels/abi/gemm_bf16.h"
#include "kernels/x86/amx/amx_tile.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AMX_NS {
namespace {

constexpr int kPairBlock = 16;  // pairs per tdpbf16ps (64 B of A per row)
constexpr int kBStride = 32 * 4;  // bytes per pair row of the B panel
constexpr int kTileCols = 32;     // C columns per tile (the B panel's width)

template <bool kTwoRows>
void dot_tiles(const Bf16Tile& t, const uint16_t* b_panel, float* acc) {
  INT8RT_TILE_ZERO(0);
  INT8RT_TILE_ZERO(1);
  if constexpr (kTwoRows) {
    INT8RT_TILE_ZERO(2);
    INT8RT_TILE_ZERO(3);
  }
  const long a_stride = static_cast<long>(t.a_ld) * 2;
  const uint16_t* a1 = t.a + 16 * t.a_ld;
  for (int64_t p = 0; p < t.pairs; p += kPairBlock) {
    const uint16_t* b = b_panel + p * 64;  // 32 columns x 2 BF16 per pair
    INT8RT_TILE_LOADD(4, t.a + 2 * p, a_stride);
    INT8RT_TILE_LOADD(6, b, kBStride);
    INT8RT_TILE_LOADD(7, b + 32, kBStride);
    INT8RT_TILE_DPBF16PS(0, 4, 6);
    INT8RT_TILE_DPBF16PS(1, 4, 7);
    if constexpr (kTwoRows) {
      INT8RT_TILE_LOADD(5, a1 + 2 * p, a_stride);
      INT8RT_TILE_DPBF16PS(2, 5, 6);
      INT8RT_TILE_DPBF16PS(3, 5, 7);
    }
  }
  INT8RT_TILE_STORED(0, acc, kBStride);
  INT8RT_TILE_STORED(1, acc + 16, kBStride);
  if constexpr (kTwoRows) {
    INT8RT_TILE_STORED(2, acc + 16 * 32, kBStride);
    INT8RT_TILE_STORED(3, acc + 16 * 32 + 16, kBStride);
  }
}

__mmask16 lanes(int n) { return n >= 16 ? 0xFFFF : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1); }

// The epilogue of one column tile, 16 columns at a time (masked past
// cols), each step the scalar one's: C + acc, + bias[r], + residual, then
// the clip with the bounds first (VMAXPS / VMINPS return the second operand
// on a NaN or a tie: ref::clip_f32's results, NaN and -0 kept).
void store_tile(const Bf16Tile& t, const float* acc, float* c_tile, const float* residual, int cols) {
  const __m512 lo = _mm512_set1_ps(t.lo), hi = _mm512_set1_ps(t.hi);
  const __mmask16 masks[2] = {lanes(cols), lanes(cols - 16)};
  for (int r = 0; r < t.rows; ++r) {
    float* c = c_tile + r * t.ldc;
    for (int h = 0; h < 2 && masks[h]; ++h) {
      const __mmask16 m = masks[h];
      __m512 v = _mm512_loadu_ps(acc + 32 * r + 16 * h);
      if (t.accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c + 16 * h), v);
      if (t.bias) v = _mm512_add_ps(v, _mm512_set1_ps(t.bias[r]));
      if (residual) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, residual + r * t.ldr + 16 * h));
      if (t.clip) v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
      _mm512_mask_storeu_ps(c + 16 * h, m, v);
    }
  }
}

}  // namespace

void gemm_bf16_32x32(const Bf16Tile& t) {
  const int m0 = t.rows < 16 ? t.rows : 16;
  const int m1 = t.rows - m0;
  const int tiles = t.col_tiles > 1 ? t.col_tiles : 1;
  configure_2x2(m0, m1, 64);
  alignas(64) float acc[32 * 32];
  for (int q = 0; q < tiles; ++q) {
    const uint16_t* b = t.b + q * t.b_panel;
    m1 > 0 ? dot_tiles<true>(t, b, acc) : dot_tiles<false>(t, b, acc);
    store_tile(t, acc, t.c + q * kTileCols, t.residual ? t.residual + q * kTileCols : nullptr,
               q + 1 < tiles ? kTileCols : t.cols);
  }
  INT8RT_TILE_RELEASE();
}

}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
