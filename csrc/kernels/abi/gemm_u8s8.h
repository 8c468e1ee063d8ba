// The microkernel ABI of the gemm_u8s8 family (gemm_u8s8.h): the x86 driver
// (x86/gemm_u8s8.cc, baseline code) packs B and tiles the product; each ISA
// folder supplies the register tile, compiled with that ISA's flags only.
//
// Packed B (pack by the driver, read by the tile): blocks of 16 columns, each
//   [q = 0 .. ceil(K/4) - 1][16 columns][4 consecutive k] int8,
// columns past N and k past K zero. One tile computes rows a[0..mr) against
// nb consecutive blocks and stores int32 C (the last block's columns past
// n_last not stored).
//
// B given per run (PackedAGemmU8S8): the driver packs one strip of up to
// nb_max blocks at a time into the thread's scratch with the ISA's
// GemmU8S8PackBFn (or its own scalar loop), which also forms the strip's
// column sums.
//
// Tiles exact only on a restricted operand (GemmU8S8SignTiles: AVX2's
// vpmaddubsw, whose int16 pair sums saturate for general u8 x s8) multiply
// shifted operands and add back row_shift[i] * col_sums[n] when they store:
//   B packed once: the tile reads row i of A at a + i * lda as K bytes of
//     a - 128 (s8) then K bytes of |a - 128| (u8), and B as packed, every
//     byte in [-127, 127]; row_shift = 128, col_sums = sum_k of packed B;
//   A packed once: the tile reads A as packed, the s8 bytes of a - z[m],
//     every one in [-127, 127], and B as packed per run (any s8);
//     row_shift = z, col_sums = the strip's column sums.
// In both, sum_k a * b = sum_k (a - z) * b + z * sum_k b, modulo 2^32. The
// driver keeps the packed bytes in range and corrects C for the few it
// moved (x86/gemm_u8s8_shifted.h).
//
// Pair tiles (GemmU8S8SignTiles::fn_pairs, B packed once): vpmaddubsw on the
// plain u8 A and a pair-safe B' (x86/gemm_u8s8_pairs.h), then C += A R for the
// block's sparse residual R = B - B' (res_*), so C == A B with no shifted copy
// of A; the driver takes them when R is small, the shifted tiles otherwise.
// A packed once the same way (fn_pairs_a): A stored as a - z[m], pair-safe, its
// residual per row; B per run read back as u8 (its s8 storage's sign bit
// flipped in the tile); the tile adds row_shift[i] * col_sums[n] (z[m] times
// the strip's s8 column sums) and row_b[i] * col_b[n] (-128 sum_k (a - z) times
// ones): then C == A (B - 128), the product the driver owes.
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {
namespace x86 {

struct GemmU8S8Tile {
  const uint8_t* a = nullptr;  // row i at a + i * lda, K bytes each
  int64_t lda = 0;
  int64_t K = 0;               // a multiple of 4 (the driver pads A's rows with zeros)
  const int8_t* b = nullptr;   // the first block of the tile; block j at b + j * b_block
  int64_t b_block = 0;         // bytes per block: ceil(K / 4) * 64
  int32_t* c = nullptr;        // row i at c + i * ldc
  int64_t ldc = 0;
  int n_last = 16;             // columns stored of the last block (1..16)
  // Shifted tiles only (GemmU8S8SignTiles; nullptr for the others): C[i][n] += row_shift[i] * col_sums[n].
  const int32_t* row_shift = nullptr;  // mr values
  const int32_t* col_sums = nullptr;   // 16 * nb values, zero past the product's columns
  // Pair tiles only (nb = 1). B packed once: C[i][n] += a[i * lda + res_k[e]] * res_v[e * 16 + n], e in
  // [0, res_count). A packed once (res_rows set): C[i][n] += res_v[e] * B[res_k[e]][n] (B's values as u8),
  // e in [res_rows[i], res_rows[i + 1]).
  const int32_t* res_k = nullptr;
  const int32_t* res_v = nullptr;
  int64_t res_count = 0;
  const int64_t* res_rows = nullptr;  // mr + 1 offsets
  // Pair tiles only: the rest of the caller's epilogue (GemmU8S8Epilogue, kernels/gemm_u8s8.h) fused
  // into the store, after row_shift * col_sums (its first term): C[i][n] += row_b[i] * col_b[n], then
  // float(C) * scale[n] (+ bias[n]) stored as float32 bits when scale is given. Column vectors from the
  // tile's first column, readable for 16 columns; nullptr: the term or step absent.
  const int32_t* row_b = nullptr;  // mr values
  const int32_t* col_b = nullptr;
  const float* scale = nullptr;
  const float* bias = nullptr;
};
using GemmU8S8Fn = void (*)(const GemmU8S8Tile&);

// Packs columns [0, n) of B (K rows of bytes, row k at b + k * ldb; each byte
// XOR flip: 0x80 turns u8 storage into s8, 0 keeps s8) into ceil(n / 16)
// blocks of ceil(K / 4) * 64 bytes at dst, block j at dst + j * that, in the
// layout above (zero past K and n). col_sums (n int32, or nullptr): sum_k of
// the packed int8 values of each column. 1 <= n <= 64.
using GemmU8S8PackBFn = void (*)(const uint8_t* b, int64_t ldb, int64_t K, int n, uint8_t flip, int8_t* dst,
                                 int32_t* col_sums);

// The two tiles of a kernel exact only on shifted operands (header comment): fn_b(mr, nb) for B
// packed once, fn_a(mr, nb) for A packed once; fn_pairs (or nullptr): the pair tile for a B packed
// once whose residual is small, mr rows up to pairs_mr.
struct GemmU8S8SignTiles {
  GemmU8S8Fn (*fn_b)(int mr, int nb) = nullptr;
  GemmU8S8Fn (*fn_a)(int mr, int nb) = nullptr;
  GemmU8S8Fn (*fn_pairs)(int mr, int nb) = nullptr;
  GemmU8S8Fn (*fn_pairs_a)(int mr, int nb) = nullptr;  // A packed once (x86/gemm_u8s8_pairs.h, PairSplitA)
  int pairs_mr = 0;
};

namespace avx512vnni {
// Tile 6 x 64: mr rows (1..6) x nb zmm blocks (1..4) of 16 columns.
constexpr int kU8S8MR = 6, kU8S8NB = 4;
GemmU8S8Fn gemm_u8s8_fn(int mr, int nb);
void gemm_u8s8_pack_b(const uint8_t* b, int64_t ldb, int64_t K, int n, uint8_t flip, int8_t* dst,
                      int32_t* col_sums);
}  // namespace avx512vnni

namespace avxvnni {
// Tile 6 x 16: mr rows (1..6) x one block of 16 columns (two ymm); B packed by the driver's scalar loop.
constexpr int kU8S8MR = 6, kU8S8NB = 1;
GemmU8S8Fn gemm_u8s8_fn(int mr, int nb);
}  // namespace avxvnni

namespace avx2 {
// Tile 4 x 16 (vpsignb + vpmaddubsw + vpmaddwd, shifted operands): mr rows (1..4) x one block of 16
// columns; a run-time B packed by gemm_u8s8_pack_b (SSE unpacks).
constexpr int kU8S8MR = 4, kU8S8NB = 1;
GemmU8S8Fn gemm_u8s8_shifted_b_fn(int mr, int nb);
GemmU8S8Fn gemm_u8s8_shifted_a_fn(int mr, int nb);
// Pair tile (vpmaddubsw + vpmaddwd on a pair-safe B, the residual after the loop): mr rows (1..6).
constexpr int kU8S8PairsMR = 6;
GemmU8S8Fn gemm_u8s8_pairs_fn(int mr, int nb);
GemmU8S8Fn gemm_u8s8_pairs_a_fn(int mr, int nb);
void gemm_u8s8_pack_b(const uint8_t* b, int64_t ldb, int64_t K, int n, uint8_t flip, int8_t* dst,
                      int32_t* col_sums);
}  // namespace avx2

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
