// int8rt.Quantize / int8rt.Dequantize: the float <-> int8 boundaries the
// INT8 lowering inserts (engine/lower_int8.h). Rank-4 tensors change layout
// on the way (float NCHW <-> int8 NHWC) unless the node is `logical`; other
// ranks keep theirs. Element
// arithmetic is the reference's quantize_value / dequantize_value, run by
// the element-wise kernel chosen when the layer is created
// (kernels/eltwise_s8.h, capped by INT8RT_MAX_ISA). The Quantize's
// conversion is QuantizeRule (quantize_rule.h: also what a float conv
// writing int8 runs; its zero point goes to the quantize_s8 kernel). A
// Dequantize's non-zero zero point (a pre-quantized model's asymmetric
// activation, lower_int8_qdq.cc) runs the reference's zero-point forms, in
// loops the compiler vectorises (restrict pointers; the layout
// change a block of pixels at a time, so the block's channels-last bytes
// stay in L1): such a conversion sits at a network input or around a layer
// that stays float32, as in NNCF's and ONNX Runtime's files, where the plain
// element loop cost 1.2 ms per MobileNetV2 activation. Per-channel scales
// (a per-channel activation's int8 form, rank 4 only) run the same loops
// with channel c's scale.
// int8rt.QLutFloat is the float side of a table: int8 in, the 256 float
// values of the region it replaces out (a network's output Sigmoid), in the
// Dequantize's layout and blocks. A Quantize of attention probabilities
// whose grid follows the key count (probs_calibrated_keys,
// engine/ops/int8/probs_keys.h) takes the rule's scale at the last dim.
#include <algorithm>
#include <string>
#include <vector>

#include "engine/layer.h"
#include "engine/ops/element_chunks.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/probs_keys.h"
#include "engine/ops/int8/quantize_rule.h"
#include "int8rt/error.h"
#include "kernels/eltwise_s8.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace engine {
namespace {

Shape to_nhwc(const Shape& s) { return s.size() == 4 ? Shape{s[0], s[2], s[3], s[1]} : s; }
Shape to_nchw(const Shape& s) { return s.size() == 4 ? Shape{s[0], s[3], s[1], s[2]} : s; }

// Pixels per block of the zero-point layout changes: 64 pixels of up to a
// few hundred channels stay in L1.
constexpr int64_t kBlockPixels = 64;

void dequantize_zp(const int8_t* __restrict x, float* __restrict y, int64_t n, float scale, int32_t z) {
  for (int64_t i = 0; i < n; ++i) y[i] = kernels::ref::dequantize_value(x[i], scale, z);
}

// x int8 [N][HW][C] -> y float [N][C][HW], the same blocks: each channel's
// bytes of a pixel block gathered into a row, then row(bytes, out, count, c)
// writes that channel's floats.
template <class Row>
void nhwc_rows_to_nchw(const Shape& s, const int8_t* x, float* y, Row row) {
  const int64_t C = s[3], HW = s[1] * s[2], image = C * HW;
  for_images(s[0], image, [&](int64_t n) {
    int8_t bytes[kBlockPixels];
    for (int64_t p0 = 0; p0 < HW; p0 += kBlockPixels) {
      const int64_t np = std::min(kBlockPixels, HW - p0);
      const int8_t* in = x + n * image + p0 * C;
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t p = 0; p < np; ++p) bytes[p] = in[p * C + c];
        row(bytes, y + n * image + c * HW + p0, np, c);
      }
    }
  });
}

// x int8 [N][HW][C] -> y float [N][C][HW] with a zero point (channel c's
// scale scale[c * scale_step]).
void dequantize_zp_to_nchw(const Shape& s, const int8_t* x, float* y, const float* scale, int64_t scale_step,
                           int32_t z) {
  nhwc_rows_to_nchw(s, x, y, [&](const int8_t* bytes, float* out, int64_t np, int64_t c) {
    dequantize_zp(bytes, out, np, scale[c * scale_step], z);
  });
}

class QuantizeLayer : public Layer {
 public:
  QuantizeLayer(const ConvertAttrs& a, ProbsKeys keys, std::string name)
      : rule_(a), zero_point_(static_cast<int32_t>(a.zero_point)), logical_(a.logical), name_(std::move(name)),
        keys_(keys), calibrated_scale_(a.scale) {
    if (keys_.active() && rule_.per_channel()) {
      throw InvalidArgument("node '" + name_ + "': " + ProbsKeys::kAttr + " needs one scale, not one per channel");
    }
  }
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in[0]->dtype() != DataType::kFloat32) throw InvalidArgument("node '" + name_ + "': expects float32");
    const Shape& s = in[0]->shape();
    rule_.check(name_, s);
    if (keys_.active() && (s.empty() || changes_layout(s, logical_))) {
      throw InvalidArgument("node '" + name_ + "': " + ProbsKeys::kAttr + " needs rows on the last axis, got " +
                            shape_str(s) + (logical_ ? "" : " changing layout"));
    }
    return {{DataType::kInt8, changes_layout(s, logical_) ? to_nhwc(s) : s}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    if (keys_.active()) {  // (infer checked the rows)
      rule_.run(s, in[0]->data<float>(), out[0]->data<int8_t>(),
                static_cast<float>(keys_.scale_at(calibrated_scale_, zero_point_, s.back())));
    } else {
      rule_.run(s, in[0]->data<float>(), out[0]->data<int8_t>());
    }
  }
  std::string describe() const override { return rule_.describe() + keys_.describe(); }

 private:
  QuantizeRule rule_;
  int32_t zero_point_;
  bool logical_;
  std::string name_;
  ProbsKeys keys_;           // inactive: the rule's scale at every length
  double calibrated_scale_;  // the rule's input (ConvertAttrs::scale)
};

class DequantizeLayer : public Layer {
 public:
  DequantizeLayer(const ConvertAttrs& a, std::string name)
      : scales_(a), zero_point_(static_cast<int32_t>(a.zero_point)), logical_(a.logical), name_(std::move(name)),
        k_(&kernels::choose<kernels::DequantizeS8Kernel>()) {}
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in[0]->dtype() != DataType::kInt8) throw InvalidArgument("node '" + name_ + "': expects int8");
    const Shape& s = in[0]->shape();
    const Shape y = changes_layout(s, logical_) ? to_nchw(s) : s;
    scales_.check(name_, y, logical_);
    return {{DataType::kFloat32, y}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int8_t* x = in[0]->data<int8_t>();
    float* y = out[0]->data<float>();
    const float scale = scales_.scale;
    if (!scales_.channels.empty()) {  // rank 4 NHWC -> NCHW (checked in infer)
      dequantize_zp_to_nchw(s, x, y, scales_.channels.data(), 1, zero_point_);
    } else if (zero_point_ != 0) {
      if (moves_elements(s, logical_, true)) {
        dequantize_zp_to_nchw(s, x, y, &scale, 0, zero_point_);
      } else {
        for_element_chunks(in[0]->numel(),
                           [&](int64_t b, int64_t e) { dequantize_zp(x + b, y + b, e - b, scale, zero_point_); });
      }
    } else if (!moves_elements(s, logical_, true)) {
      for_element_chunks(in[0]->numel(), [&](int64_t b, int64_t e) { k_->dequantize(e - b, x + b, scale, y + b); });
    } else {
      const int64_t image = s[1] * s[2] * s[3];
      for_images(s[0], image, [&](int64_t n) {
        k_->dequantize_nhwc_to_nchw(1, s[1] * s[2], s[3], x + n * image, scale, y + n * image);
      });
    }
  }
  std::string describe() const override {
    const bool loop = zero_point_ != 0 || !scales_.channels.empty();
    return scales_.describe() + (zero_point_ ? " zero_point=" + std::to_string(zero_point_) : "") +
           (logical_ ? " logical " : " ") + (loop ? "zero-point loop" : k_->name());
  }

 private:
  ConvertScales scales_;
  int32_t zero_point_;
  bool logical_;
  std::string name_;
  const kernels::DequantizeS8Kernel* k_;
};

// int8rt.QLutFloat: y = table[x + 128] (ref::lookup_f32_s8, run by the
// lookup_f32 family's choice), a float region's values read from its int8
// input at a network output, NHWC x written NCHW as the Dequantize above
// writes it.
class QLutFloatLayer : public Layer {
 public:
  QLutFloatLayer(const QLutFloatAttrs& a, std::string name)
      : logical_(a.logical), name_(std::move(name)), k_(&kernels::choose<kernels::LookupF32S8Kernel>()) {}
  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in[0]->dtype() != DataType::kInt8 || in[1]->dtype() != DataType::kFloat32 || in[1]->numel() != 256) {
      throw InvalidArgument("node '" + name_ + "': QLutFloat needs int8 x and a float [256] table");
    }
    const Shape& s = in[0]->shape();
    return {{DataType::kFloat32, changes_layout(s, logical_) ? to_nchw(s) : s}};
  }
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int8_t* x = in[0]->data<int8_t>();
    const float* table = in[1]->data<float>();
    float* y = out[0]->data<float>();
    if (moves_elements(s, logical_, true)) {
      nhwc_rows_to_nchw(s, x, y, [&](const int8_t* bytes, float* o, int64_t np, int64_t) {
        k_->lookup_f32(np, bytes, table, o);
      });
    } else {
      for_element_chunks(in[0]->numel(), [&](int64_t b, int64_t e) { k_->lookup_f32(e - b, x + b, table, y + b); });
    }
  }
  std::string describe() const override {
    return std::string(logical_ ? "logical " : "") + "float table lookup " + k_->name();
  }

 private:
  bool logical_;
  std::string name_;
  const kernels::LookupF32S8Kernel* k_;
};

INT8RT_REGISTER_LAYER(ConvertAttrs::kQuantizeOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  return std::make_unique<QuantizeLayer>(ConvertAttrs::from_attrs(node), ProbsKeys::from_attrs(node), node.name);
});
INT8RT_REGISTER_LAYER(ConvertAttrs::kDequantizeOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  return std::make_unique<DequantizeLayer>(ConvertAttrs::from_attrs(node), node.name);
});

INT8RT_REGISTER_LAYER(QLutFloatAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 2);
  return std::make_unique<QLutFloatLayer>(QLutFloatAttrs::from_attrs(node), node.name);
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
