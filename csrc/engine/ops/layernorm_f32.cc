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
// reused across runs; the broadcast strides are kept per thread too, so a run
// allocates nothing.
// The optional outputs Mean and InvStdDev ([d0..d(axis-1), 1, ..., 1]) are
// produced when the node has them. stash_type other than 1 is NotSupported.
//
// Fused Add (graph/passes/passes.h, fuse_add_layernorm): with
// "int8rt_residual" = 3 the layer normalises X + inputs[3] (the Add's two
// operands, in order, broadcast as Add does), and with "int8rt_sum_output" = 1
// its second output is that sum instead of Mean (the Add's tensor, when other
// layers read it). Operands of one shape (the usual case) are added row by
// row inside the kernel; others are summed into the sum's buffer first.
// With "int8rt_residual_scale" = s as well (the INT8 lowering, when the
// residual is an int8 layer's output read by nothing else) inputs[3] is that
// int8 tensor, dequantized row by row inside the kernel (q * s, the
// Dequantize layer's rule), so the sum is the unfused chain's bit for bit
// and the float residual never goes to memory.
//
// int8 boundaries (the INT8 lowering, engine/lower_int8_layernorm.cc): with
// "int8rt_input_scale" = s inputs[0] is int8 at scale s, dequantized row by
// row as int8rt.Dequantize does; with "int8rt_output_scale" = s output 0 is
// int8, each row quantized as int8rt.Quantize does (q = quantize_value(y,
// 1 / s)) right after it is normalised, from a per-thread scratch row; with
// "int8rt_int8_copy_scale" = s output 0 stays float32 and one more output,
// the node's last, is its int8 form at scale s, quantized the same way while
// the row is in L1 (a LayerNorm read both as float, e.g. by the next block's
// residual Add, and as int8, by the int8 GEMMs). So the layer is the chain
// Dequantize -> LayerNormalization -> Quantize bit for bit, with no float
// tensor in memory beside it and no float block of rows either (the rules:
// kernels/ref/layernorm_f32.h, LayerNormRows' int8 operands).
#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/ops/op_util.h"
#include "kernels/eltwise_s8.h"
#include "kernels/layernorm_f32.h"

namespace int8rt {
namespace engine {
namespace {

class LayerNormLayer : public Layer {
 public:
  LayerNormLayer(const Node& node, size_t num_outputs)
      : axis_(node.attrs.get_int("axis", -1)), eps_(node.attrs.get_float("epsilon", 1e-5)),
        num_outputs_(num_outputs), residual_(node.attrs.has("int8rt_residual")),
        residual_scale_(static_cast<float>(node.attrs.get_float("int8rt_residual_scale", 0.0))),
        in_scale_(static_cast<float>(node.attrs.get_float("int8rt_input_scale", 0.0))),
        out_scale_(static_cast<float>(node.attrs.get_float("int8rt_output_scale", 0.0))),
        copy_scale_(static_cast<float>(node.attrs.get_float("int8rt_int8_copy_scale", 0.0))),
        sum_output_(node.attrs.get_int("int8rt_sum_output", 0) != 0), prefix_(layer_error_prefix(node)) {
    if (residual_scale_ != 0.f) dequantize_ = &kernels::choose<kernels::DequantizeS8Kernel>();  // a broadcast residual
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_input(in, 0, in_scale_ != 0.f ? DataType::kInt8 : DataType::kFloat32, prefix_);
    if (in_scale_ != 0.f && residual_ && in[3] && in[3]->shape() != X.shape()) {
      throw InvalidArgument(prefix_ + "an int8 input needs a residual of its shape, got " + shape_str(in[3]->shape()));
    }
    const DataType residual_type = residual_scale_ != 0.f ? DataType::kInt8 : DataType::kFloat32;
    const Shape xs = residual_ ? broadcast_shapes(X.shape(), require_input(in, 3, residual_type, prefix_).shape(),
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
    std::vector<std::pair<DataType, Shape>> out{{out_scale_ != 0.f ? DataType::kInt8 : DataType::kFloat32, xs}};
    if (sum_output_) {
      out.push_back({DataType::kFloat32, xs});
    } else {
      Shape stat(xs.begin(), xs.begin() + axis);
      stat.resize(xs.size(), 1);
      for (size_t o = 1; o < num_outputs_; ++o) out.push_back({DataType::kFloat32, stat});
    }
    if (copy_scale_ != 0.f) out.push_back({DataType::kInt8, xs});
    return out;
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& xs = out[0]->shape();
    const size_t axis = static_cast<size_t>(normalize_axis(axis_, static_cast<int64_t>(xs.size()), prefix_));
    int64_t n = 1;  // the normalised dims' count, xs[axis:]
    for (size_t d = axis; d < xs.size(); ++d) n *= xs[d];
    // rows of the output (= of X + residual, broadcast): X alone may be a broadcast
    // operand (Add(bias, h) fused here: Wav2Vec2-Conformer's TorchScript export)
    const int64_t rows = out[0]->numel() / std::max<int64_t>(1, n);
    thread_local std::vector<float> scale_buf, bias_buf;
    const float* scale = in_place_or_expanded(*in[1], xs, axis, n, scale_buf);
    const float* bias = in.size() > 2 && in[2] ? in_place_or_expanded(*in[2], xs, axis, n, bias_buf) : nullptr;
    // Null with an int8 input or output: the kernel reads and writes those rows (LayerNormRows' int8 operands).
    const float* x = in_scale_ != 0.f ? nullptr : in[0]->data<float>();
    float* y = out_scale_ != 0.f ? nullptr : out[0]->data<float>();
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
    bool int8_rows = false;  // the residual is int8, row for row with x
    if (residual_) {
      const bool int8_residual = residual_scale_ != 0.f;
      const bool rows_match = in[0]->shape() == xs && in[3]->shape() == xs;
      if (rows_match) {
        int8_rows = int8_residual;
        if (!int8_residual) a.residual = in[3]->data<float>();
      } else {  // broadcasting operands: the sum first, then plain rows over it
        const float* r = int8_residual ? nullptr : in[3]->data<float>();
        thread_local std::vector<float> residual_buf, sum_buf;
        if (int8_residual) {
          residual_buf.resize(static_cast<size_t>(in[3]->numel()));
          dequantize_->dequantize(in[3]->numel(), in[3]->data<int8_t>(), residual_scale_, residual_buf.data());
          r = residual_buf.data();
        }
        float* sum = a.sum_out;
        if (!sum) {
          sum_buf.resize(static_cast<size_t>(out[0]->numel()));
          sum = sum_buf.data();
        }
        broadcast_add(x, in[0]->shape(), r, in[3]->shape(), xs, sum);
        x = sum;
        a.sum_out = nullptr;
      }
    }
    // The int8 output: output 0 (out_scale_) or the int8 copy, the last output (copy_scale_; null when unread).
    int8_t* yq = out_scale_ != 0.f ? out[0]->data<int8_t>()
                 : copy_scale_ != 0.f && out.back() ? out.back()->data<int8_t>()
                                                    : nullptr;
    if (yq) {
      a.y_s8 = yq;
      a.y_inv_scale = 1.0f / (out_scale_ != 0.f ? out_scale_ : copy_scale_);  // as int8rt.Quantize's kernel
    }
    if (in_scale_ != 0.f) {
      a.x_s8 = in[0]->data<int8_t>();
      a.x_scale = in_scale_;
    }
    if (int8_rows) {
      a.residual_s8 = in[3]->data<int8_t>();
      a.residual_scale = residual_scale_;
    }
    parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
      kernels::ref::LayerNormRows c = a;
      if (!y) {  // the int8 output alone: each row normalised in a per-thread scratch row while in L1
        thread_local std::vector<float> scratch;
        scratch.resize(static_cast<size_t>(4 * n));
        c.scratch = scratch.data();
      }
      kernel_->rows(e - b, n, x ? x + b * n : nullptr, c, y ? y + b * n : nullptr, b);
    });
  }

  std::string describe() const override {
    return std::string(in_scale_ != 0.f ? "int8 in, " : "") + (residual_ ? "fp32 add + layernorm" : "fp32 layernorm") +
           (out_scale_ != 0.f ? ", int8 out" : copy_scale_ != 0.f ? ", float and int8 out" : "");
  }

 private:
  // s = a + b broadcast to shape `to` (the Add layer's arithmetic), a row of
  // the last dimension at a time (the embeddings' position table is
  // [1, S, H] against [N, S, H]: offsets are computed per row, not per value).
  static void broadcast_add(const float* pa, const Shape& a_shape, const float* pb, const Shape& b_shape,
                            const Shape& to, float* s) {
    thread_local std::vector<int64_t> sa, sb;  // kept: no allocation per run
    broadcast_strides_into(a_shape, to, sa);
    broadcast_strides_into(b_shape, to, sb);
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
      if (la == 1 && lb == 1) {  // rows of both operands contiguous (a [1, S, H] position table): vectorised
        const float* ra = pa + oa;
        const float* rb = pb + ob;
        for (int64_t k = 0; k < len; ++k) out[k] = ra[k] + rb[k];
      } else {
        for (int64_t k = 0; k < len; ++k) out[k] = pa[oa + k * la] + pb[ob + k * lb];
      }
    }
  }

  // v's data when it has the n elements of the normalised shape xs[axis:]
  // (in its order), else v broadcast to that shape in `buf`.
  static const float* in_place_or_expanded(const Value& v, const Shape& xs, size_t axis, int64_t n,
                                           std::vector<float>& buf) {
    if (v.numel() == n) return v.data<float>();  // broadcasting to the normalised shape adds no element
    thread_local Shape norm;  // kept, as the strides: a run allocates nothing once sized
    thread_local std::vector<int64_t> st;
    norm.assign(xs.begin() + static_cast<std::ptrdiff_t>(axis), xs.end());
    broadcast_strides_into(v.shape(), norm, st);
    std::vector<float>& out = buf;
    out.resize(static_cast<size_t>(n));
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
  float residual_scale_;  // int8rt_residual_scale: inputs[3] is int8 at this scale (0: float32)
  float in_scale_;   // int8rt_input_scale: inputs[0] is int8 at this scale (0: float32)
  float out_scale_;  // int8rt_output_scale: output 0 is int8 at this scale (0: float32)
  float copy_scale_;  // int8rt_int8_copy_scale: the last output is output 0's int8 form at this scale (0: none)
  const kernels::DequantizeS8Kernel* dequantize_ = nullptr;
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
  const bool copy = node.attrs.get_float("int8rt_int8_copy_scale", 0.0) != 0.0;
  const size_t outputs = node.outputs.size() - (copy ? 1 : 0);  // the int8 copy is the last
  if (copy && (node.outputs.size() < 2 || node.attrs.get_float("int8rt_output_scale", 0.0) != 0.0)) {
    throw unsupported_attr(node, "int8rt_int8_copy_scale", "", "needs a float output 0 and an output for the copy");
  }
  if (node.attrs.get_int("int8rt_sum_output", 0) != 0 && (!node.attrs.has("int8rt_residual") || outputs != 2)) {
    throw unsupported_attr(node, "int8rt_sum_output", "1", "needs int8rt_residual and exactly 2 outputs");
  }
  if (node.attrs.get_float("int8rt_output_scale", 0.0) != 0.0 && node.outputs.size() != 1) {
    throw unsupported_attr(node, "int8rt_output_scale", "", "an int8 output needs the node's only output");
  }
  return std::make_unique<LayerNormLayer>(node, outputs);
}

INT8RT_REGISTER_LAYER("LayerNormalization", make_layernorm);

}  // namespace
}  // namespace engine
}  // namespace int8rt
