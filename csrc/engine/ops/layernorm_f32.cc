// Float32 LayerNormalization (ONNX opset 17): normalises over the trailing
// dimensions [axis, rank):
//   mean = sum(x) / n, var = sum((x - mean)^2) / n,
//   y = (x - mean) / sqrt(var + epsilon) * Scale + B
// Scale and optional B broadcast (unidirectionally) to the normalised shape.
// Statistics are accumulated in double (two passes) and rounded once; the
// rows run on the layernorm kernel family (kernels/layernorm_f32.h, the rule
// in kernels/ref/layernorm_f32.h), so the result does not depend on the
// summation order beyond float rounding of y, nor on the ISA.
// Scale and B are read in place when they have the normalised shape (the
// usual [C]); only a broadcast one is expanded, into a per-thread buffer
// reused across runs, so a run allocates nothing.
// The optional outputs Mean and InvStdDev ([d0..d(axis-1), 1, ..., 1]) are
// produced when the node has them. stash_type other than 1 is NotSupported.
#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "kernels/layernorm_f32.h"

namespace int8rt {
namespace engine {
namespace {

class LayerNormLayer : public Layer {
 public:
  LayerNormLayer(const Node& node, size_t num_outputs)
      : axis_(node.attrs.get_int("axis", -1)), eps_(node.attrs.get_float("epsilon", 1e-5)),
        num_outputs_(num_outputs), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_input(in, 0, DataType::kFloat32, prefix_);
    const Shape& xs = X.shape();
    int64_t axis = normalize_axis(axis_, static_cast<int64_t>(xs.size()), prefix_);
    Shape norm(xs.begin() + axis, xs.end());
    for (size_t i = 1; i < 3; ++i) {
      if (i == 2 && (in.size() < 3 || !in[2])) continue;
      const Value& p = require_input(in, i, DataType::kFloat32, prefix_);
      if (p.shape().size() > norm.size() || broadcast_shapes(p.shape(), norm, prefix_) != norm) {
        throw InvalidArgument(prefix_ + (i == 1 ? "Scale " : "B ") + shape_str(p.shape()) +
                              " does not broadcast to the normalised shape " + shape_str(norm));
      }
    }
    std::vector<std::pair<DataType, Shape>> out{{DataType::kFloat32, xs}};
    Shape stat(xs.begin(), xs.begin() + axis);
    stat.resize(xs.size(), 1);
    for (size_t o = 1; o < num_outputs_; ++o) out.push_back({DataType::kFloat32, stat});
    return out;
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& xs = in[0]->shape();
    int64_t axis = normalize_axis(axis_, static_cast<int64_t>(xs.size()), prefix_);
    Shape norm(xs.begin() + axis, xs.end());
    const int64_t n = shape_numel(norm), rows = in[0]->numel() / std::max<int64_t>(1, n);
    thread_local std::vector<float> scale_buf, bias_buf;
    const float* scale = in_place_or_expanded(*in[1], norm, scale_buf);
    const float* bias = in.size() > 2 && in[2] ? in_place_or_expanded(*in[2], norm, bias_buf) : nullptr;
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    float* mean_out = num_outputs_ > 1 && out[1] ? out[1]->data<float>() : nullptr;
    float* inv_out = num_outputs_ > 2 && out[2] ? out[2]->data<float>() : nullptr;
    kernels::ref::LayerNormRows a;
    a.scale = scale;
    a.bias = bias;
    a.eps = eps_;
    a.mean_out = mean_out;
    a.inv_out = inv_out;
    parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
      kernel_->rows(e - b, n, x + b * n, a, y + b * n, b);
    });
  }

  std::string describe() const override { return "fp32 layernorm"; }

 private:
  // v's data when it has n = numel(norm) elements in the normalised shape's
  // order, else v broadcast to `norm` in `buf`.
  static const float* in_place_or_expanded(const Value& v, const Shape& norm, std::vector<float>& buf) {
    if (v.numel() == shape_numel(norm)) return v.data<float>();  // broadcasting to norm adds no element
    std::vector<int64_t> st = broadcast_strides(v.shape(), norm);
    std::vector<float>& out = buf;
    out.resize(static_cast<size_t>(shape_numel(norm)));
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t r = static_cast<int64_t>(i), off = 0;
      for (size_t d = norm.size(); d-- > 0;) {
        off += (r % norm[d]) * st[d];
        r /= norm[d];
      }
      out[i] = v.data<float>()[off];
    }
    return out.data();
  }

  int64_t axis_;
  double eps_;
  const kernels::LayerNormF32Kernel* kernel_ = &kernels::choose<kernels::LayerNormF32Kernel>();
  size_t num_outputs_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_layernorm(const Network&, const Node& node) {
  int64_t stash = node.attrs.get_int("stash_type", 1);
  if (stash != 1) throw unsupported_attr(node, "stash_type", std::to_string(stash));
  return std::make_unique<LayerNormLayer>(node, node.outputs.size());
}

INT8RT_REGISTER_LAYER("LayerNormalization", make_layernorm);

}  // namespace
}  // namespace engine
}  // namespace int8rt
