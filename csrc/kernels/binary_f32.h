// The FP32 element-wise binary family (registry.h, key "binary" f32): Add,
// Sub, Mul and Div of float32 tensors (engine/ops/binary_f32.cc), one row
// of the broadcast loop per call (contract in kernels/abi/binary_f32.h).
// Every candidate runs the one loop of kernels/ref/binary_f32_loop.h
// compiled for its ISA, so all give identical bits
// (tests/test_binary_f32_kernels.py compares the tiers with ==); they differ
// in vector width only (the engine's baseline build is SSE2). A layer
// chooses once (choose<BinaryF32Kernel>()) and calls k.apply per row; a
// float conv's element-wise chain (engine/ops/float_chain.h) calls k.chain
// on its output (every step per element in registers, the steps' bits).
#pragma once

#include "kernels/abi/binary_f32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class BinaryF32Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"binary", Dtype::kF32};
  BinaryF32Kernel(const char* name, Isa isa, BinaryF32Fn fn, FloatChainF32Fn chain_fn)
      : NamedKernel(name, isa), apply(fn), chain(chain_fn) {}
  const BinaryF32Fn apply;
  const FloatChainF32Fn chain;
};

}  // namespace kernels
}  // namespace int8rt
