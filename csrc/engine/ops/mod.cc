// Mod (ONNX) with multidirectional (numpy) broadcasting, both operands of one
// numeric dtype (float16 computed in float32 and rounded once, as
// engine/dtypes.h says). fmod = 1: C's fmod / %, the result
// takes the dividend's sign. fmod = 0 (the default): the divisor's sign, as
// Python's % and numpy's mod (the ONNX reference; for floats the spec asks
// for fmod = 1, but its own cases run floats with 0 too): r = fmod(a, b),
// then r += b when r != 0 and its sign differs from b's, and a zero result
// takes b's sign. An integer division by zero is an InvalidArgument.
#include <atomic>
#include <cmath>

#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class ModLayer : public Layer {
 public:
  explicit ModLayer(const Node& node) : fmod_(node.attrs.get_int("fmod", 0) != 0), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& a = require_any(in, 0, prefix_);
    const Value& b = require_any(in, 1, prefix_);
    const DataType t = a.dtype();
    if (b.dtype() != t || !is_numeric_dtype(t)) {
      throw InvalidArgument(prefix_ + "operands are " + dtype_name(t) + " and " + dtype_name(b.dtype()) +
                            "; both must be of one numeric dtype");
    }
    return {{t, broadcast_shapes(a.shape(), b.shape(), prefix_)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const BroadcastPlan p = make_broadcast_plan(in[0]->shape(), in[1]->shape(), out[0]->shape());
    visit_numeric(in[0]->dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (kIsFloat<T>) {
        run_float<T>(p, in, out);
      } else {
        run_int<T>(p, in, out);
      }
    });
  }

  std::string describe() const override { return fmod_ ? "fmod" : "mod"; }

 private:
  template <typename T>
  void run_float(const BroadcastPlan& p, const std::vector<const Value*>& in, const std::vector<Value*>& out) const {
    using A = Arith<T>;
    using C = typename A::C;
    if (fmod_) {
      run_broadcast(p, in[0]->data<T>(), in[1]->data<T>(), out[0]->data<T>(),
                    [](T u, T v) { return A::store(std::fmod(A::load(u), A::load(v))); });
    } else {
      run_broadcast(p, in[0]->data<T>(), in[1]->data<T>(), out[0]->data<T>(), [](T u, T v) {
        const C x = A::load(u), z = A::load(v);
        const C r = std::fmod(x, z);
        if (r == C(0)) return A::store(std::copysign(C(0), z));
        return A::store((r < C(0)) != (z < C(0)) ? r + z : r);
      });
    }
  }

  template <typename T>
  void run_int(const BroadcastPlan& p, const std::vector<const Value*>& in, const std::vector<Value*>& out) const {
    std::atomic<bool> zero{false};
    const bool c_sign = fmod_;
    run_broadcast(p, in[0]->data<T>(), in[1]->data<T>(), out[0]->data<T>(), [&zero, c_sign](T u, T v) -> T {
      (void)c_sign;  // read for signed types only
      if (v == 0) {
        zero.store(true, std::memory_order_relaxed);
        return 0;
      }
      if constexpr (std::is_signed_v<T>) {
        if (v == -1) return 0;  // also avoids the overflow of MIN % -1
      }
      T r = static_cast<T>(u % v);
      if constexpr (std::is_signed_v<T>) {
        if (!c_sign && r != 0 && ((r < 0) != (v < 0))) r = static_cast<T>(r + v);
      }
      return r;
    });
    if (zero) throw InvalidArgument(prefix_ + "integer division by zero");
  }

  bool fmod_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_mod(const Network&, const Node& node) {
  if (node.inputs.size() != 2) {
    throw InvalidArgument(layer_error_prefix(node) + "expects 2 inputs, got " + std::to_string(node.inputs.size()));
  }
  require_inputs(node, 2);
  return std::make_unique<ModLayer>(node);
}

INT8RT_REGISTER_LAYER("Mod", make_mod);

}  // namespace
}  // namespace engine
}  // namespace int8rt
