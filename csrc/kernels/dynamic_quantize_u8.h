// The dynamic uint8 quantization family (registry.h, key "dynamic_quantize_u8"):
// ONNX DynamicQuantizeLinear's two passes over a contiguous float32 array,
//   range:    lo = min(0, min(x)), hi = max(0, max(x))   (NaN skipped)
//   quantize: y = clamp(round_half_even(x / scale) + zero_point, 0, 255)   (NaN -> 0)
// with x / scale the float32 quotient (not x * (1 / scale): the spec divides).
// Every candidate gives the same bits: min / max do not depend on order, and
// division and round-half-even are exact IEEE operations on every tier.
// engine/ops/dynamic_quantize.h derives the scale and zero point from the range
// and splits the quantize pass over the thread pool.
#pragma once

#include <cstdint>

#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

using DynamicRangeFn = void (*)(int64_t n, const float* x, float* lo, float* hi);
using DynamicQuantizeU8Fn = void (*)(int64_t n, const float* x, float scale, float zero_point, uint8_t* y);

class DynamicQuantizeU8Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"dynamic_quantize_u8", Dtype::kF32};
  DynamicQuantizeU8Kernel(const char* name, Isa isa, DynamicRangeFn r, DynamicQuantizeU8Fn q)
      : NamedKernel(name, isa), range(r), quantize(q) {}
  const DynamicRangeFn range;       // *lo, *hi: the range of x[0..n) widened to include 0
  const DynamicQuantizeU8Fn quantize;
};

namespace ref {
void dynamic_range(int64_t n, const float* x, float* lo, float* hi);
void dynamic_quantize_u8(int64_t n, const float* x, float scale, float zero_point, uint8_t* y);
}  // namespace ref
namespace x86 {
namespace avx512 {
void dynamic_range(int64_t n, const float* x, float* lo, float* hi);
void dynamic_quantize_u8(int64_t n, const float* x, float scale, float zero_point, uint8_t* y);
}  // namespace avx512
namespace avx2 {
void dynamic_range(int64_t n, const float* x, float* lo, float* hi);
void dynamic_quantize_u8(int64_t n, const float* x, float scale, float zero_point, uint8_t* y);
}  // namespace avx2
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
