// The FP32 softmax microkernel boundary (the softmax family,
// kernels/softmax_f32.h): rows of softmax / log-softmax, and QAttention's
// scores-to-probabilities rows, by the loops of kernels/ref/softmax_f32.h
// (the rules), and those rows quantized to int8 in the same pass
// (ref::ProbsGrid). Declarations only, so ISA translation units may include
// it (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

#include "kernels/ref/softmax_f32.h"

namespace int8rt {
namespace kernels {

// y[r] = softmax(x[r]) (log-softmax with log) for rows r of n values; y may be x unless log.
using SoftmaxRowsFn = void (*)(int64_t rows, int64_t n, const float* x, float* y, bool log);
// s [rows][n] in place: scale, mask, softmax, NaN to zero (ref::AttentionRows).
using AttentionRowsFn = void (*)(int64_t rows, int64_t n, const ref::AttentionRows& a, float* s);
// Talking heads' mix over the heads (ref::head_mix_loop): x[h] [n] -> y[o] [n], w [heads][heads], b [heads] or null.
using HeadMixFn = void (*)(int64_t heads, int64_t n, const float* w, const float* b, const float* const* x,
                           float* const* y);
// The same rows, their probabilities then quantized into q [rows][n] as
// int8rt.Quantize does (ref::ProbsGrid); s is scratch.
using AttentionRowsS8Fn = void (*)(int64_t rows, int64_t n, const ref::AttentionRows& a, const ref::ProbsGrid& g,
                                   float* s, int8_t* q);

#define INT8RT_DECLARE_SOFTMAX_F32                                                                          \
  void softmax_rows(int64_t rows, int64_t n, const float* x, float* y, bool log);                          \
  void attention_rows(int64_t rows, int64_t n, const ref::AttentionRows& a, float* s);                     \
  void head_mix(int64_t heads, int64_t n, const float* w, const float* b, const float* const* x, float* const* y);
// A tier's AttentionRowsS8Fn (tiers without one leave the family's field null).
#define INT8RT_DECLARE_ATTENTION_ROWS_S8                                                                  \
  void attention_rows_s8(int64_t rows, int64_t n, const ref::AttentionRows& a, const ref::ProbsGrid& g, \
                         float* s, int8_t* q);

namespace ref {
INT8RT_DECLARE_SOFTMAX_F32  // ref/softmax_f32.cc, baseline
INT8RT_DECLARE_ATTENTION_ROWS_S8
}  // namespace ref
namespace x86 {
namespace avx512 {
INT8RT_DECLARE_SOFTMAX_F32  // x86/avx512/softmax_f32.cc
INT8RT_DECLARE_ATTENTION_ROWS_S8
}  // namespace avx512
namespace avx2 {
INT8RT_DECLARE_SOFTMAX_F32  // x86/avx2/softmax_f32.cc
}  // namespace avx2
}  // namespace x86

#undef INT8RT_DECLARE_SOFTMAX_F32
#undef INT8RT_DECLARE_ATTENTION_ROWS_S8

}  // namespace kernels
}  // namespace int8rt
