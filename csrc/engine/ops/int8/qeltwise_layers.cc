// int8rt.QAdd and int8rt.QConcat: int8 tensors combined with per-input
// rescaling to the output scale (affine formulas of the reference kernels,
// multipliers read once with qeltwise_params.h), run by the element-wise kernel chosen when the
// layer is created (kernels/eltwise_s8.h, capped by INT8RT_MAX_ISA).
#include <algorithm>

#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qeltwise_params.h"
#include "int8rt/error.h"
#include "kernels/eltwise_s8.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace engine {
namespace {

class QAddLayer : public Layer {
 public:
  explicit QAddLayer(const Node& node)
      : name_(node.name), k_(&kernels::choose<kernels::AddS8Kernel>()) {
    params_ = qadd_params(node);
  }
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in.size() != 2 || in[0]->dtype() != DataType::kInt8 || in[1]->dtype() != DataType::kInt8 ||
        in[0]->shape() != in[1]->shape()) {
      throw InvalidArgument("node '" + name_ + "': QAdd needs two int8 tensors of the same shape");
    }
    return {{DataType::kInt8, in[0]->shape()}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    k_->add(in[0]->numel(), in[0]->data<int8_t>(), in[1]->data<int8_t>(), params_, out[0]->data<int8_t>());
  }
  std::string describe() const override { return k_->name(); }

 private:
  std::string name_;
  const kernels::AddS8Kernel* k_;
  kernels::AddParams params_;
};

class QConcatLayer : public Layer {
 public:
  explicit QConcatLayer(const Node& node)
      : name_(node.name), k_(&kernels::choose<kernels::ConcatS8Kernel>()) {
    multipliers_ = qconcat_multipliers(node);
  }
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    Shape s = in.at(0)->shape();
    int64_t channels = 0;
    for (const Value* v : in) {
      const Shape& t = v->shape();
      if (v->dtype() != DataType::kInt8 || t.size() != 4 || t[0] != s[0] || t[1] != s[1] || t[2] != s[2]) {
        throw InvalidArgument("node '" + name_ + "': QConcat inputs must be int8 NHWC with equal N, H, W");
      }
      channels += t[3];
    }
    s[3] = channels;
    return {{DataType::kInt8, s}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    std::vector<kernels::ref::ConcatInput> inputs;
    for (size_t i = 0; i < in.size(); ++i) {
      inputs.push_back({in[i]->data<int8_t>(), static_cast<int>(in[i]->shape()[3]), multipliers_[i]});
    }
    const Shape& s = in[0]->shape();
    k_->concat(s[0] * s[1] * s[2], inputs, out[0]->data<int8_t>());
  }
  std::string describe() const override { return k_->name(); }

 private:
  std::string name_;
  const kernels::ConcatS8Kernel* k_;
  std::vector<float> multipliers_;
};

INT8RT_REGISTER_LAYER(QAddAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 2);
  return std::make_unique<QAddLayer>(node);
});
INT8RT_REGISTER_LAYER(QConcatAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, std::max<size_t>(1, node.inputs.size()));
  return std::make_unique<QConcatLayer>(node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
