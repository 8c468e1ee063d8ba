// A float32 Conv's "Chain" activation (float_chain.h).
#include "engine/ops/float_chain.h"

#include <algorithm>

#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

// Elements per block: the running value, z's copy and the output stay in L1.
constexpr int64_t kBlock = 1024;

}  // namespace

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
    Step step;
    if (s == "Relu") {
      step.kind = Kind::kRelu;
    } else if (s == "Clip") {
      step.kind = Kind::kClip;
      step.lo = constant();
      step.hi = constant();
    } else {
      static const std::pair<const char*, kernels::ref::BinaryF32> kOps[] = {
          {"Add", kernels::ref::BinaryF32::kAdd}, {"Sub", kernels::ref::BinaryF32::kSub},
          {"Mul", kernels::ref::BinaryF32::kMul}, {"Div", kernels::ref::BinaryF32::kDiv}};
      const size_t colon = s.find(':');
      bool known = colon != std::string::npos && s.size() == colon + 3;
      step.kind = Kind::kBinary;
      if (known) {
        known = false;
        for (const auto& op : kOps) {
          if (s.compare(0, colon, op.first) == 0) {
            step.op = op.second;
            known = true;
          }
        }
      }
      Operand* slots[2] = {&step.a, &step.b};
      for (int i = 0; known && i < 2; ++i) {
        const char o = s[colon + 1 + i];
        if (o == 't') {
          *slots[i] = Operand::kRunning;
        } else if (o == 'z') {
          *slots[i] = Operand::kConvOutput;
          reads_z_ = reads_z_ || !steps_.empty();
        } else if (o == 'c') {
          *slots[i] = Operand::kConstant;
          step.c = constant();
        } else {
          known = false;
        }
      }
      if (!known || (step.a != Operand::kRunning && step.b != Operand::kRunning)) {
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

void FloatChain::apply(float* y, int64_t n) const {
  // Where a later step reads z, the running value lives in t (this block's
  // scratch) from the first step to the last, which writes y: z stays in y,
  // read in place (no copy of z per block: the copy was 43% of this
  // function's time on PP-OCRv4 rec, perf). Elementwise, so the last step
  // may read y's z while writing y. The same operations in the same order.
  float t[kBlock];
  const size_t last = steps_.size() - 1;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t m = std::min(kBlock, n - i0);
    float* z = y + i0;
    for (size_t k = 0; k < steps_.size(); ++k) {
      const Step& s = steps_[k];
      // Before any step the running value is z itself.
      const float* in = !reads_z_ || k == 0 ? z : t;
      float* out = !reads_z_ || k == last ? z : t;
      switch (s.kind) {
        case Kind::kRelu: for (int64_t i = 0; i < m; ++i) out[i] = kernels::ref::relu_f32(in[i]); break;
        case Kind::kClip: for (int64_t i = 0; i < m; ++i) out[i] = clip_value(in[i], s.lo, s.hi); break;
        case Kind::kBinary: {
          auto at = [&](Operand o) { return o == Operand::kConstant ? &s.c : o == Operand::kConvOutput ? z : in; };
          auto stride = [](Operand o) -> int64_t { return o == Operand::kConstant ? 0 : 1; };
          binary_.apply(s.op, m, at(s.a), stride(s.a), at(s.b), stride(s.b), out);
          break;
        }
      }
    }
  }
}

std::string FloatChain::describe() const { return "+chain(" + code_ + ")"; }

}  // namespace engine
}  // namespace int8rt
