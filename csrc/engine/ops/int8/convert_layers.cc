// int8rt.Quantize / int8rt.Dequantize: the float <-> int8 boundaries the
// INT8 lowering inserts (engine/lower_int8.h). Rank-4 tensors change layout
// on the way (float NCHW <-> int8 NHWC); other ranks keep theirs. Element
// arithmetic is the reference's quantize_value / dequantize_value.
#include "core/thread_pool.h"
#include "engine/layer.h"
#include "int8rt/error.h"
#include "kernels/ref/requantize.h"
#include "kernels/ref/ref_kernels.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::ref::dequantize_value;
using kernels::ref::quantize_value;

Shape to_nhwc(const Shape& s) { return s.size() == 4 ? Shape{s[0], s[2], s[3], s[1]} : s; }
Shape to_nchw(const Shape& s) { return s.size() == 4 ? Shape{s[0], s[3], s[1], s[2]} : s; }

class QuantizeLayer : public Layer {
 public:
  QuantizeLayer(float scale, std::string name) : scale_(scale), name_(std::move(name)) {}
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in[0]->dtype() != DataType::kFloat32) throw InvalidArgument("node '" + name_ + "': expects float32");
    return {{DataType::kInt8, to_nhwc(in[0]->shape())}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const float* x = in[0]->data<float>();
    int8_t* y = out[0]->data<int8_t>();
    if (s.size() != 4) {
      kernels::ref::quantize_s8(in[0]->numel(), x, scale_, y);
      return;
    }
    const float inv_scale = 1.0f / scale_;
    const int64_t N = s[0], C = s[1], HW = s[2] * s[3];
    parallel_for(N * HW, 1024, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int64_t n = p / HW, hw = p % HW;
        const float* src = x + n * C * HW + hw;
        int8_t* dst = y + p * C;
        for (int64_t c = 0; c < C; ++c) dst[c] = quantize_value(src[c * HW], inv_scale);
      }
    });
  }
  std::string describe() const override { return "scale=" + std::to_string(scale_); }

 private:
  float scale_;
  std::string name_;
};

class DequantizeLayer : public Layer {
 public:
  DequantizeLayer(float scale, std::string name) : scale_(scale), name_(std::move(name)) {}
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in[0]->dtype() != DataType::kInt8) throw InvalidArgument("node '" + name_ + "': expects int8");
    return {{DataType::kFloat32, to_nchw(in[0]->shape())}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int8_t* x = in[0]->data<int8_t>();
    float* y = out[0]->data<float>();
    if (s.size() != 4) {
      kernels::ref::dequantize_s8(in[0]->numel(), x, scale_, y);
      return;
    }
    const int64_t N = s[0], HW = s[1] * s[2], C = s[3];
    parallel_for(N * C, 16, [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc) {
        const int64_t n = nc / C, c = nc % C;
        const int8_t* src = x + n * HW * C + c;
        float* dst = y + nc * HW;
        for (int64_t p = 0; p < HW; ++p) dst[p] = dequantize_value(src[p * C], scale_);
      }
    });
  }
  std::string describe() const override { return "scale=" + std::to_string(scale_); }

 private:
  float scale_;
  std::string name_;
};

float positive_scale(const Node& node, const char* key) {
  double s = node.attrs.get_float(key, 0.0);
  if (!(s > 0.0)) throw InvalidArgument(layer_error_prefix(node) + key + " must be > 0");
  return static_cast<float>(s);
}

INT8RT_REGISTER_LAYER("int8rt.Quantize", [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  return std::make_unique<QuantizeLayer>(positive_scale(node, "scale"), node.name);
});
INT8RT_REGISTER_LAYER("int8rt.Dequantize", [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  return std::make_unique<DequantizeLayer>(positive_scale(node, "scale"), node.name);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
