// Expand (ONNX) of data of any dtype to a shape given as an int64 input: a
// constant, or a shape tensor computed from the run's shapes (the class
// token of a ViT expanded to the batch: Shape -> Concat -> Expand, evaluated
// during shape inference, Executor::infer_shapes). The output shape is the
// numpy broadcast of data.shape and the given shape (a 1 keeps the data's
// dim); out[i] = data[i with each broadcast dim's index set to 0]. The strides
// are kept per thread, so a run allocates nothing.
#include <cstring>

#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"
#include "engine/ops/strided_copy.h"

namespace int8rt {
namespace engine {
namespace {

class ExpandLayer : public Layer {
 public:
  explicit ExpandLayer(const Node& node) : prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const std::vector<int64_t> to = int64_values(require_any(in, 1, prefix_), prefix_, "shape");
    for (int64_t d : to) {
      if (d < 0) throw InvalidArgument(prefix_ + "shape " + ints_str(to) + " has a negative dimension");
    }
    return {{x.dtype(), broadcast_shapes(x.shape(), to, prefix_)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& ys = out[0]->shape();
    if (out[0]->numel() == 0) return;
    if (ys.empty()) {  // a scalar expanded to a scalar
      std::memcpy(out[0]->data<char>(), in[0]->data<char>(), dtype_size(in[0]->dtype()));
      return;
    }
    thread_local std::vector<int64_t> strides;  // kept: a run allocates nothing once sized
    broadcast_strides_into(in[0]->shape(), ys, strides);
    strided_copy(dtype_size(in[0]->dtype()), in[0]->data<char>(), out[0]->data<char>(), ys, strides);
  }

  std::string describe() const override { return "expand"; }

 private:
  std::string prefix_;
};

std::unique_ptr<Layer> make_expand(const Network&, const Node& node) {
  if (!has_input(node, 0) || !has_input(node, 1)) throw InvalidArgument(layer_error_prefix(node) + "needs data and shape");
  return std::make_unique<ExpandLayer>(node);
}

INT8RT_REGISTER_LAYER("Expand", make_expand);

}  // namespace
}  // namespace engine
}  // namespace int8rt
