// The FP32 layer-normalisation microkernel boundary (the layernorm family,
// kernels/layernorm_f32.h): rows of LayerNormalization by the loop of
// kernels/ref/layernorm_f32.h (the rule). Declarations only, so ISA
// translation units may include it (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

#include "kernels/ref/layernorm_f32.h"

namespace int8rt {
namespace kernels {

// y [rows][n] = layernorm(x [rows][n]); a.mean_out / a.inv_out indexed from first_row.
using LayerNormRowsFn = void (*)(int64_t rows, int64_t n, const float* x, const ref::LayerNormRows& a, float* y,
                                 int64_t first_row);

#define INT8RT_DECLARE_LAYERNORM_F32 \
  void layernorm_rows(int64_t rows, int64_t n, const float* x, const ref::LayerNormRows& a, float* y, int64_t first_row);

namespace ref {
INT8RT_DECLARE_LAYERNORM_F32  // ref/layernorm_f32.cc, baseline
}  // namespace ref
namespace x86 {
namespace avx512 {
INT8RT_DECLARE_LAYERNORM_F32  // x86/avx512/layernorm_f32.cc
}  // namespace avx512
namespace avx2 {
INT8RT_DECLARE_LAYERNORM_F32  // x86/avx2/layernorm_f32.cc
}  // namespace avx2
}  // namespace x86

#undef INT8RT_DECLARE_LAYERNORM_F32

}  // namespace kernels
}  // namespace int8rt
