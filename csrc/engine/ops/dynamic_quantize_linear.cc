// DynamicQuantizeLinear (ONNX opset 11): float32 x -> (y uint8, y_scale,
// y_zero_point), as onnx/reference/ops/op_dynamic_quantize_linear.py and
// ONNX Runtime compute it, in float32:
//   lo = min(0, min(x)), hi = max(0, max(x))
//   y_scale = (hi == lo ? 1 : hi - lo) / 255
//   y_zero_point = round_half_even(clamp(0 - lo / y_scale, 0, 255))
//   y = clamp(round_half_even(x / y_scale) + y_zero_point, 0, 255)
// (x / y_scale is the float32 quotient, as the reference's numpy and ONNX
// Runtime's MlasQuantizeLinear form it.) A NaN in x is skipped by the range
// (NaN compares false) and quantizes to 0.
#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/dynamic_quantize.h"
#include "engine/ops/op_util.h"
#include "kernels/dynamic_quantize_u8.h"

namespace int8rt {
namespace engine {

DynamicQuantParams dynamic_quant_params(const kernels::DynamicQuantizeU8Kernel& k, const float* x, int64_t n) {
  float lo = 0.f, hi = 0.f;
  k.range(n, x, &lo, &hi);
  DynamicQuantParams p;
  p.scale = (hi == lo ? 1.f : hi - lo) / 255.f;
  float zp = 0.f - lo / p.scale;
  zp = zp < 0.f ? 0.f : (zp > 255.f ? 255.f : zp);
  p.zero_point = static_cast<uint8_t>(std::nearbyint(zp));
  return p;
}

void dynamic_quantize(const kernels::DynamicQuantizeU8Kernel& k, const float* x, int64_t n,
                      const DynamicQuantParams& p, uint8_t* y) {
  const float zp = static_cast<float>(p.zero_point);
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) { k.quantize(e - b, x + b, p.scale, zp, y + b); });
}

namespace {

class DynamicQuantizeLinearLayer : public Layer {
 public:
  explicit DynamicQuantizeLinearLayer(const Node& node) : prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_input(in, 0, DataType::kFloat32, prefix_);
    return {{DataType::kUInt8, x.shape()}, {DataType::kFloat32, {}}, {DataType::kUInt8, {}}};
  }

  bool accepts_empty_inputs() const override { return true; }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& x = *in[0];
    const DynamicQuantParams p = dynamic_quant_params(kernel_, x.data<float>(), x.numel());
    dynamic_quantize(kernel_, x.data<float>(), x.numel(), p, out[0]->data<uint8_t>());
    if (out.size() > 1 && out[1]) out[1]->data<float>()[0] = p.scale;
    if (out.size() > 2 && out[2]) out[2]->data<uint8_t>()[0] = p.zero_point;
  }

  std::string describe() const override { return std::string("dynamic quantize linear (") + kernel_.name() + ")"; }

 private:
  std::string prefix_;
  const kernels::DynamicQuantizeU8Kernel& kernel_ = kernels::choose<kernels::DynamicQuantizeU8Kernel>();  // once per layer
};

std::unique_ptr<Layer> make_dynamic_quantize_linear(const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::make_unique<DynamicQuantizeLinearLayer>(node);
}

INT8RT_REGISTER_LAYER("DynamicQuantizeLinear", make_dynamic_quantize_linear);

}  // namespace
}  // namespace engine
}  // namespace int8rt
