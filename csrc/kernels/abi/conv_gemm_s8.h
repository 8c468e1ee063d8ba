// The int8 conv / GEMM microkernel boundary: between the x86 drivers and the
// x86 microkernels (XNNPACK's split). All ABI headers live in kernels/abi/.
//
// Drivers (packing, tiling, threading, the registry classes) are baseline
// code; microkernels are compiled per ISA with that ISA's flags and reached
// only through the plain structs and function pointers below. This header
// holds no inline code, so including it from an ISA translation unit cannot
// leave an ISA-flagged copy of a shared function behind (STYLE.md, "ISA code
// is fenced"); microkernel files include nothing from the STL either.
//
// Three microkernel families:
//   igemm:  MR output rows x NB blocks of `block` output channels, reducing
//           over `taps` input vectors per row (indirect GEMM: every tap of
//           every row is a pointer; 1x1 conv and GEMM use taps = 1).
//   dwconv: one output row of a depthwise convolution, all channels.
//   amx:    up to 32 rows of a reduction-major A (rows at a fixed stride,
//           the driver gathers them) x all channel blocks, on AMX tiles.
// All end in the epilogue of ref/requantize.h, bit for bit.
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {
namespace x86 {

// Where a tile's outputs go and how they are requantized: the kernel-level
// Epilogue (kernel_types.h) as a driver hands it to one microkernel call,
// pointers moved to the tile's first row and first output channel (`nc`
// channels valid), plus the output address. Epilogue is the view a layer
// passes to run(); EpilogueStorage (requant_params.h) owns the arrays it
// views; ref::requantize is the arithmetic all three describe.
struct TileEpilogue {
  const float* scale = nullptr;      // [nc]
  const float* bias = nullptr;       // [nc] or null (adds 0.0f, as the reference)
  float lo = 0.0f, hi = 0.0f;        // clamp bounds
  const int8_t* residual = nullptr;  // row 0 or null; rows residual_stride apart
  int64_t residual_stride = 0;       // elements
  float residual_scale = 0.0f;
  void* y = nullptr;                 // int8_t or float rows, y_stride elements apart
  int64_t y_stride = 0;
  bool out_f32 = false;
  // int8 output: each stored byte xor-ed with it (0x80: the output held as
  // u8 codes, ConvShape::output_codes). Only microkernels of drivers that
  // accept u8-coded outputs read it; the others are never given 0x80.
  uint8_t out_xor = 0;
  // Each residual byte xor-ed with it before its sign extension (0x80: the
  // residual held as u8 codes, ConvShape::residual_codes); read likewise.
  uint8_t residual_xor = 0;
  // Epilogue::table: each int8 output q stored as table[q + 128] (before
  // out_xor). Only microkernels of drivers whose applies_table() is true
  // read it (the AMX GEMM's, amx/igemm_32x32c4.cc); the others are never
  // given one.
  const int8_t* table = nullptr;
};

// One group of weights that a pair-sum microkernel (avx2::igemm_u8_pairs_fn)
// reduces on its own, after its main loop: the part of the layer's weights
// that the packer moved out of the packed block so that every pair of
// groups it sums in int16 stays inside int16 (x86/packing_pairs.cc). Adds,
// for every row i of the tile, the products of the group of 4 activations
// at a[tap * mr_max + i] + offset (n of them valid, 1..4) with w, laid out
// as one packed step of the block: [8 channels][4] int8.
struct IgemmResidual {
  int32_t tap = 0;
  int32_t offset = 0;  // bytes into the row: 4 * group
  int32_t n = 4;       // activations valid in the group (kc % 4 for the last)
  int32_t unused = 0;
  int8_t w[32] = {};
};

// One igemm call: rows [0, mr) (mr is fixed by the function chosen), `nc`
// valid channels out of the NB blocks the function was chosen for.
struct IgemmTile {
  int taps = 1;            // input vectors reduced per row
  int kc = 0;              // channels per tap (C/groups, or GEMM K)
  const void* const* a = nullptr;  // [taps][mr_max] row pointers (see layout per ISA)
  const int8_t* w = nullptr;       // packed weights of the tile's first block
  int64_t w_block_stride = 0;      // bytes from one block to the next (within a step, for interleaved packing)
  const int32_t* acc_init = nullptr;  // [NB*block] initial accumulators, or null (zeros)
  int nc = 0;
  // Pair-sum microkernels only (null / 0 for the others): the residual
  // groups of the tile's blocks, block after block, res_count[j] of block j.
  const IgemmResidual* res = nullptr;
  int res_count[2] = {0, 0};
  TileEpilogue ep;
  // Class tiles (microkernels whose descriptor sets IgemmUkernel::class_tiles,
  // null for the others): tap k reads the weights of packed tap tap_w[k]
  // (taps a tile's windows all have in padding are left out), and row i
  // stores at output row pixel[i] (ep.y and ep.residual then point at pixel
  // 0; int8 output only).
  const int32_t* tap_w = nullptr;
  const int64_t* pixel = nullptr;
  // Shifted-row microkernels only (0 for the others): added to every input
  // byte before it is read as u8 (PackedIgemmWeights::row_add, x86/packing.h).
  uint8_t row_add = 0;
};
using IgemmFn = void (*)(const IgemmTile&);

// A strip of pointwise rows against one full channel tile, for microkernels
// that issue each tile's epilogue inside the next tile's reduction
// (avx512vnni::igemm_strip_u8) or that save the driver's per-tile work on
// short reductions (avx2::igemm_strip_s8): rows [0, m) at x + i * x_stride, kc values
// each, m a multiple of the kernel's rows per tile; every channel of the
// tile valid; weights packed as for IgemmTile::w; int8 output whose rows
// and residual rows are both ep.y_stride apart.
struct IgemmStrip {
  const int8_t* x = nullptr;
  int64_t x_stride = 0;
  int64_t m = 0;
  int kc = 0;
  const int8_t* w = nullptr;
  int64_t w_block_stride = 0;         // as IgemmTile's (read by avx2::igemm_strip_s8)
  const int32_t* acc_init = nullptr;  // [64] the tile's starting sums (-128 * sum(w)), or null: 0
  TileEpilogue ep;
};
using IgemmStripFn = void (*)(const IgemmStrip&);

// One depthwise output row: output pixels [ow_begin, ow_end) of row oh.
struct DwRow {
  const int8_t* x = nullptr;  // this image, [H][W][C] int8
  int H = 0, W = 0, C = 0;
  int R = 1, S = 1, stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, dilation_h = 1, dilation_w = 1;
  int pad_value = 0;  // what a padding tap reads (ConvShape::pad_value): it adds pad_value * w
  int oh = 0, ow_begin = 0, ow_end = 0;
  const int32_t* w = nullptr;  // packed, see pack_dw_weights
  // With pad_value != 0 and filter rows outside the input on this output
  // row: per channel (C rounded up to the block), pad_value * the sum of w
  // over those rows, all columns: every pixel's accumulators start there.
  // Null otherwise (they start at 0). The microkernels add the padding
  // columns of the rows inside themselves.
  const int32_t* acc_init = nullptr;
  TileEpilogue ep;             // at pixel (oh, ow_begin), channel 0; stride C
};
using DwFn = void (*)(const DwRow&);

// One AMX call: rows [0, mr) (mr >= 1, 32 per tile) of a reduction-major A against
// every block of 16 output channels up to `nc`, requantized and stored.
struct AmxTile {
  const int8_t* a = nullptr;  // row 0; rows a_stride bytes apart, kchunks * 64 bytes each
  int64_t a_stride = 0;
  int mr = 0;
  int kchunks = 0;            // reduction length / 64 (zero-padded)
  const int8_t* w = nullptr;  // packed B of the first block, see x86/conv_amx.cc
  int64_t w_block_stride = 0;  // bytes from one block of 16 channels to the next
  int nc = 0;                 // valid output channels
  // Rows of u8 codes (gemm_tile_u8): each channel's sum starts here (block b
  // at acc_init + 16 * b, 16 entries per block): -128 * sum(w). Null: 0.
  const int32_t* acc_init = nullptr;
  TileEpilogue ep;
};
using AmxFn = void (*)(const AmxTile&);

// Per-ISA entry points. igemm_fn(mr, nb) returns the microkernel for mr rows
// (1..kMR) and nb blocks (1..kNB).
namespace avx512vnni {
// Tile 6 x 64 (4 zmm blocks of 16 channels), reduction in groups of 4 (c4):
// row pointers are raw int8 activations, shifted to u8 inside the kernel.
constexpr int kMR = 6, kNB = 4, kBlock = 16, kCGroup = 4;
IgemmFn igemm_fn(int mr, int nb);
// The same tile for rows with no negative value, read as u8 with no shift
// and no compensation (x86::IgemmUkernel::unsigned_rows).
IgemmFn igemm_u8_fn(int mr, int nb);
// igemm_u8_fn's tile as a strip (IgemmStrip) of 3-row tiles x 64 channels,
// each tile's epilogue inside the next one's reduction, for kc a multiple of
// 4 and at least kStripMinKc (igemm_strip_3x64c4.cc).
constexpr int kStripMR = 3, kStripMinKc = 16;
void igemm_strip_u8(const IgemmStrip& s);
// B given per run packed for igemm_fn's tile (x86::IgemmUkernel::pack_b):
// b [N][K], or [K][N] with kn, into w (every byte of the packing written)
// and, where not null, comp (-128 * each channel's sum, nbk * 16 entries).
void pack_b_per_run(int N, int K, const int8_t* b, bool kn, int8_t* w, int32_t* comp);
// igemm_fn's arithmetic on a 6 x 24 tile of ymm registers (3 blocks of 8
// channels, interleaved), row pointers 6 apart per tap: convs of 24
// channels per group (igemm_6x24c4.cc; x86::IgemmUkernel::wide_alt).
constexpr int kMR24 = 6, kNB24 = 3, kBlock24 = 8;
IgemmFn igemm_24_fn(int mr, int nb);
constexpr int kDwBlock = 16;
void dwconv_row(const DwRow& row);
}  // namespace avx512vnni

namespace amx {
// Tile 32 x 32 (2 x 2 int32 tiles of 16 x 16), tdpbssd on s8 x s8: rows
// are raw int8 activations, no shift, no compensation (amx/igemm_32x32c4.cc).
constexpr int kMR = 32, kBlock = 16, kKChunk = 64;
void gemm_tile(const AmxTile& t);
// The same tile with tdpbusd (u8 x s8) for rows of u8 codes q + 128, the
// sums starting at AmxTile::acc_init (-128 * sum(w)): exactly sum(q * w).
void gemm_tile_u8(const AmxTile& t);
}  // namespace amx

namespace avxvnni {
// Tile 6 x 16 (2 ymm blocks of 8 channels), reduction c4, VEX vpdpbusd: the
// avx512vnni scheme on 256-bit registers (row pointers raw int8, shifted to
// u8 inside, compensated by -128 * sum(w)).
constexpr int kMR = 6, kNB = 2, kBlock = 8, kCGroup = 4;
IgemmFn igemm_fn(int mr, int nb);
// The same tile without the shift, for rows with no negative value or of
// u8 codes (x86::IgemmUkernel::unsigned_rows, u8_codes; igemm_6x16c4.cc).
IgemmFn igemm_u8_fn(int mr, int nb);
// The driver's runs for this tile (IgemmUkernel::run_weight_bytes): channel
// tiles with up to 64 KiB of weights share a pixel tile's row pointers
// (with 16-channel tiles a fill per tile was 15-25% of a 3x3 64->64 or a
// strided 1x1 layer; 32 and 256 KiB measured slower, RESULTS.md section 55).
// The AVX2 u8 tiles and the avx512vnni tile use the same budget (section 77).
constexpr int64_t kRunWeightBytes = int64_t{1} << 16;
// Depthwise: 4 pixels x 16 channels, VEX vpdpwssd (avxvnni/dwconv_4x16.cc).
constexpr int kDwBlock = 8;
void dwconv_row(const DwRow& row);
}  // namespace avxvnni

namespace avx2 {
// Tile 6 x 16 (2 ymm blocks of 8 channels), reduction in pairs (c2): row
// pointers are int16 activations (the driver widens them), exact vpmaddwd.
constexpr int kMR = 6, kNB = 2, kBlock = 8, kCGroup = 2;
IgemmFn igemm_fn(int mr, int nb);
// The same tile for inputs with no negative value, reduction c4: row
// pointers are raw int8 activations in [0, 127], read as u8 as they are
// (no shift, no compensation); exact vpmaddubsw + vpmaddwd (igemm_6x16c4u.cc).
constexpr int kCGroupU8 = 4;
IgemmFn igemm_u8_fn(int mr, int nb);
// The same tile for inputs in [-m, 127]: every row byte plus m
// (IgemmTile::row_add) read as u8, the sums starting at acc_init
// (-m * sum(w)); exact where (127 + m) times every weight pair's larger
// one-signed sum stays <= 32767 (igemm_6x16c4a.cc, x86/conv_igemm_nonneg.cc).
IgemmFn igemm_u8_add_fn(int mr, int nb);
// The same tile and packing for inputs of any sign against weights in
// [-127, 127]: |x| (u8) times w * sign(x) (s8), exact vpabsb + vpsignb +
// vpmaddubsw + vpmaddwd (igemm_6x16c4s.cc).
IgemmFn igemm_s8_fn(int mr, int nb);
// The same product on a 3 x 24 tile (3 blocks of 8), row pointers 3 apart
// per tap, the same packing: convs of 24 channels per group
// (igemm_3x24c4s.cc; x86::IgemmUkernel::wide_alt).
constexpr int kMR24 = 3, kNB24 = 3;
IgemmFn igemm_s8_3x24_fn(int mr, int nb);
// igemm_s8_fn's 6 x 16 tile as a strip (IgemmStrip) of pointwise rows, kc
// a multiple of 4: no row pointers or driver call per tile (igemm_6x16c4s.cc).
constexpr int kStripMR = 6;
void igemm_strip_s8(const IgemmStrip& s);
// The u8 tile summing the int16 pair sums of two consecutive groups before
// widening them (one vpmaddwd per 8 products of a row, not per 4), for
// weights packed by pack_pair_residuals (x86/packing.h): every such sum of
// four products stays in int16 for inputs in [0, 127]; the weights that
// broke that rule come back as IgemmTile::res (igemm_6x16c4u2.cc).
IgemmFn igemm_u8_pairs_fn(int mr, int nb);
// Depthwise: kernels/abi/dwconv_pairs_s8.h.
}  // namespace avx2

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
