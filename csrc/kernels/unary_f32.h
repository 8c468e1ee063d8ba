// The FP32 element-wise family (registry.h, key "unary_f32"): Exp, Sigmoid,
// Tanh, Erf, both Gelus and Silu (x * sigmoid(x), the FP32 Conv's fused
// Swish) over a contiguous array, the transcendental layers of the FP32
// engine (so of calibration). Every candidate runs the one loop of
// kernels/ref/math_f32.h compiled for its ISA: the reference with
// -ffp-contract=off, the AVX2 and AVX-512 tiers with each a * b + c
// contracted into an FMA (x86/CMakeLists.txt), except Sigmoid and Silu on
// the AVX2 and AVX-512 tiers (intrinsics with the same bits: exp_core8 /
// exp_core16 on a clamped argument, x86/avx2/unary_f32.cc and
// x86/avx512/unary_f32.cc; a NaN input's output sign aside, the bits of the
// tier's exp_fma_f32 path, so of its Sigmoid layer then a Mul), so tiers
// differ from the reference in the last bits; tests/test_fp32_ops.py holds
// every tier to the same bounds against float64. A layer chooses once (choose<UnaryF32Kernel>()) and calls
// k.apply(op, n, x, y) on chunks it splits over int8rt::parallel_for.
#pragma once

#include "kernels/abi/unary_f32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class UnaryF32Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"unary", Dtype::kF32};
  UnaryF32Kernel(const char* name, Isa isa, UnaryF32Fn fn) : NamedKernel(name, isa), apply(fn) {}
  const UnaryF32Fn apply;
};

}  // namespace kernels
}  // namespace int8rt
