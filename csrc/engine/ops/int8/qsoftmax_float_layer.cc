// int8rt.QSoftmaxFloat (qsoftmax_float.h): rows of int8 codes -> their
// float softmax by the softmax s8 family's choice (kernels/eltwise_s8.h;
// the rule, the bits of Dequantize + the float Softmax, in
// kernels/ref/softmax_s8.h), rows split over the pool as the float
// Softmax layer splits them. Also the op's attributes.
#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/int8/qsoftmax_float.h"
#include "engine/ops/op_util.h"
#include "int8rt/error.h"
#include "kernels/eltwise_s8.h"

namespace int8rt {
namespace engine {

Attributes QSoftmaxFloatAttrs::to_attrs() const {
  Attributes a;
  a.set("in_scale", Attribute::of_float(in_scale));
  a.set("axis", Attribute::of_int(axis));
  if (coerce_2d) a.set("coerce_2d", Attribute::of_int(1));
  return a;
}

QSoftmaxFloatAttrs QSoftmaxFloatAttrs::from_attrs(const Node& node) {
  QSoftmaxFloatAttrs a;
  try {
    a.in_scale = node.attrs.get_float("in_scale", 0.0);
    a.axis = node.attrs.get_int("axis", -1);
    a.coerce_2d = node.attrs.get_int("coerce_2d", 0) != 0;
  } catch (const Error& e) {
    throw InvalidArgument(layer_error_prefix(node) + e.what());
  }
  const float s = static_cast<float>(a.in_scale);
  if (!(std::isfinite(s) && s > 0.0f)) {
    throw InvalidArgument(layer_error_prefix(node) + "in_scale must be finite and > 0 as float32");
  }
  return a;
}

namespace {

class QSoftmaxFloatLayer : public Layer {
 public:
  explicit QSoftmaxFloatLayer(const Node& node)
      : a_(QSoftmaxFloatAttrs::from_attrs(node)), prefix_(layer_error_prefix(node)),
        k_(&kernels::choose<kernels::SoftmaxS8Kernel>()) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_input(in, 0, DataType::kInt8, prefix_);
    const int64_t axis = normalize_axis(a_.axis, static_cast<int64_t>(x.shape().size()), prefix_);
    if (!a_.coerce_2d && axis != static_cast<int64_t>(x.shape().size()) - 1) {
      throw InvalidArgument(prefix_ + "QSoftmaxFloat runs over the last axis (or coerce_2d), got axis " +
                            std::to_string(a_.axis));
    }
    return {{DataType::kFloat32, x.shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t axis = normalize_axis(a_.axis, static_cast<int64_t>(s.size()), prefix_);
    int64_t rows = 1, n = 1;
    for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) (d < axis ? rows : n) *= s[d];
    const int8_t* x = in[0]->data<int8_t>();
    float* y = out[0]->data<float>();
    const float scale = static_cast<float>(a_.in_scale);
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n));  // as the float Softmax layer
    parallel_for(rows, grain, [&](int64_t b, int64_t e) { k_->softmax(e - b, n, x + b * n, scale, y + b * n); });
  }

  std::string describe() const override { return std::string("softmax of int8 codes ") + k_->name(); }

 private:
  QSoftmaxFloatAttrs a_;
  std::string prefix_;
  const kernels::SoftmaxS8Kernel* k_;
};

INT8RT_REGISTER_LAYER(QSoftmaxFloatAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  return std::make_unique<QSoftmaxFloatLayer>(node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
