// The BF16 attention operand converters (kernels/attention_bf16.h): FP32
// activations, times an optional scalar, rounded to BF16 straight into the
// layouts a gemm_bf16 pair tile reads (abi/gemm_bf16.h), with the values
// the gemm_bf16 driver's own packing gives them.
//
// Every converted value is bf16::from_f32(s ? x * *s : x): one FP32
// multiply (the folded Mul's x * s, no fused step), then round to nearest
// even (VCVTNEPS2BF16 in hardware). An odd k's missing odd value is zero.
//
// Rows (an A operand read as rows, Bf16Tile::a_ld): src rows `ld` apart,
//   dst[r * dst_ld + c] = value(src[r * ld + c])   for r < rows, c < cols,
//   dst[r * dst_ld + cols] = 0                      when cols is odd.
// Panel (a B operand): op(src) [k][n] as the pair panels of an nr-column
// tile, ceil(n / nr) panels of [ceil(k / 2)][nr][2] one after another,
//   panel q, pair p, lane j: value(op(src)[2p][q nr + j]), value(op(src)[2p + 1][q nr + j]),
// zero past n or k; op(src)[kk][j] = src[kk * ld + j] (k-major: kt, v),
// or src[j * ld + kk] when `keys` (attention's keys [N][K], whose pairs are
// each key's values in order: the panel is their 32-bit transpose).
//
// Plain declarations only, so ISA translation units may include it
// (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

using Bf16ScaledRowsFn = void (*)(const float* src, int64_t ld, int64_t rows, int64_t cols, const float* scale,
                                  uint16_t* dst, int64_t dst_ld);
using Bf16ScaledPanelFn = void (*)(const float* src, int64_t ld, int64_t k, int64_t n, bool keys,
                                   const float* scale, int nr, uint16_t* dst);

namespace ref {
// Scalar, the spec (kernels/ref/attention_bf16.cc).
void bf16_scaled_rows(const float* src, int64_t ld, int64_t rows, int64_t cols, const float* scale, uint16_t* dst,
                      int64_t dst_ld);
void bf16_scaled_panel(const float* src, int64_t ld, int64_t k, int64_t n, bool keys, const float* scale, int nr,
                       uint16_t* dst);
}  // namespace ref

namespace x86 {
namespace avx512bf16 {
// VCVTNEPS2BF16 / VCVTNE2PS2BF16, nr == 32 (x86/avx512bf16/attention_bf16_8x32.cc).
void bf16_scaled_rows(const float* src, int64_t ld, int64_t rows, int64_t cols, const float* scale, uint16_t* dst,
                      int64_t dst_ld);
void bf16_scaled_panel(const float* src, int64_t ld, int64_t k, int64_t n, bool keys, const float* scale, int nr,
                       uint16_t* dst);
}  // namespace avx512bf16
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
