// Variadic element-wise ops with ONNX multidirectional broadcasting: Min,
// Max, Sum, Mean over one or more inputs of one dtype (float32/64/16; Min and
// Max any numeric dtype), with engine/dtypes.h's arithmetic rules. The output
// is folded left to right, y = f(x0, x1),
// then y = f(y, xk), as ONNX Runtime does; Mean divides the sum by the input
// count at the end. Min and Max propagate NaN (a NaN operand gives NaN).
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

enum class Op { kMin, kMax, kSum, kMean };

template <typename T>
T apply(Op op, T u, T v) {
  using A = Arith<T>;
  const auto x = A::load(u), z = A::load(v);
  if constexpr (kIsFloat<T>) {
    if ((op == Op::kMin || op == Op::kMax) && (std::isnan(x) || std::isnan(z))) {
      return A::store(std::numeric_limits<decltype(x)>::quiet_NaN());
    }
  }
  switch (op) {
    case Op::kMin: return z < x ? v : u;
    case Op::kMax: return z > x ? v : u;
    case Op::kSum:
    case Op::kMean: return A::add(u, v);
  }
  return u;
}

class VariadicLayer : public Layer {
 public:
  VariadicLayer(Op op, const Node& node) : op_(op), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& first = require_any(in, 0, prefix_);
    const bool ints_ok = op_ == Op::kMin || op_ == Op::kMax;
    if (!(is_float_dtype(first.dtype()) || (ints_ok && is_integer_dtype(first.dtype())))) {
      throw InvalidArgument(prefix_ + (ints_ok ? "inputs must be numeric" : "inputs must be float32, float64 or float16"));
    }
    Shape out = first.shape();
    for (size_t i = 1; i < in.size(); ++i) {
      const Value& x = require_any(in, i, prefix_);
      if (x.dtype() != first.dtype()) throw InvalidArgument(prefix_ + "inputs must share one dtype");
      out = broadcast_shapes(out, x.shape(), prefix_);
    }
    return {{first.dtype(), out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    visit_numeric(in[0]->dtype(), [&](auto tag) {
      using T = decltype(tag);
      fold<T>(in, *out[0]);
      if constexpr (kIsFloat<T>) {
        if (op_ == Op::kMean && in.size() > 1) {
          using A = Arith<T>;
          T* y = out[0]->data<T>();
          const auto n = static_cast<typename A::C>(in.size());
          for (int64_t i = 0; i < out[0]->numel(); ++i) y[i] = A::store(A::load(y[i]) / n);
        }
      }
    });
  }

  std::string describe() const override { return "numeric broadcast"; }

 private:
  template <typename T>
  void fold(const std::vector<const Value*>& in, Value& out) const {
    const Shape& ys = out.shape();
    T* y = out.data<T>();
    if (in.size() == 1) {  // one input: a copy (its shape is the output's)
      std::memcpy(y, in[0]->data<T>(), static_cast<size_t>(out.numel()) * sizeof(T));
      return;
    }
    const Op op = op_;
    auto f = [op](T u, T v) { return apply(op, u, v); };
    run_broadcast(make_broadcast_plan(in[0]->shape(), in[1]->shape(), ys), in[0]->data<T>(), in[1]->data<T>(), y, f);
    for (size_t k = 2; k < in.size(); ++k) {
      run_broadcast(make_broadcast_plan(ys, in[k]->shape(), ys), static_cast<const T*>(y), in[k]->data<T>(), y, f);
    }
  }

  Op op_;
  std::string prefix_;
};

LayerFactory make(Op op) {
  return [op](const Network&, const Node& node) -> std::unique_ptr<Layer> {
    require_inputs(node, std::max<size_t>(1, node.inputs.size()));
    return std::make_unique<VariadicLayer>(op, node);
  };
}

INT8RT_REGISTER_LAYER("Min", make(Op::kMin));
INT8RT_REGISTER_LAYER("Max", make(Op::kMax));
INT8RT_REGISTER_LAYER("Sum", make(Op::kSum));
INT8RT_REGISTER_LAYER("Mean", make(Op::kMean));

}  // namespace
}  // namespace engine
}  // namespace int8rt
