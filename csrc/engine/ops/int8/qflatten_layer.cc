// int8rt.QFlatten: Flatten(axis=1) of an int8 NHWC tensor with H = W = 1,
// where the NHWC bytes already are the [N, C] result (engine/lower_int8.h).
#include <cstring>

#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "engine/ops/int8/contracts.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

class QFlattenLayer : public Layer {
 public:
  explicit QFlattenLayer(std::string name) : name_(std::move(name)) {}
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = in[0]->shape();
    if (in[0]->dtype() != DataType::kInt8 || s.size() != 4 || s[1] != 1 || s[2] != 1) {
      throw InvalidArgument("node '" + name_ + "': QFlatten needs an int8 [N, 1, 1, C] tensor, got " + shape_str(s));
    }
    return {{DataType::kInt8, {s[0], s[3]}}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    copy_unless_aliased(*in[0], *out[0]);
  }
  std::string describe() const override { return "copy"; }
  bool output_is_input_bytes() const override { return true; }

 private:
  std::string name_;
};

INT8RT_REGISTER_LAYER(QFlattenAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  return std::make_unique<QFlattenLayer>(node.name);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
