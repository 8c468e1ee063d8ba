// The FP32 element-wise microkernel boundary (the unary_f32 family,
// kernels/unary_f32.h): y[i] = f(x[i]) for i in [0, n), f one of
// ref::UnaryF32 (kernels/ref/math_f32.h, which also holds the one loop every
// tier compiles). y may be x. Declarations only, so ISA translation units may
// include it (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

#include "kernels/ref/math_f32.h"

namespace int8rt {
namespace kernels {

using UnaryF32Fn = void (*)(ref::UnaryF32 op, int64_t n, const float* x, float* y);

namespace ref {
void unary_f32(UnaryF32 op, int64_t n, const float* x, float* y);  // ref/unary_f32.cc, baseline
}  // namespace ref
namespace x86 {
namespace avx512 {
void unary_f32(ref::UnaryF32 op, int64_t n, const float* x, float* y);  // x86/avx512/unary_f32.cc
}  // namespace avx512
namespace avx2 {
void unary_f32(ref::UnaryF32 op, int64_t n, const float* x, float* y);  // x86/avx2/unary_f32.cc
}  // namespace avx2
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
