// The 32-bit transpose microkernel boundary (the transpose_f32 family,
// kernels/transpose_x32.h): y[a * ldy + b] = x[b * ldx + a] for a < A,
// b < B, elements of 32 bits of any type (float, int32) moved bit for bit,
// no arithmetic. x and y do not overlap. Declarations only, so ISA
// translation units may include it (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

using TransposeX32Fn = void (*)(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy);

namespace ref {
void transpose_x32(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy);  // ref/transpose_x32.cc
}  // namespace ref
namespace x86 {
namespace avx2 {
// 8 x 8 blocks in registers (unpack, shuffle, permute2f128), masked at the edges
// (x86/avx2/transpose_8x8.cc).
void transpose_x32(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy);
}  // namespace avx2
namespace avx512 {
// 16 x 16 blocks in registers (unpack, shuffle, 128-bit lane shuffles), masked at the edges
// (x86/avx512/transpose_16x16.cc).
void transpose_x32(int64_t A, int64_t B, const uint32_t* x, int64_t ldx, uint32_t* y, int64_t ldy);
}  // namespace avx512
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
