// TopK (ONNX): the K largest (largest = 1, the default) or smallest elements
// along `axis` (default -1) of a numeric tensor (float32, float64, the 8- to
// 64-bit integers; not float16), and their
// int64 indices. K is a one-element int64 input (a constant or a shape
// tensor: the output shape depends on it), 0 <= K <= the axis' size. Output
// order: by value (descending for largest, ascending otherwise), equal values
// by lower index first, as the spec asks; sorted = 0 gets the same order
// (the spec leaves it open). A NaN counts as larger than any number (numpy's
// sort order, the ONNX reference's).
#include <algorithm>
#include <cmath>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

template <typename T>
bool is_nan(T v) {
  return v != v;
}

class TopKLayer : public Layer {
 public:
  explicit TopKLayer(const Node& node)
      : axis_(node.attrs.get_int("axis", -1)),
        largest_(node.attrs.get_int("largest", 1) != 0),
        with_indices_(node.outputs.size() > 1),
        prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    if (!is_numeric_dtype(x.dtype()) || x.dtype() == DataType::kFloat16) {
      throw InvalidArgument(prefix_ + "input must be float32, float64 or an integer type, got " +
                            dtype_name(x.dtype()));
    }
    const DataType t = x.dtype();
    Shape s = x.shape();
    const int64_t a = normalize_axis(axis_, static_cast<int64_t>(s.size()), prefix_);
    s[a] = k_of(in, s[a]);
    if (!with_indices_) return {{t, s}};
    return {{t, s}, {DataType::kInt64, s}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    visit_numeric(in[0]->dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!kIsHalf<T>) top<T>(in, out);  // float16: refused by infer
    });
  }

  std::string describe() const override { return std::string(largest_ ? "top" : "bottom") + "-k"; }

 private:
  int64_t k_of(const std::vector<const Value*>& in, int64_t dim) const {
    const Value& kv = require_any(in, 1, prefix_);
    const std::vector<int64_t> k = int64_values(kv, prefix_, "K");
    if (k.size() != 1 || k[0] < 0 || k[0] > dim) {
      throw InvalidArgument(prefix_ + "K " + ints_str(k) + " must be one value in [0, " + std::to_string(dim) + "]");
    }
    return k[0];
  }

  template <typename T>
  void top(const std::vector<const Value*>& in, const std::vector<Value*>& out) const {
    const Shape& s = in[0]->shape();
    const int64_t a = normalize_axis(axis_, static_cast<int64_t>(s.size()), prefix_);
    const int64_t n = s[a], k = out[0]->shape()[a];
    const int64_t outer = checked_numel(Shape(s.begin(), s.begin() + a), "TopK outer size");
    const int64_t inner = checked_numel(Shape(s.begin() + a + 1, s.end()), "TopK inner size");
    const T* x = in[0]->data<T>();
    T* values = out[0]->data<T>();
    int64_t* indices = with_indices_ ? out[1]->data<int64_t>() : nullptr;
    const bool largest = largest_;
    // before(i, j): element i is placed before element j.
    auto before_in = [largest](const T* p, int64_t stride) {
      return [=](int64_t i, int64_t j) {
        const T u = p[i * stride], v = p[j * stride];
        if (is_nan(u) || is_nan(v)) {  // NaN is the largest
          if (is_nan(u) && is_nan(v)) return i < j;
          return largest ? is_nan(u) : is_nan(v);
        }
        if (u != v) return largest ? u > v : u < v;
        return i < j;
      };
    };
    if (k == 0) return;
    parallel_for(outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
      std::vector<int64_t> order(static_cast<size_t>(n));
      for (int64_t r = b; r < e; ++r) {
        const int64_t o = r / inner, i = r % inner;
        const T* p = x + o * n * inner + i;
        for (int64_t j = 0; j < n; ++j) order[j] = j;
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before_in(p, inner));
        for (int64_t j = 0; j < k; ++j) {
          const int64_t dst = (o * k + j) * inner + i;
          values[dst] = p[order[j] * inner];
          if (indices) indices[dst] = order[j];
        }
      }
    });
  }

  int64_t axis_;
  bool largest_, with_indices_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_topk(const Network&, const Node& node) {
  require_inputs(node, 2);
  if (node.outputs.empty() || node.outputs.size() > 2) {
    throw InvalidArgument(layer_error_prefix(node) + "has values and optionally indices as outputs, got " +
                          std::to_string(node.outputs.size()));
  }
  return std::make_unique<TopKLayer>(node);
}

INT8RT_REGISTER_LAYER("TopK", make_topk);

}  // namespace
}  // namespace engine
}  // namespace int8rt
