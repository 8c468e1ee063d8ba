// The BF16 GEMM microkernel boundary: the register tile and the activation
// converter that the BF16 GEMM driver (kernels/gemm_bf16.h) runs.
//
// Panels hold BF16 PAIRS along k (the VDPBF16PS / TDPBF16PS operand): K is
// padded with zeros to `pairs` pairs (a multiple of the kernel's pair block),
// and pair p holds k = 2p (low half) and 2p + 1 (high):
//   A panel (mr rows):    [pairs][mr][2]   uint16 bits, or with rows_a
//                         [mr][pairs * 2]  (each row's k contiguous: AMX's A tile),
//                         or, given to a pair kernel with Bf16Tile::a_ld > 0,
//                         rows a_ld apart (the driver's row-major A, right weights)
//   B panel (nr columns): [pairs][nr][2]
//
// Vector kernels (VDPBF16PS, the reference) compute, for the valid
// `rows` x `cols`,
//   acc[r][j] = 0; for p ascending: acc = dot_pair(acc, A[p][r], B[p][j])
//   C[r][j] = acc            (or C[r][j] + acc, one FP32 add, when accumulate)
//   then the tile epilogue (bias, residual, clip) of Bf16Tile, before the store
//   (FP32, or rounded to BF16 into c16)
// with dot_pair of kernels/ref/bf16.h (odd element first, DAZ, FTZ, round to
// nearest even). AMX kernels (TDPBF16PS) take 16 pairs per step: per block
// of 16 pairs, two partial sums (even elements, odd elements) start at 0
// and take one fused step per pair, then acc = acc + (even + odd), DAZ /
// FTZ throughout (x86/amx/amx_emulation.h); the same final C update. Either
// order is the whole of each output's arithmetic: a tile never splits k, so
// results do not depend on tiling or thread count; the vector kernels give
// the reference's bits, AMX kernels other bits within the same bound.
//
// The pair converter turns a packed FP32 panel [kc][n] (k-major, what the
// SGEMM packers produce) into pairs [ceil(kc/2)][n][2] with bf16::from_f32
// (the missing odd row of an odd kc is zero). The row converter writes the
// same values as rows: dst[j * ld + k] = from_f32(src[k][j]).
//
// Bound against FP32, per op. Every BF16 op of the engine is this GEMM: Conv
// (im2col order, or tap-major through the direct path; not depthwise), Gemm and MatMul with constant weights, and MatMul
// between two activations (both operands converted). With K the dot length
// and S = sum over k of |a_k b_k| on the FP32 operands (+ |bias| or |C| where
// the op adds one), each output y of a BF16 op and y32 of the FP32 op obey
//   |y - y32| <= (2^-7 + 2^-16) S + 2 (K + 2) 2^-24 S
// (rounding an operand to BF16, 8 significant bits, moves it by at most 2^-8
// of itself, so a product by at most 2^-7 + 2^-16 of itself; the second term is the FP32
// accumulation of either op, in either order above); a residual kept as a
// bfloat16 tensor (Bf16Tile::residual16) adds 2^-8 |r| for its own rounding
// (|r| the FP32 residual's magnitude), and against the exact
// sum of the BF16-rounded products, |y - exact| <= 2 (K + 2) 2^-24 S_bf16.
// tests/test_bf16_layers.py checks both per op, and that the FP32 op fails
// the second. Between tiers: the vector kernels == the reference (bits);
// the AMX kernel == its own order (tests/cpp/test_gemm_bf16_amx.cc) and
// within 2 (K + 2) 2^-24 S_bf16 of the reference.
//
// Plain structs and declarations only, so ISA translation units may include
// it (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

struct Bf16Tile {
  int64_t pairs = 0;             // Kp / 2
  const uint16_t* a = nullptr;   // A panel [pairs][mr][2], or [mr][a_ld] (rows_a)
  // Elements between A rows (>= 2 * pairs; pair p of row r at a + r * a_ld + 2 p): always for a
  // rows_a kernel; for a pair kernel, > 0 says A is rows (every pair kernel honours it), 0 the panel.
  int64_t a_ld = 0;
  const uint16_t* b = nullptr;   // B panel [pairs][nr][2]
  float* c = nullptr;            // C at the tile's first row and column
  int64_t ldc = 0;               // row stride of C (elements)
  int mr = 0, nr = 0;            // panel widths (the microkernel's tile)
  int rows = 0, cols = 0;        // valid rows (1..mr) and columns (1..nr)
  bool accumulate = false;       // C += acc instead of C = acc
  // The tile epilogue (kernels/sgemm_f32.h's SgemmEpilogue, for a
  // convolution's rows): after the C update above, v = v + bias[r] when
  // bias (one FP32 add), then v = v + residual[r * ldr + j] when residual
  // (one FP32 add: a residual Add fused into the conv), then, when clip,
  // v = clip_f32(v, lo, hi) (kernels/ref/clip_f32.h); then the store.
  const float* bias = nullptr;   // [rows] of this tile, or nullptr
  const float* residual = nullptr;  // at the tile's first row and column, or nullptr
  int64_t ldr = 0;                  // row stride of residual (elements)
  // A bfloat16 residual (a residual tensor kept in BF16 between BF16
  // layers, engine/bf16_layers.h): when set (residual null), the residual
  // step adds bf16::to_f32(residual16[r * ldr + j]) (an exact widening).
  // Honoured by the kernels that honour b_step below; AMX's does not (its
  // driver widens the residual to FP32 first: the same values).
  const uint16_t* residual16 = nullptr;
  bool clip = false;
  float lo = 0.f, hi = 0.f;
  // A BF16 output (a bfloat16 tensor between BF16 layers): when set, the
  // store writes bf16::from_f32(v) (round to nearest even) at
  // c16[r * ldc + j] instead of v at c (c unused; accumulate must be false).
  // Honoured by the kernels that honour b_step below; AMX's does not.
  uint16_t* c16 = nullptr;
  // Columns stored compressed (the direct convolution's dropped columns,
  // kernels/gemm_bf16_direct.cc), when nonzero: bit j is set for each
  // column j < cols that is stored, and row r's set columns are stored one
  // after another, in column order, from c (or c16) + r * ldc; the others
  // are computed and not stored. residual and residual16 null, accumulate
  // false. Honoured by the kernels that honour b_step below.
  uint32_t col_keep = 0;
  // B read from an image instead of a panel (the direct convolution,
  // kernels/gemm_bf16_direct.cc), when b_step > 0: the pairs form runs of
  // run_pairs pairs (pairs is a multiple of it), and pair p = q * run_pairs
  // + i of run q has its nr columns' pairs at b + b_offsets[q] + i * b_step
  // (uint16 elements; column j at + 2 * j). b_step == 0: the panel above
  // (pair p at b + p * nr * 2). The arithmetic is unchanged. Every kernel
  // whose A panels are pairs (no row converter) honours these; AMX's does not.
  int64_t b_step = 0;
  int64_t run_pairs = 0;
  const int64_t* b_offsets = nullptr;
  // A run of column tiles in one call (the AMX kernel, whose Bf16PanelKernel
  // says col_runs; others take one tile): col_tiles tiles side by side,
  // tile q with its B panel at b + q * b_panel (uint16 elements), its C at
  // c + q * nr and its residual at residual + q * nr; every tile has nr
  // valid columns but the last (cols). The arithmetic of each is a tile's.
  int col_tiles = 1;
  int64_t b_panel = 0;
  // Bytes to ask the cache for while the tile runs (the next weight panel,
  // when the panels stream from memory), one 64-byte line per pair step
  // from here; nullptr: none. No effect on the results.
  const uint16_t* prefetch = nullptr;
};
using Bf16TileFn = void (*)(const Bf16Tile&);
// src: [kc][n] floats; dst: [(kc + 1) / 2][n][2] BF16 pairs.
using Bf16PairsFn = void (*)(const float* src, int64_t kc, int n, uint16_t* dst);
// src: [kc][n] floats; dst[j * ld + k] for j < n, k < kc.
using Bf16RowsFn = void (*)(const float* src, int64_t kc, int n, uint16_t* dst, int64_t ld);
// BF16 bits paired, no arithmetic: dst[2 i] = even[i], dst[2 i + 1] =
// odd[i] (0 when odd is null), i < n (the direct convolution's image rows
// from a bfloat16 tensor, kernels/gemm_bf16_direct.cc).
using Bf16InterleaveFn = void (*)(const uint16_t* even, const uint16_t* odd, int64_t n, uint16_t* dst);

namespace ref {
// Scalar, the spec (kernels/ref/gemm_bf16.cc); its tile is 4 x 16.
constexpr int kBf16RefMR = 4, kBf16RefNR = 16;
void gemm_bf16_tile(const Bf16Tile& t);
void bf16_pairs(const float* src, int64_t kc, int n, uint16_t* dst);
void bf16_rows(const float* src, int64_t kc, int n, uint16_t* dst, int64_t ld);
}  // namespace ref

namespace x86 {
namespace avx512bf16 {
// AVX512-BF16, 8 x 32 (two zmm per row), VDPBF16PS
// (x86/avx512bf16/gemm_bf16_8x32.cc); the converter uses VCVTNEPS2BF16.
constexpr int kBf16MR = 8, kBf16NR = 32;
void gemm_bf16_8x32(const Bf16Tile& t);
void bf16_pairs(const float* src, int64_t kc, int n, uint16_t* dst);
void bf16_rows(const float* src, int64_t kc, int n, uint16_t* dst, int64_t ld);
void bf16_interleave(const uint16_t* even, const uint16_t* odd, int64_t n, uint16_t* dst);
}  // namespace avx512bf16
namespace amx {
// AMX-BF16, 32 x 32 (four 16 x 16 C tiles), TDPBF16PS, A rows_a, pairs a
// multiple of 16, runs of column tiles (col_tiles; x86/amx/gemm_bf16_32x32.cc).
constexpr int kBf16MR = 32, kBf16NR = 32, kBf16PairBlock = 16;
void gemm_bf16_32x32(const Bf16Tile& t);
}  // namespace amx
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
