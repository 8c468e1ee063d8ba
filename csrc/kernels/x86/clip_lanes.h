// The vector twin of kernels/ref/clip_f32.h, per lane: min(hi, max(lo, v))
// with the bounds as the FIRST operands, because MAXPS / MINPS return their
// second operand on a NaN or a tie: a NaN v stays NaN, -0 stays -0 against a
// +0 bound, as clip_f32 (and ONNX Runtime's Relu / Clip) give. Every FP32 /
// BF16 Relu and Clip epilogue of the x86 tiers clamps with these. Included
// by ISA translation units only; each width exists where its flags do, with
// internal linkage (STYLE.md, "ISA code is fenced").
#pragma once

#include <immintrin.h>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

#if defined(__AVX__)
inline __m256 clip_lanes(__m256 v, __m256 lo, __m256 hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }
#endif
#if defined(__AVX512F__)
inline __m512 clip_lanes(__m512 v, __m512 lo, __m512 hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, v)); }
#endif

}  // namespace
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
