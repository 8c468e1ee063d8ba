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
#include "engine/ops/elements_axis.h"
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
    const DataType t = x.dtype();
    if (upd.dtype() != t || (t != DataType::kFloat32 && t != DataType::kInt64 && t != DataType::kInt32)) {
      throw InvalidArgument(prefix_ + "data and updates must share one dtype, float32, int64 or int32 (got " +
                            dtype_name(t) + " and " + dtype_name(upd.dtype()) + ")");
    }
    (void)ElementsAxis(x, idx, axis_, prefix_);  // checks the indices
    const Shape& is = idx.shape();
    if (upd.shape() != is) {
      throw InvalidArgument(prefix_ + "updates are " + shape_str(upd.shape()) + ", expected the indices' shape " +
                            shape_str(is));
    }
    return {{t, x.shape()}};
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
    const ElementsAxis where(*in[0], *in[1], axis_, prefix_);
    T* y = yv.data<T>();
    if (yv.numel() > 0) std::memcpy(y, in[0]->data<T>(), yv.nbytes());
    const I* idx = in[1]->data<I>();
    const T* u = in[2]->data<T>();
    const int64_t n = in[1]->numel();
    for (int64_t j = 0; j < n; ++j) {  // serially: repeated indices see the earlier updates
      int64_t off = 0;
      if (!where.offset(j, static_cast<int64_t>(idx[j]), &off)) throw where.out_of_range(prefix_, idx[j]);
      scatter_combine(reduce_, y[off], u[j]);
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
