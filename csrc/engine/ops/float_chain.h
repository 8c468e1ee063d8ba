// The "Chain" activation of a float32 Conv (graph/passes/passes.h, made by
// graph/passes/fuse_float_chain.cc): element-wise steps on the conv's output.
// Each step is the operation of the unfused layer it replaces - Add / Sub /
// Mul / Div as the binary_f32 family's single IEEE operations (the Add /
// Sub / Mul / Div layers' kernel, engine/ops/binary_f32.cc) with the operands
// in the node's order, Clip and Relu by the unary layers' clamp (kernels/ref/
// clip_f32.h) - so a fused conv writes the unfused layers' bits. The steps
// run on the binary_f32 family's chain function (kernels/ref/
// float_chain_loop.h), every step on each element in registers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "int8rt/network.h"
#include "kernels/binary_f32.h"

namespace int8rt {
namespace engine {

class FloatChain {
 public:
  // Parses "int8rt_chain" and "int8rt_chain_values"; throws NotSupported
  // naming the node for a step it does not know or a count that disagrees.
  explicit FloatChain(const Node& node);
  // y[0..n) := the chain applied to y (y holds z). Thread-safe (const).
  void apply(float* y, int64_t n) const { binary_.chain(steps_.data(), static_cast<int32_t>(steps_.size()), n, y); }
  std::string describe() const;  // "+chain(Add:tc;Clip;...)"

 private:
  std::vector<kernels::ref::FloatChainStep> steps_;
  std::string code_;
  const kernels::BinaryF32Kernel& binary_;
};

}  // namespace engine
}  // namespace int8rt
