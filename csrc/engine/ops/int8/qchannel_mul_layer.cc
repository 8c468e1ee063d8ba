// int8rt.QChannelMul: an int8 NHWC tensor times a per-channel gate
// [N or 1, C, 1, 1] (squeeze-and-excitation), requantized to the output
// scale (formula: ref::channel_mul_s8), run by the element-wise kernel
// chosen when the layer is created (kernels/eltwise_s8.h). With a third
// input, a float [256] table, x stands for table[x + 128] instead of x * s_x
// (ref::channel_mul_table_s8: the float path's Mul and Quantize exactly).
// The gate is float32, or int8 with a fourth input, the float [256] values
// of the gate region (HardSigmoid / Sigmoid) over its input's codes: the
// gate is then gate_table[code + 128] (ref::lookup_f32_s8), the float gate's
// own bits, looked up once per image and channel before the same kernel.
#include <vector>

#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "int8rt/error.h"
#include "kernels/eltwise_s8.h"
#include "kernels/ref/ref_kernels.h"

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
    gate_table_ = node.inputs.size() > 3 && node.inputs[3] >= 0;
  }
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& x = in[0]->shape();
    const Shape& g = in[1]->shape();
    const DataType gate_type = gate_table_ ? DataType::kInt8 : DataType::kFloat32;
    auto is_table = [&](size_t i) { return in[i]->dtype() == DataType::kFloat32 && in[i]->numel() == 256; };
    // An int8 gate may be NHWC ([N, 1, 1, C]): with one pixel the bytes are the same.
    const bool gate_nhwc = gate_table_ && g.size() == 4 && g[1] == 1 && g[2] == 1 && g[3] == x[3];
    const bool gate_nchw = g.size() == 4 && g[1] == x[3] && g[2] == 1 && g[3] == 1;
    const bool ok = in[0]->dtype() == DataType::kInt8 && x.size() == 4 && in[1]->dtype() == gate_type &&
                    (gate_nchw || gate_nhwc) && (g[0] == x[0] || g[0] == 1) && (!table_ || is_table(2)) &&
                    (!gate_table_ || is_table(3));
    if (!ok) {
      throw InvalidArgument("node '" + name_ + "': QChannelMul needs int8 NHWC x, a [N|1, C, 1, 1] gate (float, or int8 "
                            "with a float [256] gate table) and optionally a float [256] table, got " +
                            shape_str(x) + " and " + shape_str(g));
    }
    return {{DataType::kInt8, x}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& x = in[0]->shape();
    const int64_t gate_batch = in[1]->shape()[0];
    const float* gate = gate_table_ ? gate_values(*in[1], *in[3]) : in[1]->data<float>();
    if (table_) {
      k_->channel_mul_table(x[0], x[1] * x[2], x[3], in[0]->data<int8_t>(), in[2]->data<float>(), gate, gate_batch,
                            s_y_, out[0]->data<int8_t>());
      return;
    }
    k_->channel_mul(x[0], x[1] * x[2], x[3], in[0]->data<int8_t>(), gate, gate_batch, s_x_, s_y_,
                    out[0]->data<int8_t>());
  }
  std::string describe() const override {
    return std::string(k_->name()) + (table_ ? " (x through a float table)" : "") +
           (gate_table_ ? " (int8 gate through its float table)" : "");
  }

 private:
  // The float gate of an int8 gate's codes, in the calling thread's buffer
  // (grown once: no allocation per run; the kernel reads it before returning).
  static const float* gate_values(const Value& codes, const Value& table) {
    thread_local std::vector<float> storage;
    const size_t n = static_cast<size_t>(codes.numel());
    if (storage.size() < n) storage.resize(n);
    kernels::ref::lookup_f32_s8(codes.numel(), codes.data<int8_t>(), table.data<float>(), storage.data());
    return storage.data();
  }

  std::string name_;
  const kernels::ChannelMulS8Kernel* k_;
  float s_x_ = 0.f, s_y_ = 0.f;
  bool table_ = false, gate_table_ = false;
};

INT8RT_REGISTER_LAYER(QChannelMulAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 2);
  return std::make_unique<QChannelMulLayer>(node);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
