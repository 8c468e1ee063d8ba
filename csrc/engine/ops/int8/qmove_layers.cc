// int8rt.QTranspose, QSlice, QSplit, QPad, QReshape, QSqueeze, QUnsqueeze,
// QDepthToSpace, QSpaceToDepth, QGather (contracts.h, QMoveOps): data movement
// on int8 tensors. Each is the ONNX op's own layer (ops/transpose.cc, slice.cc,
// concat_split.cc, pad_f32.cc, reshape_ops.cc, depth_space.cc, gather.cc: they move
// elements of any dtype with strided_copy.h and block copies), created from
// the node with the ONNX op's name and run on int8 elements, so the index
// arithmetic has one home; this wrapper adds the int8 check and names the
// precision for `inspect`. Bytes are copied at one scale: exact.
#include <memory>

#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

class QMoveLayer : public Layer {
 public:
  QMoveLayer(std::unique_ptr<Layer> inner, std::string prefix) : inner_(std::move(inner)), prefix_(std::move(prefix)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in.empty() || !in[0] || in[0]->dtype() != DataType::kInt8) {
      throw InvalidArgument(prefix_ + "needs an int8 data input (input 0)");
    }
    return inner_->infer(in);
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override { inner_->run(in, out); }

  std::string describe() const override { return "int8 " + inner_->describe(); }
  bool output_is_input_bytes() const override { return inner_->output_is_input_bytes(); }

 private:
  std::unique_ptr<Layer> inner_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_qmove(const Network& net, const Node& node) {
  require_inputs(node, 1);
  Node source = node;
  source.op = QMoveOps::source(node.op);
  const LayerFactory* inner = find_layer_factory(source.op);
  if (!inner) throw NotSupported(layer_error_prefix(node) + "no layer implements " + source.op);
  return std::make_unique<QMoveLayer>((*inner)(net, source), layer_error_prefix(node));
}

// One registration per op of QMoveOps::source_ops().
[[maybe_unused]] const bool registered = [] {
  for (const std::string& op : QMoveOps::source_ops()) register_layer(QMoveOps::lowered(op), make_qmove);
  return true;
}();

}  // namespace
}  // namespace engine
}  // namespace int8rt
