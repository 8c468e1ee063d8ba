// ScatterElements (ONNX opset 18): out = data, then for every position j of
// `indices` (row-major order), out[j with its `axis` coordinate replaced by
// indices[j]] = updates[j], or combined with it by `reduction` (none, add,
// mul, max, min). indices (int64 or int32) and updates share one shape, of
// data's rank, no dimension larger than data's except on the axis; data and
// updates share one dtype (float32, int64 or int32). Updates apply serially,
// so repeated indices give the last update (none) or the combination of all
// of them, as ONNX Runtime does. Negative indices count from the end of the
// axis; one outside [-dim, dim) is an InvalidArgument naming it. This is the
// element-wise twin of scatter_nd.cc and the inverse of gather_elements.cc.
// PyTorch exports `select_scatter` / `index_put` as it (BEiT's relative
// position index, RESULTS.md section 160).
#include <cstring>

#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"
#include "engine/ops/scatter_reduce.h"

namespace int8rt {
namespace engine {
namespace {

class ScatterElementsLayer : public Layer {
 public:
  explicit ScatterElementsLayer(const Node& node)
      : axis_(node.attrs.get_int("axis", 0)), reduce_(scatter_reduce_attr(node)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const Value& idx = require_any(in, 1, prefix_);
    const Value& upd = require_any(in, 2, prefix_);
    if (idx.dtype() != DataType::kInt64 && idx.dtype() != DataType::kInt32) {
      throw InvalidArgument(prefix_ + "indices must be int64 or int32");
    }
    const DataType t = x.dtype();
    if (upd.dtype() != t || (t != DataType::kFloat32 && t != DataType::kInt64 && t != DataType::kInt32)) {
      throw InvalidArgument(prefix_ + "data and updates must share one dtype, float32, int64 or int32 (got " +
                            dtype_name(t) + " and " + dtype_name(upd.dtype()) + ")");
    }
    const Shape &xs = x.shape(), &is = idx.shape();
    const int64_t a = normalize_axis(axis_, static_cast<int64_t>(xs.size()), prefix_);
    bool ok = xs.size() == is.size();
    for (size_t d = 0; ok && d < xs.size(); ++d) ok = static_cast<int64_t>(d) == a || is[d] <= xs[d];
    if (!ok) {
      throw InvalidArgument(prefix_ + "indices " + shape_str(is) + " must have the rank of the data " + shape_str(xs) +
                            " and no larger dimension except on the axis");
    }
    if (upd.shape() != is) {
      throw InvalidArgument(prefix_ + "updates are " + shape_str(upd.shape()) + ", expected the indices' shape " +
                            shape_str(is));
    }
    return {{t, xs}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const bool i64 = in[1]->dtype() == DataType::kInt64;
    switch (in[0]->dtype()) {
      case DataType::kFloat32: i64 ? scatter<float, int64_t>(in, *out[0]) : scatter<float, int32_t>(in, *out[0]); break;
      case DataType::kInt64:
        i64 ? scatter<int64_t, int64_t>(in, *out[0]) : scatter<int64_t, int32_t>(in, *out[0]);
        break;
      case DataType::kInt32:
        i64 ? scatter<int32_t, int64_t>(in, *out[0]) : scatter<int32_t, int32_t>(in, *out[0]);
        break;
      default: break;  // refused by infer
    }
  }

  std::string describe() const override { return "scatter elements axis " + std::to_string(axis_); }

 private:
  template <typename T, typename I>
  void scatter(const std::vector<const Value*>& in, Value& yv) const {
    const Shape& xs = in[0]->shape();
    const Shape& is = in[1]->shape();
    const int64_t rank = static_cast<int64_t>(xs.size());
    const int64_t a = normalize_axis(axis_, rank, prefix_);
    const int64_t dim = xs[a];
    BroadcastDims xstride;  // in place up to rank 8: a run allocates nothing
    xstride.assign_zeros(xs.size());
    if (rank > 0) xstride[static_cast<size_t>(rank - 1)] = 1;
    for (int64_t d = rank - 2; d >= 0; --d) xstride[d] = xstride[d + 1] * xs[d + 1];
    T* y = yv.data<T>();
    if (yv.numel() > 0) std::memcpy(y, in[0]->data<T>(), yv.nbytes());
    const I* idx = in[1]->data<I>();
    const T* u = in[2]->data<T>();
    const int64_t n = in[1]->numel();
    for (int64_t j = 0; j < n; ++j) {
      int64_t rest = j, off = 0;
      for (int64_t d = rank - 1; d >= 0; --d) {
        const int64_t i = rest % is[d];
        rest /= is[d];
        if (d != a) off += i * xstride[d];
      }
      int64_t k = static_cast<int64_t>(idx[j]);
      if (k < -dim || k >= dim) {
        throw InvalidArgument(prefix_ + "index " + std::to_string(k) + " is outside [" + std::to_string(-dim) + ", " +
                              std::to_string(dim) + ") (axis " + std::to_string(axis_) + " of the data)");
      }
      scatter_combine(reduce_, y[off + (k < 0 ? k + dim : k) * xstride[a]], u[j]);
    }
  }

  int64_t axis_;
  ScatterReduce reduce_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_scatter_elements(const Network&, const Node& node) {
  require_inputs(node, 3);
  return std::make_unique<ScatterElementsLayer>(node);
}

INT8RT_REGISTER_LAYER("ScatterElements", make_scatter_elements);

}  // namespace
}  // namespace engine
}  // namespace int8rt
