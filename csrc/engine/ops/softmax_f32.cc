// Float32 Softmax and LogSoftmax over one axis (ONNX opset 13 semantics,
// default axis -1), or with attribute coerce_2d = 1 over the axes from
// `axis` on, flattened (opset < 13: the importer keeps that form where the
// axis is not known to be the last):
//   softmax(x)_i = exp(x_i - max) / sum_j exp(x_j - max)
//   logsoftmax(x)_i = (x_i - max) - log(sum_j exp(x_j - max))
// The tensor is viewed as [outer, n, inner] around the axis; for inner > 1
// the loops run over the contiguous inner dimension so they vectorise; for
// inner == 1 (the usual last axis) the rows go to the softmax kernel family
// (kernels/softmax_f32.h, the rule in kernels/ref/softmax_f32.h, shared with
// int8rt.QAttention), whose exp is exp_fma_f32 (kernels/ref/math_f32.h); for
// inner > 1 exp is the unary_f32 family's exp_f32 and the sums run in order
// along n (both within the bounds tests/test_fp32_ops.py states).
//
// Attention's fused form (graph/passes/fuse_attention_softmax.cc), last axis
// only: with "int8rt_mask" = 1, input 1 is a float32 mask broadcasting to X's
// shape (never widening it), added to X before the softmax; with
// "int8rt_nan_to_zero" = 1 a NaN probability becomes +0. Both run as
// int8rt.QAttention's rows (the family's `attention` rows, AttentionRows in
// kernels/ref/softmax_f32.h): y = X + mask, one IEEE addition per value, then
// the softmax rule, then the select, per row in cache: the bits of the
// unfused Add, Softmax and Where(IsNaN(p), 0, p).
#include <algorithm>
#include <cmath>

#include <cstring>

#include "core/thread_pool.h"
#include "engine/ops/broadcast_loop.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "kernels/ref/math_f32.h"
#include "kernels/softmax_f32.h"
#include "kernels/unary_f32.h"

namespace int8rt {
namespace engine {
namespace {

class SoftmaxLayer : public Layer {
 public:
  SoftmaxLayer(const Node& node, bool log)
      : axis_(node.attrs.get_int("axis", -1)),
        coerce_2d_(node.attrs.get_int("coerce_2d", 0) != 0),
        log_(log),
        masked_(node.attrs.get_int("int8rt_mask", 0) != 0),
        nan_to_zero_(node.attrs.get_int("int8rt_nan_to_zero", 0) != 0),
        prefix_(layer_error_prefix(node)) {
    if ((masked_ || nan_to_zero_) && (log_ || coerce_2d_)) {
      throw NotSupported(prefix_ + "the fused mask / NaN guard is a Softmax's over the last axis only");
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_input(in, 0, DataType::kFloat32, prefix_);
    const int64_t rank = static_cast<int64_t>(X.shape().size());
    const int64_t axis = normalize_axis(axis_, rank, prefix_);
    if (masked_ || nan_to_zero_) {
      if (axis != rank - 1) throw NotSupported(prefix_ + "the fused mask / NaN guard needs the last axis");
    }
    if (masked_) {
      const Value& mask = require_input(in, 1, DataType::kFloat32, prefix_);
      if (broadcast_shapes(X.shape(), mask.shape(), prefix_) != X.shape()) {
        throw InvalidArgument(prefix_ + "the fused mask must broadcast to the scores' shape");
      }
    }
    return {{DataType::kFloat32, X.shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    if (masked_ || nan_to_zero_) return run_attention(in, out);
    const Shape& s = in[0]->shape();
    int64_t axis = normalize_axis(axis_, static_cast<int64_t>(s.size()), prefix_);
    int64_t outer = 1, inner = 1, n = s[axis];
    for (int64_t d = 0; d < axis; ++d) outer *= s[d];
    for (size_t d = axis + 1; d < s.size(); ++d) (coerce_2d_ ? n : inner) *= s[d];
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n * inner));
    if (inner == 1) {
      parallel_for(outer, grain, [&](int64_t b, int64_t e) { softmax_->rows(e - b, n, x + b * n, y + b * n, log_); });
      return;
    }
    parallel_for(outer, grain, [&](int64_t b, int64_t e) {
      thread_local std::vector<float> mx, sum;  // per thread, grown, never shrunk: no allocation per run
      if (inner > 1 && mx.size() < static_cast<size_t>(inner)) {
        mx.resize(static_cast<size_t>(inner));
        sum.resize(static_cast<size_t>(inner));
      }
      for (int64_t o = b; o < e; ++o) block(x + o * n * inner, y + o * n * inner, n, inner, mx.data(), sum.data());
    });
  }

  std::string describe() const override {
    return std::string(log_ ? "fp32 logsoftmax" : "fp32 softmax") + (masked_ ? " + mask" : "") +
           (nan_to_zero_ ? " + nan guard" : "");
  }

 private:
  // The fused form (top of the file): X viewed as [T][M][N] (its last two
  // dims); block t copied to y (unless in place), then its M rows run as
  // AttentionRows, the mask's block offset and row / column steps from its
  // broadcast strides (0 on a broadcast dim).
  void run_attention(const std::vector<const Value*>& in, const std::vector<Value*>& out) const {
    const Shape& s = in[0]->shape();
    const size_t rank = s.size();
    const int64_t N = s[rank - 1], M = rank >= 2 ? s[rank - 2] : 1;
    int64_t T = 1;
    for (size_t d = 0; d + 2 < rank; ++d) T *= s[d];
    if (T * M * N == 0) return;
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    const float* mask = masked_ ? in[1]->data<float>() : nullptr;
    BroadcastDims strides;
    if (masked_) broadcast_strides_into(in[1]->shape(), s, strides);
    kernels::ref::AttentionRows rows;
    rows.nan_to_zero = nan_to_zero_;
    if (masked_) {
      rows.mask_col_step = strides[rank - 1];
      rows.mask_row_step = rank >= 2 ? strides[rank - 2] : 0;
    }
    const int64_t grain = std::max<int64_t>(1, 4096 / (M * N));
    parallel_for(T, grain, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        float* yt = y + t * M * N;
        if (yt != x + t * M * N) std::memcpy(yt, x + t * M * N, static_cast<size_t>(M * N) * sizeof(float));
        kernels::ref::AttentionRows r = rows;
        if (masked_) {
          int64_t base = 0, rest = t;
          for (size_t d = rank >= 2 ? rank - 2 : 0; d-- > 0;) {
            base += (rest % s[d]) * strides[d];
            rest /= s[d];
          }
          r.mask = mask + base;
        }
        softmax_->attention(M, N, r, yt);
      }
    });
  }

  // One [n, inner > 1] block: the rule of kernels/ref/softmax_f32.h along n, inner lanes at a time.
  void block(const float* x, float* y, int64_t n, int64_t inner, float* mx, float* sum) const {
    std::copy(x, x + inner, mx);
    for (int64_t k = 1; k < n; ++k) {
      const float* r = x + k * inner;
      for (int64_t i = 0; i < inner; ++i) mx[i] = std::max(mx[i], r[i]);
    }
    std::fill(sum, sum + inner, 0.f);
    for (int64_t k = 0; k < n; ++k) {
      const float* r = x + k * inner;
      float* d = y + k * inner;
      for (int64_t i = 0; i < inner; ++i) d[i] = r[i] - mx[i];
      exp_->apply(kernels::ref::UnaryF32::kExp, inner, d, d);
      for (int64_t i = 0; i < inner; ++i) sum[i] += d[i];
    }
    if (log_) {
      for (int64_t i = 0; i < inner; ++i) sum[i] = std::log(sum[i]);
      for (int64_t k = 0; k < n; ++k) {
        const float* r = x + k * inner;
        float* d = y + k * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] = (r[i] - mx[i]) - sum[i];
      }
    } else {
      for (int64_t k = 0; k < n; ++k) {
        float* d = y + k * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] = d[i] / sum[i];
      }
    }
  }

  int64_t axis_;
  bool coerce_2d_;  // the axes from axis_ on form one
  bool log_;
  bool masked_;       // int8rt_mask: input 1 added first
  bool nan_to_zero_;  // int8rt_nan_to_zero
  std::string prefix_;
  const kernels::UnaryF32Kernel* exp_ = &kernels::choose<kernels::UnaryF32Kernel>();  // once per layer
  const kernels::SoftmaxF32Kernel* softmax_ = &kernels::choose<kernels::SoftmaxF32Kernel>();
};

LayerFactory make(bool log) {
  return [log](const Network&, const Node& node) -> std::unique_ptr<Layer> {
    return std::make_unique<SoftmaxLayer>(node, log);
  };
}

INT8RT_REGISTER_LAYER("Softmax", make(false));
INT8RT_REGISTER_LAYER("LogSoftmax", make(true));

}  // namespace
}  // namespace engine
}  // namespace int8rt
