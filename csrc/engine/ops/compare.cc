// Comparisons with ONNX multidirectional (numpy) broadcasting: Equal,
// Greater, GreaterOrEqual, Less, LessOrEqual. Both operands have one dtype,
// any numeric one (Equal also bool; float16 compares as float32, exactly); the output is bool (one
// byte, 0 or 1). Float comparisons follow IEEE 754, as the ONNX reference and
// ONNX Runtime do: any comparison with a NaN is false (Equal(NaN, NaN) too).
#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

enum class Cmp { kEqual, kGreater, kGreaterOrEqual, kLess, kLessOrEqual };

// Compares the loaded values (Arith<T>::load: float16 -> float32, exact; an
// identity otherwise).
template <typename T>
void compare(Cmp cmp, const BroadcastPlan& p, const T* a, const T* b, uint8_t* y) {
  using A = Arith<T>;
  switch (cmp) {
    case Cmp::kEqual: run_broadcast(p, a, b, y, [](T u, T v) -> uint8_t { return A::load(u) == A::load(v); }); break;
    case Cmp::kGreater: run_broadcast(p, a, b, y, [](T u, T v) -> uint8_t { return A::load(u) > A::load(v); }); break;
    case Cmp::kGreaterOrEqual:
      run_broadcast(p, a, b, y, [](T u, T v) -> uint8_t { return A::load(u) >= A::load(v); });
      break;
    case Cmp::kLess: run_broadcast(p, a, b, y, [](T u, T v) -> uint8_t { return A::load(u) < A::load(v); }); break;
    case Cmp::kLessOrEqual:
      run_broadcast(p, a, b, y, [](T u, T v) -> uint8_t { return A::load(u) <= A::load(v); });
      break;
  }
}

class CompareLayer : public Layer {
 public:
  CompareLayer(Cmp cmp, const Node& node) : cmp_(cmp), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& a = require_any(in, 0, prefix_);
    const Value& b = require_any(in, 1, prefix_);
    const DataType t = a.dtype();
    const bool ok = is_numeric_dtype(t) || (t == DataType::kBool && cmp_ == Cmp::kEqual);
    if (!ok || b.dtype() != t) {
      throw InvalidArgument(prefix_ + "operands are " + dtype_name(t) + " and " + dtype_name(b.dtype()) +
                            "; both must be of one numeric dtype" +
                            (cmp_ == Cmp::kEqual ? " (or both bool)" : ""));
    }
    return {{DataType::kBool, broadcast_shapes(a.shape(), b.shape(), prefix_)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& a = *in[0];
    const Value& b = *in[1];
    const BroadcastPlan p = make_broadcast_plan(a.shape(), b.shape(), out[0]->shape());
    uint8_t* y = out[0]->data<uint8_t>();
    if (a.dtype() == DataType::kBool) {
      compare(cmp_, p, a.data<uint8_t>(), b.data<uint8_t>(), y);
      return;
    }
    visit_numeric(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      compare(cmp_, p, a.data<T>(), b.data<T>(), y);
    });
  }

  std::string describe() const override { return "compare broadcast -> bool"; }

 private:
  Cmp cmp_;
  std::string prefix_;
};

LayerFactory make(Cmp cmp) {
  return [cmp](const Network&, const Node& node) -> std::unique_ptr<Layer> {
    if (node.inputs.size() != 2) {
      throw InvalidArgument(layer_error_prefix(node) + "expects 2 inputs, got " + std::to_string(node.inputs.size()));
    }
    require_inputs(node, 2);
    return std::make_unique<CompareLayer>(cmp, node);
  };
}

INT8RT_REGISTER_LAYER("Equal", make(Cmp::kEqual));
INT8RT_REGISTER_LAYER("Greater", make(Cmp::kGreater));
INT8RT_REGISTER_LAYER("GreaterOrEqual", make(Cmp::kGreaterOrEqual));
INT8RT_REGISTER_LAYER("Less", make(Cmp::kLess));
INT8RT_REGISTER_LAYER("LessOrEqual", make(Cmp::kLessOrEqual));

}  // namespace
}  // namespace engine
}  // namespace int8rt
