// The FP32 plane-mean microkernel boundary (the plane_mean_f32 family,
// kernels/plane_mean_f32.h): y[p] = mean of x[p * size .. (p + 1) * size)
// for p in [0, planes), summed in the one order of
// kernels/ref/plane_mean_f32_loop.h (the reference tier's loop; the vector
// tiers spell its operations in intrinsics), so every tier gives the same
// bits. Declarations only, so ISA
// translation units may include it (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

#include "kernels/ref/plane_mean_f32_loop.h"

namespace int8rt {
namespace kernels {

using PlaneMeanF32Fn = void (*)(const float* x, int64_t planes, int64_t size, float* y);

namespace ref {
void plane_mean_f32(const float* x, int64_t planes, int64_t size, float* y);  // ref/plane_mean_f32.cc, baseline
}  // namespace ref
namespace x86 {
namespace avx512 {
void plane_mean_f32(const float* x, int64_t planes, int64_t size, float* y);  // x86/avx512/plane_mean_f32.cc
}  // namespace avx512
namespace avx2 {
void plane_mean_f32(const float* x, int64_t planes, int64_t size, float* y);  // x86/avx2/plane_mean_f32.cc
}  // namespace avx2
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
