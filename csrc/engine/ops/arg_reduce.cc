// ArgMax and ArgMin (ONNX): the int64 index of the largest / smallest
// element along `axis` (default 0) of a float32, int64 or int32 tensor;
// keepdims (default 1) keeps the axis as size 1; select_last_index (default
// 0) picks the last of equal extremes instead of the first. A NaN is both
// the largest and the smallest value: the first NaN's index is returned, as
// numpy's argmax / argmin (the ONNX reference) do.
#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class ArgLayer : public Layer {
 public:
  ArgLayer(const Node& node, bool max)
      : max_(max),
        axis_(node.attrs.get_int("axis", 0)),
        keepdims_(node.attrs.get_int("keepdims", 1) != 0),
        last_(node.attrs.get_int("select_last_index", 0) != 0),
        prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_ordered(in, 0, prefix_);
    Shape s = x.shape();
    const int64_t a = normalize_axis(axis_, static_cast<int64_t>(s.size()), prefix_);
    if (s[a] == 0) throw InvalidArgument(prefix_ + "axis " + std::to_string(axis_) + " is empty");
    if (keepdims_) s[a] = 1;
    else s.erase(s.begin() + a);
    return {{DataType::kInt64, s}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    switch (in[0]->dtype()) {
      case DataType::kFloat32: arg<float>(*in[0], *out[0]); break;
      case DataType::kInt64: arg<int64_t>(*in[0], *out[0]); break;
      case DataType::kInt32: arg<int32_t>(*in[0], *out[0]); break;
      default: break;  // refused by infer
    }
  }

  std::string describe() const override {
    return std::string(max_ ? "argmax" : "argmin") + " axis " + std::to_string(axis_);
  }

 private:
  template <typename T>
  void arg(const Value& xv, Value& yv) const {
    const Shape& s = xv.shape();
    const int64_t a = normalize_axis(axis_, static_cast<int64_t>(s.size()), prefix_);
    const int64_t outer = checked_numel(Shape(s.begin(), s.begin() + a), "ArgMax outer size");
    const int64_t inner = checked_numel(Shape(s.begin() + a + 1, s.end()), "ArgMax inner size");
    const int64_t n = s[a];
    const T* x = xv.data<T>();
    int64_t* y = yv.data<int64_t>();
    const bool max = max_, last = last_;
    parallel_for(outer * inner, std::max<int64_t>(1, 16384 / n), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* p = x + (r / inner) * n * inner + r % inner;
        int64_t best = 0;
        T v = p[0];
        for (int64_t i = 1; i < n && v == v; ++i) {  // stops at the first NaN
          const T u = p[i * inner];
          const bool better = max ? (last ? u >= v : u > v) : (last ? u <= v : u < v);
          if (better || u != u) {
            v = u;
            best = i;
          }
        }
        y[r] = best;
      }
    });
  }

  bool max_;
  int64_t axis_;
  bool keepdims_, last_;
  std::string prefix_;
};

LayerFactory make(bool max) {
  return [max](const Network&, const Node& node) -> std::unique_ptr<Layer> {
    require_inputs(node, 1);
    return std::make_unique<ArgLayer>(node, max);
  };
}

INT8RT_REGISTER_LAYER("ArgMax", make(true));
INT8RT_REGISTER_LAYER("ArgMin", make(false));

}  // namespace
}  // namespace engine
}  // namespace int8rt
