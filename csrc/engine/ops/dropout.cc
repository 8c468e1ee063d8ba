// Dropout (ONNX) in inference: y = x, and the optional mask output (bool,
// x's shape) all true, as the spec defines it when training_mode is false.
// training_mode (input 2, bool) true with a ratio (input 1, default 0.5)
// other than 0 is refused: it drops at random, which an inference engine
// does not do (ratio 0 keeps everything, so it is a pass-through too). The
// graph pass remove_identity drops the node where nothing reads the mask.
#include <cstring>

#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class DropoutLayer : public Layer {
 public:
  DropoutLayer(const Node& node, bool with_mask) : with_mask_(with_mask), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    if (in.size() > 2 && in[2]) {
      const Value& training = require_input(in, 2, DataType::kBool, prefix_);
      if (training.has_data() && training.numel() == 1 && training.data<uint8_t>()[0] != 0 && !zero_ratio(in)) {
        throw InvalidArgument(prefix_ + "training_mode is true with a non-zero ratio (random dropout); "
                              "int8rt runs inference only");
      }
    }
    if (!with_mask_) return {{x.dtype(), x.shape()}};
    return {{x.dtype(), x.shape()}, {DataType::kBool, x.shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    infer(in);  // training_mode may be computed at run time: checked on its value
    std::memcpy(out[0]->data<char>(), in[0]->data<char>(), in[0]->nbytes());
    if (with_mask_) std::memset(out[1]->data<char>(), 1, out[1]->nbytes());
  }

  std::string describe() const override { return "dropout (inference: identity)"; }

 private:
  static bool zero_ratio(const std::vector<const Value*>& in) {
    if (in.size() < 2 || !in[1]) return false;  // default 0.5
    const Value& r = *in[1];
    return r.has_data() && r.dtype() == DataType::kFloat32 && r.numel() == 1 && r.data<float>()[0] == 0.f;
  }

  bool with_mask_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_dropout(const Network&, const Node& node) {
  require_inputs(node, 1);
  if (node.outputs.empty() || node.outputs.size() > 2) {
    throw InvalidArgument(layer_error_prefix(node) + "has an output and optionally a mask, got " +
                          std::to_string(node.outputs.size()) + " outputs");
  }
  return std::make_unique<DropoutLayer>(node, node.outputs.size() == 2);
}

INT8RT_REGISTER_LAYER("Dropout", make_dropout);

}  // namespace
}  // namespace engine
}  // namespace int8rt
