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
//
// Fused Add (graph/passes/passes.h, fuse_add_layernorm): with
// "int8rt_residual" = 3 the layer normalises X + inputs[3] (the Add's two
// operands, in order, broadcast as Add does), and with "int8rt_sum_output" = 1
// its second output is that sum instead of Mean (the Add's tensor, when other
// layers read it). Operands of one shape (the usual case) are added row by
// row inside the kernel; others are summed into the sum's buffer first.
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
        num_outputs_(num_outputs), residual_(node.attrs.has("int8rt_residual")),
        sum_output_(node.attrs.get_int("int8rt_sum_output", 0) != 0), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_input(in, 0, DataType::kFloat32, prefix_);
    const Shape xs = residual_ ? broadcast_shapes(X.shape(), require_input(in, 3, DataType::kFloat32, prefix_).shape(),
                                                  prefix_)
                               : X.shape();
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
    if (sum_output_) {
      out.push_back({DataType::kFloat32, xs});
      return out;
    }
    Shape stat(xs.begin(), xs.begin() + axis);
    stat.resize(xs.size(), 1);
    for (size_t o = 1; o < num_outputs_; ++o) out.push_back({DataType::kFloat32, stat});
    return out;
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& xs = out[0]->shape();
    int64_t axis = normalize_axis(axis_, static_cast<int64_t>(xs.size()), prefix_);
    Shape norm(xs.begin() + axis, xs.end());
    const int64_t n = shape_numel(norm), rows = in[0]->numel() / std::max<int64_t>(1, n);
    thread_local std::vector<float> scale_buf, bias_buf;
    const float* scale = in_place_or_expanded(*in[1], norm, scale_buf);
    const float* bias = in.size() > 2 && in[2] ? in_place_or_expanded(*in[2], norm, bias_buf) : nullptr;
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    kernels::ref::LayerNormRows a;
    a.scale = scale;
    a.bias = bias;
    a.eps = eps_;
    if (sum_output_) {
      a.sum_out = out[1] ? out[1]->data<float>() : nullptr;
    } else {
      a.mean_out = num_outputs_ > 1 && out[1] ? out[1]->data<float>() : nullptr;
      a.inv_out = num_outputs_ > 2 && out[2] ? out[2]->data<float>() : nullptr;
    }
    if (residual_) {
      if (in[0]->shape() == xs && in[3]->shape() == xs) {
        a.residual = in[3]->data<float>();
      } else {  // broadcasting operands: the sum first, then plain rows over it
        thread_local std::vector<float> sum_buf;
        float* sum = a.sum_out;
        if (!sum) {
          sum_buf.resize(static_cast<size_t>(out[0]->numel()));
          sum = sum_buf.data();
        }
        broadcast_add(*in[0], *in[3], xs, sum);
        x = sum;
        a.sum_out = nullptr;
      }
    }
    parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
      kernel_->rows(e - b, n, x + b * n, a, y + b * n, b);
    });
  }

  std::string describe() const override { return residual_ ? "fp32 add + layernorm" : "fp32 layernorm"; }

 private:
  // s = a + b broadcast to shape `to` (the Add layer's arithmetic), a row of
  // the last dimension at a time (the embeddings' position table is
  // [1, S, H] against [N, S, H]: offsets are computed per row, not per value).
  static void broadcast_add(const Value& a, const Value& b, const Shape& to, float* s) {
    const std::vector<int64_t> sa = broadcast_strides(a.shape(), to), sb = broadcast_strides(b.shape(), to);
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    const size_t rank = to.size();
    const int64_t len = rank ? to[rank - 1] : 1, rows = shape_numel(to) / std::max<int64_t>(1, len);
    const int64_t la = rank ? sa[rank - 1] : 0, lb = rank ? sb[rank - 1] : 0;
    for (int64_t row = 0; row < rows; ++row) {
      int64_t r = row, oa = 0, ob = 0;
      for (size_t d = rank > 0 ? rank - 1 : 0; d-- > 0;) {
        const int64_t k = r % to[d];
        oa += k * sa[d];
        ob += k * sb[d];
        r /= to[d];
      }
      float* out = s + row * len;
      for (int64_t k = 0; k < len; ++k) out[k] = pa[oa + k * la] + pb[ob + k * lb];
    }
  }

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
  bool residual_;    // int8rt_residual: normalise inputs[0] + inputs[3]
  bool sum_output_;  // int8rt_sum_output: outputs[1] is that sum
  std::string prefix_;
};

std::unique_ptr<Layer> make_layernorm(const Network&, const Node& node) {
  int64_t stash = node.attrs.get_int("stash_type", 1);
  if (stash != 1) throw unsupported_attr(node, "stash_type", std::to_string(stash));
  if (node.attrs.has("int8rt_residual")) {
    const int64_t r = node.attrs.get_int("int8rt_residual", -1);
    if (r != 3 || node.inputs.size() != 4 || node.inputs[3] < 0) {
      throw unsupported_attr(node, "int8rt_residual", std::to_string(r), "expected 3, the index of a 4th input");
    }
  }
  if (node.attrs.get_int("int8rt_sum_output", 0) != 0 &&
      (!node.attrs.has("int8rt_residual") || node.outputs.size() != 2)) {
    throw unsupported_attr(node, "int8rt_sum_output", "1", "needs int8rt_residual and exactly 2 outputs");
  }
  return std::make_unique<LayerNormLayer>(node, node.outputs.size());
}

INT8RT_REGISTER_LAYER("LayerNormalization", make_layernorm);

}  // namespace
}  // namespace engine
}  // namespace int8rt
