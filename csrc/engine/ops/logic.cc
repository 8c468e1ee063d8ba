// Logic ops on bool tensors (one byte, 0 or 1): And, Or, Xor with ONNX
// multidirectional (numpy) broadcasting, and Not. Inputs and output are bool.
#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

enum class Logic { kAnd, kOr, kXor };

class LogicLayer : public Layer {
 public:
  LogicLayer(Logic op, const Node& node) : op_(op), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& a = require_input(in, 0, DataType::kBool, prefix_);
    const Value& b = require_input(in, 1, DataType::kBool, prefix_);
    return {{DataType::kBool, broadcast_shapes(a.shape(), b.shape(), prefix_)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const BroadcastPlan p = make_broadcast_plan(in[0]->shape(), in[1]->shape(), out[0]->shape());
    const uint8_t* a = in[0]->data<uint8_t>();
    const uint8_t* b = in[1]->data<uint8_t>();
    uint8_t* y = out[0]->data<uint8_t>();
    switch (op_) {
      case Logic::kAnd: run_broadcast(p, a, b, y, [](uint8_t u, uint8_t v) -> uint8_t { return u & v; }); break;
      case Logic::kOr: run_broadcast(p, a, b, y, [](uint8_t u, uint8_t v) -> uint8_t { return u | v; }); break;
      case Logic::kXor: run_broadcast(p, a, b, y, [](uint8_t u, uint8_t v) -> uint8_t { return u ^ v; }); break;
    }
  }

  std::string describe() const override { return "bool broadcast"; }

 private:
  Logic op_;
  std::string prefix_;
};

class NotLayer : public Layer {
 public:
  explicit NotLayer(const Node& node) : prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    return {{DataType::kBool, require_input(in, 0, DataType::kBool, prefix_).shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const uint8_t* x = in[0]->data<uint8_t>();
    uint8_t* y = out[0]->data<uint8_t>();
    parallel_for(in[0]->numel(), 1 << 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) y[i] = x[i] ^ 1;
    });
  }

  std::string describe() const override { return "bool"; }

 private:
  std::string prefix_;
};

LayerFactory make(Logic op) {
  return [op](const Network&, const Node& node) -> std::unique_ptr<Layer> {
    if (node.inputs.size() != 2) {
      throw InvalidArgument(layer_error_prefix(node) + "expects 2 inputs, got " + std::to_string(node.inputs.size()));
    }
    require_inputs(node, 2);
    return std::make_unique<LogicLayer>(op, node);
  };
}

std::unique_ptr<Layer> make_not(const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::make_unique<NotLayer>(node);
}

INT8RT_REGISTER_LAYER("And", make(Logic::kAnd));
INT8RT_REGISTER_LAYER("Or", make(Logic::kOr));
INT8RT_REGISTER_LAYER("Xor", make(Logic::kXor));
INT8RT_REGISTER_LAYER("Not", make_not);

}  // namespace
}  // namespace engine
}  // namespace int8rt
