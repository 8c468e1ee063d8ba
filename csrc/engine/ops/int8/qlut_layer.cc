// int8rt.QLut: an element-wise float chain between int8 tensors as a
// 256-entry table (engine/lut_region.h): y[i] = table[x[i] + 128], any shape
// and layout (element-wise). Inputs: x int8, table int8 [256] (constant).
// The kernel is the lookup_s8 family's choice (kernels/eltwise_s8.h).
#include "engine/layer.h"
#include "engine/ops/element_chunks.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qlut_stage.h"
#include "int8rt/error.h"
#include "kernels/eltwise_s8.h"

namespace int8rt {
namespace engine {
namespace {

class QLutLayer : public QLutStage {
 public:
  QLutLayer(const Network& net, const Node& node)
      : name_(node.name), k_(&kernels::choose<kernels::LookupS8Kernel>()) {
    const Tensor& t = constant_input(net, node, 1, "table");
    if (t.dtype != DataType::kInt8 || t.i8.size() != 256) {
      throw InvalidArgument(layer_error_prefix(node) + "table must be 256 int8 values");
    }
    table_ = t.i8;
    ops_ = QLutAttrs::from_attrs(node).ops;
  }
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in[0]->dtype() != DataType::kInt8) throw InvalidArgument("node '" + name_ + "': QLut needs an int8 input");
    return {{DataType::kInt8, in[0]->shape()}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const int8_t* x = in[0]->data<int8_t>();
    int8_t* y = out[0]->data<int8_t>();
    for_element_chunks(in[0]->numel(), [&](int64_t b, int64_t e) { k_->lookup(e - b, x + b, table_.data(), y + b); });
  }
  void lookup(int64_t n, const int8_t* x, int8_t* y) const override { k_->lookup(n, x, table_.data(), y); }
  std::string describe() const override { return std::string(k_->name()) + " lookup (" + ops_ + ")"; }

 private:
  std::string name_;
  const kernels::LookupS8Kernel* k_;
  std::vector<int8_t> table_;
  std::string ops_;
};

INT8RT_REGISTER_LAYER(QLutAttrs::kOp, [](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  return std::make_unique<QLutLayer>(net, node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
