// Float classification (ONNX): IsNaN (x != x) and IsInf (|x| == inf, with
// the detect_negative / detect_positive attributes, both 1 by default), from
// float32 to bool (one byte, 0 or 1).
#include <cmath>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class FloatClassLayer : public Layer {
 public:
  // nan: IsNaN; otherwise IsInf detecting the signs asked for.
  FloatClassLayer(const Node& node, bool nan, bool negative, bool positive)
      : nan_(nan), negative_(negative), positive_(positive), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    return {{DataType::kBool, require_input(in, 0, DataType::kFloat32, prefix_).shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const float* x = in[0]->data<float>();
    uint8_t* y = out[0]->data<uint8_t>();
    const float inf = INFINITY;
    const bool nan = nan_, neg = negative_, pos = positive_;
    parallel_for(in[0]->numel(), 1 << 16, [&](int64_t b, int64_t e) {
      if (nan) {
        for (int64_t i = b; i < e; ++i) y[i] = x[i] != x[i];
      } else {
        for (int64_t i = b; i < e; ++i) y[i] = (pos && x[i] == inf) || (neg && x[i] == -inf);
      }
    });
  }

  std::string describe() const override { return nan_ ? "isnan" : "isinf"; }

 private:
  bool nan_, negative_, positive_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_isnan(const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::make_unique<FloatClassLayer>(node, true, false, false);
}

std::unique_ptr<Layer> make_isinf(const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::make_unique<FloatClassLayer>(node, false, node.attrs.get_int("detect_negative", 1) != 0,
                                           node.attrs.get_int("detect_positive", 1) != 0);
}

INT8RT_REGISTER_LAYER("IsNaN", make_isnan);
INT8RT_REGISTER_LAYER("IsInf", make_isinf);

}  // namespace
}  // namespace engine
}  // namespace int8rt
