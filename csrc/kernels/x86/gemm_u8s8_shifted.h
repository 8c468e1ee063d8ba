// The operands of shifted gemm_u8s8 tiles (abi/gemm_u8s8.h, GemmU8S8SignTiles),
// baseline code for the x86 driver (gemm_u8s8.cc).
//
// Those tiles are exact only when the operand they sign-adjust stays in
// [-127, 127]. Any product still runs on them: the few bytes outside are
// stored moved by one into range, and the driver adds back what the move
// took, exactly, after the tile (C is int32, wrapping: every step modulo 2^32):
//   B packed once: B' = max(B, -127); C = A B' + sum over the raised (k, n)
//     of -A[m][k].
//   A packed once: row m stored as a - z[m] clamped to [-127, 127], z[m] =
//     128 unless the row holds a 0 (then hi - 127 if the row spans <= 254,
//     else 128 or 127, whichever clamps fewer bytes: the 0s or the 255s);
//     C = A' B + sum over the clamped (m, k) of e * B[k][n], e = a - a' = -1 or +1.
// ONNX Runtime's int8 weights (symmetric, [-127, 127]) and rows that do not span
// 0..255 have no such bytes; asymmetric uint8 weights a few per tensor.
#pragma once

#include <cstdint>
#include <vector>

namespace int8rt {
namespace kernels {
namespace x86 {

struct ShiftedB {
  std::vector<int32_t> col_sums;     // sum_k B'[k][n] (wrapping), zero past N to a multiple of 16
  std::vector<int64_t> fix_k;        // the raised entries (B[k][n] == -128), by 16-column block
  std::vector<int64_t> fix_n;
  std::vector<int64_t> block_begin;  // block j's entries: [block_begin[j], block_begin[j + 1])
};
// B' is what the driver packs: std::max(b, -127).
ShiftedB shift_b(const int8_t* b, int64_t ldb, int64_t K, int64_t N);

// C (mr rows at c, the tile's first column j0 * 16) += the raised entries of blocks [j0, j0 + nb),
// A's rows at a (lda).
void fix_b(const ShiftedB& s, int64_t j0, int nb, int mr, const uint8_t* a, int64_t lda, int32_t* c, int64_t ldc);

// The rows of A (M x K at a, lda) as the B-packed shifted tile reads them: row m at dst + m * 2 * kp,
// kp bytes of a - 128 (s8 storage) then kp bytes of |a - 128| (u8), zero past K (kp >= K).
void shift_rows(int64_t M, int64_t K, const uint8_t* a, int64_t lda, int64_t kp, uint8_t* dst);

struct ShiftedA {
  std::vector<int32_t> z;          // per row
  std::vector<int64_t> fix_k;      // the clamped bytes, by row
  std::vector<int8_t> fix_e;       // a - a': -1 or +1
  std::vector<int64_t> row_begin;  // row m's: [row_begin[m], row_begin[m + 1])
};
// Writes row m of A as the s8 bytes of a - z[m], clamped, to dst + m * ldd (K bytes).
ShiftedA shift_a(int64_t M, int64_t K, const uint8_t* a, int64_t lda, uint8_t* dst, int64_t ldd);

// C (rows [m0, m0 + mr) at c, columns [n0, n0 + n) from c) += the clamped bytes' e * B[k][n], B's
// bytes at b (ldb) read as (int8)(byte ^ flip).
void fix_a(const ShiftedA& s, int64_t m0, int mr, const uint8_t* b, int64_t ldb, uint8_t flip, int64_t n0, int n,
           int32_t* c, int64_t ldc);

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
