// Where (ONNX): y = condition ? x : y_else, the three inputs broadcast
// together (numpy rules). The condition is bool; x and y_else share one dtype,
// any the engine carries (element sizes 1, 2, 4, 8 bytes): elements are
// selected, never converted, so the copy moves their bits (by element size).
#include <cstring>

#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

template <typename T>
void select(const BroadcastPlanN<3>& p, const Value& c, const Value& x, const Value& y, Value& out) {
  run_broadcast3(p, c.data<uint8_t>(), x.data<T>(), y.data<T>(), out.data<T>(),
                 [](uint8_t k, T u, T v) { return k ? u : v; });
}

class WhereLayer : public Layer {
 public:
  explicit WhereLayer(const Node& node) : prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& c = require_input(in, 0, DataType::kBool, prefix_);
    const Value& x = require_any(in, 1, prefix_);
    const Value& y = require_any(in, 2, prefix_);
    if (x.dtype() != y.dtype()) {
      throw InvalidArgument(prefix_ + "X is " + dtype_name(x.dtype()) + " and Y is " + dtype_name(y.dtype()) +
                            "; they must have one dtype");
    }
    Shape s = broadcast_shapes(broadcast_shapes(c.shape(), x.shape(), prefix_), y.shape(), prefix_);
    return {{x.dtype(), s}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& c = *in[0];
    const Value& x = *in[1];
    const Value& y = *in[2];
    const BroadcastPlanN<3> p = make_broadcast_plan_n<3>({&c.shape(), &x.shape(), &y.shape()}, out[0]->shape());
    switch (dtype_size(x.dtype())) {
      case 1: select<uint8_t>(p, c, x, y, *out[0]); break;
      case 2: select<uint16_t>(p, c, x, y, *out[0]); break;
      case 4: select<uint32_t>(p, c, x, y, *out[0]); break;
      case 8: select<uint64_t>(p, c, x, y, *out[0]); break;
      default: throw InvalidArgument(prefix_ + "unsupported dtype " + dtype_name(x.dtype()));
    }
  }

  std::string describe() const override { return "select broadcast"; }

 private:
  std::string prefix_;
};

std::unique_ptr<Layer> make_where(const Network&, const Node& node) {
  if (node.inputs.size() != 3) {
    throw InvalidArgument(layer_error_prefix(node) + "expects 3 inputs, got " + std::to_string(node.inputs.size()));
  }
  require_inputs(node, 3);
  return std::make_unique<WhereLayer>(node);
}

INT8RT_REGISTER_LAYER("Where", make_where);

}  // namespace
}  // namespace engine
}  // namespace int8rt
