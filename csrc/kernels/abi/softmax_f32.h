// The FP32 softmax microkernel boundary (the softmax family,
// kernels/softmax_f32.h): rows of softmax / log-softmax, and QAttention's
// scores-to-probabilities rows, by the loops of kernels/ref/softmax_f32.h
// (the rules). Declarations only, so ISA translation units may include it
// (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

#include "kernels/ref/softmax_f32.h"

namespace int8rt {
namespace kernels {

// y[r] = softmax(x[r]) (log-softmax with log) for rows r of n values; y may be x unless log.
using SoftmaxRowsFn = void (*)(int64_t rows, int64_t n, const float* x, float* y, bool log);
// s [rows][n] in place: scale, mask, softmax, NaN to zero (ref::AttentionRows).
using AttentionRowsFn = void (*)(int64_t rows, int64_t n, const ref::AttentionRows& a, float* s);

#define INT8RT_DECLARE_SOFTMAX_F32                                                 \
  void softmax_rows(int64_t rows, int64_t n, const float* x, float* y, bool log); \
  void attention_rows(int64_t rows, int64_t n, const ref::AttentionRows& a, float* s);

namespace ref {
INT8RT_DECLARE_SOFTMAX_F32  // ref/softmax_f32.cc, baseline
}  // namespace ref
namespace x86 {
namespace avx512 {
INT8RT_DECLARE_SOFTMAX_F32  // x86/avx512/softmax_f32.cc
}  // namespace avx512
namespace avx2 {
INT8RT_DECLARE_SOFTMAX_F32  // x86/avx2/softmax_f32.cc
}  // namespace avx2
}  // namespace x86

#undef INT8RT_DECLARE_SOFTMAX_F32

}  // namespace kernels
}  // namespace int8rt
