// Tile and Size (ONNX), shape-driven data movement:
//
// * Tile(x, repeats): x of any dtype repeated repeats[d] times along each
//   dimension d (repeats: int64, one per dimension, >= 0; a constant or a
//   shape tensor, since the output shape depends on it). Row-major, the
//   output [r0 * d0, r1 * d1, ..] is the array [r0, d0, r1, d1, ..] whose
//   repeat dimensions read x with stride 0: one strided copy.
// * Size(x): the element count of x as an int64 scalar; it reads only x's
//   shape, so shape inference evaluates it (a shape tensor).
#include "core/checked_math.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "engine/ops/strided_copy.h"

namespace int8rt {
namespace engine {
namespace {

class TileLayer : public Layer {
 public:
  explicit TileLayer(const Node& node) : prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const std::vector<int64_t> r = repeats(in);
    Shape s = x.shape();
    for (size_t d = 0; d < s.size(); ++d) s[d] = checked_mul(s[d], r[d], prefix_ + "tiled dimension");
    return {{x.dtype(), s}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    if (out[0]->numel() == 0) return;
    const Shape& xs = in[0]->shape();
    if (xs.empty()) {  // a scalar tiles to itself
      strided_copy(dtype_size(in[0]->dtype()), in[0]->data<char>(), out[0]->data<char>(), {1}, {0});
      return;
    }
    const std::vector<int64_t> r = repeats(in);
    Shape dims;
    std::vector<int64_t> strides;
    int64_t stride = 1;
    std::vector<int64_t> xstride(xs.size());
    for (size_t d = xs.size(); d-- > 0;) {
      xstride[d] = stride;
      stride *= xs[d];
    }
    for (size_t d = 0; d < xs.size(); ++d) {
      dims.push_back(r[d]);
      strides.push_back(0);
      dims.push_back(xs[d]);
      strides.push_back(xstride[d]);
    }
    strided_copy(dtype_size(in[0]->dtype()), in[0]->data<char>(), out[0]->data<char>(), dims, strides);
  }

  std::string describe() const override { return "tile"; }

 private:
  std::vector<int64_t> repeats(const std::vector<const Value*>& in) const {
    const std::vector<int64_t> r = int64_values(require_any(in, 1, prefix_), prefix_, "repeats");
    if (r.size() != in[0]->shape().size()) {
      throw InvalidArgument(prefix_ + "repeats " + ints_str(r) + " must have one entry per dimension of " +
                            shape_str(in[0]->shape()));
    }
    for (int64_t v : r) {
      if (v < 0) throw InvalidArgument(prefix_ + "repeats " + ints_str(r) + " has a negative entry");
    }
    return r;
  }

  std::string prefix_;
};

class SizeLayer : public Layer {
 public:
  explicit SizeLayer(const Node& node) : prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    require_any(in, 0, prefix_);
    return {{DataType::kInt64, {}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    out[0]->data<int64_t>()[0] = in[0]->numel();
  }

  bool reads_only_input_shapes() const override { return true; }
  std::string describe() const override { return "size"; }

 private:
  std::string prefix_;
};

std::unique_ptr<Layer> make_tile(const Network&, const Node& node) {
  require_inputs(node, 2);
  return std::make_unique<TileLayer>(node);
}

std::unique_ptr<Layer> make_size(const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::make_unique<SizeLayer>(node);
}

INT8RT_REGISTER_LAYER("Tile", make_tile);
INT8RT_REGISTER_LAYER("Size", make_size);

}  // namespace
}  // namespace engine
}  // namespace int8rt
