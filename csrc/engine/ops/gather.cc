// Gather (ONNX) of run-time data of any dtype by constant int64 indices, as
// exporters emit it to pick rows of a computed tensor (torch's x[:, 0], the
// q / k / v split of nn.MultiheadAttention's packed projection). With axis a
// and dim = data.shape[a]:
//   out.shape = data.shape[:a] + indices.shape + data.shape[a+1:]
//   out[o, j, r] = data[o, k_j, r],  k_j = indices[j] (+ dim when negative)
// An index outside [-dim, dim) is an InvalidArgument at shape inference.
// Gather by run-time indices (an embedding lookup of int64 token ids) needs
// int64 network inputs, which int8rt does not take yet: refused at creation.
#include <cstring>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class GatherLayer : public Layer {
 public:
  GatherLayer(const Node& node, std::vector<int64_t> indices, Shape indices_shape)
      : axis_(node.attrs.get_int("axis", 0)), indices_(std::move(indices)),
        indices_shape_(std::move(indices_shape)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const Shape& xs = x.shape();
    const int64_t a = normalize_axis(axis_, static_cast<int64_t>(xs.size()), prefix_);
    for (int64_t k : indices_) {
      if (k < -xs[a] || k >= xs[a]) {
        throw InvalidArgument(prefix_ + "index " + std::to_string(k) + " is outside [" + std::to_string(-xs[a]) +
                              ", " + std::to_string(xs[a]) + ") (axis " + std::to_string(a) + " of the data)");
      }
    }
    Shape out(xs.begin(), xs.begin() + a);
    out.insert(out.end(), indices_shape_.begin(), indices_shape_.end());
    out.insert(out.end(), xs.begin() + a + 1, xs.end());
    return {{x.dtype(), out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& xs = in[0]->shape();
    const int64_t a = normalize_axis(axis_, static_cast<int64_t>(xs.size()), prefix_);
    const int64_t outer = checked_numel(Shape(xs.begin(), xs.begin() + a), "Gather outer size");
    const int64_t inner = checked_numel(Shape(xs.begin() + a + 1, xs.end()), "Gather inner size");
    const int64_t dim = xs[a], count = static_cast<int64_t>(indices_.size());
    const size_t row = static_cast<size_t>(inner) * dtype_size(in[0]->dtype());
    const char* x = in[0]->data<char>();
    char* y = out[0]->data<char>();
    if (row == 0) return;
    parallel_for(outer * count, std::max<int64_t>(1, 65536 / static_cast<int64_t>(row)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t o = r / count, k = indices_[r % count];
        std::memcpy(y + r * row, x + (o * dim + (k < 0 ? k + dim : k)) * row, row);
      }
    });
  }

  std::string describe() const override { return "gather " + std::to_string(indices_.size()) + " of axis " +
                                                 std::to_string(axis_); }

 private:
  int64_t axis_;
  std::vector<int64_t> indices_;
  Shape indices_shape_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_gather(const Network& net, const Node& node) {
  if (!has_input(node, 0) || !has_input(node, 1)) throw InvalidArgument(layer_error_prefix(node) + "needs data and indices");
  if (!net.tensor(node.inputs[1]).is_constant) {
    throw NotSupported(layer_error_prefix(node) + "indices computed at run time (an embedding lookup of token ids) "
                       "need int64 network inputs, which int8rt does not take yet; only constant indices are supported");
  }
  std::vector<int64_t> indices;
  constant_ints(net, node, 1, "indices", &indices);
  return std::make_unique<GatherLayer>(node, std::move(indices), net.tensor(node.inputs[1]).shape);
}

INT8RT_REGISTER_LAYER("Gather", make_gather);

}  // namespace
}  // namespace engine
}  // namespace int8rt
