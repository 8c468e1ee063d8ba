// Shape-only ops of any dtype (the data is copied unchanged, only the shape
// changes), ONNX semantics:
//   Reshape   shape input (int64; constant or run-time): 0 copies the input
//             dim (allowzero = 0) or means 0 (allowzero = 1), one -1 is inferred
//   Flatten   axis in [-r, r] (default 1): [prod(d < axis), prod(d >= axis)]
//   Squeeze   axes from the attribute (opset < 13) or input 1; none: all 1-dims
//   Unsqueeze axes from the attribute (opset < 13) or input 1, relative to the
//             output rank
//   Shape     int64 [rank] (start / end attributes of opset 15)
// Run-time int64 inputs (shape, axes) are read when the shapes are inferred,
// so dynamic-batch reshapes such as [-1, 256] work per run.
#include <algorithm>
#include <cstring>

#include "core/checked_math.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

enum class Kind { kReshape, kFlatten, kSqueeze, kUnsqueeze };

class ReshapeLikeLayer : public Layer {
 public:
  ReshapeLikeLayer(const Node& node, Kind kind, bool has_axes_attr)
      : kind_(kind), has_axes_attr_(has_axes_attr), axes_(node.attrs.get_ints("axes", {})),
        axis_(node.attrs.get_int("axis", 1)), allowzero_(node.attrs.get_int("allowzero", 0) != 0),
        prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_any(in, 0, prefix_);
    return {{X.dtype(), out_shape(X.shape(), in)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    copy_unless_aliased(*in[0], *out[0]);
  }

  std::string describe() const override { return "copy"; }
  bool output_is_input_bytes() const override { return true; }

 private:
  Shape out_shape(const Shape& xs, const std::vector<const Value*>& in) const {
    const int64_t rank = static_cast<int64_t>(xs.size());
    switch (kind_) {
      case Kind::kReshape: return reshape(xs, int64_values(require_any(in, 1, prefix_), prefix_, "shape"));
      case Kind::kFlatten: {
        if (axis_ < -rank || axis_ > rank) {
          throw InvalidArgument(prefix_ + "axis " + std::to_string(axis_) + " out of range for rank " +
                                std::to_string(rank));
        }
        int64_t axis = axis_ < 0 ? axis_ + rank : axis_, a = 1, b = 1;
        for (int64_t d = 0; d < rank; ++d) (d < axis ? a : b) *= xs[d];
        return {a, b};
      }
      case Kind::kSqueeze: {
        std::vector<int64_t> axes = axes_of(in);
        std::vector<char> drop(xs.size(), 0);
        if (axes.empty()) {
          for (size_t d = 0; d < xs.size(); ++d) drop[d] = xs[d] == 1;
        }
        for (int64_t a : axes) {
          int64_t d = normalize_axis(a, rank, prefix_);
          if (xs[d] != 1) {
            throw InvalidArgument(prefix_ + "cannot squeeze axis " + std::to_string(a) + " of size " +
                                  std::to_string(xs[d]) + " in " + shape_str(xs));
          }
          drop[d] = 1;
        }
        Shape out;
        for (size_t d = 0; d < xs.size(); ++d) {
          if (!drop[d]) out.push_back(xs[d]);
        }
        return out;
      }
      case Kind::kUnsqueeze: {
        std::vector<int64_t> axes = axes_of(in);
        const int64_t out_rank = rank + static_cast<int64_t>(axes.size());
        std::vector<char> ins(static_cast<size_t>(out_rank), 0);
        for (int64_t a : axes) {
          int64_t d = normalize_axis(a, out_rank, prefix_);
          if (ins[d]) throw InvalidArgument(prefix_ + "axis " + std::to_string(a) + " repeated");
          ins[d] = 1;
        }
        Shape out;
        size_t k = 0;
        for (int64_t d = 0; d < out_rank; ++d) out.push_back(ins[d] ? 1 : xs[k++]);
        return out;
      }
    }
    return xs;
  }

  std::vector<int64_t> axes_of(const std::vector<const Value*>& in) const {
    if (has_axes_attr_ || in.size() < 2 || !in[1]) return axes_;
    return int64_values(*in[1], prefix_, "axes");
  }

  Shape reshape(const Shape& xs, const std::vector<int64_t>& spec) const {
    Shape out(spec.size());
    int64_t infer_at = -1, known = 1;
    for (size_t i = 0; i < spec.size(); ++i) {
      int64_t v = spec[i];
      if (v == -1) {
        if (infer_at >= 0) throw InvalidArgument(prefix_ + "shape " + shape_str(spec) + " has more than one -1");
        infer_at = static_cast<int64_t>(i);
        continue;
      }
      if (v == 0 && !allowzero_) {
        if (i >= xs.size()) throw InvalidArgument(prefix_ + "shape " + shape_str(spec) + ": 0 at a dim the input lacks");
        v = xs[i];
      }
      if (v < 0) throw InvalidArgument(prefix_ + "shape " + shape_str(spec) + " has a negative dim");
      out[i] = v;
      known = checked_mul(known, v, prefix_ + "shape " + shape_str(spec));
    }
    const int64_t n = shape_numel(xs);
    if (infer_at >= 0) {
      if (known == 0 || n % known != 0) {
        throw InvalidArgument(prefix_ + "cannot reshape " + shape_str(xs) + " to " + shape_str(spec));
      }
      out[infer_at] = n / known;
    } else if (known != n) {
      throw InvalidArgument(prefix_ + "cannot reshape " + shape_str(xs) + " (" + std::to_string(n) +
                            " elements) to " + shape_str(spec));
    }
    return out;
  }

  Kind kind_;
  bool has_axes_attr_;
  std::vector<int64_t> axes_;
  int64_t axis_;
  bool allowzero_;
  std::string prefix_;
};

LayerFactory make(Kind kind) {
  return [kind](const Network&, const Node& node) -> std::unique_ptr<Layer> {
    bool has_attr = node.attrs.has("axes");
    if (kind == Kind::kReshape && !has_input(node, 1)) {
      throw InvalidArgument(layer_error_prefix(node) + "missing the shape input");
    }
    if (kind == Kind::kUnsqueeze && !has_attr && !has_input(node, 1)) {
      throw InvalidArgument(layer_error_prefix(node) + "Unsqueeze needs axes");
    }
    return std::make_unique<ReshapeLikeLayer>(node, kind, has_attr);
  };
}

class ShapeLayer : public Layer {
 public:
  explicit ShapeLayer(const Node& node)
      : start_(node.attrs.get_int("start", 0)), end_(node.attrs.get_int("end", INT64_MAX)),
        prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    int64_t b, e;
    range(require_any(in, 0, prefix_).shape(), &b, &e);
    return {{DataType::kInt64, {e - b}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    int64_t b, e;
    const Shape& s = in[0]->shape();
    range(s, &b, &e);
    std::copy(s.begin() + b, s.begin() + e, out[0]->data<int64_t>());
  }

  bool reads_only_input_shapes() const override { return true; }

 private:
  void range(const Shape& s, int64_t* b, int64_t* e) const {
    const int64_t r = static_cast<int64_t>(s.size());
    auto clamp = [r](int64_t v) { return std::min(r, std::max<int64_t>(0, v < 0 ? v + r : v)); };
    *b = clamp(start_);
    *e = std::max(*b, clamp(end_));
  }

  int64_t start_, end_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_shape(const Network&, const Node& node) { return std::make_unique<ShapeLayer>(node); }

INT8RT_REGISTER_LAYER("Reshape", make(Kind::kReshape));
INT8RT_REGISTER_LAYER("Flatten", make(Kind::kFlatten));
INT8RT_REGISTER_LAYER("Squeeze", make(Kind::kSqueeze));
INT8RT_REGISTER_LAYER("Unsqueeze", make(Kind::kUnsqueeze));
INT8RT_REGISTER_LAYER("Shape", make_shape);

}  // namespace
}  // namespace engine
}  // namespace int8rt
