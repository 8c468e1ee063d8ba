// int8rt.QMaxPool, int8rt.QAveragePool, int8rt.QGlobalAveragePool: int8
// pooling on NHWC tensors with the reference kernels' arithmetic (max is
// exact and keeps the scale; averages requantize to the output scale), run
// by the element-wise kernel chosen when the layer is created
// (kernels/eltwise_s8.h, capped by INT8RT_MAX_ISA).
#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qpool_params.h"
#include "int8rt/error.h"
#include "kernels/eltwise_s8.h"

namespace int8rt {
namespace engine {
namespace {

enum class PoolKind { kMax, kAverage, kGlobalAverage };

class QPoolLayer : public Layer {
 public:
  QPoolLayer(const Network& net, const Node& node, PoolKind kind)
      : kind_(kind), name_(node.name),
        max_(kind == PoolKind::kMax ? &kernels::choose<kernels::MaxPoolS8Kernel>() : nullptr),
        avg_(kind == PoolKind::kAverage ? &kernels::choose<kernels::AvgPoolS8Kernel>() : nullptr),
        global_(kind == PoolKind::kGlobalAverage ? &kernels::choose<kernels::GlobalAvgPoolS8Kernel>()
                                                 : nullptr) {
    p_ = qpool_params(net, node);
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in[0]->dtype() != DataType::kInt8) throw InvalidArgument("node '" + name_ + "': input must be int8");
    const Shape& s = in[0]->shape();
    const kernels::PoolShape shape = pool_shape_for(p_, s, name_);
    if (kind_ == PoolKind::kGlobalAverage) return {{DataType::kInt8, {s[0], 1, 1, shape.C}}};
    return {{DataType::kInt8, {s[0], shape.out_h(), shape.out_w(), shape.C}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    int batch = static_cast<int>(in[0]->shape()[0]);
    const kernels::PoolShape shape = pool_shape_for(p_, in[0]->shape(), name_);
    const int8_t* x = in[0]->data<int8_t>();
    int8_t* y = out[0]->data<int8_t>();
    switch (kind_) {
      case PoolKind::kMax: max_->maxpool(shape, batch, x, y); break;
      case PoolKind::kAverage: avg_->avgpool(shape, batch, x, p_.s_in, p_.s_out, y); break;
      case PoolKind::kGlobalAverage:
        global_->global_avgpool(batch, static_cast<int64_t>(shape.H) * shape.W, shape.C, x, p_.s_in, p_.s_out, y);
        break;
    }
  }

  std::string describe() const override {
    return max_ ? max_->name() : avg_ ? avg_->name() : global_->name();
  }

 private:
  PoolKind kind_;
  std::string name_;
  const kernels::MaxPoolS8Kernel* max_;  // the one of kind_, the others null
  const kernels::AvgPoolS8Kernel* avg_;
  const kernels::GlobalAvgPoolS8Kernel* global_;
  QPoolParams p_;
};

LayerFactory make(PoolKind kind) {
  return [kind](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
    require_inputs(node, 1);
    return std::make_unique<QPoolLayer>(net, node, kind);
  };
}

INT8RT_REGISTER_LAYER(QPoolAttrs::kMaxOp, make(PoolKind::kMax));
INT8RT_REGISTER_LAYER(QPoolAttrs::kAverageOp, make(PoolKind::kAverage));
INT8RT_REGISTER_LAYER(QPoolAttrs::kGlobalAverageOp, make(PoolKind::kGlobalAverage));

}  // namespace
}  // namespace engine
}  // namespace int8rt
