// The 32-bit transpose microkernel boundary (the transpose_f32 family,
// kernels/transpose_x32.h): y[a * ldy + b] = x[b * ldx + a] for a < A,
// b < B, elements of 32 bits of any type (float, int32) moved bit for bit,
// no arithmetic. x and y do not overlap. Beside it the float transpose with
// a residual add and a clip in its stores (TransposeAddF32Fn). Declarations
// only, so ISA translation units may include it (STYLE.md, "ISA code is
// fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

using TransposeX32Fn = void (*)(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy);

// The transpose fused with a residual Add and a Relu / Clip (the float
// Conv's output-transposed product, engine/ops/conv_f32_transposed.cc): for
// a < A, b < B, v = x[b * ldx + a] + r[a * ldy + b] (one IEEE add, x's
// value first), then when clip is not nullptr y[a * ldy + b] =
// clip_f32(v, clip[0], clip[1]) (kernels/ref/clip_f32.h, the engine's
// clip_value; the SGEMM epilogue's clip), else y[a * ldy + b] = v. r has y's layout; y
// may be r, not x. The same bits as the transpose and then the add and the
// clip as separate passes, on every tier.
using TransposeAddF32Fn = void (*)(int64_t A, int64_t B, const float* x, int64_t ldx, const float* r, float* y,
                                   int64_t ldy, const float* clip);

namespace ref {
void transpose_x32(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy);  // ref/transpose_x32.cc
void transpose_add_f32(int64_t A, int64_t B, const float* x, int64_t ldx, const float* r, float* y, int64_t ldy,
                       const float* clip);  // ref/transpose_x32.cc
}  // namespace ref
namespace x86 {
namespace avx2 {
// 8 x 8 blocks in registers (unpack, shuffle, permute2f128), masked at the edges
// (x86/avx2/transpose_8x8.cc).
void transpose_x32(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy);
void transpose_add_f32(int64_t A, int64_t B, const float* x, int64_t ldx, const float* r, float* y, int64_t ldy,
                       const float* clip);
}  // namespace avx2
namespace avx512 {
// 16 x 16 blocks in registers (unpack, shuffle, 128-bit lane shuffles), masked at the edges
// (x86/avx512/transpose_16x16.cc).
void transpose_x32(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy);
void transpose_add_f32(int64_t A, int64_t B, const float* x, int64_t ldx, const float* r, float* y, int64_t ldy,
                       const float* clip);
}  // namespace avx512
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
