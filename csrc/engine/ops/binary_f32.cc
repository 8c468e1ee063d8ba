// Element-wise binary ops with ONNX multidirectional (numpy) broadcasting:
// Add, Sub, Mul, Div, Pow on float32, and on int64 and int32 (shape
// arithmetic; Div truncates toward zero like ONNX Runtime, division by zero
// is an error). Pow's exponent may be float32, int64 or int32 whatever the
// base's type (ONNX allows mixed types; the result has the base's type): an
// integer power is std::pow in double, converted to the base's type, as
// ONNX Runtime computes it.
//
// Broadcasting is planned per run (broadcast_loop.h).
#include <atomic>
#include <cmath>
#include <type_traits>

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
    auto numeric = [](DataType t) {
      return t == DataType::kFloat32 || t == DataType::kInt64 || t == DataType::kInt32;
    };
    const bool ok = op_ == Op::kPow ? numeric(a.dtype()) && numeric(b.dtype())
                                    : numeric(a.dtype()) && a.dtype() == b.dtype();
    if (!ok) {
      throw InvalidArgument(prefix_ + "unsupported operand dtypes " + dtype_name(a.dtype()) + " and " +
                            dtype_name(b.dtype()) + " (float32, int64 or int32, both of one type" +
                            std::string(op_ == Op::kPow ? "; Pow: any two of them)" : ")"));
    }
    return {{a.dtype(), broadcast_shapes(a.shape(), b.shape(), prefix_)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& a = *in[0];
    const Value& b = *in[1];
    BroadcastPlan p = make_broadcast_plan(a.shape(), b.shape(), out[0]->shape());
    if (op_ == Op::kPow && a.dtype() != b.dtype()) {
      switch (a.dtype()) {
        case DataType::kInt64: pow_mixed<int64_t>(p, a, b, *out[0]); return;
        case DataType::kInt32: pow_mixed<int32_t>(p, a, b, *out[0]); return;
        default: pow_mixed<float>(p, a, b, *out[0]); return;
      }
    }
    if (a.dtype() == DataType::kInt64) {
      run_int(p, a.data<int64_t>(), b.data<int64_t>(), out[0]->data<int64_t>());
      return;
    }
    if (a.dtype() == DataType::kInt32) {
      run_int(p, a.data<int32_t>(), b.data<int32_t>(), out[0]->data<int32_t>());
      return;
    }
    const float* x = a.data<float>();
    float* y = out[0]->data<float>();
    const float* z = b.data<float>();
    switch (op_) {
      case Op::kAdd: run_broadcast(p, x, z, y, [](float u, float v) { return u + v; }); break;
      case Op::kSub: run_broadcast(p, x, z, y, [](float u, float v) { return u - v; }); break;
      case Op::kMul: run_broadcast(p, x, z, y, [](float u, float v) { return u * v; }); break;
      case Op::kDiv: run_broadcast(p, x, z, y, [](float u, float v) { return u / v; }); break;
      case Op::kPow: run_broadcast(p, x, z, y, [](float u, float v) { return std::pow(u, v); }); break;
    }
  }

  std::string describe() const override { return "fp32/int64/int32 broadcast"; }

 private:
  // Pow with an exponent of another type: float32 bases raise to the
  // exponent converted to float32 (as before: x ^ int64 in float32); integer
  // bases in double, converted back.
  template <typename T>
  void pow_mixed(const BroadcastPlan& p, const Value& a, const Value& b, Value& out) const {
    const T* x = a.data<T>();
    T* y = out.data<T>();
    auto with = [&](const auto* z) {
      run_broadcast(p, x, z, y, [](T u, auto v) {
        if constexpr (std::is_same_v<T, float>) {
          return std::pow(u, static_cast<float>(v));
        } else {
          return static_cast<T>(std::pow(static_cast<double>(u), static_cast<double>(v)));
        }
      });
    };
    switch (b.dtype()) {
      case DataType::kInt64: with(b.data<int64_t>()); break;
      case DataType::kInt32: with(b.data<int32_t>()); break;
      default: with(b.data<float>()); break;
    }
  }

  template <typename T>
  void run_int(const BroadcastPlan& p, const T* x, const T* z, T* y) const {
    switch (op_) {
      case Op::kAdd: run_broadcast(p, x, z, y, [](T u, T v) { return static_cast<T>(u + v); }); break;
      case Op::kSub: run_broadcast(p, x, z, y, [](T u, T v) { return static_cast<T>(u - v); }); break;
      case Op::kMul: run_broadcast(p, x, z, y, [](T u, T v) { return static_cast<T>(u * v); }); break;
      case Op::kDiv: {
        std::atomic<bool> zero{false};
        run_broadcast(p, x, z, y, [&zero](T u, T v) {
          if (v == 0) { zero.store(true, std::memory_order_relaxed); return T{0}; }
          return static_cast<T>(u / v);
        });
        if (zero) throw InvalidArgument(prefix_ + "integer division by zero");
        break;
      }
      case Op::kPow:
        run_broadcast(p, x, z, y, [](T u, T v) {
          return static_cast<T>(std::pow(static_cast<double>(u), static_cast<double>(v)));
        });
        break;
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
