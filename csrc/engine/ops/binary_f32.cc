// Element-wise binary ops with ONNX multidirectional (numpy) broadcasting:
// Add, Sub, Mul, Div, Pow on float32, and Add, Sub, Mul, Div on int64 (shape
// arithmetic; Div truncates toward zero like ONNX Runtime, division by zero
// is an error). Pow's exponent may be float32 or int64 (ONNX allows mixed
// types; the result has the base's type, float32 only).
//
// Broadcasting is planned per run (broadcast_loop.h).
#include <atomic>
#include <cmath>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

enum class Op { kAdd, kSub, kMul, kDiv, kPow };

class BinaryLayer : public Layer {
 public:
  BinaryLayer(Op op, const Node& node) : op_(op), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& a = require_any(in, 0, prefix_);
    const Value& b = require_any(in, 1, prefix_);
    bool ok = a.dtype() == DataType::kFloat32
                  ? (b.dtype() == DataType::kFloat32 || (op_ == Op::kPow && b.dtype() == DataType::kInt64))
                  : (a.dtype() == DataType::kInt64 && b.dtype() == DataType::kInt64 && op_ != Op::kPow);
    if (!ok) {
      throw InvalidArgument(prefix_ + "unsupported operand dtypes (float32 op float32, int64 op int64" +
                            std::string(op_ == Op::kPow ? ", float32 ^ int64)" : ")"));
    }
    return {{a.dtype(), broadcast_shapes(a.shape(), b.shape(), prefix_)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& a = *in[0];
    const Value& b = *in[1];
    BroadcastPlan p = make_broadcast_plan(a.shape(), b.shape(), out[0]->shape());
    if (a.dtype() == DataType::kInt64) {
      run_int(p, a.data<int64_t>(), b.data<int64_t>(), out[0]->data<int64_t>());
      return;
    }
    const float* x = a.data<float>();
    float* y = out[0]->data<float>();
    if (b.dtype() == DataType::kInt64) {
      run_broadcast(p, x, b.data<int64_t>(), y, [](float u, int64_t v) { return std::pow(u, static_cast<float>(v)); });
      return;
    }
    const float* z = b.data<float>();
    switch (op_) {
      case Op::kAdd: run_broadcast(p, x, z, y, [](float u, float v) { return u + v; }); break;
      case Op::kSub: run_broadcast(p, x, z, y, [](float u, float v) { return u - v; }); break;
      case Op::kMul: run_broadcast(p, x, z, y, [](float u, float v) { return u * v; }); break;
      case Op::kDiv: run_broadcast(p, x, z, y, [](float u, float v) { return u / v; }); break;
      case Op::kPow: run_broadcast(p, x, z, y, [](float u, float v) { return std::pow(u, v); }); break;
    }
  }

  std::string describe() const override { return "fp32/int64 broadcast"; }

 private:
  void run_int(const BroadcastPlan& p, const int64_t* x, const int64_t* z, int64_t* y) const {
    switch (op_) {
      case Op::kAdd: run_broadcast(p, x, z, y, [](int64_t u, int64_t v) { return u + v; }); break;
      case Op::kSub: run_broadcast(p, x, z, y, [](int64_t u, int64_t v) { return u - v; }); break;
      case Op::kMul: run_broadcast(p, x, z, y, [](int64_t u, int64_t v) { return u * v; }); break;
      case Op::kDiv: {
        std::atomic<bool> zero{false};
        run_broadcast(p, x, z, y, [&zero](int64_t u, int64_t v) {
          if (v == 0) { zero.store(true, std::memory_order_relaxed); return int64_t{0}; }
          return u / v;
        });
        if (zero) throw InvalidArgument(prefix_ + "integer division by zero");
        break;
      }
      case Op::kPow: break;
    }
  }

  Op op_;
  std::string prefix_;
};

LayerFactory make(Op op) {
  return [op](const Network&, const Node& node) -> std::unique_ptr<Layer> {
    if (node.inputs.size() != 2) {
      throw InvalidArgument(layer_error_prefix(node) + "expects 2 inputs, got " + std::to_string(node.inputs.size()));
    }
    return std::make_unique<BinaryLayer>(op, node);
  };
}

INT8RT_REGISTER_LAYER("Add", make(Op::kAdd));
INT8RT_REGISTER_LAYER("Sub", make(Op::kSub));
INT8RT_REGISTER_LAYER("Mul", make(Op::kMul));
INT8RT_REGISTER_LAYER("Div", make(Op::kDiv));
INT8RT_REGISTER_LAYER("Pow", make(Op::kPow));

}  // namespace
}  // namespace engine
}  // namespace int8rt
