// ScatterND (ONNX): out = data, then for every index tuple j of `indices`
// ([..., k], int64, k <= rank(data); negative entries count from the end):
// out[indices[j]] (a slice of rank rank(data) - k) = updates[j], or combined
// with it by `reduction` (none, add, mul, max, min). data and updates share
// one dtype (float32, int64 or int32); updates' shape is indices.shape[:-1]
// + data.shape[k:]. Updates apply in index order (serially), so repeated
// indices give the last update (none) or the combination of all of them.
// An index outside [-dim, dim) is an InvalidArgument naming it.
#include <cstring>

#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "engine/ops/scatter_reduce.h"

namespace int8rt {
namespace engine {
namespace {

class ScatterNDLayer : public Layer {
 public:
  explicit ScatterNDLayer(const Node& node) : reduce_(scatter_reduce_attr(node)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const Value& idx = require_input(in, 1, DataType::kInt64, prefix_);
    const Value& upd = require_any(in, 2, prefix_);
    const DataType t = x.dtype();
    if (upd.dtype() != t || (t != DataType::kFloat32 && t != DataType::kInt64 && t != DataType::kInt32)) {
      throw InvalidArgument(prefix_ + "data and updates must share one dtype, float32, int64 or int32 (got " +
                            dtype_name(t) + " and " + dtype_name(upd.dtype()) + ")");
    }
    const Shape &xs = x.shape(), &is = idx.shape();
    if (is.empty() || is.back() < 1 || is.back() > static_cast<int64_t>(xs.size())) {
      throw InvalidArgument(prefix_ + "indices " + shape_str(is) + " must end in a dimension in [1, rank of data " +
                            shape_str(xs) + "]");
    }
    Shape want(is.begin(), is.end() - 1);
    want.insert(want.end(), xs.begin() + is.back(), xs.end());
    if (upd.shape() != want) {
      throw InvalidArgument(prefix_ + "updates are " + shape_str(upd.shape()) + ", expected " + shape_str(want));
    }
    return {{t, xs}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    switch (in[0]->dtype()) {
      case DataType::kFloat32: scatter<float>(in, *out[0]); break;
      case DataType::kInt64: scatter<int64_t>(in, *out[0]); break;
      case DataType::kInt32: scatter<int32_t>(in, *out[0]); break;
      default: break;  // refused by infer
    }
  }

  std::string describe() const override { return "scatter nd"; }

 private:
  template <typename T>
  void scatter(const std::vector<const Value*>& in, Value& yv) const {
    const Shape& xs = in[0]->shape();
    const Shape& is = in[1]->shape();
    const int64_t k = is.back();
    const int64_t tuples = in[1]->numel() / k;
    int64_t slice = 1;
    for (size_t d = static_cast<size_t>(k); d < xs.size(); ++d) slice *= xs[d];
    T* y = yv.data<T>();
    if (yv.numel() > 0) std::memcpy(y, in[0]->data<T>(), yv.nbytes());
    const int64_t* idx = in[1]->data<int64_t>();
    const T* u = in[2]->data<T>();
    for (int64_t j = 0; j < tuples; ++j) {
      int64_t off = 0;
      for (int64_t d = 0; d < k; ++d) {
        int64_t v = idx[j * k + d];
        if (v < -xs[d] || v >= xs[d]) {
          throw InvalidArgument(prefix_ + "index " + std::to_string(v) + " is outside [" + std::to_string(-xs[d]) +
                                ", " + std::to_string(xs[d]) + ") (dimension " + std::to_string(d) + " of the data)");
        }
        off = off * xs[d] + (v < 0 ? v + xs[d] : v);
      }
      T* dst = y + off * slice;
      const T* src = u + j * slice;
      for (int64_t e = 0; e < slice; ++e) scatter_combine(reduce_, dst[e], src[e]);
    }
  }

  ScatterReduce reduce_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_scatter_nd(const Network&, const Node& node) {
  require_inputs(node, 3);
  return std::make_unique<ScatterNDLayer>(node);
}

INT8RT_REGISTER_LAYER("ScatterND", make_scatter_nd);

}  // namespace
}  // namespace engine
}  // namespace int8rt
