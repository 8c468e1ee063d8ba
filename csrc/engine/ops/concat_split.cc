// Concat and Split of any dtype (ONNX):
//   Concat  axis (required; negative counts from the end); inputs agree on
//           every other dim and on dtype
//   Split   axis (default 0); sizes from input 1 (opset 13+, constant or
//           run-time int64) or the "split" attribute (opset < 13); without
//           sizes, num_outputs (opset 18) or the node's output count parts:
//           ceil(dim / parts) each, the last one smaller (opset 18 rule).
// Both are block copies over the [outer, axis * inner] view.
#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class ConcatLayer : public Layer {
 public:
  explicit ConcatLayer(const Node& node) : axis_(node.attrs.get_int("axis", 0)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& first = require_any(in, 0, prefix_);
    const int64_t rank = static_cast<int64_t>(first.shape().size());
    int64_t axis = normalize_axis(axis_, rank, prefix_);
    Shape out = first.shape();
    out[axis] = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const Value& v = require_any(in, i, prefix_);
      bool ok = v.dtype() == first.dtype() && static_cast<int64_t>(v.shape().size()) == rank;
      for (int64_t d = 0; ok && d < rank; ++d) ok = d == axis || v.shape()[d] == first.shape()[d];
      if (!ok) {
        throw InvalidArgument(prefix_ + "input " + std::to_string(i) + " " + shape_str(v.shape()) +
                              " does not match input 0 " + shape_str(first.shape()) + " outside axis " +
                              std::to_string(axis_) + " (or its dtype differs)");
      }
      out[axis] += v.shape()[axis];
    }
    return {{first.dtype(), out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& os = out[0]->shape();
    int64_t axis = normalize_axis(axis_, static_cast<int64_t>(os.size()), prefix_);
    int64_t outer = 1, inner = dtype_size(out[0]->dtype());
    for (int64_t d = 0; d < axis; ++d) outer *= os[d];
    for (size_t d = axis + 1; d < os.size(); ++d) inner *= os[d];
    const int64_t out_row = os[axis] * inner;
    char* y = out[0]->data<char>();
    parallel_for(outer, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, out_row)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        int64_t pos = 0;
        for (const Value* v : in) {
          const int64_t row = v->shape()[axis] * inner;
          std::memcpy(y + o * out_row + pos, v->data<char>() + o * row, static_cast<size_t>(row));
          pos += row;
        }
      }
    });
  }

  std::string describe() const override { return "concat"; }
  bool accepts_empty_inputs() const override { return true; }  // an empty part adds nothing

 private:
  int64_t axis_;
  std::string prefix_;
};

class SplitLayer : public Layer {
 public:
  SplitLayer(const Node& node, std::vector<int64_t> split, bool fixed)
      : axis_(node.attrs.get_int("axis", 0)), split_(std::move(split)), fixed_(fixed),
        parts_(static_cast<int64_t>(node.outputs.size())), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_any(in, 0, prefix_);
    int64_t axis = normalize_axis(axis_, static_cast<int64_t>(X.shape().size()), prefix_);
    std::vector<int64_t> sizes = split_sizes(in, X.shape()[axis]);
    std::vector<std::pair<DataType, Shape>> out;
    for (int64_t s : sizes) {
      Shape sh = X.shape();
      sh[axis] = s;
      out.push_back({X.dtype(), sh});
    }
    return out;
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& xs = in[0]->shape();
    int64_t axis = normalize_axis(axis_, static_cast<int64_t>(xs.size()), prefix_);
    int64_t outer = 1, inner = dtype_size(in[0]->dtype());
    for (int64_t d = 0; d < axis; ++d) outer *= xs[d];
    for (size_t d = axis + 1; d < xs.size(); ++d) inner *= xs[d];
    const int64_t in_row = xs[axis] * inner;
    const char* x = in[0]->data<char>();
    parallel_for(outer, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, in_row)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        int64_t pos = 0;
        for (Value* v : out) {
          const int64_t row = v->shape()[axis] * inner;
          std::memcpy(v->data<char>() + o * row, x + o * in_row + pos, static_cast<size_t>(row));
          pos += row;
        }
      }
    });
  }

  std::string describe() const override { return "split"; }

 private:
  std::vector<int64_t> split_sizes(const std::vector<const Value*>& in, int64_t dim) const {
    std::vector<int64_t> sizes = split_;
    if (!fixed_ && in.size() > 1 && in[1]) sizes = int64_values(*in[1], prefix_, "split");
    if (sizes.empty()) {
      const int64_t each = (dim + parts_ - 1) / parts_;
      for (int64_t p = 0; p < parts_; ++p) sizes.push_back(std::max<int64_t>(0, std::min(each, dim - p * each)));
    }
    int64_t total = 0;
    for (int64_t s : sizes) total += s < 0 ? dim + 1 : s;  // negative sizes are rejected below
    if (static_cast<int64_t>(sizes.size()) != parts_ || total != dim) {
      throw InvalidArgument(prefix_ + "split " + ints_str(sizes) + " does not cut axis of size " +
                            std::to_string(dim) + " into " + std::to_string(parts_) + " outputs");
    }
    return sizes;
  }

  int64_t axis_;
  std::vector<int64_t> split_;
  bool fixed_;
  int64_t parts_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_concat(const Network&, const Node& node) {
  if (!node.attrs.has("axis")) throw InvalidArgument(layer_error_prefix(node) + "Concat needs the axis attribute");
  return std::make_unique<ConcatLayer>(node);
}

std::unique_ptr<Layer> make_split(const Network& net, const Node& node) {
  std::vector<int64_t> split = node.attrs.get_ints("split", {});
  bool fixed = node.attrs.has("split") || !has_input(node, 1);
  if (has_input(node, 1) && net.tensor(node.inputs[1]).is_constant) {
    constant_ints(net, node, 1, "split", &split);
    fixed = true;
  }
  if (node.attrs.has("num_outputs") &&
      node.attrs.get_int("num_outputs", 0) != static_cast<int64_t>(node.outputs.size())) {
    throw InvalidArgument(layer_error_prefix(node) + "num_outputs differs from the node's output count");
  }
  return std::make_unique<SplitLayer>(node, std::move(split), fixed);
}

INT8RT_REGISTER_LAYER("Concat", make_concat);
INT8RT_REGISTER_LAYER("Split", make_split);

}  // namespace
}  // namespace engine
}  // namespace int8rt
