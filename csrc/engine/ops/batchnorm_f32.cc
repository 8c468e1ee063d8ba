// Float32 BatchNormalization, inference form (ONNX, opset 11+):
//   y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + B[c]
// over [N, C, ...]. Per channel it is evaluated as y = x * a[c] + b[c] with
// a = scale / sqrt(var + eps) and b = B - mean * a, computed in double and
// rounded once (per run, into per-thread vectors). training_mode = 1 and the training outputs (running mean /
// var) are not supported (NotSupported at creation).
#include <cmath>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class BatchNormLayer : public Layer {
 public:
  BatchNormLayer(const Node& node)
      : eps_(node.attrs.get_float("epsilon", 1e-5)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& X = require_input(in, 0, DataType::kFloat32, prefix_);
    if (X.shape().size() < 2) throw InvalidArgument(prefix_ + "input " + shape_str(X.shape()) + " must be at least 2-D");
    const Shape c{X.shape()[1]};
    const char* names[] = {"scale", "B", "mean", "var"};
    for (size_t i = 1; i <= 4; ++i) {
      const Value& p = require_input(in, i, DataType::kFloat32, prefix_);
      if (p.shape() != c) {
        throw InvalidArgument(prefix_ + names[i - 1] + " must have shape " + shape_str(c) + ", got " +
                              shape_str(p.shape()));
      }
    }
    return {{DataType::kFloat32, X.shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& xs = in[0]->shape();
    const int64_t N = xs[0], C = xs[1], inner = in[0]->numel() / std::max<int64_t>(1, N * C);
    // This thread's per-channel factors, kept across runs (no allocation once sized); the
    // parallel loop below reads them through these references.
    thread_local std::vector<float> a_here, b_here;
    std::vector<float>&a = a_here, &b = b_here;
    a.resize(static_cast<size_t>(C));
    b.resize(static_cast<size_t>(C));
    const float *scale = in[1]->data<float>(), *bias = in[2]->data<float>();
    const float *mean = in[3]->data<float>(), *var = in[4]->data<float>();
    for (int64_t c = 0; c < C; ++c) {
      double f = static_cast<double>(scale[c]) / std::sqrt(static_cast<double>(var[c]) + eps_);
      a[c] = static_cast<float>(f);
      b[c] = static_cast<float>(static_cast<double>(bias[c]) - static_cast<double>(mean[c]) * f);
    }
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    parallel_for(N * C, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, inner)), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const float av = a[p % C], bv = b[p % C];
        const float* s = x + p * inner;
        float* d = y + p * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] = s[i] * av + bv;
      }
    });
  }

  std::string describe() const override { return "fp32 batchnorm"; }

 private:
  double eps_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_batchnorm(const Network&, const Node& node) {
  if (node.attrs.get_int("training_mode", 0) != 0) throw unsupported_attr(node, "training_mode", "1");
  if (node.outputs.size() > 1) {
    throw NotSupported(layer_error_prefix(node) + "training outputs (running mean/var) are not supported");
  }
  return std::make_unique<BatchNormLayer>(node);
}

INT8RT_REGISTER_LAYER("BatchNormalization", make_batchnorm);

}  // namespace
}  // namespace engine
}  // namespace int8rt
