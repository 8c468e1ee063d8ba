// CumSum (ONNX): running sums along the axis given by the scalar input 1
// (int64 or int32; it may be computed at run time: only run() reads it) of a
// tensor of any numeric dtype (engine/dtypes.h's rules: float16 rounds each
// step's sum; integers wrap). exclusive = 1 leaves out the element itself
// (the first sum is 0); reverse = 1 sums from the end. Float sums add in
// order along the axis, one rounding per step, as ONNX Runtime does. HF
// exports use it for position ids (mask.cumsum(1)).
#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class CumSumLayer : public Layer {
 public:
  explicit CumSumLayer(const Node& node)
      : exclusive_(node.attrs.get_int("exclusive", 0) != 0),
        reverse_(node.attrs.get_int("reverse", 0) != 0),
        prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const Value& axis = require_any(in, 1, prefix_);
    const DataType t = x.dtype();
    if (!is_numeric_dtype(t)) {
      throw InvalidArgument(prefix_ + "input must be numeric, got " + dtype_name(t));
    }
    if (axis.numel() != 1 || (axis.dtype() != DataType::kInt64 && axis.dtype() != DataType::kInt32)) {
      throw InvalidArgument(prefix_ + "axis must be an int64 or int32 scalar");
    }
    if (x.shape().empty()) throw InvalidArgument(prefix_ + "input must have rank >= 1");
    return {{t, x.shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    visit_numeric(in[0]->dtype(), [&](auto tag) { sum<decltype(tag)>(in, *out[0]); });
  }

  std::string describe() const override { return "cumsum"; }

 private:
  template <typename T>
  void sum(const std::vector<const Value*>& in, Value& yv) const {
    const Shape& s = in[0]->shape();
    const int64_t axis = normalize_axis(int64_values(*in[1], prefix_, "axis")[0], static_cast<int64_t>(s.size()), prefix_);
    const int64_t outer = checked_numel(Shape(s.begin(), s.begin() + axis), "CumSum outer size");
    const int64_t inner = checked_numel(Shape(s.begin() + axis + 1, s.end()), "CumSum inner size");
    const int64_t n = s[axis];
    const T* x = in[0]->data<T>();
    T* y = yv.data<T>();
    const bool exclusive = exclusive_, reverse = reverse_;
    parallel_for(outer * inner, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t base = (r / inner) * n * inner + r % inner;
        T acc = convert_element<T>(int8_t{0});
        for (int64_t k = 0; k < n; ++k) {
          const int64_t i = base + (reverse ? n - 1 - k : k) * inner;
          if (exclusive) {
            y[i] = acc;
            acc = Arith<T>::add(acc, x[i]);
          } else {
            acc = Arith<T>::add(acc, x[i]);
            y[i] = acc;
          }
        }
      }
    });
  }

  bool exclusive_, reverse_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_cumsum(const Network&, const Node& node) {
  require_inputs(node, 2);
  return std::make_unique<CumSumLayer>(node);
}

INT8RT_REGISTER_LAYER("CumSum", make_cumsum);

}  // namespace
}  // namespace engine
}  // namespace int8rt
