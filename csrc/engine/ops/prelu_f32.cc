// Float32 PRelu (ONNX, opset 9+): y = x < 0 ? slope * x : x, with slope
// unidirectionally broadcast to x's shape (e.g. [C, 1, 1] against NCHW).
#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class PReluLayer : public Layer {
 public:
  explicit PReluLayer(const Node& node) : prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_input(in, 0, DataType::kFloat32, prefix_);
    const Value& S = require_input(in, 1, DataType::kFloat32, prefix_);
    if (broadcast_shapes(X.shape(), S.shape(), prefix_) != X.shape()) {
      throw InvalidArgument(prefix_ + "slope " + shape_str(S.shape()) + " does not broadcast to " +
                            shape_str(X.shape()));
    }
    return {{DataType::kFloat32, X.shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    BroadcastPlan p = make_broadcast_plan(in[0]->shape(), in[1]->shape(), out[0]->shape());
    run_broadcast(p, in[0]->data<float>(), in[1]->data<float>(), out[0]->data<float>(),
                  [](float x, float s) { return x < 0.f ? s * x : x; });
  }

  std::string describe() const override { return "fp32 prelu"; }

 private:
  std::string prefix_;
};

std::unique_ptr<Layer> make_prelu(const Network&, const Node& node) { return std::make_unique<PReluLayer>(node); }

INT8RT_REGISTER_LAYER("PRelu", make_prelu);

}  // namespace
}  // namespace engine
}  // namespace int8rt
