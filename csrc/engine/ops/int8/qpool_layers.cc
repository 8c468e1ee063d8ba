// int8rt.QMaxPool, int8rt.QAveragePool, int8rt.QGlobalAveragePool: int8
// pooling on NHWC tensors with the reference kernels' arithmetic (max is
// exact and keeps the scale; averages requantize to the output scale), run
// by the element-wise kernel chosen when the layer is created
// (kernels/eltwise_s8.h, capped by INT8RT_MAX_ISA). QGlobalAveragePool may
// take a second input, a float [256] table: x then stands for table[x + 128]
// and the mean is formed in float as GlobalAveragePool forms it
// (ref::global_avgpool_table_s8); an output zero point z (out_zero_point)
// is quantize_value's, round(mean / s_out + z): the layer averages
// table[x + 128] + z * s_out instead (its own copy of the table), so
// round(mean / s_out) is that, up to the float rounding of the sum.
// QAveragePool's zero points (in_zero_point, out_zero_point) go to its
// kernel (ref::avgpool_s8's formula). QMaxPool's output may be held as u8
// codes (u8_codes.h): the kernel's int8 maxima are flipped image by image,
// each image's output while it is still in cache.
#include <array>

#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qpool_params.h"
#include "engine/ops/int8/u8_codes.h"
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
    if (kind == PoolKind::kMax && !node.outputs.empty()) {
      u8_out_ = int8_tensor_codes(net, node.outputs[0]) == kernels::Codes::kU8;
    }
    table_ = kind == PoolKind::kGlobalAverage && node.inputs.size() > 1 && node.inputs[1] >= 0;
    if (p_.z_out != 0 && kind == PoolKind::kGlobalAverage && !table_) {
      throw InvalidArgument("node '" + name_ + "': an output zero point needs the table form (a float [256] input)");
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in[0]->dtype() != DataType::kInt8) throw InvalidArgument("node '" + name_ + "': input must be int8");
    if (table_ && (in[1]->dtype() != DataType::kFloat32 || in[1]->numel() != 256)) {
      throw InvalidArgument("node '" + name_ + "': the table input must be float32 [256]");
    }
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
      case PoolKind::kMax: run_max(shape, batch, x, y); break;
      case PoolKind::kAverage: avg_->avgpool(shape, batch, x, p_.s_in, p_.s_out, y, p_.z_in, p_.z_out); break;
      case PoolKind::kGlobalAverage:
        if (table_) {
          const float* table = in[1]->data<float>();
          std::array<float, 256> shifted;
          if (p_.z_out != 0) {
            for (size_t i = 0; i < shifted.size(); ++i) shifted[i] = table[i] + static_cast<float>(p_.z_out) * p_.s_out;
            table = shifted.data();
          }
          global_->global_avgpool_table(batch, static_cast<int64_t>(shape.H) * shape.W, shape.C, x, table, p_.s_out,
                                        y);
          break;
        }
        global_->global_avgpool(batch, static_cast<int64_t>(shape.H) * shape.W, shape.C, x, p_.s_in, p_.s_out, y);
        break;
    }
  }

  std::string describe() const override {
    if (global_) return std::string(global_->name()) + (table_ ? " (x through a float table)" : "");
    return max_ ? max_->name() + std::string(u8_out_ ? " (output u8 codes)" : "") : avg_->name();
  }

 private:
  void run_max(const kernels::PoolShape& shape, int batch, const int8_t* x, int8_t* y) const {
    if (!u8_out_) {
      max_->maxpool(shape, batch, x, y);
      return;
    }
    const int64_t in_image = static_cast<int64_t>(shape.H) * shape.W * shape.C;
    const int64_t out_image = static_cast<int64_t>(shape.out_h()) * shape.out_w() * shape.C;
    for (int n = 0; n < batch; ++n) {
      max_->maxpool(shape, 1, x + n * in_image, y + n * out_image);
      to_u8_codes(y + n * out_image, out_image);
    }
  }

  PoolKind kind_;
  std::string name_;
  const kernels::MaxPoolS8Kernel* max_;  // the one of kind_, the others null
  const kernels::AvgPoolS8Kernel* avg_;
  const kernels::GlobalAvgPoolS8Kernel* global_;
  QPoolParams p_;
  bool table_ = false;
  bool u8_out_ = false;  // QMaxPool: its output held as u8 codes
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
