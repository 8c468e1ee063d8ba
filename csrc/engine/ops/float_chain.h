// The "Chain" activation of a float32 Conv (graph/passes/passes.h, made by
// graph/passes/fuse_float_chain.cc): element-wise steps on the conv's output,
// run block by block while each block is in cache. Each step is the operation
// of the unfused layer it replaces - Add / Sub / Mul / Div on the binary_f32
// kernel family (the Add / Sub / Mul / Div layers' kernel, engine/ops/binary_f32.cc)
// with the operands in the node's order, Clip and Relu by the unary layers'
// formulas (engine/ops/unary_f32.cc, op_util.h's clip_value) - so a fused
// conv writes the unfused layers' bits.
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
  void apply(float* y, int64_t n) const;
  std::string describe() const;  // "+chain(Add:tc;Clip;...)"

 private:
  enum class Kind { kBinary, kClip, kRelu };
  enum class Operand { kRunning, kConvOutput, kConstant };
  struct Step {
    Kind kind = Kind::kRelu;
    kernels::ref::BinaryF32 op = kernels::ref::BinaryF32::kAdd;
    Operand a = Operand::kRunning, b = Operand::kRunning;
    float c = 0.f, lo = 0.f, hi = 0.f;  // the constant operand; Clip's bounds
  };
  std::vector<Step> steps_;
  std::string code_;
  bool reads_z_ = false;  // a step reads the conv's output after the first
  const kernels::BinaryF32Kernel& binary_;
};

}  // namespace engine
}  // namespace int8rt
