// The FP32 GEMM microkernel boundary: the register tile that the blocked
// SGEMM driver (kernels/sgemm_f32.h) runs over its packed panels.
//
// The driver (baseline code) packs a KC-deep slice of op(A) into panels of
// `mr` rows (k-major: mr floats per k, zero-padded rows) and of op(B) into
// panels of `nr` columns (nr floats per k, zero-padded columns; a full
// panel of a row-major B is read in place, its rows ldb apart), then calls
// the microkernel once per (A panel, B panel) pair:
//   acc[r][j] = sum over k ascending of a[k*mr + r] * b[k*ldb + j], from 0
//   (b[b_rows[k] + j] when the tile gives B row offsets; a[a_rows[k] + r*lda]
//   when it gives A offsets: A read in place, not a packed panel)
//   C[r][j] = acc[r][j]  (or C[r][j] + acc[r][j] when accumulate)
// for the valid `rows` x `cols` only. Vector microkernels use FMA (one
// rounding per step); the portable one multiplies and adds separately. So
// tiers differ in the last bits, but within one microkernel every output's
// arithmetic is fixed by k, kc and the accumulate flag alone: the result
// does not depend on the tiling chosen for threads or on the thread count,
// nor on the tile height (mr).
//
// Bound (every microkernel, any kc; tests/test_fp32_gemm_kernels.py): with
// u = 2^-24, |C - exact| <= 2 (K + 1) u (sum over k of |a_ik b_kj| + |C_in|),
// C_in the accumulated C; each of the at most K + 1 roundings of a running
// sum (FMA, or a multiply then an add) costs at most u of a partial sum's
// magnitude, the factor 2 covering the portable kernel's product roundings.
// The epilogue's additions (bias, residual) are single IEEE adds in the
// order stated on SgemmTile, so a fused epilogue equals the unfused graph's
// separate Add / Relu / Clip passes bit for bit (tests/test_fp32_ops.py).
//
// Plain structs and declarations only, so ISA translation units may include
// it (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

struct SgemmTile {
  int64_t kc = 0;             // k steps in this slice
  const float* a = nullptr;   // A panel: [kc][mr]
  const float* b = nullptr;   // B panel: kc rows of nr floats, ldb apart
  int64_t ldb = 0;            // nr when packed, B's row stride when in place
  // When set, row k of the B panel is at b + b_rows[k] instead of b + k * ldb
  // (the tap conv's slices, whose rows come from several taps' planes).
  const int64_t* b_rows = nullptr;
  // When set, A is read in place instead of from a packed panel: element
  // (r, k) at a + a_rows[k] + r * lda (the NHWC conv's output pixels, rows
  // lda apart in the image, each k a (tap, channel) offset; conv_nhwc_f32.h).
  const int64_t* a_rows = nullptr;
  int64_t lda = 0;
  // With a_rows, when set: a_rows[k] == a_rows[0] + k for every k of the
  // slice (a row-major A read in place: each row's columns contiguous). A
  // microkernel may then walk the rows by pointer increments instead of
  // reading the table per k (x86/avx512/sgemm_x32.cc); the same values into
  // the same FMAs in the same order, so the same bits. Others ignore it.
  bool a_linear = false;
  // With a_rows, when set: row r's element k at a + a_pix[r] + a_rows[k]
  // instead of a + a_rows[k] + r * lda (a run of output pixels that crosses
  // output rows, whose input offsets are not evenly spaced). Only for
  // microkernels that take it (SgemmKernel::pixel_rows); the same values
  // into the same FMAs in the same order, so the same bits.
  const int64_t* a_pix = nullptr;
  float* c = nullptr;         // C at the tile's first row and column
  int64_t ldc = 0;            // row stride of C (elements)
  int rows = 0, cols = 0;     // valid rows (1..mr) and columns (1..nr)
  bool accumulate = false;    // C += acc instead of C = acc
  // The tile epilogue (kernels/sgemm_f32.h, SgemmEpilogue), for microkernels
  // that take it (SgemmKernel::epilogue): before the store, row r's value
  // v = v + bias[r] when bias, v = v + col_bias[j] when col_bias (either set
  // on the first K slice only, which does not accumulate), then on the last
  // slice v = v + residual[r * ldr + j] when residual, then, when clip,
  // v = clip_f32(v, lo, hi) (kernels/ref/clip_f32.h).
  const float* bias = nullptr;
  const float* col_bias = nullptr;  // at the tile's first column
  const float* residual = nullptr;  // at the tile's first row and column
  int64_t ldr = 0;                  // row stride of residual (elements)
  bool clip = false;
  float lo = 0.f, hi = 0.f;
};
using SgemmFn = void (*)(const SgemmTile&);

// The portable microkernel (kernels/sgemm_portable.cc, baseline), 6 x 8.
void sgemm_6x8_portable(const SgemmTile& t);

namespace x86 {
namespace avx512 {
// AVX-512F, 12 x 32 (two zmm per row), FMA (x86/avx512/sgemm_x32.cc), the
// tier's kernel; and its 8-row twin: the same FMAs per output in the same
// order, so the same bits at the same kc (tested with ==).
constexpr int kSgemmMR = 12, kSgemmNR = 32;
void sgemm_12x32(const SgemmTile& t);
constexpr int kSgemm8MR = 8;
void sgemm_8x32(const SgemmTile& t);
}  // namespace avx512
namespace avx2 {
// AVX2+FMA, 6 x 16 (two ymm per row) (x86/avx2/sgemm_6x16.cc).
constexpr int kSgemmMR = 6, kSgemmNR = 16;
void sgemm_6x16(const SgemmTile& t);
}  // namespace avx2
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
