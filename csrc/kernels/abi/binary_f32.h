// The FP32 element-wise binary microkernel boundary (the binary_f32 family,
// kernels/binary_f32.h): y[i] = a[i * sa] op b[i * sb] for i in [0, n),
// strides sa, sb each 0 (the operand broadcast along the row) or 1, op one
// of ref::BinaryF32 (kernels/ref/binary_f32_loop.h, which also holds the one
// loop every tier compiles). One IEEE operation per element, so every tier
// gives the same bits. y may be a or b where that operand's stride is 1.
// The family's chain function (FloatChainF32Fn): y[i] := a float conv's
// element-wise chain of y[i] (kernels/ref/float_chain_loop.h, which holds its
// spec): every step on one element in registers, the same operations as the
// steps' layers, so every tier gives the same bits.
// Declarations only, so ISA translation units may include it (STYLE.md,
// "ISA code is fenced").
#pragma once

#include <cstdint>

#include "kernels/ref/binary_f32_loop.h"
#include "kernels/ref/float_chain_loop.h"

namespace int8rt {
namespace kernels {

using BinaryF32Fn = void (*)(ref::BinaryF32 op, int64_t n, const float* a, int64_t sa, const float* b, int64_t sb,
                             float* y);
using FloatChainF32Fn = void (*)(const ref::FloatChainStep* steps, int32_t count, int64_t n, float* y);

namespace ref {
void binary_f32(BinaryF32 op, int64_t n, const float* a, int64_t sa, const float* b, int64_t sb,
                float* y);  // ref/binary_f32.cc, baseline
void float_chain_f32(const FloatChainStep* steps, int32_t count, int64_t n, float* y);  // ref/binary_f32.cc
}  // namespace ref
namespace x86 {
namespace avx512 {
void binary_f32(ref::BinaryF32 op, int64_t n, const float* a, int64_t sa, const float* b, int64_t sb,
                float* y);  // x86/avx512/binary_f32.cc
void float_chain_f32(const ref::FloatChainStep* steps, int32_t count, int64_t n, float* y);  // x86/avx512/binary_f32.cc
}  // namespace avx512
namespace avx2 {
void binary_f32(ref::BinaryF32 op, int64_t n, const float* a, int64_t sa, const float* b, int64_t sb,
                float* y);  // x86/avx2/binary_f32.cc
void float_chain_f32(const ref::FloatChainStep* steps, int32_t count, int64_t n, float* y);  // x86/avx2/binary_f32.cc
}  // namespace avx2
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
