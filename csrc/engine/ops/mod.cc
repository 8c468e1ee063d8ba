// Mod (ONNX) with multidirectional (numpy) broadcasting, both operands of one
// dtype, float32, int64, int32 or int8. fmod = 1: C's fmod / %, the result
// takes the dividend's sign. fmod = 0 (the default): the divisor's sign, as
// Python's % and numpy's mod (the ONNX reference; for floats the spec asks
// for fmod = 1, but its own cases run floats with 0 too): r = fmod(a, b),
// then r += b when r != 0 and its sign differs from b's, and a zero result
// takes b's sign. An integer division by zero is an InvalidArgument.
#include <atomic>
#include <cmath>

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
    const bool ints = t == DataType::kInt64 || t == DataType::kInt32 || t == DataType::kInt8;
    if (b.dtype() != t || !(ints || t == DataType::kFloat32)) {
      throw InvalidArgument(prefix_ + "operands are " + dtype_name(t) + " and " + dtype_name(b.dtype()) +
                            "; both must be float32, int64, int32 or int8");
    }
    return {{t, broadcast_shapes(a.shape(), b.shape(), prefix_)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const BroadcastPlan p = make_broadcast_plan(in[0]->shape(), in[1]->shape(), out[0]->shape());
    switch (in[0]->dtype()) {
      case DataType::kFloat32:
        if (fmod_) {
          run_broadcast(p, in[0]->data<float>(), in[1]->data<float>(), out[0]->data<float>(),
                        [](float u, float v) { return std::fmod(u, v); });
        } else {
          run_broadcast(p, in[0]->data<float>(), in[1]->data<float>(), out[0]->data<float>(), [](float u, float v) {
            float r = std::fmod(u, v);
            if (r == 0.f) return std::copysign(0.f, v);
            return (r < 0.f) != (v < 0.f) ? r + v : r;
          });
        }
        break;
      case DataType::kInt64: run_int<int64_t>(p, in, out); break;
      case DataType::kInt32: run_int<int32_t>(p, in, out); break;
      case DataType::kInt8: run_int<int8_t>(p, in, out); break;
      default: break;  // refused by infer
    }
  }

  std::string describe() const override { return fmod_ ? "fmod" : "mod"; }

 private:
  template <typename T>
  void run_int(const BroadcastPlan& p, const std::vector<const Value*>& in, const std::vector<Value*>& out) const {
    std::atomic<bool> zero{false};
    const bool c_sign = fmod_;
    run_broadcast(p, in[0]->data<T>(), in[1]->data<T>(), out[0]->data<T>(), [&zero, c_sign](T u, T v) -> T {
      if (v == 0) {
        zero.store(true, std::memory_order_relaxed);
        return 0;
      }
      if (v == -1) return 0;  // also avoids the overflow of MIN % -1
      T r = static_cast<T>(u % v);
      if (!c_sign && r != 0 && ((r < 0) != (v < 0))) r = static_cast<T>(r + v);
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
