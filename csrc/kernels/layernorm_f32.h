// The FP32 layer-normalisation family (registry.h, key "layernorm" f32): rows
// of LayerNormalization. Every candidate runs the loop of
// kernels/ref/layernorm_f32.h compiled for its ISA, so all give identical
// bits (tests/test_fp32_ops.py, and for the int8 operands of LayerNormRows
// tests/test_int8_layernorm.py, compare the tiers); they differ in vector
// width only. A layer chooses once (choose<LayerNormF32Kernel>()).
#pragma once

#include "kernels/abi/layernorm_f32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class LayerNormF32Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"layernorm", Dtype::kF32};
  LayerNormF32Kernel(const char* name, Isa isa, LayerNormRowsFn fn) : NamedKernel(name, isa), rows(fn) {}
  const LayerNormRowsFn rows;
};

}  // namespace kernels
}  // namespace int8rt
