// int8rt.QAdd and int8rt.QConcat (any axis): int8 tensors combined with per-input
// rescaling to the output scale (affine formulas of the reference kernels,
// multipliers read once with qeltwise_params.h), run by the element-wise kernel chosen when the
// layer is created (kernels/eltwise_s8.h, capped by INT8RT_MAX_ISA).
#include <algorithm>
#include <limits>

#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qeltwise_params.h"
#include "int8rt/error.h"
#include "kernels/eltwise_s8.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace engine {
namespace {

class QAddLayer : public Layer {
 public:
  explicit QAddLayer(const Node& node)
      : name_(node.name), k_(&kernels::choose<kernels::AddS8Kernel>()) {
    params_ = qadd_params(node);
  }
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in.size() != 2 || in[0]->dtype() != DataType::kInt8 || in[1]->dtype() != DataType::kInt8) {
      throw InvalidArgument("node '" + name_ + "': QAdd needs two int8 tensors");
    }
    if (in[0]->shape() != in[1]->shape()) {  // e.g. an FPN's upsampled map beside an odd-sized one
      throw InvalidArgument("node '" + name_ + "': QAdd needs two int8 tensors of the same shape, got " +
                            shape_str(in[0]->shape()) + " and " + shape_str(in[1]->shape()));
    }
    return {{DataType::kInt8, in[0]->shape()}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    k_->add(in[0]->numel(), in[0]->data<int8_t>(), in[1]->data<int8_t>(), params_, out[0]->data<int8_t>());
  }
  std::string describe() const override { return k_->name(); }

 private:
  std::string name_;
  const kernels::AddS8Kernel* k_;
  kernels::AddParams params_;
};

// Along any axis: the kernels' [pixels][channels] view with pixels = the
// product of the dims before the axis and each input's "channels" = the
// product of its dims from the axis on (for NHWC channels, batch*H*W and C).
class QConcatLayer : public Layer {
 public:
  explicit QConcatLayer(const Node& node)
      : name_(node.name), k_(&kernels::choose<kernels::ConcatS8Kernel>()),
        axis_(QConcatAttrs::from_attrs(node).axis) {
    multipliers_ = qconcat_multipliers(node);
    const QConcatAttrs a = QConcatAttrs::from_attrs(node);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      in_zero_points_.push_back(a.in_zero_points.empty() ? 0 : static_cast<int32_t>(a.in_zero_points[i]));
    }
    out_zero_point_ = static_cast<int32_t>(a.out_zero_point);
  }
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    Shape s = in.at(0)->shape();
    const int64_t axis = axis_of(s);
    s[axis] = 0;
    for (const Value* v : in) {
      const Shape& t = v->shape();
      bool ok = v->dtype() == DataType::kInt8 && t.size() == s.size();
      for (size_t d = 0; ok && d < t.size(); ++d) ok = static_cast<int64_t>(d) == axis || t[d] == s[d];
      if (!ok) {
        throw InvalidArgument("node '" + name_ + "': QConcat inputs must be int8 of one rank, equal outside axis " +
                              std::to_string(axis) + ", got " + shape_str(t) + " and " + shape_str(in[0]->shape()));
      }
      s[axis] += t[axis];
    }
    return {{DataType::kInt8, s}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = out[0]->shape();
    const int64_t axis = axis_of(s);
    int64_t pixels = 1;
    for (int64_t d = 0; d < axis; ++d) pixels *= s[d];
    thread_local std::vector<kernels::ref::ConcatInput> inputs;  // this thread's, kept (a run allocates none)
    inputs.clear();
    for (size_t i = 0; i < in.size(); ++i) {
      const int64_t channels = in[i]->numel() / std::max<int64_t>(1, pixels);
      if (channels == 0) continue;  // an empty input adds nothing
      if (channels > std::numeric_limits<int>::max()) {
        throw InvalidArgument("node '" + name_ + "': QConcat input " + std::to_string(i) + " " +
                              shape_str(in[i]->shape()) + " has too many elements per row");
      }
      inputs.push_back({in[i]->data<int8_t>(), static_cast<int>(channels), multipliers_[i], in_zero_points_[i],
                        out_zero_point_});
    }
    if (pixels == 0 || inputs.empty()) return;
    k_->concat(pixels, inputs, out[0]->data<int8_t>());
  }
  std::string describe() const override { return k_->name(); }

 private:
  int64_t axis_of(const Shape& s) const {
    const int64_t rank = static_cast<int64_t>(s.size());
    if (rank == 0 || axis_ >= rank) {
      throw InvalidArgument("node '" + name_ + "': QConcat axis " + std::to_string(axis_) + " outside rank " +
                            std::to_string(rank));
    }
    return axis_ < 0 ? rank - 1 : axis_;
  }

  std::string name_;
  const kernels::ConcatS8Kernel* k_;
  int64_t axis_;  // -1: the last
  std::vector<float> multipliers_;
  std::vector<int32_t> in_zero_points_;
  int32_t out_zero_point_ = 0;
};

INT8RT_REGISTER_LAYER(QAddAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 2);
  return std::make_unique<QAddLayer>(node);
});
INT8RT_REGISTER_LAYER(QConcatAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, std::max<size_t>(1, node.inputs.size()));
  return std::make_unique<QConcatLayer>(node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
