// A float32 Conv's "Chain" activation (float_chain.h).
#include "engine/ops/float_chain.h"

#include <algorithm>
#include <limits>

#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {

using kernels::ref::FloatChainKind;
using kernels::ref::FloatChainOperand;
using kernels::ref::FloatChainStep;

FloatChain::FloatChain(const Node& node)
    : code_(node.attrs.get_string("int8rt_chain", "")), binary_(kernels::choose<kernels::BinaryF32Kernel>()) {
  const std::vector<double> values = node.attrs.get_floats("int8rt_chain_values", {});
  size_t next = 0;
  auto constant = [&]() {
    if (next >= values.size()) throw unsupported_attr(node, "int8rt_chain_values", "too few values for " + code_);
    return static_cast<float>(values[next++]);
  };
  size_t begin = 0;
  while (begin <= code_.size() && !code_.empty()) {
    const size_t end = std::min(code_.find(';', begin), code_.size());
    const std::string s = code_.substr(begin, end - begin);
    FloatChainStep step;
    if (s == "Relu") {  // relu_f32(x) == clip_f32(x, 0, +inf) (kernels/ref/clip_f32.h)
      step.kind = FloatChainKind::kClip;
      step.lo = 0.f;
      step.hi = std::numeric_limits<float>::infinity();
    } else if (s == "Clip") {
      step.kind = FloatChainKind::kClip;
      step.lo = constant();
      step.hi = constant();
    } else {
      static const std::pair<const char*, kernels::ref::BinaryF32> kOps[] = {
          {"Add", kernels::ref::BinaryF32::kAdd}, {"Sub", kernels::ref::BinaryF32::kSub},
          {"Mul", kernels::ref::BinaryF32::kMul}, {"Div", kernels::ref::BinaryF32::kDiv}};
      const size_t colon = s.find(':');
      bool known = colon != std::string::npos && s.size() == colon + 3;
      step.kind = FloatChainKind::kBinary;
      if (known) {
        known = false;
        for (const auto& op : kOps) {
          if (s.compare(0, colon, op.first) == 0) {
            step.op = op.second;
            known = true;
          }
        }
      }
      FloatChainOperand* slots[2] = {&step.a, &step.b};
      for (int i = 0; known && i < 2; ++i) {
        const char o = s[colon + 1 + i];
        if (o == 't') {
          *slots[i] = FloatChainOperand::kRunning;
        } else if (o == 'z') {
          *slots[i] = FloatChainOperand::kConvOutput;
        } else if (o == 'c') {
          *slots[i] = FloatChainOperand::kConstant;
          step.c = constant();
        } else {
          known = false;
        }
      }
      if (!known || (step.a != FloatChainOperand::kRunning && step.b != FloatChainOperand::kRunning)) {
        throw unsupported_attr(node, "int8rt_chain", "step '" + s + "'");
      }
    }
    steps_.push_back(step);
    begin = end + 1;
  }
  if (steps_.empty() || next != values.size()) {
    throw unsupported_attr(node, "int8rt_chain", "'" + code_ + "' with " + std::to_string(values.size()) + " values");
  }
}

std::string FloatChain::describe() const { return "+chain(" + code_ + ")"; }

}  // namespace engine
}  // namespace int8rt
