// int8rt.QChannelMul: an int8 NHWC tensor times a float32 per-channel gate
// [N or 1, C, 1, 1] (squeeze-and-excitation), requantized to the output
// scale (formula: ref::channel_mul_s8), run by the element-wise kernel
// chosen when the layer is created (kernels/eltwise_s8.h). With a third
// input, a float [256] table, x stands for table[x + 128] instead of x * s_x
// (ref::channel_mul_table_s8: the float path's Mul and Quantize exactly).
#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "int8rt/error.h"
#include "kernels/eltwise_s8.h"

namespace int8rt {
namespace engine {
namespace {

class QChannelMulLayer : public Layer {
 public:
  explicit QChannelMulLayer(const Node& node)
      : name_(node.name), k_(&kernels::choose<kernels::ChannelMulS8Kernel>()) {
    const QChannelMulAttrs a = QChannelMulAttrs::from_attrs(node);
    s_x_ = static_cast<float>(a.in_scale);
    s_y_ = static_cast<float>(a.out_scale);
    table_ = node.inputs.size() > 2 && node.inputs[2] >= 0;
  }
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& x = in[0]->shape();
    const Shape& g = in[1]->shape();
    const bool ok = in[0]->dtype() == DataType::kInt8 && x.size() == 4 && in[1]->dtype() == DataType::kFloat32 &&
                    g.size() == 4 && g[1] == x[3] && g[2] == 1 && g[3] == 1 && (g[0] == x[0] || g[0] == 1) &&
                    (in.size() < 3 || (in[2]->dtype() == DataType::kFloat32 && in[2]->numel() == 256));
    if (!ok) {
      throw InvalidArgument("node '" + name_ + "': QChannelMul needs int8 NHWC x, a float [N|1, C, 1, 1] gate and optionally a float [256] table, got " +
                            shape_str(x) + " and " + shape_str(g));
    }
    return {{DataType::kInt8, x}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& x = in[0]->shape();
    if (in.size() > 2) {
      k_->channel_mul_table(x[0], x[1] * x[2], x[3], in[0]->data<int8_t>(), in[2]->data<float>(), in[1]->data<float>(),
                            in[1]->shape()[0], s_y_, out[0]->data<int8_t>());
      return;
    }
    k_->channel_mul(x[0], x[1] * x[2], x[3], in[0]->data<int8_t>(), in[1]->data<float>(), in[1]->shape()[0], s_x_,
                    s_y_, out[0]->data<int8_t>());
  }
  std::string describe() const override { return std::string(k_->name()) + (table_ ? " (x through a float table)" : ""); }

 private:
  std::string name_;
  const kernels::ChannelMulS8Kernel* k_;
  float s_x_ = 0.f, s_y_ = 0.f;
  bool table_ = false;
};

INT8RT_REGISTER_LAYER(QChannelMulAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 2);
  return std::make_unique<QChannelMulLayer>(node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
